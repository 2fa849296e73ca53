"""Plain Python in the shape interpreter (a mixin of ``Interpreter``): comparisons,
``isinstance``, and the builtins that decide control flow and loops (``len``,
``range``, ``enumerate``, ``zip``, ``reversed``, ``list``/``tuple``, ``min``/``max``,
``abs``, ``int``).

A condition the engine can decide picks one branch; one it cannot leaves both open,
and what happens only on one of them is not reported. So every comparison decided
here makes the analysis more precise, never less safe: an answer is given only when
Python's is certain (a dimension that is a symbol is equal to an int only if the
symbol is bound to it).
"""
from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from torch_lsp.analysis.shapes import UNKNOWN, NotGiven, Sym, dim_eq, is_dim
from torch_lsp.analysis.values import BoundMethodV, ClassV, FuncV, InstanceV, LayerV, PartialV, SeqV, TensorV, TupleV

_NOT_EVALUATED = object()
MAX_RANGE = 64  # a longer range is iterated as a loop of unknown length
BUILTIN_CALLS = frozenset({"len", "range", "enumerate", "zip", "reversed", "list", "tuple", "isinstance", "min", "max",
                           "abs", "int"})
_PY_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "tuple": tuple, "list": list, "dict": dict,
             "type(None)": type(None)}


_ITERABLE_ABCS = frozenset({"collections.abc.Iterable", "typing.Iterable", "collections.abc.Sequence", "typing.Sequence"})


def _class_value(v: Any) -> str | None:
    """"class" for a class value (of the code, or a torch module class), "partial" for
    ``functools.partial`` of something, else None."""
    if type(v) is ClassV:
        return "class"
    if type(v) is PartialV:
        return "partial"
    if type(v) is BoundMethodV and v.base is None and v.name is not None and v.name.startswith("torch.nn."):
        from torch_lsp.analysis import torch_api as T

        return "class" if T.is_torch_module_class(v.name) else None
    return None


def _plain(v: Any) -> bool:
    """A Python constant the engine knows exactly (not a symbolic size)."""
    return v is None or type(v) in (int, float, str, bool)


def _items(v: Any) -> list | None:
    if isinstance(v, TupleV):
        return list(v.items)
    if isinstance(v, SeqV) and v.kind != "dict" and v.items is not None:
        return list(v.items)
    return None


class PythonValues:
    """Comparisons and builtins of the shape interpreter."""

    # What the mixin uses of the Interpreter. (Not `region`: declared here, mypy would
    # compare it with the Statements mixin's, whose type it cannot determine.)
    if TYPE_CHECKING:
        epoch: int
        module_env: dict

        def eval(self, node: ast.AST | None, frame: Any) -> Any: ...
        def concrete(self, d: Any, frame: Any) -> Any: ...
        def _qualify(self, node: ast.AST) -> str | None: ...

    # ------------------------------------------------------------------ comparisons
    def compare(self, node: ast.Compare, frame: Any, left: Any = _NOT_EVALUATED) -> Any:
        """``a < b``, ``a == b != c``, ``x in (..)``, ``x is None``: True/False when known.
        ``left``: the left side, when the caller evaluated it already (never twice)."""
        if left is _NOT_EVALUATED:
            left = self.eval(node.left, frame)
        result: Any = True
        for op, right_node in zip(node.ops, node.comparators):
            right = self.eval(right_node, frame)
            r = self._compare_pair(op, left, right, right_node, frame)
            if r is False:
                return False
            if r is None:
                result = UNKNOWN
            left = right
        return result

    def _compare_pair(self, op: ast.cmpop, a: Any, b: Any, b_node: ast.AST, frame: Any) -> bool | None:
        if isinstance(op, (ast.Is, ast.IsNot)):
            known = None
            if b is None and isinstance(b_node, ast.Constant):
                if a is None or type(a) is NotGiven:
                    known = True
                elif isinstance(a, (TensorV, LayerV, SeqV, InstanceV, ClassV, FuncV, BoundMethodV, PartialV)) or _plain(a) \
                        or isinstance(a, TupleV):
                    known = False
            elif type(a) is bool and type(b) is bool:
                known = a is b
            if known is None:
                return None
            return known if isinstance(op, ast.Is) else not known
        if isinstance(op, (ast.Eq, ast.NotEq)):
            eq = self._equal(a, b, frame)
            if eq is None:
                return None
            return eq if isinstance(op, ast.Eq) else not eq
        if isinstance(op, (ast.In, ast.NotIn)):
            items = _items(b)
            if items is None and isinstance(b, str) and isinstance(a, str):
                found: bool | None = a in b
            elif items is None:
                return None
            else:
                found = False
                for item in items:
                    eq = self._equal(a, item, frame)
                    if eq is True:
                        found = True
                        break
                    if eq is None:
                        found = None
            if found is None:
                return None
            return found if isinstance(op, ast.In) else not found
        if isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)):
            a = self.concrete(a, frame) if is_dim(a) else a
            b = self.concrete(b, frame) if is_dim(b) else b
            if type(a) in (int, float) and type(b) in (int, float):
                return {ast.Lt: a < b, ast.LtE: a <= b, ast.Gt: a > b, ast.GtE: a >= b}[type(op)]
            if isinstance(a, str) and isinstance(b, str):
                return {ast.Lt: a < b, ast.LtE: a <= b, ast.Gt: a > b, ast.GtE: a >= b}[type(op)]
            return None
        return None

    def _equal(self, a: Any, b: Any, frame: Any) -> bool | None:
        """``a == b`` when known."""
        if is_dim(a) and is_dim(b) and type(a) is not bool and type(b) is not bool:
            return dim_eq(self.concrete(a, frame), self.concrete(b, frame))
        if _plain(a) and _plain(b):
            return a == b
        if _plain(a) and isinstance(b, (TensorV, LayerV, InstanceV)) or _plain(b) and isinstance(a, (TensorV, LayerV, InstanceV)):
            # a tensor compared with a number is a tensor; a module is never equal to a constant
            return None if isinstance(a, TensorV) or isinstance(b, TensorV) else False
        if isinstance(a, TupleV) and isinstance(b, TupleV):
            if len(a.items) != len(b.items):
                return False
            out: bool | None = True
            for x, y in zip(a.items, b.items):
                eq = self._equal(x, y, frame)
                if eq is False:
                    return False
                if eq is None:
                    out = None
            return out
        return None

    # ------------------------------------------------------------------ builtins
    def builtin(self, name: str, args: list, kwargs: dict, node: ast.Call, frame: Any) -> Any:
        if "*" in kwargs or "**" in kwargs:
            return UNKNOWN
        if name == "len" and len(args) == 1:
            v = args[0]
            items = _items(v)
            if items is not None:
                return len(items)
            if isinstance(v, str):
                return len(v)
            if isinstance(v, TensorV) and v.shape is not None and not v.shape.prefix and v.shape.dims:
                return v.shape.dims[0]
            return UNKNOWN
        if name == "range" and 1 <= len(args) <= 3 and not kwargs:
            if not all(type(a) is int for a in args):
                return UNKNOWN
            r = range(*args) if args[-1] != 0 or len(args) < 3 else None
            if r is None or len(r) > MAX_RANGE:
                return UNKNOWN
            return TupleV(tuple(r))
        if name == "enumerate" and args:
            items = _items(args[0])
            start = args[1] if len(args) > 1 else kwargs.get("start", 0)
            if items is None or type(start) is not int:
                return UNKNOWN
            return TupleV(tuple(TupleV((start + i, x)) for i, x in enumerate(items)))
        if name == "zip" and args and not kwargs:
            lists = [_items(a) for a in args]
            if any(x is None for x in lists):
                return UNKNOWN
            return TupleV(tuple(TupleV(tuple(t)) for t in zip(*lists)))  # type: ignore[arg-type]
        if name == "reversed" and len(args) == 1:
            items = _items(args[0])
            return TupleV(tuple(reversed(items))) if items is not None else UNKNOWN
        if name in ("list", "tuple") and len(args) <= 1 and not kwargs:
            if not args:
                return TupleV((), self.region if name == "list" else None, self.epoch)  # type: ignore[attr-defined]  # the Interpreter's
            items = _items(args[0])
            if items is None:
                return UNKNOWN
            return TupleV(tuple(items), self.region if name == "list" else None, self.epoch)  # type: ignore[attr-defined]  # the Interpreter's
        if name == "isinstance" and len(args) == 2 and not kwargs:
            return self._isinstance(args[0], node.args[1], frame)
        if name in ("min", "max") and args and not kwargs:
            values = _items(args[0]) if len(args) == 1 else args
            if values and all(type(v) in (int, float) for v in values):
                return min(values) if name == "min" else max(values)
            return UNKNOWN
        if name == "abs" and len(args) == 1:
            v = args[0]
            if type(v) in (int, float):
                return abs(v)
            return TensorV(v.shape, v.origin) if isinstance(v, TensorV) else UNKNOWN
        if name == "int" and len(args) == 1 and not kwargs:
            v = args[0]
            if type(v) is int or isinstance(v, Sym):
                return v
            if type(v) is float:
                return int(v)
            if type(v) is bool:
                return int(v)
            return UNKNOWN
        return UNKNOWN

    def _isinstance(self, v: Any, cls_node: ast.AST, frame: Any) -> Any:
        """``isinstance(v, C)`` when known: True/False, else unknown."""
        targets = cls_node.elts if isinstance(cls_node, ast.Tuple) else [cls_node]
        answer: Any = False
        for t in targets:
            r = self._isinstance_one(v, t, frame)
            if r is True:
                return True
            if r is None:
                answer = UNKNOWN
        return answer

    def _isinstance_one(self, v: Any, t: ast.AST, frame: Any) -> bool | None:
        klass = _class_value(v)
        if klass is not None:
            # a class (`nn.BatchNorm2d`, a class of the code) or a partial of one, as
            # timm's get_norm_layer asks: a type, a partial, never a str or a function
            if isinstance(t, ast.Name) and t.id not in frame.env and t.id not in self.module_env:
                if t.id == "type":
                    return klass == "class"
                if t.id in _PY_TYPES:
                    return False
            q = self._qualify(t)
            if q in ("functools.partial",):
                return klass == "partial"
            if q in _ITERABLE_ABCS and (klass == "partial" or type(v) is BoundMethodV or v.info.is_module):
                return False  # a Module class (type is its metaclass) is not iterable
            if q in ("types.FunctionType", "types.LambdaType", "types.MethodType", "types.BuiltinFunctionType"):
                return False
            return None
        q0 = self._qualify(t) if isinstance(t, ast.Attribute) else None
        if q0 in _ITERABLE_ABCS:
            if type(v) in (int, float, bool) or v is None:
                return False
            if type(v) in (str, TupleV):
                return True
            return None
        if isinstance(t, ast.Name) and t.id in _PY_TYPES and t.id not in frame.env and t.id not in self.module_env:
            py = _PY_TYPES[t.id]
            if _plain(v) and not isinstance(v, Sym):
                return isinstance(v, py)
            if isinstance(v, Sym):
                return True if py is int else False
            if isinstance(v, (TensorV, LayerV, SeqV, InstanceV, FuncV, ClassV)):
                return False
            if isinstance(v, TupleV):
                return None if py in (tuple, list) else False
            return None
        q = self._qualify(t)
        if q is None:
            return None
        if q == "torch.Tensor":
            if isinstance(v, TensorV):
                return True
            if _plain(v) or isinstance(v, (LayerV, SeqV, InstanceV, TupleV, FuncV, ClassV)):
                return False
            return None
        if q in ("torch.nn.Parameter",):
            if isinstance(v, TensorV):
                return True if v.parameter else None
            if _plain(v) or isinstance(v, (LayerV, SeqV, InstanceV, TupleV)):
                return False
            return None
        if q == "torch.nn.Module":
            if isinstance(v, (LayerV, SeqV, InstanceV)):
                return True
            if _plain(v) or isinstance(v, (TensorV, TupleV)):
                return False
            return None
        if q.startswith("torch.nn.") and q.count(".") == 2:
            if isinstance(v, LayerV):
                return True if v.layer.cls == q else None  # torch's own class tree: only the same class is sure
            if isinstance(v, SeqV):
                kind = {"torch.nn.Sequential": "sequential", "torch.nn.ModuleList": "list", "torch.nn.ModuleDict": "dict"}
                return True if kind.get(q) == v.kind else None
            if _plain(v) or isinstance(v, (TensorV, TupleV)):
                return False
            return None
        return None

    def match_class(self, p: ast.MatchClass, subject: Any, frame: Any) -> bool | None:
        """A class pattern without sub-patterns (``case nn.Linear():``): as isinstance."""
        if p.patterns or p.kwd_patterns:
            return None
        r = self._isinstance_one(subject, p.cls, frame)
        return r

"""The abstract interpreter: tensor shapes through ``__init__``, ``forward`` and top-level code.

It runs a file's code on *abstract values* (``AV``):

- ``TensorV``: a tensor with a ``Shape`` (or None) and where it came from;
- dimensions (``int`` / ``Sym`` / ``UNKNOWN``), Python numbers, strings, tuples
  (``TupleV``), ``None``;
- ``LayerV``: a torch layer with bound constructor arguments (``layers.bind``);
- ``SeqV``: ``nn.Sequential`` / ``nn.ModuleList`` / ``nn.ModuleDict`` of module values;
- ``InstanceV``: an instance of a user ``nn.Module`` class, with its attributes;
- ``ClassV`` / ``FuncV``: things that can be called;
- ``UNKNOWN`` for everything else.

Analyses, per file:

1. every module-level function and the top-level code (``if __name__ ==
   "__main__":`` included) run once; constructing a user Module class there runs its
   ``__init__`` with the call's arguments, and calling the instance runs ``forward``
   with the argument shapes of that call site;
2. every Module class is also analysed on its own: constructor parameters are
   symbols named after them (``hidden_dim``), or their defaults when the file never
   constructs the class, and ``forward``'s tensor arguments start unknown (their
   first consuming layer pins the known part, ``Linear(10, ...)`` makes ``[*, 10]``).

Constructor parameters are always symbols; a call site also binds them to values
(``subst``), and every decision substitutes first. So a message can say both
("in_dim = 32") and a fix can write the parameter's name.

What fails is handed, as a neutral ``ShapeProblem`` with the interpreter as its
``ShapeSite`` (``shape_events``), to the rules' ``FindingBuilder`` (``interp_reporting``),
which makes findings; ``Reporter`` keeps one per problem and place. What each expression
evaluated to is recorded for hovers (``ShapeIndex``).

This module holds the expressions; the other parts of ``Interpreter`` are mixins of
their own modules: ``statements`` (statements and control flow, with ``flow.Flow``),
``pyvalues`` (Python builtins and values), ``interp_calls`` (calls), ``interp_instances``
(module instances), ``interp_following`` (code followed across files),
``interp_torch`` (torch layers and ops), ``interp_sizes`` (sizes read from tensors),
``interp_reporting`` (findings and what a failure does to the run), ``interp_units``
(analysis units), and ``interp_support`` (what they share).
"""
from __future__ import annotations

import ast
import weakref
from typing import Any

from torch_lsp.analysis import torch_api as T
from torch_lsp.analysis.shapes import UNKNOWN, Shape, Sym, _Unknown, is_dim, sym
from torch_lsp.analysis.shape_types import Layer
from torch_lsp.analysis.pyvalues import PythonValues
from torch_lsp.analysis.statements import Statements, _truthiness
from torch_lsp.analysis.values import (  # noqa: F401  (re-exported: the rules and queries import them from here)
    AV, BoundMethodV, CallEntry, ClassV, FuncV, InstanceV, LayerV, LossV, Origin, PartialV, SeqV, TensorV, TupleV, _OrderedDictV,
    StarSizesV, UnionV, _DictV, _ShapeOf, _same_value, _widen, _widen_changed, failed_tensor, has_failed, is_tensor, join_values, set_attr,
)

from torch_lsp.analysis import layers as L
from torch_lsp.analysis import ops as O


from torch_lsp.analysis.shape_events import finding_builder
from torch_lsp.analysis.interp_support import (  # noqa: F401
    _NAME, _CONSTANT, _CALL, _ATTRIBUTE, _ASSIGN, _EXPR,
    CallSite,
    DataField,
    FOLLOW_IMPORTED,
    FOLLOW_OTHER_FILES,
    Finding,
    Frame,
    LayerCall,
    MAX_DEPTH,
    MAX_FOLLOWED_FILE_LINES,
    MAX_FOLLOWED_FUNCTION_LINES,
    MAX_STEPS,
    Reporter,
    ShapeIndex,
    UnitResult,
    _ADD,
    _CHECKPOINT_KEYWORDS,
    _CLASS_HEADER,
    _CONTAINER_CHANGES,
    _CONTAINER_VIEWS,
    _DEFAULTED,
    _ELEMENTWISE_COMPARE,
    _FUNCTIONAL_LAYERS,
    _FUNCTIONAL_POOLS,
    _GLOBAL_STMT,
    _Held,
    _LIST_MUTATORS,
    _LOSS_CLASSES,
    _MODULE_CONSTANTS,
    _MemoRun,
    _NOT_FOLLOWED_MODULES,
    _NOT_FOUND,
    _NO_KEY,
    _QUOTED,
    _QUOTE_MARK,
    _SCALAR_MATH,
    _SEQUENTIAL,
    _STAR_SIZES_METHODS,
    _TORCH_LAYER,
    _WORD,
    _accepts_other_keywords,
    _as_instance,
    _atom_name,
    _call_key,
    _class_mro,
    _compare,
    _concrete,
    _container_entries,
    _data_class_fields,
    _decorator_name,
    _extra_keywords,
    _forget_attributes,
    _holds_embedding,
    _keyword_true,
    _known_keywords,
    _layer_attribute,
    _line_of,
    _merge_out,
    _params_of,
    _scalar_math,
    _sequential_items,
    _set_label,
    _shape_pairs,
    _store_attr,
    _tensor_annotation,
    _value_key,
    quote_line,
    render_lines,
)
from torch_lsp.analysis.interp_units import Units
from torch_lsp.analysis.interp_sizes import Sizes
from torch_lsp.analysis.interp_calls import Calls
from torch_lsp.analysis.interp_memo import CallMemo
from torch_lsp.analysis.interp_reporting import Reporting
from torch_lsp.analysis.interp_following import Following
from torch_lsp.analysis.interp_instances import Instances
from torch_lsp.analysis.interp_torch import TorchCalls


class Interpreter(Units, Sizes, CallMemo, Calls, Reporting, Following, Instances, TorchCalls, Statements, PythonValues):
    max_steps = MAX_STEPS  # per analysis unit (see _unit)

    def __init__(self, ctx: Any, record: bool = True):
        self.ctx = ctx
        self.findings = finding_builder()
        self._loop_spans: list[tuple[int, int]] | None = None  # (first, last) lines of loop bodies, comprehensions
        self.record = record  # keep expression shapes for hovers (ShapeIndex)  # FileContext
        self.imports = ctx.imports
        self.model = ctx.model
        self.reporter = Reporter()
        self.cancel = ctx.cancel
        self.index = ShapeIndex()
        self._pending_indexes: list[ShapeIndex] = []  # units' indexes not merged yet (see shape_index)
        self.steps = 0
        self.depth = 0
        self.loop_depth = 0
        self.region = 0  # the innermost uncertain region (see _enter_region); 0: none
        self._regions = 0
        self.epoch = 0  # paths ended so far (see Statements._path_ends)
        # >0 while alternatives that share one environment run (the arms of `a if c else b`,
        # the choices of a union): what one of them learns (a pinned shape) is not the others'
        self.shared_paths = 0
        self.catching: list[list] = []  # the handlers of the try bodies under way, outermost first
        self.caught = 0  # findings not reported because a handler would catch them
        self.raising: str | None = None  # a caught error surely raised: paths end up to its try
        self.conditional = 0  # findings not reported: on a path that may not be taken
        # An error surely raised and not caught (reported): a run of this unit never
        # gets further. The analysis goes on (for shapes and hovers); what it would find
        # afterwards is not reported (``cascade`` counts it): a second call of a broken
        # model is the same problem, and a size pinned by a layer the run never passes
        # proves nothing. The next problem shows once the first is fixed.
        self.dead = False
        self.cascade = 0
        self._memo_runs: list[_MemoRun] = []  # memoised runs (constructions, forwards) under way
        self._memo_init()  # plain function calls by their arguments (see interp_memo)
        self.flows: list = []  # the Flow of each function run under way, outermost first
        self.unit_class: str | None = None  # the class a class unit analyses on its own
        self.site_classes: set[str] = set()  # classes whose forward ran with a call site's input
        self.global_names: set[str] = set()  # names some function declares `global`
        self._generators: dict[int, bool] = {}  # id(function node) -> does it yield
        # Where this file's code entered code of another file it follows (the call
        # that builds an imported class, or calls its instance or an imported
        # function), outermost first: a problem found in there because of this file's
        # values is reported at the outermost entry (see _foreign_finding).
        self.entries: list[tuple[ast.AST, Any]] = []
        self._collecting: list | None = None  # findings of a followed definition analysed on its own
        self._generic_keys: dict[int, set] = {}
        self.generic = False  # analysing a class on its own (no call site)
        self.module_env: dict = {}
        # Memo tables (the same sub-module is built and run inside every parent that
        # holds it): nested constructions by class and arguments, forward runs by
        # instance and argument shapes (with the layer calls they recorded, replayed
        # for the parent's summary).
        self._forward_cache: dict = {}
        self._instance_cache: dict = {}
        self._recorders: list[list] = []
        self.constructed: set[str] = set()  # class names constructed somewhere in the file
        self.instance_stack: list[InstanceV] = []
        self.chain: list[CallEntry] = []  # helper calls and nested constructions under way
        # Methods inherited from classes of other files run with their file's source
        # (for segments); nothing found or recorded there belongs to this file.
        self.foreign: dict[int, Any] = {}  # id(FunctionDef) -> SourceFile
        # Module classes imported from other files of the project (`from layers import
        # Block`; `Block(...)`) are followed: their constructor and forward run on a
        # whole parse of their file, so chains through them are checked. What is found
        # inside them belongs to their file (reported when it is checked).
        self.imported: dict[int, Any] = {}  # id(FunctionDef) -> SourceFile
        self._imported_classes: dict[tuple, Any] = {}
        self._class_values: dict[tuple, Any] = {}  # (import table, name) -> an imported class used as a value
        self._arm_stack: list[dict] = []  # the if/else statements whose arms' errors are collected (_arms_begin)
        self._imported_functions: dict[tuple, Any] = {}
        self._size_names: dict[str, Any] = {}  # a symbol made for an unknown size -> its tensor (weakly; see _named_sizes)
        self._followed_paths: set[str] = set()
        self._suppressed = 0  # findings in followed code of other files (not reported here)
        self._followed_summaries: dict[str | None, Any] = {}  # path -> whole-parse FileSummary
        self._file_envs: dict[int, tuple[dict, Any]] = {}
        self._local_env: dict = self.module_env
        self.followed_nodes: list[ast.AST] = []  # the ClassDefs followed (for shapes.check)
        self.src_stack: list = []
        self.active: set[int] = set()  # functions being run (recursion is not followed)
        self._qualified: dict[int, str | None] = {}
        self._segs: dict[int, str] = {}
        # class name -> analysis key ("call site line N" / "generic") -> [LayerCall]
        self.layer_calls: dict[str, dict[str, list["LayerCall"]]] = {}
        self.summary_instances: dict[str, dict[str, "InstanceV"]] = {}


    def _assign(self, target: ast.AST, v: AV, frame: Frame) -> None:
        if isinstance(target, ast.Name):
            name = target.id
            if frame.declared is not None and name in frame.declared:
                self._assign_declared(name, v, frame)
            elif name in self.global_names and frame.env is self.module_env:
                frame.env[name] = UNKNOWN  # a function may change it: its value is not known
            else:
                frame.env[name] = v
            if self.record and self.recording:
                self.index.record(target, v, self.generic)
        elif isinstance(target, (ast.Tuple, ast.List)):
            n = len(target.elts)
            if isinstance(v, _ShapeOf):
                v = self._name_dims(v.tensor, target, frame)
            elif type(v) is TupleV and v.shape_of is not None and len(v.items) == n:
                # `n_batch, n_ctx, n_state = q.shape` with a size of q unknown: named now,
                # in q too (`q.view(n_batch, n_ctx, h, -1)` then divides exactly)
                v = self._name_dims(v.shape_of, target, frame)
            items = list(v.items) if isinstance(v, TupleV) else None
            for i, t in enumerate(target.elts):
                if isinstance(t, ast.Starred):
                    self._assign(t.value, UNKNOWN, frame)
                    items = None
                    continue
                self._assign(t, items[i] if items is not None and len(items) == n else UNKNOWN, frame)
        elif isinstance(target, ast.Attribute):
            obj = self.eval(target.value, frame)
            if type(obj) is LayerV and target.attr in ("weight", "bias"):
                self._set_layer_weight(obj, target.attr, v, frame)
            if isinstance(obj, InstanceV):
                _store_attr(obj, target.attr, v, isinstance(target.value, ast.Name) and target.value.id == "self")
            if self.record and self.recording:
                self.index.record(target, v, self.generic)
        elif isinstance(target, ast.Subscript):
            base = self.eval(target.value, frame)
            if type(base) is InstanceV and _SEQUENTIAL in base.attrs:
                base.attrs = {**base.attrs, _SEQUENTIAL: UNKNOWN}  # `self[name] = m` in a container subclass
            if type(base) is _OrderedDictV:
                key = self.eval(target.slice, frame)
                if isinstance(key, str) and self.flows and self.flows[-1].certain:
                    # torch keeps a replaced key in its place; a new one goes last
                    if any(k == key for k, _ in base.items):
                        base.items[:] = [(k, v if k == key else x) for k, x in base.items]
                    else:
                        base.items.append((key, v))
                else:
                    self._forget(base, frame)
            elif isinstance(base, (TupleV, _DictV)):
                self._forget(base, frame)
            elif isinstance(base, SeqV) and base.kind != "dict" and base.items is not None:
                key = self.eval(target.slice, frame)
                if isinstance(key, int) and not isinstance(key, bool) and -len(base.items) <= key < len(base.items):
                    base.items[key] = v
                else:
                    base.items[:] = [UNKNOWN] * len(base.items)
            elif isinstance(base, SeqV) and base.kind == "dict":
                key = self.eval(target.slice, frame)
                base.items[:] = [(k, x) for k, x in base.items if k != key] + ([(key, v)] if isinstance(key, str) else [])

    def _assign_declared(self, name: str, v: AV, frame: Frame) -> None:
        """An assignment to a ``nonlocal`` name changes the enclosing function's
        variable; one to a ``global`` name changes the module's, whose value is never
        taken as known (see ``global_names``)."""
        if frame.declared[name] == "nonlocal":  # type: ignore[index]
            outer = frame.closure
            while outer is not None and name not in outer.env and outer.closure is not None:
                outer = outer.closure
            if outer is not None:
                outer.env[name] = v

    def _undecided(self, node: ast.AST, frame: Frame) -> AV:
        """Evaluate an expression that may or may not run (an arm of ``a if c else b``)."""
        flow = frame.flow
        if flow is None:
            if not self.flows:
                return self.eval(node, frame)
            flow = self.flows[-1]
        flow.doubt += 1
        self.shared_paths += 1
        try:
            return self.eval(node, frame)
        finally:
            flow.doubt -= 1
            self.shared_paths -= 1

    def _lookup_outer(self, name: str, frame: Frame) -> AV:
        """A name a function does not bind: its enclosing functions', else the module's."""
        outer = frame.closure
        while outer is not None:
            if name in outer.env:
                return outer.env[name]
            outer = outer.closure
        return self.module_env.get(name, UNKNOWN)

    def module_frame(self) -> Frame:
        """A frame for evaluating an expression at module level (a default, a ``case`` value).
        Its names are read as a function reads globals (see ``CallMemo._outside``); it
        binds nothing."""
        return Frame({})

    def _forget(self, value: AV, frame: Frame) -> None:
        """A Python list was changed in place (``append``, ``x[i] = ...``): every name
        and attribute that holds it now holds an unknown list."""
        held = {id(value)}
        # A list that holds it (`dia[s].insert(0, i)` with `dia` a list of lists) has
        # changed too: its holders forget it as well.
        for env in (frame.env, self.module_env):
            for v in env.values():
                if type(v) is TupleV and any(id(x) in held for x in v.items):
                    held.add(id(v))
        for env in (frame.env, self.module_env):
            for k, v in list(env.items()):
                if id(v) in held:
                    env[k] = UNKNOWN
        for inst in self.instance_stack + [v for v in frame.env.values() if isinstance(v, InstanceV)]:
            for k, v in list(inst.attrs.items()):
                if id(v) in held:
                    set_attr(inst, k, UNKNOWN)

    # ------------------------------------------------------------------ expressions
    def eval(self, node: ast.AST | None, frame: Frame) -> AV:
        if node is None:
            return None
        self.steps += 1
        if self.steps > self.max_steps:
            raise RecursionError("analysis budget exhausted")
        kind = type(node)
        if kind is _NAME:  # the common cases, inline (the hot path)
            name = node.id  # type: ignore[attr-defined]
            env = frame.env
            if name in env:
                v = env[name]
            else:
                v = self.module_env.get(name, UNKNOWN) if frame.closure is None else self._lookup_outer(name, frame)
                if v is UNKNOWN and name[:1].isupper():
                    v = self._imported_class_value(node)  # type: ignore[arg-type]
                elif self.memo_runs:
                    self._outside(v)
        elif kind is _CONSTANT:
            return node.value  # type: ignore[attr-defined]
        elif kind is _CALL:
            v = self._call(node, frame)  # type: ignore[arg-type]
        elif kind is _ATTRIBUTE:
            v = self._attribute(node, frame)  # type: ignore[arg-type]
        else:
            v = self._eval(node, frame)
        if self.record and (type(v) is TensorV or type(v) is LayerV) and self.recording:
            self.index.record(node, v, self.generic)
        return v

    def _eval(self, node: Any, frame: Frame) -> AV:  # (Any: the branches test exact types, which mypy does not narrow)
        kind = type(node)  # the common cases first, by exact type (the hot path)
        if kind is ast.Name:
            env = frame.env
            name = node.id  # type: ignore[attr-defined]
            if name in env:
                return env[name]
            v = self.module_env.get(name, UNKNOWN) if frame.closure is None else self._lookup_outer(name, frame)
            if self.memo_runs:
                self._outside(v)
            return v
        if kind is ast.Constant:
            return node.value  # type: ignore[attr-defined]
        if kind is ast.Attribute:
            return self._attribute(node, frame)  # type: ignore[arg-type]
        if kind is ast.Call:
            return self._call(node, frame)  # type: ignore[arg-type]
        if kind is ast.Tuple or kind is ast.List:
            items: list[AV] = []
            lead = None
            for e in node.elts:
                if isinstance(e, ast.Starred):
                    inner = self.eval(e.value, frame)
                    if type(inner) is StarSizesV and not items and lead is None and kind is ast.Tuple:
                        lead = inner.lead  # `(*x.shape[:-1], -1, d)`
                        items.extend(inner.items)
                    elif isinstance(inner, TupleV):
                        items.extend(inner.items)
                    elif isinstance(inner, SeqV) and inner.kind != "dict":
                        items.extend(inner.items)
                    else:
                        return UNKNOWN
                else:
                    items.append(self.eval(e, frame))
            if lead is not None:
                return StarSizesV(lead, tuple(items))
            return TupleV(tuple(items), self.region if kind is ast.List else None, self.epoch)
        if kind is ast.Dict:
            entries: dict | None = {}
            for k, value_node in zip(node.keys, node.values):
                value = self.eval(value_node, frame)
                if k is None:  # {**other, ...}
                    known = _known_keywords(value)
                    entries = {**entries, **known} if entries is not None and known is not None else None
                elif entries is not None and isinstance(k, ast.Constant) and isinstance(k.value, str):
                    entries[k.value] = value
                else:
                    entries = None
            return _DictV(entries) if entries is not None else UNKNOWN
        if kind is ast.BinOp:
            return self._binop(node.op, self.eval(node.left, frame), self.eval(node.right, frame), node, frame)
        if kind is ast.UnaryOp:
            v = self.eval(node.operand, frame)
            if isinstance(node.op, ast.USub) and (is_dim(v) or isinstance(v, float)):
                return -v
            if isinstance(node.op, ast.Not):
                truth = _truthiness(v)
                return (not truth) if truth is not None else UNKNOWN
            if isinstance(v, TensorV):
                return TensorV(v.shape, v.origin)
            return UNKNOWN
        if kind is ast.Subscript:
            return self._subscript(node, frame)
        if kind is ast.IfExp:
            t = self._truth(node.test, frame)
            if t is True:
                return self.eval(node.body, frame)
            if t is False:
                return self.eval(node.orelse, frame)
            return join_values(self._undecided(node.body, frame), self._undecided(node.orelse, frame))
        if kind is ast.Compare:
            left = self.eval(node.left, frame)
            if type(left) is TensorV and len(node.ops) == 1 and isinstance(node.ops[0], _ELEMENTWISE_COMPARE):
                # `x > 0`, `a == b`: an elementwise comparison, broadcast as `x + 0` is
                return self._binop(_ADD, left, self.eval(node.comparators[0], frame), node, frame)
            return self.compare(node, frame, left)
        if kind is ast.BoolOp:
            # `a and b`, `a or b`: evaluated left to right while the outcome is open; the
            # value is the operand that decided it (`dim or 64`), when its truth is known.
            is_and = isinstance(node.op, ast.And)
            v = UNKNOWN
            for i, operand in enumerate(node.values):
                v = self.eval(operand, frame)
                if i == len(node.values) - 1:
                    return v  # the last operand is the value, whatever its truth
                truth = _truthiness(v)
                if truth is None:
                    decided = False
                    for rest in node.values[i + 1:]:
                        w = self._undecided(rest, frame)  # may run or not
                        decided = decided or (type(w) is bool and w is not is_and)
                    # `self.training and self.layerdrop > 0.0` with the second False is
                    # False whatever the first is (a bool: `training`, a comparison)
                    return (not is_and) if decided else UNKNOWN
                if truth is not is_and:
                    return v
            return v
        if kind is ast.NamedExpr:
            v = self.eval(node.value, frame)
            self._assign(node.target, v, frame)
            return v
        if kind is ast.Starred:
            return self.eval(node.value, frame)
        if kind is ast.ListComp or kind is ast.GeneratorExp:
            return self._comprehension(node, frame)
        if kind is ast.Lambda:
            self._same_file(node, frame)
            return FuncV(node, closure=weakref.ref(frame))  # type: ignore[arg-type]
        if isinstance(node, (ast.Await, ast.Yield, ast.YieldFrom)):
            self.eval(node.value, frame)
            return UNKNOWN
        if type(node) is ast.JoinedStr:  # f"layer_{i}" with i known: the string
            parts: list[str] | None
            parts = []
            for part in node.values:
                if type(part) is ast.Constant and isinstance(part.value, str):
                    parts.append(part.value)
                    continue
                v = self.eval(part.value, frame) if type(part) is ast.FormattedValue else UNKNOWN
                if type(part) is ast.FormattedValue and part.conversion == -1 and part.format_spec is None \
                        and type(v) in (int, str):
                    parts.append(str(v))
                else:
                    parts = None
                    break
            return "".join(parts) if parts is not None else UNKNOWN
        if isinstance(node, (ast.SetComp, ast.DictComp, ast.Set, ast.JoinedStr, ast.FormattedValue)):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr) and not isinstance(node, (ast.SetComp, ast.DictComp)):
                    self.eval(child, frame)
            return UNKNOWN
        return UNKNOWN

    def _comprehension(self, node: ast.AST, frame: Frame) -> AV:
        gens = node.generators  # type: ignore[attr-defined]
        if len(gens) == 1 and not gens[0].ifs:
            it = self.eval(gens[0].iter, frame)
            items = list(it.items) if isinstance(it, TupleV) else list(it.items) if isinstance(it, SeqV) and it.kind != "dict" else None
            if items is not None and len(items) <= 64:
                out = []
                saved = dict(frame.env)
                for item in items:
                    self._assign(gens[0].target, item, frame)
                    out.append(self.eval(node.elt, frame))  # type: ignore[attr-defined]
                frame.env = saved
                return TupleV(tuple(out))
        return UNKNOWN

    def _qualify(self, node: ast.AST) -> str | None:
        key = id(node)  # the same expression is qualified on every run through it
        try:
            return self._qualified[key]
        except KeyError:
            q = self._qualified[key] = T.canonical(self.imports.qualify(node))
            return q

    def _attribute(self, node: ast.Attribute, frame: Frame) -> AV:
        q = self._qualify(node)
        if q is not None and q.startswith("torch."):
            return BoundMethodV(None, q)
        if q in _MODULE_CONSTANTS:
            return _MODULE_CONSTANTS[q]  # `np.newaxis` (None), `math.pi`
        base = self.eval(node.value, frame)
        attr = node.attr
        kind = type(base)  # (exact types: no value class has subclasses)
        if kind is BoundMethodV and base.base is None and base.name and not base.name.startswith("<"):
            # a module imported inside the function (`F.relu`, `np.pi`): what the
            # module-level import would give
            q = T.canonical(f"{base.name}.{attr}")
            if q in _MODULE_CONSTANTS:
                return _MODULE_CONSTANTS[q]
            # (canonical of a str is a str: its signature, in torch_api.py, says str | None)
            return BoundMethodV(None, q)  # type: ignore[arg-type]
        if kind is InstanceV:
            if attr in base.attrs:
                return base.attrs[attr]
            if not base.cls.is_module:
                amap = self._attribute_map(base.cls)
                if amap and amap.get(attr) in base.attrs:
                    return base.attrs[amap[attr]]  # GPT-2's `config.hidden_size` is `n_embd`
            fn = self._method_of(base.cls, attr)
            if fn is not None:
                kinds = {_decorator_name(d) for d in fn.decorator_list}
                if kinds & {"property", "cached_property", "getter", "setter", "deleter"}:
                    # a property: its getter runs (another file's is not run: unknown);
                    # the last definition may be its setter, which gives nothing here
                    if kinds & {"setter", "deleter"}:
                        return UNKNOWN
                    return self._run_function(fn, [base], {}, frame)
                if "staticmethod" in kinds:
                    return FuncV(fn)  # not bound: `self.depthwise_conv(i, o, 3)`
                if "classmethod" in kinds:
                    return FuncV(fn, ClassV(base.cls))
                return FuncV(fn, base)
            layer = base.attrs.get(_TORCH_LAYER)
            if isinstance(layer, LayerV):  # `class Linear(nn.Linear)` reading `self.weight` in its own forward
                found = _layer_attribute(layer, attr, node, base.label)
                if found is not _NOT_FOUND:
                    return found
            if attr in T.MODULE_METHODS:  # nn.Module's own: register_buffer, add_module, to, ...
                return BoundMethodV(base, attr)
            if _SEQUENTIAL in base.attrs:
                if attr in _CONTAINER_VIEWS:
                    return BoundMethodV(base, attr)  # `self.items()` of a ModuleDict subclass
                if attr in _CONTAINER_CHANGES:  # `self.append(m)`: its list of modules is not known any more
                    base.attrs = {**base.attrs, _SEQUENTIAL: UNKNOWN}
            return UNKNOWN
        if kind is TensorV:
            if attr == "shape":
                return self._shape_tuple(base)
            if attr in ("T", "mT", "H", "mH", "data", "grad", "real", "imag"):
                if base.shape is None:
                    return TensorV(None, base.origin)
                if attr in ("T",):
                    return self._op_result(O.permute, (base.shape, tuple(range(base.shape.rank - 1, -1, -1))), node, base.origin, frame) if base.shape.rank is not None else TensorV(None, base.origin)
                if attr == "mT":
                    return self._op_result(O.transpose, (base.shape, -2, -1), node, base.origin, frame)
                return TensorV(base.shape, base.origin)
            if attr in ("ndim",):
                return base.shape.rank if base.shape is not None and base.shape.rank is not None else UNKNOWN
            return BoundMethodV(base, attr)
        if kind is LayerV:
            found = _layer_attribute(base, attr, node, base.label)
            return found if found is not _NOT_FOUND else BoundMethodV(base, attr)
        if kind is ClassV:
            return self._class_attribute(base.info, attr)
        if kind is SeqV:
            return BoundMethodV(base, attr)
        if kind is LossV:
            return BoundMethodV(base, attr)
        if kind is TupleV and attr in _LIST_MUTATORS or kind is _DictV:
            return BoundMethodV(base, attr)
        if kind is Sym and self.generic and not attr.startswith("_"):
            # ``config.hidden_size`` of a constructor parameter analysed on its own: a
            # size symbol of its own, the same wherever the same object is read
            # (``Inter(config)`` and ``Out(config)`` share ``config.intermediate_size``)
            name = _atom_name(base)
            if name is not None and name.count(".") < 3:
                return sym(f"{name}.{attr}")
        return UNKNOWN

    def _class_attribute(self, info: Any, attr: str, depth: int = 0) -> AV:
        """``block.expansion`` of a class: a constant its body (or a base's) assigns
        (``expansion: int = 4``)."""
        for stmt in info.node.body:
            target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else \
                stmt.target if isinstance(stmt, ast.AnnAssign) and stmt.value is not None else None
            if isinstance(target, ast.Name) and target.id == attr:
                v = self.eval(stmt.value, self.module_frame())
                return v if isinstance(v, (int, float, str, bool)) or v is None else UNKNOWN
        if depth < 8:
            for base in info.user_bases:
                v = self._class_attribute(self.model.info(base), attr, depth + 1)
                if v is not UNKNOWN:
                    return v
        return UNKNOWN


    @property
    def src(self) -> Any:
        """The source of the code being interpreted (another file's for an inherited method)."""
        return self.src_stack[-1] if self.src_stack else self.ctx.src

    @property
    def local(self) -> bool:
        return not self.src_stack or self.src_stack[-1] is self.ctx.src

    @property
    def recording(self) -> bool:
        return self.record and (not self.src_stack or self.src_stack[-1] is self.ctx.src)

    @property
    def outermost_init(self) -> ast.AST | None:
        """The ``__init__`` of the outermost module being analysed (``ShapeSite``)."""
        return self.instance_stack[0].cls.init if self.instance_stack else None

    def in_loop(self, node: ast.AST) -> bool:
        """Is ``node`` (of the checked file) inside a loop or a comprehension, where it
        is evaluated once per iteration, with other values?"""
        spans = self._loop_spans
        if spans is None:
            spans = self._loop_spans = []
            tree = self.ctx.src.tree
            for n in ast.walk(tree) if tree is not None else ():
                if isinstance(n, (ast.For, ast.AsyncFor, ast.While)) and n.body:
                    spans.append((n.body[0].lineno, n.end_lineno or n.lineno))
                elif isinstance(n, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                    spans.append((n.lineno, n.end_lineno or n.lineno))
        line = getattr(node, "lineno", None)
        return line is not None and any(a <= line <= b for a, b in spans)

    def seg(self, node: ast.AST) -> str:
        key = id(node)  # labels are asked for the same expression on every run through it
        hit = self._segs.get(key)
        if hit is not None:
            return hit
        src = self.src
        if src is None:
            return ""
        try:
            text = src.segment(node)
        except (IndexError, AttributeError, TypeError):
            text = ""
        self._segs[key] = text
        return text


    def _binop(self, op: ast.operator, a: AV, b: AV, node: ast.AST, frame: Frame) -> AV:
        if (type(a) is TensorV and a.failed) or (type(b) is TensorV and b.failed):
            return failed_tensor()
        if isinstance(a, TensorV) or isinstance(b, TensorV):
            if isinstance(op, ast.MatMult):
                if isinstance(a, TensorV) and isinstance(b, TensorV):
                    return self._tensor_op("matmul", O.matmul, (a.shape, b.shape), [a, b], node, frame, "matmul")
                return TensorV(None)
            ta = a if isinstance(a, TensorV) else None
            tb = b if isinstance(b, TensorV) else None
            if ta is not None and tb is not None:
                return self._tensor_op("broadcast", O.broadcast, (ta.shape, tb.shape), [ta, tb], node, frame, "broadcast")
            t: TensorV = ta or tb  # type: ignore[assignment]  # a or b is a tensor here
            other = b if ta is not None else a
            if isinstance(other, (int, float, bool, Sym)):  # a Python number: the shape stays
                return TensorV(t.shape, t.origin)
            if isinstance(other, _Unknown) and t.shape is not None and not t.failed:
                # `attn_weights + attention_mask` with the mask not known (a number or a
                # tensor): the sizes that cannot be 1 stay where they are
                out = O.broadcast(t.shape, None).out
                return TensorV(out if isinstance(out, Shape) else None, t.origin)
            return TensorV(None, t.origin)
        if isinstance(a, TupleV) and isinstance(b, TupleV) and isinstance(op, ast.Add):
            return TupleV(a.items + b.items)
        if type(a) is StarSizesV and isinstance(b, TupleV) and isinstance(op, ast.Add):
            return StarSizesV(a.lead, a.items + b.items)  # `x.shape[:-1] + (h, d)`
        if (is_dim(a) or isinstance(a, float)) and (is_dim(b) or isinstance(b, float)):
            out = self._arith(op, a, b)
            if isinstance(out, _Unknown) and frame.subst and (isinstance(a, Sym) or isinstance(b, Sym)):
                # Not expressible over the symbols (``30 // patch_size``): the call
                # site's values still give a number.
                out = self._arith(op, self._conc_deep(a, frame), self._conc_deep(b, frame))
            return out
        if isinstance(a, str) and isinstance(b, str) and isinstance(op, ast.Add):
            return a + b
        if isinstance(a, str) and isinstance(op, ast.Mod):
            # `"denselayer%d" % (i + 1)`: printf-style formatting of known values
            vals = b.items if isinstance(b, TupleV) else (b,)
            if all(type(v) in (int, float, str, bool) for v in vals):
                try:
                    return a % tuple(vals)
                except (TypeError, ValueError, KeyError, OverflowError):
                    return UNKNOWN
        return UNKNOWN

    @staticmethod
    def _arith(op: ast.operator, a: AV, b: AV) -> AV:
        if isinstance(op, (ast.Add, ast.Sub, ast.Mult)) and (isinstance(a, Sym) or isinstance(b, Sym)):
            # `dim * 4.0` (timm's `int(dim * mlp_ratio)`): a whole float is the integer for a
            # size (the float the product really is only matters to `int()`, which keeps it)
            if type(a) is float and a.is_integer():
                a = int(a)
            if type(b) is float and b.is_integer():
                b = int(b)
            if type(a) is float or type(b) is float:
                return UNKNOWN
        try:
            if isinstance(op, ast.Add):
                return a + b
            if isinstance(op, ast.Sub):
                return a - b
            if isinstance(op, ast.Mult):
                return a * b
            if isinstance(op, ast.FloorDiv):
                return a // b
            if isinstance(op, ast.Mod):
                return a % b
            if isinstance(op, ast.Div):
                if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b:
                    return a / b
                return UNKNOWN
            if isinstance(op, ast.Pow) and isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(b) < 64:
                return a ** b
        except (ZeroDivisionError, OverflowError, TypeError):
            return UNKNOWN
        return UNKNOWN

    def _subscript(self, node: ast.Subscript, frame: Frame) -> AV:
        base = self.eval(node.value, frame)
        if base is UNKNOWN and isinstance(node.value, (ast.Name, ast.Attribute)) \
                and T.canonical(self._qualify(node.value)) in T.ACTIVATION_TABLES:
            self.eval(node.slice, frame)  # `ACT2FN[config.hidden_act]`: an imported table
            return LayerV(Layer(L.ACTIVATION, {}), node)
        if type(base) is TensorV and base.failed:
            self.eval(node.slice, frame)
            return failed_tensor()
        if isinstance(base, TensorV):
            idx = self._index_items(node.slice, frame)
            if base.shape is None or idx is None:
                return TensorV(None, base.origin)
            return self._op_result(O.index, (base.shape, idx), node, base.origin, frame)
        key = self.eval(node.slice, frame)
        if type(base) is _DictV:
            return base.items.get(key, UNKNOWN) if isinstance(key, str) else UNKNOWN
        if type(base) is Sym and self.generic and type(key) is int:
            # ``config.hidden_sizes[0]`` of a constructor parameter analysed on its own:
            # one size symbol, the same wherever that item is read (as ``config.attr``)
            name = _atom_name(base)
            if name is not None and name.count("[") < 2:
                return sym(f"{name}[{key}]")
            return UNKNOWN
        if isinstance(base, TupleV):
            if base.shape_of is not None:
                base = self._named_sizes(base.shape_of, node.value)
            if isinstance(key, int) and not isinstance(key, bool) and -len(base.items) <= key < len(base.items):
                return base.items[key]
            if isinstance(node.slice, ast.Slice):
                lo, hi, st = (self.eval(x, frame) if x is not None else None for x in (node.slice.lower, node.slice.upper, node.slice.step))
                if all(x is None or (isinstance(x, int) and not isinstance(x, bool)) for x in (lo, hi, st)):
                    return TupleV(base.items[slice(lo, hi, st)])
            return UNKNOWN
        if isinstance(base, _ShapeOf):
            if isinstance(key, int) and not isinstance(key, bool):
                return base.tensor.shape.dim(key) if base.tensor.shape is not None else UNKNOWN
            sl = node.slice
            if (isinstance(sl, ast.Slice) and sl.lower is None and sl.step is None and isinstance(sl.upper, ast.UnaryOp)
                    and isinstance(sl.upper.op, ast.USub) and isinstance(sl.upper.operand, ast.Constant)
                    and type(sl.upper.operand.value) is int and sl.upper.operand.value > 0):
                return self._leading_sizes(base.tensor, sl.upper.operand.value, node.value)  # x.shape[:-1]
            return UNKNOWN
        if type(base) is StarSizesV:
            if isinstance(key, int) and not isinstance(key, bool) and -len(base.items) <= key < 0:
                return base.items[key]
            return UNKNOWN
        if isinstance(base, SeqV):
            if base.kind == "dict":
                for k, v in base.items:
                    if k == key:
                        return v
                return UNKNOWN
            if isinstance(key, int) and not isinstance(key, bool) and -len(base.items) <= key < len(base.items):
                return base.items[key]
            if isinstance(node.slice, ast.Slice):
                lo, hi, st = (self.eval(x, frame) if x is not None else None for x in (node.slice.lower, node.slice.upper, node.slice.step))
                if all(x is None or (isinstance(x, int) and not isinstance(x, bool)) for x in (lo, hi, st)):
                    return SeqV(base.kind, base.items[slice(lo, hi, st)], base.node, base.label)
            return UNKNOWN
        return UNKNOWN

    def _index_items(self, sl: ast.AST, frame: Frame) -> list | None:
        elts = sl.elts if isinstance(sl, ast.Tuple) else [sl]
        out: list[Any] = []
        for e in elts:
            if isinstance(e, ast.Slice):
                lo, hi, st = (self.eval(x, frame) if x is not None else None for x in (e.lower, e.upper, e.step))
                out.append(slice(lo, hi, st))
            elif isinstance(e, ast.Constant) and e.value is None:
                out.append(None)
            elif isinstance(e, ast.Constant) and e.value is Ellipsis:
                out.append(Ellipsis)
            else:
                v = self.eval(e, frame)
                out.append(v if not isinstance(v, TensorV) else v)
        return out



"""What to evaluate in a document: decided from its source alone (no torch here).

**What the worker executes** (``definitions``): the document's imports, function and
class definitions (with their decorators and class bodies, which Python runs when
it defines a class), docstrings, and simple module-level constants (``NAME =``
literals, names, attribute chains and arithmetic over them; of calls only those that
make a value from such arguments: ``partial``, ``TypeVar``, ``namedtuple``,
``getLogger``...). Never other
top-level statements, never the body of ``if __name__ == "__main__":`` nor of
``if TYPE_CHECKING:``; a ``try`` is kept only when everything in it is one of the
above (``try: import x`` / ``except ImportError: x = None``).

**What it evaluates** (``call_sites``): each place in the top-level code, the
``__main__`` block or a module-level function where a Module class of this file is
built and called with tensors the code makes itself::

    model = Net(3, width=32)
    out = model(torch.randn(2, 3, 64, 64))

Constructor arguments and factory arguments must be known without running anything:
literals, names assigned once to such values (in that scope or at the top level),
and arithmetic over them. Inputs must come from torch factories (``randn``,
``rand``, ``zeros``, ``ones``, ``empty``, ``full``, ``randint``, ``arange``,
``tensor`` of a literal), directly or through a name assigned once. Anything else
is not evaluated: the input shape would be a guess, and TL901 never reports on a
guess.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import AbstractSet, Any

from torch_lsp.analysis.names import ImportTable

FACTORIES = frozenset({"randn", "rand", "zeros", "ones", "empty", "full", "randint", "arange", "tensor"})
DTYPES = frozenset({
    "float", "float32", "float64", "double", "float16", "half", "bfloat16", "int", "int32", "int64", "long",
    "int16", "short", "int8", "uint8", "bool", "complex64", "cfloat",
})
MAX_EVALUATIONS = 8  # per document
_MODULE_METHODS = frozenset({"to", "eval", "train", "cpu", "cuda", "requires_grad_"})  # builder chains kept
_NOT_KNOWN = object()


# ============================================================================ definitions
def is_main_block(stmt: ast.stmt) -> bool:
    if not isinstance(stmt, ast.If):
        return False
    t = stmt.test
    return (isinstance(t, ast.Compare) and isinstance(t.left, ast.Name) and t.left.id == "__name__"
            and len(t.comparators) == 1 and isinstance(t.comparators[0], ast.Constant) and t.comparators[0].value == "__main__")


def _is_type_checking(stmt: ast.stmt) -> bool:
    if not isinstance(stmt, ast.If):
        return False
    t = stmt.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _is_simple_value(node: ast.expr | None) -> bool:
    """Literals, names, attribute chains, containers and arithmetic of those: an
    expression whose evaluation cannot run user code (no call, no subscript)."""
    if node is None:
        return False
    if isinstance(node, (ast.Constant, ast.Name, ast.Lambda)):
        return True  # (a lambda runs nothing until it is called)
    if isinstance(node, ast.Attribute):
        return _is_simple_value(node.value)
    if isinstance(node, ast.Starred):
        return _is_simple_value(node.value)  # `[*base, x]`
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_simple_value(e) for e in node.elts)
    if isinstance(node, ast.Dict):  # `{**_COMMON_META, "recipe": ...}` too
        return all(k is None or _is_simple_value(k) for k in node.keys) and all(_is_simple_value(v) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        return _is_simple_value(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_simple_value(node.left) and _is_simple_value(node.right)
    return False


# Calls that only make a value from their arguments (no I/O, no user code of the
# document): kept at the top level, so that ``LinearNoBias = partial(nn.Linear,
# bias=False)`` exists when a class uses it.
_PURE_CALLS = frozenset({"partial", "TypeVar", "NewType", "namedtuple", "getLogger", "field", "frozenset", "tuple",
                         "dict", "set", "list"})


def _is_pure_call(node: ast.expr) -> bool:
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
    if name not in _PURE_CALLS or (isinstance(f, ast.Attribute) and not _is_simple_value(f.value)):
        return False
    return all(_is_simple_value(a.value if isinstance(a, ast.Starred) else a) for a in node.args) and \
        all(_is_simple_value(k.value) for k in node.keywords)


def _kept(stmt: ast.stmt) -> ast.stmt | None:
    if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Pass)):
        return stmt
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
        return stmt  # a docstring
    if isinstance(stmt, ast.Assign) and all(isinstance(t, (ast.Name, ast.Tuple)) for t in stmt.targets) \
            and (_is_simple_value(stmt.value) or _is_pure_call(stmt.value)):
        return stmt
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and (stmt.value is None or _is_simple_value(stmt.value)):
        return stmt
    if isinstance(stmt, ast.Try) and not getattr(stmt, "finalbody", None):
        body = [_kept(s) for s in stmt.body]
        handlers = [[_kept(s) for s in h.body] for h in stmt.handlers]
        orelse = [_kept(s) for s in stmt.orelse]
        if all(s is not None for s in body) and all(all(s is not None for s in h) for h in handlers) and all(s is not None for s in orelse):
            return stmt
    return None


def definitions(tree: ast.Module) -> ast.Module:
    """The part of a document the worker executes (see the module docstring), with
    the document's line numbers (tracebacks point into the document)."""
    body = []
    for stmt in tree.body:
        if is_main_block(stmt) or _is_type_checking(stmt):
            continue
        kept = _kept(stmt)
        if kept is not None:
            body.append(kept)
    return ast.Module(body=body, type_ignores=[])


# ============================================================================ values
class _Unknown(Exception):
    pass


@dataclass
class Scope:
    """Names assigned exactly once in a block of code (and its parent's)."""

    values: dict[str, ast.expr]
    parent: "Scope | None" = None

    def lookup(self, name: str) -> ast.expr | None:
        if name in self.values:
            return self.values[name]
        return self.parent.lookup(name) if self.parent else None


def _scope_of(stmts: list[ast.stmt], parent: Scope | None = None) -> Scope:
    counts: dict[str, int] = {}
    values: dict[str, ast.expr] = {}
    for stmt in stmts:
        for node in ast.walk(stmt) if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else [stmt]:
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                targets = [node.target]
            elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
                targets = [node.target]
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                targets = [i.optional_vars for i in node.items if i.optional_vars is not None]
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                counts[node.name] = counts.get(node.name, 0) + 2
                continue
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        counts[n.id] = counts.get(n.id, 0) + 1
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                values[node.targets[0].id] = node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                values[node.target.id] = node.value
    return Scope({k: v for k, v in values.items() if counts.get(k) == 1}, parent)


class _Evaluator:
    """Values of expressions known without running anything (see the module docstring)."""

    def __init__(self, imports: ImportTable) -> None:
        self.imports = imports

    def _torch_attr(self, node: ast.expr) -> str | None:
        """``torch.X`` (``th.X`` with ``import torch as th``, ``X`` with ``from torch import X``) -> "X"."""
        q = self.imports.qualify(node)
        return q[6:] if q is not None and q.startswith("torch.") and "." not in q[6:] else None

    def value(self, node: ast.expr, scope: Scope, depth: int = 0) -> Any:
        if depth > 20:
            raise _Unknown
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool, type(None))):
            return node.value
        if isinstance(node, ast.Name):
            bound = scope.lookup(node.id)
            if bound is None:
                raise _Unknown
            return self.value(bound, scope, depth + 1)
        if isinstance(node, (ast.Tuple, ast.List)):
            items = [self.value(e, scope, depth + 1) for e in node.elts]
            return tuple(items) if isinstance(node, ast.Tuple) else items
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise _Unknown
            return {self.value(k, scope, depth + 1): self.value(v, scope, depth + 1) for k, v in zip(node.keys, node.values)}  # type: ignore[arg-type]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = self.value(node.operand, scope, depth + 1)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            a, b = self.value(node.left, scope, depth + 1), self.value(node.right, scope, depth + 1)
            if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b)):
                try:
                    if isinstance(node.op, ast.Add):
                        return a + b
                    if isinstance(node.op, ast.Sub):
                        return a - b
                    if isinstance(node.op, ast.Mult):
                        return a * b
                    if isinstance(node.op, ast.FloorDiv):
                        return a // b
                    if isinstance(node.op, ast.Div):
                        return a / b
                    if isinstance(node.op, ast.Mod):
                        return a % b
                    if isinstance(node.op, ast.Pow) and abs(b) <= 64:
                        return a ** b
                except (ZeroDivisionError, OverflowError):
                    raise _Unknown from None
        raise _Unknown

    def dtype(self, node: ast.expr) -> str:
        name = self._torch_attr(node)
        if name in DTYPES:
            return name  # type: ignore[return-value]
        raise _Unknown

    def tensor(self, node: ast.expr, scope: Scope, depth: int = 0) -> dict:
        """An input tensor made by a torch factory: {"factory", "args", "kwargs"}."""
        if depth > 20:
            raise _Unknown
        if isinstance(node, ast.Name):
            bound = scope.lookup(node.id)
            if bound is None:
                raise _Unknown
            return self.tensor(bound, scope, depth + 1)
        if not isinstance(node, ast.Call):
            raise _Unknown
        factory = self._torch_attr(node.func)
        if factory not in FACTORIES or any(isinstance(a, ast.Starred) for a in node.args):
            raise _Unknown
        args = [self.value(a, scope) for a in node.args]
        kwargs: dict[str, Any] = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise _Unknown
            if kw.arg == "dtype":
                kwargs["dtype"] = self.dtype(kw.value)
            elif kw.arg in ("device", "requires_grad", "pin_memory", "layout", "generator"):
                continue  # the worker makes it on the meta device
            else:
                kwargs[kw.arg] = self.value(kw.value, scope)
        return {"factory": factory, "args": [repr(a) for a in args], "kwargs": {k: (v if k == "dtype" else repr(v)) for k, v in kwargs.items()}}


# ============================================================================ call sites
@dataclass
class Evaluation:
    """One module to build and call."""

    cls: str  # a class defined at the top level of the document
    args: list[str]  # repr() of each constructor argument
    kwargs: dict[str, str]
    inputs: list[dict]  # positional inputs (see _Evaluator.tensor)
    input_kwargs: dict[str, dict] = field(default_factory=dict)
    call_line: int = 0  # 1-based line of the call
    construct_line: int = 0  # 1-based line of the constructor call
    call_text: str = ""  # the call, as written (shortened)
    origin: str = "call"  # where the inputs come from: "call", "configured", "annotated"
    skip: str = ""  # why this call site cannot be evaluated (then nothing is sent)
    # inputs whose shape only the static analysis knows: position or keyword -> the argument's node
    from_static: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"class": self.cls, "args": self.args, "kwargs": self.kwargs, "inputs": self.inputs,
                "input_kwargs": self.input_kwargs, "call_line": self.call_line, "construct_line": self.construct_line}

    def key(self) -> tuple:
        where = (self.call_line, self.skip) if self.from_static or self.skip else ()
        return (self.cls, tuple(self.args), tuple(sorted(self.kwargs.items())), repr(self.inputs),
                repr(sorted(self.input_kwargs.items())), where)


def call_sites(tree: ast.Module, module_classes: set[str] | None = None) -> list[Evaluation]:
    """The evaluations a document asks for (at most MAX_EVALUATIONS, first come first)."""
    classes = {s.name for s in tree.body if isinstance(s, ast.ClassDef)}
    if module_classes is not None:
        classes &= module_classes
    if not classes:
        return []
    ev = _Evaluator(ImportTable.build(tree))
    top_level = [s for s in tree.body if not is_main_block(s)]
    module_scope = _scope_of(top_level)
    blocks: list[tuple[list[ast.stmt], Scope]] = [(top_level, module_scope)]
    for stmt in tree.body:
        if is_main_block(stmt):
            blocks.append((stmt.body, _scope_of(stmt.body, module_scope)))  # type: ignore[attr-defined]
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            blocks.append((stmt.body, _scope_of(stmt.body, module_scope)))
    out: list[Evaluation] = []
    seen: set[tuple] = set()
    for stmts, scope in blocks:
        for stmt in stmts:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            for node in ast.walk(stmt):
                if not isinstance(node, ast.Call):
                    continue
                found = _evaluation(node, scope, classes, ev)
                if found is not None and found.key() not in seen:
                    seen.add(found.key())
                    out.append(found)
                    if len(out) >= MAX_EVALUATIONS:
                        return out
    return out


def _construction(node: ast.expr, scope: Scope, classes: set[str], depth: int = 0) -> ast.Call | None:
    """The ``Net(...)`` call that built the module ``node`` names, if any."""
    if depth > 10:
        return None
    if isinstance(node, ast.Name):
        bound = scope.lookup(node.id)
        return _construction(bound, scope, classes, depth + 1) if bound is not None else None
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id in classes:
            return node
        if isinstance(node.func, ast.Attribute) and node.func.attr in _MODULE_METHODS:  # Net(...).to(device)
            return _construction(node.func.value, scope, classes, depth + 1)
    return None


def _evaluation(call: ast.Call, scope: Scope, classes: set[str], ev: _Evaluator) -> Evaluation | None:
    target = call.func
    if isinstance(target, ast.Attribute) and target.attr == "forward":
        target = target.value
    built = _construction(target, scope, classes)
    if built is None or built is call:
        return None
    if not call.args and not call.keywords:
        return None
    assert isinstance(built.func, ast.Name)
    text = ast.unparse(call)
    text = text if len(text) <= 60 else text[:57] + "..."
    found = Evaluation(built.func.id, [], {}, [], {}, call.lineno, built.lineno, text)
    try:
        if any(isinstance(a, ast.Starred) for a in built.args) or any(k.arg is None for k in built.keywords):
            raise _Unknown
        found.args = [repr(ev.value(a, scope)) for a in built.args]
        found.kwargs = {k.arg: repr(ev.value(k.value, scope)) for k in built.keywords if k.arg}
    except _Unknown:
        built_text = ast.unparse(built)
        found.skip = (f"the arguments of `{built_text if len(built_text) <= 60 else built_text[:57] + '...'}` "
                      "are not known without running the code")
        return found
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        found.skip = "the call unpacks its arguments (`*args`, `**kwargs`)"
        return found
    placeholder = {"factory": "randn", "args": ["()"], "kwargs": {}}
    for i, a in enumerate(call.args):
        try:
            found.inputs.append(ev.tensor(a, scope))
        except _Unknown:
            found.inputs.append(placeholder)
            found.from_static[i] = a
    for k in call.keywords:
        assert k.arg is not None
        try:
            found.input_kwargs[k.arg] = ev.tensor(k.value, scope)
        except _Unknown:
            found.input_kwargs[k.arg] = placeholder
            found.from_static[k.arg] = k.value
    return found


# ============================================================================ configured inputs
def configured(tree: ast.Module, inputs: Any, already: AbstractSet[str] = frozenset()) -> tuple[list[Evaluation], list[str]]:
    """Evaluations asked for in ``[tool.torch-lsp.runtime.inputs]`` for this file's
    classes (those without a call site of their own), and problems with the table.

        [tool.torch-lsp.runtime.inputs]
        Net = [[2, 3, 32, 32]]                          # built with its defaults
        Encoder = { inputs = [[4, 16], { shape = [4, 16], dtype = "long" }], args = [64], kwargs = { depth = 2 } }

    Each input is a shape (a float tensor) or ``{shape, dtype}``."""
    problems: list[str] = []
    out: list[Evaluation] = []
    if not isinstance(inputs, dict):
        return out, (["runtime.inputs: expected a table of class names"] if inputs else [])
    classes = {s.name: s for s in tree.body if isinstance(s, ast.ClassDef)}
    for name, spec in inputs.items():
        node = classes.get(name)
        if node is None or name in already:
            continue
        args: list = []
        kwargs: dict = {}
        if isinstance(spec, dict):
            args, kwargs, spec = spec.get("args", []), spec.get("kwargs", {}), spec.get("inputs")
        tensors: list[dict[str, Any]] = []
        ok = isinstance(spec, list) and isinstance(args, list) and isinstance(kwargs, dict)
        for item in spec if isinstance(spec, list) else []:
            shape, dtype = (item.get("shape"), item.get("dtype")) if isinstance(item, dict) else (item, None)
            if not (isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)) \
                    or (dtype is not None and dtype not in DTYPES):
                ok = False
                break
            factory = "randn" if dtype is None or dtype.startswith(("float", "double", "half", "bfloat", "complex", "cfloat")) else "zeros"
            tensors.append({"factory": factory, "args": [repr(tuple(shape))], "kwargs": {"dtype": dtype} if dtype else {}})
        if not ok or not tensors:
            problems.append(f"runtime.inputs.{name}: expected a list of shapes (lists of ints) or {{shape, dtype}} tables")
            continue
        shapes = ", ".join(str(list(ast.literal_eval(t["args"][0]))) for t in tensors)
        out.append(Evaluation(name, [repr(a) for a in args], {str(k): repr(v) for k, v in kwargs.items()}, tensors, {},
                              node.lineno, node.lineno, f"{name}(...) with the configured input {shapes}", "configured"))
    return out, problems


# ============================================================================ annotations
_JAXTYPING_FLOAT = frozenset({"Float", "Float32", "Float64", "Float16", "BFloat16", "Real", "Num", "Shaped", "Inexact"})
_JAXTYPING_INT = frozenset({"Int", "Int64", "Int32", "Integer", "Long", "UInt8", "Int8", "Int16"})


def _annotated_input(ann: ast.expr | None) -> dict | None:
    """``Float[Tensor, "2 3 32 32"]`` (every axis a number) -> an input spec."""
    if not (isinstance(ann, ast.Subscript) and isinstance(ann.slice, ast.Tuple) and len(ann.slice.elts) == 2):
        return None
    kind = ann.value.attr if isinstance(ann.value, ast.Attribute) else getattr(ann.value, "id", None)
    dims = ann.slice.elts[1]
    if not (isinstance(dims, ast.Constant) and isinstance(dims.value, str)):
        return None
    axes = dims.value.split()
    if not axes or not all(a.isdigit() for a in axes):
        return None
    shape = tuple(int(a) for a in axes)
    if kind in _JAXTYPING_FLOAT:
        return {"factory": "randn", "args": [repr(shape)], "kwargs": {}}
    if kind in _JAXTYPING_INT:
        return {"factory": "zeros", "args": [repr(shape)], "kwargs": {"dtype": "long"}}
    if kind == "Bool":
        return {"factory": "zeros", "args": [repr(shape)], "kwargs": {"dtype": "bool"}}
    return None


def annotated(tree: ast.Module, already: AbstractSet[str] = frozenset()) -> list[Evaluation]:
    """Classes whose ``forward`` states every input's shape with numbers in a jaxtyping
    annotation, and whose constructor needs no argument: built with the defaults."""
    out = []
    for cls in tree.body:
        if not isinstance(cls, ast.ClassDef) or cls.name in already:
            continue
        methods = {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}
        fwd, init = methods.get("forward"), methods.get("__init__")
        if fwd is None:
            continue
        if init is not None:
            a = init.args
            if len(a.args) - 1 > len(a.defaults) or any(d is None for d in a.kw_defaults) or a.posonlyargs:
                continue
        params = fwd.args.args[1:]
        required = params[: len(params) - len(fwd.args.defaults)]
        inputs = [_annotated_input(p.annotation) for p in required]
        if not required or any(i is None for i in inputs):
            continue
        shapes = ", ".join(str(list(ast.literal_eval(i["args"][0]))) for i in inputs if i)
        out.append(Evaluation(cls.name, [], {}, [i for i in inputs if i], {}, fwd.lineno, cls.lineno,
                              f"{cls.name}() with the annotated input {shapes}", "annotated"))
    return out[:MAX_EVALUATIONS]


# ============================================================================ entry points
_ACTIONS = frozenset({"backward", "step", "zero_grad", "save", "open", "fit", "train_epoch", "download", "urlretrieve"})
MAX_ENTRY_CANDIDATES = 64  # sent to the worker per document (it builds what its time allows)
DEFAULT_MAX_ENTRY_POINTS = 8  # run per document (runtime.max-entry-points)


@dataclass
class EntryPoint:
    """A model nobody calls in the file: a Module class built with its defaults, or a
    function called without arguments that returns a module."""

    kind: str  # "class" or "builder"
    name: str
    line: int  # 1-based line of the definition

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "line": self.line}

    @property
    def label(self) -> str:
        return f"{self.name}()"


def _required_arguments(fn: ast.FunctionDef | ast.AsyncFunctionDef, skip_self: bool) -> bool:
    a = fn.args
    positional = a.posonlyargs + a.args
    if skip_self:
        positional = positional[1:]
    return len(positional) > len(a.defaults) or any(d is None for d in a.kw_defaults)


def _called_name(node: ast.expr) -> str | None:
    """``f(...)`` / ``f(...).eval()`` -> "f"."""
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name):
            return node.func.id
        if isinstance(node.func, ast.Attribute) and node.func.attr in _MODULE_METHODS:
            return _called_name(node.func.value)
    return None


def entry_points(tree: ast.Module, already: AbstractSet[str] = frozenset()) -> list[EntryPoint]:
    """The document's entry points, builders first (see ``runtime.entry``).

    A *builder* is a module-level function without required arguments that returns
    a module as far as the source shows: a call of a class of the file, of
    ``torch.nn``, or of another function of the file that returns one (``_resnet(...)``),
    a call handed a class of the file (``build_model_with_cfg(VisionTransformer, ...)``),
    or a name assigned once from one of those; or a function decorated as a model
    registration (a decorator whose name says ``register``). A class the builders
    (or the functions they call) mention is evaluated through them, not with its
    defaults. Whether a class is really an ``nn.Module`` is decided in the worker,
    from the class itself, before anything is built."""
    imports = ImportTable.build(tree)
    classes = {s.name: s for s in tree.body if isinstance(s, ast.ClassDef)}
    functions = {s.name: s for s in tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))}

    def returns_of(fn: ast.AST) -> list[ast.expr]:
        out: list[ast.expr] = []
        stack = list(ast.iter_child_nodes(fn))
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            if isinstance(node, ast.Return) and node.value is not None:
                out.append(node.value)
            stack.extend(ast.iter_child_nodes(node))
        return out

    def is_module_call(value: ast.expr, scope: Scope, makers: set[str], depth: int = 0) -> bool:
        if depth > 5:
            return False
        if isinstance(value, ast.Name):
            bound = scope.lookup(value.id)
            return bound is not None and is_module_call(bound, scope, makers, depth + 1)
        if isinstance(value, ast.IfExp):
            return is_module_call(value.body, scope, makers, depth + 1) or is_module_call(value.orelse, scope, makers, depth + 1)
        if not isinstance(value, ast.Call):
            return False
        called = _called_name(value)
        if called is not None and (called in classes or called in makers):
            return True
        q = imports.qualify(value.func)
        if q is not None and q.startswith("torch.nn.") and q[len("torch.nn."):][:1].isupper():
            return True
        return any(isinstance(a, ast.Name) and a.id in classes for a in value.args)

    makers: set[str] = set()  # functions of the file that return a module (any arguments)
    scopes = {name: _scope_of(fn.body) for name, fn in functions.items()}
    changed = True
    while changed:
        changed = False
        for name, fn in functions.items():
            if name not in makers and any(is_module_call(r, scopes[name], makers) for r in returns_of(fn)):
                makers.add(name)
                changed = True

    def registered(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        for dec in fn.decorator_list:
            target = dec.func if isinstance(dec, ast.Call) else dec
            text = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
            if "register" in text.lower() and "notrace" not in text.lower():
                return True
        return False

    # The script's own actions are not builders: functions the `__main__` block or the
    # top level calls (`main()`), and functions that train or write (`.backward()`,
    # `.step()`, `torch.save`, `open`), even when they return the model in the end.
    script_calls = {n.func.id for stmt in tree.body if is_main_block(stmt) or not isinstance(
        stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in ast.walk(stmt)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}

    def acts(fn: ast.AST) -> bool:
        for n in ast.walk(fn):
            if isinstance(n, ast.Call):
                f = n.func
                name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
                if name in _ACTIONS:
                    return True
        return False

    builders = [fn for name, fn in functions.items()
                if not name.startswith("test") and not _required_arguments(fn, False) and (name in makers or registered(fn))
                and name not in script_calls and not acts(fn)]
    mentioned: set[str] = set()
    reached, todo = set(), [fn.name for fn in builders]
    while todo:
        name = todo.pop()
        if name in reached or name not in functions:
            continue
        reached.add(name)
        for node in ast.walk(functions[name]):
            if isinstance(node, ast.Name):
                if node.id in classes:
                    mentioned.add(node.id)
                elif node.id in functions:
                    todo.append(node.id)
    out = [EntryPoint("builder", fn.name, fn.lineno) for fn in builders]
    for name, cls in classes.items():
        if name in already or name in mentioned:
            continue
        init = next((f for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and f.name == "__init__"), None)
        if init is not None and _required_arguments(init, True):
            continue
        if not any(isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and f.name == "forward" for f in ast.walk(cls)) \
                and not cls.bases:
            continue
        out.append(EntryPoint("class", name, cls.lineno))
    return out[:MAX_ENTRY_CANDIDATES]

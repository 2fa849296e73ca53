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

Diagnostics are collected by ``Reporter`` (one per problem, deduplicated by code and
position); what each expression evaluated to is recorded for hovers (``ShapeIndex``).
"""
from __future__ import annotations

import ast
import importlib
import os
import re
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, cast

from torch_lsp.strict import swallowed
from torch_lsp.analysis import registry as R
from torch_lsp.analysis.registry import _flat_sizes
from torch_lsp.analysis import torch_api as T
from torch_lsp.analysis.shapes import UNKNOWN, FloorDiv, Shape, Sym, _Unknown, dim_eq, is_dim, join_shapes, not_given, sym
from torch_lsp.analysis.shape_types import Layer, Result, ShapeError
from torch_lsp.analysis.flow import may_catch
from torch_lsp.analysis.pyvalues import BUILTIN_CALLS, PythonValues
from torch_lsp.analysis.statements import Statements, _is_generator, _truthiness
from torch_lsp.analysis.values import (  # noqa: F401  (re-exported: the rules and queries import them from here)
    AV, BoundMethodV, CallEntry, ClassV, FuncV, InstanceV, LayerV, LossV, Origin, PartialV, SeqV, TensorV, TupleV, _OrderedDictV,
    StarSizesV, UnionV, _DictV, _ShapeOf, _same_value, _widen, _widen_changed, failed_tensor, has_failed, is_tensor, join_values, set_attr,
)

try:  # the transfer functions (layers, ops) live in their own modules
    from torch_lsp.analysis import layers as L
except ImportError:  # pragma: no cover - during development
    L = None  # type: ignore[assignment]
try:
    from torch_lsp.analysis import ops as O
except ImportError:  # pragma: no cover
    O = None  # type: ignore[assignment]


# =============================================================================== reporting


# Line numbers quoted in messages ("given at line 41") are references to the node
# until the finding is reported: the server reuses the findings of code that an edit
# only moved (its nodes are shifted in place, see incremental.py), and the message
# must then quote the new line. ``quote_line`` puts a marker in the text and notes
# the node; ``Reporter.add`` moves the noted nodes onto the finding, and
# ``Finding.text`` renders the markers with the nodes' current lines.
_QUOTED: dict[int, ast.AST] = {}
_QUOTE_MARK = re.compile("\x00(\\d+)\x00")


def quote_line(node: ast.AST | None) -> str:
    """The line of ``node`` for a message (see ``_QUOTED``)."""
    if getattr(node, "lineno", None) is None:
        return "0"
    _QUOTED[id(node)] = node  # type: ignore[assignment]  # not None: it has a line
    return f"\x00{id(node)}\x00"


def render_lines(text: str, nodes: dict[int, ast.AST], files: dict[int, str] | None = None) -> str:
    """``text`` with its quoted lines (``files``: id(node) -> the file name of a node
    of another file, quoted as "12 of blocks.py")."""
    if "\x00" not in text:
        return text

    def line(m: re.Match) -> str:
        key = int(m.group(1))
        n = str(getattr(nodes.get(key), "lineno", 0))
        return f"{n} of {files[key]}" if files and key in files else n
    return _QUOTE_MARK.sub(line, text)


@dataclass
class Finding:
    """A diagnostic before it becomes a Diagnostic (rules/shapes.py does that)."""

    code: str
    node: ast.AST  # where to report
    message: str  # may hold quoted lines: read it with ``text``
    related: list = field(default_factory=list)  # (node, message)
    fix: tuple | None = None  # (node, new_text, title) — a replacement of node
    fixes: list = field(default_factory=list)  # [(title, [(node, new_text)])]
    quoted: dict = field(default_factory=dict)  # id(node) -> node, for the quoted lines
    elsewhere: list = field(default_factory=list)  # (SourceFile, node, message): related places in other files
    exc: str | None = "RuntimeError"  # what torch raises (None: a shape error of some class)
    unit: str | None = None  # the class whose analysis on its own found it (None: a call site's run)
    # Findings of one group at one place are one problem: the first is kept (set by
    # whoever makes the finding; empty: its code is its group)
    group: str = ""

    def text(self, message: str | None = None, files: dict[int, str] | None = None) -> str:
        """The message (or a related message) with the quoted lines as they are now."""
        return render_lines(self.message if message is None else message, self.quoted, files)

    def take_quoted(self) -> None:
        for text in [self.message] + [m for _, m in self.related]:
            if "\x00" in text:
                for m in _QUOTE_MARK.finditer(text):
                    i = int(m.group(1))
                    node = _QUOTED.get(i)
                    if node is not None:
                        self.quoted[i] = node


class FindingBuilder(Protocol):
    """Turns the interpreter's errors into findings: which rule, the message, where it
    goes, the fixes (``rules/shape_findings.py``, named by
    ``context.FINDINGS_MODULE``). None: no finding (the run goes on as if the error
    were not there)."""

    def layer_error(self, interp: Any, mod: Any, inp: Any, err: Any, node: Any, frame: Any) -> Finding | None: ...
    def config_error(self, interp: Any, layer: Any, err: Any, node: Any, frame: Any) -> Finding | None: ...
    def op_error(self, interp: Any, family: str, err: Any, operands: list, node: Any, frame: Any) -> Finding | None: ...
    def backward_finding(self, interp: Any, t: Any, node: Any) -> Finding | None: ...
    def foreign_finding(self, interp: Any, f: Finding, entry: Any, target: Any) -> Finding | None: ...


class _NoFindings:
    """No rule plugged in: shapes are found, nothing is reported."""

    def layer_error(self, *args: Any) -> None:
        return None

    config_error = op_error = backward_finding = foreign_finding = layer_error


def _finding_builder() -> FindingBuilder:
    from torch_lsp.analysis import context

    name = context.FINDINGS_MODULE
    return cast(FindingBuilder, importlib.import_module(name)) if name else _NoFindings()


class Reporter:
    def __init__(self) -> None:
        self.findings: dict[tuple, Finding] = {}

    def add(self, f: Finding) -> None:
        key = (f.group or f.code, getattr(f.node, "lineno", 0), getattr(f.node, "col_offset", 0))
        if key not in self.findings:
            if not f.quoted:
                f.take_quoted()
            self.findings[key] = f


@dataclass
class UnitResult:
    """What one analysis unit (top-level code, a function, a class) produced."""

    findings: list
    index: "ShapeIndex"
    layer_calls: dict
    summary_instances: dict
    env: dict | None  # for top-level code: the names it bound
    followed: list = field(default_factory=list)  # ClassDefs of other files it followed
    site_classes: set = field(default_factory=set)  # classes whose forward a call site ran


class ShapeIndex:
    """Expression and assignment shapes for hovers and inlay hints: node -> value.

    A class is analysed on its own (``generic``: sizes are its constructor's
    symbols, inputs unknown) and again for each call site that builds and calls it
    (sizes and inputs known). What a user wants to see is the call sites' view
    (``[4, 16, 15, 15]``), so values from call sites replace generic ones; values
    of the same kind are joined (a dimension that differs becomes unknown)."""

    def __init__(self) -> None:
        self.by_node: dict[int, tuple[ast.AST, AV]] = {}
        self._generic: set[int] = set()  # nodes whose value so far is only generic

    def record(self, node: ast.AST, value: AV, generic: bool = False) -> None:
        key = id(node)
        old = self.by_node.get(key)
        if old is None:
            self.by_node[key] = (node, value)
            if generic:
                self._generic.add(key)
            return
        was_generic = key in self._generic
        if generic and not was_generic:
            return  # a call site's view is already there
        if was_generic and not generic:
            self.by_node[key] = (node, value)
            self._generic.discard(key)
            return
        if isinstance(old[1], TensorV) and isinstance(value, TensorV):
            self.by_node[key] = (node, TensorV(join_shapes(old[1].shape, value.shape), old[1].origin))

    def merge(self, other: "ShapeIndex") -> None:
        if not self.by_node and not self._generic:  # the first unit: take it whole
            self.by_node = dict(other.by_node)
            self._generic = set(other._generic)
            return
        for key, (node, value) in other.by_node.items():
            self.record(node, value, key in other._generic)


# =============================================================================== interpreter


def _atom_name(d: Sym) -> str | None:
    """The name of a symbol that is one atom (``config``), else None."""
    if len(d.terms) == 1:
        mono, coeff = d.terms[0]
        if coeff == 1 and len(mono) == 1 and isinstance(mono[0], str):
            return mono[0]
    return None



@dataclass(frozen=True, eq=False)
class DataField:
    """A field of a data class: what its generated ``__init__`` takes."""

    name: str
    default: ast.expr | None  # None: required
    kw_only: bool
    path: str | None  # the file of the class declaring it (not the class: no reference cycle)


def _decorator_name(d: ast.expr) -> str:
    d = d.func if isinstance(d, ast.Call) else d
    return d.attr if isinstance(d, ast.Attribute) else d.id if isinstance(d, ast.Name) else ""


def _keyword_true(d: ast.expr, names: tuple[str, ...]) -> bool:
    return isinstance(d, ast.Call) and any(
        k.arg in names and isinstance(k.value, ast.Constant) and k.value.value is True for k in d.keywords)


def _class_mro(model: Any, info: Any) -> list:
    """The class and its bases of this code (followed files included), depth first,
    left to right: the MRO of the single-inheritance chains real code has."""
    mro: list = []
    todo = [info]
    while todo and len(mro) < 32:
        c = todo.pop()
        if all(c is not m for m in mro):
            mro.append(c)
            todo.extend(model.info(b) for b in reversed(c.user_bases))
    return mro


def _accepts_other_keywords(model: Any, info: Any) -> bool:
    """Does the generated ``__init__`` of a data class take keywords that are no
    fields (a class of its MRO decorated ``@strict(accept_kwargs=True)``)?"""
    return any(_keyword_true(d, ("accept_kwargs",)) for c in _class_mro(model, info) for d in c.node.decorator_list)


def _data_class_fields(model: Any, info: Any) -> "list[DataField] | None":
    """The fields of a class whose ``__init__`` is generated from its annotated class
    attributes (PEP 557 dataclasses, subclasses of a PEP 681 ``dataclass_transform``
    base such as transformers' configs, ``typing.NamedTuple``), bases' fields first;
    None for any other class (one whose ``__init__`` is written, a Module). Cached on
    the ClassInfo."""
    hit: Any = getattr(info, "_data_fields", _NOT_FOUND)
    if hit is not _NOT_FOUND:
        return hit
    info._data_fields = None  # (while it is computed: an inheritance cycle is no data class)
    mro = _class_mro(model, info)
    if any(c.is_module for c in mro):
        return None
    transform = any(_decorator_name(d) == "dataclass_transform" for c in mro for d in c.node.decorator_list)

    def marked(c: Any) -> tuple[bool, bool]:  # (its __init__ is generated, keyword-only fields)
        kw = False
        hit = transform
        for d in c.node.decorator_list:
            if _decorator_name(d) in ("dataclass", "dataclass_transform"):
                hit = True
                kw = kw or _keyword_true(d, ("kw_only", "kw_only_default"))
        return hit or any(_decorator_name(b) == "NamedTuple" for b in c.node.bases), kw

    # The first class of the MRO that writes __init__ or has it generated decides.
    for c in mro:
        if c.method("__init__") is not None:
            return None
        if marked(c)[0]:
            break
    else:
        return None
    kw_only = transform and any(_keyword_true(d, ("kw_only_default",)) for c in mro for d in c.node.decorator_list)
    fields: dict[str, DataField] = {}
    for c in reversed(mro):
        generated, kw = marked(c)
        if not generated:
            continue  # a mixin's annotations are no fields
        for stmt in c.node.body:
            if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.simple):
                continue
            ann = stmt.annotation
            head = ann.value if isinstance(ann, ast.Subscript) else ann
            kind = _decorator_name(head)
            if kind == "ClassVar" or isinstance(ann, ast.Constant) and isinstance(ann.value, str) and "ClassVar" in ann.value:
                continue
            if kind in ("InitVar", "KW_ONLY"):
                return None  # passed to __post_init__ / a keyword-only marker: not modelled
            # A field declared again keeps its place and takes the new default.
            fields[stmt.target.id] = DataField(stmt.target.id, stmt.value, kw_only or kw, c.ref.summary.path)
    out = list(fields.values())
    info._data_fields = out
    return out



class _Held:
    """A strong reference with the interface of a weak one (``ref()``): the frame a
    returned nested function reads its free names in."""

    __slots__ = ("frame",)

    def __init__(self, frame: "Frame") -> None:
        self.frame = frame

    def __call__(self) -> "Frame":
        return self.frame


def _scalar_math() -> dict:
    import math

    table: dict = {}
    for n in ("log", "log2", "log10", "exp", "sqrt", "sin", "cos", "tan", "floor", "ceil", "log1p", "expm1"):
        table[f"math.{n}"] = getattr(math, n)
        table[f"numpy.{n}"] = lambda *a, _f=getattr(math, n): float(_f(*a))  # numpy gives a float64
    return table


_MODULE_CONSTANTS = {"numpy.newaxis": None, "math.pi": 3.141592653589793, "numpy.pi": 3.141592653589793,
                     "math.e": 2.718281828459045, "numpy.e": 2.718281828459045}
# Functions of numbers that give a number (the standard library's and numpy's on scalars).
_SCALAR_MATH = _scalar_math()


def _concrete(v: Any) -> bool:
    """A known Python value: a number, string, bool, None, a class (``nn.BatchNorm2d``,
    a class of the code, a partial of one), or a tuple of them."""
    if v is None or type(v) in (int, float, str, bool, ClassV, PartialV):
        return True
    if type(v) is BoundMethodV:
        return v.base is None and v.name is not None and T.is_torch_module_class(v.name)
    return type(v) is TupleV and all(_concrete(v2) for v2 in v.items)


def _tensor_annotation(ann: ast.expr | None) -> bool:
    """Whether an annotation names a tensor type (``torch.Tensor | None``,
    ``Optional[torch.LongTensor]``, ``"torch.FloatTensor"``)."""
    if ann is None:
        return False
    text = ann.value if isinstance(ann, ast.Constant) and isinstance(ann.value, str) else ast.unparse(ann)
    return re.search(r"\b(?:[A-Z][A-Za-z]*)?Tensor\b", text) is not None

MAX_DEPTH = 12
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Exactly the occurrences of `class Name(` (for each, the word after "class " is Name).
_CLASS_HEADER = re.compile(r"class (\w+)\(")
_GLOBAL_STMT = re.compile(r"^[ \t]*global[ \t]+([\w, \t]+)", re.M)
# Methods inherited from classes in other files (``PreTrainedModel.__init__``) are
# not interpreted: in real code they are framework plumbing (90% of the statements
# run on the transformers corpus), and what they set stays unknown, which is silent.
FOLLOW_OTHER_FILES = False
_NAME, _CONSTANT, _CALL, _ATTRIBUTE, _ASSIGN, _EXPR = ast.Name, ast.Constant, ast.Call, ast.Attribute, ast.Assign, ast.Expr
_NOT_FOUND = object()
_ELEMENTWISE_COMPARE = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_ADD = ast.Add()
_DEFAULTED = object()  # a parameter left to its default, in a unit that does not take defaults
# A class of another file is followed only if that file has at most this many lines
# (following parses it whole and runs its code; the biggest files are model zoos
# whose classes are rarely the chain being typed).
MAX_FOLLOWED_FILE_LINES = 800
# A function imported from another file is followed if it has at most this many lines
# (helpers: `_make_divisible`, `create_conv2d`), and is not decorated.
MAX_FOLLOWED_FUNCTION_LINES = 60
# Modules whose functions are never followed (the standard library, numpy, torch's own
# are modelled or unknown).
_NOT_FOLLOWED_MODULES = frozenset({"torch", "numpy", "math", "os", "sys", "re", "typing", "functools", "itertools",
                                   "collections", "copy", "warnings", "logging", "json", "builtins", "dataclasses",
                                   "abc", "enum", "inspect", "pathlib", "contextlib", "operator", "random", "time"})
# Module classes imported from other project files and constructed here are followed
# (see Interpreter._imported_class).
FOLLOW_IMPORTED = os.environ.get("TORCH_LSP_NO_FOLLOW") is None
MAX_STEPS = 30_000  # per analysis unit (see Interpreter._unit)

_LOSS_CLASSES = {
    "torch.nn.MSELoss": "mse_loss", "torch.nn.L1Loss": "l1_loss", "torch.nn.CrossEntropyLoss": "cross_entropy",
    "torch.nn.NLLLoss": "nll_loss", "torch.nn.BCELoss": "binary_cross_entropy",
    "torch.nn.BCEWithLogitsLoss": "binary_cross_entropy_with_logits", "torch.nn.SmoothL1Loss": "smooth_l1_loss",
    "torch.nn.HuberLoss": "huber_loss", "torch.nn.KLDivLoss": "kl_div",
}


@dataclass
class Frame:
    env: dict
    fn: ast.AST | None = None
    subst: dict = field(default_factory=dict)  # symbol -> concrete value, from a call site
    site: Origin | None = None
    flow: Any = None  # the Flow of the code running in this frame (made by the first block run)
    closure: "Frame | None" = None  # a nested function's enclosing frame (its names are read there)
    declared: dict | None = None  # name -> "global" | "nonlocal", from those statements


class Interpreter(Statements, PythonValues):
    max_steps = MAX_STEPS  # per analysis unit (see _unit)

    def __init__(self, ctx: Any, record: bool = True):
        self.ctx = ctx
        self.findings = _finding_builder()
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

    # ------------------------------------------------------------------ entry
    def run(self) -> None:
        tree = self.ctx.src.tree
        if tree is None or L is None or O is None:
            return
        try:
            self._run(tree)
        finally:
            _QUOTED.clear()  # the findings hold the nodes they quote

    def _run(self, tree: ast.Module) -> None:
        self.global_names = self._global_names(self.ctx.src.text)
        self._prepare_module_env(tree)
        relevant = self._relevant_functions(tree)
        self.constructed = self._constructed_classes(tree)
        frame = Frame(self.module_env)
        # 1. top-level code, 2. module functions, 3. each Module class on its own
        units: list[tuple[str, Any, Callable[[], Any]]] = [("top", None, lambda: self._top(tree.body, frame))]
        # (type: ignore[misc] below: mypy cannot infer the type of a lambda with a default)
        for stmt in tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name in relevant:
                units.append(("function", stmt, lambda stmt=stmt: self._function_unit(stmt)))  # type: ignore[misc]
        for info in self.model.module_classes():
            if info.ref.summary is not self.ctx.summary:
                continue
            units.append(("class", info, lambda info=info: self._class_unit(info)))  # type: ignore[misc]
        cache = getattr(self.ctx, "unit_cache", None)
        if cache is None:
            for _, _, work in units:
                self._unit(work)
            self._drop_superseded()
            return
        from torch_lsp.analysis.units import unit_keys

        keys = unit_keys(self, tree, units, cache)
        for (kind, _, work), key in zip(units, keys):
            result = cache.get(key)
            if result is None:
                result = self._isolated(work, kind == "top")
                cache.put(key, result)
            self._merge(result)
        cache.finish()
        self._drop_superseded()

    def _function_unit(self, fn: ast.FunctionDef) -> None:
        """A module function on its own. One that needs no argument and returns a model
        of this file (a builder: ``def resnet_small(): return ResNet(BasicBlock, [1, 1])``)
        runs that model's forward on unknown inputs too: its blocks are checked with the
        values the builder gives them."""
        out = self._run_function(fn, [], {}, Frame(dict(self.module_env)), generic=True)
        a = fn.args
        if type(out) is not InstanceV or len(a.posonlyargs + a.args) > len(a.defaults) or any(
                d is None for d in a.kw_defaults) or out.cls.ref.summary is not self.ctx.summary:
            return
        fwd = self._method_of(out.cls, "forward")
        if fwd is None:
            return
        params = (fwd.args.posonlyargs + fwd.args.args)[1:]
        required = params[:len(params) - len(fwd.args.defaults)]
        if not required and params and _tensor_annotation(params[0].annotation):
            # `forward(self, input_ids: torch.LongTensor | None = None, ...)`: called
            # as `model(x)`, its first input given and the rest left to their defaults.
            required = params[:1]
        prev = self.generic
        self.generic = True
        try:
            self._call_forward(out, [self._argument_tensor(p, fwd) for p in required], {}, None)
        finally:
            self.generic = prev

    def _top(self, body: list[ast.stmt], frame: Frame) -> None:
        self.flows.append(frame.flow or self.new_flow(frame))
        try:
            self._block(body, frame, top=True)
        finally:
            self.flows.pop()

    def shape_index(self) -> "ShapeIndex":
        """Every recorded expression shape of the file (units' records merged on first
        use: an edit whose hovers nobody asks for does not pay for it)."""
        if self._pending_indexes:
            pending, self._pending_indexes = self._pending_indexes, []
            for index in pending:
                self.index.merge(index)
        return self.index

    def _isolated(self, work: Callable[[], Any], top: bool) -> "UnitResult":
        """Run one unit with state of its own (what it finds, records, memoises), so
        that its result can be kept and reused while its source is unchanged. The
        findings of the units, merged in their order, are those of a run that
        shares the state (the memo tables only save work)."""
        saved = (self.reporter, self.index, self.layer_calls, self.summary_instances, self.site_classes)
        followed_before = len(self.followed_nodes)
        before = dict(self.module_env) if top else None
        self.reporter, self.index, self.layer_calls, self.summary_instances = Reporter(), ShapeIndex(), {}, {}
        self._forward_cache, self._instance_cache, self.site_classes = {}, {}, set()
        try:
            self._unit(work)
            env = None
            if before is not None:  # what top-level code bound, for the units after it
                env = {k: v for k, v in self.module_env.items() if k not in before or before[k] is not v}
            return UnitResult(list(self.reporter.findings.values()), self.index, self.layer_calls, self.summary_instances, env,
                              self.followed_nodes[followed_before:], self.site_classes)
        finally:
            self.reporter, self.index, self.layer_calls, self.summary_instances, self.site_classes = saved

    def _merge(self, result: "UnitResult") -> None:
        for f in result.findings:
            self.reporter.add(f)
        self.site_classes |= result.site_classes
        self._pending_indexes.append(result.index)
        for cls, runs in result.layer_calls.items():
            mine = self.layer_calls.setdefault(cls, {})
            for key, calls in runs.items():
                mine.setdefault(key, []).extend(calls)
        for cls, insts in result.summary_instances.items():
            mine_insts = self.summary_instances.setdefault(cls, {})
            for key, inst in insts.items():
                mine_insts.setdefault(key, inst)
        if result.env:
            self.module_env.update(result.env)
        for node in result.followed:
            if all(node is not n for n in self.followed_nodes):
                self.followed_nodes.append(node)

    def _relevant_functions(self, tree: ast.Module) -> set[str]:
        """Module-level functions worth analysing on their own: those whose text names
        torch (any local name imported from torch), a Module class of this file, or
        another such function. The rest (tokenizers, config helpers, numpy code) sees
        only unknown values; analysing them finds nothing and costs most of the time
        on real code."""
        funcs = [s for s in tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
        if not funcs:
            return set()
        seeds = {name for name, q in self.imports.names.items() if q == "torch" or q.startswith("torch.")}
        seeds |= {c.name for c in self.model.module_classes() if c.ref.summary is self.ctx.summary}
        lines = self.ctx.src.lines
        texts = {fn.name: "".join(lines[fn.lineno - 1:(fn.end_lineno or fn.lineno)]) for fn in funcs}
        words: dict[str, set[str]] = {}

        def names(fn: str, wanted: set[str]) -> bool:
            # A substring test first (cheap); the words only when a name occurs in the text.
            text = texts[fn]
            if not any(w in text for w in wanted):
                return False
            if fn not in words:
                words[fn] = set(_WORD.findall(text))
            return not words[fn].isdisjoint(wanted)

        relevant: set[str] = set()
        wanted = set(seeds)
        while wanted:
            new = {fn.name for fn in funcs if fn.name not in relevant and names(fn.name, wanted)}
            relevant |= new
            wanted = new
        return relevant

    def _unit(self, work: Callable[[], Any]) -> None:
        """One analysis (the top level, a function, a class) with its own step budget:
        past it the analysis stops where it is (what it found so far stands)."""
        self.steps = 0
        self.loop_depth = 0
        self.region = 0
        self.catching, self.raising, self.flows, self.dead, self._memo_runs = [], None, [], False, []
        try:
            work()
        except RecursionError:
            pass

    def _constructed_classes(self, tree: ast.Module) -> set[str]:
        """Names called somewhere in the file (``Net(...)``), from the text: a class
        nobody constructs is analysed with its defaults. A name in a comment or string
        only makes the analysis symbolic, which is never less safe."""
        names = {c.name for c in self.model.module_classes() if c.ref.summary is self.ctx.summary}
        if not names:
            return set()
        cache = getattr(self.ctx, "unit_cache", None)
        if cache is not None:  # the same counts, kept per top-level statement
            from torch_lsp.analysis.units import constructed_names

            return constructed_names(self.ctx.src, tree, names, cache)
        text = self.ctx.src.text
        # `Name(` written more often than `class Name(`: str.count is far cheaper than
        # a regex over every word of the file; the headers are counted in one pass.
        headers = Counter(_CLASS_HEADER.findall(text))
        return {n for n in names if text.count(n + "(") > headers[n]}

    def _global_names(self, text: str) -> set[str]:
        """Names some function of the file declares ``global``: any function may change
        them, so their module-level value is never taken as known."""
        out: set[str] = set()
        i = text.find("global ")
        while i >= 0:
            start = text.rfind("\n", 0, i) + 1
            if not text[start:i].strip():  # the statement starts the line
                m = _GLOBAL_STMT.match(text, start)
                if m is not None:
                    out |= {n.strip() for n in m.group(1).split(",") if n.strip()}
            i = text.find("global ", i + 7)
        return out

    def _prepare_module_env(self, tree: ast.Module) -> None:
        env = self.module_env
        classes = {c.name: c for c in self.model.classes() if c.ref.summary is self.ctx.summary}
        for name, info in classes.items():
            env[name] = ClassV(info)
        for stmt in tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                env[stmt.name] = FuncV(stmt)  # type: ignore[arg-type]

    def _class_unit(self, info: Any) -> None:
        """A class analysed on its own; what it finds is dropped when a call site of the
        file runs the class (see ``_drop_superseded``)."""
        self.unit_class = info.name
        try:
            self._analyse_class(info)
        finally:
            self.unit_class = None

    def _drop_superseded(self) -> None:
        """A class whose forward ran with a call site's input is known through that
        run: its analysis on its own (inputs unknown, sizes pinned by its first layers)
        adds only what the run shows is never reached (a branch the input does not take,
        a layer after one the input already fails)."""
        if not self.site_classes:
            return
        findings = self.reporter.findings
        for key in [k for k, f in findings.items() if getattr(f, "unit", None) in self.site_classes]:
            del findings[key]

    def _analyse_class(self, info: Any, own_file: bool = False) -> None:
        init = info.init
        if own_file:  # a class of another file, as its file's check analyses it
            text = info.ref.summary.source.text if info.ref.summary.source is not None else ""
            use_defaults = text.count(info.name + "(") <= text.count("class " + info.name + "(")
        else:
            use_defaults = info.name not in self.constructed
        args: dict[str, AV] = {}
        if init is not None:
            a = init.args
            params = a.posonlyargs + a.args
            defaults = [None] * (len(params) - len(a.defaults)) + list(a.defaults)
            for p, d in list(zip(params[1:], defaults[1:])) + list(zip(a.kwonlyargs, a.kw_defaults)):
                value = self.eval(d, self.module_frame()) if use_defaults and d is not None else None
                # a default of None stands for "not given" (see _default): a symbol, None to
                # `is None` and truth tests when the class is analysed with its defaults
                if value is None:
                    value = not_given(p.arg) if use_defaults and d is not None else sym(p.arg)
                args[p.arg] = value
        prev = self.generic
        self.generic = True
        args["**"] = UNKNOWN  # any construction: its extra keywords are not known
        try:
            inst = self.instantiate(info, [], args, None, Frame(self.module_env))
            fwd = info.method("forward")
            if fwd is not None and isinstance(inst, InstanceV):
                n = len(fwd.args.posonlyargs + fwd.args.args) - 1
                inputs = [self._argument_tensor(p, fwd) for p in (fwd.args.posonlyargs + fwd.args.args)[1:]]
                self._call_forward(inst, inputs[:n], {"**": UNKNOWN}, None)  # any call: its extra keywords are not known
        except RecursionError:
            pass
        finally:
            self.generic = prev

    def _argument_tensor(self, p: ast.arg, fn: ast.FunctionDef) -> AV:
        """A forward argument's starting value: from a jaxtyping annotation, else unknown."""
        shape = self._annotation_shape(p.annotation) if p.annotation is not None else None
        if shape is not None:
            return TensorV(shape, Origin("annotation", p.annotation, f"the annotation of `{p.arg}`"))
        return TensorV(None, Origin("argument", p, f"`{p.arg}`"))

    def _annotation_shape(self, ann: ast.AST) -> Shape | None:
        # jaxtyping: Float[Tensor, "batch 3 h w"]
        if isinstance(ann, ast.Subscript) and isinstance(ann.slice, ast.Tuple) and len(ann.slice.elts) == 2:
            spec = ann.slice.elts[1]
            if isinstance(spec, ast.Constant) and isinstance(spec.value, str):
                dims: list[int | Sym | _Unknown] = []
                prefix = False
                for tok in spec.value.split():
                    if tok in ("...", "*batch", "#*batch") or tok.startswith("*"):
                        if dims:
                            return None
                        prefix = True
                        continue
                    tok = tok.lstrip("#")
                    if tok.isdigit():
                        dims.append(int(tok))
                    elif tok.isidentifier() or (tok.startswith("_") and tok[1:].isidentifier()):
                        dims.append(sym(tok.lstrip("_")) if not tok.startswith("_") else UNKNOWN)
                    else:
                        dims.append(UNKNOWN)
                return Shape(tuple(dims), prefix)
        return None

    # ------------------------------------------------------------------ decisions
    def concrete(self, d: AV, frame: Frame) -> AV:
        """Substitute the call site's values for constructor symbols."""
        if isinstance(d, Sym) and frame.subst:
            out: AV = 0
            for mono, coeff in d.terms:
                term: AV = coeff
                for atom in mono:
                    if isinstance(atom, str) and atom in frame.subst:
                        term = term * frame.subst[atom]
                    elif isinstance(atom, str):
                        term = term * sym(atom)
                    elif isinstance(atom, FloorDiv):  # (H - 3) // 2: substitute inside
                        inner = self.concrete(atom.num, frame)
                        term = term * (inner // atom.den) if is_dim(inner) else UNKNOWN
                    else:
                        term = UNKNOWN
                out = out + term
            return out
        return d

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
        """A frame for evaluating an expression at module level (a default, a ``case`` value)."""
        return Frame(self.module_env)

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
            v = env[name] if name in env else (self.module_env.get(name, UNKNOWN) if frame.closure is None
                                               else self._lookup_outer(name, frame))
            if v is UNKNOWN and name[:1].isupper() and name not in env:
                v = self._imported_class_value(node)  # type: ignore[arg-type]
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

    def _eval(self, node: ast.AST, frame: Frame) -> AV:
        kind = type(node)  # the common cases first, by exact type (the hot path)
        if kind is ast.Name:
            env = frame.env
            name = node.id  # type: ignore[attr-defined]
            if name in env:
                return env[name]
            return self.module_env.get(name, UNKNOWN) if frame.closure is None else self._lookup_outer(name, frame)
        if kind is ast.Constant:
            return node.value  # type: ignore[attr-defined]
        if kind is ast.Attribute:
            return self._attribute(node, frame)  # type: ignore[arg-type]
        if kind is ast.Call:
            return self._call(node, frame)  # type: ignore[arg-type]
        if isinstance(node, ast.Tuple) or isinstance(node, ast.List):
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
        if isinstance(node, ast.Dict):
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
        if isinstance(node, ast.Attribute):
            return self._attribute(node, frame)
        if isinstance(node, ast.BinOp):
            return self._binop(node.op, self.eval(node.left, frame), self.eval(node.right, frame), node, frame)
        if isinstance(node, ast.UnaryOp):
            v = self.eval(node.operand, frame)
            if isinstance(node.op, ast.USub) and (is_dim(v) or isinstance(v, float)):
                return -v
            if isinstance(node.op, ast.Not):
                truth = _truthiness(v)
                return (not truth) if truth is not None else UNKNOWN
            if isinstance(v, TensorV):
                return TensorV(v.shape, v.origin)
            return UNKNOWN
        if isinstance(node, ast.Call):
            return self._call(node, frame)
        if isinstance(node, ast.Subscript):
            return self._subscript(node, frame)
        if isinstance(node, ast.IfExp):
            t = self._truth(node.test, frame)
            if t is True:
                return self.eval(node.body, frame)
            if t is False:
                return self.eval(node.orelse, frame)
            return join_values(self._undecided(node.body, frame), self._undecided(node.orelse, frame))
        if isinstance(node, ast.Compare):
            left = self.eval(node.left, frame)
            if type(left) is TensorV and len(node.ops) == 1 and isinstance(node.ops[0], _ELEMENTWISE_COMPARE):
                # `x > 0`, `a == b`: an elementwise comparison, broadcast as `x + 0` is
                return self._binop(_ADD, left, self.eval(node.comparators[0], frame), node, frame)
            return self.compare(node, frame, left)
        if isinstance(node, ast.BoolOp):
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
        if isinstance(node, ast.NamedExpr):
            v = self.eval(node.value, frame)
            self._assign(node.target, v, frame)
            return v
        if isinstance(node, ast.Starred):
            return self.eval(node.value, frame)
        if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
            return self._comprehension(node, frame)
        if isinstance(node, ast.Lambda):
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
        if type(base) is BoundMethodV and base.base is None and base.name and not base.name.startswith("<"):
            # a module imported inside the function (`F.relu`, `np.pi`): what the
            # module-level import would give
            q = T.canonical(f"{base.name}.{attr}")
            if q in _MODULE_CONSTANTS:
                return _MODULE_CONSTANTS[q]
            # (canonical of a str is a str: its signature, in torch_api.py, says str | None)
            return BoundMethodV(None, q)  # type: ignore[arg-type]
        if isinstance(base, InstanceV):
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
        if isinstance(base, TensorV):
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
        if isinstance(base, LayerV):
            found = _layer_attribute(base, attr, node, base.label)
            return found if found is not _NOT_FOUND else BoundMethodV(base, attr)
        if isinstance(base, ClassV):
            return self._class_attribute(base.info, attr)
        if isinstance(base, (SeqV, InstanceV)):
            return BoundMethodV(base, attr)
        if isinstance(base, LossV):
            return BoundMethodV(base, attr)
        if isinstance(base, TupleV) and attr in _LIST_MUTATORS or type(base) is _DictV:
            return BoundMethodV(base, attr)
        if type(base) is Sym and self.generic and not attr.startswith("_"):
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

    def _report(self, finding: Any) -> None:
        exc = getattr(finding, "exc", "RuntimeError")
        for run in self._memo_runs:  # the runs under way surely raise (if this one is certain in them)
            if run.raised is False and all(f.certain for f in self.flows[run.flows:]) \
                    and not any(may_catch(hs, exc) for hs in self.catching[run.catching:]):
                run.raised = exc
        if self._arm_stack:
            arms = self._arm_stack[-1]
            flow = arms["flow"]
            if (self.flows and self.flows[-1] is flow and flow.doubt == arms["doubt"] + 1 and not flow.scarred
                    and not any(fr.scarred for fr in flow._frames) and all(f.certain for f in self.flows[:-1])
                    and not any(may_catch(hs, exc) for hs in self.catching) and not arms["found"][arms["arm"]]):
                arms["found"][arms["arm"]].append((finding, exc))  # this arm surely raises, if it runs
        outcome = self._raised_here(exc)
        if outcome == "caught":
            self.caught += 1
        elif outcome == "conditional":
            self.conditional += 1
        elif not self.local:
            self._suppressed += 1
        if outcome == "cascade":
            self.cascade += 1
        if outcome != "new":
            self._left_out(outcome, exc)
        elif self.local:  # not from the code of a followed class of another file
            finding.unit = self.unit_class
            self.reporter.add(finding)
        else:
            self._foreign_finding(finding)

    def _arms_begin(self, frame: Frame) -> Any:
        """An `if`/`else` on a condition not known is entered: its arms' errors are
        collected (see ``_report``) when the statement itself surely runs."""
        flow = frame.flow
        if flow is None or self.dead or not all(f.certain for f in self.flows) or not self.flows or self.flows[-1] is not flow:
            return None
        arms = {"flow": flow, "doubt": flow.doubt, "scarred": flow.scarred, "found": [[], []], "arm": 0, "scars": []}
        self._arm_stack.append(arms)
        return arms

    def _arm(self, arms: Any, i: int) -> None:
        """Arm ``i`` starts: the scar an earlier arm left (its own `return` or error
        ending some paths) is not this arm's; each arm's is kept for the join."""
        if arms is not None:
            flow = arms["flow"]
            if i:
                arms["scars"].append(flow.scarred)
            flow.scarred = arms["scarred"]
            arms["arm"] = i

    def _arms_end(self, arms: Any, frame: Frame) -> None:
        """Both arms surely raised (each at its own level, nothing else undecided): the
        statement raises whichever runs. The first arm's error is reported, as an error
        any run meets (``if SDPA_AVAILABLE: sdpa(q, k, v) else: q @ k.T`` with q and k
        that neither takes)."""
        if arms is None:
            return
        self._arm_stack.pop()
        flow = arms["flow"]
        arms["scars"].append(flow.scarred)
        flow.scarred = arms["scarred"] or any(arms["scars"])  # paths some arm ended: the rest runs on the others
        if not all(arms["found"]) or self.dead:
            return
        finding, exc = arms["found"][0][0]
        flow.scarred = arms["scarred"]  # every path raised: no path went on with a scar
        self._raised_here(exc)  # the unit's run stops here (dead), as for any certain error
        if self.local:
            finding.unit = self.unit_class
            self.reporter.add(finding)
        else:
            self._foreign_finding(finding)

    def _raised_here(self, exc: str | None) -> str:
        """An error (of class ``exc``; None: a shape error of some class) is raised
        here, if a run gets here. What follows for the analysis, and whether it is
        reported: "caught" (a handler catches it; on a path every run takes, the path
        ends up to that ``try``), "conditional" (a run may not get here: the branches it
        is in end here, what follows them runs only on the others), "cascade" (the
        unit's run already stopped at an earlier error), "new" (the first error surely
        raised: the unit's run stops here)."""
        certain = all(f.certain for f in self.flows)
        if any(may_catch(hs, exc) for hs in self.catching):
            if certain:
                self.raising = exc or "RuntimeError"
            return "caught"
        if not certain:
            for f in self.flows:
                if f.doubt:
                    f.scarred = True
            return "conditional"
        if self.dead:
            return "cascade"
        self.dead = True
        return "new"

    def _foreign_finding(self, f: Any) -> None:
        """A problem found while running code of another file this file follows. If
        that code, analysed on its own (as its file's check does), has it too, it is
        reported there. Otherwise it comes from what this file passes (sizes,
        inputs): it is reported here, at the outermost place this file entered that
        code, with where it fails in the other file as related information."""
        if self._collecting is not None:
            self._collecting.append(f)
            return
        if not self.entries:
            return
        entry, target = self.entries[0]
        if (f.code, id(f.node)) in self._generic_findings(target):
            return
        local = self.findings.foreign_finding(self, f, entry, target)
        if local is not None:
            self.reporter.add(local)

    def _generic_findings(self, target: Any) -> set:
        """(code, id(node)) of the problems a followed class or function of another
        file has on its own: constructor parameters as symbols (or their defaults when
        its file never builds it), forward's inputs unknown."""
        key = id(target)
        hit = self._generic_keys.get(key)
        if hit is not None:
            return hit
        self._generic_keys[key] = set()  # while it runs (recursion)
        saved = (self.reporter, self.index, self.layer_calls, self.summary_instances, self._forward_cache,
                 self._instance_cache, self.instance_stack, self.chain, self.entries, self.generic, self.depth,
                 self.steps, self.catching, self.active, self.flows, self.raising, self.dead, self._memo_runs)
        self.reporter, self.index, self.layer_calls, self.summary_instances = Reporter(), ShapeIndex(), {}, {}
        self._forward_cache, self._instance_cache, self.instance_stack, self.chain, self.entries = {}, {}, [], [], []
        self.catching, self.depth, self.active, self.steps, self.flows, self.raising = [], 0, set(), 0, [], None
        self.dead, self._memo_runs = False, []
        found: list[Finding]
        self._collecting = found = []
        try:
            if isinstance(target, FuncV):
                self._run_function(target.node, [], {}, self.module_frame(), generic=True)
            else:
                self._analyse_class(target, own_file=True)
        except RecursionError:
            pass
        finally:
            (self.reporter, self.index, self.layer_calls, self.summary_instances, self._forward_cache,
             self._instance_cache, self.instance_stack, self.chain, self.entries, self.generic, self.depth,
             self.steps, self.catching, self.active, self.flows, self.raising, self.dead, self._memo_runs) = saved
            self._collecting = None
        keys = self._generic_keys[key] = {(x.code, id(x.node)) for x in found}
        return keys

    def _method_of(self, info: Any, name: str) -> ast.FunctionDef | None:
        fn = info.method(name)
        if fn is not None:
            if info.ref.summary is not self.ctx.summary:
                whole = self._whole_method(info, name, fn) if FOLLOW_IMPORTED else None
                if whole is not None:
                    return whole
                self._note_file_of(fn, info.ref.summary)
            return fn
        for base in info.user_bases:
            base_info = self.model.info(base)
            fn = self._method_of(base_info, name)
            if fn is not None:
                return fn
        return None

    def _whole_method(self, info: Any, name: str, fn: ast.FunctionDef) -> ast.FunctionDef | None:
        """The constructor inherited from a container Module class (``nn.Sequential``...)
        of another small file (torchvision's ``MLP`` under ``MLPBlock``), read from a
        whole parse of that file and run on its names as a followed class's are; None
        otherwise (a large file's framework plumbing such as transformers'
        ``PreTrainedModel`` is not run)."""
        summary = info.ref.summary
        if summary.path is None or summary.path in self._followed_paths and id(fn) in self.imported:
            return None
        if not info.is_module or summary.source is None or len(summary.source.lines) > MAX_FOLLOWED_FILE_LINES:
            return None
        if name != "__init__" or not info.torch_bases & {"torch.nn.Sequential", "torch.nn.ModuleList", "torch.nn.ModuleDict"}:
            # Only the constructor of a container base: it decides the items, without which
            # the container is unknown. Running every inherited method of every small file
            # cost a fifth of the batch time (transformers' modular files) for no finding.
            return None
        full = self.ctx.project.full_summary(summary.path)
        node = full.classes.get(info.node.name) if full is not None else None
        if node is None or node.lineno != info.node.lineno or full is summary:
            return None
        from torch_lsp.analysis.project import ClassRef

        whole = self.model.info(ClassRef(full, node)).method(name)
        if whole is None or whole.lineno != fn.lineno:
            return None
        self._follow_file(full)
        self.imported[id(whole)] = full.source
        return whole

    def _note_file_of(self, fn: ast.AST, summary: Any) -> None:
        """Remember which file a method of another file comes from (followed, or
        inherited and not run)."""
        if summary is self.ctx.summary or id(fn) in self.foreign or id(fn) in self.imported:
            return
        if summary.path in self._followed_paths and summary.source is not None:
            self.imported[id(fn)] = summary.source
        else:
            self.foreign[id(fn)] = summary.source

    def _near_summary(self) -> Any:
        """The summary of the file whose code is running: names are resolved from it."""
        if self.local:
            return self.ctx.summary
        return self._followed_summaries.get(getattr(self.src, "path", None), self.ctx.summary)

    def _follow_file(self, full: Any) -> None:
        """A whole parse of another file whose code runs here (its names, its source)."""
        self._followed_paths.add(full.path)
        self._followed_summaries[full.path] = full

    def _imported_class_value(self, node: ast.Name) -> AV:
        """An imported class used as a value (``mlp_layer: Type[nn.Module] = Mlp``, then
        ``mlp_layer(dim, hidden)``): the class of another file, as a call of it would
        follow it; unknown otherwise."""
        name = node.id
        key = (id(self.imports), name)  # the running file's names: a followed file has its own
        hit = self._class_values.get(key, _NOT_FOUND)
        if hit is not _NOT_FOUND:
            return hit
        out: AV = UNKNOWN
        if FOLLOW_IMPORTED and name in self.imports.names and name not in self.module_env:
            q = self._qualify(node)
            if q is not None and not q.startswith("torch."):
                info = self._imported_class(q)
                if info is not None:
                    out = ClassV(info)
        self._class_values[key] = out
        return out

    def _imported_class(self, qualified: str) -> Any:
        """The ClassInfo of a Module class of another project file named ``qualified``
        (from a whole parse of that file), or None."""
        if not qualified.rpartition(".")[2][:1].isupper():
            return None  # classes are CapWords; a call of anything else is not followed
        near = self._near_summary()
        project = self.ctx.project
        memo = (qualified, near.import_root, project.project_root(near.path) if near.path else None)
        if memo in self._imported_classes:
            return self._imported_classes[memo]
        shared = project.followed_classes.get(memo, _NOT_FOUND)
        if shared is not _NOT_FOUND:  # looked up before, from another file
            self._imported_classes[memo] = shared
            if shared is not None:
                full = shared.ref.summary
                if full.path not in self._followed_paths:
                    self._follow_file(full)
                self.followed_nodes.append(shared.ref.node)
            return shared
        self._imported_classes[memo] = None
        project.followed_classes[memo] = None
        try:
            ref = project.resolve_qualified(qualified, near)
        except (RecursionError, OSError, ValueError):
            ref = None
        if ref is None or isinstance(ref, str) or ref.summary.path is None or ref.summary is self.ctx.summary:
            return None
        try:
            outline_info = self.model.info(ref)
            data = not outline_info.is_module and _data_class_fields(self.model, outline_info) is not None
            if not outline_info.is_module and not data:
                return None  # decided on the outline: no whole parse
        except RecursionError:
            return None
        outline = ref.summary.source
        if outline is None or len(outline.lines) > MAX_FOLLOWED_FILE_LINES:
            if data:
                # a data class of a large file (transformers' model outputs): its fields
                # and defaults are in the outline; its methods are not run
                self._imported_classes[memo] = outline_info
                project.followed_classes[memo] = outline_info
                return outline_info
            return None  # following parses the whole file: not for the largest ones
        full = project.full_summary(ref.summary.path)
        node = full.classes.get(ref.node.name) if full is not None else None
        if node is None or node.lineno != ref.node.lineno:
            return None
        from torch_lsp.analysis.project import ClassRef

        info = self.model.info(ClassRef(full, node))
        if not info.is_module and _data_class_fields(self.model, info) is None:
            return None
        self._follow_file(full)
        self.followed_nodes.append(node)
        self._imported_classes[memo] = info
        project.followed_classes[memo] = info
        return info

    def _imported_function(self, qualified: str, depth: int = 0) -> "FuncV | None":
        """A function of another project file or of an installed package named
        ``qualified`` (``_make_divisible`` of torchvision), run with the caller's
        values on its own file's names (what it finds there belongs to that file).
        Only functions of files of at most MAX_FOLLOWED_FILE_LINES lines, of at most
        MAX_FOLLOWED_FUNCTION_LINES lines each."""
        module, _, name = qualified.rpartition(".")
        if not module or module.split(".")[0] in _NOT_FOLLOWED_MODULES or depth > 4:
            return None
        near = self._near_summary()
        memo = (qualified, near.import_root)
        hit = self._imported_functions.get(memo, _NOT_FOUND)
        if hit is not _NOT_FOUND:
            return hit
        self._imported_functions[memo] = None
        project = self.ctx.project
        try:
            path = project.find_module(module, near)
            outline = project.summary(path) if path else None
        except (RecursionError, OSError, ValueError):
            return None
        if outline is None or outline is self.ctx.summary or outline.source is None:
            return None
        if name not in outline.functions:
            alias = outline.aliases.get(name)  # `to_ntuple = _ntuple`
            if isinstance(alias, ast.Name) and alias.id in outline.functions and alias.id != name:
                found = self._imported_function(f"{module}.{alias.id}", depth + 1)
                self._imported_functions[memo] = found
                return found
            if (isinstance(alias, ast.Call) and isinstance(alias.func, ast.Name) and alias.func.id in outline.functions
                    and alias.func.id != name):
                # `to_2tuple = _ntuple(2)`: the function the factory returns (a nested def
                # keeping its closure), made once with those literal arguments
                factory = self._imported_function(f"{module}.{alias.func.id}", depth + 1)
                found = None
                if factory is not None:
                    made = self.call(factory, [a.value for a in alias.args],  # type: ignore[attr-defined]
                                     {k.arg: k.value.value for k in alias.keywords}, alias,  # type: ignore[attr-defined]
                                     Frame(dict(self.module_env)))
                    found = made if type(made) is FuncV else None
                self._imported_functions[memo] = found
                return found
            target = outline.imports.names.get(name)  # a re-export: `from ._utils import _make_divisible`
            found = self._imported_function(target, depth + 1) if target else None
            self._imported_functions[memo] = found
            return found
        if len(outline.source.lines) > MAX_FOLLOWED_FILE_LINES:
            return None
        full = project.full_summary(path)
        tree = full.source.tree if full is not None and full.source is not None else None
        fn = next((s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == name), None) if tree else None
        if fn is None or (fn.end_lineno or fn.lineno) - fn.lineno > MAX_FOLLOWED_FUNCTION_LINES or fn.decorator_list:
            return None
        self._follow_file(full)
        self.imported[id(fn)] = full.source
        out = self._imported_functions[memo] = FuncV(fn)
        return out

    def followed_files(self) -> list[tuple[ast.AST, str]]:
        """Each followed class of another file (its ClassDef) with its file's path."""
        paths = {id(i.ref.node): i.ref.summary.path for i in self.ctx.project.followed_classes.values() if i is not None}
        return [(n, paths.get(id(n)) or "another file") for n in self.followed_nodes]

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

    def _name_dims(self, t: TensorV, target: ast.Tuple | ast.List, frame: Frame) -> AV:
        """``b, t, c = x.shape`` on a tensor of unknown rank: the rank is now known and
        each dimension gets the name it is unpacked into (a symbol), unless a known
        suffix already gives it."""
        n = len(target.elts)
        if any(isinstance(e, ast.Starred) for e in target.elts):
            return UNKNOWN
        known = t.shape.dims if t.shape is not None else ()
        if len(known) > n:
            return UNKNOWN
        taken = set(frame.subst) | {p.arg for p in _params_of(frame.fn)}
        for inst in self.instance_stack:
            taken |= {p.arg for p in _params_of(inst.cls.init)}
        dims = []
        for i, e in enumerate(target.elts):
            j = i - (n - len(known))
            if j >= 0 and not (known[j] is UNKNOWN and isinstance(e, ast.Name) and e.id != "_"):
                dims.append(known[j])  # (an unknown one gets the name it is unpacked into, below)
            elif isinstance(e, ast.Name) and e.id != "_":
                name = e.id if e.id not in taken else f"{e.id}_"
                dims.append(sym(name))
            else:
                dims.append(UNKNOWN)
        t.shape = Shape(tuple(dims))
        return TupleV(tuple(dims))

    def _named_sizes(self, t: TensorV, expr: ast.AST) -> TupleV:
        """``x.shape[:-1]`` of a tensor of known rank with sizes not known: each unknown
        size becomes a symbol of its own (``x.shape[1]``), in ``x`` too, so that the same
        size read twice is the same (``x.view(*x.shape[:-1], h, -1)`` divides exactly).
        A name already given to another tensor's size gets a mark."""
        if t.shape is None or t.shape.prefix:
            return TupleV(tuple(t.shape.dims) if t.shape is not None else ())
        label = self._size_label(expr)
        dims = tuple(self._size_symbol(f"{label}.shape[{i}]", t) if d is UNKNOWN else d for i, d in enumerate(t.shape.dims))
        t.shape = Shape(dims)
        return TupleV(dims)

    def _size_label(self, expr: ast.AST) -> str:
        if isinstance(expr, ast.Attribute) and expr.attr == "shape":
            expr = expr.value
        label = self.seg(expr) if isinstance(expr, (ast.Name, ast.Attribute)) else "x"
        return label if len(label) < 40 else "x"

    def _size_symbol(self, name: str, t: TensorV) -> Sym:
        """A symbol for a size of ``t`` not known, named after where it was read
        (``x.shape[1]``); a name already given to another tensor's size gets a mark."""
        base, k = name, 0
        while True:
            owner = self._size_names.get(name)
            if owner is None:  # (a name is never given twice: shapes made from its tensor outlive it)
                self._size_names[name] = weakref.ref(t)
                return sym(name)
            if owner() is t:
                return sym(name)
            k += 1
            name = base + chr(39) * k

    def _leading_sizes(self, t: TensorV, k: int, expr: ast.AST) -> AV:
        """``x.shape[:-k]`` of a tensor of unknown rank: the sizes before its last ``k``,
        as a ``StarSizesV`` whose leading part is a symbol kept in ``x``'s shape too
        (``Shape.lead``), so that ``x.view(*x.shape[:-1], -1, d)`` (or the same view of a
        ``Linear`` of x) divides what is known of the rest exactly. Of an unknown shape,
        the symbol is kept in the tensor (``TensorV.lead``) for the layer that pins it."""
        s = t.shape
        label = self._size_label(expr)
        if s is None:
            if k != 1:
                return UNKNOWN
            if t.lead is None:  # (the shape stays unknown: a layer that takes x still pins it)
                t.lead = self._size_symbol(f"{label}.shape[:-1]", t)
            return StarSizesV(t.lead, ())
        if not s.prefix or len(s.dims) < k:
            return UNKNOWN
        n = len(s.dims)
        dims = tuple(self._size_symbol(f"{label}.shape[{i - n}]", t) if d is UNKNOWN and i < n - k else d
                     for i, d in enumerate(s.dims))
        lead = s.lead if s.lead is not None else self._size_symbol(f"{label}.shape[:-{n}]", t)
        t.shape = Shape(dims, True, lead)
        return StarSizesV(lead, dims[:n - k])

    def _shape_tuple(self, t: TensorV) -> AV:
        if t.shape is None or t.shape.prefix:
            return _ShapeOf(t)
        return TupleV(tuple(t.shape.dims), shape_of=t if any(d is UNKNOWN for d in t.shape.dims) else None)

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

    # ------------------------------------------------------------------ calls
    def _call(self, node: ast.Call, frame: Frame) -> AV:
        f = node.func
        if (type(f) is ast.Attribute and type(f.value) is ast.Call and type(f.value.func) is ast.Name
                and f.value.func.id == "super" and "super" not in frame.env and "super" not in self.module_env):
            return self._super_call(node, f.attr, frame)
        root = node.func
        while type(root) is ast.Attribute:
            root = root.value  # type: ignore[attr-defined]
        # A name no code binds is an import: `Block(...)`, `layers.Block(...)`, `torch.zeros(...)`.
        imported = isinstance(root, ast.Name) and root.id not in frame.env and root.id not in self.module_env and (
            frame.closure is None or self._lookup_outer(root.id, frame) is UNKNOWN)
        func = None
        if not imported or isinstance(node.func, ast.Attribute) and not self._qualify(node.func):
            func = self.eval(node.func, frame)
        elif isinstance(node.func, ast.Attribute) and not (self._qualify(node.func) or "").startswith("torch."):
            func = None  # a class or function of another module of the project: qualified below
        elif isinstance(node.func, ast.Attribute):
            func = self.eval(node.func, frame)
        builtin = None
        if func is None:
            q = self._qualify(node.func)
            func = BoundMethodV(None, q) if q is not None else UNKNOWN
            if q is None and isinstance(node.func, ast.Name) and node.func.id in BUILTIN_CALLS:
                builtin = node.func.id
            elif q is None and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "setattr", "dict") \
                    and node.func.id not in self.module_env and node.func.id not in frame.env:
                builtin = node.func.id
        args, kwargs = self._call_arguments(node, frame)
        if builtin == "getattr":
            return self._getattr(args, kwargs)
        if builtin == "setattr":
            return self._setattr(args, kwargs, frame)
        if builtin == "dict":
            # `dict(reduce_first=1, **kwargs)`: keywords known (a `**` splat of a known dict
            # spread out already); `dict(d)` of such a dict: a copy
            if "**" in kwargs or "*" in kwargs or len(args) > 1 or (args and type(args[0]) is not _DictV):
                return UNKNOWN
            return _DictV({**(args[0].items if args else {}), **kwargs})
        if builtin is not None:
            return self.builtin(builtin, args, kwargs, node, frame)
        return self.call(func, args, kwargs, node, frame)

    @staticmethod
    def _getattr(args: list, kwargs: dict) -> AV:
        """``getattr(obj, "name"[, default])``: an attribute an instance of the code
        holds (``getattr(config, "head_dim", ...)`` of a configuration built here); else
        unknown (the attribute may be set where the engine does not see)."""
        if kwargs or len(args) not in (2, 3) or not isinstance(args[1], str) or type(args[0]) is not InstanceV:
            return UNKNOWN
        return args[0].attrs.get(args[1], UNKNOWN)

    def _setattr(self, args: list, kwargs: dict, frame: Frame) -> AV:
        """``setattr(self, name, module)`` (torchvision's ShuffleNet stages, named in a
        loop): an attribute set as ``self.<name> = module`` would; under a name not known,
        any attribute may have changed."""
        if not args or type(args[0]) is not InstanceV:
            return None
        inst = args[0]
        if kwargs or len(args) != 3 or not isinstance(args[1], str):
            _forget_attributes(inst)
            return None
        _store_attr(inst, args[1], args[2], True)
        return None

    def _super_call(self, node: ast.Call, name: str, frame: Frame) -> AV:
        """``super().__init__(...)`` / ``super().forward(x)`` in a method of a Module
        class: the next class's method, a user class's (run with the same instance) or
        the torch layer the class extends (``class ConvNextLayerNorm(nn.LayerNorm)``,
        whose ``super().forward(x)`` is LayerNorm's)."""
        args, kwargs = self._call_arguments(node, frame)
        fn = frame.fn
        params = _params_of(fn)
        inst = frame.env.get(params[0].arg) if params else None
        if not isinstance(inst, InstanceV) or not isinstance(fn, ast.FunctionDef):
            return UNKNOWN
        owner = self._owner_of(inst.cls, fn)
        if (name == "__init__" and owner is not None and not owner.user_bases
                and "torch.nn.Sequential" in owner.torch_bases and "**" not in kwargs and not kwargs.keys() - {"*"}):
            # `class ConvNormAct(nn.Sequential)`: `super().__init__(*layers)` makes the
            # layers its first items (unknown when the layers are)
            built = UNKNOWN if "*" in kwargs else self._construct_layer("torch.nn.Sequential", args, {}, node, frame)
            set_attr(inst, _SEQUENTIAL, built if isinstance(built, SeqV) else UNKNOWN)
            return None
        if (name == "__init__" and owner is not None and not owner.user_bases and not args and not kwargs
                and owner.torch_bases & {"torch.nn.ModuleDict", "torch.nn.ModuleList"}):
            # `class DenseBlock(nn.ModuleDict)` with `super().__init__()`: no items yet; its
            # modules are what `__init__` registers, in order (`self.add_module(...)`)
            set_attr(inst, _SEQUENTIAL, SeqV("sequential", [], node))
            return None
        if owner is None or "*" in kwargs:
            return UNKNOWN
        for base in owner.user_bases:
            nxt = self._method_of(self.model.info(base), name)
            if nxt is not None:
                return self.call(FuncV(nxt, inst), args, kwargs, node, frame)
        if owner.user_bases:
            return UNKNOWN  # a base whose method is not seen
        layers = [b for b in owner.torch_bases if b in L.SUPPORTED]
        if len(layers) != 1:
            return UNKNOWN
        if name == "__init__":
            built = self._construct_layer(layers[0], args, kwargs, node, frame)
            if isinstance(built, LayerV):
                built.label = built.label or inst.label
                set_attr(inst, _TORCH_LAYER, built)
            return None
        layer = inst.attrs.get(_TORCH_LAYER)
        if name == "forward" and isinstance(layer, LayerV):
            return self._call_layer(_as_instance(layer, inst), args, kwargs, node, frame)
        return UNKNOWN

    def _owner_of(self, info: Any, fn: ast.FunctionDef, depth: int = 0) -> Any:
        """The class among ``info`` and its project bases whose body defines ``fn`` (for a
        method of another file read from its whole parse, the class whose outline has it
        at the same line)."""
        if fn in info.node.body or (id(fn) in self.imported and any(
                isinstance(b, ast.FunctionDef) and b.lineno == fn.lineno and b.name == fn.name for b in info.node.body)):
            return info
        if depth > 20:
            return None
        for base in info.user_bases:
            hit = self._owner_of(self.model.info(base), fn, depth + 1)
            if hit is not None:
                return hit
        return None

    def _call_arguments(self, node: ast.Call, frame: Frame) -> tuple[list, dict]:
        """A call's arguments: ``*xs`` of a known sequence spread out, else ``kwargs["*"]``
        (how many is not known); ``**dd`` of a dict with known keys spread out, else
        ``kwargs["**"]``."""
        args: list = []
        star = False
        lead = None
        for a in node.args:
            if isinstance(a, ast.Starred):
                inner = self.eval(a.value, frame)
                if type(inner) is StarSizesV and not args and lead is None and not star:
                    lead = inner.lead  # `x.view(*x.shape[:-1], -1, d)`: one sizes argument
                    args.extend(inner.items)
                elif isinstance(inner, TupleV):
                    args.extend(inner.items)
                elif isinstance(inner, SeqV) and inner.kind != "dict":
                    args.extend(inner.items)
                else:
                    star = True
            else:
                args.append(self.eval(a, frame))
        kwargs: dict = {}
        for k in node.keywords:
            v = self.eval(k.value, frame)
            if k.arg is None:
                known = _known_keywords(v)
                if known is None:
                    kwargs["**"] = UNKNOWN
                else:  # `**dd` with dd = {"device": device, "dtype": dtype}: these keywords only
                    kwargs.update(known)
            else:
                kwargs[k.arg] = v
        if lead is not None:
            # one value for the sizes (only views read it); to any other callee the
            # number of arguments is not known
            args = [StarSizesV(lead, tuple(args))]
            star = True
        if star:
            kwargs["*"] = UNKNOWN
        return args, kwargs

    @staticmethod
    def _ordered_dict(args: list, kwargs: dict) -> AV:
        """``OrderedDict([("fc1", layer), ...])`` (for ``nn.Sequential(OrderedDict(...))``),
        ``OrderedDict()`` filled by ``d["fc1"] = layer``."""
        if not args and not kwargs:
            return _OrderedDictV([])
        if len(args) != 1 or kwargs:
            return UNKNOWN
        pairs = args[0].items if isinstance(args[0], (TupleV, SeqV)) and args[0].items is not None else None
        if pairs is None or not all(isinstance(p, TupleV) and len(p.items) == 2 and isinstance(p.items[0], str) for p in pairs):
            return UNKNOWN
        return _OrderedDictV([(p.items[0], p.items[1]) for p in pairs])

    def call(self, func: AV, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> AV:
        if type(func) is PartialV:  # `norm_layer = partial(nn.BatchNorm2d, eps=1e-3)`, then `norm_layer(c)`
            return self.call(func.func, list(func.args) + list(args), {**func.kwargs, **kwargs}, node, frame)
        if (args or kwargs) and (has_failed(args) or has_failed(kwargs.values())) or (
                type(func) is BoundMethodV and type(func.base) is TensorV and func.base.failed):
            # A run never gets here (an argument's operation raised), unless that failure
            # was on some paths only: what the call would change in place (a list it
            # appends to, or is handed) is not known then.
            for v in ([func.base] if type(func) is BoundMethodV else []) + list(args) + list(kwargs.values()):
                if type(v) is TupleV and v.region is not None:
                    self._forget(v, frame)
            return failed_tensor()
        if isinstance(func, ClassV):
            if "*" in kwargs:
                return UNKNOWN
            site = Origin("call site", node, self.seg(node) if len(self.seg(node)) < 60 else f"{func.info.name}(...)")
            init = self._method_of(func.info, "__init__") if self.depth > 0 else None
            if init is None:
                return self.instantiate(func.info, args, kwargs, node, frame, site)
            key = _call_key(args, kwargs)
            if key is not None:
                key = (id(func.info), key, tuple(sorted(frame.subst.items())), self.generic)
                hit = self._instance_cache.get(key)
                if hit is not None:
                    self._replay(hit[1])
                    return hit[0]
            self.chain.append(CallEntry(init, node, 1))
            run = self._memo_begin()
            try:
                inst = self.instantiate(func.info, args, kwargs, node, frame, site)
            finally:
                self.chain.pop()
                self._memo_end(run)
            if key is not None and not run.unsafe:
                self._instance_cache[key] = (inst, run.raised)
            return inst
        if isinstance(func, (LayerV, SeqV, InstanceV, UnionV)):
            return self.call_module(func, args, kwargs, node, frame)
        if isinstance(func, FuncV):
            self_args = [func.self_value] if func.self_value is not None else []
            self.chain.append(CallEntry(func.node, node, len(self_args)))
            try:
                closure = func.closure() if func.closure is not None else None
                entering = self.local and id(func.node) in self.imported
                if entering:
                    self.entries.append((node, func))
                try:
                    return self._run_function(func.node, self_args + args, kwargs, frame, closure=closure)
                finally:
                    if entering:
                        self.entries.pop()
            finally:
                self.chain.pop()
        if isinstance(func, LossV):
            return self._loss(func.name, func.reduction, args, kwargs, node)
        if isinstance(func, BoundMethodV):
            if ("*" in kwargs and (func.base is None or isinstance(func.base, TensorV))
                    and not (len(args) == 1 and type(args[0]) is StarSizesV and isinstance(func.base, TensorV)
                             and func.name in _STAR_SIZES_METHODS)):
                # `x.view(b, *rest)`: arguments not known, nor how many.
                if func.base is None and func.name is not None and (T.is_torch_module_class(func.name) or func.name in T.MODULE_CONTAINERS):
                    return UNKNOWN
                return TensorV(None) if func.name is None or func.name.startswith("torch.") or isinstance(func.base, TensorV) else UNKNOWN
            if func.base is None:
                name = func.name
                if name == "collections.OrderedDict":
                    return self._ordered_dict(args, kwargs)
                if name in _SCALAR_MATH and args and not kwargs and all(type(a) in (int, float) for a in args):
                    # `np.log(10000) / (channels // 2 - 1)`: numbers in, a number out
                    try:
                        out = _SCALAR_MATH[name](*args)
                    except (ValueError, TypeError, OverflowError, ZeroDivisionError):
                        return UNKNOWN
                    return out if type(out) in (int, float) else UNKNOWN
                if name == "itertools.repeat" and len(args) == 2 and not kwargs and type(args[1]) is int and 0 <= args[1] <= 64:
                    return TupleV((args[0],) * args[1])
                if name == "functools.partial":
                    if not args or "**" in kwargs or args[0] is UNKNOWN:
                        return UNKNOWN
                    return PartialV(args[0], tuple(args[1:]), dict(kwargs))
                if FOLLOW_IMPORTED and name is not None and not name.startswith("torch."):
                    if name[name.rfind(".") + 1:name.rfind(".") + 2].isupper():
                        info = self._imported_class(func.name)
                        if info is not None:
                            return self.call(ClassV(info), args, kwargs, node, frame)
                    elif (args or kwargs) and all(_concrete(v) for v in args) and all(_concrete(v) for v in kwargs.values()):
                        # A helper given known values (`_make_divisible(1280 * 0.25, 8)` in a
                        # builder's run): run it. Symbolic or tensor arguments are not
                        # followed (the cost of following every helper call is not paid).
                        helper = self._imported_function(name)
                        if helper is not None:
                            return self.call(helper, args, kwargs, node, frame)
                return self._torch_call(func.name, args, kwargs, node, frame)
            if isinstance(func.base, TensorV):
                return self._tensor_method(func.base, func.name, args, kwargs, node, frame)
            if type(func.base) is _DictV:
                d = func.base
                key = args[0] if args else None
                if func.name in ("get", "pop") and isinstance(key, str) and len(args) <= 2 and not kwargs:
                    # `kwargs.pop("output_attentions", None)`: the keys are known
                    found = d.items.get(key, args[1] if len(args) == 2 else (None if func.name == "get" else _NOT_FOUND))
                    if func.name == "pop":
                        if not (self.flows and all(f.certain for f in self.flows)):
                            self._forget(d, frame)  # on some paths only: not known after it
                            return UNKNOWN
                        d.items = {k: v for k, v in d.items.items() if k != key}  # every holder sees it, as in Python
                    return UNKNOWN if found is _NOT_FOUND else found
                if func.name not in ("get", "keys", "values", "items", "copy", "__contains__"):
                    self._forget(d, frame)  # update, setdefault, clear...
                return UNKNOWN
            if isinstance(func.base, TupleV) and func.name in _LIST_MUTATORS:
                base = func.base
                if (func.name in ("append", "extend", "insert") and len(args) == (2 if func.name == "insert" else 1)
                        and not kwargs and base.region == self.region
                        and base.epoch == self.epoch
                        and all(base is not v for v in self.module_env.values())
                        and (func.name != "extend" or isinstance(args[0], TupleV))
                        and (func.name != "insert" or (type(args[0]) is int and 0 <= args[0] <= len(base.items)))):
                    # A list built step by step where every step surely runs (`layers.append(...)`
                    # then `nn.Sequential(*layers)`): changed in place, so every name holding it sees it.
                    if func.name == "insert":
                        base.items = base.items[:args[0]] + (args[1],) + base.items[args[0]:]
                    else:
                        base.items = base.items + ((args[0],) if func.name == "append" else tuple(args[0].items))
                    return None
                self._forget(base, frame)
                return UNKNOWN
            if isinstance(func.base, SeqV) and func.name in ("add_module", "register_module"):
                # `self.features.add_module("block1", block)`: one more module at the end
                # (Sequential, ModuleList) or under that key (ModuleDict)
                key = args[0] if args else kwargs.get("name")
                module = args[1] if len(args) > 1 else kwargs.get("module", UNKNOWN)
                if not self.flows[-1].certain or func.base.items is None or not isinstance(key, str):
                    self._forget(func.base, frame)
                    return None
                if func.base.kind == "dict":
                    func.base.items = [(k, v) for k, v in func.base.items if k != key] + [(key, module)]
                elif isinstance(module, (LayerV, SeqV, InstanceV, UnionV)):
                    if not module.label and func.base.label:
                        _set_label(module, f"{func.base.label}.{key}")
                    func.base.items.append(module)
                else:
                    self._forget(func.base, frame)
                return None
            if isinstance(func.base, SeqV) and func.name in ("append", "extend", "insert") and func.base.kind != "dict":
                if not self.flows[-1].certain:
                    # appended in a branch the engine cannot decide: the same ModuleList is
                    # changed in place on some runs only; its contents are not known after
                    # (else appends of two exclusive branches would add up)
                    self._forget(func.base, frame)
                    return None
                if func.name == "append" and args:
                    func.base.items.append(args[0])
                elif func.name == "extend" and args and isinstance(args[0], (TupleV, SeqV)):
                    func.base.items.extend(args[0].items)
                else:
                    func.base.items.append(UNKNOWN)
                return None
            if isinstance(func.base, SeqV) and func.name in ("items", "values", "keys") and func.base.kind == "dict":
                if func.name == "values":
                    return TupleV(tuple(v for _, v in func.base.items))
                if func.name == "keys":
                    return TupleV(tuple(k for k, _ in func.base.items))
                return TupleV(tuple(TupleV((k, v)) for k, v in func.base.items))
            if isinstance(func.base, InstanceV) and func.name in _CONTAINER_VIEWS and not args and not kwargs:
                entries = _container_entries(func.base)
                if entries is None:
                    return UNKNOWN
                if func.name == "values":
                    return TupleV(tuple(v for _, v in entries))
                if func.name == "keys":
                    return TupleV(tuple(k for k, _ in entries))
                if func.name == "children":
                    return TupleV(tuple(v for _, v in entries))
                return TupleV(tuple(TupleV((k, v)) for k, v in entries))  # items, named_children
            if isinstance(func.base, InstanceV) and func.name in ("register_buffer", "register_parameter", "add_module", "register_module"):
                key = args[0] if args else kwargs.get("name")
                value = args[1] if len(args) > 1 else kwargs.get("tensor", kwargs.get("param", kwargs.get("module", UNKNOWN)))
                if isinstance(key, str):
                    if isinstance(value, (LayerV, SeqV, InstanceV)) and not value.label:
                        _set_label(value, f"self.{key}")
                    set_attr(func.base, key, value)
                else:
                    _forget_attributes(func.base)  # under a name not known: any of them
                return None
            if isinstance(func.base, (LayerV, SeqV, InstanceV)) and func.name in ("to", "cuda", "cpu", "eval", "train", "float", "double", "half", "requires_grad_"):
                return func.base
            if isinstance(func.base, (LayerV, SeqV, InstanceV)) and func.name == "forward":
                return self.call_module(func.base, args, kwargs, node, frame)
        return UNKNOWN

    def _run_function(self, fn: ast.FunctionDef, args: list, kwargs: dict, frame: Frame, generic: bool = False,
                      closure: Frame | None = None) -> AV:
        if id(fn) in self.foreign and not FOLLOW_OTHER_FILES and args and type(args[0]) is InstanceV:
            if fn.name == "__init__":
                self._foreign_init_stores(fn, args, kwargs)
            elif isinstance(frame.fn, ast.FunctionDef) and frame.fn.name == "__init__" and \
                    any(v is args[0] for v in frame.env.values()):
                self._unseen_method_in_init(args[0])
        if self.depth > MAX_DEPTH or (id(fn) in self.foreign and not FOLLOW_OTHER_FILES) or id(fn) in self.active:
            return UNKNOWN  # too deep, another file's, or recursive (its result is what is being computed)
        saved = self._enter(fn)
        epoch = self.epoch
        try:
            return self._run_function_in_file(fn, args, kwargs, frame, generic, closure)
        finally:
            self._leave(saved)
            # The callee's returns ended its own paths, joined before it returns: the
            # caller's lists are still changed in place (`layers.append(block(...))`
            # with a helper that returns inside `block`). Its own lists are not.
            self.epoch = epoch

    def _same_file(self, node: ast.AST, frame: Frame) -> None:
        """A function or lambda defined inside a function of another file runs on that
        file's names too."""
        outer = id(frame.fn) if frame.fn is not None else None
        if outer in self.imported:
            self.imported[id(node)] = self.imported[outer]
        elif outer in self.foreign:
            self.foreign[id(node)] = self.foreign[outer]

    def _set_layer_weight(self, layer: LayerV, attr: str, v: AV, frame: Frame) -> None:
        """``self.lm_head.weight = self.embed.weight`` (weight tying): a ``Linear`` given a
        weight of known shape ``[out, in]`` has those sizes from now on; any other change
        of a layer's parameters makes it one of itself and an unknown module wherever the
        instances at hand hold it."""
        if layer.layer.cls == "torch.nn.Linear" and attr == "weight" and type(v) is TensorV and v.shape is not None \
                and not v.shape.prefix and len(v.shape.dims) == 2:
            out, inp = v.shape.dims
            layer.layer = Layer(layer.layer.cls, {**layer.layer.params, "in_features": inp, "out_features": out})
            return
        if attr == "bias" and (v is None or (type(v) is TensorV and v.shape is not None and v.shape == L.param_shapes(layer.layer).get("bias"))):
            return  # no bias, or one of the same shape
        for inst in self.instance_stack + [x for x in frame.env.values() if type(x) is InstanceV]:
            for k, x in list(inst.attrs.items()):
                if x is layer:
                    set_attr(inst, k, UnionV((layer, UNKNOWN), layer.label))

    @staticmethod
    def _unseen_method_in_init(inst: InstanceV) -> None:
        """A method of another file, not run, called on the instance its ``__init__`` is
        building (transformers' ``self.post_init()``): it may tie weights, giving an
        output ``Linear`` of this instance the weight of an input ``Embedding`` (the
        sizes it was declared with then no longer hold). Each such ``Linear`` is one of
        itself and an unknown module from now on (a call through it reports nothing and
        gives an unknown result). A model with no ``Embedding`` (a vision model) has no
        input embedding to tie: nothing changes."""
        if not _holds_embedding(inst, set()):
            return
        for k, v in inst.attrs.items():
            if type(v) is LayerV and not k.startswith("<") and v.layer.cls == "torch.nn.Linear":
                set_attr(inst, k, UnionV((v, UNKNOWN), v.label))

    def _foreign_init_stores(self, fn: ast.FunctionDef, args: list, kwargs: dict) -> None:
        """A base class's ``__init__`` of another file, not run (framework plumbing):
        what it surely stores from its parameters unchanged (``self.config = config`` of
        transformers' ``PreTrainedModel``) is stored."""
        src = self.foreign.get(id(fn))
        path = getattr(src, "path", None)
        if not path:
            return
        stores = self.ctx.project.parameter_stores(path, fn.lineno)
        if not stores:
            return
        a = fn.args
        params = [p.arg for p in a.posonlyargs + a.args]
        given: dict = {}
        for i, name in enumerate(params):
            if i < len(args):
                given[name] = args[i]
            elif name in kwargs:
                given[name] = kwargs[name]
        for p in a.kwonlyargs:
            if p.arg in kwargs:
                given[p.arg] = kwargs[p.arg]
        inst = args[0]
        for attr, param in stores:
            if param in given:  # a default is an expression of the other file: not evaluated
                set_attr(inst, attr, given[param])

    def _run_function_in_file(self, fn: ast.FunctionDef, args: list, kwargs: dict, frame: Frame, generic: bool,
                              closure: Frame | None = None) -> AV:
        if not generic and (isinstance(fn, ast.AsyncFunctionDef) or self._is_generator(fn)):
            return UNKNOWN  # a call makes a coroutine or a generator; the body runs later
        env: dict = {}
        a = fn.args
        params = a.posonlyargs + a.args
        defaults = [None] * (len(params) - len(a.defaults)) + list(a.defaults)
        for i, p in enumerate(params):
            if i < len(args):
                env[p.arg] = args[i]
            elif p.arg in kwargs:
                env[p.arg] = kwargs[p.arg]
            elif defaults[i] is not None and "**" not in kwargs:
                env[p.arg] = self._default(defaults[i], generic)  # type: ignore[arg-type]  # not None: tested
            else:
                env[p.arg] = UNKNOWN if not generic else TensorV(None, Origin("argument", p, f"`{p.arg}`"))
        if a.vararg:
            env[a.vararg.arg] = TupleV(tuple(args[len(params):])) if len(args) > len(params) else UNKNOWN
        for p, d in zip(a.kwonlyargs, a.kw_defaults):
            if p.arg in kwargs:
                env[p.arg] = kwargs[p.arg]
            else:
                env[p.arg] = self._default(d, generic) if d is not None else UNKNOWN
        if a.kwarg:
            env[a.kwarg.arg] = UNKNOWN if generic else _extra_keywords(a, kwargs)
        if generic:
            for k, v in list(env.items()):
                if v is UNKNOWN:
                    env[k] = TensorV(None)
        for k, v in env.items():
            if v is _DEFAULTED:
                env[k] = UNKNOWN
        inner = Frame(env, fn, frame.subst, frame.site, closure=closure)
        flow = self.new_flow(inner)
        self.active.add(id(fn))
        self.depth += 1
        self.flows.append(flow)
        try:
            if isinstance(fn, ast.Lambda):
                flow.return_(self.eval(fn.body, inner))
            else:
                self._block(fn.body, inner)
        finally:
            self.flows.pop()
            self.depth -= 1
            self.active.discard(id(fn))
        out = self._function_result(flow)
        if type(out) is FuncV and out.closure is not None and out.closure() is inner:
            # a nested function returned (`def _ntuple(n): def parse(x): ...; return parse`):
            # its frame ends here, the names it reads are kept
            out = FuncV(out.node, out.self_value, _Held(Frame({k: v for k, v in inner.env.items() if type(v) is not FuncV},
                                                              inner.fn, dict(inner.subst), inner.site, closure=inner.closure)))
        return out

    # ------------------------------------------------------------------ memoised runs
    def _memo_begin(self) -> "_MemoRun":
        run = _MemoRun(len(self.flows), len(self.catching), self.dead)
        self._memo_runs.append(run)
        return run

    def _memo_end(self, run: "_MemoRun") -> None:
        self._memo_runs.pop()

    def _left_out(self, why: str, exc: str | None) -> None:
        """A finding is not reported (``why``: caught, conditional, cascade). A memoised
        run under way whose caller's context decided it must not be reused elsewhere:
        there the finding may be reported."""
        for run in self._memo_runs:
            if run.unsafe:
                continue
            if why == "caught":
                run.unsafe = any(may_catch(hs, exc) for hs in self.catching[:run.catching])
            elif why == "conditional":
                run.unsafe = all(f.certain for f in self.flows[run.flows:])
            else:
                run.unsafe = run.dead

    def _replay(self, raised: str | None | bool) -> None:
        """A memoised run that surely raised (its error reported when it ran): here, as
        then, the run raises."""
        if raised is not False:
            self._raised_here(raised if isinstance(raised, str) else None)

    def _is_generator(self, fn: ast.AST) -> bool:
        key = id(fn)
        hit = self._generators.get(key)
        if hit is None:
            # the text first: most functions do not say `yield` at all
            lines = self.src.lines[fn.lineno - 1:getattr(fn, "end_lineno", None) or fn.lineno]  # type: ignore[attr-defined]
            hit = self._generators[key] = any("yield" in line for line in lines) and _is_generator(fn)
        return hit

    def _function_result(self, flow: Any) -> AV:
        """What a call returns: the join of its returns (None when it falls off the
        end); the state it leaves (attributes set on instances) is the join of those
        paths'. A function that never returns (every path raises) gives an unknown."""
        exits = flow.exit_states()
        if not exits:
            return UNKNOWN
        if any(st[1] for st, _ in exits):  # instances whose attributes the paths set
            flow.ops.restore_instances(flow.ops.join([st for st, _ in exits]) if len(exits) > 1 else exits[0][0])
        out = exits[0][1]
        for _, v in exits[1:]:
            out = join_values(out, v)
        return out

    def _default(self, node: ast.AST, generic: bool) -> AV:
        """A parameter's default. Analysed on its own (no caller), a default of None
        stands for "not given": its callers pass what the body needs (a size), so it is
        unknown, not None (else `nn.LayerNorm(num_features)` would be a TL209 no caller
        ever makes)."""
        v = self.eval(node, self.module_frame())
        return _DEFAULTED if v is None and generic else v

    def _enter(self, fn: ast.AST) -> tuple:
        """Run ``fn`` in its own file: its source (for labels), and, for a followed
        class of another file, that file's top-level names and imports."""
        key = id(fn)
        if self.module_env is self._local_env and key not in self.imported and key not in self.foreign:
            self.src_stack.append(self.ctx.src)  # the common case: this file's code, from this file's code
            return (self.module_env, self.imports)
        src = self.foreign.get(key) or self.imported.get(key) or self.ctx.src
        saved = (self.module_env, self.imports)
        if src is self.ctx.src:
            self.module_env, self.imports = self._local_env, self.ctx.imports
        elif id(fn) in self.imported:
            self.module_env, self.imports = self._file_env(src)
        self.src_stack.append(src)
        return saved

    def _leave(self, saved: tuple) -> None:
        self.src_stack.pop()
        self.module_env, self.imports = saved

    def _file_env(self, src: Any) -> tuple[dict, Any]:
        """Top-level names and imports of a followed file (its classes and functions;
        its top-level code is not run)."""
        hit = self._file_envs.get(id(src))
        if hit is not None:
            return hit
        from torch_lsp.analysis.project import ClassRef

        full = self._followed_summaries[src.path]
        shared = getattr(full, "followed_env", None)  # built once per file version, for every importer
        if shared is not None:
            for v in shared[0].values():
                if isinstance(v, FuncV):
                    self.imported[id(v.node)] = src
            hit = self._file_envs[id(src)] = shared
            return hit
        env: dict = {}
        body = full.source.tree.body if full.source and full.source.tree else []
        # A constant is taken only when its name is bound once at the top level.
        stores: dict[str, int] = {}
        for stmt in body:
            if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for n in ast.walk(stmt):
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                        stores[n.id] = stores.get(n.id, 0) + 1
                    elif isinstance(n, ast.alias):
                        name = (n.asname or n.name).split(".")[0]
                        stores[name] = stores.get(name, 0) + 1
        for stmt in body:
            if isinstance(stmt, ast.ClassDef):
                env[stmt.name] = ClassV(self.model.info(ClassRef(full, stmt)))
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                env[stmt.name] = FuncV(stmt)  # type: ignore[arg-type]
                self.imported[id(stmt)] = src
            elif (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                  and stores.get(stmt.targets[0].id) == 1):
                # constants (`WIDTH = 64`); nothing else of its top-level code is run
                try:
                    value = ast.literal_eval(stmt.value)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    env.pop(stmt.targets[0].id, None)
                    continue
                if isinstance(value, (int, float, str, bool)) or value is None:
                    env[stmt.targets[0].id] = value
        hit = self._file_envs[id(src)] = (env, full.imports)
        full.followed_env = hit
        return hit

    # ------------------------------------------------------------------ modules
    def instantiate(self, info: Any, args: list, kwargs: dict, node: ast.AST | None, frame: Frame, site: Origin | None = None) -> AV:
        inst = InstanceV(info, node=node, site=site, built_here=self.local)
        init = self._method_of(info, "__init__")
        if not info.is_module:
            # a data class's generated __init__ wins over a base's written one
            # (transformers' ModelOutput subclasses)
            fields = _data_class_fields(self.model, info)
            if fields is not None:
                self._fill_data_instance(inst, info, fields, args, kwargs, node, frame)
                return inst
            if init is None:
                return inst
        if init is None:
            layers = [b for b in info.torch_bases if b in L.SUPPORTED]
            if len(layers) == 1 and isinstance(node, ast.Call) and "*" not in kwargs:
                built = self._construct_layer(layers[0], args, kwargs, node, Frame(self.module_env))
                if isinstance(built, LayerV):
                    set_attr(inst, _TORCH_LAYER, built)
            return inst
        if self.depth > MAX_DEPTH or (id(init) in self.foreign and not FOLLOW_OTHER_FILES):
            return inst
        entering = node is not None and self.local and id(init) in self.imported
        if entering:
            self.entries.append((node, info))  # type: ignore[arg-type]  # entering: node is not None
        saved = self._enter(init)
        epoch = self.epoch
        try:
            return self._instantiate_in_file(inst, info, init, args, kwargs, frame, site)
        finally:
            self._leave(saved)
            self.epoch = epoch  # (as in _run_function)
            if entering:
                self.entries.pop()

    def _fill_data_instance(self, inst: "InstanceV", info: Any, fields: "list[DataField]", args: list, kwargs: dict,
                            node: ast.AST | None, frame: Frame) -> None:
        """A data class built (``@dataclass``, a ``dataclass_transform`` base such as
        transformers' configs, a ``NamedTuple``): its generated ``__init__`` stores each
        field from the arguments or its default, then ``__post_init__`` runs. Anything
        the generated ``__init__`` would not accept as written (an unknown keyword, a
        ``**`` splat, a missing field, positional arguments where fields are
        keyword-only) leaves every field unknown."""
        if "**" in kwargs or "*" in kwargs:
            return
        names = {f.name for f in fields}
        extra = {k: v for k, v in kwargs.items() if k not in names}
        amap: dict | None
        amap = {}
        if extra:
            # Only a class that accepts other keywords (huggingface's `@strict(accept_kwargs=
            # True)`, transformers' configs) hands them to `__post_init__`, which stores
            # them as attributes, through the class's `attribute_map` when its
            # `__setattr__` maps names; anything else raises, or maps them in a way not read.
            amap = self._attribute_map(info)
            if amap is None or not _accepts_other_keywords(self.model, info):
                return
        positional = [f for f in fields if not f.kw_only]
        if len(args) > len(positional):
            return
        values: dict = {}
        for f, value in zip(positional, args):
            values[f.name] = value
        for f in fields:
            if f.name in values:
                continue
            if f.name in kwargs:
                values[f.name] = kwargs[f.name]
            elif f.default is None:
                return  # a required field not given: the call raises
            else:
                values[f.name] = self._field_default(f)
        for name, value in values.items():
            set_attr(inst, name, value)
        post = self._method_of(info, "__post_init__")
        if post is not None and isinstance(node, ast.Call):
            self.call(FuncV(post, inst), [], dict(extra), node, frame)
        for k, v in extra.items():
            setter = self._property_setter(info, k)
            if setter is not None:
                # `num_labels=5`: a property's setter runs; what it stores is not known
                # (`id2label`), what the property reads back is the value set
                for attr in self._attributes_stored(setter):
                    set_attr(inst, attr, UNKNOWN)
            set_attr(inst, amap.get(k, k), v)

    def _attribute_map(self, info: Any) -> dict | None:
        """How a class renames attributes: ``{}`` when no class of its MRO defines
        ``__setattr__`` or ``__getattribute__``; else the nearest ``attribute_map``
        class attribute written as a dict of strings (transformers' configs:
        ``{"hidden_size": "n_embd"}``), which those methods read; None when they
        exist and no such dict is found. Cached on the ClassInfo."""
        hit: Any = getattr(info, "_attribute_map", _NOT_FOUND)
        if hit is not _NOT_FOUND:
            return hit
        info._attribute_map = None
        mro = _class_mro(self.model, info)
        out: dict | None = {}
        if any(c.method("__setattr__") is not None or c.method("__getattribute__") is not None for c in mro):
            out = None
            found = False
            for c in mro:  # the nearest definition is the one read
                for stmt in c.node.body:
                    target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else \
                        stmt.target if isinstance(stmt, ast.AnnAssign) else None
                    if isinstance(target, ast.Name) and target.id == "attribute_map" and stmt.value is not None:
                        found = True
                        try:
                            d = ast.literal_eval(stmt.value)
                        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                            d = None
                        ok = isinstance(d, dict) and all(isinstance(a, str) and isinstance(b, str) for a, b in d.items())
                        out = d if ok else None
                if found:
                    break
        info._attribute_map = out
        return out

    def _property_setter(self, info: Any, name: str) -> ast.FunctionDef | None:
        """The setter of property ``name`` of the class or a base (``@name.setter``)."""
        for c in _class_mro(self.model, info):
            for stmt in c.node.body:
                if isinstance(stmt, ast.FunctionDef) and stmt.name == name and any(
                        isinstance(d, ast.Attribute) and d.attr == "setter" for d in stmt.decorator_list):
                    return stmt
        return None

    def _attributes_stored(self, fn: ast.FunctionDef) -> set:
        """The attributes a method stores on its first parameter anywhere in its body
        (another file's is read from its lines: outlines have no bodies)."""
        src = self.foreign.get(id(fn))
        path = getattr(src, "path", None)
        if path:
            whole = self.ctx.project.function_at(path, fn.lineno)
            fn = whole if whole is not None else fn
        params = fn.args.posonlyargs + fn.args.args
        if not params:
            return set()
        me = params[0].arg
        return {t.attr for n in ast.walk(fn) if isinstance(n, (ast.Assign, ast.AnnAssign, ast.AugAssign))
                for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == me}

    def _field_default(self, f: "DataField") -> AV:
        """A field's default: a literal anywhere; any expression of this file's own
        classes; anything else (``field(default_factory=...)``, names of another file)
        unknown."""
        d = f.default
        if f.path == self.ctx.summary.path and not (isinstance(d, ast.Call) and _decorator_name(d) == "field"):
            v = self.eval(d, self.module_frame())
            return v if v is not None or (isinstance(d, ast.Constant) and d.value is None) else UNKNOWN
        try:
            v = ast.literal_eval(d)  # type: ignore[arg-type]  # not None: only fields with a default come here
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            return UNKNOWN
        if isinstance(v, (int, float, str, bool)) or v is None:
            return v
        if isinstance(v, tuple) and all(isinstance(x, (int, float, str, bool)) for x in v):
            return TupleV(v)
        return UNKNOWN

    def _instantiate_in_file(self, inst: "InstanceV", info: Any, init: ast.FunctionDef, args: list, kwargs: dict,
                             frame: Frame, site: Origin | None) -> AV:
        a = init.args
        params = a.posonlyargs + a.args
        env: dict = {params[0].arg: inst} if params else {}
        subst = dict(frame.subst)
        defaults = [None] * (len(params) - len(a.defaults)) + list(a.defaults)
        for i, p in enumerate(params[1:], start=1):
            if i - 1 < len(args):
                value = args[i - 1]
            elif p.arg in kwargs:
                value = kwargs[p.arg]
            elif defaults[i] is not None and "**" not in kwargs:
                value = self.eval(defaults[i], Frame(self.module_env))
            else:
                value = UNKNOWN
            env[p.arg] = self._param_value(p.arg, value, subst, info, site)
        for p, d in zip(a.kwonlyargs, a.kw_defaults):
            value = kwargs.get(p.arg, self.eval(d, Frame(self.module_env)) if d is not None else UNKNOWN)
            env[p.arg] = self._param_value(p.arg, value, subst, info, site)
        if a.vararg:
            env[a.vararg.arg] = TupleV(tuple(args[len(params) - 1:])) if len(args) >= len(params) - 1 else UNKNOWN
        if a.kwarg:
            env[a.kwarg.arg] = _extra_keywords(a, kwargs)
        inner = Frame(env, init, subst, site or frame.site)
        flow = self.new_flow(inner)
        self.depth += 1
        self.flows.append(flow)
        try:
            self._block(init.body, inner)
        finally:
            self.flows.pop()
            self.depth -= 1
        inst.subst = subst  # type: ignore[attr-defined]
        if self._function_result(flow) is UNKNOWN and not flow.exit_states():
            return UNKNOWN  # __init__ never completes: no instance is made
        return inst

    def _param_value(self, name: str, value: AV, subst: dict, info: Any, site: Origin | None) -> AV:
        """A constructor parameter: an int from a top-level call site becomes a symbol
        bound in ``subst`` (so fixes can name it); anything else is passed as is."""
        if self.depth == 0 and isinstance(value, int) and not isinstance(value, bool):
            subst[name] = value
            return sym(name)
        if self.depth == 0 and self.generic and isinstance(value, Sym):
            return value
        return value

    def call_module(self, mod: AV, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> AV:
        if isinstance(mod, LayerV):
            return self._call_layer(mod, args, kwargs, node, frame)
        if isinstance(mod, SeqV):
            if mod.kind != "sequential" or not args:
                return UNKNOWN
            x = args[0]
            for item in mod.items:
                x = self.call_module(item, [x], {}, node, frame) if isinstance(item, (LayerV, SeqV, InstanceV)) else UNKNOWN
            return x
        if isinstance(mod, InstanceV):
            return self._call_forward(mod, args, kwargs, node, frame)
        if type(mod) is UnionV:
            return self._call_union(mod, args, kwargs, node, frame)
        return UNKNOWN

    def _call_union(self, mod: UnionV, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> AV:
        """Each module a run may have here, on a path it may not take (what fails in one
        is not reported: another configuration takes another); the join of the outputs."""
        flow = self.flows[-1] if self.flows else None
        out: AV = None
        if flow is not None:
            flow.doubt += 1
        self.shared_paths += 1
        try:
            for i, alt in enumerate(mod.alternatives):
                got = self.call_module(alt, args, kwargs, node, frame)
                out = got if i == 0 else join_values(out, got)
        finally:
            if flow is not None:
                flow.doubt -= 1
            self.shared_paths -= 1
        return out

    def _call_forward(self, inst: InstanceV, args: list, kwargs: dict, node: ast.AST | None, frame: Frame | None = None) -> AV:
        fwd = self._method_of(inst.cls, "forward")
        if fwd is None:
            if _SEQUENTIAL in inst.attrs:
                items = _sequential_items(inst)
                if items is None or len(args) != 1 or kwargs or not isinstance(node, ast.Call) or frame is None:
                    return UNKNOWN
                return self.call_module(SeqV("sequential", items, inst.node, inst.label), args, {}, node, frame)
            layer = inst.attrs.get(_TORCH_LAYER)
            if isinstance(layer, LayerV) and isinstance(node, ast.Call) and frame is not None:
                return self._call_layer(_as_instance(layer, inst), args, kwargs, node, frame)  # `class Norm(nn.LayerNorm)` without forward
            return UNKNOWN
        site = frame.site if frame is not None else None
        if node is not None and not self.instance_stack and any(isinstance(a, TensorV) and a.shape is not None for a in args):
            # A call from outside any module (top level, a training function): the
            # inputs' shapes come from this call site.
            seg = self.seg(node)
            site = Origin("call site", node, seg if len(seg) < 60 else "this call")
            args = [TensorV(a.shape, Origin("call site", node, a.origin.label if a.origin else seg, site=site)) if isinstance(a, TensorV) else a for a in args]
        subst = getattr(inst, "subst", {})
        outer = Frame({}, None, subst, site)
        key = _call_key(args, kwargs) if self.instance_stack else None
        if key is not None:
            key = (id(inst), key, id(site), tuple(sorted(subst.items())), self.generic)
            hit = self._forward_cache.get(key)
            if hit is not None:
                out, recorded, raised = hit
                for mod, shape_in, res_out, label, rec_subst, error in recorded:
                    self._store_layer_call(mod, shape_in, res_out, label, rec_subst, site, error)
                self._replay(raised)
                return out
        if site is not None:
            self.site_classes.add(inst.cls.name)
        if not self.instance_stack:  # the module a summary is about, for its parameter total
            run_key: Any = CallSite(site.node) if site is not None and site.node is not None else "generic"
            self.summary_instances.setdefault(inst.cls.name, {}).setdefault(run_key, inst)
        self.instance_stack.append(inst)
        run = self._memo_begin()
        if key is not None:
            self._recorders.append([])
        try:
            suppressed = self._suppressed
            entering = self.local and id(fwd) in self.imported and (node is not None or inst.node is not None)
            if entering:  # the line to change is where it is built here, else where it is called
                built_here = inst.node is not None and inst.built_here
                # (entering: inst.node or node is not None; see the report on the case where it may be None)
                self.entries.append((inst.node if built_here else node, inst.cls))  # type: ignore[arg-type]
            try:
                out = self._run_function(fwd, [inst] + list(args), kwargs, outer)
            finally:
                if entering:
                    self.entries.pop()
            if self._suppressed > suppressed and id(fwd) in self.imported:
                # A problem inside a followed class of another file (reported there, or
                # here at its entry): what it returns is never had.
                out = failed_tensor() if isinstance(out, TensorV) else UNKNOWN
        finally:
            self.instance_stack.pop()
            recorded = self._recorders.pop() if key is not None else None
            self._memo_end(run)
        if key is not None and not run.unsafe:
            self._forward_cache[key] = (out, recorded, run.raised)
        if subst and (frame is None or frame.subst != subst):
            # The instance's constructor symbols mean nothing outside it: the caller
            # sees the call site's values.
            out = self._conc_escaping(out, Frame({}, None, subst))
        return out

    def _conc_escaping(self, v: AV, frame: Frame) -> AV:
        if isinstance(v, TensorV) and v.shape is not None:
            shape = self._conc_deep(v.shape, frame)
            return v if shape is v.shape else TensorV(shape, v.origin)
        if isinstance(v, TupleV):
            return TupleV(tuple(self._conc_escaping(x, frame) for x in v.items))
        if isinstance(v, Sym):
            return self._conc_deep(v, frame)
        return v

    def _call_layer(self, mod: LayerV, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> AV:
        layer = mod.layer
        if layer.cls in _LOSS_CLASSES:
            return self._loss(_LOSS_CLASSES[layer.cls], layer.params.get("reduction", "mean"), args, kwargs, node)
        if args and args[0] is UNKNOWN:
            # the output of something the engine does not follow (``self.features = make(cfg)``,
            # a helper of another package): if this call runs, it was a tensor, and what the
            # layer returns is known in part (``[*, out_features]``), so the next layer is checked
            args = [TensorV(None)] + list(args[1:])
        inputs = [a.shape if isinstance(a, TensorV) else None for a in args]
        if not args or not all(isinstance(a, TensorV) for a in args[:1]):
            return UNKNOWN
        try:
            res = self.dual(L.forward, (layer, inputs, kwargs), frame)
        except Exception:  # a transfer function must never break the analysis
            swallowed()
            return TensorV(None)
        if res.error is not None:
            self._layer_error(mod, args[0], res.error, node, frame)
            # The summary shows the row as if fixed; the value that flows on is unknown
            # (the call raises: nothing after it is derived from its output).
            fixed = self._as_if_fixed(layer, res.error, inputs, kwargs, frame)
            self._record_layer_call(mod, inputs[0] if inputs else None, fixed.out if fixed is not None else None, frame,
                                    res.error.message)
            return failed_tensor()
        else:
            self._record_layer_call(mod, inputs[0] if inputs else None, res.out, frame)
            if inputs and inputs[0] is None:
                lead = self._pin(args[0], node.args[0] if node.args else None, mod, frame)
                if lead is not None and isinstance(res.out, Shape) and res.out.prefix:
                    res = Result(Shape(res.out.dims, True, lead))  # a Linear keeps its input's leading sizes
        origin_in = args[0].origin
        preserving = layer.cls in T.STATELESS_LAYERS or layer.short.startswith("Dropout")
        origin = origin_in if preserving and origin_in is not None else Origin("layer", node, mod.label or layer.short, mod.node, site=origin_in.site if origin_in else None, chain=mod.chain)
        return self._wrap_output(res.out, origin)

    def _pin(self, x: AV, arg: ast.AST | None, mod: LayerV, frame: Frame) -> Any:
        """A tensor of unknown shape that a layer accepted has the shape the layer
        takes (or the run stopped there): ``self.qkv(x)`` makes ``x`` ``[*, dim]`` for
        what follows, in every running frame that holds it (the caller's ``residual``
        is the same tensor), on this path only (the names are rebound, not the value
        changed). Not where alternatives share the names (see ``shared_paths``).
        For a ``Linear``, whose output has its input's leading sizes, returns the
        symbol now standing for them in both (``Shape.lead``); else None."""
        if type(x) is not TensorV or x.shape is not None or x.failed or self.shared_paths:
            return None
        layer = mod.layer
        want = L.expected_input(layer)
        if want is None or not any(d is not UNKNOWN for d in want.dims):
            return None
        seg = self.seg(arg) if arg is not None else "the input"
        origin = Origin("pinned", arg, mod.label or layer.short, mod.node, site=x.origin.site if x.origin else None,
                        chain=mod.chain, factors=(seg if len(seg) <= 40 else "the input",))
        lead = None
        if layer.cls == "torch.nn.Linear" and want.prefix and len(want.dims) == 1 and arg is not None:
            lead = x.lead if x.lead is not None else self._size_symbol(f"{self._size_label(arg)}.shape[:-1]", x)
            want = Shape(want.dims, True, lead)
        pinned = TensorV(want, origin, x.parameter)
        for flow in self.flows:
            running = getattr(flow.ops, "frame", None)
            env = running.env if running is not None else None
            if env is None or env is self.module_env:
                continue
            for k, v in env.items():
                if v is x:
                    env[k] = pinned
        return lead

    def _as_if_fixed(self, layer: Layer, err: ShapeError, inputs: list, kwargs: dict, frame: Frame) -> Result | None:
        """The layer's output as if the fix were applied (its size argument set to what
        it receives): shown in the summary's row for the failing layer. The analysis
        itself goes on with a failed value (nothing is derived from it)."""
        if err.kind not in ("features", "channels") or err.param is None or err.expected is None or err.param not in layer.params:
            return None
        fixed = Layer(layer.cls, {**layer.params, err.param: err.expected})
        try:
            res = self.dual(L.forward, (fixed, inputs, kwargs), frame)
        except Exception:
            swallowed()
            return None
        return res if res.error is None else None

    def _record_layer_call(self, mod: LayerV, shape_in: Shape | None, out: Any, frame: Frame, error: str = "") -> None:
        if not self.instance_stack:
            return
        label = mod.label or f"nn.{mod.layer.short}"
        if len(self.instance_stack) > 1:
            inner = self.instance_stack[-1]
            label = f"{inner.label or inner.cls.name}.{label.removeprefix('self.')}"
        subst = dict(frame.subst)
        for rec in self._recorders:
            rec.append((mod, shape_in, out, label, subst, error))
        self._store_layer_call(mod, shape_in, out, label, subst, frame.site, error)

    def _store_layer_call(self, mod: LayerV, shape_in: Shape | None, out: Any, label: str, subst: dict, site: Origin | None, error: str = "") -> None:
        if not self.instance_stack:
            return
        inst = self.instance_stack[0]  # the outermost module: the one a summary is about
        key: Any = CallSite(site.node) if site is not None and site.node is not None else "generic"
        self.layer_calls.setdefault(inst.cls.name, {}).setdefault(key, []).append(LayerCall(label, mod, shape_in, out, subst, error))

    def _wrap_output(self, out: Any, origin: Origin | None) -> AV:
        if isinstance(out, tuple):
            return TupleV(tuple(self._wrap_output(o, origin) for o in out))
        if isinstance(out, Shape) or out is None:
            return TensorV(out, origin)
        return UNKNOWN

    # ------------------------------------------------------------------ torch calls
    def _torch_call(self, name: str | None, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> AV:
        if name is None:
            return UNKNOWN
        if name in T.PARAMETER_CLASSES or name in T.BUFFER_CLASSES:
            data = args[0] if args else kwargs.get("data")
            param = name in T.PARAMETER_CLASSES
            return TensorV(data.shape, data.origin, parameter=param) if isinstance(data, TensorV) else TensorV(None, parameter=param)
        if T.is_torch_module_class(name) or name in T.MODULE_CONTAINERS:
            if "*" in kwargs:
                return UNKNOWN  # `nn.Sequential(*layers)` with layers not known
            return self._construct_layer(name, args, kwargs, node, frame)
        short = name.rsplit(".", 1)[-1]
        if name in T.TENSOR_FACTORIES or name in ("torch.Tensor",):
            return self._factory(short, args, kwargs, node)
        if name == "torch.utils.checkpoint.checkpoint" and args and isinstance(args[0], (FuncV, LayerV, SeqV, InstanceV)):
            # `checkpoint(fn, *args)` calls `fn(*args)`; its own keywords are not fn's
            passed = {k: v for k, v in kwargs.items() if k not in _CHECKPOINT_KEYWORDS}
            return self.call(args[0], list(args[1:]), passed, node, frame)
        if name.startswith("torch.nn.functional.") or name.startswith("torch."):
            return self._function(short, name, args, kwargs, node, frame)
        if name in T.DEFAULT_STANDS_FOR:
            i, key = T.DEFAULT_STANDS_FOR[name]
            return args[i] if len(args) > i else kwargs.get(key, UNKNOWN)
        if name in T.ACTIVATION_FACTORIES or name == T.ACTIVATION_CLASS:
            return LayerV(Layer(L.ACTIVATION, {}), node)
        if name in T.ACTIVATION_CLASS_FACTORIES:
            return BoundMethodV(None, T.ACTIVATION_CLASS)
        self._callbacks(args, kwargs, node, frame)
        return UNKNOWN

    def _callbacks(self, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> None:
        """A function the engine does not know, handed a function of this code
        (`apply_chunking_to_forward(self.feed_forward_chunk, ..., x)`, a hook): the
        callback runs some time, with arguments the engine cannot map, so its body is
        checked with unknown arguments (what it finds holds whatever they are). Only
        methods and nested functions: those reach the module's layers."""
        for v in list(args) + list(kwargs.values()):
            if type(v) is not FuncV or not isinstance(v.node, ast.FunctionDef) or id(v.node) in self.active:
                continue
            if v.self_value is None and v.closure is None:
                continue  # a function of the module (`eager_attention_forward` as a default): no layers of its own
            a = v.node.args
            params = (a.posonlyargs + a.args)[1 if v.self_value is not None else 0:len(a.posonlyargs + a.args) - len(a.defaults)]
            self.call(v, [TensorV(None, Origin("argument", p, f"`{p.arg}`")) for p in params], {"**": UNKNOWN}, node, frame)

    def _construct_layer(self, cls: str, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> AV:
        if cls == "torch.nn.Sequential":
            items: list | None
            items = list(args)
            if len(items) == 1 and isinstance(items[0], _OrderedDictV):
                items = [v for _, v in items[0].items]
            return SeqV("sequential", items, node)
        if cls == "torch.nn.ModuleList":
            first = args[0] if args else TupleV(())
            items = list(first.items) if isinstance(first, (TupleV, SeqV)) else None
            return SeqV("list", items, node) if items is not None else UNKNOWN
        if cls == "torch.nn.ModuleDict":
            return UNKNOWN
        if cls in _LOSS_CLASSES:
            layer: Layer | None
            layer = Layer(cls, {"reduction": kwargs.get("reduction", "mean")})
            return LayerV(layer, node)
        try:
            layer = L.bind(cls, args, kwargs)
        except Exception:
            swallowed()
            layer = None
        if layer is None:
            return UNKNOWN
        try:
            errors = L.config_errors(self._conc_deep(layer, frame))
        except Exception:
            swallowed()
            errors = []
        for err in errors:
            self._config_error(layer, err, node, frame)
        if errors:
            return UNKNOWN  # the construction raises: nothing is derived from what it would be
        return LayerV(layer, node, chain=tuple(self.chain))

    def _factory(self, short: str, args: list, kwargs: dict, node: ast.Call) -> AV:
        origin = Origin("factory", node, self.seg(node) if len(self.seg(node)) < 50 else f"torch.{short}(...)")
        try:
            if short.endswith("_like"):
                base = args[0] if args else None
                return TensorV(base.shape if isinstance(base, TensorV) else None, origin)
            if short == "arange":
                # (ops.arange_shape and eye_shape give a Shape or None; Result.out, in shape_types.py, may also be a tuple)
                return TensorV(O.arange_shape(*args[:3]).out if args else None, origin)  # type: ignore[arg-type]
            if short == "eye":
                return TensorV(O.eye_shape(*args[:2]).out if args else None, origin)  # type: ignore[arg-type]
            if short in ("linspace", "logspace", "randperm"):  # 1-D: `steps` (`n`) elements
                steps: AV = kwargs.get("steps", args[2] if len(args) > 2 else None) if short != "randperm" else \
                    kwargs.get("n", args[0] if args else None)
                known = is_dim(steps) and not isinstance(steps, bool) and not (isinstance(steps, int) and steps < 0)
                return TensorV(Shape.of(steps) if known else None, origin)
            if short in ("tensor", "as_tensor", "asarray"):
                return TensorV(self._data_shape(args[0]) if args else None, origin)
            if short in ("zeros", "ones", "empty", "rand", "randn", "full"):
                sizes = args[:1] if short == "full" else args
                if short == "full" and args:
                    sizes = [args[0]]
                if "size" in kwargs:
                    sizes = [kwargs["size"]]
                flat = _flat_sizes(list(sizes))
                if flat is not None and "*" not in kwargs:
                    return TensorV(Shape(tuple(flat)), origin)
                return TensorV(None, origin)
            if short == "randint":
                size = kwargs.get("size") or (args[-1] if args else None)
                if isinstance(size, TupleV) and all(is_dim(d) for d in size.items):
                    return TensorV(Shape(tuple(size.items)), origin)
        except Exception:
            swallowed()
            pass
        return TensorV(None, origin)

    def _data_shape(self, v: AV) -> Shape | None:
        if isinstance(v, (int, float, bool)) and not isinstance(v, _Unknown):
            return Shape(())
        if isinstance(v, TupleV):
            if not v.items:
                return Shape((0,))
            inner = [self._data_shape(x) for x in v.items]
            if all(s is not None and s == inner[0] for s in inner):
                return Shape((len(v.items),) + inner[0].dims)  # type: ignore[union-attr]
        return None

    def _function(self, short: str, name: str, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> AV:
        """A torch function (``torch.flatten``, ``F.interpolate``): its entry in the
        registry of ops, keyed by qualified name."""
        op = R.lookup(name)
        if op is not None and op.binds == R.ARGS:
            return self._apply_op(op, None, args, kwargs, node, frame)
        x = args[0] if args and isinstance(args[0], TensorV) else None
        if x is None:
            return TensorV(None) if any(isinstance(a, TensorV) for a in args) else UNKNOWN
        if op is None:
            return TensorV(None)
        return self._apply_op(op, x, args[1:], kwargs, node, frame)

    def _tensor_method(self, t: TensorV, name: str, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> AV:
        """``x.view(...)``: the registry's ``torch.Tensor.<name>``."""
        op = R.lookup("torch.Tensor." + name)
        if op is None:
            return TensorV(None, t.origin)
        return self._apply_op(op, t, args, kwargs, node, frame)

    def _apply_op(self, op: Any, x: TensorV | None, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> AV:
        if op.needs_shape and x is not None and x.shape is None:
            return TensorV(None, x.origin)
        try:
            return op.handler(self, x, args, kwargs, node, frame, op.name.rsplit(".", 1)[1])
        except Exception:  # a shape function must never break the analysis
            swallowed()
            return TensorV(None)

    def _functional_layer(self, t: TensorV, name: str, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> AV:
        """``F.max_pool2d(x, 2)``, ``F.conv2d(x, w, ...)``: the module's transfer
        function on the equivalent layer. Only the output is used: a functional call
        has no constructor argument to point a fix at, so mismatches stay silent here."""
        layer = None
        if name in _FUNCTIONAL_POOLS:
            layer = L.bind(_FUNCTIONAL_POOLS[name], list(args), dict(kwargs))
        elif name in _FUNCTIONAL_LAYERS and args and isinstance(args[0], TensorV):
            w = args[0].shape
            if w is None or w.prefix or w.rank is None or w.rank < 3:
                return TensorV(None)
            rest = list(args[2:])
            names = ("stride", "padding", "dilation", "groups")
            given = {k: v for k, v in zip(names, rest)}
            given.update({k: kwargs[k] for k in names if k in kwargs})
            groups = given.get("groups", 1)
            if not is_dim(groups):
                return TensorV(None)
            layer = L.bind(_FUNCTIONAL_LAYERS[name], [w.dims[1] * groups, w.dims[0], tuple(w.dims[2:])], {k: v for k, v in given.items()})
        elif name == "embedding" and args and isinstance(args[0], TensorV):
            w = args[0].shape
            if t.shape is None or w is None or w.rank != 2:
                return TensorV(None)
            return TensorV(Shape(t.shape.dims + (w.dims[1],), t.shape.prefix), t.origin)
        if layer is None:
            return TensorV(None)
        try:
            res = self.dual(L.forward, (layer, [t.shape], {}), frame)
        except Exception:
            swallowed()
            return TensorV(None)
        if res.error is not None:
            return TensorV(None)
        return self._wrap_output(res.out, Origin("op", node, self.seg(node)[:60], site=t.origin.site if t.origin else None))

    # ------------------------------------------------------------------ op plumbing
    def _op_result(self, fn: Callable[..., Result], fn_args: tuple, node: ast.AST, origin: Origin | None, frame: Frame) -> AV:
        try:
            res = self.dual(fn, fn_args, frame)
        except Exception:
            swallowed()
            return TensorV(None)
        if res.error is not None:
            return TensorV(None)
        return self._wrap_output(res.out, origin)

    # ------------------------------------------------------------------ symbols and a call site's values
    def dual(self, fn: Callable[..., Result], fn_args: tuple, frame: Frame) -> Result:
        """Run a transfer function on symbolic arguments and, when a call site binds
        the symbols, on its values too: errors are decided on the values (what will
        happen at run time), the output keeps the symbols where they are known (so
        hovers and fixes can name ``hidden_dim``)."""
        if not frame.subst:
            return fn(*fn_args)
        conc_args = self._conc_deep(fn_args, frame)
        if conc_args is fn_args:
            return fn(*fn_args)
        res_c = fn(*conc_args)
        if res_c.error is not None:
            return self._symbolic_expected(res_c, fn_args, conc_args)
        try:
            res_s = fn(*fn_args)
        except Exception:
            swallowed()
            return res_c
        if res_s.error is not None:
            return res_c
        return Result(_merge_out(res_s.out, res_c.out), None, res_c.notes)

    @staticmethod
    def _symbolic_expected(res: Result, fn_args: tuple, conc_args: tuple) -> Result:
        """An error decided on the call site's values names the size a fix should
        write; when exactly one symbolic input dimension has that value, say the
        symbol instead (``hidden_dim`` rather than 64)."""
        err = res.error
        want = err.expected if err is not None else None
        if want is None or isinstance(want, bool):
            return res
        pairs: list = []
        _shape_pairs(fn_args, conc_args, pairs)
        wants = want if isinstance(want, tuple) else (want,)
        if not all(isinstance(w, int) for w in wants):
            return res
        k = len(wants)
        found = set()
        for sdims, cdims in pairs:
            for i in range(len(cdims) - k + 1):
                if tuple(cdims[i:i + k]) == wants and any(isinstance(d, Sym) for d in sdims[i:i + k]):
                    found.add(tuple(sdims[i:i + k]))
        if len(found) != 1:
            return res
        new = found.pop()
        from dataclasses import replace

        # (err is not None: want is not None)
        return Result(res.out, replace(err, expected=new if isinstance(want, tuple) else new[0]), res.notes)  # type: ignore[type-var]

    def _conc_deep(self, v: Any, frame: Frame) -> Any:
        """``v`` with the call site's values substituted for constructor symbols;
        ``v`` itself (identical) when nothing changes."""
        if not frame.subst:
            return v
        if isinstance(v, Sym):
            c = self.concrete(v, frame)
            return v if c == v else c
        if isinstance(v, Shape):
            dims = self._conc_deep(v.dims, frame)
            return v if dims is v.dims else Shape(dims, v.prefix, v.lead)
        if isinstance(v, (tuple, list)):
            items = [self._conc_deep(x, frame) for x in v]
            if all(a is b for a, b in zip(items, v)):
                return v
            return tuple(items) if isinstance(v, tuple) else items
        if isinstance(v, slice):
            parts = self._conc_deep((v.start, v.stop, v.step), frame)
            return v if parts == (v.start, v.stop, v.step) else slice(*parts)
        if isinstance(v, Layer):
            params = {k: self._conc_deep(x, frame) for k, x in v.params.items()}
            return v if all(params[k] is v.params[k] for k in params) else Layer(v.cls, params)
        return v

    def _tensor_op(self, name: str, fn: Callable[..., Result], fn_args: tuple, operands: list, node: ast.AST, frame: Frame, family: str | None, flatten_sizes: Any = None) -> AV:
        """``family``: what kind of operation fails when it fails (matmul, broadcast,
        reshape, concat: the rules say which rule that is); None: not reported."""
        if any(isinstance(o, TensorV) and o.shape is None for o in operands) and name not in ("cat", "stack", "concat", "concatenate", "broadcast", "matmul"):
            return TensorV(None)
        try:
            res = self.dual(fn, fn_args, frame)
        except Exception:
            swallowed()
            return TensorV(None)
        if res.error is not None:
            if family is not None:
                self._op_error(family, res.error, operands, node, frame)
            return failed_tensor()
        origin = None
        if flatten_sizes is not None:
            first = operands[0]
            factors = tuple(first.shape.dims[1:]) if first.shape is not None and not first.shape.prefix else ()
            if factors and isinstance(flatten_sizes, (tuple, list)) and flatten_sizes[:1] != ("flatten",):
                # `x.reshape(b, n, -1)`: the -1 takes the dims after the sizes kept as they were
                sizes = tuple(flatten_sizes)
                k = len(sizes) - 1
                dims = first.shape.dims
                kept = (k >= 1 and type(sizes[-1]) is int and sizes[-1] == -1 and k < len(dims)
                        and all(dim_eq(a, b) is True for a, b in zip(sizes[:k], dims[:k])))
                factors = tuple(dims[k:]) if kept else ()
            if factors and isinstance(flatten_sizes, tuple) and flatten_sizes[:1] == ("flatten",):
                n = len(first.shape.dims)
                start, end = flatten_sizes[1], flatten_sizes[2]
                if type(start) is int and type(end) is int and -n <= start < n and -n <= end < n:
                    factors = tuple(first.shape.dims[start % n:end % n + 1])  # the dims torch multiplies
                else:
                    factors = ()
            origin = Origin("flatten", node, self.seg(node), factors=factors, site=first.origin.site if first.origin else None)
        elif operands and isinstance(operands[0], TensorV) and operands[0].origin is not None:
            origin = Origin("op", node, self.seg(node), site=operands[0].origin.site)
        return self._wrap_output(res.out, origin)

    # ------------------------------------------------------------------ losses and backward
    def _loss(self, name: str, reduction: AV, args: list, kwargs: dict, node: ast.AST) -> AV:
        if len(args) < 2 or not isinstance(args[0], TensorV):
            return TensorV(None)
        red = kwargs.get("reduction", reduction)
        if not isinstance(red, str):
            return TensorV(None)
        target = args[1].shape if isinstance(args[1], TensorV) else None
        try:
            res = O.loss_output_for(name, args[0].shape, target, red)
        except Exception:
            swallowed()
            return TensorV(None)
        origin = Origin("op", node, self.seg(node) if len(self.seg(node)) < 60 else f"{name}(...)")
        return self._wrap_output(res.out if res.error is None else None, origin)

    def _backward(self, t: TensorV, args: list, kwargs: dict, node: ast.Call) -> None:
        if args or "gradient" in kwargs or t.shape is None:
            return
        if O.is_scalar(t.shape) is False:
            f = self.findings.backward_finding(self, t, node)
            if f is not None:
                self._report(f)

    # ------------------------------------------------------------------ findings
    def _layer_error(self, mod: LayerV, inp: TensorV, err: ShapeError, node: ast.Call, frame: Frame) -> None:
        f = self.findings.layer_error(self, mod, inp, err, node, frame)
        if f is not None:
            if "Attention" in mod.layer.cls or "Transformer" in mod.layer.cls:
                f.exc = None  # torch asserts some of these (AssertionError)
            self._report(f)

    def _config_error(self, layer: Layer, err: ShapeError, node: ast.Call, frame: Frame) -> None:
        f = self.findings.config_error(self, layer, err, node, frame)
        if f is not None:
            f.exc = None  # ValueError, AssertionError or RuntimeError, by layer
            self._report(f)

    def _op_error(self, family: str, err: ShapeError, operands: list, node: ast.AST, frame: Frame) -> None:
        f = self.findings.op_error(self, family, err, operands, node, frame)
        if f is not None:
            self._report(f)


@dataclass
class LayerCall:
    """One call of a torch layer during an analysis, for the model summary."""

    label: str
    mod: LayerV
    shape_in: Shape | None
    out: Any
    subst: dict
    error: str = ""  # the layer cannot take its input (the row shows the output as if fixed)


def _compare(a: Any, b: Any) -> int | None:
    """-1, 0 or 1 when ``a`` is below, equal to or above ``b``; only for numbers
    (a constructor symbol may be 0 or negative: ``window_size=0`` switches a branch)."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return (a > b) - (a < b)
    return None


def _shape_pairs(a: Any, c: Any, out: list) -> None:
    """The (symbolic dims, concrete dims) of the shapes found at the same place in
    two argument structures. (A module function: a nested recursive closure is a
    reference cycle, left for the garbage collector.)"""
    if isinstance(a, Shape) and isinstance(c, Shape) and len(a.dims) == len(c.dims):
        out.append((a.dims, c.dims))
    elif isinstance(a, (list, tuple)) and isinstance(c, (list, tuple)) and len(a) == len(c):
        for x, y in zip(a, c):
            _shape_pairs(x, y, out)


def _set_label(v: Any, label: str) -> None:
    """Name a stored module, and the unnamed items of a container after it
    (``self.stem[0]``, ``self.heads['cls']``)."""
    v.label = label
    if type(v) is UnionV:
        for alt in v.alternatives:
            if not alt.label:
                _set_label(alt, label)
    if isinstance(v, SeqV) and v.items is not None:
        pairs = v.items if v.kind == "dict" else list(enumerate(v.items))
        for key, item in pairs:
            if isinstance(item, (LayerV, SeqV, InstanceV)) and not item.label:
                _set_label(item, f"{label}[{key!r}]")


def _value_key(v: Any) -> Any:
    """A hashable stand-in for an argument value, or _NO_KEY when it holds objects
    whose identity matters (modules, lists)."""
    if v is None or isinstance(v, _Unknown):
        return v
    if isinstance(v, (bool, int, float, str)):
        return (type(v).__name__, v)  # True == 1 == 1.0, but not as arguments
    if isinstance(v, Sym):
        return ("sym", v)
    if isinstance(v, TensorV):
        return ("tensor", v.shape)
    if isinstance(v, TupleV):
        items = tuple(_value_key(x) for x in v.items)
        return _NO_KEY if any(x is _NO_KEY for x in items) else ("tuple", items)
    return _NO_KEY


_NO_KEY = object()


def _call_key(args: list, kwargs: dict) -> tuple | None:
    keys = [_value_key(a) for a in args]
    kw = [(k, _value_key(v)) for k, v in sorted(kwargs.items())]
    if any(k is _NO_KEY for k in keys) or any(v is _NO_KEY for _, v in kw):
        return None
    try:
        key = (tuple(keys), tuple(kw))
        hash(key)
    except TypeError:
        return None
    return key


def _merge_out(sym_out: Any, conc_out: Any) -> Any:
    """The symbolic output where it is known, the concrete one where not."""
    if sym_out is None:
        return conc_out
    if isinstance(sym_out, tuple) and isinstance(conc_out, tuple) and len(sym_out) == len(conc_out):
        return tuple(_merge_out(a, b) for a, b in zip(sym_out, conc_out))
    if isinstance(sym_out, Shape) and isinstance(conc_out, Shape):
        if sym_out.prefix == conc_out.prefix and len(sym_out.dims) == len(conc_out.dims):
            return Shape(tuple(c if isinstance(d, _Unknown) else d for d, c in zip(sym_out.dims, conc_out.dims)), sym_out.prefix,
                         sym_out.lead if sym_out.lead == conc_out.lead else None)
        return conc_out if not conc_out.prefix else sym_out
    return sym_out


# Tensor methods that take `(*y.shape[:-1], ...)` as their sizes (a StarSizesV).
_STAR_SIZES_METHODS = frozenset({"view", "reshape"})

# The torch layer a Module class extends, as its `super().__init__(...)` built it.
_TORCH_LAYER = "<torch layer>"
# The items an `nn.Sequential` subclass's `super().__init__(...)` was given (a SeqV);
# for a ModuleDict or ModuleList subclass built with `super().__init__()`, none.
_SEQUENTIAL = "<sequential items>"
# What a container subclass lists of its modules (its `_modules` in order).
_CONTAINER_VIEWS = frozenset({"items", "values", "keys", "children", "named_children"})
# ... and what changes it other than attributes (not modelled: the list is then unknown).
_CONTAINER_CHANGES = frozenset({"append", "extend", "insert", "update", "pop", "popitem", "clear", "setdefault",
                                "__setitem__", "__delitem__", "__iadd__"})


def _sequential_items(inst: InstanceV) -> list | None:
    """What an instance of an ``nn.Sequential`` subclass without a ``forward`` of its
    own runs, in order: the modules given to ``super().__init__``, then the modules
    assigned to its attributes (torch's ``_modules`` order). None when a value that
    may be a module is not known."""
    entries = _container_entries(inst)
    return [v for _, v in entries] if entries is not None else None


def _container_entries(inst: InstanceV) -> list | None:
    """The (name, module) pairs of an instance of a container subclass (Sequential,
    ModuleList, ModuleDict), in torch's ``_modules`` order: those given to
    ``super().__init__`` (named "0", "1", ...), then those its methods registered
    (`self.x = ...`, `self.add_module(name, ...)`). None when that is not known: no
    items recorded, or a value that may be a module is not known."""
    first = inst.attrs.get(_SEQUENTIAL)
    if not isinstance(first, SeqV) or first.items is None:
        return None
    entries = [(str(i), v) for i, v in enumerate(first.items)]
    for key, v in inst.attrs.items():
        if key.startswith("<"):
            continue
        if isinstance(v, (LayerV, SeqV, UnionV)) or (type(v) is InstanceV and v.cls.is_module):
            entries.append((key, v))
        elif not (v is None or isinstance(v, (int, float, str, bool, TensorV, TupleV, FuncV))):
            return None  # an unknown value may be a module
    return entries


def _extra_keywords(a: ast.arguments, kwargs: dict) -> AV:
    """What a ``**kwargs`` parameter holds: the keywords of the call that name no
    other parameter (a dict with known keys), unknown after a ``**`` splat of an unknown
    dict."""
    if "**" in kwargs:
        return UNKNOWN
    named = {p.arg for p in a.args + a.kwonlyargs}
    return _DictV({k: v for k, v in kwargs.items() if k not in named and k != "*"})


def _known_keywords(v: Any) -> dict | None:
    """The keywords a ``**`` splat passes, when it is a dict whose keys are known."""
    if type(v) is _DictV:
        return dict(v.items)
    if isinstance(v, SeqV) and v.kind == "dict" and v.items is not None and all(isinstance(k, str) for k, _ in v.items):
        return dict(v.items)
    return None


def _holds_embedding(v: Any, seen: set) -> bool:
    """Does a module (or a container of modules) hold an ``nn.Embedding`` (or a
    subclass) that a foreign ``tie_weights`` could tie a ``Linear`` to? A module list
    not known may; an attribute whose value is not known is taken as what it almost
    always is in model code (a size, an option), not an embedding."""
    if id(v) in seen:
        return False
    seen.add(id(v))
    if type(v) is LayerV:
        return v.layer.cls in ("torch.nn.Embedding", "torch.nn.EmbeddingBag")
    if type(v) is InstanceV:
        if not v.cls.is_module:
            return False
        if v.cls.torch_bases & {"torch.nn.Embedding", "torch.nn.EmbeddingBag"}:
            return True
        return any(_holds_embedding(x, seen) for k, x in v.attrs.items() if not k.startswith("<") or k == _SEQUENTIAL)
    if type(v) is SeqV:
        if v.items is None:
            return True
        return any(_holds_embedding(x[1] if v.kind == "dict" else x, seen) for x in v.items)
    if type(v) is UnionV:
        return any(isinstance(x, _Unknown) or _holds_embedding(x, seen) for x in v.alternatives)
    return False


def _forget_attributes(inst: InstanceV) -> None:
    """An attribute stored under a name not known: any attribute may be it, and a
    container subclass's list of modules is not known any more."""
    attrs = {k: v for k, v in inst.attrs.items() if k.startswith("<")}
    if _SEQUENTIAL in attrs:
        attrs[_SEQUENTIAL] = UNKNOWN
    inst.attrs = attrs  # (a new dict, as set_attr makes)


def _store_attr(inst: InstanceV, name: str, v: Any, on_self: bool) -> None:
    """``obj.name = v`` (or ``setattr(obj, "name", v)``) on an instance; a module stored
    gets the label it is shown by (``self.fc``)."""
    if isinstance(v, (LayerV, SeqV, InstanceV, UnionV)) and not v.label:
        _set_label(v, f"self.{name}" if on_self else name)
    set_attr(inst, name, v)


def _layer_attribute(layer: LayerV, attr: str, node: ast.AST, label: str) -> Any:
    """A torch layer's constructor argument (``conv.out_channels``) or its ``weight`` /
    ``bias`` tensor; _NOT_FOUND for anything else."""
    if attr in layer.layer.params:
        return layer.layer.params[attr]
    if attr in ("weight", "bias"):
        shapes = L.param_shapes(layer.layer)
        if attr in shapes:
            return TensorV(shapes[attr], Origin("layer", node, f"{label or layer.layer.short}.{attr}", layer.node))
    return _NOT_FOUND


def _as_instance(layer: LayerV, inst: InstanceV) -> LayerV:
    """The torch layer of a subclass instance, named as the instance (`self.norm`)."""
    return LayerV(layer.layer, layer.node, inst.label or layer.label, layer.chain) if inst.label else layer
_CHECKPOINT_KEYWORDS = frozenset({"use_reentrant", "preserve_rng_state", "context_fn", "determinism_check", "debug"})


def _params_of(fn: ast.AST | None) -> list:
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return []
    a = fn.args
    return a.posonlyargs + a.args + a.kwonlyargs


def _line_of(node: ast.AST | None) -> int:
    return getattr(node, "lineno", 0)


@dataclass
class _MemoRun:
    """A construction or forward run whose result may be memoised (see Interpreter._left_out)."""

    flows: int  # len(Interpreter.flows) when it began: the caller's flows are those before
    catching: int  # likewise for the try bodies under way
    dead: bool  # the unit had already stopped reporting
    unsafe: bool = False  # a finding left out because of the caller's context: do not reuse
    raised: str | None | bool = False  # the run surely raises this (None: a shape error of some class)


class CallSite:
    """Which analysis of a module: the one for the call at ``node`` (``str``: "call
    at line N", with the line where the call is now). Equal for the same node."""

    __slots__ = ("node",)

    def __init__(self, node: ast.AST) -> None:
        self.node = node

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CallSite) and other.node is self.node

    def __hash__(self) -> int:
        return id(self.node)

    def __str__(self) -> str:
        return f"call at line {_line_of(self.node)}"

    __repr__ = __str__


_LIST_MUTATORS = frozenset("append extend insert pop remove clear sort reverse __setitem__ __delitem__ __iadd__".split())
_FUNCTIONAL_LAYERS = {"conv1d": "torch.nn.Conv1d", "conv2d": "torch.nn.Conv2d", "conv3d": "torch.nn.Conv3d"}
_FUNCTIONAL_POOLS = {
    **{f"max_pool{n}d": f"torch.nn.MaxPool{n}d" for n in (1, 2, 3)},
    **{f"avg_pool{n}d": f"torch.nn.AvgPool{n}d" for n in (1, 2, 3)},
    **{f"adaptive_avg_pool{n}d": f"torch.nn.AdaptiveAvgPool{n}d" for n in (1, 2, 3)},
    **{f"adaptive_max_pool{n}d": f"torch.nn.AdaptiveMaxPool{n}d" for n in (1, 2, 3)},
    "pixel_shuffle": "torch.nn.PixelShuffle", "pixel_unshuffle": "torch.nn.PixelUnshuffle",
}

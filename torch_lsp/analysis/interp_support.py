"""What the shape interpreter's parts share: findings and their reporting, analysis units'
results, the shape index, frames, and the small helpers and tables of the interpreter
(``interpreter.py`` and its ``interp_*`` mixins)."""
from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from torch_lsp.analysis import torch_api as T
from torch_lsp.analysis.shapes import UNKNOWN, Shape, Sym, _Unknown, join_shapes
from torch_lsp.analysis.values import (
    AV, BoundMethodV, ClassV, FuncV, InstanceV, LayerV, Origin, PartialV, SeqV, TensorV, TupleV, UnionV, _DictV, set_attr,
)

from torch_lsp.analysis import layers as L


if TYPE_CHECKING:
    from torch_lsp.analysis.interpreter import Interpreter  # noqa: F401

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


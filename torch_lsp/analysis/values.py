"""The abstract values of the shape interpreter (see ``interpreter.py``), and how two
of them join where control flow meets."""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from torch_lsp.analysis.shapes import UNKNOWN, Shape, dim_eq, is_dim, join_shapes
from torch_lsp.analysis.shape_types import Layer

@dataclass(eq=False)
class Origin:
    """Where a tensor's shape was decided: for messages, related information, hovers."""

    what: str  # "call site", "layer", "op", "factory", "argument", "flatten"
    node: ast.AST | None  # the expression (in `path`'s file)
    label: str  # "self.fc1", "torch.randn(4, 10)", "x.view(x.size(0), -1)"
    layer_node: ast.AST | None = None  # the producing layer's constructor call
    factors: tuple = ()  # for flatten/view: the dims multiplied ("16 * 5 * 5")
    site: "Origin | None" = None  # the call site whose input this shape follows from
    chain: tuple = ()  # for "layer": the producing layer's construction chain (see LayerV)


@dataclass(eq=False)
class TensorV:
    shape: Shape | None
    origin: Origin | None = None
    parameter: bool = False  # an nn.Parameter (counted by the summary)
    # What an operation already found failing would return (a run never has it):
    # nothing is derived from it, so no second diagnostic comes from the first.
    failed: bool = False
    # Shape not known, `x.shape[:-1]` taken: the symbol standing for those sizes
    # (Shape.lead), which a Linear that accepts x gives its input and output.
    lead: Any = None


def failed_tensor() -> "TensorV":
    return TensorV(None, failed=True)


def has_failed(values) -> bool:
    """Is one of ``values`` (or an item of a tuple or list among them) a failed tensor?"""
    for v in values:
        if type(v) is TensorV:
            if v.failed:
                return True
        elif type(v) is TupleV:
            for x in v.items:
                if type(x) is TensorV and x.failed:
                    return True
    return False


@dataclass(eq=False)
class TupleV:
    items: tuple
    # For a list display (`layers = []`): the uncertain region it was made in (see
    # Interpreter.region). `append`/`extend` change it in place only in that region;
    # anywhere else (an `if` whose condition is not known, a loop whose iterations
    # are not) the list is forgotten. None: a tuple or any other value (never changed).
    region: int | None = None
    epoch: int = 0  # Interpreter.epoch when it was made: a path ended since, it is not changed in place
    shape_of: Any = None  # `x.shape` of a tensor of known rank: that TensorV (unknown sizes get names when unpacked)


@dataclass(eq=False)
class LayerV:
    layer: Layer
    node: ast.AST | None  # the constructor call
    label: str = ""  # "self.fc1" once stored
    # The helper calls the constructor ran inside, outermost first: one CallEntry per
    # invocation (compared by identity), so a finding can move from a helper's
    # parameter to the argument its caller passed.
    chain: tuple = ()


@dataclass(eq=False)
class CallEntry:
    fn: ast.FunctionDef
    node: ast.Call
    offset: int  # parameters before the first call argument (1 for self)


@dataclass(eq=False)
class SeqV:
    kind: str  # "sequential" | "list" | "dict"
    items: list  # module values (dict: list of (key, value))
    node: ast.AST | None
    label: str = ""


@dataclass(eq=False)
class InstanceV:
    cls: Any  # modules.ClassInfo
    attrs: dict = field(default_factory=dict)
    node: ast.AST | None = None
    label: str = ""
    site: Origin | None = None  # the construction site
    built_here: bool = True  # constructed by the checked file's code (not inside a followed file's)
    # The instance cache returned this value for another construction with the same
    # arguments too (a loop's `Block(dim)`): a run makes distinct objects, so where it is
    # reached twice the analysis cannot tell one shared module from two equal ones.
    reused: bool = False


@dataclass(eq=False)
class ClassV:
    info: Any  # modules.ClassInfo


@dataclass(eq=False)
class FuncV:
    node: ast.FunctionDef  # or an ast.Lambda
    self_value: Any = None  # bound method
    closure: Any = None  # a weak reference to the Frame a nested function or lambda was made in (its free names)


@dataclass(eq=False)
class LossV:
    name: str  # functional name, e.g. "mse_loss"
    reduction: Any


@dataclass(eq=False)
class BoundMethodV:
    """`x.view`, `torch.cat`, ...: resolved at call time."""

    base: Any
    name: str


AV = Any


def is_tensor(v: AV) -> bool:
    return isinstance(v, TensorV)



@dataclass(eq=False)
class _ShapeOf:
    """``x.shape`` / ``x.size()`` of a tensor whose rank is not known."""

    tensor: TensorV


@dataclass(eq=False)
class StarSizesV:
    """Sizes that start with the leading sizes of a tensor of unknown rank:
    ``x.shape[:-1]`` (``items`` empty) or ``(*x.shape[:-1], -1, d)``. ``lead`` is the
    symbol of ``Shape.lead`` standing for the product of those leading sizes. Only
    views and reshapes use it; anything else takes it as unknown."""

    lead: Any
    items: tuple


@dataclass(eq=False)
class _OrderedDictV:
    items: list


@dataclass(eq=False)
class PartialV:
    """``functools.partial(f, *args, **kwargs)``: calling it calls ``f`` with them first."""

    func: Any
    args: tuple
    kwargs: dict


def _widen(v: Any) -> Any:
    """A value that changes from one loop iteration to the next: a tensor keeps
    being a tensor (of unknown shape), anything else is unknown."""
    if isinstance(v, TensorV):
        return TensorV(None, v.origin)
    return UNKNOWN


def _same_value(x: Any, y: Any) -> bool:
    """The same value as far as a loop's fixed point is concerned: the same object, a
    tensor of the same shape, or an equal dimension."""
    if x is y:
        return True
    if isinstance(x, TensorV) and isinstance(y, TensorV):
        return x.shape == y.shape
    return is_dim(x) and is_dim(y) and type(x) is type(y) and x == y


def _widen_changed(start: dict, after: dict) -> dict:
    """``after`` with every value that is not still ``start``'s widened."""
    return {k: (v if k in start and v is start[k] else _widen(v)) for k, v in after.items()}


@dataclass(eq=False)
class UnionV:
    """One of several modules, chosen by a condition the engine cannot decide
    (``self.norm = norm_layer(dim) if use_norm else nn.Identity()``): a call runs each,
    each as a path a run may not take, and gives the join of their outputs."""

    alternatives: tuple
    label: str = ""


MAX_ALTERNATIVES = 4


def _alternatives(v: Any) -> tuple:
    return v.alternatives if type(v) is UnionV else (v,)


def join_values(a: Any, b: Any) -> Any:
    """The value that holds whichever of ``a`` and ``b`` the program has (where two
    paths meet): the same object, a tensor of the shapes' join, an equal dimension or
    string; a tensor or None is an optional tensor, kept as the tensor; anything else
    is unknown."""
    if a is b:
        return a
    if isinstance(a, TensorV) and isinstance(b, TensorV):
        if a.failed:  # the path that has it raised: only the other one reaches the join
            return b
        if b.failed:
            return a
        return TensorV(join_shapes(a.shape, b.shape), a.origin)
    if is_dim(a) and is_dim(b):
        return a if dim_eq(a, b) is True else UNKNOWN
    if a is None and isinstance(b, TensorV):
        return TensorV(b.shape, b.origin, failed=b.failed)
    if b is None and isinstance(a, TensorV):
        return TensorV(a.shape, a.origin, failed=a.failed)
    if isinstance(a, str) and isinstance(b, str) and a == b:
        return a
    if type(a) is BoundMethodV and type(b) is BoundMethodV and a.base is None and b.base is None and a.name == b.name:
        return a  # the same function or class of a module (`norm_layer = nn.BatchNorm2d` on two paths)
    if isinstance(a, (LayerV, SeqV, InstanceV, UnionV)) and isinstance(b, (LayerV, SeqV, InstanceV, UnionV)):
        alts = list(_alternatives(a))
        for x in _alternatives(b):
            if not any(x is y for y in alts):
                alts.append(x)
        return UnionV(tuple(alts)) if len(alts) <= MAX_ALTERNATIVES else UNKNOWN
    return UNKNOWN


def join_envs(a: dict, b: dict) -> dict:
    """Two environments joined name by name; a name bound on one path only keeps its
    value (reading it on the other path would raise NameError). The result may be
    ``a`` itself when nothing changes (dicts of attributes are never changed in place,
    see ``set_attr``)."""
    if a is b:
        return a
    out = {}
    for k, x in a.items():
        if k in b:
            y = b[k]
            out[k] = x if x is y else join_values(x, y)
        else:
            out[k] = x
    for k, y in b.items():
        if k not in a:
            out[k] = y
    return out


def set_attr(inst: "InstanceV", name: str, value: Any) -> None:
    """Set an attribute of an instance. Its dict is replaced, never changed in place:
    the states the control flow keeps share it without copying."""
    attrs = dict(inst.attrs)
    attrs[name] = value
    inst.attrs = attrs


def del_attr(inst: "InstanceV", name: str) -> None:
    if name in inst.attrs:
        attrs = dict(inst.attrs)
        del attrs[name]
        inst.attrs = attrs


@dataclass(eq=False)
class _DictV:
    """A dict display with string keys (``dd = {"device": device, "dtype": dtype}``):
    what a ``**dd`` splat passes. Changed in place (``dd[k] = v``, ``dd.update(...)``),
    it is forgotten."""

    items: dict

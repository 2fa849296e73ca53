"""The ``LayerSpec`` of a layer family, the registry (short class name -> spec) built
from every family module's ``SPEC``, and the public functions as lookups in it.

A ``LayerSpec`` holds what torch-lsp knows about one family of ``torch.nn`` layers:

- ``signatures``: each member's constructor signature as torch 2.13 declares it
  (``bind`` parses them; ``tests/test_layers.py`` compares them with torch's);
- ``normalise(cls, params)``: rewrites the bound arguments in place (``3 -> (3, 3)``);
- ``config``: per member, the check of arguments that fail whatever the input;
- ``forward``: per member, the shape function (a member without one is not ``SUPPORTED``);
- ``expected_input(layer)``: the input it accepts, as a pattern (None: anything);
- ``entries(layer)``: ``(name, shape, is_parameter)`` of its parameters and buffers
  (None: not known); ``param_count(layer)`` when counting needs more than the entries;
- ``describe(layer)``: the hover text (None: ``Name()``).

A hook left out means the default written next to it. The hooks receive only the
family's own members.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from torch_lsp.analysis.shape_types import Layer, Result, ShapeError
from torch_lsp.analysis.shapes import UNKNOWN, Dim, Shape

ForwardFn = Callable[[Layer, list, dict], Result]
ConfigFn = Callable[[Layer], list[ShapeError]]


@dataclass(frozen=True)
class LayerSpec:
    """One family of layers (see the module docstring)."""

    family: str
    signatures: Mapping[str, str]
    forward: Mapping[str, ForwardFn]
    config: Mapping[str, ConfigFn] = field(default_factory=dict)
    normalise: Callable[[str, dict[str, Any]], None] | None = None
    expected_input: Callable[[Layer], Shape | None] | None = None
    entries: Callable[[Layer], list[tuple] | None] | None = None
    param_count: Callable[[Layer], Dim] | None = None
    describe: Callable[[Layer], str | None] | None = None


# The families import LayerSpec from this module, so they are imported after it.
from torch_lsp.analysis.layers import (  # noqa: E402
    attention,
    conv,
    distance,
    elementwise,
    linear,
    norm,
    pool,
    recurrent,
    reshape,
    resize,
)
from torch_lsp.analysis.layers._common import (  # noqa: E402
    _REQUIRED,
    NN,
    _count,
    _Entry,
    _Param,
    _parse_spec,
    _plain,
    _short,
)

FAMILIES: tuple[LayerSpec, ...] = (
    linear.SPEC,
    conv.SPEC,
    pool.SPEC,
    norm.SPEC,
    elementwise.SPEC,
    reshape.SPEC,
    recurrent.SPEC,
    attention.SPEC,
    resize.SPEC,
    distance.SPEC,
)


def _build(families: tuple[LayerSpec, ...]) -> dict[str, LayerSpec]:
    registry: dict[str, LayerSpec] = {}
    for spec in families:
        for name in spec.signatures:
            if name in registry:
                raise ValueError(f"{name} is in two layer families: {registry[name].family} and {spec.family}")
            registry[name] = spec
        stray = (set(spec.forward) | set(spec.config)) - set(spec.signatures)
        if stray:
            raise ValueError(f"layer family {spec.family} has shape functions or checks for layers without a signature: {sorted(stray)}")
    return registry


# Short class name (``Conv2d``) -> the spec of its family.
REGISTRY: dict[str, LayerSpec] = _build(FAMILIES)

SIGNATURES: dict[str, list[_Param] | None] = {NN + k: _parse_spec(v) for spec in FAMILIES for k, v in spec.signatures.items()}

# Positional order of each layer's constructor parameters (for placing fixes).
PARAM_ORDER: dict[str, tuple[str, ...]] = {
    cls: tuple(p.name for p in sig if not p.kwonly) for cls, sig in SIGNATURES.items() if sig is not None
}

_FORWARD: dict[str, ForwardFn] = {NN + name: fn for spec in FAMILIES for name, fn in spec.forward.items()}

SUPPORTED: frozenset[str] = frozenset(_FORWARD)  # torch's layers

# An elementwise activation picked by name from a model library's table
# (`ACT2FN[config.hidden_act]`, see ``torch_api.ACTIVATION_TABLES``): which one is not
# known, only that it keeps the shape. Not a torch class: built directly, never bound.
ACTIVATION = "activation"
_FORWARD[ACTIVATION] = elementwise._same_forward


# =============================================================================== bind


def bind(cls: str, args: list, kwargs: dict) -> Layer | None:
    """Bind constructor arguments to torch's parameter names (defaults filled in).

    ``kwargs={"**": UNKNOWN}`` stands for a ``**kwargs`` splat: the parameters not
    given otherwise become UNKNOWN. Returns None when the class is not known here or
    the call cannot bind (torch would raise ``TypeError``)."""
    if cls not in SIGNATURES:
        return None
    sig = SIGNATURES[cls]
    if sig is None:  # (*args, **kwargs): anything goes
        return Layer(cls, {})
    args = [_plain(a) for a in args]
    kwargs = {k: _plain(v) for k, v in kwargs.items()}
    positional = [p for p in sig if not p.kwonly]
    if len(args) > len(positional):
        return None
    params: dict[str, Any] = {}
    for p, a in zip(positional, args):
        params[p.name] = a
    names = {p.name for p in sig}
    splat = "**" in kwargs
    for k, v in kwargs.items():
        if k == "**":
            continue
        if k not in names or k in params:
            return None
        params[k] = v
    for p in sig:
        if p.name not in params:
            if splat:
                params[p.name] = UNKNOWN
            elif p.default is _REQUIRED:
                return None
            else:
                params[p.name] = p.default
    _normalise(cls, params)
    return Layer(cls, params)


def _normalise(cls: str, p: dict[str, Any]) -> None:
    spec = REGISTRY.get(_short(cls))
    if spec is not None and spec.normalise is not None:
        spec.normalise(cls, p)


# =============================================================================== config errors


def config_errors(layer: Layer) -> list[ShapeError]:
    """Arguments that make the layer fail whatever its input (TL209)."""
    short = _short(layer.cls)
    spec = REGISTRY.get(short)
    fn = spec.config.get(short) if spec is not None else None
    if fn is None:
        return []
    try:
        return fn(layer)
    except (TypeError, ValueError, ZeroDivisionError, AttributeError):
        return []


# =============================================================================== forward


def forward(layer: Layer, inputs: list[Shape | None], kwargs: dict | None = None) -> Result:
    """The output of calling ``layer`` on tensors of shapes ``inputs`` (None: unknown),
    or the ShapeError that provably happens."""
    fn = _FORWARD.get(layer.cls)
    if fn is None:
        return Result.unknown()
    errors = config_errors(layer)
    if errors:
        return Result(None, errors[0])
    inputs = list(inputs) if inputs else [None]
    kwargs = {k: _plain(v) for k, v in kwargs.items()} if kwargs else {}  # output_size=(12, 12)
    try:
        return fn(layer, inputs, kwargs)
    except (TypeError, ValueError, ZeroDivisionError, IndexError, AttributeError, OverflowError):
        return Result.unknown()  # an odd abstract argument: say nothing


# =============================================================================== expected input


def expected_input(layer: Layer) -> Shape | None:
    """What the layer accepts, as a pattern (for hovers and for guessing a forward
    argument's shape from its first consumer); None when it takes anything."""
    spec = REGISTRY.get(layer.short)
    if spec is None or spec.expected_input is None:
        return None
    try:
        return spec.expected_input(layer)
    except (KeyError, TypeError):
        return None


# =============================================================================== parameters


def param_entries(layer: Layer) -> list[_Entry] | None:
    """(name, shape, is_parameter) of the layer's parameters and buffers; None when
    not known (an argument that decides which ones exist is unknown)."""
    spec = REGISTRY.get(layer.short)
    if spec is None or spec.entries is None:
        return [] if layer.cls in SIGNATURES else None
    return spec.entries(layer)


def param_shapes(layer: Layer) -> dict[str, Shape]:
    """Shapes of the layer's parameters and buffers by name (``weight``, ``bias``,
    ``running_mean``, ``in_proj_weight``, ``weight_ih_l0`` ...). Layers with an unknown
    number of repeated parts (``num_layers``) list the first one."""
    try:
        entries = param_entries(layer)
    except (KeyError, TypeError):
        return {}
    return {name: s for name, s, _ in entries or []}


def param_count(layer: Layer) -> Dim:
    """The number of parameter elements (buffers excluded); symbolic when sizes are."""
    try:
        spec = REGISTRY.get(layer.short)
        if spec is not None and spec.param_count is not None:
            return spec.param_count(layer)
        return _count(param_entries(layer))
    except (KeyError, TypeError):
        return UNKNOWN


# =============================================================================== signature


def signature(layer: Layer) -> str:
    """A short description for hovers: ``Linear(400 → 120)``,
    ``Conv2d(3 → 16, kernel 5×5, stride 1)``."""
    short = layer.short
    spec = REGISTRY.get(short)
    text = None
    try:
        if spec is not None and spec.describe is not None:
            text = spec.describe(layer)
    except (KeyError, TypeError):
        pass
    return text if text is not None else f"{short}()"


__all__ = [
    "ACTIVATION",
    "FAMILIES",
    "PARAM_ORDER",
    "REGISTRY",
    "SIGNATURES",
    "SUPPORTED",
    "LayerSpec",
    "bind",
    "config_errors",
    "expected_input",
    "forward",
    "param_count",
    "param_entries",
    "param_shapes",
    "signature",
    "_REQUIRED",
]

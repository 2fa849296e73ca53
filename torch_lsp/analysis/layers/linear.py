"""``nn.Linear``, ``nn.Bilinear``, ``nn.LazyLinear`` and ``nn.Identity``.

A family of ``torch_lsp.analysis.layers`` (see the package docstring for what a spec holds).
"""
from __future__ import annotations

from torch_lsp.analysis.layers._common import (
    _VARARGS,
    _d,
    _Entry,
    _fail,
    _features_error,
    _linear_entries,
    _v,
)
from torch_lsp.analysis.layers.spec import LayerSpec
from torch_lsp.analysis.shape_types import Layer, Result
from torch_lsp.analysis.shapes import (
    UNKNOWN,
    Shape,
    dim_ne,
)

SIGNATURES: dict[str, str] = {
    "Linear": "in_features, out_features, bias=True, device=None, dtype=None",
    "Bilinear": "in1_features, in2_features, out_features, bias=True, device=None, dtype=None",
    "LazyLinear": "out_features, bias=True, device=None, dtype=None",
    "Identity": _VARARGS,
}


def _linear_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    p = layer.params
    x = inputs[0]
    out_f = _d(p["out_features"])
    if x is None:
        return Result(Shape.suffix(out_f))
    if not x.prefix and not x.dims:
        return _fail("rank", "expects an input with at least 1 dimension (the features), but receives a 0-D tensor", got=0, want=1)
    if x.dims and layer.short == "Linear":
        in_f = _d(p["in_features"])
        if dim_ne(x.dims[-1], in_f):
            return _features_error("in_features", in_f, x.dims[-1])
    if not x.dims:
        return Result(Shape.suffix(out_f))
    return Result(x.replace_last(out_f))


def _bilinear_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    p = layer.params
    x1 = inputs[0]
    x2 = inputs[1] if len(inputs) > 1 else None
    out_f = _d(p["out_features"])
    for x, name, which in ((x1, "in1_features", "first"), (x2, "in2_features", "second")):
        if x is None:
            continue
        if not x.prefix and not x.dims:
            return _fail("rank", f"expects the {which} input to have at least 1 dimension, but receives a 0-D tensor")
        if x.dims and dim_ne(x.dims[-1], _d(p[name])):
            return _features_error(name, _d(p[name]), x.dims[-1], f"features in the {which} input")
    if x1 is None or not x1.dims:
        return Result(Shape.suffix(out_f))
    return Result(x1.replace_last(out_f))


def _identity_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    return Result(inputs[0])


def _expected_input(layer: Layer) -> Shape | None:
    p = layer.params
    short = layer.short
    if short in ("Linear", "Bilinear"):
        return Shape.suffix(_d(p["in_features" if short == "Linear" else "in1_features"]))
    return None


def _entries(layer: Layer) -> list[_Entry] | None:
    p = layer.params
    short = layer.short
    U = UNKNOWN
    if short in ("Linear", "LazyLinear"):
        return _linear_entries(_d(p["out_features"]), _d(p.get("in_features", U)), p.get("bias"))
    if short == "Bilinear":
        e = [("weight", Shape.of(_d(p["out_features"]), _d(p["in1_features"]), _d(p["in2_features"])), True)]
        if p.get("bias") is not False:
            e.append(("bias", Shape.of(_d(p["out_features"])), True))
        return e
    return []


def _describe(layer: Layer) -> str | None:
    p = layer.params
    short = layer.short
    if short in ("Linear", "LazyLinear"):
        return f"{short}({_v(p.get('in_features', UNKNOWN))} → {_v(p['out_features'])}{'' if p.get('bias') is not False else ', no bias'})"
    if short == "Bilinear":
        return f"Bilinear({_v(p['in1_features'])}, {_v(p['in2_features'])} → {_v(p['out_features'])})"
    return None


SPEC: LayerSpec = LayerSpec(
    family="linear",
    signatures=SIGNATURES,
    forward={
        "Linear": _linear_forward,
        "LazyLinear": _linear_forward,
        "Bilinear": _bilinear_forward,
        "Identity": _identity_forward,
    },
    expected_input=_expected_input,
    entries=_entries,
    describe=_describe,
)

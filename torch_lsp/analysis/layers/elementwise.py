"""Elementwise layers: shape-preserving activations and dropouts, ``nn.Dropout1d``,
``nn.PReLU``, the softmaxes and ``nn.GLU``.

A family of ``torch_lsp.analysis.layers`` (see the package docstring for what a spec holds).
"""
from __future__ import annotations

from torch_lsp.analysis import ops as O
from torch_lsp.analysis.layers._common import (
    _VARARGS,
    _at,
    _d,
    _dim_error,
    _divides,
    _Entry,
    _fail,
    _fdiv,
    _int,
    _need_rank,
    _norm_dim,
    _v,
    _with_dim,
)
from torch_lsp.analysis.layers.spec import LayerSpec
from torch_lsp.analysis.shape_types import Layer, Result
from torch_lsp.analysis.shapes import (
    UNKNOWN,
    Shape,
    dim_eq,
    dim_ne,
    dim_str,
)

SIGNATURES: dict[str, str] = {
    **{n: "p=0.5, inplace=False" for n in "Dropout Dropout1d Dropout2d Dropout3d AlphaDropout FeatureAlphaDropout".split()},
    **{n: "inplace=False" for n in "ReLU ReLU6 SELU SiLU Mish Hardswish Hardsigmoid".split()},
    **{n: _VARARGS for n in "Sigmoid Tanh Tanhshrink Softsign LogSigmoid Softmax2d".split()},
    "LeakyReLU": "negative_slope=0.01, inplace=False",
    "ELU": "alpha=1.0, inplace=False",
    "CELU": "alpha=1.0, inplace=False",
    "GELU": "approximate='none'",
    "Hardtanh": "min_val=-1.0, max_val=1.0, inplace=False, min_value=None, max_value=None",
    "Hardshrink": "lambd=0.5",
    "Softshrink": "lambd=0.5",
    "Softplus": "beta=1.0, threshold=20.0",
    "Threshold": "threshold, value, inplace=False",
    "PReLU": "num_parameters=1, init=0.25, device=None, dtype=None",
    "RReLU": "lower=0.125, upper=0.3333333333333333, inplace=False",
    "GLU": "dim=-1",
    "Softmax": "dim=None",
    "Softmin": "dim=None",
    "LogSoftmax": "dim=None",
}


_SHAPE_PRESERVING = """
    ReLU ReLU6 LeakyReLU ELU SELU CELU GELU SiLU Mish Sigmoid Tanh Hardtanh Hardswish Hardsigmoid Hardshrink
    Softshrink Tanhshrink Softsign Softplus LogSigmoid Threshold RReLU Dropout Dropout2d Dropout3d AlphaDropout
    FeatureAlphaDropout
""".split()


def _same_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    return Result(inputs[0])


def _dropout1d_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    x = inputs[0]
    return _need_rank(x, (2, 3)) or Result(x)


def _prelu_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    x = inputs[0]
    num = _d(layer.params["num_parameters"])
    if x is None or dim_eq(num, 1) is True:
        return Result(x)
    if not x.prefix and not x.dims:
        if dim_ne(num, 1):
            return _fail("rank", "with num_parameters > 1 expects an input with at least 1 dimension, but receives a 0-D tensor")
        return Result(x)
    chan = _at(x, 1) if x.prefix or len(x.dims) > 1 else 1
    if dim_ne(chan, num):
        return _fail(
            "channels",
            f"has {dim_str(num)} parameters (num_parameters), one per channel, but receives {dim_str(chan)} channels",
            param="num_parameters",
            expected=chan,
            got=chan,
            want=num,
        )
    return Result(x)


def _softmax_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    x = inputs[0]
    if layer.short == "Softmax2d":
        return _need_rank(x, (3, 4)) or Result(x)
    dim = _int(layer.params.get("dim"))  # Softmax, Softmin, LogSoftmax: F.softmax along dim
    return O.softmax(x, dim)


def _glu_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    x = inputs[0]
    dim = _int(layer.params.get("dim"))
    if x is None or dim is None:
        return Result(None)
    if not x.prefix and not x.dims:
        return _fail("rank", "cannot halve a 0-D tensor")
    if x.prefix:
        if dim >= 0 or -dim > len(x.dims):
            return Result(None)
        i = len(x.dims) + dim
    else:
        nd = _norm_dim(dim, len(x.dims))
        if nd is None:
            return _dim_error(dim, x)
        i = nd
    size = x.dims[i]
    if _divides(size, 2) is False:
        return _fail("features", f"halves dimension {dim}, whose size {dim_str(size)} is odd", got=size)
    return Result(_with_dim(x, i, _fdiv(size, 2)))


def _expected_input(layer: Layer) -> Shape | None:
    U = UNKNOWN
    if layer.short == "Softmax2d":
        return Shape.suffix(U, U, U)
    return None


def _entries(layer: Layer) -> list[_Entry] | None:
    p = layer.params
    if layer.short == "PReLU":
        return [("weight", Shape.of(_d(p["num_parameters"])), True)]
    return []


def _describe(layer: Layer) -> str | None:
    p = layer.params
    short = layer.short
    if short.startswith(("Dropout", "AlphaDropout", "FeatureAlphaDropout")):
        return f"{short}(p={_v(p['p'])})"
    if short in ("Softmax", "Softmin", "LogSoftmax", "GLU"):
        return f"{short}(dim={_v(p['dim'])})"
    if short == "PReLU":
        return f"PReLU({_v(p['num_parameters'])})"
    return None


SPEC: LayerSpec = LayerSpec(
    family="elementwise",
    signatures=SIGNATURES,
    forward={
        **{n: _same_forward for n in _SHAPE_PRESERVING},
        "Dropout1d": _dropout1d_forward,
        "PReLU": _prelu_forward,
        "GLU": _glu_forward,
        "Softmax": _softmax_forward,
        "Softmin": _softmax_forward,
        "LogSoftmax": _softmax_forward,
        "Softmax2d": _softmax_forward,
    },
    expected_input=_expected_input,
    entries=_entries,
    describe=_describe,
)

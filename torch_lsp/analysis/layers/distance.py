"""Distances: ``nn.CosineSimilarity`` and ``nn.PairwiseDistance``.

A family of ``torch_lsp.analysis.layers`` (see the package docstring for what a spec holds).
"""
from __future__ import annotations

from torch_lsp.analysis.layers._common import (
    _int,
    _norm_dim,
)
from torch_lsp.analysis.layers.spec import LayerSpec
from torch_lsp.analysis.shape_types import Layer, Result
from torch_lsp.analysis.shapes import (
    UNKNOWN,
    Shape,
    dim_eq,
)

SIGNATURES: dict[str, str] = {
    "CosineSimilarity": "dim=1, eps=1e-08",
    "PairwiseDistance": "p=2.0, eps=1e-06, keepdim=False",
}


def _broadcast(a: Shape, b: Shape) -> Shape | None:
    if a.prefix or b.prefix:
        return None
    n = max(len(a.dims), len(b.dims))
    da = (1,) * (n - len(a.dims)) + tuple(a.dims)
    db = (1,) * (n - len(b.dims)) + tuple(b.dims)
    out = []
    for x, y in zip(da, db):
        if dim_eq(x, y) is True or dim_eq(y, 1) is True:
            out.append(x)
        elif dim_eq(x, 1) is True:
            out.append(y)
        else:
            out.append(UNKNOWN)
    return Shape(tuple(out))


def _distance_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    a = inputs[0]
    b = inputs[1] if len(inputs) > 1 else None
    if a is None or b is None:
        return Result(None)
    s = _broadcast(a, b)
    if s is None or not s.dims:
        return Result(s)
    if layer.short == "PairwiseDistance":
        keep = layer.params.get("keepdim")
        if keep is True:
            return Result(s.replace_last(1))
        return Result(Shape(s.dims[:-1])) if keep is False else Result(None)
    dim = _int(layer.params.get("dim"))
    i = _norm_dim(dim, len(s.dims)) if dim is not None else None
    if i is None:
        return Result(None)
    return Result(Shape(s.dims[:i] + s.dims[i + 1 :]))


SPEC: LayerSpec = LayerSpec(
    family="distance",
    signatures=SIGNATURES,
    forward={
        "CosineSimilarity": _distance_forward,
        "PairwiseDistance": _distance_forward,
    },
)

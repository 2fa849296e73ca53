"""Reshaping layers: ``nn.Flatten``, ``nn.Unflatten``, ``nn.Embedding`` and ``nn.EmbeddingBag``.

A family of ``torch_lsp.analysis.layers`` (see the package docstring for what a spec holds).
"""
from __future__ import annotations

from typing import Any

from torch_lsp.analysis import ops as O
from torch_lsp.analysis.layers._common import (
    _arg,
    _cfg,
    _d,
    _Entry,
    _fail,
    _int,
    _need_rank,
    _non_int,
    _short,
    _show_arg,
    _v,
)
from torch_lsp.analysis.layers.spec import LayerSpec
from torch_lsp.analysis.shape_types import Layer, Result, ShapeError
from torch_lsp.analysis.shapes import (
    UNKNOWN,
    Shape,
)

SIGNATURES: dict[str, str] = {
    "Flatten": "start_dim=1, end_dim=-1",
    "Unflatten": "dim, unflattened_size",
    "Embedding": (
        "num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, "
        "sparse=False, _weight=None, _freeze=False, device=None, dtype=None"
    ),
    "EmbeddingBag": (
        "num_embeddings, embedding_dim, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, mode='mean', "
        "sparse=False, _weight=None, include_last_offset=False, padding_idx=None, device=None, dtype=None"
    ),
}


def _normalise(cls: str, p: dict[str, Any]) -> None:
    short = _short(cls)
    if short == "Unflatten" and isinstance(p["unflattened_size"], list):
        p["unflattened_size"] = tuple(p["unflattened_size"])


def _embedding_config(layer: Layer) -> list[ShapeError]:
    p = layer.params
    idx, num = _int(p.get("padding_idx")), _d(p["num_embeddings"])
    if idx is not None and isinstance(num, int) and not (-num <= idx < num):
        return [_cfg(f"padding_idx ({idx}) must be within num_embeddings ({num})", "padding_idx")]
    return []


def _unflatten_config(layer: Layer) -> list[ShapeError]:
    sizes = layer.params.get("unflattened_size")
    if isinstance(sizes, (int, float, str)) or sizes is None:  # an int, a bool, ... (a Sym might stand for a tuple)
        return [_cfg(f"unflattened_size must be a tuple or list of ints, but is {sizes!r}", "unflattened_size")]
    if not isinstance(sizes, tuple):
        return []
    if not sizes:
        return [_cfg("unflattened_size must hold at least one size, but is empty", "unflattened_size")]
    shown = _show_arg(sizes)
    if any(_non_int(v) for v in sizes):
        return [_cfg(f"unflattened_size must hold ints, but is {shown}", "unflattened_size")]
    holes = sum(1 for v in sizes if isinstance(v, int) and v == -1)
    if holes > 1:
        return [_cfg(f"only one size can be inferred (-1), but unflattened_size {shown} has {holes}", "unflattened_size")]
    if any(isinstance(v, int) and v < -1 for v in sizes):
        return [_cfg(f"unflattened_size {shown} holds a negative size (only -1, for one inferred size, is allowed)", "unflattened_size")]
    if holes and any(isinstance(v, int) and v == 0 for v in sizes):
        return [_cfg(f"unflattened_size {shown} cannot infer its -1 next to a size of 0", "unflattened_size")]
    return []


def _flatten_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    """``nn.Flatten`` is ``torch.flatten`` with its start and end dims."""
    return O.flatten(inputs[0], layer.params.get("start_dim"), layer.params.get("end_dim"))


def _unflatten_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    """``nn.Unflatten`` is ``Tensor.unflatten`` with its dim and sizes."""
    sizes = layer.params.get("unflattened_size")
    if not isinstance(sizes, tuple) or not sizes:
        return Result(None)
    return O.unflatten(inputs[0], layer.params.get("dim"), tuple(_d(v) for v in sizes))


def _embedding_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    x = inputs[0]
    dim = _d(layer.params["embedding_dim"])
    if x is None:
        return Result(Shape.suffix(dim))
    return Result(Shape(tuple(x.dims) + (dim,), x.prefix))


def _embeddingbag_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    x = inputs[0]
    dim = _d(layer.params["embedding_dim"])
    err = _need_rank(x, (1, 2), "a 1-D input with offsets, or a 2-D input (bags of equal length)")
    if err is not None:
        return err
    present, offsets = _arg(inputs, kwargs, 1, "offsets")
    explicit_none = kwargs is not None and "offsets" in kwargs and kwargs["offsets"] is None
    if x is None or x.prefix:
        return Result(Shape.suffix(dim) if x is None or len(x.dims) < 2 else Shape((x.dims[-2], dim)))
    if len(x.dims) == 2:
        if offsets is not None:
            return _fail("rank", "takes a 2-D input as bags of equal length, so offsets must be None")
        return Result(Shape((x.dims[0], dim)))
    if not present or explicit_none:
        return _fail("rank", "needs offsets for a 1-D input (where each bag starts)")
    if offsets is None or offsets.prefix or len(offsets.dims) != 1:
        return Result(Shape((UNKNOWN, dim)))
    n = offsets.dims[0]
    last = layer.params.get("include_last_offset")
    if last is True:
        n = n - 1
    elif last is not False:
        n = UNKNOWN
    return Result(Shape((n, dim)))


def _entries(layer: Layer) -> list[_Entry] | None:
    p = layer.params
    if layer.short in ("Embedding", "EmbeddingBag"):
        return [("weight", Shape.of(_d(p["num_embeddings"]), _d(p["embedding_dim"])), True)]
    return []


def _describe(layer: Layer) -> str | None:
    p = layer.params
    short = layer.short
    if short == "Flatten":
        return f"Flatten({_v(p['start_dim'])}, {_v(p['end_dim'])})"
    if short == "Unflatten":
        return f"Unflatten(dim {_v(p['dim'])} → {_v(p['unflattened_size'])})"
    if short in ("Embedding", "EmbeddingBag"):
        return f"{short}({_v(p['num_embeddings'])} × {_v(p['embedding_dim'])})"
    return None


SPEC: LayerSpec = LayerSpec(
    family="reshape",
    signatures=SIGNATURES,
    normalise=_normalise,
    config={
        "Embedding": _embedding_config,
        "EmbeddingBag": _embedding_config,
        "Unflatten": _unflatten_config,
    },
    forward={
        "Flatten": _flatten_forward,
        "Unflatten": _unflatten_forward,
        "Embedding": _embedding_forward,
        "EmbeddingBag": _embeddingbag_forward,
    },
    entries=_entries,
    describe=_describe,
)

"""Losses: the output shape of a loss and its target.

A part of the shape functions (``torch_lsp.analysis.ops``)."""
from __future__ import annotations

from typing import Any

from torch_lsp.analysis.shape_types import Result
from torch_lsp.analysis.shapes import (
    Shape,
    dim_ne,
    dim_str,
)
from torch_lsp.analysis.ops._common import _clean, _fail
from torch_lsp.analysis.ops.broadcast import broadcast


_ELEMENTWISE_LOSSES = frozenset(
    "mse_loss l1_loss smooth_l1_loss huber_loss kl_div soft_margin_loss poisson_nll_loss gaussian_nll_loss "
    "hinge_embedding_loss".split()
)
_SAME_SIZE_LOSSES = frozenset({"binary_cross_entropy", "binary_cross_entropy_with_logits"})
_CLASS_LOSSES = frozenset({"cross_entropy", "nll_loss"})


def loss_output(input_shape: Shape | None, target_shape: Shape | None, reduction: Any = "mean") -> Result:
    """An elementwise loss: a scalar for 'mean'/'sum'/'batchmean', the broadcast of input
    and target for 'none'."""
    return loss_output_for("mse_loss", input_shape, target_shape, reduction)


def loss_output_for(name: str, input_shape: Shape | None, target_shape: Shape | None, reduction: Any = "mean") -> Result:
    """The output of ``F.<name>(input, target, reduction=...)`` (or the matching
    ``nn.*Loss``): shape checks between input and target, then the reduced shape."""
    x, y = _clean(input_shape), _clean(target_shape)
    red = reduction if isinstance(reduction, str) else None
    if red is not None and red not in ("mean", "sum", "none") and not (red == "batchmean" and name == "kl_div"):
        return _fail("config", f"{red} is not a valid value for reduction")
    if name in _CLASS_LOSSES:
        return _class_loss(name, x, y, red)
    if name in _SAME_SIZE_LOSSES and x is not None and y is not None:
        differ = (x.rank is not None and y.rank is not None and x.rank != y.rank) or any(
            dim_ne(a, b) for a, b in zip(reversed(x.dims), reversed(y.dims))
        )
        if differ:
            if name == "binary_cross_entropy":
                msg = (f"Using a target size ({y}) that is different to the input size ({x}) is deprecated. "
                       f"Please ensure they have the same size.")
            else:
                msg = f"Target size ({y}) must be the same as input size ({x})"
            return _fail("target", msg, got=y, want=x)
    elem: Shape | None
    if x is not None and y is not None and name not in _SAME_SIZE_LOSSES:
        r = broadcast(x, y)
        if r.error is not None:
            return _fail("broadcast", f"{name}: input {x} and target {y} cannot broadcast: {r.error.message}")
        elem = r.out  # type: ignore[assignment]
    else:
        elem = x if x is not None else (y if name in _SAME_SIZE_LOSSES else None)
    if red is None:
        return Result(None)
    if red == "none":
        return Result(elem)
    return Result(Shape.of())


def _class_loss(name: str, x: Shape | None, y: Shape | None, red: str | None) -> Result:
    """cross_entropy / nll_loss: input (C,), (N, C) or (N, C, d1, ...); target class
    indices (the input without the class dim; for a 1-D input a 0-D or size-1 target)
    or, for cross_entropy, class probabilities (the input's shape)."""
    if x is not None and x.rank == 0:
        return _fail("target", f"{name}: the input must have a class dimension, but it is 0-D")
    per_sample: Shape | None = None
    if x is not None and x.rank is not None:
        per_sample = Shape.of() if x.rank == 1 else Shape(x.dims[:1] + x.dims[2:])
    if x is not None and y is not None and x.rank is not None and y.rank is not None:
        r, q = x.rank, y.rank
        probs = name == "cross_entropy"
        if r == 1:
            if q == 1:
                t_ = y.dims[0]
                if dim_ne(t_, 1) and (not probs or dim_ne(t_, x.dims[0])):
                    extra = f" or {dim_str(x.dims[0])} (class probabilities)" if probs else ""
                    return _fail(
                        "target", f"For 1D input, 1D target must have size 1 (a class index){extra}, but got target "
                        f"size: {dim_str(t_)} (input {x}, target {y})", got=y, want=x,
                    )
            elif q != 0:
                return _fail("target", f"{name}: for a 1-D input {x} the target must be 0-D or 1-D, but it is {y}")
        elif q == r - 1:
            if dim_ne(x.dims[0], y.dims[0]):
                return _fail(
                    "target", f"Expected input batch_size ({dim_str(x.dims[0])}) to match target batch_size "
                    f"({dim_str(y.dims[0])}): input {x}, target {y}", got=y.dims[0], want=x.dims[0],
                )
            if any(dim_ne(a, b) for a, b in zip(per_sample.dims, y.dims)):  # type: ignore[union-attr]
                return _fail("target", f"{name}: Expected target size {per_sample}, got {y} (input {x})", got=y, want=per_sample)
        elif q == r and probs:
            if any(dim_ne(a, b) for a, b in zip(x.dims, y.dims)):
                return _fail(
                    "target", f"cross_entropy: a target with the input's number of dimensions holds class "
                    f"probabilities and must have the input's shape {x}, but it is {y}", got=y, want=x,
                )
        elif q == 0:
            return _fail(
                "target", f"Expected input batch_size ({dim_str(x.dims[0])}) to match target batch_size (0): "
                f"a 0-D target for input {x}", got=y, want=per_sample,
            )
        else:
            return _fail(
                "target", f"{name}: the target {y} does not fit the input {x}: class indices of shape {per_sample} "
                f"expected" + (f" (or probabilities of shape {x})" if probs else ""), got=y, want=per_sample,
            )
    if red is None:
        return Result(None)
    if red == "none":
        return Result(per_sample)
    return Result(Shape.of())

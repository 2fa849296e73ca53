"""Factories (``zeros``, ``arange``, ``eye``, ``*_like``, ``new_*``).

A part of the shape functions (``torch_lsp.analysis.ops``)."""
from __future__ import annotations

import math
from typing import Any

from torch_lsp.analysis.shape_types import Result
from torch_lsp.analysis.shapes import (
    UNKNOWN,
    Shape,
    dim_sign,
    dim_str,
    is_dim,
)
from torch_lsp.analysis.ops._common import _clean, _fail, _fmt_sizes, _is_int, _items, _nonneg


def factory_shape(*sizes: Any) -> Result:
    """``torch.randn(1, 3, 32, 32)``, ``torch.zeros((2, 3))``, ``torch.ones(size=[4])``."""
    items: tuple | None
    if len(sizes) == 1 and _items(sizes[0]) is not None:
        items = _items(sizes[0])
    else:
        items = tuple(sizes)
    if items is None or not all(is_dim(d) for d in items):
        return Result(None)
    for d in items:
        if _is_int(d) and d < 0:
            return _fail("config", f"Trying to create tensor with negative dimension {d}: {_fmt_sizes(items)}")
    return Result(Shape(tuple(items)))


def new_shape(*sizes: Any) -> Result:
    """``x.new_zeros(sizes)`` / ``new_ones`` / ``new_empty``."""
    return factory_shape(*sizes)


def like_shape(shape: Shape | None) -> Result:
    """``torch.zeros_like(x)`` and friends."""
    return Result(_clean(shape))


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def arange_shape(start: Any, end: Any = None, step: Any = 1) -> Result:
    """``torch.arange(end)`` / ``arange(start, end, step)``: ``ceil((end - start) / step)``."""
    if end is None:
        start, end = 0, start
    if step is None:
        step = 1
    if _num(step) and step == 0:
        return _fail("config", "arange: step must be nonzero")
    if _num(start) and _num(end) and _num(step):
        if (step > 0 and end < start) or (step < 0 and end > start):
            return _fail("config", f"arange({start}, {end}, {step}): upper bound and lower bound inconsistent with step sign")
        return Result(Shape.of(int(math.ceil((end - start) / step))))
    if is_dim(start) and is_dim(end) and _is_int(step) and step > 0:
        length = end - start
        if length is UNKNOWN:
            return Result(Shape.of(UNKNOWN))
        if dim_sign(length) == -1:
            return _fail("config", f"arange({dim_str(start)}, {dim_str(end)}, {step}): upper bound and lower bound inconsistent with step sign")
        if not _nonneg(length):
            return Result(Shape.of(UNKNOWN))
        return Result(Shape.of(length if step == 1 else (length + (step - 1)) // step))
    return Result(Shape.of(UNKNOWN))


def eye_shape(n: Any, m: Any = None) -> Result:
    """``torch.eye(n)`` / ``torch.eye(n, m)``."""
    if m is None:
        m = n
    dims = tuple(d if is_dim(d) else UNKNOWN for d in (n, m))
    for d in dims:
        if _is_int(d) and d < 0:
            return _fail("config", f"eye: n and m must be non-negative, got {dim_str(d)}")
    return Result(Shape(dims))

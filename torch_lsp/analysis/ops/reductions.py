"""Reductions and dim-preserving ops (``sum``, ``argmax``, ``softmax``, ...).

A part of the shape functions (``torch_lsp.analysis.ops``)."""
from __future__ import annotations

from typing import Any

from torch_lsp.analysis.shape_types import Result
from torch_lsp.analysis.shapes import (
    UNKNOWN,
    Shape,
    dim_eq,
    join_shapes,
)
from torch_lsp.analysis.ops._common import _clean, _fail, _items, _locate, _mk, _wrap


def _reduce_known(s: Shape, dims: tuple, keepdim: bool) -> Result:
    n = len(s.dims)
    if s.rank == 0:
        seen: list[int] = []
        for d in dims:
            i, err = _wrap(d, 0)
            if err is not None:
                return Result(None, err)
            if i is not None and i in seen:
                return _fail("rank", f"dim {i} appears multiple times in the list of dims")
            if i is not None:
                seen.append(i)
        return Result(Shape.of())
    picked: list[int] = []
    unknown = False
    for d in dims:
        p, err = _locate(s, d)
        if err is not None:
            return Result(None, err)
        if p.right is None:
            unknown = True
            continue
        k = n + p.right
        if k in picked:
            return _fail("rank", f"dim {k if s.prefix is False else d} appears multiple times in the list of dims")
        picked.append(k)
    if unknown:
        if s.prefix:
            if keepdim:
                return Result(None)
            return Result(None)
        if keepdim:
            return Result(Shape(tuple(1 if i in picked else (d if dim_eq(d, 1) is True else UNKNOWN) for i, d in enumerate(s.dims))))
        n_out = n - len(dims)
        return Result(Shape((UNKNOWN,) * n_out) if n_out >= 0 else None)
    if keepdim:
        return Result(Shape(tuple(1 if i in picked else d for i, d in enumerate(s.dims)), s.prefix))
    return Result(_mk(tuple(d for i, d in enumerate(s.dims) if i not in picked), s.prefix))


def reduce(shape: Shape | None, dim: Any = None, keepdim: Any = False) -> Result:
    """``sum/mean/max/min/prod/amax/norm/std/var/logsumexp/argmax/...`` over ``dim``
    (None: all dims; an int; a tuple; an empty tuple also reduces all dims)."""
    s = _clean(shape)
    if keepdim is not True and keepdim is not False:
        a, b = reduce(shape, dim, True), reduce(shape, dim, False)
        if a.error is not None:
            return a
        return Result(join_shapes(a.out, b.out))  # type: ignore[arg-type]
    dims = _items(dim)
    if dim is None or (dims is not None and len(dims) == 0):
        if s is None:
            return Result(Shape.of() if not keepdim else None)
        if keepdim:
            return Result(Shape((1,) * len(s.dims), s.prefix) if s.dims else s)
        return Result(Shape.of())
    if s is None:
        return Result(None)
    if dims is None:
        dims = (dim,)
    return _reduce_known(s, tuple(dims), keepdim)


def argmax(shape: Shape | None, dim: Any = None, keepdim: Any = False) -> Result:
    """``argmax/argmin``: as ``reduce`` (dim None: a scalar index)."""
    return reduce(shape, dim, keepdim)


def softmax(shape: Shape | None, dim: Any = None) -> Result:
    """Shape-preserving ops along a dim (``softmax``, ``log_softmax``, ``cumsum``,
    ``F.normalize``, ``sort``...): the dim must be in range."""
    s = _clean(shape)
    if s is None:
        return Result(None)
    if dim is not None:
        _, err = _locate(s, dim)
        if err is not None:
            return Result(None, err)
    return Result(s)

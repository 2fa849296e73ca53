"""``interpolate`` and ``pad``.

A part of the shape functions (``torch_lsp.analysis.ops``)."""
from __future__ import annotations

import math
from typing import Any

from torch_lsp.analysis.shape_types import Result
from torch_lsp.analysis.shapes import (
    UNKNOWN,
    Dim,
    Shape,
    dim_eq,
    dim_sign,
    dim_str,
    is_dim,
)
from torch_lsp.analysis.ops._common import _clean, _fail, _is_int, _items, _le
from torch_lsp.analysis.ops.matmul import _fit_rank, _rank_str


def _scaled(d: Dim, f: Any) -> Dim:
    if isinstance(f, bool) or not isinstance(f, (int, float)):
        return UNKNOWN
    if _is_int(d):
        return int(math.floor(float(d) * float(f)))
    if float(f).is_integer():
        return d * int(f)
    return UNKNOWN


# Interpolation modes that need one rank (the others take 3-D to 5-D inputs).
MODE_RANK = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}


def interpolate(shape: Shape | None, size: Any = None, scale_factor: Any = None, mode: Any = "nearest") -> Result:
    """``F.interpolate`` / ``nn.Upsample``: (N, C, *spatial) with 1-3 spatial dims, from
    ``size`` or ``floor(in * scale_factor)``; ``linear``/``bilinear``/``bicubic``/
    ``trilinear`` need a 3-D/4-D/4-D/5-D input."""
    s = _clean(shape)
    if size is None and scale_factor is None:
        return _fail("config", "either size or scale_factor should be defined")
    if size is UNKNOWN or scale_factor is UNKNOWN:
        return Result(None)  # either may be None
    if size is not None and scale_factor is not None:
        return _fail("config", "only one of size or scale_factor should be defined")
    want = MODE_RANK.get(mode) if isinstance(mode, str) else None
    if s is None:
        seq = _items(size) if size is not None else None
        if seq is not None and 1 <= len(seq) <= 3 and (want is None or want == len(seq) + 2):
            return Result(Shape((UNKNOWN, UNKNOWN) + tuple(d if is_dim(d) else UNKNOWN for d in seq)))
        return Result(None)
    if want is not None and s.rank in (3, 4, 5) and s.rank != want:
        return _fail("rank", f"mode {mode!r} needs a {want}-D input, but receives a {s.rank}-D input {s}", got=s.rank, want=want)
    if want is not None and s.rank is None and len(s.dims) <= want:
        s = Shape((UNKNOWN,) * (want - len(s.dims)) + tuple(s.dims))  # the only rank that runs
    if s.rank is not None and not 3 <= s.rank <= 5:
        return _fail(
            "rank", f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {s.rank}D): interpolate expects "
            f"(N, C, d1, ...), got {s}",
        )
    if len(s.dims) > 5:
        return _fail("rank", f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {_rank_str(s)}): {s}")
    arg = size if size is not None else scale_factor
    seq = _items(arg)
    if seq is not None:
        k = len(seq)
        if (s.rank is not None and s.rank - 2 != k) or len(s.dims) > k + 2 or not 1 <= k <= 3:
            what = "output size" if size is not None else "scale_factor"
            return _fail(
                "rank", f"Input and {what} must have the same number of spatial dimensions, but got input {s} and "
                f"{what} of {tuple(seq)}",
            )
        dims = _fit_rank(s, k + 2)
        assert dims is not None
        spatial = list(dims[2:])
        factors = list(seq)
    else:
        if s.rank is not None:
            dims = s.dims
            spatial = list(dims[2:])
        else:
            dims = None
            spatial = [s.dims[-1]]
        factors = [arg] * len(spatial)
    out_sp = []
    for d, f in zip(spatial, factors):
        if size is not None:
            v = f if is_dim(f) else UNKNOWN
        else:
            v = _scaled(d, f)
        if _is_int(v) and v <= 0:
            return _fail(
                "spatial", f"Input and output sizes should be greater than 0, but got input {dim_str(d)} and output {v} ({s})"
            )
        out_sp.append(v)
    if dims is None:
        return Result(Shape(tuple(out_sp), True))
    return Result(Shape(tuple(dims[:2]) + tuple(out_sp)))


def pad(shape: Shape | None, pad_tuple: Any, mode: Any = "constant") -> Result:
    """``F.pad(x, pad, mode)`` / the padding layers: (left, right) of the last dim, then
    of the one before, ... ``constant`` pads any input with at least as many dims;
    ``reflect``/``replicate``/``circular`` pad k dims of a (k+1)- or (k+2)-D input (torch
    decides by the padding's length, not the layer's name), reflection by less than the
    dimension, circular wrapping at most once."""
    s = _clean(shape)
    items = _items(pad_tuple)
    if items is None:
        return Result(None)
    if len(items) % 2:
        return _fail("config", f"Padding length must be divisible by 2 (got {len(items)}: {tuple(items)})")
    k = len(items) // 2
    if s is None:
        return Result(None)
    if mode == "constant" or not isinstance(mode, str):
        if s.rank is not None and k > s.rank:
            return _fail(
                "rank", f"Padding length should be less than or equal to two times the input dimension but got padding "
                f"length {len(items)} and input of dimension {s.rank} ({s})",
            )
    elif s.rank is not None and s.rank not in (k + 1, k + 2) or s.rank is None and len(s.dims) > k + 2:
        return _fail("rank", f"{mode} padding of {k} dimension{'s' if k > 1 else ''} needs a {k + 1}-D or {k + 2}-D input, "
                             f"but receives {s}", got=s.rank, want=k + 2)
    dims = list(s.dims)
    m = len(dims)
    for j in range(k):
        lo, hi = items[2 * j], items[2 * j + 1]
        i = m - 1 - j
        if i < 0:
            continue
        if not (is_dim(lo) and is_dim(hi)):
            dims[i] = UNKNOWN
            continue
        L = dims[i]
        v = L + lo + hi
        if mode == "reflect" and (_le(L, lo) is True or _le(L, hi) is True):
            return _fail("spatial", f"reflection padding ({dim_str(lo)}, {dim_str(hi)}) must be smaller than the padded "
                                    f"dimension, which is {dim_str(L)}", got=L)
        if mode == "circular" and (dim_sign(lo - L) == 1 or dim_sign(hi - L) == 1):
            return _fail("spatial", f"circular padding ({dim_str(lo)}, {dim_str(hi)}) wraps around more than once a "
                                    f"dimension of size {dim_str(L)}", got=L)
        if (_is_int(v) and v < 0) or dim_sign(v) == -1 or (mode == "replicate" and (dim_eq(v, 0) is True or dim_sign(v) == -1)):
            return _fail("spatial", f"padding {tuple(items)} makes dimension {i - m} of {s} negative ({dim_str(v)})", got=L)
        dims[i] = v
    return Result(Shape(tuple(dims), s.prefix))

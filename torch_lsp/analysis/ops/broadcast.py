"""Broadcasting (elementwise operations).

A part of the shape functions (``torch_lsp.analysis.ops``)."""
from __future__ import annotations

from typing import Sequence

from torch_lsp.analysis.shape_types import Result
from torch_lsp.analysis.shapes import (
    UNKNOWN,
    Dim,
    Shape,
    dim_eq,
    dim_ne,
    dim_str,
)
from torch_lsp.analysis.ops._common import _clean, _fail, _meet, _mk, _not_one


def _bcast_dim(x: Dim, y: Dim) -> tuple[Dim, bool]:
    """(result dim, provable mismatch)."""
    if dim_eq(x, y) is True:
        return _meet(x, y), False
    if dim_eq(x, 1) is True:
        return y, False
    if dim_eq(y, 1) is True:
        return x, False
    if _not_one(x) and _not_one(y) and dim_ne(x, y):
        return UNKNOWN, True
    if _not_one(x):
        return x, False  # success implies y is 1 or x
    if _not_one(y):
        return y, False
    return UNKNOWN, False


def _broadcast_raw(a: Shape, b: Shape) -> tuple[tuple, bool, tuple[int, Dim, Dim] | None]:
    """Broadcast two shapes (prefix shapes allowed, even with no dims).
    Returns (dims, prefix, (k, x, y) of the first mismatch counted from the right)."""
    na, nb = len(a.dims), len(b.dims)
    n = max(na, nb)
    out: list[Dim] = []
    for k in range(1, n + 1):
        x = a.dims[-k] if k <= na else None
        y = b.dims[-k] if k <= nb else None
        if x is not None and y is not None:
            d, bad = _bcast_dim(x, y)
            if bad:
                return (), False, (k, x, y)
        elif x is not None:
            # b has no dim here: absent (known rank) or unknown (prefix)
            d = x if (not b.prefix or _not_one(x)) else UNKNOWN
        else:  # x is None, so y is not (k <= max(na, nb))
            d = y if (not a.prefix or _not_one(y)) else UNKNOWN  # type: ignore[assignment, arg-type]
        out.append(d)
    return tuple(reversed(out)), a.prefix or b.prefix, None


def _bcast_message(a: Shape, b: Shape, k: int, x: Dim, y: Dim) -> str:
    if not a.prefix and not b.prefix:
        where = f"at non-singleton dimension {max(len(a.dims), len(b.dims)) - k}"
    else:
        where = f"at non-singleton dimension {-k} (counting from the end)"
    return (
        f"The size of tensor a ({dim_str(x)}) must match the size of tensor b ({dim_str(y)}) {where}; "
        f"shapes {a} and {b} cannot broadcast"
    )


def broadcast(a: Shape | None, b: Shape | None) -> Result:
    """Elementwise ops (``a + b``, ``torch.where`` operands, ...): numpy broadcasting."""
    a, b = _clean(a), _clean(b)
    if a is None or b is None:
        # An unknown operand: the result still ends with the other's dims that cannot be 1.
        known = a if a is not None else b
        if known is None:
            return Result(None)
        dims = tuple(d if _not_one(d) else UNKNOWN for d in known.dims)
        return Result(_mk(dims, True) if any(d is not UNKNOWN for d in dims) else None)
    dims, prefix, bad = _broadcast_raw(a, b)
    if bad is not None:
        k, x, y = bad
        return _fail("broadcast", _bcast_message(a, b, k, x, y), got=y, want=x)
    return Result(_mk(dims, prefix))


def broadcast_shapes(shapes: Sequence[Shape | None]) -> Result:
    """Broadcast any number of shapes (``torch.broadcast_shapes``, ``torch.where``)."""
    out: Shape | None = None
    for i, s in enumerate(shapes):
        s = _clean(s)
        if s is None:
            return Result(None)
        if out is None:
            out = s
            continue
        r = broadcast(out, s)
        if r.error is not None or r.out is None:
            return r
        out = r.out  # type: ignore[assignment]  # broadcast's out is a Shape
    return Result(out)

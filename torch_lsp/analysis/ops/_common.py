"""What the shape functions share: results and errors, dimension indices, sizes.

A part of the shape functions (``torch_lsp.analysis.ops``)."""
from __future__ import annotations

from typing import Any, Iterable, TypeGuard

from torch_lsp.analysis.shape_types import Result, ShapeError
from torch_lsp.analysis.shapes import (
    UNKNOWN,
    Dim,
    Shape,
    Sym,
    dim_eq,
    dim_sign,
    dim_str,
    is_dim,
)


def _is_int(x: Any) -> TypeGuard[int]:
    return isinstance(x, int) and not isinstance(x, bool)


def _fail(kind: str, message: str, **kw: Any) -> Result:
    return Result(None, ShapeError(kind, message, **kw))


def _mk(dims: Iterable[Dim], prefix: bool = False) -> Shape | None:
    """A shape; a prefix shape with no known dimension is just unknown."""
    dims = tuple(dims)
    if prefix and not dims:
        return None
    return Shape(dims, prefix)


def _clean(s: Any) -> Shape | None:
    """Normalise an input shape: anything but a Shape (or ``[*]``) is unknown."""
    if not isinstance(s, Shape):
        return None
    if s.prefix and not s.dims:
        return None
    return s


def _items(v: Any) -> tuple | None:
    """The items of a tuple/list abstract value (a Python tuple/list, or an
    interpreter tuple value with ``.items``); None otherwise."""
    if isinstance(v, (tuple, list)):
        return tuple(v)
    items = getattr(v, "items", None)
    if isinstance(items, (tuple, list)):
        return tuple(items)
    return None


def _sizes_arg(sizes: Any) -> tuple | None:
    """Sizes given as varargs or as one tuple/list: ``view(2, 3)`` / ``view((2, 3))``."""
    items = _items(sizes)
    if items is None:
        return (sizes,) if is_dim(sizes) else None
    if len(items) == 1 and _items(items[0]) is not None:
        items = _items(items[0])
    return items


def _fmt_sizes(sizes: Iterable[Any]) -> str:
    return "[" + ", ".join(dim_str(d) if is_dim(d) else str(d) for d in sizes) + "]"


def _fmt(s: Shape | None) -> str:
    return "unknown" if s is None else str(s)


def _meet(a: Dim, b: Dim) -> Dim:
    """Two dimensions that must be equal (else the op fails): the better known one."""
    if a is UNKNOWN:
        return b
    if b is UNKNOWN:
        return a
    if _is_int(a):
        return a
    if _is_int(b):
        return b
    return a


def _not_one(d: Dim) -> bool:
    return dim_eq(d, 1) is False


def _nonneg(d: Dim) -> bool:
    """Provably >= 0."""
    if _is_int(d):
        return d >= 0
    if isinstance(d, Sym):
        return dim_sign(d + 1) == 1
    return False


def _le(a: Dim, b: Dim) -> bool | None:
    """``a <= b`` for integer dims: True / False when provable, else None. (Sizes are
    integers, so ``a <= b`` iff ``b - a + 1 > 0``.)"""
    if a is UNKNOWN or b is UNKNOWN:
        return None
    if dim_sign(b - a + 1) == 1:  # type: ignore[operator]
        return True
    if dim_sign(a - b) == 1:  # type: ignore[operator]
        return False
    return None


def _range_error(d: int, rank: int) -> ShapeError:
    lo, hi = (-rank, rank - 1) if rank > 0 else (-1, 0)
    return ShapeError(
        "rank", f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {d})", got=d, want=(lo, hi)
    )


def _wrap(d: Any, rank: int, scalar_ok: bool = True) -> tuple[int | None, ShapeError | None]:
    """Wrap a dimension index for a known rank (torch's maybe_wrap_dim)."""
    if not _is_int(d):
        return None, None
    r = rank
    if r == 0 and scalar_ok:
        r = 1
    if r == 0:
        return None, ShapeError("rank", f"Dimension specified as {d} but tensor has no dimensions", got=d)
    if not -r <= d < r:
        return None, _range_error(d, r)
    return (d + r if d < 0 else d), None


class _Pos:
    """Where a dimension index points in a shape: from the left (known rank) and/or
    from the right (negative, within the known suffix)."""

    __slots__ = ("left", "right")

    def __init__(self, left: int | None, right: int | None):
        self.left = left
        self.right = right

    @property
    def known(self) -> bool:
        return self.right is not None


def _locate(s: Shape, d: Any, extra: int = 0, scalar_ok: bool = True) -> tuple[_Pos, ShapeError | None]:
    """Resolve dimension index ``d`` in ``s`` whose rank is taken as ``rank + extra``
    (``extra=1`` for unsqueeze/stack). Right is a negative index into ``s.dims`` (or
    into the result's dims for extra=1)."""
    n = len(s.dims) + extra
    if not _is_int(d):
        return _Pos(None, None), None
    if not s.prefix:
        i, err = _wrap(d, n, scalar_ok)
        if err is not None:
            return _Pos(None, None), err
        if n == 0:  # a scalar wrapped as 1-D
            return _Pos(0, None), None
        return _Pos(i, i - n), None  # type: ignore[operator]  # an int d wraps to an int when no error
    if d < 0 and -d <= n:
        return _Pos(None, d), None
    if d >= 0:
        return _Pos(d, None), None
    return _Pos(None, None), None


def normalize_dim(d: Any, rank: int | None, scalar_ok: bool = True) -> Result:
    """Wrap a dimension index for a tensor of ``rank`` dimensions: ``Result.out`` is the
    non-negative index (``None`` when unknown); an error (kind "rank") when it is
    provably out of range, as torch says it."""
    if not _is_int(d):
        return Result(None)
    # (this Result's out is an int index, which shape_types.Output does not list)
    if rank is None:
        return Result(d if d >= 0 else None)  # type: ignore[arg-type]
    i, err = _wrap(d, rank, scalar_ok)
    if err is not None:
        return Result(None, err)
    return Result(i)  # type: ignore[arg-type]


def size(shape: Shape | None, dim: Any = None) -> Any:
    """``x.size(dim)`` / ``x.shape[dim]``: the dimension (UNKNOWN when not known or out of
    range). Without ``dim`` the tuple of dims (None when the rank is unknown)."""
    s = _clean(shape)
    if dim is None:
        return None if s is None or s.prefix else tuple(s.dims)
    if s is None or not _is_int(dim):
        return UNKNOWN
    if not s.prefix and not -len(s.dims) <= dim < len(s.dims):
        return UNKNOWN
    return s.dim(dim)


def numel(shape: Shape | None) -> Dim:
    s = _clean(shape)
    return UNKNOWN if s is None else s.numel()


def is_scalar(shape: Shape | None) -> bool | None:
    """True when the tensor provably has one element, False when it provably does not
    (a dimension provably >= 2, or a known 0: ``backward()`` raises for both), None when
    undecided."""
    s = _clean(shape)
    if s is None:
        return None
    for d in s.dims:
        if d is UNKNOWN:
            continue
        if dim_eq(d, 0) is True or dim_sign(d - 1) == 1:
            return False
    if not s.prefix and all(dim_eq(d, 1) is True for d in s.dims):
        return True
    return None

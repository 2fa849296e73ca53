"""Indexing (``x[...]``).

A part of the shape functions (``torch_lsp.analysis.ops``)."""
from __future__ import annotations

from typing import Any

from torch_lsp.analysis.shape_types import Result, ShapeError
from torch_lsp.analysis.shapes import (
    UNKNOWN,
    Dim,
    Shape,
    Sym,
    dim_eq,
    dim_ne,
    dim_sign,
    dim_str,
    is_dim,
)
from torch_lsp.analysis.ops._common import _clean, _fail, _is_int, _items, _le, _mk, _nonneg
from torch_lsp.analysis.ops.broadcast import broadcast


def _slice_len(n: Dim, sl: slice) -> tuple[Dim, ShapeError | None]:
    """The size of ``x[start:stop:step]`` along a dim of size ``n``."""
    start, stop, step = sl.start, sl.stop, sl.step
    if step is None:
        step = 1
    if _is_int(step) and step <= 0:
        return UNKNOWN, ShapeError("index", "step must be greater than zero" if step < 0 else "slice step cannot be zero")
    for b in (start, stop):
        if b is not None and not is_dim(b):
            return UNKNOWN, None
    if not _is_int(step):
        return UNKNOWN, None
    if _is_int(n) and (start is None or _is_int(start)) and (stop is None or _is_int(stop)):
        return len(range(*slice(start, stop, step).indices(n))), None

    def bound(b: Any, default: Dim) -> Dim:
        if b is None:
            return default
        sign = dim_sign(b)
        if sign is None and not _nonneg(b):
            return UNKNOWN
        if sign == -1:
            v = n + b
            if _nonneg(v):
                return v
            if dim_sign(v) == -1 or dim_eq(v, 0) is True:
                return 0
            return UNKNOWN
        # b >= 0: clip to n
        if _le(b, n) is True:
            return b
        if _le(n, b) is True:
            return n
        return UNKNOWN

    lo = bound(start, 0)
    hi = bound(stop, n)
    if lo is UNKNOWN or hi is UNKNOWN:
        return UNKNOWN, None
    if _le(lo, hi) is True:
        length = hi - lo
    elif _le(hi, lo) is True:
        return 0, None
    else:
        return UNKNOWN, None
    if step == 1:
        return length, None
    if _is_int(length):
        return -(-length // step), None
    return (length + (step - 1)) // step, None


def _flat_ints(v: Any) -> list:
    items = _items(v)
    if items is None:
        return [v] if _is_int(v) else []
    return [x for item in items for x in _flat_ints(item)]


def _nested_shape(v: Any) -> tuple | None:
    """The shape of a nested Python list of ints (bools: None)."""
    items = _items(v)
    if items is None:
        if _is_int(v) or is_dim(v):
            return ()
        return None
    if not items:
        return (0,)
    subs = [_nested_shape(x) for x in items]
    if any(x is None for x in subs) or any(x != subs[0] for x in subs):
        return None
    return (len(items),) + subs[0]  # type: ignore[operator]


class _Item:
    """One index entry: how many dims it consumes, what it produces."""

    __slots__ = ("kind", "consume", "adv", "value")

    def __init__(self, kind: str, consume: int | None, adv: Shape | None = None, value: Any = None):
        self.kind = kind  # "int", "slice", "new", "ell", "adv", "unknown"
        self.consume = consume  # None: unknown count
        self.adv = adv  # the advanced index's result shape (None: unknown)
        self.value = value


def _classify(v: Any) -> _Item:
    if v is Ellipsis:
        return _Item("ell", 0)
    if v is None:
        return _Item("new", 0, value=1)
    if isinstance(v, bool):
        # a Python bool acts as a 0-d mask: an advanced index adding a dim of 1 (True) or 0 (False)
        return _Item("adv", 0, Shape.of(1 if v else 0))
    if isinstance(v, slice):
        return _Item("slice", 1, value=v)
    if _is_int(v) or isinstance(v, Sym):
        return _Item("int", 1, value=v)
    if v is UNKNOWN:
        return _Item("unknown", None)
    shp = getattr(v, "shape", None)
    if hasattr(v, "shape") and (shp is None or isinstance(shp, Shape)):
        shp = _clean(shp)
        if shp is not None and shp.rank == 1:
            # a long index or a 1-D mask: one dim consumed, one produced (size unknown for a mask)
            return _Item("adv", 1, Shape.of(UNKNOWN))
        return _Item("unknown", None)
    items = _items(v)
    if items is not None:
        flat = list(items)
        if flat and all(isinstance(x, bool) for x in flat):
            return _Item("adv", 1, Shape.of(sum(flat)), value=("mask", len(flat)))
        shp2 = _nested_shape(v)
        if shp2 is not None and all(not isinstance(x, bool) for x in flat):
            return _Item("adv", 1, Shape(shp2), value=("ints", tuple(_flat_ints(v))))
        return _Item("unknown", None)
    return _Item("unknown", None)


def index(shape: Shape | None, index_items: Any) -> Result:
    """``x[items]``: ints (negative too), slices, None, Ellipsis, bools, lists and
    tensors (advanced indexing: their shapes broadcast together and go in place of the
    first when adjacent, else in front; ints are applied first, as torch does). A 1-D
    tensor index gives a dim of unknown size (a long index or a bool mask); a tensor
    of another or unknown rank, or an unknown value, makes the positions after it unknown."""
    s = _clean(shape)
    raw = _items(index_items)
    if raw is None:
        raw = (index_items,)
    if s is None:
        return Result(None)
    items = [_classify(v) for v in raw]
    if sum(1 for it in items if it.kind == "ell") > 1:
        return Result(None)  # torch accepts several, with its own placement rules
    if s.prefix and items and all(it.kind in ("int", "slice") for it in items):
        # `x[:, 0, :]` of a [*, 32]: where the k items fall is not known (the rank r is at
        # least k and at least the m known dims), but the result ends with the dims the
        # trailing full slices keep (t) and all after the k items: x's last t + r - k dims,
        # so at least the last min(m, max(t, t + m - k)) of the known ones: [*, 32]
        k, m, t = len(items), len(s.dims), 0
        while t < k and items[-1 - t].kind == "slice" and items[-1 - t].value == slice(None):
            t += 1
        c = min(m, max(t, t + m - k))
        return Result(_mk(s.dims[m - c:], True))
    if not any(it.kind == "ell" for it in items):
        items.append(_Item("ell", 0))
    e = next(i for i, it in enumerate(items) if it.kind == "ell")
    pre, post = items[:e], items[e + 1:]
    c_pre = None if any(it.consume is None for it in pre) else sum(it.consume for it in pre)  # type: ignore[misc]
    c_post = None if any(it.consume is None for it in post) else sum(it.consume for it in post)  # type: ignore[misc]
    m = len(s.dims)
    if s.rank is not None and c_pre is not None and c_post is not None and c_pre + c_post > s.rank:
        if s.rank == 0:
            return _fail("index", "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` "
                         "in C++ to convert a 0-dim tensor to a number")
        return _fail("index", f"too many indices for tensor of dimension {s.rank} ({s})")

    # the dims each item consumes: pre from the left, post from the right
    seen: list[list] = []
    pos: int | None = 0
    for it in pre:
        if it.consume is None:
            seen.append([])
            pos = None
        elif pos is None or s.prefix:
            seen.append([UNKNOWN] * it.consume)
        else:
            seen.append(list(s.dims[pos:pos + it.consume]))
            pos += it.consume
    seen_post: list[list] = []
    pos = 0
    for it in reversed(post):
        if it.consume is None:
            seen_post.append([])
            pos = None
        elif pos is None:
            seen_post.append([UNKNOWN] * it.consume)
        else:
            lo, hi = m - pos - it.consume, m - pos
            seen_post.append([s.dims[j] if j >= 0 else UNKNOWN for j in range(lo, hi)])
            pos += it.consume
    seen_post.reverse()

    pieces: list[tuple[str, Any]] = []  # (kind, dims or None for an unknown number of dims)
    for it, ds in zip(pre, seen):
        pieces.append(_piece(it, ds, s))
    if c_pre is None or c_post is None:
        pieces.append(("mid", None))
    elif s.prefix:
        pieces.append(("mid", None))
        pieces.append(("mid", list(s.dims[c_pre:m - c_post]) if m - c_post > c_pre else []))
    else:
        pieces.append(("mid", list(s.dims[c_pre:m - c_post])))
    for it, ds in zip(post, seen_post):
        pieces.append(_piece(it, ds, s))
    for kind, v in pieces:
        if kind == "error":
            return Result(None, v)

    adv = [i for i, p in enumerate(pieces) if p[0] == "adv"]
    if adv:
        adv_shape: Shape | None = pieces[adv[0]][1]
        for i in adv[1:]:
            a = pieces[i][1]
            if adv_shape is None or a is None:
                adv_shape = None
                continue
            r = broadcast(adv_shape, a)
            if r.error is not None:
                return _fail("index", f"shape mismatch: indexing tensors could not be broadcast together with shapes "
                             f"{adv_shape}, {a}")
            adv_shape = r.out  # type: ignore[assignment]
        adjacent: bool | None = True
        for kind, ds in pieces[adv[0]:adv[-1] + 1]:
            if kind in ("adv", "gone") or ds == []:
                continue
            if kind == "unknown" or ds is None:
                adjacent = None if adjacent is True else adjacent
            else:
                adjacent = False
        if adjacent is True and any(p[0] == "unknown" for p in pieces):
            adjacent = None  # an unknown item may be another advanced index
        block = ("dims", list(adv_shape.dims) if adv_shape is not None and not adv_shape.prefix else None)
        if adjacent is True:
            pieces = [block if i == adv[0] else p for i, p in enumerate(pieces) if i == adv[0] or p[0] != "adv"]
        elif adjacent is False:
            pieces = [block] + [p for p in pieces if p[0] != "adv"]
        else:
            pieces = [("dims", None) if p[0] == "adv" else p for p in pieces]
    out: list = []
    prefix = False
    for kind, ds in pieces:
        if ds is None:
            out, prefix = [], True
        else:
            out.extend(ds)
    return Result(_mk(out, prefix))


def _piece(it: _Item, ds: list, s: Shape) -> tuple[str, Any]:
    if it.kind == "int":
        d, v = ds[0], it.value
        if _is_int(v) and _is_int(d) and not -d <= v < d:
            return ("error", ShapeError("index", f"index {v} is out of bounds for a dimension with size {d} ({s})"))
        if _is_int(v) and _nonneg(d) and (_le(d, v) is True or _le(d, -v - 1) is True):
            return ("error", ShapeError("index", f"index {v} is out of bounds for a dimension with size {dim_str(d)} ({s})"))
        return ("gone", [])
    if it.kind == "new":
        return ("dims", [1])
    if it.kind == "slice":
        n, err = _slice_len(ds[0], it.value)
        if err is not None:
            return ("error", err)
        return ("dims", [n])
    if it.kind == "adv":
        if isinstance(it.value, tuple) and it.value[0] == "ints" and ds:
            d = ds[0]
            for v in it.value[1]:
                if (_is_int(d) and not -d <= v < d) or (_nonneg(d) and (_le(d, v) is True or _le(d, -v - 1) is True)):
                    return ("error", ShapeError(
                        "index", f"index {v} is out of bounds for a dimension with size {dim_str(d)} ({s})"
                    ))
        if isinstance(it.value, tuple) and it.value[0] == "mask" and ds and dim_ne(ds[0], it.value[1]):
            return ("error", ShapeError(
                "index", f"The shape of the mask [{it.value[1]}] does not match the shape of the indexed tensor {s}"
            ))
        return ("adv", it.adv)
    return ("unknown", None)

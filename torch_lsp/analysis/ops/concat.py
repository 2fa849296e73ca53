"""``chunk``, ``split``, ``cat``, ``stack``.

A part of the shape functions (``torch_lsp.analysis.ops``)."""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from torch_lsp.analysis.shape_types import Result
from torch_lsp.analysis.shapes import (
    UNKNOWN,
    Dim,
    Shape,
    dim_eq,
    dim_ne,
    dim_str,
    is_dim,
)
from torch_lsp.analysis.ops._common import _clean, _fail, _fmt_sizes, _is_int, _items, _locate, _meet, _mk
from torch_lsp.analysis.ops.matmul import _fit_rank
from torch_lsp.analysis.ops.reshape import exact_div


def _replace(s: Shape, k: int, d: Dim) -> Shape:
    dims = list(s.dims)
    dims[k] = d
    return Shape(tuple(dims), s.prefix)


def chunk(shape: Shape | None, chunks: Any, dim: Any = 0) -> Result:
    """``x.chunk(chunks, dim)``: a tuple of shapes when the number of pieces is known."""
    s = _clean(shape)
    if _is_int(chunks) and chunks <= 0:
        return _fail("config", f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    if s is None or not _is_int(chunks):
        return Result(None)
    p, err = _locate(s, dim, scalar_ok=False)
    if err is not None:
        return Result(None, err)
    if p.right is None:
        return Result(None)
    k = len(s.dims) + p.right
    size_ = s.dims[k]
    if _is_int(size_):
        if size_ == 0:
            return Result(tuple(_replace(s, k, 0) for _ in range(chunks)))
        step = -(-size_ // chunks)
        return split(s, step, dim)
    q = exact_div(size_, chunks)
    if q is not None:
        return Result(tuple(_replace(s, k, q) for _ in range(chunks)))
    return Result(None)


def split(shape: Shape | None, split_size_or_sections: Any, dim: Any = 0) -> Result:
    """``x.split(size, dim)`` / ``x.split([s0, s1, ...], dim)`` / ``torch.split``."""
    s = _clean(shape)
    sections = _items(split_size_or_sections)
    if s is None:
        if sections is not None:
            return Result(tuple(None for _ in sections))
        return Result(None)
    p, err = _locate(s, dim, scalar_ok=False)
    if err is not None:
        return Result(None, err)
    k = len(s.dims) + p.right if p.right is not None else None
    size_ = s.dims[k] if k is not None else UNKNOWN
    if sections is not None:
        if not all(is_dim(x) for x in sections):
            return Result(tuple(None for _ in sections))
        for x in sections:
            if _is_int(x) and x < 0:
                return _fail("config", f"split_with_sizes: negative split size {x} in {_fmt_sizes(sections)}")
        total = sum(sections[1:], sections[0]) if sections else 0
        if dim_ne(total, size_):
            return _fail(
                "reshape",
                f"split_with_sizes expects split_sizes to sum exactly to {dim_str(size_)} (input tensor's size at "
                f"dimension {dim}), but got split_sizes={_fmt_sizes(sections)} (input {s})",
                got=total, want=size_,
            )
        if k is None:
            return Result(tuple(None for _ in sections))
        return Result(tuple(_replace(s, k, x) for x in sections))
    n = split_size_or_sections
    if not is_dim(n):
        return Result(None)
    if _is_int(n) and n < 0:
        return _fail("config", f"split expects split_size be non-negative, but got split_size={n}")
    if _is_int(n) and n == 0:
        if dim_eq(size_, 0) is False:
            return _fail("config", f"split_size can only be 0 if dimension size is 0, but got dimension size of {dim_str(size_)}")
        return Result((s,) if dim_eq(size_, 0) is True else None)
    if k is None:
        return Result(None)
    if _is_int(size_) and _is_int(n):
        count = max(-(-size_ // n), 1)
        last = n - (n * count - size_)
        return Result(tuple(_replace(s, k, n) for _ in range(count - 1)) + (_replace(s, k, last),))
    q = exact_div(size_, n)
    if _is_int(q) and q >= 1:
        return Result(tuple(_replace(s, k, n) for _ in range(q)))
    return Result(None)


def cat(shapes: Sequence[Shape | None], dim: Any = 0) -> Result:
    """``torch.cat(tensors, dim)``: equal ranks, equal sizes except along ``dim``. Legacy
    1-D empty tensors (shape [0]) are skipped, as torch does."""
    items = _items(shapes)
    if items is None:
        return Result(None)
    if not items:
        return _fail("concat", "torch.cat(): expected a non-empty list of Tensors")
    sh = [_clean(x) for x in items]
    idx = [i for i, x in enumerate(sh) if not (x is not None and x.rank == 1 and dim_eq(x.dims[0], 0) is True)]
    if not idx:
        return Result(Shape.of(0))
    for i in idx:
        if sh[i] is not None and sh[i].rank == 0:  # type: ignore[union-attr]  # (mypy does not narrow sh[i])
            return _fail("concat", f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    # a 1-D tensor that might be empty could be skipped: ranks are then not comparable
    maybe_skipped = {i for i in idx if sh[i] is None or (sh[i].rank == 1 and dim_eq(sh[i].dims[0], 0) is None)}  # type: ignore[union-attr]
    known: list[tuple[int, Shape]] = [(i, sh[i]) for i in idx if sh[i] is not None and i not in maybe_skipped]  # type: ignore[misc]
    rank: int | None = None
    first: tuple[int, Shape] | None = None
    x: Shape | None
    for i, x in known:
        if x.rank is not None:
            if rank is not None and x.rank != rank:
                return _fail(
                    "concat", f"Tensors must have same number of dimensions: got {rank} and {x.rank} "
                    f"({first[1]} at position {first[0]} and {x} at position {i})",  # type: ignore[index]
                )
            if rank is None:
                rank, first = x.rank, (i, x)
    if rank is not None:
        for i, x in known:
            if x.prefix and len(x.dims) > rank:
                return _fail(
                    "concat", f"Tensors must have same number of dimensions: got {rank} and at least {len(x.dims)} "
                    f"({first[1]} at position {first[0]} and {x} at position {i})",  # type: ignore[index]
                )
    # the common frame: the known rank, or a suffix as long as the shortest prefix shape
    if rank is not None:
        n = rank
        rows: dict[int, tuple | None] = {}
        for i in idx:
            x = sh[i]
            if x is None or i in maybe_skipped:
                rows[i] = None
            else:
                rows[i] = _fit_rank(x, rank)
        prefix = False
    else:
        cand = [sh[i] for i in idx if sh[i] is not None and i not in maybe_skipped]
        if not cand:
            return Result(None)
        n = min(len(x.dims) for x in cand)  # type: ignore[union-attr]
        rows = {i: (tuple(sh[i].dims[len(sh[i].dims) - n:]) if sh[i] is not None and i not in maybe_skipped else None) for i in idx}  # type: ignore[union-attr]
        prefix = True
    frame = Shape((UNKNOWN,) * n, prefix)
    p, err = _locate(frame, dim, scalar_ok=False)
    if err is not None:
        return Result(None, err)
    cd = n + p.right if p.right is not None else None
    out: list = []
    ref: Dim
    for j in range(n):
        if j == cd:
            total: Dim = 0
            for i in idx:
                r = rows[i]
                total = total + (r[j] if r is not None else UNKNOWN)  # type: ignore[operator]
            out.append(total)
            continue
        ref_i, ref = None, UNKNOWN
        for i in idx:
            r = rows[i]
            if r is None:
                continue
            if ref_i is None:
                ref_i, ref = i, r[j]
                continue
            if cd is not None and dim_ne(ref, r[j]):
                return _fail(
                    "concat",
                    f"Sizes of tensors must match except in dimension {cd if not prefix else dim}. Expected size "
                    f"{dim_str(ref)} but got size {dim_str(r[j])} for tensor number {i} in the list "
                    f"({sh[ref_i]} and {sh[i]})",
                    got=r[j], want=ref,
                )
            ref = _meet(ref, r[j])
        out.append(ref if cd is not None else UNKNOWN)
    return Result(_mk(out, prefix))


def stack(shapes: Sequence[Shape | None], dim: Any = 0) -> Result:
    """``torch.stack(tensors, dim)``: all shapes equal; a new dim of len(tensors)."""
    items = _items(shapes)
    if items is None:
        return Result(None)
    if not items:
        return _fail("concat", "stack expects a non-empty TensorList")
    sh = [_clean(x) for x in items]
    present = [(i, x) for i, x in enumerate(sh) if x is not None]
    if not present:
        return Result(None)
    for jj, (i, x) in enumerate(present):
        for j, y in present[:jj]:
            differ = (x.rank is not None and y.rank is not None and x.rank != y.rank)
            differ = differ or (y.rank is not None and len(x.dims) > y.rank) or (x.rank is not None and len(y.dims) > x.rank)
            if not differ:
                m = min(len(x.dims), len(y.dims))
                differ = any(dim_ne(a, b) for a, b in zip(y.dims[len(y.dims) - m:], x.dims[len(x.dims) - m:]))
            if differ:
                return _fail(
                    "concat", f"stack expects each tensor to be equal size, but got {y} at entry {j} and {x} at entry {i}"
                )
    rank = next((x.rank for _, x in present if x.rank is not None), None)
    if rank is not None:
        rows = [_fit_rank(x, rank) for _, x in present]
        base = Shape(tuple(_fold_meet(col) for col in zip(*rows)))  # type: ignore[arg-type]
    else:
        n = min(len(x.dims) for _, x in present)
        rows = [x.dims[len(x.dims) - n:] for _, x in present]
        base = Shape(tuple(_fold_meet(col) for col in zip(*rows)), True)
    p, err = _locate(base, dim, extra=1, scalar_ok=False)
    if err is not None:
        return Result(None, err)
    if p.right is None:
        return Result(Shape((UNKNOWN,) * (rank + 1)) if rank is not None else None)
    k = len(base.dims) + 1 + p.right
    return Result(Shape(base.dims[:k] + (len(items),) + base.dims[k:], base.prefix))


def _fold_meet(col: Iterable[Dim]) -> Dim:
    out: Dim = UNKNOWN
    for d in col:
        out = _meet(out, d)
    return out

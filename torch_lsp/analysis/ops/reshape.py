"""Reshaping: ``view``/``reshape``, ``flatten``/``unflatten``, ``permute``/``transpose``, ``unsqueeze``/``squeeze``, ``expand``/``repeat``.

A part of the shape functions (``torch_lsp.analysis.ops``)."""
from __future__ import annotations

from fractions import Fraction
from typing import Any

from torch_lsp.analysis.shape_types import Result
from torch_lsp.analysis.shapes import (
    UNKNOWN,
    Dim,
    Shape,
    Sym,
    dim_eq,
    dim_ne,
    dim_product,
    dim_sign,
    dim_str,
    is_dim,
)
from torch_lsp.analysis.ops._common import _clean, _fail, _fmt_sizes, _is_int, _items, _locate, _meet, _mk, _nonneg, _not_one, _sizes_arg, _wrap
from torch_lsp.analysis.ops.matmul import _fit_rank, _rank_str


def _mono_div(m: tuple, d: tuple) -> tuple | None:
    rest = list(m)
    for a in d:
        if a in rest:
            rest.remove(a)
        else:
            return None
    return tuple(rest)


def exact_div(n: Dim, d: Dim) -> Dim | None:
    """``n / d`` when provably an exact division with an integer polynomial quotient;
    None otherwise."""
    if n is UNKNOWN or d is UNKNOWN:
        return None
    if _is_int(d):
        if d == 0:
            return None
        if _is_int(n):
            return n // d if n % d == 0 else None
        if all(c % d == 0 for _, c in n.terms):  # type: ignore[union-attr]
            return n // d
        return None
    if _is_int(n):
        return 0 if n == 0 else None
    # Multivariate division by a polynomial (exact iff the remainder is 0), grlex order.
    atoms = sorted(n.atoms() | d.atoms(), key=lambda a: a if isinstance(a, str) else a.sort_key())  # type: ignore[union-attr]
    index = {a: i for i, a in enumerate(atoms)}

    def key(m: tuple) -> tuple:
        vec = [0] * len(atoms)
        for a in m:
            vec[index[a]] += 1
        return (len(m), tuple(vec))

    rem = n.as_dict()  # type: ignore[union-attr]
    dd = d.as_dict()  # type: ignore[union-attr]
    lead_d = max(dd, key=key)
    q: dict = {}
    for _ in range(64):
        rem = {m: c for m, c in rem.items() if c != 0}
        if not rem:
            return Sym._of(q)
        lead = max(rem, key=key)
        mq = _mono_div(lead, lead_d)
        if mq is None or rem[lead] % dd[lead_d] != 0:
            return None
        cq = rem[lead] // dd[lead_d]
        mq = tuple(sorted(mq, key=lambda a: a if isinstance(a, str) else a.sort_key()))
        q[mq] = q.get(mq, 0) + cq
        for m, c in dd.items():
            prod = tuple(sorted(mq + m, key=lambda a: a if isinstance(a, str) else a.sort_key()))
            rem[prod] = rem.get(prod, 0) - cq * c
    return None


def _not_divisible(n: Dim, d: Dim) -> bool:
    """Provably ``n % d != 0`` (with n >= 0, d > 0)."""
    if _is_int(d) and d > 0:
        if _is_int(n):
            return n % d != 0
        if isinstance(n, Sym):
            rest = [c for m, c in n.terms if m != ()]
            if all(c % d == 0 for c in rest):
                return n.constant % d != 0
    if dim_sign(n) == 1 and dim_sign(d - n) == 1:  # 0 < n < d
        return True
    if isinstance(n, Sym) and isinstance(d, Sym):  # n = (p/q) * d with q not dividing p
        nt, dt = n.as_dict(), d.as_dict()
        if set(nt) == set(dt):
            ratios = {Fraction(nt[m], dt[m]) for m in nt}
            if len(ratios) == 1:
                r = ratios.pop()
                return r.denominator != 1
    return False


def reshape(shape: Shape | None, sizes: Any) -> Result:
    """``x.view(*sizes)`` / ``x.reshape(sizes)``: at most one -1, inferred from the
    element count when it is known (also symbolically: ``[B, 16, 5, 5]`` viewed as
    ``(B, -1)`` is ``[B, 400]``)."""
    s = _clean(shape)
    items = _sizes_arg(sizes)
    if items is None or not all(is_dim(d) for d in items):
        return Result(None)
    items = tuple(items)
    shown = _fmt_sizes(items)
    n_infer = sum(1 for d in items if _is_int(d) and d == -1)
    if n_infer > 1:
        return _fail("reshape", f"only one dimension can be inferred: shape '{shown}' has {n_infer} -1 entries")
    for i, d in enumerate(items):
        if _is_int(d) and d < -1:
            return _fail("reshape", f"invalid shape dimension {d} at index {i} of shape {shown}")
    total = s.numel() if s is not None else UNKNOWN
    free = [i for i, d in enumerate(items) if not _nonneg(d)]  # -1, or possibly -1
    rest = dim_product(d for i, d in enumerate(items) if i not in free)
    in_txt = f" (input {s})" if s is not None else ""
    if not free:
        if dim_ne(rest, total):
            return _fail(
                "reshape", f"shape '{shown}' is invalid for input of size {dim_str(total)}{in_txt}", got=rest, want=total
            )
        return Result(Shape(items))
    out = list(items)
    for i in free:
        out[i] = UNKNOWN
    if len(free) == 1:
        i = free[0]
        literal = _is_int(items[i])  # a literal -1 (not a value that might be -1)
        if literal and dim_eq(rest, 0) is True:
            if dim_eq(total, 0) is True:
                return _fail(
                    "reshape", f"cannot reshape tensor of 0 elements into shape {shown} because the unspecified "
                    f"dimension size -1 can be any value and is ambiguous{in_txt}"
                )
            # with any other number of elements the shape is invalid: an error either way
            return _fail(
                "reshape", f"shape '{shown}' is invalid for input of size {dim_str(total)}{in_txt}: with a 0 among the "
                f"sizes, -1 cannot be inferred"
            )
        if total is not UNKNOWN and dim_sign(rest) == 1:
            q = exact_div(total, rest)
            if q is not None:
                out[i] = q
            elif literal and _not_divisible(total, rest):
                return _fail(
                    "reshape",
                    f"shape '{shown}' is invalid for input of size {dim_str(total)}{in_txt}: {dim_str(total)} is not "
                    f"divisible by {dim_str(rest)}",
                )
            elif _is_int(rest):
                out[i] = total // rest  # exact whenever the view succeeds
    return Result(Shape(tuple(out)))


view = reshape


def reshape_star(shape: Shape | None, lead: Any, items: tuple) -> Result:
    """``x.view(*y.shape[:-k], *items)``: the output keeps ``y``'s leading sizes (a
    product, ``lead``) and takes ``items`` after them. When ``x``'s own leading sizes
    are ``y``'s (the same ``lead``), its known suffix is what ``items`` must hold:
    ``[*, 32]`` viewed as ``(*lead, -1, 9)`` fails, 32 is not divisible by 9 (and
    with no element at all, the -1 is ambiguous: it fails too). Sizes that only
    differ in count with no -1 are not an error (an empty batch views fine)."""
    if not all(is_dim(d) for d in items):
        return Result(None)
    out = tuple(UNKNOWN if _is_int(d) and d == -1 else d for d in items)
    s = _clean(shape)
    if s is None or not s.prefix or s.lead is None or s.lead != lead:
        if sum(1 for d in items if _is_int(d) and d == -1) > 1 or any(_is_int(d) and d < -1 for d in items):
            return Result(None)
        return Result(Shape(out, True, lead) if out else None)
    j = 0  # sizes both start with after the leading ones (`x.shape[:-1]` of a [*, n, 32]) count as leading
    while j < min(len(s.dims), len(items)) - 1 and dim_eq(s.dims[j], items[j]) is True and not _is_int(items[j]):
        j += 1
    same, items, s = items[:j], items[j:], Shape(s.dims[j:], True, lead)
    res = reshape(Shape(s.dims), items)
    if res.error is not None:
        if not any(_is_int(d) and d < 0 for d in items):
            return Result(None)  # the counts differ: fine when the leading sizes hold no element
        suffix = Shape(s.dims)
        msg = (res.error.message.replace(f"input of size {dim_str(suffix.numel())} (input {suffix})", f"input {s}")
               .replace("shape '[", "shape '[*, ", 1).replace(" into shape [", " into shape [*, ", 1))
        return _fail(res.error.kind, msg + " (`*`: the same leading sizes in both)", got=res.error.got, want=res.error.want)
    if isinstance(res.out, Shape):
        return Result(Shape(same + res.out.dims, True, lead) if same + res.out.dims else None)
    return Result(None)


def flatten(shape: Shape | None, start_dim: Any = 0, end_dim: Any = -1) -> Result:
    """``torch.flatten(x, start_dim, end_dim)`` / ``nn.Flatten`` (start_dim=1)."""
    s = _clean(shape)
    if s is None:
        return Result(None)
    if s.rank == 0:
        for d in (start_dim, end_dim):
            _, err = _wrap(d, 0)
            if err is not None:
                return Result(None, err)
        return Result(Shape.of(1))
    p0, err = _locate(s, start_dim)
    if err is None:
        p1, err = _locate(s, end_dim)
    if err is not None:
        return Result(None, err)
    if not s.prefix:
        if p0.left is None or p1.left is None:
            return Result(None)
        i, j = p0.left, p1.left
        if i > j:
            return _fail("reshape", f"flatten() has invalid args: start_dim cannot come after end_dim ({start_dim} > {end_dim} on {s})")
        return Result(Shape(s.dims[:i] + (dim_product(s.dims[i:j + 1]),) + s.dims[j + 1:]))
    # prefix shape: only negative (suffix) indices can be placed
    if p0.right is not None and p1.right is not None:
        i, j = p0.right, p1.right
        if i > j:
            return _fail("reshape", f"flatten() has invalid args: start_dim cannot come after end_dim ({start_dim} > {end_dim} on {s})")
        n = len(s.dims)
        return Result(_mk(s.dims[:n + i] + (dim_product(s.dims[n + i:n + j + 1]),) + s.dims[n + j + 1:], True))
    if p1.right is not None:
        n = len(s.dims)
        if p0.left is not None:
            # [d0 .. d(start-1)] (unknown, in the prefix) + [flattened] + the dims after end_dim
            return Result(Shape((UNKNOWN,) * (p0.left + 1) + s.dims[n + p1.right + 1:]))
        return Result(_mk(s.dims[n + p1.right + 1:], True))
    return Result(None)


def unflatten(shape: Shape | None, dim: Any, sizes: Any) -> Result:
    """``x.unflatten(dim, sizes)`` / ``nn.Unflatten``: split one dimension (one -1 allowed)."""
    s = _clean(shape)
    items = _sizes_arg(sizes)
    if items is not None and len(items) == 0:
        return _fail("reshape", "unflatten: sizes must be non-empty")
    if s is None or items is None or not all(is_dim(d) for d in items):
        return Result(None)
    p, err = _locate(s, dim, scalar_ok=False)
    if err is not None:
        return Result(None, err)
    if p.right is None:
        return Result(None)
    n = len(s.dims)
    k = n + p.right
    r = reshape(Shape.of(s.dims[k]), items)
    if r.error is not None:
        if "only one dimension" in r.error.message:
            return _fail("reshape", f"unflatten: only one dimension can be inferred in sizes {_fmt_sizes(items)}")
        known = dim_product(d for d in items if not (_is_int(d) and d == -1))
        return _fail(
            "reshape",
            f"unflatten: Provided sizes {_fmt_sizes(items)} don't multiply up to the size of dim {dim} "
            f"({dim_str(s.dims[k])}) in the input tensor {s}",
            got=s.dims[k], want=known,
        )
    new = r.out.dims if isinstance(r.out, Shape) else (UNKNOWN,) * len(items)
    return Result(_mk(s.dims[:k] + tuple(new) + s.dims[k + 1:], s.prefix))


def permute(shape: Shape | None, dims: Any) -> Result:
    """``x.permute(*dims)`` / ``torch.permute(x, dims)``."""
    s = _clean(shape)
    items = _sizes_arg(dims)
    if items is None:
        return Result(None)
    n = len(items)
    if s is not None:
        if (s.rank is not None and s.rank != n) or len(s.dims) > n:
            return _fail(
                "rank", f"permute: the number of dims ({n}) does not match the tensor's number of dimensions "
                f"({s.rank if s.rank is not None else f'at least {len(s.dims)}'}): "
                f"{s}.permute({', '.join(dim_str(x) if is_dim(x) else str(x) for x in items)})",
                got=n, want=s.rank,
            )
    seen: list[int] = []
    wrapped: list[int | None] = []
    for d in items:
        if not _is_int(d):
            wrapped.append(None)
            continue
        i, err = _wrap(d, n)
        if err is not None:
            return Result(None, err)
        if i in seen:
            return _fail("rank", f"permute(): duplicate dims are not allowed: {_fmt_sizes(items)}")
        seen.append(i)  # type: ignore[arg-type]
        wrapped.append(i)
    if s is None:
        return Result(Shape((UNKNOWN,) * n))
    src = _fit_rank(s, n)
    assert src is not None
    return Result(Shape(tuple(src[i] if i is not None else UNKNOWN for i in wrapped)))


def transpose(shape: Shape | None, d0: Any, d1: Any) -> Result:
    """``x.transpose(d0, d1)`` / ``swapaxes``."""
    s = _clean(shape)
    if s is None:
        return Result(None)
    p0, err = _locate(s, d0)
    if err is None:
        p1, err = _locate(s, d1)
    if err is not None:
        return Result(None, err)
    if s.rank == 0:
        return Result(s)
    if p0.right is None or p1.right is None:
        return Result(None if s.prefix else Shape((UNKNOWN,) * len(s.dims)))
    dims = list(s.dims)
    n = len(dims)
    i, j = n + p0.right, n + p1.right
    dims[i], dims[j] = dims[j], dims[i]
    return Result(Shape(tuple(dims), s.prefix))


def t(shape: Shape | None) -> Result:
    """``x.t()``: tensors of at most 2 dimensions."""
    s = _clean(shape)
    if s is None:
        return Result(None)
    if len(s.dims) > 2:
        return _fail("rank", f"t() expects a tensor with <= 2 dimensions, but self is {_rank_str(s)} ({s})")
    if s.prefix:
        return Result(Shape((s.dims[1], s.dims[0])) if len(s.dims) == 2 else None)
    return Result(Shape(tuple(reversed(s.dims))))


def mT(shape: Shape | None) -> Result:  # noqa: N802 (torch's name)
    """``x.mT``: swap the last two dimensions (at least 2-D)."""
    s = _clean(shape)
    if s is None:
        return Result(None)
    if s.rank == 0:
        return Result(s)  # deprecated, but the identity
    if s.rank == 1:
        return _fail("rank", f"tensor.mT is only supported on matrices or batches of matrices. Got 1-D tensor ({s}).")
    if len(s.dims) < 2:
        return Result(None)
    return Result(Shape(s.dims[:-2] + (s.dims[-1], s.dims[-2]), s.prefix))


def unsqueeze(shape: Shape | None, dim: Any) -> Result:
    """``x.unsqueeze(dim)``: a size-1 dim at ``dim`` of the result (range [-(n+1), n])."""
    s = _clean(shape)
    if s is None:
        return Result(None)
    p, err = _locate(s, dim, extra=1, scalar_ok=False)
    if err is not None:
        return Result(None, err)
    if p.right is None:
        if not s.prefix:
            return Result(Shape((UNKNOWN,) * (len(s.dims) + 1)))
        return Result(None)
    n = len(s.dims) + 1
    k = n + p.right
    return Result(Shape(s.dims[:k] + (1,) + s.dims[k:], s.prefix))


def squeeze(shape: Shape | None, dim: Any = None) -> Result:
    """``x.squeeze()`` / ``x.squeeze(dim)`` / ``x.squeeze((d0, d1))``. A dimension that may
    or may not be 1 leaves the rank unknown: the result keeps the dims after it."""
    s = _clean(shape)
    if s is None:
        return Result(None)
    n = len(s.dims)
    cut = -1  # the output keeps only the dims after this index (as a suffix)
    prefix = s.prefix  # with dim=None the unknown leading dims may be 1s
    if dim is None:
        targets = set(range(n))
    else:
        ds = _items(dim)
        ds = ds if ds is not None else (dim,)
        targets = set()
        for d in ds:
            if not _is_int(d):
                return Result(None)
            p, err = _locate(s, d)
            if err is not None:
                return Result(None, err)
            if s.rank == 0:
                if p.left in targets:
                    return _fail("rank", f"dim {p.left} appears multiple times in the list of dims")
                targets.add(p.left)  # type: ignore[arg-type]  # rank 0: _locate gives left 0
                continue
            if p.right is not None:
                if n + p.right in targets:
                    return _fail("rank", f"dim {n + p.right if not s.prefix else d} appears multiple times in the list of dims")
                targets.add(n + p.right)
            elif d >= 0:
                # prefix shape: dim d is suffix index d - (rank - n) <= d, or in the unknown part
                for j in range(min(d, n - 1), -1, -1):
                    if dim_eq(s.dims[j], 1) is not False:
                        cut = max(cut, j)
                        break
    out: list = []
    for i, d in enumerate(s.dims):
        if i <= cut:
            continue
        if i in targets:
            one = dim_eq(d, 1)
            if one is True:
                continue
            if one is None:
                out = []
                prefix = True
                continue
        out.append(d)
    return Result(_mk(out, prefix or cut >= 0))


def expand(shape: Shape | None, sizes: Any) -> Result:
    """``x.expand(*sizes)``: -1 keeps a dim; size-1 dims stretch; new leading dims allowed."""
    s = _clean(shape)
    items = _sizes_arg(sizes)
    if items is None or not all(is_dim(d) for d in items):
        return Result(None)
    n = len(items)
    for i, d in enumerate(items):
        if _is_int(d) and d < -1:
            return _fail("config", f"expand: invalid size {d} at index {i} of {_fmt_sizes(items)}")
    if s is None:
        return Result(Shape(tuple(d if _nonneg(d) else UNKNOWN for d in items)))
    if len(s.dims) > n:
        return _fail(
            "rank", f"expand: the number of sizes provided ({n}) must be greater or equal to the number of dimensions "
            f"in the tensor ({len(s.dims)}): {s}.expand({', '.join(dim_str(x) for x in items)})",
        )
    m = len(s.dims)
    out: list = []
    for i, d in enumerate(items):
        k = n - i  # position from the right
        if k > m:
            # a new leading dim (known rank) or maybe an unknown existing one (prefix)
            if _is_int(d) and d == -1:
                if not s.prefix:
                    return _fail(
                        "broadcast",
                        f"The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension {i} "
                        f"({s}.expand({', '.join(dim_str(x) for x in items)}))",
                    )
                out.append(UNKNOWN)
            else:
                out.append(d if _nonneg(d) else UNKNOWN)
            continue
        e = s.dims[-k]
        if _is_int(d) and d == -1:
            out.append(e)
        elif not _nonneg(d):  # may be -1
            out.append(e if _not_one(e) else UNKNOWN)
        elif dim_eq(e, d) is True or dim_eq(e, 1) is True:
            out.append(d)
        elif _not_one(e) and dim_ne(e, d):
            return _fail(
                "broadcast",
                f"The expanded size of the tensor ({dim_str(d)}) must match the existing size ({dim_str(e)}) at "
                f"non-singleton dimension {i}.  Target sizes: {_fmt_sizes(items)}.  Tensor sizes: {s}",
                got=e, want=d,
            )
        else:
            out.append(_meet(d, e) if _not_one(e) else d)
    return Result(Shape(tuple(out)))


def repeat(shape: Shape | None, sizes: Any) -> Result:
    """``x.repeat(*sizes)``: at least as many sizes as dims; each dim multiplied."""
    s = _clean(shape)
    items = _sizes_arg(sizes)
    if items is None or not all(is_dim(d) for d in items):
        return Result(None)
    n = len(items)
    for d in items:
        if _is_int(d) and d < 0:
            return _fail("config", f"repeat: negative repeat count {d} in {_fmt_sizes(items)}")
    if s is None:
        return Result(Shape((UNKNOWN,) * n))
    if len(s.dims) > n:
        return _fail(
            "rank", f"Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor "
            f"({n} repeats for {s})",
        )
    src = (UNKNOWN,) * (n - len(s.dims)) + tuple(s.dims) if s.prefix else (1,) * (n - len(s.dims)) + tuple(s.dims)
    out = []
    for e, r in zip(src, items):
        if _is_int(r) and r == 0:
            out.append(0)
        else:
            out.append(e * r)
    return Result(Shape(tuple(out)))

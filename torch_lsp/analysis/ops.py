"""Shape functions for tensor operations (``@``, ``view``, ``cat``, indexing, ...).

Every function takes shapes (``Shape`` or ``None`` for an unknown shape) and abstract
argument values (see ``shape_types``) and returns a ``Result``: the output shape (a
``Shape``, ``None``, or a tuple of those for ``chunk``/``split``) and at most one
``ShapeError``. An error is reported only when the call provably raises in torch;
anything undecided gives an unknown part of the output, never an error.

Error kinds: "matmul" (TL205, also for ``mm``/``bmm`` rank errors), "broadcast"
(TL206), "reshape" (TL207), "concat" (TL208), "einsum", "rank" (a dimension index
out of range, a wrong number of dimensions), "index" (indexing), "target" (a loss
whose target cannot go with its input), "config" (an argument that can never work:
a negative size, a zero step).

This module never imports torch.
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Iterable, Sequence, TypeGuard

from torch_lsp.analysis.shape_types import Result, ShapeError
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
    join_shapes,
)

__all__ = [
    "normalize_dim", "size", "numel", "is_scalar",
    "broadcast", "broadcast_shapes", "matmul", "mm", "bmm", "linear", "exact_div",
    "reshape", "view", "flatten", "unflatten", "permute", "transpose", "t", "mT",
    "unsqueeze", "squeeze", "expand", "repeat", "chunk", "split", "cat", "stack", "einsum",
    "reduce", "argmax", "softmax", "index", "interpolate", "pad",
    "factory_shape", "arange_shape", "eye_shape", "like_shape", "new_shape",
    "loss_output", "loss_output_for",
]


# =============================================================================== helpers


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


# =============================================================================== broadcasting


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


# =============================================================================== matrix products


def _mat_str(d0: Dim, d1: Dim) -> str:
    return f"{dim_str(d0)}x{dim_str(d1)}"


def matmul(a: Shape | None, b: Shape | None) -> Result:
    """``a @ b`` / ``torch.matmul``: 1-D and 2-D cases, batched with broadcasting."""
    a, b = _clean(a), _clean(b)
    if a is None and b is not None and len(b.dims) >= 2:
        return Result(Shape.suffix(b.dims[-1]))  # a is 1-D or batched: the last dim is b's
    if a is None or b is None:
        return Result(None)
    if a.rank == 0 or b.rank == 0:
        return _fail(
            "matmul", f"both arguments to matmul need to be at least 1D, but they are {a.rank if a.rank is not None else '?'}D "
            f"and {b.rank if b.rank is not None else '?'}D"
        )
    ka = a.dims[-1]
    if b.rank == 1:
        kb = b.dims[0]
    elif len(b.dims) >= 2:
        kb = b.dims[-2]
    else:
        kb = UNKNOWN
    a_vec, b_vec = a.rank == 1, b.rank == 1
    a_mat, b_mat = len(a.dims) >= 2, len(b.dims) >= 2
    if dim_ne(ka, kb):
        if a_mat and b_mat and a.rank == 2 and b.rank == 2:
            msg = (
                f"mat1 and mat2 shapes cannot be multiplied ({_mat_str(*a.dims)} and {_mat_str(*b.dims)}): "
                f"the inner dimensions {dim_str(ka)} and {dim_str(kb)} differ"
            )
        elif a_vec and b_vec:
            msg = f"{a} @ {b}: a dot product of vectors of different lengths {dim_str(ka)} and {dim_str(kb)}"
        else:
            which = "the length of the second" if b_vec else "the second-to-last dimension of the second"
            first = "the length of the first" if a_vec else "the last dimension of the first"
            msg = f"{a} @ {b}: inner dimensions {dim_str(ka)} and {dim_str(kb)} differ ({first} must equal {which})"
        return _fail("matmul", msg, got=kb, want=ka)
    if a_vec and b_vec:
        return Result(Shape.of())
    if a_mat and b_vec:
        return Result(_mk(a.dims[:-1], a.prefix))
    if a_vec and b_mat:
        return Result(_mk(b.dims[:-2] + b.dims[-1:], b.prefix))
    if a_mat and b_mat:
        ba, bb = Shape(a.dims[:-2], a.prefix), Shape(b.dims[:-2], b.prefix)
        dims, prefix, bad = _broadcast_raw(ba, bb)
        if bad is not None:
            k, x, y = bad
            return _fail(
                "matmul", f"{a} @ {b}: the batch dimensions {ba} and {bb} cannot broadcast "
                f"(sizes {dim_str(x)} and {dim_str(y)} at batch dimension {-k})", got=y, want=x,
            )
        return Result(_mk(dims + (a.dims[-2], b.dims[-1]), prefix))
    if b_mat:  # a is [*, k]: 1-D or batched, the last dim is b's
        return Result(_mk((b.dims[-1],), True))
    return Result(None)


def _fit_rank(s: Shape, n: int) -> tuple | None:
    """Dims of ``s`` taken as exactly ``n``-D (prefix filled with unknowns); None if
    ``s`` provably has another rank."""
    if s.prefix:
        if len(s.dims) > n:
            return None
        return (UNKNOWN,) * (n - len(s.dims)) + tuple(s.dims)
    return tuple(s.dims) if len(s.dims) == n else None


def _rank_str(s: Shape) -> str:
    return f"{s.rank}-D" if s.rank is not None else f"at least {len(s.dims)}-D"


def _fit_operands(a: Shape | None, b: Shape | None, rank: int, need: str, torch_says: tuple[str, str]) -> tuple:
    """Both operands' dims at exactly ``rank`` (None when unknown), or the rank error."""
    da = _fit_rank(a, rank) if a is not None else None
    db = _fit_rank(b, rank) if b is not None else None
    for which, s, d, says in (("first", a, da, torch_says[0]), ("second", b, db, torch_says[1])):
        if s is not None and d is None:
            return da, db, _fail("matmul", f"{need}, but the {which} argument is {_rank_str(s)} ({s}): {says}")
    return da, db, None


def mm(a: Shape | None, b: Shape | None) -> Result:
    """``torch.mm``: exactly 2-D @ 2-D."""
    a, b = _clean(a), _clean(b)
    da, db, err = _fit_operands(a, b, 2, "torch.mm needs 2-D matrices", ("self must be a matrix", "mat2 must be a matrix"))
    if err is not None:
        return err
    if da is None or db is None:
        return Result(Shape.of(da[0] if da else UNKNOWN, db[1] if db else UNKNOWN))
    if dim_ne(da[1], db[0]):
        return _fail(
            "matmul",
            f"mat1 and mat2 shapes cannot be multiplied ({_mat_str(*da)} and {_mat_str(*db)}): "
            f"the inner dimensions {dim_str(da[1])} and {dim_str(db[0])} differ",
            got=db[0], want=da[1],
        )
    return Result(Shape.of(da[0], db[1]))


def bmm(a: Shape | None, b: Shape | None) -> Result:
    """``torch.bmm``: exactly 3-D @ 3-D with equal batch sizes (no broadcasting)."""
    a, b = _clean(a), _clean(b)
    da, db, err = _fit_operands(a, b, 3, "torch.bmm needs 3-D tensors", ("batch1 must be a 3D tensor", "batch2 must be a 3D tensor"))
    if err is not None:
        return err
    if da is None or db is None:
        return Result(Shape.of(
            da[0] if da else (db[0] if db else UNKNOWN), da[1] if da else UNKNOWN, db[2] if db else UNKNOWN
        ))
    if dim_ne(da[0], db[0]) or dim_ne(da[2], db[1]):
        what = "batch sizes" if dim_ne(da[0], db[0]) else "inner dimensions"
        x, y = (da[0], db[0]) if what == "batch sizes" else (da[2], db[1])
        return _fail(
            "matmul",
            f"Expected size for first two dimensions of batch2 tensor to be: [{dim_str(da[0])}, {dim_str(da[2])}] but got: "
            f"[{dim_str(db[0])}, {dim_str(db[1])}] ({a} @ {b}: the {what} {dim_str(x)} and {dim_str(y)} differ)",
            got=y, want=x,
        )
    return Result(Shape.of(_meet(da[0], db[0]), da[1], db[2]))


def linear(x: Shape | None, weight: Shape | None, bias: Shape | None = None) -> Result:
    """``F.linear(x, weight, bias)``: ``x @ weight.T + bias`` with weight ``[out, in]`` (or ``[in]``)."""
    x, weight, bias = _clean(x), _clean(weight), _clean(bias)
    if weight is not None and weight.prefix and len(weight.dims) == 2:
        weight = Shape(weight.dims)  # any other rank fails
    if weight is not None and (len(weight.dims) > 2 or weight.rank == 0):
        return _fail("matmul", f"F.linear needs a 1-D or 2-D weight, but got {weight}")
    if x is not None and x.rank == 0:
        return _fail("matmul", "F.linear needs an input of at least 1 dimension, but got a 0-D tensor")
    if x is None or weight is None:
        if x is not None and weight is None:
            return Result(None)
        if weight is not None and weight.rank == 2:
            return Result(Shape.suffix(weight.dims[0]))
        return Result(None)
    k_in = weight.dims[-1]
    if dim_ne(x.dims[-1], k_in):
        if weight.rank == 2:
            mat1 = _mat_str(dim_product(x.dims[:-1]) if not x.prefix else UNKNOWN, x.dims[-1]) if len(x.dims) != 1 else _mat_str(1, x.dims[-1])
            tail = f" (mat1 and mat2 shapes cannot be multiplied ({mat1} and {_mat_str(weight.dims[1], weight.dims[0])}))"
        else:
            tail = ""
        return _fail(
            "matmul",
            f"the input's last dimension {dim_str(x.dims[-1])} does not match the weight's in_features {dim_str(k_in)}: "
            f"input {x}, weight {weight}{tail}",
            got=x.dims[-1], want=k_in,
        )
    out: Shape | None
    if weight.rank == 2:
        out = x.replace_last(weight.dims[0])  # the leading dims (and what they are: lead) stay
    elif weight.rank == 1:
        out = _mk(x.dims[:-1], x.prefix)
    else:
        out = None
    if bias is not None and out is not None:
        # torch adds the bias with addmm (2-D input; 3-D input with a 1-D bias, flattened) or
        # in place: the bias must broadcast *into* the output, which never grows.
        bad = bias.rank is not None and out.rank is not None and bias.rank > out.rank
        if not bad:
            _, _, mismatch = _broadcast_raw(out, bias)
            bad = mismatch is not None
        if not bad:
            n = min(len(out.dims), len(bias.dims))
            bad = any(
                dim_eq(o, 1) is True and _not_one(b)
                for o, b in zip(out.dims[len(out.dims) - n:], bias.dims[len(bias.dims) - n:])
            )
        if bad:
            return _fail(
                "matmul", f"the bias {bias} cannot be added to the output {out} of F.linear (input {x}, weight {weight})",
                got=bias, want=out,
            )
    return Result(out)


# =============================================================================== reshaping


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


# =============================================================================== chunk / split / cat / stack


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


# =============================================================================== einsum


def _parse_term(term: str, where: str) -> tuple[list[str], ShapeError | None]:
    tokens: list[str] = []
    i = 0
    while i < len(term):
        ch = term[i]
        if ch == ".":
            if term[i:i + 3] != "...":
                return [], ShapeError("einsum", f"einsum(): found '.' for {where} that is not part of any ellipsis")
            if "..." in tokens:
                return [], ShapeError("einsum", f"einsum(): found more than one ellipsis for {where}")
            tokens.append("...")
            i += 3
            continue
        if not (ch.isascii() and ch.isalpha()):
            return [], ShapeError("einsum", f"einsum(): invalid subscript '{ch}' for {where}: subscripts must be in [a-zA-Z]")
        tokens.append(ch)
        i += 1
    return tokens, None


def einsum(subscripts: Any, shapes: Sequence[Shape | None]) -> Result:
    """``torch.einsum(equation, *operands)`` with explicit or implicit output, ``...``
    and size-1 broadcasting of repeated subscripts (as torch allows)."""
    x: str | Dim  # a subscript label, or (reporting a bad broadcast) a size
    bad: tuple[int, Dim, Dim] | bool | None
    if not isinstance(subscripts, str):
        return Result(None)
    ops = _items(shapes)
    if ops is None:
        return Result(None)
    eq = subscripts.replace(" ", "")
    if "->" in eq:
        lhs, rhs = eq.split("->", 1)
    else:
        lhs, rhs = eq, None
    terms = lhs.split(",")
    if len(terms) > len(ops):
        return _fail("einsum", f"einsum(): fewer operands were provided than specified in the equation '{subscripts}' ({len(ops)} given)")
    if len(terms) < len(ops):
        return _fail("einsum", f"einsum(): more operands were provided than specified in the equation '{subscripts}' ({len(ops)} given)")
    parsed = []
    for k, term in enumerate(terms):
        toks, err = _parse_term(term, f"operand {k}")
        if err is not None:
            return Result(None, err)
        parsed.append(toks)
    sizes: dict[str, Dim] = {}
    seen_by: dict[str, int] = {}
    ell: Shape | None = Shape(())  # the broadcast ellipsis dims; None: unknown; prefix: unknown count
    any_ell = False
    for k, (toks, s0) in enumerate(zip(parsed, ops)):
        s = _clean(s0)
        labels = [x for x in toks if x != "..."]
        has_ell = "..." in toks
        any_ell = any_ell or has_ell
        local: dict[str, Dim] = {}
        assigned: list[tuple[str, Dim]] = []
        if s is None:
            if has_ell:
                ell = None
            assigned = [(x, UNKNOWN) for x in labels]
        else:
            m = len(s.dims)
            if not has_ell:
                if (s.rank is not None and s.rank != len(labels)) or m > len(labels):
                    return _fail(
                        "einsum", f"einsum(): the number of subscripts in the equation ({len(labels)}) does not match the "
                        f"number of dimensions ({s.rank if s.rank is not None else f'at least {m}'}) for operand {k} ({s}) "
                        f"and no ellipsis was given",
                    )
                dims = _fit_rank(s, len(labels))
                assigned = list(zip(labels, dims))  # type: ignore[arg-type]
            else:
                if s.rank is not None and s.rank < len(labels):
                    return _fail(
                        "einsum", f"einsum(): the number of subscripts in the equation ({len(labels)}) is more than the "
                        f"number of dimensions ({s.rank}) for operand {k} ({s})",
                    )
                pos = toks.index("...")
                before, after = toks[:pos], toks[pos + 1:]
                if s.rank is not None:
                    dims = s.dims
                    nb, na = len(before), len(after)
                    assigned = list(zip(before, dims[:nb])) + list(zip(after, dims[len(dims) - na:]))
                    e_dims = Shape(tuple(dims[nb:len(dims) - na]))
                else:
                    na = len(after)
                    tail = s.dims[max(0, m - na):]
                    assigned = [(x, UNKNOWN) for x in before]
                    assigned += list(zip(after, (UNKNOWN,) * (na - len(tail)) + tuple(tail)))
                    # labels before the ellipsis take leading dims: inside the known suffix when the
                    # rank is small, so only the suffix dims past them are surely the ellipsis's tail
                    rest = s.dims[len(before):m - na] if m - na > len(before) else ()
                    e_dims = Shape(tuple(rest), True)
                if ell is not None:
                    dims_, prefix_, bad = _broadcast_raw(ell, e_dims)
                    if bad is not None:
                        kk, x, y = bad
                        return _fail(
                            "einsum", f"einsum(): the dimensions covered by ellipsis in operand {k} ({e_dims}) do not "
                            f"broadcast with those seen before ({ell}): sizes {dim_str(y)} and {dim_str(x)}",
                        )
                    ell = Shape(dims_, prefix_)
        for x, d in assigned:
            if x in local:
                if dim_ne(local[x], d):
                    return _fail(
                        "einsum", f"einsum(): subscript {x} is repeated for operand {k} but the sizes don't match, "
                        f"{dim_str(d)} != {dim_str(local[x])} ({s})",
                    )
                local[x] = _meet(local[x], d)
            else:
                local[x] = d
        for x, d in local.items():
            if x in sizes:
                nd, bad = _bcast_dim(sizes[x], d)
                if bad:
                    return _fail(
                        "einsum", f"einsum(): subscript {x} has size {dim_str(d)} for operand {k} which does not broadcast "
                        f"with previously seen size {dim_str(sizes[x])} (operand {seen_by[x]})",
                        got=d, want=sizes[x],
                    )
                sizes[x] = nd
            else:
                sizes[x] = d
                seen_by[x] = k
    if rhs is None:
        counts: dict[str, int] = {}
        for toks in parsed:
            for x in toks:
                if x != "...":
                    counts[x] = counts.get(x, 0) + 1
        out_toks = (["..."] if any_ell else []) + sorted(x for x, c in counts.items() if c == 1)
    else:
        out_toks, err = _parse_term(rhs, "the output")
        if err is not None:
            return Result(None, err)
        seen: set[str] = set()
        for x in out_toks:
            if x == "...":
                continue
            if x not in sizes:
                return _fail("einsum", f"einsum(): output subscript {x} does not appear in the equation for any input operand")
            if x in seen:
                return _fail("einsum", f"einsum(): output subscript {x} appears more than once in the output")
            seen.add(x)
    out: list = []
    prefix = False
    for x in out_toks:
        if x == "...":
            if not any_ell:
                continue
            if ell is None or ell.prefix:
                out = list(ell.dims) if ell is not None else []
                prefix = True
                continue
            out.extend(ell.dims)
        else:
            out.append(sizes[x])
    return Result(_mk(out, prefix))


# =============================================================================== reductions, dim-preserving ops


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


# =============================================================================== indexing


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


# =============================================================================== interpolate, pad


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


# =============================================================================== factories


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


# =============================================================================== losses


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

"""Matrix products: ``@``, ``mm``, ``bmm``, ``linear``.

A part of the shape functions (``torch_lsp.analysis.ops``)."""
from __future__ import annotations


from torch_lsp.analysis.shape_types import Result
from torch_lsp.analysis.shapes import (
    UNKNOWN,
    Dim,
    Shape,
    dim_eq,
    dim_ne,
    dim_product,
    dim_str,
)
from torch_lsp.analysis.ops._common import _clean, _fail, _meet, _mk, _not_one
from torch_lsp.analysis.ops.broadcast import _broadcast_raw


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

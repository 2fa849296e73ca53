"""``einsum``.

A part of the shape functions (``torch_lsp.analysis.ops``)."""
from __future__ import annotations

from typing import Any, Sequence

from torch_lsp.analysis.shape_types import Result, ShapeError
from torch_lsp.analysis.shapes import (
    UNKNOWN,
    Dim,
    Shape,
    dim_ne,
    dim_str,
)
from torch_lsp.analysis.ops._common import _clean, _fail, _items, _meet, _mk
from torch_lsp.analysis.ops.broadcast import _bcast_dim, _broadcast_raw
from torch_lsp.analysis.ops.matmul import _fit_rank


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

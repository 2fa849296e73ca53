"""What the layer families share: the signature parser, argument helpers (``_d``,
``_int``, ``_ntuple``, ``_tup``), errors (``_fail``, ``_need_rank``, ``_cfg``), the
channel/spatial split and sliding-window arithmetic of conv, pool and unfold, parameter
entries (``_linear_entries``, ``_ln_entries``, ``_count``) and display helpers
(``_v``, ``_squash``).

A part of ``torch_lsp.analysis.layers``; imports nothing of the package but shapes and ops.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Callable, overload

from torch_lsp.analysis.shape_types import Layer, Result, ShapeError
from torch_lsp.analysis.shapes import (
    UNKNOWN,
    Dim,
    Shape,
    dim_eq,
    dim_le,
    dim_sign,
    dim_str,
    is_dim,
)

NN = "torch.nn."


_REQUIRED = object()  # a parameter without default


_VARARGS = "*args, **kwargs"


@dataclass(frozen=True)
class _Param:
    name: str
    default: Any = _REQUIRED
    kwonly: bool = False


def _parse_spec(spec: str) -> list[_Param] | None:
    if spec == _VARARGS:
        return None
    fn = ast.parse(f"def f({spec}): pass").body[0]
    a = fn.args  # type: ignore[attr-defined]
    out = []
    pos = a.args
    defaults = [_REQUIRED] * (len(pos) - len(a.defaults)) + [ast.literal_eval(d) for d in a.defaults]
    for p, d in zip(pos, defaults):
        out.append(_Param(p.arg, d))
    for p, d in zip(a.kwonlyargs, a.kw_defaults):
        out.append(_Param(p.arg, _REQUIRED if d is None else ast.literal_eval(d), kwonly=True))
    return out


# ------------------------------------------------------------------ small helpers


def _d(v: Any) -> Dim:
    """An abstract value as a dimension (anything else is unknown)."""
    return v if is_dim(v) else UNKNOWN


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _short(cls: str) -> str:
    return cls.rsplit(".", 1)[-1]


def _rank_of(cls: str) -> int:
    """Spatial rank from a class name ending in 1d/2d/3d."""
    short = _short(cls)
    if short.endswith("d") and short[-2:-1].isdigit():
        return int(short[-2])
    return 2


def _ntuple(v: Any, n: int, expand_single: bool = False) -> Any:
    """``3 -> (3, 3)``; tuples stay (torch keeps iterables as given); other values stay."""
    if is_dim(v):
        return (v,) * n
    if isinstance(v, list):
        v = tuple(v)
    if isinstance(v, tuple) and expand_single and len(v) == 1:
        return (v[0],) * n
    return v


def _tup(v: Any, n: int) -> tuple | None:
    """A normalised tuple parameter as ``n`` dimensions, or None when it is not one."""
    if is_dim(v):
        return (v,) * n
    if isinstance(v, (tuple, list)) and len(v) == n:
        return tuple(_d(x) for x in v)
    return None


def _fdiv(a: Dim, b: Dim) -> Dim:
    if isinstance(b, int) and not isinstance(b, bool) and b > 0:
        return a // b  # type: ignore[operator]
    return UNKNOWN


def _neg(d: Dim) -> bool:
    """Provably < 1 (a size that cannot exist)."""
    s = dim_sign(d - 1)  # type: ignore[operator]
    return s == -1


def _x(dims: tuple) -> str:
    """``(4, 4)`` -> ``4 × 4``."""
    return " × ".join(dim_str(d) for d in dims)


def _show(d: Dim) -> str:
    return str(max(d, 0)) if isinstance(d, int) else dim_str(d)


def _shape_of(v: Any) -> tuple[bool, Shape | None]:
    """(is it a tensor?, its shape) for a forward keyword argument (a Shape, or an
    interpreter value with a ``shape``)."""
    if isinstance(v, Shape):
        return True, v
    if v is not None and hasattr(v, "shape") and (v.shape is None or isinstance(v.shape, Shape)):
        return True, v.shape
    return False, None


def _arg(inputs: list, kwargs: dict | None, index: int, name: str) -> tuple[bool, Shape | None]:
    """(present?, shape) of a forward argument given positionally or by keyword."""
    if kwargs and name in kwargs:
        return _shape_of(kwargs[name])[0] or kwargs[name] is not None, _shape_of(kwargs[name])[1]
    if index < len(inputs):
        return True, inputs[index]
    return False, None


def _kwval(kwargs: dict | None, name: str, default: Any) -> Any:
    if kwargs and name in kwargs:
        return kwargs[name]
    return default


def _fail(kind: str, message: str, **kw: Any) -> Result:
    return Result(None, ShapeError(kind, message, **kw))


def _desc_rank(x: Shape) -> str:
    if x.prefix:
        return f"an input with at least {len(x.dims)} dimensions {x}"
    return f"a {len(x.dims)}-D input {x}"


def _need_rank(x: Shape | None, ranks: tuple[int, ...], what: str = "") -> Result | None:
    """A rank error when ``x`` provably has none of ``ranks``."""
    if x is None:
        return None
    if x.prefix:
        if len(x.dims) <= max(ranks):
            return None
    elif len(x.dims) in ranks:
        return None
    if len(ranks) == 2 and ranks[1] == ranks[0] + 1:
        want = f"a {ranks[0]}-D (unbatched) or {ranks[1]}-D (batched) input"
    elif len(ranks) == 1:
        want = f"a {ranks[0]}-D input"
    else:
        want = " or ".join(f"{r}-D" for r in ranks) + " input"
    return _fail("rank", f"expects {what or want}, but receives {_desc_rank(x)}", got=x.rank, want=ranks)


def _min_rank(x: Shape | None, r: int, what: str) -> Result | None:
    if x is None or x.prefix or len(x.dims) >= r:
        return None
    return _fail("rank", f"expects {what}, but receives {_desc_rank(x)}", got=x.rank, want=r)


def _exact(x: Shape | None, r: int) -> Shape:
    """``x`` (known to have rank r when valid) as a shape of rank r."""
    if x is None:
        return Shape((UNKNOWN,) * r)
    if x.prefix:
        dims = x.dims[len(x.dims) - r:] if len(x.dims) > r else x.dims
        return Shape((UNKNOWN,) * (r - len(dims)) + tuple(dims))
    return x


def _at(x: Shape | None, i: int, ranks: tuple[int, ...] | None = None) -> Dim:
    """Dimension ``i`` (from the front) of ``x``; for a prefix shape, known when the
    valid rank is a single ``ranks[0]`` (then ``i`` is a known offset from the end)."""
    if x is None:
        return UNKNOWN
    if not x.prefix:
        return x.dims[i] if -len(x.dims) <= i < len(x.dims) else UNKNOWN
    if ranks is not None and len(ranks) == 1:
        return x.dim(i - ranks[0]) if i >= 0 else x.dim(i)
    return x.dim(i) if i < 0 else UNKNOWN


def _with_dim(x: Shape, i: int, d: Dim) -> Shape:
    dims = list(x.dims)
    dims[i] = d
    return Shape(tuple(dims), x.prefix)


def _plain(v: Any) -> Any:
    """An argument value with its sequences as Python tuples, as the module docstring of
    ``shape_types`` promises: the interpreter hands tuple and list literals over as its
    own ``TupleV`` (``items``), and Python lists may come from tests; nested sequences
    are converted too. Anything else stays as it is."""
    if isinstance(v, (tuple, list)):
        items = tuple(_plain(x) for x in v)
        return v if isinstance(v, tuple) and all(a is b for a, b in zip(items, v)) else items
    if type(v).__name__ == "TupleV" and isinstance(getattr(v, "items", None), tuple):
        return tuple(_plain(x) for x in v.items)
    return v


def _as_layer(v: Any) -> Any:
    """An interpreter layer value (``LayerV``) or a ``Layer`` as a ``Layer``."""
    if isinstance(v, Layer):
        return v
    inner = getattr(v, "layer", None)
    if isinstance(inner, Layer):
        return inner
    return v


# ------------------------------------------------------------------ config errors


def _cfg(message: str, param: str | None = None) -> ShapeError:
    return ShapeError("config", message, param=param)


def _divides(a: Any, b: Any) -> bool | None:
    """Does ``b`` divide ``a``? None when undecided."""
    a, b = _d(a), _d(b)
    if isinstance(b, int) and b <= 0:
        return None
    r = a % b  # type: ignore[operator]
    if isinstance(r, int):
        return r == 0
    return None


_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 6: "six"}


def _show_arg(v: Any) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(_show_arg(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return dim_str(v) if is_dim(v) else repr(v)


def _lengths(p: dict, names: tuple[str, ...], ok: Callable[[int], bool], want: str) -> list[ShapeError]:
    """A config error for the first of ``names`` given as a tuple whose length is not ``ok``."""
    for name in names:
        v = p.get(name)
        if isinstance(v, tuple) and not ok(len(v)):
            count = f"{len(v)} value" + ("" if len(v) == 1 else "s")
            return [_cfg(f"{name} must be {want}, but is {_show_arg(v)} ({count})", name)]
    return []


def _non_int(v: Any) -> bool:
    """A literal that is not an integer (torch wants ints there)."""
    return v is None or isinstance(v, (bool, float, str, tuple))


def _divisible(layer: Layer, num: str, den: str, why: str = "") -> list[ShapeError]:
    """The error when ``layer.params[num]`` is provably not a multiple of ``[den]``."""
    p = layer.params
    if _divides(p[num], p[den]) is False:
        return [_cfg(f"{num} ({dim_str(p[num])}) must be divisible by {den} ({dim_str(p[den])}){why}", den)]
    return []


# ------------------------------------------------------------------ channel/spatial split


@dataclass
class _Split:
    """An input of rank n+1 (unbatched) or n+2 (batched): ``lead`` (batch dims, if
    known), the channel dimension and the n spatial dimensions."""

    lead: tuple
    prefix: bool
    chan: Dim
    spatial: tuple

    def build(self, chan: Dim, spatial: tuple) -> Shape:
        return Shape(tuple(self.lead) + (chan,) + tuple(spatial), self.prefix)


def _split(x: Shape | None, n: int) -> _Split | Result:
    lo, hi = n + 1, n + 2
    err = _need_rank(x, (lo, hi))
    if err is not None:
        return err
    if x is None:
        return _Split((), True, UNKNOWN, (UNKNOWN,) * n)
    dims = tuple(x.dims)
    if x.prefix:
        if len(dims) == hi:  # the only valid rank left
            return _Split(dims[:1], False, dims[1], dims[2:])
        full = (UNKNOWN,) * max(0, lo - len(dims)) + dims
        return _Split((), True, full[0], full[1:])
    return _Split(dims[: len(dims) - lo], False, dims[-lo], dims[-n:])


_AXES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def _spatial_msg(n: int, outs: list, ins: tuple, k: tuple, what: str, pads: tuple | None, dil: tuple | None) -> str:
    if n == 1:
        text = f"output length would be {_show(outs[0])}: the {what} of size {dim_str(k[0])}"
        if dil is not None and any(d != 1 for d in dil):
            text += f" (dilated to {dim_str(dil[0] * (k[0] - 1) + 1)})"
        text += f" does not fit the input of length {dim_str(ins[0])}"
        if pads is not None and any(p != 0 for p in pads):
            text += f" (padded to {dim_str(ins[0] + 2 * pads[0])})"
        return text
    text = f"output would be {' × '.join(_show(o) for o in outs)}: the {_x(k)} {what}"
    if dil is not None and any(d != 1 for d in dil):
        text += f" (dilated to {_x(tuple(d * (kk - 1) + 1 for d, kk in zip(dil, k)))})"
    text += f" does not fit the {_x(ins)} input"
    if pads is not None and any(p != 0 for p in pads):
        text += f" (padded to {_x(tuple(i + 2 * p for i, p in zip(ins, pads)))})"
    return text


def _window_out(L: Dim, k: Dim, s: Dim, p: Dim, d: Dim, ceil: Any = False) -> tuple[Dim, bool]:
    """Output size of a sliding window (conv/pool) and whether it is provably < 1."""
    eff = d * (k - 1) + 1  # type: ignore[operator]
    # floor((num) / s) + 1 written as floor((num + s) / s): the same for integers, and
    # simpler symbolically ((H - 2) // 2 + 1 becomes H // 2)
    if ceil is True:
        num = L + 2 * p - eff + (s - 1) + s  # type: ignore[operator]
    elif ceil is False:
        num = L + 2 * p - eff + s  # type: ignore[operator]
    else:
        floor_out, floor_bad = _window_out(L, k, s, p, d, False)
        ceil_out, ceil_bad = _window_out(L, k, s, p, d, True)
        return (floor_out if dim_eq(floor_out, ceil_out) else UNKNOWN), floor_bad and ceil_bad
    out = _fdiv(num, s)
    if _neg(out):
        return out, True
    if ceil is True and s != 1:
        # torch: the last window must start inside the input or its left padding
        last_outside = dim_le(L + p, (out - 1) * s)  # type: ignore[operator]
        if last_outside is True:
            out = out - 1
        elif last_outside is None:
            out = UNKNOWN
        if _neg(out):
            return out, True
    return out, False


def _requested_sizes(x: Shape | None, requested: Any, n: int, extra: tuple[int, ...], what: str) -> tuple | Result | None:
    """The n spatial sizes of an ``output_size`` forward argument that may also name
    the ``extra`` leading (batch, channel) dims; a rank error when its length provably
    fits none; None when unknown."""
    if not isinstance(requested, tuple):
        return None
    m = len(requested)
    if m == n:
        return tuple(_d(v) for v in requested)
    if x is None or x.prefix:
        return tuple(_d(v) for v in requested[m - n:]) if m > n and m - n in extra else None
    if m - n in extra:
        return tuple(_d(v) for v in requested[m - n:])
    counts = " or ".join(str(n + e) for e in (0,) + extra)
    return _fail("rank", f"needs output_size with {counts} values{what}, but it has {m}: {_show_arg(requested)}", got=m, want=n)


# ------------------------------------------------------------------ forward errors


def _features_error(param: str, want: Dim, got: Dim, what: str = "input features") -> Result:
    return _fail(
        "features",
        f"expects {dim_str(want)} {what} ({param}), but receives {dim_str(got)}",
        param=param,
        expected=got,
        got=got,
        want=want,
    )


def _norm_dim(dim: int, rank: int) -> int | None:
    r = max(rank, 1)
    if -r <= dim < r:
        return dim % r
    return None


def _dim_error(dim: Any, x: Shape) -> Result:
    r = max(len(x.dims), 1)
    return _fail("rank", f"uses dim={dim}, which is out of range for {_desc_rank(x)} (expected a dim in [{-r}, {r - 1}])")


# ------------------------------------------------------------------ parameters


_Entry = tuple  # (name, Shape, is_parameter)


@overload
def _prefixed(prefix: str, entries: list[_Entry]) -> list[_Entry]: ...
@overload
def _prefixed(prefix: str, entries: list[_Entry] | None) -> list[_Entry] | None: ...
def _prefixed(prefix: str, entries: list[_Entry] | None) -> list[_Entry] | None:
    if entries is None:
        return None
    return [(prefix + name, s, isp) for name, s, isp in entries]


def _linear_entries(out_f: Dim, in_f: Dim, bias: Any) -> list[_Entry]:
    e = [("weight", Shape.of(out_f, in_f), True)]
    if bias is not False:
        e.append(("bias", Shape.of(out_f), True))
    return e


def _ln_entries(ns: tuple, affine: Any, bias: Any) -> list[_Entry]:
    e: list[_Entry] = []
    if affine is not False:
        e.append(("weight", Shape(ns), True))
        if bias is not False:
            e.append(("bias", Shape(ns), True))
    return e


def _count(entries: list[_Entry] | None) -> Dim:
    if entries is None:
        return UNKNOWN
    total: Dim = 0
    for _, s, is_param in entries:
        if is_param:
            total = total + s.numel()  # type: ignore[operator]
    return total


def _channels_first_input(layer: Layer) -> Shape:
    """The expected input of a convolution or an instance norm: ``[*, C, <n spatial>]``
    (C unknown when lazy, or for an instance norm without affine or running stats)."""
    p = layer.params
    short = layer.short
    U = UNKNOWN
    n = _rank_of(layer.cls)
    c = U if short.startswith("Lazy") else _d(p.get("in_channels", p.get("num_features")))
    if short.startswith("InstanceNorm") and p.get("affine") is not True and p.get("track_running_stats") is not True:
        c = U
    return Shape.suffix(c, *(U,) * n)


# ------------------------------------------------------------------ display


def _v(v: Any) -> str:
    if isinstance(v, tuple):
        return "×".join(_v(x) for x in v)
    if is_dim(v):
        return dim_str(v)
    return repr(v) if isinstance(v, str) else str(v)


def _squash(v: Any) -> Any:
    """``(1, 1) -> 1`` for display."""
    if isinstance(v, tuple) and v and all(x == v[0] and type(x) is type(v[0]) for x in v):
        return v[0]
    return v

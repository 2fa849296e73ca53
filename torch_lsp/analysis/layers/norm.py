"""Normalisation: batch, instance, group, layer and RMS norms, local response norms.

A family of ``torch_lsp.analysis.layers`` (see the package docstring for what a spec holds).
"""
from __future__ import annotations

from typing import Any

from torch_lsp.analysis.layers._common import (
    _at,
    _cfg,
    _channels_first_input,
    _d,
    _desc_rank,
    _divides,
    _divisible,
    _Entry,
    _exact,
    _fail,
    _ln_entries,
    _min_rank,
    _need_rank,
    _non_int,
    _rank_of,
    _short,
    _show_arg,
    _split,
    _v,
    _with_dim,
)
from torch_lsp.analysis.layers.spec import LayerSpec
from torch_lsp.analysis.shape_types import Layer, Result, ShapeError
from torch_lsp.analysis.shapes import (
    UNKNOWN,
    Dim,
    Shape,
    dim_ne,
    dim_str,
    is_dim,
)

_BN = "num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, device=None, dtype=None, *, bias=True"


_LAZY_BN = "eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, device=None, dtype=None, *, bias=True"


_IN = "num_features, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False, device=None, dtype=None, *, bias=True"


SIGNATURES: dict[str, str] = {
    **{f"BatchNorm{d}d": _BN for d in (1, 2, 3)},
    **{f"LazyBatchNorm{d}d": _LAZY_BN for d in (1, 2, 3)},
    "SyncBatchNorm": "num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, process_group=None, device=None, dtype=None, *, bias=True",
    **{f"InstanceNorm{d}d": _IN for d in (1, 2, 3)},
    **{f"LazyInstanceNorm{d}d": _LAZY_BN for d in (1, 2, 3)},
    "LayerNorm": "normalized_shape, eps=1e-05, elementwise_affine=True, bias=True, device=None, dtype=None",
    "GroupNorm": "num_groups, num_channels, eps=1e-05, affine=True, device=None, dtype=None, *, bias=True",
    "RMSNorm": "normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None",
    "LocalResponseNorm": "size, alpha=0.0001, beta=0.75, k=1.0",
    "CrossMapLRN2d": "size, alpha=0.0001, beta=0.75, k=1",
}


# A marker among LayerNorm/RMSNorm's bound arguments: normalized_shape was given as a
# number (``LayerNorm(64)``), not as a list or tuple (``LayerNorm([64])``).
_NS_SCALAR = "_normalized_shape_is_int"


def _ns(v: Any) -> tuple | None:
    """A LayerNorm/RMSNorm normalized_shape as a tuple of dimensions, or None."""
    if is_dim(v) and v is not UNKNOWN:
        return (v,)
    if isinstance(v, (tuple, list)):
        return tuple(_d(x) for x in v)
    return None


def _normalise(cls: str, p: dict[str, Any]) -> None:
    short = _short(cls)
    if short in ("LayerNorm", "RMSNorm"):
        ns = p["normalized_shape"]
        if is_dim(ns) and ns is not UNKNOWN:
            p["normalized_shape"] = (ns,)
            p[_NS_SCALAR] = True  # written as a number: a fix writes a number too
        elif isinstance(ns, list):
            p["normalized_shape"] = tuple(ns)


def _groupnorm_config(layer: Layer) -> list[ShapeError]:
    return _divisible(layer, "num_channels", "num_groups")


def _norm_shape_config(layer: Layer) -> list[ShapeError]:
    ns = layer.params.get("normalized_shape")
    if isinstance(ns, (bool, float, str)) or ns is None:
        return [_cfg(f"normalized_shape must be an int or a tuple/list of ints, but is {ns!r}", "normalized_shape")]
    if not isinstance(ns, tuple):
        return []
    if not ns:
        return [_cfg("normalized_shape must hold at least one size, but is empty", "normalized_shape")]
    if any(_non_int(v) for v in ns):
        return [_cfg(f"normalized_shape must hold ints, but is {_show_arg(ns)}", "normalized_shape")]
    if any(isinstance(v, int) and v < 0 for v in ns):
        return [_cfg(f"normalized_shape must not hold negative sizes, but is {_show_arg(ns)}", "normalized_shape")]
    return []


def _bn_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    p = layer.params
    short = layer.short
    x = inputs[0]
    if short == "SyncBatchNorm":
        ranks: tuple[int, ...] = ()
        err = _min_rank(x, 2, "an input with at least 2 dimensions (N, C, ...)")
    else:
        n = _rank_of(layer.cls)
        ranks = (2, 3) if n == 1 else (n + 2,)
        err = _need_rank(x, ranks)
    if err is not None:
        return err
    checked = not short.startswith("Lazy") and (p.get("affine") is True or p.get("track_running_stats") is True)
    nf = _d(p.get("num_features", UNKNOWN))
    chan = _at(x, 1, ranks if len(ranks) == 1 else None)
    if checked and dim_ne(chan, nf):
        return _channels_error("num_features", nf, chan)
    out = _exact(x, ranks[0]) if len(ranks) == 1 else x
    if checked and out is not None and len(ranks) == 1 and out.dims[1] is UNKNOWN:
        out = _with_dim(out, 1, nf)
    return Result(out)


def _channels_error(param: str, want: Dim, got: Dim) -> Result:
    return _fail(
        "channels",
        f"expects {dim_str(want)} channels ({param}), but receives {dim_str(got)}",
        param=param,
        expected=got,
        got=got,
        want=want,
    )


def _instancenorm_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    p = layer.params
    n = _rank_of(layer.cls)
    sp = _split(inputs[0], n)
    if isinstance(sp, Result):
        return sp
    stateful = p.get("affine") is True or p.get("track_running_stats") is True
    lazy = layer.short.startswith("Lazy")
    checked = not lazy and stateful
    nf = _d(p.get("num_features", UNKNOWN))
    if checked and dim_ne(sp.chan, nf):
        return _channels_error("num_features", nf, sp.chan)
    x = inputs[0]
    if lazy and stateful and x is not None and not x.prefix and len(x.dims) == n + 1 and dim_ne(sp.chan, x.dims[1]):
        # torch's lazy initialisation reads num_features from dimension 1 even for an
        # unbatched input, whose channels are at dimension 0
        return _fail(
            "channels",
            f"takes num_features from dimension 1 ({dim_str(x.dims[1])}) on its first call, but this unbatched input "
            f"has its {dim_str(sp.chan)} channels at dimension 0",
            got=sp.chan,
        )
    if inputs[0] is None:
        return Result(None)
    return Result(sp.build(nf if checked and sp.chan is UNKNOWN else sp.chan, sp.spatial))


def _groupnorm_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    p = layer.params
    x = inputs[0]
    err = _min_rank(x, 2, "an input with at least 2 dimensions (N, C, ...)")
    if err is not None:
        return err
    chan = _at(x, 1)
    nc, ng = _d(p["num_channels"]), _d(p["num_groups"])
    if p.get("affine") is True and dim_ne(chan, nc):
        return _channels_error("num_channels", nc, chan)
    if _divides(chan, ng) is False:
        return _fail(
            "channels",
            f"splits the channels into {dim_str(ng)} groups, but receives {dim_str(chan)} channels, which {dim_str(ng)} does not divide",
            got=chan,
        )
    return Result(x)


def _normalized_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    """LayerNorm and RMSNorm: the trailing dimensions must equal normalized_shape."""
    x = inputs[0]
    ns = _ns(layer.params["normalized_shape"])
    if ns is None:
        return Result(x)
    k = len(ns)
    if x is None:
        return Result(Shape.suffix(*ns) if k else None)
    if not x.prefix and len(x.dims) < k:
        return _fail(
            "rank",
            f"normalizes the last {k} dimensions {Shape(ns)}, but receives {_desc_rank(x)}",
            got=len(x.dims),
            want=k,
        )
    tail = tuple(x.dims[len(x.dims) - k:]) if k else ()
    known = len(tail) if x.prefix and len(x.dims) < k else k
    if x.prefix and len(x.dims) < k:
        tail = tuple(x.dims)
    pairs = list(zip(ns[k - known:], tail))
    if any(dim_ne(a, b) for a, b in pairs):
        if k == 1:
            # the fix keeps the form the user wrote: LayerNorm(64) -> 128, LayerNorm([64]) -> (128,)
            as_number = layer.params.get(_NS_SCALAR) is True or is_dim(layer.params["normalized_shape"])
            return _fail(
                "features",
                f"expects {dim_str(ns[0])} features in the last dimension (normalized_shape), but receives {dim_str(tail[0])}",
                param="normalized_shape",
                expected=tail[0] if as_number else (tail[0],),
                got=tail[0],
                want=ns[0],
            )
        full = known == k and all(v is not UNKNOWN for v in tail)
        got = Shape(tail) if known == k else Shape(tail, prefix=True)
        return _fail(
            "features",
            f"expects the last {k} dimensions to be {Shape(ns)} (normalized_shape), but receives {got}",
            param="normalized_shape",
            expected=tuple(tail) if full else None,
            got=tuple(tail),
            want=ns,
        )
    # keep what is known: the trailing dims are the normalized shape
    dims = list(x.dims)
    for i in range(1, min(k, len(dims)) + 1):
        if dims[-i] is UNKNOWN:
            dims[-i] = ns[-i]
    if x.prefix and len(dims) < k:
        dims = list(ns)
    return Result(Shape(tuple(dims), x.prefix))


def _lrn_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    x = inputs[0]
    if layer.short == "CrossMapLRN2d":
        err = _need_rank(x, (4,))
    else:
        err = _min_rank(x, 3, "an input with at least 3 dimensions (N, C, ...)")
    return err or Result(x)


def _expected_input(layer: Layer) -> Shape | None:
    p = layer.params
    short = layer.short
    U = UNKNOWN
    if short.startswith(("InstanceNorm", "LazyInstanceNorm")):
        return _channels_first_input(layer)
    if short in ("BatchNorm2d", "BatchNorm3d", "LazyBatchNorm2d", "LazyBatchNorm3d"):
        n = _rank_of(layer.cls)
        checked = not short.startswith("Lazy") and (p.get("affine") is True or p.get("track_running_stats") is True)
        return Shape((U, _d(p["num_features"]) if checked else U) + (U,) * n)
    if short in ("LayerNorm", "RMSNorm"):
        ns = _ns(p["normalized_shape"])
        return Shape.suffix(*ns) if ns is not None else None
    return None


def _entries(layer: Layer) -> list[_Entry] | None:
    p = layer.params
    short = layer.short
    U = UNKNOWN
    if "BatchNorm" in short or "InstanceNorm" in short:
        C = _d(p.get("num_features", U))
        e = []
        affine, track = p.get("affine"), p.get("track_running_stats")
        if affine is not True and affine is not False or track is not True and track is not False:
            return None
        if affine:
            e.append(("weight", Shape.of(C), True))
            if p.get("bias") is not False:
                e.append(("bias", Shape.of(C), True))
        if track:
            e += [("running_mean", Shape.of(C), False), ("running_var", Shape.of(C), False), ("num_batches_tracked", Shape.of(), False)]
        return e
    if short == "GroupNorm":
        C = _d(p["num_channels"])
        if p.get("affine") is False:
            return []
        e = [("weight", Shape.of(C), True)]
        if p.get("bias") is not False:
            e.append(("bias", Shape.of(C), True))
        return e
    if short in ("LayerNorm", "RMSNorm"):
        ns = _ns(p["normalized_shape"])
        if ns is None:
            return None
        return _ln_entries(ns, p.get("elementwise_affine"), p.get("bias") if short == "LayerNorm" else False)
    return []


def _describe(layer: Layer) -> str | None:
    p = layer.params
    short = layer.short
    if "BatchNorm" in short or "InstanceNorm" in short:
        return f"{short}({_v(p.get('num_features', UNKNOWN))})"
    if short == "GroupNorm":
        return f"GroupNorm({_v(p['num_groups'])} groups, {_v(p['num_channels'])} channels)"
    if short in ("LayerNorm", "RMSNorm"):
        ns = _ns(p["normalized_shape"])
        return f"{short}({_v(ns[0]) if ns is not None and len(ns) == 1 else Shape(ns) if ns is not None else '?'})"
    return None


SPEC: LayerSpec = LayerSpec(
    family="norm",
    signatures=SIGNATURES,
    normalise=_normalise,
    config={
        "GroupNorm": _groupnorm_config,
        "LayerNorm": _norm_shape_config,
        "RMSNorm": _norm_shape_config,
    },
    forward={
        **{f"{k}BatchNorm{d}d": _bn_forward for k in ("", "Lazy") for d in (1, 2, 3)},
        "SyncBatchNorm": _bn_forward,
        **{f"{k}InstanceNorm{d}d": _instancenorm_forward for k in ("", "Lazy") for d in (1, 2, 3)},
        "GroupNorm": _groupnorm_forward,
        "LayerNorm": _normalized_forward,
        "RMSNorm": _normalized_forward,
        "LocalResponseNorm": _lrn_forward,
        "CrossMapLRN2d": _lrn_forward,
    },
    expected_input=_expected_input,
    entries=_entries,
    describe=_describe,
)

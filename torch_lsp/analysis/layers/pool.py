"""Pooling: max, average and LP pools, adaptive pools, fractional max pools and max unpools.

A family of ``torch_lsp.analysis.layers`` (see the package docstring for what a spec holds).
"""
from __future__ import annotations

from typing import Any

from torch_lsp.analysis.layers._common import (
    _WORDS,
    _cfg,
    _d,
    _fail,
    _kwval,
    _lengths,
    _ntuple,
    _rank_of,
    _requested_sizes,
    _short,
    _show_arg,
    _spatial_msg,
    _split,
    _squash,
    _tup,
    _v,
    _window_out,
    _x,
)
from torch_lsp.analysis.layers.spec import LayerSpec
from torch_lsp.analysis.shape_types import Layer, Result, ShapeError
from torch_lsp.analysis.shapes import (
    UNKNOWN,
    Shape,
    dim_le,
    dim_sign,
)

_MAXPOOL = "kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False"


_AVGPOOL = "kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None"


SIGNATURES: dict[str, str] = {
    **{f"MaxPool{d}d": _MAXPOOL for d in (1, 2, 3)},
    "AvgPool1d": "kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True",
    "AvgPool2d": _AVGPOOL,
    "AvgPool3d": _AVGPOOL,
    **{f"LPPool{d}d": "norm_type, kernel_size, stride=None, ceil_mode=False" for d in (1, 2, 3)},
    **{f"AdaptiveAvgPool{d}d": "output_size" for d in (1, 2, 3)},
    **{f"AdaptiveMaxPool{d}d": "output_size, return_indices=False" for d in (1, 2, 3)},
    **{f"MaxUnpool{d}d": "kernel_size, stride=None, padding=0" for d in (1, 2, 3)},
    **{
        f"FractionalMaxPool{d}d": "kernel_size, output_size=None, output_ratio=None, return_indices=False, _random_samples=None"
        for d in (2, 3)
    },
}


def _normalise(cls: str, p: dict[str, Any]) -> None:
    short = _short(cls)
    n = _rank_of(cls)
    if short.startswith(("MaxPool", "AvgPool", "LPPool", "MaxUnpool")):
        # MaxPool/AvgPool take one value for all dims, as an int or a 1-tuple; LPPool
        # unpacks kernel_size into exactly n values and MaxUnpool indexes every tuple by
        # dimension, so a 1-tuple stays one there (config_errors tells)
        single = short.startswith(("MaxPool", "AvgPool"))
        for name in ("kernel_size", "padding", "dilation"):
            if name in p:
                p[name] = _ntuple(p[name], n, expand_single=single)
        if "stride" in p:
            empty = isinstance(p["stride"], tuple) and not p["stride"] and not short.startswith("MaxUnpool")
            if p["stride"] is None or empty:  # torch reads an empty stride as "omitted"
                p["stride"] = p["kernel_size"]
            else:
                p["stride"] = _ntuple(p["stride"], n, expand_single=single or short.startswith("LPPool"))
    elif short.startswith("Adaptive"):
        p["output_size"] = _ntuple(p["output_size"], n)
    elif short.startswith("FractionalMaxPool"):
        p["kernel_size"] = _ntuple(p["kernel_size"], n)
        if p["output_size"] is not None:
            p["output_size"] = _ntuple(p["output_size"], n)
        if isinstance(p["output_ratio"], (int, float)) and not isinstance(p["output_ratio"], bool):
            p["output_ratio"] = (p["output_ratio"],) * n


def _pool_config(layer: Layer) -> list[ShapeError]:
    p = layer.params
    n = _rank_of(layer.cls)
    # a 1-tuple was expanded and an empty stride replaced by bind: n values are left
    err = _lengths(p, ("kernel_size", "stride", "padding", "dilation"), lambda m: m == n, f"a single int or a tuple of {_WORDS[n]} ints")
    if err:
        return err
    out: list[ShapeError] = []
    k = _tup(p.get("kernel_size"), n)
    for name in ("kernel_size", "stride", "dilation"):
        t = _tup(p.get(name), n)
        if t is not None and any(isinstance(v, int) and v <= 0 for v in t):
            out.append(_cfg(f"{name} must be positive, but is {_x(t)}", name))
    if out:
        return out
    pad = _tup(p.get("padding", 0), n)
    if pad is not None and any(isinstance(v, int) and v < 0 for v in pad):
        return [_cfg(f"padding must be non-negative, but is {_show_arg(_squash(pad))}", "padding")]
    if k is not None and pad is not None:
        for kk, pp in zip(k, pad):
            if isinstance(kk, int) and isinstance(pp, int) and pp > kk // 2:
                out.append(_cfg(f"padding ({_x(pad)}) must be at most half the kernel size ({_x(k)})", "padding"))
                break
    return out


def _fracpool_config(layer: Layer) -> list[ShapeError]:
    p = layer.params
    n = _rank_of(layer.cls)
    if p.get("output_size") is None and p.get("output_ratio") is None:
        return [_cfg("either output_size or output_ratio must be given", "output_size")]
    return _lengths(p, ("kernel_size", "output_size", "output_ratio"), lambda m: m == n, f"a single number or a tuple of {_WORDS[n]}")


def _lppool_config(layer: Layer) -> list[ShapeError]:
    # LPPool unpacks kernel_size into exactly n values (LPPool1d multiplies by it: an
    # int there, which bind cannot tell from a 1-tuple); stride goes to avg_pool
    n = _rank_of(layer.cls)
    return _lengths(layer.params, ("kernel_size", "stride"), lambda m: m == n, f"a single int or a tuple of {_WORDS[n]} ints")


def _adaptive_config(layer: Layer) -> list[ShapeError]:
    p = layer.params
    n = _rank_of(layer.cls)
    size = p.get("output_size")
    err = _lengths(p, ("output_size",), lambda m: m == n, f"a single int or a tuple of {_WORDS[n]} ints (None keeps a size)")
    if err or not isinstance(size, tuple):
        return err
    if any(isinstance(v, int) and v < 0 for v in size):
        return [_cfg(f"output_size must not be negative, but is {_show_arg(size)}", "output_size")]
    if n == 1 and size[0] is None:  # adaptive_*_pool1d wants an int
        return [_cfg("output_size of a 1-D adaptive pool must be an int, not None", "output_size")]
    return []


def _unpool_config(layer: Layer) -> list[ShapeError]:
    # max_unpool reads kernel_size[d], stride[d], padding[d] for d < len(kernel_size)
    # and needs exactly n sizes
    n = _rank_of(layer.cls)
    p = layer.params
    return _lengths(p, ("kernel_size",), lambda m: m == n, f"a single int or a tuple of {_WORDS[n]} ints") or _lengths(
        p, ("stride", "padding"), lambda m: m >= n, f"a single int or a tuple of {_WORDS[n]} ints"
    )


def _with_indices(out: Shape, p: dict) -> Result:
    """A max pool's result: the output, with ``return_indices=True`` the pair (output,
    indices of the same shape); unknown when the flag is not a constant."""
    ri = p.get("return_indices", False)
    if ri is True:
        return Result((out, out))
    return Result(out if ri is False else None)


def _pool_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    p = layer.params
    n = _rank_of(layer.cls)
    sp = _split(inputs[0], n)
    if isinstance(sp, Result):
        return sp
    k, s = _tup(p["kernel_size"], n), _tup(p["stride"], n)
    pads = _tup(p.get("padding", 0), n)
    d = _tup(p.get("dilation", 1), n)
    ceil = p.get("ceil_mode", False)
    if ceil is not True and ceil is not False:
        ceil = None
    outs: list = []
    if k is None or s is None or pads is None or d is None:
        outs = [UNKNOWN] * n
    elif layer.short in ("AvgPool3d", "LPPool3d") and any(dim_sign(L - kk) == -1 for L, kk in zip(sp.spatial, k)):  # type: ignore[operator]
        # avg_pool3d also wants the unpadded input to be at least the kernel size
        return _fail(
            "spatial",
            f"the {_x(k)} window is larger than the {_x(tuple(sp.spatial))} input (before padding), which avg_pool3d rejects",
            got=tuple(sp.spatial),
        )
    else:
        bad = False
        for L, kk, ss, pp, dd in zip(sp.spatial, k, s, pads, d):
            o, b = _window_out(L, kk, ss, pp, dd, ceil)
            outs.append(o)
            bad = bad or b
        if bad:
            return _fail("spatial", _spatial_msg(n, outs, tuple(sp.spatial), k, "window", pads, d), got=tuple(sp.spatial))
    out = sp.build(sp.chan, tuple(outs))
    return _with_indices(out, p)


def _adaptive_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    p = layer.params
    n = _rank_of(layer.cls)
    sp = _split(inputs[0], n)
    if isinstance(sp, Result):
        return sp
    size = p["output_size"]
    if isinstance(size, tuple) and len(size) == n:
        outs = tuple(L if v is None else _d(v) for v, L in zip(size, sp.spatial))
    else:
        outs = (UNKNOWN,) * n
    out = sp.build(sp.chan, outs)
    return _with_indices(out, p)


def _unpool_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    p = layer.params
    n = _rank_of(layer.cls)
    sp = _split(inputs[0], n)
    if isinstance(sp, Result):
        return sp
    requested = _kwval(kwargs, "output_size", None)
    k, s, pads = _tup(p["kernel_size"], n), _tup(p["stride"], n), _tup(p["padding"], n)
    defaults = None if k is None or s is None or pads is None else tuple((L - 1) * ss - 2 * pp + kk for L, kk, ss, pp in zip(sp.spatial, k, s, pads))  # type: ignore[operator]
    if requested is not None:
        x = inputs[0]
        sizes = _requested_sizes(None if x is None else Shape(tuple(x.dims)), requested, n, (2,), "")  # any rank: n or n + 2
        if isinstance(sizes, Result):
            return sizes
        if sizes is None:
            return Result(sp.build(sp.chan, (UNKNOWN,) * n))
        if defaults is not None and s is not None:
            # torch: default - stride < size < default + stride
            for o, dflt, ss in zip(sizes, defaults, s):
                if dim_le(o, dflt - ss) is True or dim_le(dflt + ss, o) is True:  # type: ignore[operator]
                    return _fail(
                        "spatial",
                        f"cannot produce output_size {_x(sizes)} from the {_x(tuple(sp.spatial))} input: each size must lie "
                        f"strictly between {_x(tuple(dd - ss for dd, ss in zip(defaults, s)))} and {_x(tuple(dd + ss for dd, ss in zip(defaults, s)))}",  # type: ignore[operator]
                        got=tuple(sizes),
                    )
        return Result(sp.build(sp.chan, sizes))
    if len(inputs) > 2 or defaults is None:
        return Result(sp.build(sp.chan, (UNKNOWN,) * n))
    return Result(sp.build(sp.chan, defaults))


def _fracpool_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    p = layer.params
    n = _rank_of(layer.cls)
    sp = _split(inputs[0], n)
    if isinstance(sp, Result):
        return sp
    size, ratio = p.get("output_size"), p.get("output_ratio")
    outs: tuple = (UNKNOWN,) * n
    if size is not None:
        t = _tup(size, n)
        if t is not None:
            outs = t
    elif isinstance(ratio, tuple) and len(ratio) == n:
        outs = tuple(
            int(L * r) if isinstance(L, int) and isinstance(r, (int, float)) and not isinstance(r, bool) else UNKNOWN
            for L, r in zip(sp.spatial, ratio)
        )
    k = _tup(p.get("kernel_size"), n)
    if k is not None:
        # torch: output + kernel - 1 <= input (2-D), < input (3-D)
        room = tuple(L - (o + kk - 1) for L, o, kk in zip(sp.spatial, outs, k))  # type: ignore[operator]
        if any(dim_sign(r) == -1 or (n == 3 and dim_sign(r) == 0) for r in room):
            return _fail(
                "spatial",
                f"the {_x(k)} window is too large to pool the {_x(tuple(sp.spatial))} input into {_x(outs)}: "
                f"output + kernel − 1 must be {'smaller than' if n == 3 else 'at most'} the input size",
                got=tuple(sp.spatial),
            )
    out = sp.build(sp.chan, outs)
    return _with_indices(out, p)


def _expected_input(layer: Layer) -> Shape | None:
    n = _rank_of(layer.cls)
    return Shape.suffix(*(UNKNOWN,) * (n + 1))


def _describe(layer: Layer) -> str | None:
    p = layer.params
    short = layer.short
    if short.startswith(("MaxPool", "AvgPool", "LPPool")):
        parts = [f"kernel {_v(p['kernel_size'])}", f"stride {_v(_squash(p['stride']))}"]
        if _squash(p.get("padding", 0)) != 0:
            parts.append(f"padding {_v(_squash(p['padding']))}")
        if _squash(p.get("dilation", 1)) != 1:
            parts.append(f"dilation {_v(_squash(p['dilation']))}")
        if p.get("ceil_mode") is True:
            parts.append("ceil_mode")
        return f"{short}({', '.join(parts)})"
    if short.startswith("Adaptive"):
        return f"{short}(output {_v(tuple('*' if v is None else v for v in p['output_size']) if isinstance(p['output_size'], tuple) else p['output_size'])})"
    return None


SPEC: LayerSpec = LayerSpec(
    family="pool",
    signatures=SIGNATURES,
    normalise=_normalise,
    config={
        **{f"{k}{d}d": _pool_config for k in ("MaxPool", "AvgPool") for d in (1, 2, 3)},
        "FractionalMaxPool2d": _fracpool_config,
        "FractionalMaxPool3d": _fracpool_config,
        **{f"LPPool{d}d": _lppool_config for d in (1, 2, 3)},
        **{f"Adaptive{k}Pool{d}d": _adaptive_config for k in ("Avg", "Max") for d in (1, 2, 3)},
        **{f"MaxUnpool{d}d": _unpool_config for d in (1, 2, 3)},
    },
    forward={
        **{f"{k}{d}d": _pool_forward for k in ("MaxPool", "AvgPool", "LPPool") for d in (1, 2, 3)},
        **{f"Adaptive{k}Pool{d}d": _adaptive_forward for k in ("Avg", "Max") for d in (1, 2, 3)},
        **{f"MaxUnpool{d}d": _unpool_forward for d in (1, 2, 3)},
        "FractionalMaxPool2d": _fracpool_forward,
        "FractionalMaxPool3d": _fracpool_forward,
    },
    expected_input=_expected_input,
    describe=_describe,
)

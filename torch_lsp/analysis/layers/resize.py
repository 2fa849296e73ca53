"""Resizing layers: ``nn.Upsample`` (and ``nn.Upsampling*2d``), pixel (un)shuffles, the
padding layers, ``nn.ChannelShuffle``, ``nn.Fold`` and ``nn.Unfold``.

A family of ``torch_lsp.analysis.layers`` (see the package docstring for what a spec holds).
"""
from __future__ import annotations

from typing import Any

from torch_lsp.analysis import ops as O
from torch_lsp.analysis.layers._common import (
    _at,
    _cfg,
    _d,
    _divides,
    _fail,
    _fdiv,
    _lengths,
    _min_rank,
    _need_rank,
    _ntuple,
    _rank_of,
    _short,
    _show_arg,
    _spatial_msg,
    _Split,
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
    dim_ne,
    dim_product,
    dim_str,
)

SIGNATURES: dict[str, str] = {
    "Upsample": "size=None, scale_factor=None, mode='nearest', align_corners=None, recompute_scale_factor=None",
    "UpsamplingNearest2d": "size=None, scale_factor=None",
    "UpsamplingBilinear2d": "size=None, scale_factor=None",
    "PixelShuffle": "upscale_factor",
    "PixelUnshuffle": "downscale_factor",
    **{f"{k}Pad{d}d": "padding" for k in ("Zero", "Reflection", "Replication", "Circular") for d in (1, 2, 3)},
    **{f"ConstantPad{d}d": "padding, value" for d in (1, 2, 3)},
    "ChannelShuffle": "groups",
    "Fold": "output_size, kernel_size, dilation=1, padding=0, stride=1",
    "Unfold": "kernel_size, dilation=1, padding=0, stride=1",
}


def _normalise(cls: str, p: dict[str, Any]) -> None:
    short = _short(cls)
    n = _rank_of(cls)
    if short in ("Fold", "Unfold"):
        for name in ("kernel_size", "dilation", "padding", "stride", "output_size"):
            if name in p:
                p[name] = _ntuple(p[name], 2)
    elif "Pad" in short:
        # an unknown padding stays unknown: its length decides which dims torch pads
        if p["padding"] is not UNKNOWN:
            p["padding"] = _ntuple(p["padding"], 2 * n)


def _upsample_config(layer: Layer) -> list[ShapeError]:
    p = layer.params
    size, scale = p.get("size"), p.get("scale_factor")
    if size is None and scale is None:
        return [_cfg("either size or scale_factor must be given", "size")]
    if size is not None and scale is not None and size is not UNKNOWN and scale is not UNKNOWN:
        return [_cfg("only one of size or scale_factor may be given", "scale_factor")]
    return []


def _upsample_sizes_config(layer: Layer) -> list[ShapeError]:
    size = layer.params.get("size")
    values = size if isinstance(size, tuple) else (size,)
    if any(isinstance(v, int) and not isinstance(v, bool) and v <= 0 for v in values):
        return [_cfg(f"output sizes must be greater than 0, but size is {_show_arg(size)}", "size")]
    return []


def _pad_config(layer: Layer) -> list[ShapeError]:
    pads = layer.params.get("padding")
    if isinstance(pads, tuple) and len(pads) % 2:
        return [_cfg(f"padding must hold a (left, right) pair per padded dimension, but {_show_arg(pads)} has {len(pads)} values", "padding")]
    return []


def _fold_config(layer: Layer) -> list[ShapeError]:
    p = layer.params
    names = ("output_size", "kernel_size", "dilation", "padding", "stride")
    err = _lengths(p, names, lambda m: m == 2, "a single int or a tuple of two ints")
    if err:
        return err
    for name in ("kernel_size", "dilation", "stride"):
        t = _tup(p.get(name), 2)
        if t is not None and any(isinstance(v, int) and v <= 0 for v in t):
            return [_cfg(f"{name} must be positive, but is {_x(t)}", name)]
    return []


def _upsample_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    """``nn.Upsample`` (and the Upsampling*2d) is ``F.interpolate`` with its size, scale
    factor and mode."""
    p = layer.params
    short = layer.short
    mode = "bilinear" if short == "UpsamplingBilinear2d" else "nearest" if short == "UpsamplingNearest2d" else p.get("mode")
    size, scale = p.get("size"), p.get("scale_factor")
    if size is None and scale is None:
        return Result(None)  # config_errors tells
    return O.interpolate(inputs[0], size, scale, mode)


def _pixel_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    x = inputs[0]
    up = layer.short == "PixelShuffle"
    r = _d(layer.params["upscale_factor" if up else "downscale_factor"])
    err = _min_rank(x, 3, "an input with at least 3 dimensions (C, H, W)")
    if err is not None:
        return err
    if x is None:
        return Result(None)
    full = (UNKNOWN,) * max(0, 3 - len(x.dims)) + tuple(x.dims)
    lead, (C, Hh, W) = full[:-3], full[-3:]
    if up:
        if _divides(C, r * r) is False:  # type: ignore[operator]
            return _fail(
                "channels",
                f"needs the channel dimension to be divisible by upscale_factor² = {dim_str(r * r)}, but receives {dim_str(C)} channels",  # type: ignore[operator]
                got=C,
            )
        dims = (_fdiv(C, r * r) if isinstance(r, int) else UNKNOWN, Hh * r, W * r)  # type: ignore[operator]
    else:
        for size, name in ((Hh, "height"), (W, "width")):
            if _divides(size, r) is False:
                return _fail("spatial", f"needs the {name} to be divisible by downscale_factor {dim_str(r)}, but it is {dim_str(size)}", got=size)
        dims = (C * r * r, _fdiv(Hh, r) if isinstance(r, int) else UNKNOWN, _fdiv(W, r) if isinstance(r, int) else UNKNOWN)  # type: ignore[operator]
    return Result(Shape(tuple(lead) + dims, x.prefix))


def _pad_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    """The padding layers are ``F.pad`` with their padding and mode."""
    pads = layer.params.get("padding")
    if not isinstance(pads, tuple) or len(pads) % 2:
        return Result(None)
    short = layer.short
    mode = "constant" if short.startswith(("Zero", "Constant")) else \
        {"Reflection": "reflect", "Replication": "replicate", "Circular": "circular"}[short.split("Pad")[0]]
    return O.pad(inputs[0], tuple(_d(v) for v in pads), mode)


def _channel_shuffle_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    x = inputs[0]
    g = _d(layer.params["groups"])
    err = _min_rank(x, 3, "an input with at least 3 dimensions (N, C, ...)")
    if err is not None:
        return err
    chan = _at(x, 1)
    if _divides(chan, g) is False:
        return _fail("channels", f"shuffles {dim_str(g)} groups of channels, but receives {dim_str(chan)} channels, which {dim_str(g)} does not divide", got=chan)
    return Result(x)


def _unfold_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    p = layer.params
    x = inputs[0]
    err = _need_rank(x, (3, 4))
    if err is not None:
        return err
    sp = _split(x, 2)
    assert isinstance(sp, _Split)
    k, d, pads, s = (_tup(p[n], 2) for n in ("kernel_size", "dilation", "padding", "stride"))
    if k is None or d is None or pads is None or s is None:
        return Result(None)
    outs, bad = [], False
    for L, kk, ss, pp, dd in zip(sp.spatial, k, s, pads, d):
        o, b = _window_out(L, kk, ss, pp, dd)
        outs.append(o)
        bad = bad or b
    if bad:
        return _fail("spatial", _spatial_msg(2, outs, tuple(sp.spatial), k, "block", pads, d), got=tuple(sp.spatial))
    return Result(Shape(tuple(sp.lead) + (sp.chan * k[0] * k[1], outs[0] * outs[1]), sp.prefix))  # type: ignore[operator]


def _fold_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    p = layer.params
    x = inputs[0]
    err = _need_rank(x, (2, 3))
    if err is not None:
        return err
    size, k, d, pads, s = (_tup(p[n], 2) for n in ("output_size", "kernel_size", "dilation", "padding", "stride"))
    if size is None or k is None or d is None or pads is None or s is None:
        return Result(None)
    blocks = dim_product(_window_out(L, kk, ss, pp, dd)[0] for L, kk, ss, pp, dd in zip(size, k, s, pads, d))
    kk = k[0] * k[1]  # type: ignore[operator]
    if x is None:
        return Result(Shape.suffix(UNKNOWN, *size))
    full = (UNKNOWN,) * max(0, 2 - len(x.dims)) + tuple(x.dims)
    lead, (ck, L) = full[:-2], full[-2:]
    if _divides(ck, kk) is False:
        return _fail("channels", f"needs dimension -2 to be divisible by the kernel's {dim_str(kk)} elements, but it is {dim_str(ck)}", got=ck)
    if dim_ne(L, blocks):
        return _fail("spatial", f"needs {dim_str(blocks)} blocks (the last dimension) to build a {_x(size)} output, but receives {dim_str(L)}", got=L, want=blocks)
    return Result(Shape(tuple(lead) + (_fdiv(ck, kk) if isinstance(kk, int) else UNKNOWN,) + size, x.prefix))


def _expected_input(layer: Layer) -> Shape | None:
    short = layer.short
    U = UNKNOWN
    if short in ("PixelShuffle", "PixelUnshuffle", "Unfold"):
        return Shape.suffix(U, U, U)
    if "Pad" in short and not short.startswith(("Zero", "Constant")):
        n = _rank_of(layer.cls)
        return Shape.suffix(*(U,) * (n + 1))
    return None


def _describe(layer: Layer) -> str | None:
    p = layer.params
    short = layer.short
    if short.startswith("Upsampl"):
        what = f"size {_v(p['size'])}" if p.get("size") is not None else f"scale {_v(p.get('scale_factor'))}"
        mode = p.get("mode")
        return f"{short}({what}{', ' + mode if isinstance(mode, str) else ''})"
    if short in ("PixelShuffle", "PixelUnshuffle"):
        return f"{short}({_v(p.get('upscale_factor', p.get('downscale_factor')))})"
    if "Pad" in short:
        return f"{short}({_v(_squash(p['padding']))})"
    if short == "ChannelShuffle":
        return f"ChannelShuffle({_v(p['groups'])} groups)"
    return None


_PADS = tuple(f"{k}Pad{d}d" for k in ("Zero", "Constant", "Reflection", "Replication", "Circular") for d in (1, 2, 3))

SPEC: LayerSpec = LayerSpec(
    family="resize",
    signatures=SIGNATURES,
    normalise=_normalise,
    config={
        "Upsample": lambda layer: _upsample_config(layer) or _upsample_sizes_config(layer),
        "UpsamplingNearest2d": lambda layer: _upsample_config(layer) or _upsample_sizes_config(layer),
        "UpsamplingBilinear2d": lambda layer: _upsample_config(layer) or _upsample_sizes_config(layer),
        **{name: _pad_config for name in _PADS},
        "Fold": _fold_config,
        "Unfold": _fold_config,
    },
    forward={
        "Upsample": _upsample_forward,
        "UpsamplingNearest2d": _upsample_forward,
        "UpsamplingBilinear2d": _upsample_forward,
        "PixelShuffle": _pixel_forward,
        "PixelUnshuffle": _pixel_forward,
        **{name: _pad_forward for name in _PADS},
        "ChannelShuffle": _channel_shuffle_forward,
        "Unfold": _unfold_forward,
        "Fold": _fold_forward,
    },
    expected_input=_expected_input,
    describe=_describe,
)

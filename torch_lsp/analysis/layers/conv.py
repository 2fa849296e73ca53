"""Convolutions: ``nn.Conv{1,2,3}d``, ``nn.ConvTranspose{1,2,3}d`` and their lazy forms.

A family of ``torch_lsp.analysis.layers`` (see the package docstring for what a spec holds).
"""
from __future__ import annotations

from typing import Any

from torch_lsp.analysis.layers._common import (
    _AXES,
    _cfg,
    _channels_first_input,
    _d,
    _desc_rank,
    _divides,
    _Entry,
    _fail,
    _fdiv,
    _int,
    _ntuple,
    _rank_of,
    _requested_sizes,
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
    Dim,
    Shape,
    dim_le,
    dim_ne,
    dim_sign,
    dim_str,
)

_CONV = "in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros', device=None, dtype=None"


_CONVT = (
    "in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True, dilation=1, "
    "padding_mode='zeros', device=None, dtype=None"
)


SIGNATURES: dict[str, str] = {
    **{f"Conv{d}d": _CONV for d in (1, 2, 3)},
    **{f"ConvTranspose{d}d": _CONVT for d in (1, 2, 3)},
    **{f"LazyConv{d}d": _CONV.removeprefix("in_channels, ") for d in (1, 2, 3)},
    **{f"LazyConvTranspose{d}d": _CONVT.removeprefix("in_channels, ") for d in (1, 2, 3)},
}
_NAMES = tuple(SIGNATURES)


def _normalise(cls: str, p: dict[str, Any]) -> None:
    n = _rank_of(cls)
    for name in ("kernel_size", "stride", "dilation", "output_padding"):
        if name in p:
            p[name] = _ntuple(p[name], n)
    if not isinstance(p.get("padding"), str):
        p["padding"] = _ntuple(p.get("padding"), n)


def _conv_config(layer: Layer) -> list[ShapeError]:
    p = layer.params
    short = layer.short
    n = _rank_of(layer.cls)
    out: list[ShapeError] = []
    groups: Any = p.get("groups")
    if _int(groups) is not None and groups <= 0:
        return [_cfg(f"groups must be a positive integer, but is {groups}", "groups")]
    for name in ("in_channels", "out_channels"):
        if name in p and _divides(p[name], groups) is False:
            out.append(_cfg(f"{name} ({dim_str(p[name])}) must be divisible by groups ({dim_str(groups)})", "groups"))
    transposed = "Transpose" in short
    pad = p.get("padding")
    pm = p.get("padding_mode")
    if isinstance(pm, str) and pm not in ("zeros", "reflect", "replicate", "circular"):
        out.append(_cfg(f"padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', but is {pm!r}", "padding_mode"))
    elif transposed and isinstance(pm, str) and pm != "zeros":
        out.append(_cfg(f"transposed convolutions only support padding_mode='zeros', not {pm!r}", "padding_mode"))
    if isinstance(pad, str):
        if transposed:
            out.append(_cfg(f"transposed convolutions do not accept padding={pad!r}; give the padding as a number", "padding"))
        elif pad not in ("same", "valid"):
            out.append(_cfg(f"padding must be 'same', 'valid' or a number, but is {pad!r}", "padding"))
        elif pad == "same":
            stride = _tup(p.get("stride"), n)
            if stride is not None and any(isinstance(s, int) and s != 1 for s in stride):
                out.append(_cfg(f"padding='same' is not supported for strided convolutions (stride {_x(stride)})", "padding"))
    for name in ("kernel_size", "stride", "dilation"):
        t = _tup(p.get(name), n)
        if t is not None and any(isinstance(v, int) and v <= 0 for v in t):
            out.append(_cfg(f"{name} must be positive, but is {_x(t)}", name))
    if transposed:
        op, st, dl = _tup(p.get("output_padding"), n), _tup(p.get("stride"), n), _tup(p.get("dilation"), n)
        if op is not None and st is not None and dl is not None:
            for o, s, d in zip(op, st, dl):
                if isinstance(o, int) and dim_le(s, o) is True and dim_le(d, o) is True:
                    out.append(
                        _cfg(
                            f"output_padding ({_x(op)}) must be smaller than either stride ({_x(st)}) or dilation ({_x(dl)})",
                            "output_padding",
                        )
                    )
                    break
    return out


def _conv_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    p = layer.params
    short = layer.short
    n = _rank_of(layer.cls)
    transposed = "Transpose" in short
    lazy = short.startswith("Lazy")
    x = inputs[0]
    sp = _split(x, n)
    if isinstance(sp, Result):
        return sp
    in_c = UNKNOWN if lazy else _d(p["in_channels"])
    out_c = _d(p["out_channels"])
    if lazy:
        if _divides(sp.chan, p.get("groups")) is False:
            return _fail(
                "channels",
                f"receives {dim_str(sp.chan)} input channels, which groups={dim_str(p['groups'])} does not divide",
                got=sp.chan,
            )
    elif dim_ne(sp.chan, in_c):
        return _fail(
            "channels",
            f"expects {dim_str(in_c)} input channels, but receives {dim_str(sp.chan)}",
            param="in_channels",
            expected=sp.chan,
            got=sp.chan,
            want=in_c,
        )
    k, s, d = _tup(p["kernel_size"], n), _tup(p["stride"], n), _tup(p["dilation"], n)
    pad = p["padding"]
    if k is None or s is None or d is None:
        return Result(sp.build(out_c, (UNKNOWN,) * n))
    notes: list[str] = []
    if transposed:
        requested = kwargs.get("output_size") if kwargs else None
        if requested is not None:
            return _convt_output_size(layer, x, sp, out_c, requested, k, s, d)
        pads, op = _tup(pad, n), _tup(p["output_padding"], n)
        if pads is None or op is None:
            return Result(sp.build(out_c, (UNKNOWN,) * n))
        outs = [(L - 1) * ss - 2 * pp + dd * (kk - 1) + oo + 1 for L, kk, ss, pp, dd, oo in zip(sp.spatial, k, s, pads, d, op)]
        if any(dim_sign(o) == -1 for o in outs):  # torch allows an empty (size 0) output here
            return _fail(
                "spatial",
                f"output would be {' × '.join(dim_str(o) for o in outs)}: the padding ({_x(pads)}) removes more than "
                f"the transposed convolution of the {_x(sp.spatial)} input produces",
                got=tuple(sp.spatial),
            )
        for ax, L, kk, ss, pp, dd, oo, o in zip(_AXES[n], sp.spatial, k, s, pads, d, op, outs):
            if o is not UNKNOWN:
                notes.append(f"{ax}: ({dim_str(L)} − 1)·{dim_str(ss)} − 2·{dim_str(pp)} + {dim_str(dd)}·({dim_str(kk)} − 1) + {dim_str(oo)} + 1 = {dim_str(o)}")
        return Result(sp.build(out_c, tuple(outs)), notes=tuple(notes))
    if pad == "same":
        return Result(sp.build(out_c, sp.spatial), notes=("padding='same' keeps the spatial size",))
    pads = (0,) * n if pad == "valid" else _tup(pad, n)
    if pads is None:
        return Result(sp.build(out_c, (UNKNOWN,) * n))
    outs, bad = [], False
    for L, kk, ss, pp, dd in zip(sp.spatial, k, s, pads, d):
        o, b = _window_out(L, kk, ss, pp, dd)
        outs.append(o)
        bad = bad or b
    if bad:
        return _fail("spatial", _spatial_msg(n, outs, tuple(sp.spatial), k, "kernel", pads, d), got=tuple(sp.spatial))
    for ax, L, kk, ss, pp, dd, o in zip(_AXES[n], sp.spatial, k, s, pads, d, outs):
        if o is not UNKNOWN:
            notes.append(f"{ax}: ({dim_str(L)} + 2·{dim_str(pp)} − {dim_str(dd)}·({dim_str(kk)} − 1) − 1) // {dim_str(ss)} + 1 = {dim_str(o)}")
    return Result(sp.build(out_c, tuple(outs)), notes=tuple(notes))


def _convt_output_size(layer: Layer, x: Shape | None, sp: "_Split", out_c: Dim, requested: Any, k: tuple, s: tuple, d: tuple) -> Result:
    """A transposed convolution's ``output_size=``: torch picks the output padding that
    reaches it, so each size must lie in [min, min + stride - 1]."""
    n = len(k)
    batched = None if x is None or x.prefix else len(x.dims) == n + 2
    extra = (2,) if batched is True else (1,) if batched is False else (1, 2)
    sizes = _requested_sizes(x, requested, n, extra, f" for {_desc_rank(x)}" if x is not None and not x.prefix else "")
    if isinstance(sizes, Result):
        return sizes
    if sizes is None:
        return Result(sp.build(out_c, (UNKNOWN,) * n))
    pads = _tup(layer.params["padding"], n)
    if pads is not None:
        mins = tuple((L - 1) * ss - 2 * pp + dd * (kk - 1) + 1 for L, kk, ss, pp, dd in zip(sp.spatial, k, s, pads, d))  # type: ignore[operator]
        maxs = tuple(lo + ss - 1 for lo, ss in zip(mins, s))  # type: ignore[operator]
        if any(dim_sign(o - lo) == -1 or dim_sign(hi - o) == -1 for o, lo, hi in zip(sizes, mins, maxs)):  # type: ignore[operator]
            return _fail(
                "spatial",
                f"cannot produce output_size {_x(sizes)} from the {_x(tuple(sp.spatial))} input: the sizes it can reach "
                f"range from {_x(mins)} to {_x(maxs)}",
                got=tuple(sizes),
            )
    return Result(sp.build(out_c, sizes))


def _expected_input(layer: Layer) -> Shape | None:
    return _channels_first_input(layer)


def _entries(layer: Layer) -> list[_Entry] | None:
    p = layer.params
    short = layer.short
    U = UNKNOWN
    n = _rank_of(layer.cls)
    in_c, out_c, g = _d(p.get("in_channels", U)), _d(p["out_channels"]), _d(p["groups"])
    k = _tup(p["kernel_size"], n) or (U,) * n
    if "Transpose" in short:
        w = Shape((in_c, _fdiv(out_c, g)) + tuple(k))
    else:
        w = Shape((out_c, _fdiv(in_c, g)) + tuple(k))
    e = [("weight", w, True)]
    if p.get("bias") is not False:
        e.append(("bias", Shape.of(out_c), True))
    return e


def _describe(layer: Layer) -> str | None:
    p = layer.params
    short = layer.short
    parts = [f"{_v(p.get('in_channels', UNKNOWN))} → {_v(p['out_channels'])}", f"kernel {_v(p['kernel_size'])}", f"stride {_v(_squash(p['stride']))}"]
    pad = p.get("padding")
    if isinstance(pad, str) or _squash(pad) != 0:
        parts.append(f"padding {_v(_squash(pad))}")
    if _squash(p.get("dilation")) != 1:
        parts.append(f"dilation {_v(_squash(p['dilation']))}")
    if "output_padding" in p and _squash(p["output_padding"]) != 0:
        parts.append(f"output_padding {_v(_squash(p['output_padding']))}")
    if p.get("groups") != 1:
        parts.append(f"groups {_v(p['groups'])}")
    return f"{short}({', '.join(parts)})"


SPEC: LayerSpec = LayerSpec(
    family="conv",
    signatures=SIGNATURES,
    normalise=_normalise,
    config={name: _conv_config for name in _NAMES},
    forward={name: _conv_forward for name in _NAMES},
    expected_input=_expected_input,
    entries=_entries,
    describe=_describe,
)

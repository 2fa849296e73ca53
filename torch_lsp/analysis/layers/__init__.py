"""Shape transfer functions for ``torch.nn`` layers (without importing torch).

The interpreter builds a ``Layer`` with ``bind`` when it sees a constructor call,
asks ``config_errors`` about arguments that can never work, and calls ``forward``
with the abstract shapes of the inputs each time the layer is called.

Everything here follows the project's rule: an error is reported only when it is
provable (``dim_eq``/``dim_ne``/``dim_sign`` decide); an unknown dimension or
argument yields unknown parts of the output (``UNKNOWN`` dims, or a ``None``
shape), while whatever *is* known is kept (``Linear`` on an unknown input still
ends in ``out_features``; ``Conv2d`` on ``[B, 3, ?, ?]`` gives ``[B, out, ?, ?]``).

Public API: ``SUPPORTED``, ``PARAM_ORDER``, ``bind``, ``forward``, ``config_errors``,
``expected_input``, ``param_shapes``, ``param_count``, ``signature``.

The constructor signatures below are copied from torch 2.13 (``tests/test_layers.py``
compares them with ``inspect.signature`` of the real classes). The small helpers
(argument normalisation, errors, the channel/spatial split, parameter entries, display)
are in ``_common``.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from torch_lsp.analysis import ops as O
from torch_lsp.analysis.shape_types import Layer, Result, ShapeError
from torch_lsp.analysis.shapes import (
    UNKNOWN,
    Dim,
    Shape,
    dim_eq,
    dim_le,
    dim_ne,
    dim_product,
    dim_sign,
    dim_str,
    is_dim,
)
from torch_lsp.analysis.layers._common import (  # noqa: F401
    NN,
    _REQUIRED,
    _VARARGS,
    _Param,
    _parse_spec,
    _d,
    _int,
    _short,
    _rank_of,
    _ntuple,
    _tup,
    _fdiv,
    _neg,
    _x,
    _show,
    _shape_of,
    _arg,
    _kwval,
    _fail,
    _desc_rank,
    _need_rank,
    _min_rank,
    _exact,
    _at,
    _with_dim,
    _plain,
    _as_layer,
    _cfg,
    _divides,
    _WORDS,
    _show_arg,
    _lengths,
    _non_int,
    _divisible,
    _Split,
    _split,
    _AXES,
    _spatial_msg,
    _window_out,
    _requested_sizes,
    _features_error,
    _norm_dim,
    _dim_error,
    _Entry,
    _prefixed,
    _linear_entries,
    _ln_entries,
    _count,
    _v,
    _squash,
)


# =============================================================================== signatures


def _n(kinds: str, names: str) -> list[str]:
    return [f"{n}{k}" for n in names.split() for k in kinds.split()]


_CONV = "in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros', device=None, dtype=None"
_CONVT = (
    "in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True, dilation=1, "
    "padding_mode='zeros', device=None, dtype=None"
)
_BN = "num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, device=None, dtype=None, *, bias=True"
_LAZY_BN = "eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, device=None, dtype=None, *, bias=True"
_IN = "num_features, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False, device=None, dtype=None, *, bias=True"
_MAXPOOL = "kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False"
_AVGPOOL = "kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None"
_TLAYER = (
    "d_model, nhead, dim_feedforward=2048, dropout=0.1, activation='relu', layer_norm_eps=1e-05, batch_first=False, "
    "norm_first=False, bias=True, device=None, dtype=None"
)
_RNN_TAIL = "bias=True, batch_first=False, dropout=0.0, bidirectional=False"

_SPECS: dict[str, str] = {
    "Linear": "in_features, out_features, bias=True, device=None, dtype=None",
    "Bilinear": "in1_features, in2_features, out_features, bias=True, device=None, dtype=None",
    "LazyLinear": "out_features, bias=True, device=None, dtype=None",
    "Identity": _VARARGS,
    **{f"Conv{d}d": _CONV for d in (1, 2, 3)},
    **{f"ConvTranspose{d}d": _CONVT for d in (1, 2, 3)},
    **{f"LazyConv{d}d": _CONV.removeprefix("in_channels, ") for d in (1, 2, 3)},
    **{f"LazyConvTranspose{d}d": _CONVT.removeprefix("in_channels, ") for d in (1, 2, 3)},
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
    **{n: "p=0.5, inplace=False" for n in "Dropout Dropout1d Dropout2d Dropout3d AlphaDropout FeatureAlphaDropout".split()},
    **{n: "inplace=False" for n in "ReLU ReLU6 SELU SiLU Mish Hardswish Hardsigmoid".split()},
    **{n: _VARARGS for n in "Sigmoid Tanh Tanhshrink Softsign LogSigmoid Softmax2d".split()},
    "LeakyReLU": "negative_slope=0.01, inplace=False",
    "ELU": "alpha=1.0, inplace=False",
    "CELU": "alpha=1.0, inplace=False",
    "GELU": "approximate='none'",
    "Hardtanh": "min_val=-1.0, max_val=1.0, inplace=False, min_value=None, max_value=None",
    "Hardshrink": "lambd=0.5",
    "Softshrink": "lambd=0.5",
    "Softplus": "beta=1.0, threshold=20.0",
    "Threshold": "threshold, value, inplace=False",
    "PReLU": "num_parameters=1, init=0.25, device=None, dtype=None",
    "RReLU": "lower=0.125, upper=0.3333333333333333, inplace=False",
    "GLU": "dim=-1",
    "Softmax": "dim=None",
    "Softmin": "dim=None",
    "LogSoftmax": "dim=None",
    "Flatten": "start_dim=1, end_dim=-1",
    "Unflatten": "dim, unflattened_size",
    "Embedding": (
        "num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, "
        "sparse=False, _weight=None, _freeze=False, device=None, dtype=None"
    ),
    "EmbeddingBag": (
        "num_embeddings, embedding_dim, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, mode='mean', "
        "sparse=False, _weight=None, include_last_offset=False, padding_idx=None, device=None, dtype=None"
    ),
    # RNN/LSTM/GRU take (*args, **kwargs) and forward them to RNNBase(mode, ...); RNN
    # takes `nonlinearity` as its fourth positional argument.
    "RNN": f"input_size, hidden_size, num_layers=1, nonlinearity='tanh', {_RNN_TAIL}, device=None, dtype=None",
    "LSTM": f"input_size, hidden_size, num_layers=1, {_RNN_TAIL}, proj_size=0, device=None, dtype=None",
    "GRU": f"input_size, hidden_size, num_layers=1, {_RNN_TAIL}, device=None, dtype=None",
    "RNNCell": "input_size, hidden_size, bias=True, nonlinearity='tanh', device=None, dtype=None",
    "LSTMCell": "input_size, hidden_size, bias=True, device=None, dtype=None",
    "GRUCell": "input_size, hidden_size, bias=True, device=None, dtype=None",
    "MultiheadAttention": (
        "embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False, kdim=None, vdim=None, "
        "batch_first=False, device=None, dtype=None"
    ),
    "TransformerEncoderLayer": _TLAYER,
    "TransformerDecoderLayer": _TLAYER,
    "TransformerEncoder": "encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True",
    "TransformerDecoder": "decoder_layer, num_layers, norm=None",
    "Transformer": (
        "d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048, dropout=0.1, "
        "activation='relu', custom_encoder=None, custom_decoder=None, layer_norm_eps=1e-05, batch_first=False, "
        "norm_first=False, bias=True, device=None, dtype=None"
    ),
    "Upsample": "size=None, scale_factor=None, mode='nearest', align_corners=None, recompute_scale_factor=None",
    "UpsamplingNearest2d": "size=None, scale_factor=None",
    "UpsamplingBilinear2d": "size=None, scale_factor=None",
    "PixelShuffle": "upscale_factor",
    "PixelUnshuffle": "downscale_factor",
    **{f"{k}Pad{d}d": "padding" for k in ("Zero", "Reflection", "Replication", "Circular") for d in (1, 2, 3)},
    **{f"ConstantPad{d}d": "padding, value" for d in (1, 2, 3)},
    "ChannelShuffle": "groups",
    "CosineSimilarity": "dim=1, eps=1e-08",
    "PairwiseDistance": "p=2.0, eps=1e-06, keepdim=False",
    "Fold": "output_size, kernel_size, dilation=1, padding=0, stride=1",
    "Unfold": "kernel_size, dilation=1, padding=0, stride=1",
}


SIGNATURES: dict[str, list[_Param] | None] = {NN + k: _parse_spec(v) for k, v in _SPECS.items()}

# Positional order of each layer's constructor parameters (for placing fixes).
PARAM_ORDER: dict[str, tuple[str, ...]] = {
    cls: tuple(p.name for p in sig if not p.kwonly) for cls, sig in SIGNATURES.items() if sig is not None
}


# =============================================================================== small helpers


# =============================================================================== bind


def bind(cls: str, args: list, kwargs: dict) -> Layer | None:
    """Bind constructor arguments to torch's parameter names (defaults filled in).

    ``kwargs={"**": UNKNOWN}`` stands for a ``**kwargs`` splat: the parameters not
    given otherwise become UNKNOWN. Returns None when the class is not known here or
    the call cannot bind (torch would raise ``TypeError``)."""
    if cls not in SIGNATURES:
        return None
    sig = SIGNATURES[cls]
    if sig is None:  # (*args, **kwargs): anything goes
        return Layer(cls, {})
    args = [_plain(a) for a in args]
    kwargs = {k: _plain(v) for k, v in kwargs.items()}
    positional = [p for p in sig if not p.kwonly]
    if len(args) > len(positional):
        return None
    params: dict[str, Any] = {}
    for p, a in zip(positional, args):
        params[p.name] = a
    names = {p.name for p in sig}
    splat = "**" in kwargs
    for k, v in kwargs.items():
        if k == "**":
            continue
        if k not in names or k in params:
            return None
        params[k] = v
    for p in sig:
        if p.name not in params:
            if splat:
                params[p.name] = UNKNOWN
            elif p.default is _REQUIRED:
                return None
            else:
                params[p.name] = p.default
    _normalise(cls, params)
    return Layer(cls, params)


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
    n = _rank_of(cls)
    if "Conv" in short:
        for name in ("kernel_size", "stride", "dilation", "output_padding"):
            if name in p:
                p[name] = _ntuple(p[name], n)
        if not isinstance(p.get("padding"), str):
            p["padding"] = _ntuple(p.get("padding"), n)
    elif short.startswith(("MaxPool", "AvgPool", "LPPool", "MaxUnpool")):
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
    elif short in ("Fold", "Unfold"):
        for name in ("kernel_size", "dilation", "padding", "stride", "output_size"):
            if name in p:
                p[name] = _ntuple(p[name], 2)
    elif short in ("LayerNorm", "RMSNorm"):
        ns = p["normalized_shape"]
        if is_dim(ns) and ns is not UNKNOWN:
            p["normalized_shape"] = (ns,)
            p[_NS_SCALAR] = True  # written as a number: a fix writes a number too
        elif isinstance(ns, list):
            p["normalized_shape"] = tuple(ns)
    elif "Pad" in short:
        # an unknown padding stays unknown: its length decides which dims torch pads
        if p["padding"] is not UNKNOWN:
            p["padding"] = _ntuple(p["padding"], 2 * n)
    elif short == "Unflatten" and isinstance(p["unflattened_size"], list):
        p["unflattened_size"] = tuple(p["unflattened_size"])
    elif short in ("TransformerEncoder", "TransformerDecoder"):
        key = "encoder_layer" if short == "TransformerEncoder" else "decoder_layer"
        p[key] = _as_layer(p[key])
        p["norm"] = _as_layer(p["norm"])


# =============================================================================== config errors


def config_errors(layer: Layer) -> list[ShapeError]:
    """Arguments that make the layer fail whatever its input (TL209)."""
    fn = _CONFIG.get(_short(layer.cls))
    if fn is None:
        return []
    try:
        return fn(layer)
    except (TypeError, ValueError, ZeroDivisionError, AttributeError):
        return []


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


def _groupnorm_config(layer: Layer) -> list[ShapeError]:
    return _divisible(layer, "num_channels", "num_groups")


def _mha_config(layer: Layer) -> list[ShapeError]:
    return _divisible(layer, "embed_dim", "num_heads")


def _transformer_config(layer: Layer) -> list[ShapeError]:
    return _divisible(layer, "d_model", "nhead", " for the attention heads")


def _rnn_config(layer: Layer) -> list[ShapeError]:
    p = layer.params
    out = []
    if layer.short == "LSTM":
        proj, hidden = _d(p["proj_size"]), _d(p["hidden_size"])
        if isinstance(proj, int) and proj < 0:
            out.append(_cfg(f"proj_size must be zero or positive, but is {proj}", "proj_size"))
        elif dim_sign(proj) == 1 and dim_le(hidden, proj) is True:
            out.append(_cfg(f"proj_size ({dim_str(proj)}) must be smaller than hidden_size ({dim_str(hidden)})", "proj_size"))
    if "nonlinearity" in p and isinstance(p["nonlinearity"], str) and p["nonlinearity"] not in ("tanh", "relu"):
        out.append(_cfg(f"nonlinearity must be 'tanh' or 'relu', not {p['nonlinearity']!r}", "nonlinearity"))
    return out


def _embedding_config(layer: Layer) -> list[ShapeError]:
    p = layer.params
    idx, num = _int(p.get("padding_idx")), _d(p["num_embeddings"])
    if idx is not None and isinstance(num, int) and not (-num <= idx < num):
        return [_cfg(f"padding_idx ({idx}) must be within num_embeddings ({num})", "padding_idx")]
    return []


def _upsample_config(layer: Layer) -> list[ShapeError]:
    p = layer.params
    size, scale = p.get("size"), p.get("scale_factor")
    if size is None and scale is None:
        return [_cfg("either size or scale_factor must be given", "size")]
    if size is not None and scale is not None and size is not UNKNOWN and scale is not UNKNOWN:
        return [_cfg("only one of size or scale_factor may be given", "scale_factor")]
    return []


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


def _upsample_sizes_config(layer: Layer) -> list[ShapeError]:
    size = layer.params.get("size")
    values = size if isinstance(size, tuple) else (size,)
    if any(isinstance(v, int) and not isinstance(v, bool) and v <= 0 for v in values):
        return [_cfg(f"output sizes must be greater than 0, but size is {_show_arg(size)}", "size")]
    return []


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


def _unflatten_config(layer: Layer) -> list[ShapeError]:
    sizes = layer.params.get("unflattened_size")
    if isinstance(sizes, (int, float, str)) or sizes is None:  # an int, a bool, ... (a Sym might stand for a tuple)
        return [_cfg(f"unflattened_size must be a tuple or list of ints, but is {sizes!r}", "unflattened_size")]
    if not isinstance(sizes, tuple):
        return []
    if not sizes:
        return [_cfg("unflattened_size must hold at least one size, but is empty", "unflattened_size")]
    shown = _show_arg(sizes)
    if any(_non_int(v) for v in sizes):
        return [_cfg(f"unflattened_size must hold ints, but is {shown}", "unflattened_size")]
    holes = sum(1 for v in sizes if isinstance(v, int) and v == -1)
    if holes > 1:
        return [_cfg(f"only one size can be inferred (-1), but unflattened_size {shown} has {holes}", "unflattened_size")]
    if any(isinstance(v, int) and v < -1 for v in sizes):
        return [_cfg(f"unflattened_size {shown} holds a negative size (only -1, for one inferred size, is allowed)", "unflattened_size")]
    if holes and any(isinstance(v, int) and v == 0 for v in sizes):
        return [_cfg(f"unflattened_size {shown} cannot infer its -1 next to a size of 0", "unflattened_size")]
    return []


_CONFIG: dict[str, Callable[[Layer], list[ShapeError]]] = {
    **{f"{k}{d}d": _conv_config for k in ("Conv", "ConvTranspose", "LazyConv", "LazyConvTranspose") for d in (1, 2, 3)},
    **{f"{k}{d}d": _pool_config for k in ("MaxPool", "AvgPool") for d in (1, 2, 3)},
    "GroupNorm": _groupnorm_config,
    "MultiheadAttention": _mha_config,
    "TransformerEncoderLayer": _transformer_config,
    "TransformerDecoderLayer": _transformer_config,
    "Transformer": _transformer_config,
    "LSTM": _rnn_config,
    "RNN": _rnn_config,
    "RNNCell": _rnn_config,
    "Embedding": _embedding_config,
    "EmbeddingBag": _embedding_config,
    "Upsample": lambda layer: _upsample_config(layer) or _upsample_sizes_config(layer),
    "UpsamplingNearest2d": lambda layer: _upsample_config(layer) or _upsample_sizes_config(layer),
    "UpsamplingBilinear2d": lambda layer: _upsample_config(layer) or _upsample_sizes_config(layer),
    "FractionalMaxPool2d": _fracpool_config,
    "FractionalMaxPool3d": _fracpool_config,
    **{f"LPPool{d}d": _lppool_config for d in (1, 2, 3)},
    **{f"Adaptive{k}Pool{d}d": _adaptive_config for k in ("Avg", "Max") for d in (1, 2, 3)},
    **{f"MaxUnpool{d}d": _unpool_config for d in (1, 2, 3)},
    **{f"{k}Pad{d}d": _pad_config for k in ("Zero", "Constant", "Reflection", "Replication", "Circular") for d in (1, 2, 3)},
    "Fold": _fold_config,
    "Unfold": _fold_config,
    "LayerNorm": _norm_shape_config,
    "RMSNorm": _norm_shape_config,
    "Unflatten": _unflatten_config,
}


# =============================================================================== forward


def forward(layer: Layer, inputs: list[Shape | None], kwargs: dict | None = None) -> Result:
    """The output of calling ``layer`` on tensors of shapes ``inputs`` (None: unknown),
    or the ShapeError that provably happens."""
    fn = _FORWARD.get(layer.cls)
    if fn is None:
        return Result.unknown()
    errors = config_errors(layer)
    if errors:
        return Result(None, errors[0])
    inputs = list(inputs) if inputs else [None]
    kwargs = {k: _plain(v) for k, v in kwargs.items()} if kwargs else {}  # output_size=(12, 12)
    try:
        return fn(layer, inputs, kwargs)
    except (TypeError, ValueError, ZeroDivisionError, IndexError, AttributeError, OverflowError):
        return Result.unknown()  # an odd abstract argument: say nothing


# ------------------------------------------------------------------ channel/spatial split


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
    ri = p.get("return_indices", False)
    if ri is True:
        return Result((out, out))
    return Result(out if ri is False else None)


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
    ri = p.get("return_indices", False)
    if ri is True:
        return Result((out, out))
    return Result(out if ri is False else None)


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
    ri = p.get("return_indices", False)
    return Result((out, out)) if ri is True else Result(out if ri is False else None)


# ------------------------------------------------------------------ linear family


def _linear_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    p = layer.params
    x = inputs[0]
    out_f = _d(p["out_features"])
    if x is None:
        return Result(Shape.suffix(out_f))
    if not x.prefix and not x.dims:
        return _fail("rank", "expects an input with at least 1 dimension (the features), but receives a 0-D tensor", got=0, want=1)
    if x.dims and layer.short == "Linear":
        in_f = _d(p["in_features"])
        if dim_ne(x.dims[-1], in_f):
            return _features_error("in_features", in_f, x.dims[-1])
    if not x.dims:
        return Result(Shape.suffix(out_f))
    return Result(x.replace_last(out_f))


def _bilinear_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    p = layer.params
    x1 = inputs[0]
    x2 = inputs[1] if len(inputs) > 1 else None
    out_f = _d(p["out_features"])
    for x, name, which in ((x1, "in1_features", "first"), (x2, "in2_features", "second")):
        if x is None:
            continue
        if not x.prefix and not x.dims:
            return _fail("rank", f"expects the {which} input to have at least 1 dimension, but receives a 0-D tensor")
        if x.dims and dim_ne(x.dims[-1], _d(p[name])):
            return _features_error(name, _d(p[name]), x.dims[-1], f"features in the {which} input")
    if x1 is None or not x1.dims:
        return Result(Shape.suffix(out_f))
    return Result(x1.replace_last(out_f))


def _identity_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    return Result(inputs[0])


# ------------------------------------------------------------------ normalisation


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


# ------------------------------------------------------------------ elementwise


def _same_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    return Result(inputs[0])


def _dropout1d_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    x = inputs[0]
    return _need_rank(x, (2, 3)) or Result(x)


def _prelu_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    x = inputs[0]
    num = _d(layer.params["num_parameters"])
    if x is None or dim_eq(num, 1) is True:
        return Result(x)
    if not x.prefix and not x.dims:
        if dim_ne(num, 1):
            return _fail("rank", "with num_parameters > 1 expects an input with at least 1 dimension, but receives a 0-D tensor")
        return Result(x)
    chan = _at(x, 1) if x.prefix or len(x.dims) > 1 else 1
    if dim_ne(chan, num):
        return _fail(
            "channels",
            f"has {dim_str(num)} parameters (num_parameters), one per channel, but receives {dim_str(chan)} channels",
            param="num_parameters",
            expected=chan,
            got=chan,
            want=num,
        )
    return Result(x)


def _softmax_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    x = inputs[0]
    if layer.short == "Softmax2d":
        return _need_rank(x, (3, 4)) or Result(x)
    dim = _int(layer.params.get("dim"))  # Softmax, Softmin, LogSoftmax: F.softmax along dim
    return O.softmax(x, dim)


def _glu_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    x = inputs[0]
    dim = _int(layer.params.get("dim"))
    if x is None or dim is None:
        return Result(None)
    if not x.prefix and not x.dims:
        return _fail("rank", "cannot halve a 0-D tensor")
    if x.prefix:
        if dim >= 0 or -dim > len(x.dims):
            return Result(None)
        i = len(x.dims) + dim
    else:
        nd = _norm_dim(dim, len(x.dims))
        if nd is None:
            return _dim_error(dim, x)
        i = nd
    size = x.dims[i]
    if _divides(size, 2) is False:
        return _fail("features", f"halves dimension {dim}, whose size {dim_str(size)} is odd", got=size)
    return Result(_with_dim(x, i, _fdiv(size, 2)))


# ------------------------------------------------------------------ reshaping


def _flatten_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    """``nn.Flatten`` is ``torch.flatten`` with its start and end dims."""
    return O.flatten(inputs[0], layer.params.get("start_dim"), layer.params.get("end_dim"))


def _unflatten_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    """``nn.Unflatten`` is ``Tensor.unflatten`` with its dim and sizes."""
    sizes = layer.params.get("unflattened_size")
    if not isinstance(sizes, tuple) or not sizes:
        return Result(None)
    return O.unflatten(inputs[0], layer.params.get("dim"), tuple(_d(v) for v in sizes))

def _embedding_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    x = inputs[0]
    dim = _d(layer.params["embedding_dim"])
    if x is None:
        return Result(Shape.suffix(dim))
    return Result(Shape(tuple(x.dims) + (dim,), x.prefix))


def _embeddingbag_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    x = inputs[0]
    dim = _d(layer.params["embedding_dim"])
    err = _need_rank(x, (1, 2), "a 1-D input with offsets, or a 2-D input (bags of equal length)")
    if err is not None:
        return err
    present, offsets = _arg(inputs, kwargs, 1, "offsets")
    explicit_none = kwargs is not None and "offsets" in kwargs and kwargs["offsets"] is None
    if x is None or x.prefix:
        return Result(Shape.suffix(dim) if x is None or len(x.dims) < 2 else Shape((x.dims[-2], dim)))
    if len(x.dims) == 2:
        if offsets is not None:
            return _fail("rank", "takes a 2-D input as bags of equal length, so offsets must be None")
        return Result(Shape((x.dims[0], dim)))
    if not present or explicit_none:
        return _fail("rank", "needs offsets for a 1-D input (where each bag starts)")
    if offsets is None or offsets.prefix or len(offsets.dims) != 1:
        return Result(Shape((UNKNOWN, dim)))
    n = offsets.dims[0]
    last = layer.params.get("include_last_offset")
    if last is True:
        n = n - 1
    elif last is not False:
        n = UNKNOWN
    return Result(Shape((n, dim)))


# ------------------------------------------------------------------ recurrent


def _rnn_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    p = layer.params
    x = inputs[0]
    err = _need_rank(x, (2, 3))
    if err is not None:
        return err
    in_size, hidden = _d(p["input_size"]), _d(p["hidden_size"])
    if x is not None and x.dims and dim_ne(x.dims[-1], in_size):
        return _features_error("input_size", in_size, x.dims[-1])
    bi = p.get("bidirectional")
    D = 2 if bi is True else 1 if bi is False else UNKNOWN
    proj = _d(p.get("proj_size", 0))
    h_out = hidden if dim_eq(proj, 0) is True else proj if dim_sign(proj) == 1 else UNKNOWN
    layers = _d(p["num_layers"])
    first = D * layers  # type: ignore[operator]
    bf = p.get("batch_first")
    is_lstm = layer.short == "LSTM"
    if x is None or (x.prefix and len(x.dims) < 3):
        out = Shape.suffix(D * h_out)  # type: ignore[operator]
        h = Shape.suffix(h_out)
        c = Shape.suffix(hidden)
        return Result((out, (h, c)) if is_lstm else (out, h))
    if len(x.dims) == 2 and not x.prefix:  # unbatched (L, H_in)
        out = Shape((x.dims[0], D * h_out))  # type: ignore[operator]
        h, c = Shape((first, h_out)), Shape((first, hidden))
    else:
        dims = x.dims[-3:]
        if bf is True:
            N, L = dims[0], dims[1]
        elif bf is False:
            L, N = dims[0], dims[1]
        else:
            L = N = UNKNOWN
        out = Shape((N, L, D * h_out) if bf is True else (L, N, D * h_out) if bf is False else (UNKNOWN, UNKNOWN, D * h_out))  # type: ignore[operator]
        h, c = Shape((first, N, h_out)), Shape((first, N, hidden))
    return Result((out, (h, c)) if is_lstm else (out, h))


def _rnncell_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    p = layer.params
    x = inputs[0]
    err = _need_rank(x, (1, 2))
    if err is not None:
        return err
    in_size, hidden = _d(p["input_size"]), _d(p["hidden_size"])
    if x is not None and x.dims and dim_ne(x.dims[-1], in_size):
        return _features_error("input_size", in_size, x.dims[-1])
    if x is None or x.prefix:
        h = Shape.suffix(hidden)
    else:
        h = Shape(tuple(x.dims[:-1]) + (hidden,))
    return Result((h, h) if layer.short == "LSTMCell" else h)


# ------------------------------------------------------------------ attention and transformers


def _mha_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    p = layer.params
    E, H = _d(p["embed_dim"]), _d(p["num_heads"])
    kdim = E if p.get("kdim") is None else _d(p.get("kdim"))
    vdim = E if p.get("vdim") is None else _d(p.get("vdim"))
    q = _arg(inputs, kwargs, 0, "query")[1]
    k = _arg(inputs, kwargs, 1, "key")[1]
    v = _arg(inputs, kwargs, 2, "value")[1]
    for x, name in ((q, "query"), (k, "key"), (v, "value")):
        err = _need_rank(x, (2, 3), f"a 2-D (unbatched) or 3-D (batched) {name}")
        if err is not None:
            return err
    if q is not None and q.dims and dim_ne(q.dims[-1], E):
        return _features_error("embed_dim", E, q.dims[-1], "features in the query")
    if k is not None and k.dims and dim_ne(k.dims[-1], kdim):
        return _features_error("kdim", kdim, k.dims[-1], "features in the key")
    if v is not None and v.dims and dim_ne(v.dims[-1], vdim):
        return _features_error("vdim", vdim, v.dims[-1], "features in the value")
    q_rank = q.rank if q is not None else None
    for x, name in ((k, "key"), (v, "value")):
        if q_rank is not None and x is not None and x.rank is not None and x.rank != q_rank:
            return _fail(
                "rank",
                f"receives a {q_rank}-D query but a {x.rank}-D {name}: query, key and value must all be batched (3-D) or all unbatched (2-D)",
            )
    if q is None:
        return Result((Shape.suffix(E), None))
    out = q.replace_last(E) if q.dims else Shape.suffix(E)
    # the attention weights
    need = _kwval(kwargs, "need_weights", True if len(inputs) <= 4 else UNKNOWN)
    avg = _kwval(kwargs, "average_attn_weights", True if len(inputs) <= 6 else UNKNOWN)
    if need is False:
        return Result((out, None))
    if need is not True or (avg is not True and avg is not False) or q.prefix or k is None or k.prefix:
        return Result((out, None))
    extra = (1 if p.get("add_bias_kv") is True else 0 if p.get("add_bias_kv") is False else UNKNOWN) + (
        1 if p.get("add_zero_attn") is True else 0 if p.get("add_zero_attn") is False else UNKNOWN
    )
    bf = p.get("batch_first")
    if len(q.dims) == 2:
        L, S = q.dims[0], k.dims[0] + extra
        w = Shape((L, S)) if avg else Shape((H, L, S))
    else:
        if bf is True:
            N, L, S = q.dims[0], q.dims[1], k.dims[1] + extra
        elif bf is False:
            L, N, S = q.dims[0], q.dims[1], k.dims[0] + extra
        else:
            return Result((out, None))
        w = Shape((N, L, S)) if avg else Shape((N, H, L, S))
    return Result((out, w))


def _d_model(layer: Layer) -> tuple[Dim, Any]:
    """(d_model, batch_first) of a transformer layer or stack."""
    p = layer.params
    if "d_model" in p:
        return _d(p["d_model"]), p.get("batch_first")
    inner = p.get("encoder_layer", p.get("decoder_layer"))
    if isinstance(inner, Layer) and "d_model" in inner.params:
        return _d(inner.params["d_model"]), inner.params.get("batch_first")
    return UNKNOWN, UNKNOWN


def _transformer_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    short = layer.short
    d_model, _bf = _d_model(layer)
    decoder = "Decoder" in short
    names: tuple[tuple[str, int], ...]
    if short == "Transformer":
        names = (("src", 0), ("tgt", 1))
    elif decoder:
        names = (("tgt", 0), ("memory", 1))
    else:
        names = (("src", 0),)
    shapes = []
    for name, i in names:
        x = _arg(inputs, kwargs, i, name)[1]
        err = _need_rank(x, (2, 3), f"a 2-D (unbatched) or 3-D (batched) {name}")
        if err is not None:
            return err
        if x is not None and x.dims and dim_ne(x.dims[-1], d_model):
            return _fail(
                "features",
                f"expects {dim_str(d_model)} features (d_model) in {name}, but receives {dim_str(x.dims[-1])}",
                param="d_model",
                expected=x.dims[-1],
                got=x.dims[-1],
                want=d_model,
            )
        shapes.append(x)
    main = shapes[1] if short == "Transformer" else shapes[0]
    if main is None or not main.dims:
        return Result(Shape.suffix(d_model))
    return Result(main.replace_last(d_model))


# ------------------------------------------------------------------ resizing


def _scaled(L: Dim, f: Any) -> Dim:
    if isinstance(f, bool) or not isinstance(f, (int, float)):
        return UNKNOWN
    if isinstance(L, int):
        return math.floor(float(L) * f)
    if float(f).is_integer() and L is not UNKNOWN:
        return L * int(f)  # type: ignore[operator]
    return UNKNOWN


_MODE_RANK = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}


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


def _broadcast(a: Shape, b: Shape) -> Shape | None:
    if a.prefix or b.prefix:
        return None
    n = max(len(a.dims), len(b.dims))
    da = (1,) * (n - len(a.dims)) + tuple(a.dims)
    db = (1,) * (n - len(b.dims)) + tuple(b.dims)
    out = []
    for x, y in zip(da, db):
        if dim_eq(x, y) is True or dim_eq(y, 1) is True:
            out.append(x)
        elif dim_eq(x, 1) is True:
            out.append(y)
        else:
            out.append(UNKNOWN)
    return Shape(tuple(out))


def _distance_forward(layer: Layer, inputs: list, kwargs: dict) -> Result:
    a = inputs[0]
    b = inputs[1] if len(inputs) > 1 else None
    if a is None or b is None:
        return Result(None)
    s = _broadcast(a, b)
    if s is None or not s.dims:
        return Result(s)
    if layer.short == "PairwiseDistance":
        keep = layer.params.get("keepdim")
        if keep is True:
            return Result(s.replace_last(1))
        return Result(Shape(s.dims[:-1])) if keep is False else Result(None)
    dim = _int(layer.params.get("dim"))
    i = _norm_dim(dim, len(s.dims)) if dim is not None else None
    if i is None:
        return Result(None)
    return Result(Shape(s.dims[:i] + s.dims[i + 1 :]))


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


# ------------------------------------------------------------------ the table


_SHAPE_PRESERVING = """
    ReLU ReLU6 LeakyReLU ELU SELU CELU GELU SiLU Mish Sigmoid Tanh Hardtanh Hardswish Hardsigmoid Hardshrink
    Softshrink Tanhshrink Softsign Softplus LogSigmoid Threshold RReLU Dropout Dropout2d Dropout3d AlphaDropout
    FeatureAlphaDropout
""".split()

_FORWARD_SHORT: dict[str, Callable[[Layer, list, dict], Result]] = {
    "Linear": _linear_forward,
    "LazyLinear": _linear_forward,
    "Bilinear": _bilinear_forward,
    "Identity": _identity_forward,
    **{f"{k}{d}d": _conv_forward for k in ("Conv", "ConvTranspose", "LazyConv", "LazyConvTranspose") for d in (1, 2, 3)},
    **{f"{k}{d}d": _pool_forward for k in ("MaxPool", "AvgPool", "LPPool") for d in (1, 2, 3)},
    **{f"Adaptive{k}Pool{d}d": _adaptive_forward for k in ("Avg", "Max") for d in (1, 2, 3)},
    **{f"MaxUnpool{d}d": _unpool_forward for d in (1, 2, 3)},
    "FractionalMaxPool2d": _fracpool_forward,
    "FractionalMaxPool3d": _fracpool_forward,
    **{f"{k}BatchNorm{d}d": _bn_forward for k in ("", "Lazy") for d in (1, 2, 3)},
    "SyncBatchNorm": _bn_forward,
    **{f"{k}InstanceNorm{d}d": _instancenorm_forward for k in ("", "Lazy") for d in (1, 2, 3)},
    "GroupNorm": _groupnorm_forward,
    "LayerNorm": _normalized_forward,
    "RMSNorm": _normalized_forward,
    "LocalResponseNorm": _lrn_forward,
    "CrossMapLRN2d": _lrn_forward,
    **{n: _same_forward for n in _SHAPE_PRESERVING},
    "Dropout1d": _dropout1d_forward,
    "PReLU": _prelu_forward,
    "GLU": _glu_forward,
    "Softmax": _softmax_forward,
    "Softmin": _softmax_forward,
    "LogSoftmax": _softmax_forward,
    "Softmax2d": _softmax_forward,
    "Flatten": _flatten_forward,
    "Unflatten": _unflatten_forward,
    "Embedding": _embedding_forward,
    "EmbeddingBag": _embeddingbag_forward,
    "RNN": _rnn_forward,
    "LSTM": _rnn_forward,
    "GRU": _rnn_forward,
    "RNNCell": _rnncell_forward,
    "LSTMCell": _rnncell_forward,
    "GRUCell": _rnncell_forward,
    "MultiheadAttention": _mha_forward,
    "TransformerEncoderLayer": _transformer_forward,
    "TransformerDecoderLayer": _transformer_forward,
    "TransformerEncoder": _transformer_forward,
    "TransformerDecoder": _transformer_forward,
    "Transformer": _transformer_forward,
    "Upsample": _upsample_forward,
    "UpsamplingNearest2d": _upsample_forward,
    "UpsamplingBilinear2d": _upsample_forward,
    "PixelShuffle": _pixel_forward,
    "PixelUnshuffle": _pixel_forward,
    **{f"{k}Pad{d}d": _pad_forward for k in ("Zero", "Constant", "Reflection", "Replication", "Circular") for d in (1, 2, 3)},
    "ChannelShuffle": _channel_shuffle_forward,
    "CosineSimilarity": _distance_forward,
    "PairwiseDistance": _distance_forward,
    "Unfold": _unfold_forward,
    "Fold": _fold_forward,
}
_FORWARD = {NN + k: v for k, v in _FORWARD_SHORT.items()}

SUPPORTED: frozenset[str] = frozenset(_FORWARD)  # torch's layers

# An elementwise activation picked by name from a model library's table
# (`ACT2FN[config.hidden_act]`, see ``torch_api.ACTIVATION_TABLES``): which one is not
# known, only that it keeps the shape. Not a torch class: built directly, never bound.
ACTIVATION = "activation"
_FORWARD[ACTIVATION] = _same_forward


# =============================================================================== expected input


def expected_input(layer: Layer) -> Shape | None:
    """What the layer accepts, as a pattern (for hovers and for guessing a forward
    argument's shape from its first consumer); None when it takes anything."""
    p = layer.params
    short = layer.short
    U = UNKNOWN
    try:
        if short in ("Linear", "Bilinear"):
            return Shape.suffix(_d(p["in_features" if short == "Linear" else "in1_features"]))
        if short.startswith(("Conv", "LazyConv", "InstanceNorm", "LazyInstanceNorm")):
            n = _rank_of(layer.cls)
            c = U if short.startswith("Lazy") else _d(p.get("in_channels", p.get("num_features")))
            if short.startswith("InstanceNorm") and p.get("affine") is not True and p.get("track_running_stats") is not True:
                c = U
            return Shape.suffix(c, *(U,) * n)
        if short.startswith(("MaxPool", "AvgPool", "LPPool", "Adaptive", "MaxUnpool", "FractionalMaxPool")):
            n = _rank_of(layer.cls)
            return Shape.suffix(*(U,) * (n + 1))
        if short in ("BatchNorm2d", "BatchNorm3d", "LazyBatchNorm2d", "LazyBatchNorm3d"):
            n = _rank_of(layer.cls)
            checked = not short.startswith("Lazy") and (p.get("affine") is True or p.get("track_running_stats") is True)
            return Shape((U, _d(p["num_features"]) if checked else U) + (U,) * n)
        if short in ("LayerNorm", "RMSNorm"):
            ns = _ns(p["normalized_shape"])
            return Shape.suffix(*ns) if ns is not None else None
        if short in ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"):
            return Shape.suffix(_d(p["input_size"]))
        if short == "MultiheadAttention":
            return Shape.suffix(_d(p["embed_dim"]))
        if short.startswith("Transformer"):
            return Shape.suffix(_d_model(layer)[0])
        if short in ("PixelShuffle", "PixelUnshuffle", "Softmax2d", "Unfold"):
            return Shape.suffix(U, U, U)
        if "Pad" in short and not short.startswith(("Zero", "Constant")):
            n = _rank_of(layer.cls)
            return Shape.suffix(*(U,) * (n + 1))
    except (KeyError, TypeError):
        return None
    return None


# =============================================================================== parameters


def _mha_entries(E: Dim, kdim: Dim, vdim: Dim, bias: Any, bias_kv: Any) -> list[_Entry] | None:
    same = dim_eq(kdim, E) is True and dim_eq(vdim, E) is True
    differs = dim_ne(kdim, E) or dim_ne(vdim, E)
    e: list[_Entry] = []
    if same:
        e.append(("in_proj_weight", Shape.of(3 * E, E), True))  # type: ignore[operator]
    elif differs:
        e += [("q_proj_weight", Shape.of(E, E), True), ("k_proj_weight", Shape.of(E, kdim), True), ("v_proj_weight", Shape.of(E, vdim), True)]
    else:
        return None
    if bias is not False:
        e.append(("in_proj_bias", Shape.of(3 * E), True))  # type: ignore[operator]
    if bias_kv is True:
        e += [("bias_k", Shape.of(1, 1, E), True), ("bias_v", Shape.of(1, 1, E), True)]
    e += _prefixed("out_proj.", _linear_entries(E, E, bias))
    return e


def _tlayer_entries(layer: Layer) -> list[_Entry] | None:
    p = layer.params
    E, F, bias = _d(p["d_model"]), _d(p["dim_feedforward"]), p.get("bias")
    decoder = layer.short == "TransformerDecoderLayer"
    e = _prefixed("self_attn.", _mha_entries(E, E, E, bias, False)) or []
    if decoder:
        e += _prefixed("multihead_attn.", _mha_entries(E, E, E, bias, False)) or []
    e += _prefixed("linear1.", _linear_entries(F, E, bias)) or []
    e += _prefixed("linear2.", _linear_entries(E, F, bias)) or []
    for i in (1, 2, 3) if decoder else (1, 2):
        e += _prefixed(f"norm{i}.", _ln_entries((E,), True, bias)) or []
    return e


def _rnn_entries(layer: Layer, num_layers: int) -> list[_Entry] | None:
    p = layer.params
    short = layer.short
    in_size, H = _d(p["input_size"]), _d(p["hidden_size"])
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1, "LSTMCell": 4, "GRUCell": 3, "RNNCell": 1}[short]
    G = gates * H  # type: ignore[operator]
    bias = p.get("bias")
    e: list[_Entry]
    if short.endswith("Cell"):
        e = [("weight_ih", Shape.of(G, in_size), True), ("weight_hh", Shape.of(G, H), True)]
        if bias is not False:
            e += [("bias_ih", Shape.of(G), True), ("bias_hh", Shape.of(G), True)]
        return e
    bi = p.get("bidirectional")
    if bi is not True and bi is not False:
        return None
    D = 2 if bi else 1
    proj = _d(p.get("proj_size", 0))
    if dim_eq(proj, 0) is True:
        real, has_proj = H, False
    elif dim_sign(proj) == 1:
        real, has_proj = proj, True
    else:
        return None
    e = []
    for layer_i in range(num_layers):
        for direction in range(D):
            sfx = f"_l{layer_i}" + ("_reverse" if direction else "")
            layer_in = in_size if layer_i == 0 else real * D  # type: ignore[operator]
            e += [(f"weight_ih{sfx}", Shape.of(G, layer_in), True), (f"weight_hh{sfx}", Shape.of(G, real), True)]
            if bias is not False:
                e += [(f"bias_ih{sfx}", Shape.of(G), True), (f"bias_hh{sfx}", Shape.of(G), True)]
            if has_proj:
                e.append((f"weight_hr{sfx}", Shape.of(proj, H), True))
    return e


def _entries(layer: Layer) -> list[_Entry] | None:
    """(name, shape, is_parameter) of the layer's parameters and buffers; None when
    not known (an argument that decides which ones exist is unknown)."""
    p = layer.params
    short = layer.short
    U = UNKNOWN
    if short in ("Linear", "LazyLinear"):
        return _linear_entries(_d(p["out_features"]), _d(p.get("in_features", U)), p.get("bias"))
    if short == "Bilinear":
        e = [("weight", Shape.of(_d(p["out_features"]), _d(p["in1_features"]), _d(p["in2_features"])), True)]
        if p.get("bias") is not False:
            e.append(("bias", Shape.of(_d(p["out_features"])), True))
        return e
    n: int | None
    if "Conv" in short:
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
    if short == "PReLU":
        return [("weight", Shape.of(_d(p["num_parameters"])), True)]
    if short in ("Embedding", "EmbeddingBag"):
        return [("weight", Shape.of(_d(p["num_embeddings"]), _d(p["embedding_dim"])), True)]
    if short in ("RNN", "LSTM", "GRU"):
        L = _int(p["num_layers"])
        return _rnn_entries(layer, L if L is not None else 1)
    if short.endswith("Cell"):
        return _rnn_entries(layer, 1)
    if short == "MultiheadAttention":
        E = _d(p["embed_dim"])
        kdim = E if p.get("kdim") is None else _d(p["kdim"])
        vdim = E if p.get("vdim") is None else _d(p["vdim"])
        return _mha_entries(E, kdim, vdim, p.get("bias"), p.get("add_bias_kv"))
    if short in ("TransformerEncoderLayer", "TransformerDecoderLayer"):
        return _tlayer_entries(layer)
    if short in ("TransformerEncoder", "TransformerDecoder"):
        inner = p.get("encoder_layer", p.get("decoder_layer"))
        n = _int(p["num_layers"])
        if not isinstance(inner, Layer):
            return None
        one = _entries(inner)
        if one is None:
            return None
        e = []
        for i in range(n if n is not None else 1):
            e += _prefixed(f"layers.{i}.", one) or []
        norm = p.get("norm")
        if isinstance(norm, Layer):
            e += _prefixed("norm.", _entries(norm)) or []
        elif norm is not None:
            return None
        return e
    if short == "Transformer":
        if p.get("custom_encoder") is not None or p.get("custom_decoder") is not None:
            return None
        E, bias = _d(p["d_model"]), p.get("bias")
        e = []
        enc = Layer(NN + "TransformerEncoderLayer", {"d_model": E, "dim_feedforward": p["dim_feedforward"], "bias": bias})
        dec = Layer(NN + "TransformerDecoderLayer", {"d_model": E, "dim_feedforward": p["dim_feedforward"], "bias": bias})
        ne, nd = _int(p["num_encoder_layers"]), _int(p["num_decoder_layers"])
        for i in range(ne if ne is not None else 1):
            e += _prefixed(f"encoder.layers.{i}.", _tlayer_entries(enc)) or []
        e += _prefixed("encoder.norm.", _ln_entries((E,), True, bias)) or []
        for i in range(nd if nd is not None else 1):
            e += _prefixed(f"decoder.layers.{i}.", _tlayer_entries(dec)) or []
        e += _prefixed("decoder.norm.", _ln_entries((E,), True, bias)) or []
        return e
    if layer.cls in SIGNATURES:
        return []
    return None


def param_shapes(layer: Layer) -> dict[str, Shape]:
    """Shapes of the layer's parameters and buffers by name (``weight``, ``bias``,
    ``running_mean``, ``in_proj_weight``, ``weight_ih_l0`` ...). Layers with an unknown
    number of repeated parts (``num_layers``) list the first one."""
    try:
        entries = _entries(layer)
    except (KeyError, TypeError):
        return {}
    return {name: s for name, s, _ in entries or []}


def param_count(layer: Layer) -> Dim:
    """The number of parameter elements (buffers excluded); symbolic when sizes are."""
    try:
        p = layer.params
        short = layer.short
        if short in ("RNN", "LSTM", "GRU") and _int(p["num_layers"]) is None:
            one, two = _count(_rnn_entries(layer, 1)), _count(_rnn_entries(layer, 2))
            return one + (_d(p["num_layers"]) - 1) * (two - one)  # type: ignore[operator]
        if short in ("TransformerEncoder", "TransformerDecoder") and _int(p["num_layers"]) is None:
            inner = p.get("encoder_layer", p.get("decoder_layer"))
            norm = p.get("norm")
            if not isinstance(inner, Layer) or (norm is not None and not isinstance(norm, Layer)):
                return UNKNOWN
            norm_count = _count(_entries(norm)) if isinstance(norm, Layer) else 0
            return _d(p["num_layers"]) * _count(_entries(inner)) + norm_count  # type: ignore[operator]
        if short == "Transformer" and (_int(p["num_encoder_layers"]) is None or _int(p["num_decoder_layers"]) is None):
            return UNKNOWN
        return _count(_entries(layer))
    except (KeyError, TypeError):
        return UNKNOWN


# =============================================================================== signature


def signature(layer: Layer) -> str:
    """A short description for hovers: ``Linear(400 → 120)``,
    ``Conv2d(3 → 16, kernel 5×5, stride 1)``."""
    p = layer.params
    short = layer.short
    try:
        if short in ("Linear", "LazyLinear"):
            return f"{short}({_v(p.get('in_features', UNKNOWN))} → {_v(p['out_features'])}{'' if p.get('bias') is not False else ', no bias'})"
        if short == "Bilinear":
            return f"Bilinear({_v(p['in1_features'])}, {_v(p['in2_features'])} → {_v(p['out_features'])})"
        if "Conv" in short:
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
        if "BatchNorm" in short or "InstanceNorm" in short:
            return f"{short}({_v(p.get('num_features', UNKNOWN))})"
        if short == "GroupNorm":
            return f"GroupNorm({_v(p['num_groups'])} groups, {_v(p['num_channels'])} channels)"
        if short in ("LayerNorm", "RMSNorm"):
            ns = _ns(p["normalized_shape"])
            return f"{short}({_v(ns[0]) if ns is not None and len(ns) == 1 else Shape(ns) if ns is not None else '?'})"
        if short.startswith(("Dropout", "AlphaDropout", "FeatureAlphaDropout")):
            return f"{short}(p={_v(p['p'])})"
        if short in ("Softmax", "Softmin", "LogSoftmax", "GLU"):
            return f"{short}(dim={_v(p['dim'])})"
        if short == "Flatten":
            return f"Flatten({_v(p['start_dim'])}, {_v(p['end_dim'])})"
        if short == "Unflatten":
            return f"Unflatten(dim {_v(p['dim'])} → {_v(p['unflattened_size'])})"
        if short in ("Embedding", "EmbeddingBag"):
            return f"{short}({_v(p['num_embeddings'])} × {_v(p['embedding_dim'])})"
        if short in ("RNN", "LSTM", "GRU"):
            parts = [f"{_v(p['input_size'])} → {_v(p['hidden_size'])}"]
            if p.get("num_layers") != 1:
                parts.append(f"{_v(p['num_layers'])} layers")
            if p.get("bidirectional") is True:
                parts.append("bidirectional")
            if p.get("batch_first") is True:
                parts.append("batch_first")
            if short == "LSTM" and p.get("proj_size") not in (0, None):
                parts.append(f"proj {_v(p['proj_size'])}")
            return f"{short}({', '.join(parts)})"
        if short.endswith("Cell"):
            return f"{short}({_v(p['input_size'])} → {_v(p['hidden_size'])})"
        if short == "MultiheadAttention":
            return f"MultiheadAttention({_v(p['embed_dim'])}, {_v(p['num_heads'])} heads{', batch_first' if p.get('batch_first') is True else ''})"
        if short in ("TransformerEncoderLayer", "TransformerDecoderLayer", "Transformer"):
            return f"{short}(d_model {_v(p['d_model'])}, {_v(p['nhead'])} heads, feedforward {_v(p['dim_feedforward'])})"
        if short in ("TransformerEncoder", "TransformerDecoder"):
            return f"{short}({_v(p['num_layers'])} × d_model {_v(_d_model(layer)[0])})"
        if short.startswith("Upsampl"):
            what = f"size {_v(p['size'])}" if p.get("size") is not None else f"scale {_v(p.get('scale_factor'))}"
            mode = p.get("mode")
            return f"{short}({what}{', ' + mode if isinstance(mode, str) else ''})"
        if short in ("PixelShuffle", "PixelUnshuffle"):
            return f"{short}({_v(p.get('upscale_factor', p.get('downscale_factor')))})"
        if "Pad" in short:
            return f"{short}({_v(_squash(p['padding']))})"
        if short == "PReLU":
            return f"PReLU({_v(p['num_parameters'])})"
        if short == "ChannelShuffle":
            return f"ChannelShuffle({_v(p['groups'])} groups)"
    except (KeyError, TypeError):
        pass
    return f"{short}()"



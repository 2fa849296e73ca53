"""Attention: ``nn.MultiheadAttention`` and the ``nn.Transformer`` layers, stacks and model.

A family of ``torch_lsp.analysis.layers`` (see the package docstring for what a spec holds).
A stack's parameters are its inner layer's, looked up in the registry (``spec.param_entries``).
"""
from __future__ import annotations

from typing import Any

from torch_lsp.analysis.layers import spec as _registry
from torch_lsp.analysis.layers._common import (
    NN,
    _arg,
    _as_layer,
    _count,
    _d,
    _divisible,
    _Entry,
    _fail,
    _features_error,
    _int,
    _kwval,
    _linear_entries,
    _ln_entries,
    _need_rank,
    _prefixed,
    _short,
    _v,
)
from torch_lsp.analysis.layers.spec import LayerSpec
from torch_lsp.analysis.shape_types import Layer, Result, ShapeError
from torch_lsp.analysis.shapes import (
    UNKNOWN,
    Dim,
    Shape,
    dim_eq,
    dim_ne,
    dim_str,
)

_TLAYER = (
    "d_model, nhead, dim_feedforward=2048, dropout=0.1, activation='relu', layer_norm_eps=1e-05, batch_first=False, "
    "norm_first=False, bias=True, device=None, dtype=None"
)


SIGNATURES: dict[str, str] = {
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
}


def _normalise(cls: str, p: dict[str, Any]) -> None:
    short = _short(cls)
    if short in ("TransformerEncoder", "TransformerDecoder"):
        key = "encoder_layer" if short == "TransformerEncoder" else "decoder_layer"
        p[key] = _as_layer(p[key])
        p["norm"] = _as_layer(p["norm"])


def _mha_config(layer: Layer) -> list[ShapeError]:
    return _divisible(layer, "embed_dim", "num_heads")


def _transformer_config(layer: Layer) -> list[ShapeError]:
    return _divisible(layer, "d_model", "nhead", " for the attention heads")


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


def _expected_input(layer: Layer) -> Shape | None:
    p = layer.params
    short = layer.short
    if short == "MultiheadAttention":
        return Shape.suffix(_d(p["embed_dim"]))
    return Shape.suffix(_d_model(layer)[0])  # the Transformer* layers


def _entries(layer: Layer) -> list[_Entry] | None:
    p = layer.params
    short = layer.short
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
        one = _registry.param_entries(inner)
        if one is None:
            return None
        e: list[_Entry] = []
        for i in range(n if n is not None else 1):
            e += _prefixed(f"layers.{i}.", one) or []
        norm = p.get("norm")
        if isinstance(norm, Layer):
            e += _prefixed("norm.", _registry.param_entries(norm)) or []
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
    return []


def _param_count(layer: Layer) -> Dim:
    p = layer.params
    short = layer.short
    if short in ("TransformerEncoder", "TransformerDecoder") and _int(p["num_layers"]) is None:
        inner = p.get("encoder_layer", p.get("decoder_layer"))
        norm = p.get("norm")
        if not isinstance(inner, Layer) or (norm is not None and not isinstance(norm, Layer)):
            return UNKNOWN
        norm_count = _count(_registry.param_entries(norm)) if isinstance(norm, Layer) else 0
        return _d(p["num_layers"]) * _count(_registry.param_entries(inner)) + norm_count  # type: ignore[operator]
    if short == "Transformer" and (_int(p["num_encoder_layers"]) is None or _int(p["num_decoder_layers"]) is None):
        return UNKNOWN
    return _count(_entries(layer))


def _describe(layer: Layer) -> str | None:
    p = layer.params
    short = layer.short
    if short == "MultiheadAttention":
        return f"MultiheadAttention({_v(p['embed_dim'])}, {_v(p['num_heads'])} heads{', batch_first' if p.get('batch_first') is True else ''})"
    if short in ("TransformerEncoderLayer", "TransformerDecoderLayer", "Transformer"):
        return f"{short}(d_model {_v(p['d_model'])}, {_v(p['nhead'])} heads, feedforward {_v(p['dim_feedforward'])})"
    if short in ("TransformerEncoder", "TransformerDecoder"):
        return f"{short}({_v(p['num_layers'])} × d_model {_v(_d_model(layer)[0])})"
    return None


SPEC: LayerSpec = LayerSpec(
    family="attention",
    signatures=SIGNATURES,
    normalise=_normalise,
    config={
        "MultiheadAttention": _mha_config,
        "TransformerEncoderLayer": _transformer_config,
        "TransformerDecoderLayer": _transformer_config,
        "Transformer": _transformer_config,
    },
    forward={name: (_mha_forward if name == "MultiheadAttention" else _transformer_forward) for name in SIGNATURES},
    expected_input=_expected_input,
    entries=_entries,
    param_count=_param_count,
    describe=_describe,
)

"""Recurrent layers: ``nn.RNN``, ``nn.LSTM``, ``nn.GRU`` and their cells.

A family of ``torch_lsp.analysis.layers`` (see the package docstring for what a spec holds).
"""
from __future__ import annotations

from torch_lsp.analysis.layers._common import (
    _cfg,
    _count,
    _d,
    _Entry,
    _features_error,
    _int,
    _need_rank,
    _v,
)
from torch_lsp.analysis.layers.spec import LayerSpec
from torch_lsp.analysis.shape_types import Layer, Result, ShapeError
from torch_lsp.analysis.shapes import (
    UNKNOWN,
    Dim,
    Shape,
    dim_eq,
    dim_le,
    dim_ne,
    dim_sign,
    dim_str,
)

_RNN_TAIL = "bias=True, batch_first=False, dropout=0.0, bidirectional=False"


SIGNATURES: dict[str, str] = {
    # RNN/LSTM/GRU take (*args, **kwargs) and forward them to RNNBase(mode, ...); RNN
    # takes `nonlinearity` as its fourth positional argument.
    "RNN": f"input_size, hidden_size, num_layers=1, nonlinearity='tanh', {_RNN_TAIL}, device=None, dtype=None",
    "LSTM": f"input_size, hidden_size, num_layers=1, {_RNN_TAIL}, proj_size=0, device=None, dtype=None",
    "GRU": f"input_size, hidden_size, num_layers=1, {_RNN_TAIL}, device=None, dtype=None",
    "RNNCell": "input_size, hidden_size, bias=True, nonlinearity='tanh', device=None, dtype=None",
    "LSTMCell": "input_size, hidden_size, bias=True, device=None, dtype=None",
    "GRUCell": "input_size, hidden_size, bias=True, device=None, dtype=None",
}


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


def _expected_input(layer: Layer) -> Shape | None:
    return Shape.suffix(_d(layer.params["input_size"]))


def _entries(layer: Layer) -> list[_Entry] | None:
    p = layer.params
    short = layer.short
    if short in ("RNN", "LSTM", "GRU"):
        L = _int(p["num_layers"])
        return _rnn_entries(layer, L if L is not None else 1)
    return _rnn_entries(layer, 1)  # the cells


def _param_count(layer: Layer) -> Dim:
    p = layer.params
    short = layer.short
    if short in ("RNN", "LSTM", "GRU") and _int(p["num_layers"]) is None:
        one, two = _count(_rnn_entries(layer, 1)), _count(_rnn_entries(layer, 2))
        return one + (_d(p["num_layers"]) - 1) * (two - one)  # type: ignore[operator]
    return _count(_entries(layer))


def _describe(layer: Layer) -> str | None:
    p = layer.params
    short = layer.short
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
    return f"{short}({_v(p['input_size'])} → {_v(p['hidden_size'])})"  # the cells


SPEC: LayerSpec = LayerSpec(
    family="recurrent",
    signatures=SIGNATURES,
    config={
        "LSTM": _rnn_config,
        "RNN": _rnn_config,
        "RNNCell": _rnn_config,
    },
    forward={
        "RNN": _rnn_forward,
        "LSTM": _rnn_forward,
        "GRU": _rnn_forward,
        "RNNCell": _rnncell_forward,
        "LSTMCell": _rnncell_forward,
        "GRUCell": _rnncell_forward,
    },
    expected_input=_expected_input,
    entries=_entries,
    param_count=_param_count,
    describe=_describe,
)

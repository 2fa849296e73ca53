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

One module per family of layers, each holding one ``LayerSpec`` (``SPEC``) that owns
its members' constructor signatures (copied from torch 2.13; ``tests/test_layers.py``
compares them with ``inspect.signature`` of the real classes), argument normalisation,
config checks, forward shape functions, expected input, parameter entries and hover
text:

- ``linear``: Linear, Bilinear, LazyLinear, Identity
- ``conv``: Conv, ConvTranspose and their lazy forms
- ``pool``: max/avg/LP pools, adaptive and fractional pools, max unpools
- ``norm``: batch/instance/group/layer/RMS norms, local response norms
- ``elementwise``: activations, dropouts, PReLU, softmaxes, GLU
- ``reshape``: Flatten, Unflatten, Embedding, EmbeddingBag
- ``recurrent``: RNN, LSTM, GRU and their cells
- ``attention``: MultiheadAttention and the Transformer layers
- ``resize``: Upsample, pixel shuffles, padding, ChannelShuffle, Fold/Unfold
- ``distance``: CosineSimilarity, PairwiseDistance

``_common`` holds the helpers they share; ``spec`` holds ``LayerSpec``, the registry
(short class name -> spec, built from the families' specs) and the public functions,
which look the layer up there.

To add a layer, edit its family module only: its signature in ``SIGNATURES``, its
shape function in the spec's ``forward`` (and its check in ``config``), and a branch
in the family's hooks (``_normalise``, ``_expected_input``, ``_entries``,
``_describe``) when the defaults (nothing to normalise, any input, no parameters,
``Name()``) do not fit; then its cases in ``tests/test_layers.py``. A new family is a
new module with a ``SPEC``, listed in ``spec.FAMILIES``.
"""
from __future__ import annotations

# spec first: it imports the family modules, which import LayerSpec from it
from torch_lsp.analysis.layers.spec import (  # noqa: F401
    ACTIVATION,
    FAMILIES,
    PARAM_ORDER,
    REGISTRY,
    SIGNATURES,
    SUPPORTED,
    LayerSpec,
    bind,
    config_errors,
    expected_input,
    forward,
    param_count,
    param_entries,
    param_shapes,
    signature,
)
from torch_lsp.analysis.layers._common import _REQUIRED, NN, _Param  # noqa: F401,E402,I001
from torch_lsp.analysis.layers.elementwise import _SHAPE_PRESERVING  # noqa: F401,E402

"""What the static analysis knows about torch's API, without importing torch.

The class lists were read off torch 2.13 (``dir(torch.nn)``); they only need to
grow when torch adds layers. Every function here takes and returns canonical
qualified names (``torch.nn.Linear``), see ``canonical``.
"""
from __future__ import annotations

import functools
import re

# Every nn.Module subclass exported by torch.nn (torch 2.13).
TORCH_NN_MODULES = frozenset(
    """
    AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveLogSoftmaxWithLoss AdaptiveMaxPool1d
    AdaptiveMaxPool2d AdaptiveMaxPool3d AlphaDropout AvgPool1d AvgPool2d AvgPool3d BCELoss BCEWithLogitsLoss
    BatchNorm1d BatchNorm2d BatchNorm3d Bilinear CELU CTCLoss ChannelShuffle CircularPad1d CircularPad2d
    CircularPad3d ConstantPad1d ConstantPad2d ConstantPad3d Container Conv1d Conv2d Conv3d ConvTranspose1d
    ConvTranspose2d ConvTranspose3d CosineEmbeddingLoss CosineSimilarity CrossEntropyLoss CrossMapLRN2d
    DataParallel Dropout Dropout1d Dropout2d Dropout3d ELU Embedding EmbeddingBag FeatureAlphaDropout Flatten
    Fold FractionalMaxPool2d FractionalMaxPool3d GELU GLU GRU GRUCell GaussianNLLLoss GroupNorm Hardshrink
    Hardsigmoid Hardswish Hardtanh HingeEmbeddingLoss HuberLoss Identity InstanceNorm1d InstanceNorm2d
    InstanceNorm3d KLDivLoss L1Loss LPPool1d LPPool2d LPPool3d LSTM LSTMCell LayerNorm LazyBatchNorm1d
    LazyBatchNorm2d LazyBatchNorm3d LazyConv1d LazyConv2d LazyConv3d LazyConvTranspose1d LazyConvTranspose2d
    LazyConvTranspose3d LazyInstanceNorm1d LazyInstanceNorm2d LazyInstanceNorm3d LazyLinear LeakyReLU Linear
    LinearCrossEntropyLoss LocalResponseNorm LogSigmoid LogSoftmax MSELoss MarginRankingLoss MaxPool1d
    MaxPool2d MaxPool3d MaxUnpool1d MaxUnpool2d MaxUnpool3d Mish Module ModuleDict ModuleList
    MultiLabelMarginLoss MultiLabelSoftMarginLoss MultiMarginLoss MultiheadAttention NLLLoss NLLLoss2d PReLU
    PairwiseDistance ParameterDict ParameterList PixelShuffle PixelUnshuffle PoissonNLLLoss RMSNorm RNN
    RNNBase RNNCell RNNCellBase RReLU ReLU ReLU6 ReflectionPad1d ReflectionPad2d ReflectionPad3d
    ReplicationPad1d ReplicationPad2d ReplicationPad3d SELU Sequential SiLU Sigmoid SmoothL1Loss
    SoftMarginLoss Softmax Softmax2d Softmin Softplus Softshrink Softsign SyncBatchNorm Tanh Tanhshrink
    Threshold Transformer TransformerDecoder TransformerDecoderLayer TransformerEncoder
    TransformerEncoderLayer TripletMarginLoss TripletMarginWithDistanceLoss Unflatten Unfold Upsample
    UpsamplingBilinear2d UpsamplingNearest2d ZeroPad1d ZeroPad2d ZeroPad3d
    """.split()
)

# Layers with no parameters, no buffers and no train/eval difference: keeping one in a
# plain list loses nothing (losses only when built without a `weight`).
STATELESS_LAYERS = frozenset(
    "torch.nn." + n
    for n in """
    ReLU ReLU6 LeakyReLU ELU SELU CELU GELU SiLU Mish Sigmoid Tanh Hardtanh Hardswish Hardsigmoid Hardshrink
    Softshrink Tanhshrink Softsign Softplus LogSigmoid Threshold GLU Softmax Softmin LogSoftmax Softmax2d
    Identity Flatten Unflatten MaxPool1d MaxPool2d MaxPool3d AvgPool1d AvgPool2d AvgPool3d LPPool1d LPPool2d
    LPPool3d AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveMaxPool1d AdaptiveMaxPool2d
    AdaptiveMaxPool3d MaxUnpool1d MaxUnpool2d MaxUnpool3d Upsample UpsamplingNearest2d UpsamplingBilinear2d
    PixelShuffle PixelUnshuffle ChannelShuffle ZeroPad1d ZeroPad2d ZeroPad3d ConstantPad1d ConstantPad2d
    ConstantPad3d ReflectionPad1d ReflectionPad2d ReflectionPad3d ReplicationPad1d ReplicationPad2d
    ReplicationPad3d CircularPad1d CircularPad2d CircularPad3d Fold Unfold CosineSimilarity PairwiseDistance
    """.split()
)
WEIGHTED_LOSS_ARGS = frozenset({"weight", "pos_weight"})

MODULE = "torch.nn.Module"

# Model libraries' look-ups of an activation by name, all shape-preserving modules
# (checked on transformers 5.23: every `ACT2FN[name]` keeps its input's shape).
# Subscripted tables, and functions called with the name.
ACTIVATION_TABLES = frozenset({"transformers.activations.ACT2FN"})
ACTIVATION_FACTORIES = frozenset({
    "transformers.activations.get_activation",
    "timm.layers.create_act_layer", "timm.layers.create_act.create_act_layer",
})
# ... and functions that return an activation class (called later: `act_layer(inplace=True)`).
ACTIVATION_CLASS_FACTORIES = frozenset({
    "timm.layers.get_act_layer", "timm.layers.create_act.get_act_layer",
})
ACTIVATION_CLASS = "<an activation class>"  # the value they return (interpreter's stand-in)
# Registries of interchangeable implementations looked up at run time with a default:
# `ALL_ATTENTION_FUNCTIONS.get_interface(config._attn_implementation, eager_attention_forward)`
# (transformers 5). Every function registered there keeps the default's contract (query,
# key and value as [batch, heads, seq, head_dim], the output as [batch, seq, heads,
# head_dim]; eager, sdpa and flash attention reject the same mismatched query/key/value,
# checked with torch 2.13 on sdpa), so the default stands for whichever one runs.
# Qualified name -> (position, keyword) of the default argument.
DEFAULT_STANDS_FOR = {
    "transformers.modeling_utils.ALL_ATTENTION_FUNCTIONS.get_interface": (1, "default"),
}
MODULE_CONTAINERS = frozenset({"torch.nn.ModuleList", "torch.nn.ModuleDict", "torch.nn.Sequential"})
PARAM_CONTAINERS = frozenset({"torch.nn.ParameterList", "torch.nn.ParameterDict"})
PARAMETER_CLASSES = frozenset({"torch.nn.Parameter", "torch.nn.UninitializedParameter"})
BUFFER_CLASSES = frozenset({"torch.nn.Buffer", "torch.nn.UninitializedBuffer"})

# The methods of nn.Module (torch 2.13, ``dir(nn.Module)``): a call of one of them on
# self in ``__init__`` is torch's, never a helper that initialises the module.
MODULE_METHODS = frozenset(
    """
    _apply _call_impl _get_backward_hooks _get_backward_pre_hooks _get_name _load_from_state_dict
    _maybe_warn_non_full_backward_hook _named_members _register_load_state_dict_pre_hook
    _register_state_dict_hook _replicate_for_data_parallel _save_to_state_dict _slow_forward _wrapped_call_impl
    add_module apply bfloat16 buffers children compile cpu cuda double eval extra_repr float forward get_buffer
    get_extra_state get_parameter get_submodule half ipu load_state_dict modules mtia named_buffers
    named_children named_modules named_parameters parameters register_backward_hook register_buffer
    register_forward_hook register_forward_pre_hook register_full_backward_hook register_full_backward_pre_hook
    register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module register_parameter
    register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule
    share_memory state_dict to to_empty train type xpu zero_grad
    """.split()
)

# Parameter and buffer names that torch layers register themselves; a subclass of
# such a layer may assign plain tensors to them (they stay registered, or torch
# itself complains), so the registration rules leave these names alone there.
TORCH_OWNED_NAMES = frozenset(
    """
    _random_samples bias bias_hh bias_ih bias_k bias_v in_proj_bias in_proj_weight k_proj_weight
    num_batches_tracked pos_weight q_proj_weight running_mean running_var v_proj_weight weight weight_hh
    weight_ih
    """.split()
)
_TORCH_OWNED_RE = re.compile(r"^(weight|bias)_(ih|hh|hr)_l\d+(_reverse)?$")

# torch.* functions that build a new tensor from sizes or data.
TENSOR_FACTORIES = frozenset(
    "torch." + n
    for n in """
    tensor as_tensor asarray from_numpy frombuffer zeros ones empty full rand randn randint randperm
    arange range linspace logspace eye zeros_like ones_like empty_like full_like rand_like randn_like
    randint_like empty_strided normal bernoulli multinomial poisson tril_indices triu_indices
    complex polar sparse_coo_tensor
    """.split()
)

# torch.* functions that return a tensor when given one (used to follow values:
# ``torch.tril(torch.ones(n, n))`` is a tensor).
TENSOR_FUNCTIONS = frozenset(
    "torch." + n
    for n in """
    tril triu exp log log1p sqrt rsqrt abs neg sin cos tanh sigmoid clamp clip cat concat concatenate stack
    outer matmul mm bmm einsum flatten reshape transpose permute squeeze unsqueeze t diag diag_embed
    cumsum cumprod sum mean prod max min maximum minimum where pow floor ceil round sign repeat_interleave
    meshgrid cartesian_prod kron roll flip masked_fill clone detach reciprocal erf erfinv softmax
    log_softmax atan2 fmod remainder logical_not logical_and logical_or
    """.split()
)

# Tensor methods that return a tensor (so ``torch.zeros(3).cuda()`` is still a tensor).
TENSOR_METHODS = frozenset(
    """
    to cuda cpu float double half bfloat16 long int short bool byte char type type_as contiguous clone detach
    detach_ requires_grad_ view reshape view_as reshape_as unsqueeze squeeze t transpose permute expand
    expand_as repeat flatten unflatten mul mul_ add add_ sub sub_ div div_ pow exp log sqrt neg abs
    fill_ zero_ normal_ uniform_ random_ exponential_ bernoulli_ log_normal_ cauchy_ geometric_ copy_
    uniform normal clamp clamp_ tril triu sum mean cumsum pin_memory share_memory_ float_power
    masked_fill masked_fill_ unsqueeze_ squeeze_ numpy_ T mT narrow index_select
    """.split()
)

# Legacy typed constructors: torch.FloatTensor, torch.cuda.FloatTensor, ...
LEGACY_DTYPES = {
    "FloatTensor": "float32",
    "DoubleTensor": "float64",
    "HalfTensor": "float16",
    "BFloat16Tensor": "bfloat16",
    "ByteTensor": "uint8",
    "CharTensor": "int8",
    "ShortTensor": "int16",
    "IntTensor": "int32",
    "LongTensor": "int64",
    "BoolTensor": "bool",
}
LEGACY_CONSTRUCTORS = frozenset(
    [f"torch.{n}" for n in LEGACY_DTYPES] + [f"torch.cuda.{n}" for n in LEGACY_DTYPES]
)

# Values that are plainly not tensors when stored on self.
NON_TENSOR_TORCH_CALLS = frozenset(
    {"torch.device", "torch.dtype", "torch.Size", "torch.finfo", "torch.iinfo", "torch.Generator"}
)

_NN_PREFIXES = ("torch.nn.modules.", "torch.nn.parameter.")


@functools.lru_cache(maxsize=4096)
def canonical(qualified: str | None) -> str | None:
    """Map alternate spellings of torch names to one: ``torch.nn.modules.conv.Conv2d``
    and ``torch.nn.parameter.Parameter`` become ``torch.nn.Conv2d`` / ``torch.nn.Parameter``."""
    if qualified is None:
        return None
    if qualified.startswith(_NN_PREFIXES):
        last = qualified.rsplit(".", 1)[-1]
        if last in TORCH_NN_MODULES or f"torch.nn.{last}" in PARAMETER_CLASSES | BUFFER_CLASSES:
            return f"torch.nn.{last}"
    return qualified


@functools.lru_cache(maxsize=4096)
def is_torch_module_class(qualified: str | None) -> bool:
    """A class exported by torch.nn that is an nn.Module (Module itself included)."""
    q = canonical(qualified)
    # bool(q) rules out None, which mypy does not narrow through
    return bool(q) and q.startswith("torch.nn.") and q.count(".") == 2 and q.rsplit(".", 1)[1] in TORCH_NN_MODULES  # type: ignore[union-attr]


def is_torch_owned_name(name: str) -> bool:
    return name in TORCH_OWNED_NAMES or bool(_TORCH_OWNED_RE.match(name))


def legacy_dtype(qualified: str | None) -> tuple[str, bool] | None:
    """``torch.cuda.LongTensor`` -> ("int64", True); None for anything else."""
    if qualified not in LEGACY_CONSTRUCTORS:
        return None
    last = qualified.rsplit(".", 1)[1]
    return LEGACY_DTYPES[last], qualified.startswith("torch.cuda.")

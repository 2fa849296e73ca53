"""What the shape interpreter knows of torch's tensor operations, keyed by qualified name.

One table, ``OPS``, maps each qualified name (``torch.Tensor.view``, ``torch.flatten``,
``torch.nn.functional.interpolate``) to an ``Op``: how the call's arguments bind (on a
tensor method, the tensor it is called on; for a function, its first argument or the
whole argument list) and a handler that computes the result with the shape functions
of ``ops/`` (one module per family). Layers have their own tables keyed the same way
(``torch.nn.Flatten`` ...: ``layers/spec.py``, built from one ``LayerSpec`` per family
module of ``layers/``), and a layer that is an op calls the op's shape function.

The interpreter asks ``lookup(name)`` for every call of a torch function and every
method called on a tensor; a name that is not here gives a tensor of unknown shape
(never an error).

Adding an op: write (or reuse) its shape function in its family's module of ``ops/`` (imported in
``ops/__init__.py``) with a test against
torch in ``tests/test_ops.py``, add an entry below with ``_add``, and give it an example
in ``tests/test_registry.py`` (the test fails for an entry without one, and runs every
example through the interpreter and through torch).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from torch_lsp.analysis import ops as O
from torch_lsp.analysis.shapes import Shape, _Unknown, is_dim
from torch_lsp.analysis.values import UNKNOWN, StarSizesV, TensorV, TupleV, _ShapeOf

# How a call binds: "method" (x.view(...): the tensor is the receiver), "first" (a
# function whose first argument is the tensor, as the method: torch.flatten(x, 1)),
# "args" (a function of its whole argument list: torch.cat, torch.matmul).
METHOD, FIRST, ARGS = "method", "first", "args"

Handler = Callable[..., Any]  # (interp, x, args, kwargs, node, frame, short name) -> value


@dataclass(frozen=True)
class Op:
    name: str  # qualified: torch.Tensor.view
    binds: str  # METHOD | FIRST | ARGS
    handler: Handler
    needs_shape: bool = True  # an unknown input shape gives an unknown output without asking


OPS: dict[str, Op] = {}


def lookup(name: str) -> Op | None:
    return OPS.get(name)


def _add(handler: Handler, methods: str = "", functions: str = "", functional: str = "", *,
         binds: str = FIRST, needs_shape: bool = True) -> None:
    """Register ``handler`` for ``torch.Tensor.<m>``, ``torch.<f>`` and
    ``torch.nn.functional.<g>`` of the space-separated names given."""
    for prefix, names, how in (("torch.Tensor.", methods, METHOD), ("torch.", functions, binds),
                               ("torch.nn.functional.", functional, binds)):
        for n in names.split():
            OPS[prefix + n] = Op(prefix + n, how, handler, needs_shape)


# ------------------------------------------------------------------ helpers


def _flat_sizes(args: list) -> list | None:
    """Sizes given as ``f(2, 3)`` or ``f((2, 3))``; None when not all are dimensions.
    A lone unknown argument may be a whole tuple (``x.view(shape)``): None."""
    if len(args) == 1 and isinstance(args[0], TupleV):
        args = list(args[0].items)
    elif len(args) == 1 and type(args[0]) is _ShapeOf:
        # `torch.zeros(input_shape)` with `input_shape = x.size()`, x's rank known since
        known = args[0].tensor.shape
        if known is None or known.prefix:
            return None
        args = list(known.dims)
    elif len(args) == 1 and isinstance(args[0], _Unknown):
        return None
    out = []
    for a in args:
        if is_dim(a):
            out.append(a)
        else:
            return None
    return out


def _arg(args: list, kwargs: dict, i: int, name: str, default: Any = None) -> Any:
    return args[i] if len(args) > i else kwargs.get(name, default)


def _items(v: Any) -> Any:
    return tuple(v.items) if isinstance(v, TupleV) else v


# ------------------------------------------------------------------ queries (no tensor out)


def _size(ix, x: TensorV, args, kwargs, node, frame, short):
    if args:
        return O.size(x.shape, args[0]) if isinstance(args[0], int) else UNKNOWN
    return ix._shape_tuple(x)


def _dim(ix, x: TensorV, args, kwargs, node, frame, short):
    s = x.shape
    return s.rank if s is not None and s.rank is not None else UNKNOWN


def _numel(ix, x: TensorV, args, kwargs, node, frame, short):
    return O.numel(x.shape)


def _python_value(ix, x, args, kwargs, node, frame, short):
    return UNKNOWN


def _backward(ix, x: TensorV, args, kwargs, node, frame, short):
    ix._backward(x, args, kwargs, node)
    return None


_add(_size, "size", needs_shape=False)
_add(_dim, "dim ndimension", needs_shape=False)
_add(_numel, "numel", "numel", needs_shape=False)
_add(_python_value, "item tolist", needs_shape=False)
_add(_backward, "backward", needs_shape=False)

# ------------------------------------------------------------------ same shape

# Elementwise and dtype/device ops that keep the shape (rank and sizes).
_SAME_METHODS = """
    abs add_ bfloat16 bool ceil clamp clamp_ clip clone contiguous cos cpu cuda detach div_ double erf exp exp_
    fill_ flip float floor frac half hardshrink int log log1p logit long masked_fill mul_ nan_to_num neg normal_
    prelu reciprocal relu relu_ requires_grad_ roll round rsqrt sigmoid sigmoid_ sign sin sqrt square sub_ tanh
    tanh_ to tril triu trunc type_as uniform_ zero_
"""
_SAME_FUNCTIONS = """
    abs alpha_dropout batch_norm ceil celu clamp clamp_ clip clone cos detach dropout dropout_ erf exp exp_
    feature_alpha_dropout fill_ flip floor frac group_norm hardshrink instance_norm layer_norm log log1p logit
    masked_fill nan_to_num neg prelu reciprocal relu relu_ roll round rrelu rsqrt selu sigmoid sigmoid_ sign sin sqrt
    square tanh tanh_ threshold tril triu trunc zero_
"""
_SAME_FUNCTIONAL = """
    alpha_dropout batch_norm celu dropout dropout1d dropout2d dropout3d elu feature_alpha_dropout gelu group_norm
    gumbel_softmax hardshrink hardsigmoid hardswish hardtanh instance_norm layer_norm leaky_relu local_response_norm
    logsigmoid mish prelu relu relu6 relu_ rrelu selu sigmoid silu softplus softshrink softsign tanh tanhshrink
    threshold
"""


def _same(ix, x: TensorV, args, kwargs, node, frame, short):
    if short in ("clamp", "clip", "clamp_") and any(
            isinstance(a, TensorV) for a in list(args) + list(kwargs.values())):
        return TensorV(None, x.origin)  # tensor bounds broadcast
    return TensorV(x.shape, x.origin)


_add(_same, _SAME_METHODS, _SAME_FUNCTIONS, _SAME_FUNCTIONAL, needs_shape=False)


def _type(ix, x: TensorV, args, kwargs, node, frame, short):
    """``x.type(torch.float16)``: the same shape; ``x.type()`` is a string."""
    if not args and "dtype" not in kwargs:
        return UNKNOWN
    return TensorV(x.shape, x.origin)


_add(_type, "type", needs_shape=False)


def _sdpa(ix, x: TensorV | None, args, kwargs, node, frame, short):
    """``F.scaled_dot_product_attention(q, k, v)``: ``[..., L, Ev]`` (the query's
    shape with the value's last dimension), for a run that succeeds."""
    q = kwargs.get("query", args[0] if args else None)
    k = kwargs.get("key", args[1] if len(args) > 1 else None)
    v = kwargs.get("value", args[2] if len(args) > 2 else None)
    if (isinstance(q, TensorV) and isinstance(k, TensorV) and isinstance(v, TensorV) and kwargs.get("enable_gqa") in (None, False)
            and q.shape is not None and k.shape is not None and v.shape is not None):
        # what every backend computes: (q @ k^T) @ v, with matmul's broadcasting of the
        # batch dims; where that fails, sdpa fails too (checked on torch 2.13). With
        # enable_gqa the heads may differ: not checked.
        kt = O.transpose(k.shape, -2, -1).out
        scores = ix._tensor_op("matmul", O.matmul, (q.shape, kt), [q, k], node, frame, "matmul")
        if type(scores) is TensorV and scores.failed:
            return scores
        if type(scores) is TensorV and scores.shape is not None:
            out = ix._tensor_op("matmul", O.matmul, (scores.shape, v.shape), [scores, v], node, frame, "matmul")
            if type(out) is TensorV and out.failed:
                return out
    if not (isinstance(q, TensorV) and isinstance(v, TensorV) and q.shape is not None and v.shape is not None
            and len(q.shape.dims) >= 2 and v.shape.dims):
        return TensorV(None)
    return TensorV(Shape(q.shape.dims[:-1] + (v.shape.dims[-1],), q.shape.prefix))


_add(_sdpa, "", "", "scaled_dot_product_attention", binds=ARGS, needs_shape=False)


def _along_dim(ix, x: TensorV, args, kwargs, node, frame, short):
    """softmax, log_softmax, softmin, cumsum, cumprod, normalize: the shape, with the
    dim in range."""
    dim = _arg(args, kwargs, 0, "dim")
    if x.shape is None or dim is None or not isinstance(dim, int):
        return TensorV(x.shape, x.origin)
    return ix._op_result(O.softmax, (x.shape, dim), node, x.origin, frame)


_add(_along_dim, "softmax log_softmax cumsum cumprod", "softmax log_softmax cumsum cumprod",
     "softmax log_softmax softmin", needs_shape=False)
OPS["torch.nn.functional.normalize"] = Op("torch.nn.functional.normalize", FIRST,
                                          lambda ix, x, a, k, n, f, short: _along_dim(ix, x, a[1:2], {"dim": k.get("dim", 1)}, n, f, short),
                                          needs_shape=False)

# ------------------------------------------------------------------ reshaping


def _reshape(ix, x: TensorV, args, kwargs, node, frame, short):
    star = args[0] if len(args) == 1 else kwargs.get("shape") if not args else None
    if type(star) is StarSizesV:  # `x.view(*y.shape[:-1], -1, d)`
        if x.shape is None:
            return ix._wrap_output(O.reshape_star(None, star.lead, star.items).out, x.origin)
        return ix._tensor_op("view", O.reshape_star, (x.shape, star.lead, star.items), [x], node, frame, "reshape",
                             flatten_sizes=star.items)
    sizes = _flat_sizes(args) if args else _flat_sizes([kwargs["shape"]]) if "shape" in kwargs else None
    if not sizes:
        return TensorV(None)
    if x.shape is None:
        # the input's shape is not known: a run that succeeds has the sizes asked for
        # (-1: not known), and no more than one -1
        if sum(1 for d in sizes if type(d) is int and d == -1) > 1 or any(type(d) is int and d < -1 for d in sizes):
            return TensorV(None, x.origin)
        return TensorV(Shape(tuple(UNKNOWN if type(d) is int and d == -1 else d for d in sizes)), x.origin)
    return ix._tensor_op("view", O.reshape, (x.shape, sizes), [x], node, frame, "reshape", flatten_sizes=sizes)


def _flatten(ix, x: TensorV, args, kwargs, node, frame, short):
    start = _arg(args, kwargs, 0, "start_dim", 0)
    end = _arg(args, kwargs, 1, "end_dim", -1)
    return ix._tensor_op("flatten", O.flatten, (x.shape, start, end), [x], node, frame, None,
                         flatten_sizes=("flatten", start, end))


def _unflatten(ix, x: TensorV, args, kwargs, node, frame, short):
    dim = _arg(args, kwargs, 0, "dim")
    sizes = _items(_arg(args, kwargs, 1, "sizes"))
    if dim is None or sizes is None:
        return TensorV(None)
    return ix._tensor_op("unflatten", O.unflatten, (x.shape, dim, sizes), [x], node, frame, "reshape")


def _permute(ix, x: TensorV, args, kwargs, node, frame, short):
    dims = _flat_sizes(args if args else [kwargs.get("dims")])
    return ix._op_result(O.permute, (x.shape, tuple(dims)), node, x.origin, frame) if dims else TensorV(None)


def _transpose(ix, x: TensorV, args, kwargs, node, frame, short):
    a, b = _arg(args, kwargs, 0, "dim0"), _arg(args, kwargs, 1, "dim1")
    if a is None or b is None:
        return TensorV(None)
    return ix._op_result(O.transpose, (x.shape, a, b), node, x.origin, frame)


def _t(ix, x: TensorV, args, kwargs, node, frame, short):
    return ix._op_result(O.t, (x.shape,), node, x.origin, frame)


def _unsqueeze(ix, x: TensorV, args, kwargs, node, frame, short):
    return ix._op_result(O.unsqueeze, (x.shape, _arg(args, kwargs, 0, "dim", UNKNOWN)), node, x.origin, frame)


def _squeeze(ix, x: TensorV, args, kwargs, node, frame, short):
    return ix._op_result(O.squeeze, (x.shape, _items(_arg(args, kwargs, 0, "dim"))), node, x.origin, frame)


def _expand(ix, x: TensorV, args, kwargs, node, frame, short):
    sizes = _flat_sizes(args)
    return ix._op_result(O.expand, (x.shape, tuple(sizes)), node, x.origin, frame) if sizes else TensorV(None)


def _repeat(ix, x: TensorV, args, kwargs, node, frame, short):
    sizes = _flat_sizes(args)
    return ix._op_result(O.repeat, (x.shape, tuple(sizes)), node, x.origin, frame) if sizes else TensorV(None)


def _chunk(ix, x: TensorV, args, kwargs, node, frame, short):
    n = _arg(args, kwargs, 0, "chunks", UNKNOWN)
    return ix._op_result(O.chunk, (x.shape, n, _arg(args, kwargs, 1, "dim", 0)), node, x.origin, frame)


def _split(ix, x: TensorV, args, kwargs, node, frame, short):
    n = _items(_arg(args, kwargs, 0, "split_size_or_sections", kwargs.get("split_size", UNKNOWN)))
    return ix._op_result(O.split, (x.shape, n, _arg(args, kwargs, 1, "dim", 0)), node, x.origin, frame)


_add(_reshape, "view reshape", "reshape", needs_shape=False)
_add(_flatten, "flatten", "flatten")
_add(_unflatten, "unflatten", "unflatten")
_add(_permute, "permute", "permute")
_add(_transpose, "transpose swapaxes swapdims", "transpose swapaxes swapdims")
_add(_t, "t", "t")
_add(_unsqueeze, "unsqueeze", "unsqueeze")
_add(_squeeze, "squeeze", "squeeze")
_add(_expand, "expand")
_add(_repeat, "repeat")
_add(_chunk, "chunk", "chunk")
_add(_split, "split", "split")

# ------------------------------------------------------------------ reductions


def _reduce(ix, x: TensorV, args, kwargs, node, frame, short):
    dim = _items(_arg(args, kwargs, 0, "dim"))
    if isinstance(dim, TensorV):
        return TensorV(None)  # torch.max(a, b): elementwise, not a reduction
    keep = kwargs.get("keepdim", args[1] if len(args) > 1 and isinstance(args[1], bool) else False)
    if short in ("max", "min", "median") and dim is not None:
        out = ix._op_result(O.reduce, (x.shape, dim, keep), node, x.origin, frame)
        return TupleV((out, TensorV(out.shape if isinstance(out, TensorV) else None)))
    return ix._op_result(O.reduce, (x.shape, dim, keep), node, x.origin, frame)


def _argmax(ix, x: TensorV, args, kwargs, node, frame, short):
    keep = kwargs.get("keepdim", args[1] if len(args) > 1 and isinstance(args[1], bool) else False)
    return ix._op_result(O.argmax, (x.shape, _arg(args, kwargs, 0, "dim"), keep), node, x.origin, frame)


_REDUCE = "all amax amin any count_nonzero logsumexp max mean median min nanmean nansum norm prod std sum var"
_add(_reduce, _REDUCE, _REDUCE)
_add(_argmax, "argmax argmin", "argmax argmin")

# ------------------------------------------------------------------ two tensors


def _elementwise(ix, x: TensorV, args, kwargs, node, frame, short):
    other = _arg(args, kwargs, 0, "other")
    if isinstance(other, TensorV):
        return ix._tensor_op("broadcast", O.broadcast, (x.shape, other.shape), [x, other], node, frame, "broadcast")
    return TensorV(x.shape, x.origin)


_BINARY = """
    add atan2 bitwise_and bitwise_or div eq floor_divide fmod ge gt hypot le logical_and logical_or logical_xor lt
    maximum minimum mul ne pow remainder sub true_divide
"""
_add(_elementwise, _BINARY, _BINARY, needs_shape=False)


def _product(fn: Callable) -> Handler:
    def handler(ix, x: TensorV, args, kwargs, node, frame, short):
        other = _arg(args, kwargs, 0, "other", kwargs.get("mat2"))
        if not isinstance(other, TensorV):
            return TensorV(None)
        return ix._tensor_op(short, fn, (x.shape, other.shape), [x, other], node, frame, "matmul")
    return handler


_add(_product(O.matmul), "matmul", "matmul", needs_shape=False)
_add(_product(O.mm), "mm", "mm", needs_shape=False)
_add(_product(O.bmm), "bmm", "bmm", needs_shape=False)
_add(_product(O.linear), "", "", "linear", needs_shape=False)


def _cat(fn: Callable, name: str) -> Handler:
    def handler(ix, x, args, kwargs, node, frame, short):
        seq = _arg(args, kwargs, 0, "tensors")
        if not isinstance(seq, TupleV):
            return TensorV(None)
        items = seq.items
        if not items or not all(isinstance(t, TensorV) for t in items):
            return TensorV(None)  # an empty list literal is usually filled later
        dim = _arg(args, kwargs, 1, "dim", 0)
        return ix._tensor_op(name, fn, ([t.shape for t in items], dim), list(items), node, frame, "concat")
    return handler


_add(_cat(O.cat, "cat"), "", "cat concat concatenate", binds=ARGS, needs_shape=False)
_add(_cat(O.stack, "stack"), "", "stack", binds=ARGS, needs_shape=False)


def _einsum(ix, x, args, kwargs, node, frame, short):
    if not args or not isinstance(args[0], str):
        return TensorV(None)
    operands = list(args[1:])
    if len(operands) == 1 and isinstance(operands[0], TupleV):
        operands = list(operands[0].items)
    if not all(isinstance(t, TensorV) for t in operands):
        return TensorV(None)
    return ix._tensor_op("einsum", O.einsum, (args[0], [t.shape for t in operands]), operands, node, frame, "matmul")


_add(_einsum, "", "einsum", binds=ARGS, needs_shape=False)


def _broadcast_shapes(ix, x, args, kwargs, node, frame, short):
    """``torch.where(cond, a, b)``: the broadcast of the three (a Python number is a 0-d
    tensor for this)."""
    if len(args) != 3:
        return TensorV(None)  # where(cond) gives indices
    shapes = [a.shape if isinstance(a, TensorV) else (Shape(()) if isinstance(a, (int, float)) else None) for a in args]
    res = O.broadcast_shapes(shapes)
    return TensorV(res.out if res.error is None else None)


_add(_broadcast_shapes, "", "where", binds=ARGS, needs_shape=False)


def _gather(ix, x: TensorV | None, args, kwargs, node, frame, short):
    """``x.gather(dim, index)``, ``torch.gather(x, dim, index)``,
    ``torch.take_along_dim(x, index, dim)``: the index's shape (a run that succeeds)."""
    rest = list(args) if x is not None else list(args[1:])  # the arguments after the input
    if short == "gather":
        index = kwargs.get("index", rest[1] if len(rest) > 1 else None)
    else:
        index = kwargs.get("indices", rest[0] if rest else None)
        if kwargs.get("dim", rest[1] if len(rest) > 1 else None) is None:
            return TensorV(None)  # no dim: the result is flat
    return TensorV(index.shape if isinstance(index, TensorV) else None)


_add(_gather, "gather take_along_dim", "gather take_along_dim", binds=ARGS, needs_shape=False)

# ------------------------------------------------------------------ new tensors


def _new(ix, x: TensorV, args, kwargs, node, frame, short):
    sizes = _flat_sizes(args[:1] if short == "new_full" else args)
    if sizes is None or not all(is_dim(d) for d in sizes):
        return TensorV(None)
    res = O.new_shape(tuple(sizes))
    # new_shape's Result holds a Shape or None (a tuple output is only for ops with several outputs)
    return TensorV(res.out if res.error is None else None)  # type: ignore[arg-type]


_add(_new, "new_zeros new_ones new_empty new_full", needs_shape=False)

# ------------------------------------------------------------------ resampling and padding


def _interpolate(ix, x: TensorV, args, kwargs, node, frame, short):
    size = _items(_arg(args, kwargs, 0, "size"))
    scale = _items(_arg(args, kwargs, 1, "scale_factor"))
    mode = _arg(args, kwargs, 2, "mode", "nearest")
    return ix._op_result(lambda s_, z_, f_: O.interpolate(s_, size=z_, scale_factor=f_, mode=mode), (x.shape, size, scale),
                         node, x.origin, frame)


def _pad(ix, x: TensorV, args, kwargs, node, frame, short):
    pads = _arg(args, kwargs, 0, "pad")
    if not isinstance(pads, TupleV):
        return TensorV(None)
    mode = _arg(args, kwargs, 1, "mode", "constant")
    return ix._op_result(lambda s_, p_: O.pad(s_, p_, mode), (x.shape, tuple(pads.items)), node, x.origin, frame)


_add(_interpolate, "", "", "interpolate upsample")
_add(_pad, "", "", "pad")

# ------------------------------------------------------------------ functional layers and losses


def _functional_layer(ix, x: TensorV, args, kwargs, node, frame, short):
    return ix._functional_layer(x, short, args, kwargs, node, frame)


_POOLS = " ".join(f"{k}_pool{n}d" for k in ("max", "avg", "adaptive_avg", "adaptive_max") for n in (1, 2, 3))
# (torch.* has only some of the pools under its own name; torch.embedding takes the weight first)
_add(_functional_layer, "", "conv1d conv2d conv3d max_pool1d max_pool2d max_pool3d avg_pool1d adaptive_avg_pool1d "
     "adaptive_max_pool1d pixel_shuffle pixel_unshuffle", "conv1d conv2d conv3d " + _POOLS + " pixel_shuffle pixel_unshuffle embedding")


def _loss(ix, x, args, kwargs, node, frame, short):
    return ix._loss(short, kwargs.get("reduction", "mean"), list(args), kwargs, node)


_add(_loss, "", "", """binary_cross_entropy binary_cross_entropy_with_logits cross_entropy huber_loss kl_div l1_loss
     mse_loss nll_loss smooth_l1_loss""", binds=ARGS, needs_shape=False)

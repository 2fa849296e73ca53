"""Shape functions for tensor operations (``@``, ``view``, ``cat``, indexing, ...).

Every function takes shapes (``Shape`` or ``None`` for an unknown shape) and abstract
argument values (see ``shape_types``) and returns a ``Result``: the output shape (a
``Shape``, ``None``, or a tuple of those for ``chunk``/``split``) and at most one
``ShapeError``. An error is reported only when the call provably raises in torch;
anything undecided gives an unknown part of the output, never an error.

Error kinds: "matmul" (TL205, also for ``mm``/``bmm`` rank errors), "broadcast"
(TL206), "reshape" (TL207), "concat" (TL208), "einsum", "rank" (a dimension index
out of range, a wrong number of dimensions), "index" (indexing), "target" (a loss
whose target cannot go with its input), "config" (an argument that can never work:
a negative size, a zero step).

This package never imports torch. One module per family of operations; every name is
imported here, so ``ops.matmul`` and ``from torch_lsp.analysis.ops import reshape`` work
as before.
"""
from __future__ import annotations

from torch_lsp.analysis.ops._common import (  # noqa: F401
    _Pos,
    _clean,
    _fail,
    _fmt,
    _fmt_sizes,
    _is_int,
    _items,
    _le,
    _locate,
    _meet,
    _mk,
    _nonneg,
    _not_one,
    _range_error,
    _sizes_arg,
    _wrap,
    is_scalar,
    normalize_dim,
    numel,
    size,
)
from torch_lsp.analysis.ops.broadcast import (  # noqa: F401
    _bcast_dim,
    _bcast_message,
    _broadcast_raw,
    broadcast,
    broadcast_shapes,
)
from torch_lsp.analysis.ops.matmul import (  # noqa: F401
    _fit_operands,
    _fit_rank,
    _mat_str,
    _rank_str,
    bmm,
    linear,
    matmul,
    mm,
)
from torch_lsp.analysis.ops.reshape import (  # noqa: F401
    _mono_div,
    _not_divisible,
    exact_div,
    expand,
    flatten,
    mT,
    permute,
    repeat,
    reshape,
    reshape_star,
    squeeze,
    t,
    transpose,
    unflatten,
    unsqueeze,
    view,
)
from torch_lsp.analysis.ops.concat import (  # noqa: F401
    _fold_meet,
    _replace,
    cat,
    chunk,
    split,
    stack,
)
from torch_lsp.analysis.ops.einsum import (  # noqa: F401
    _parse_term,
    einsum,
)
from torch_lsp.analysis.ops.reductions import (  # noqa: F401
    _reduce_known,
    argmax,
    reduce,
    softmax,
)
from torch_lsp.analysis.ops.indexing import (  # noqa: F401
    _Item,
    _classify,
    _flat_ints,
    _nested_shape,
    _piece,
    _slice_len,
    index,
)
from torch_lsp.analysis.ops.resize import (  # noqa: F401
    MODE_RANK,
    _scaled,
    interpolate,
    pad,
)
from torch_lsp.analysis.ops.factories import (  # noqa: F401
    _num,
    arange_shape,
    eye_shape,
    factory_shape,
    like_shape,
    new_shape,
)
from torch_lsp.analysis.ops.losses import (  # noqa: F401
    _CLASS_LOSSES,
    _ELEMENTWISE_LOSSES,
    _SAME_SIZE_LOSSES,
    _class_loss,
    loss_output,
    loss_output_for,
)

__all__ = [
    "normalize_dim", "size", "numel", "is_scalar",
    "broadcast", "broadcast_shapes", "matmul", "mm", "bmm", "linear", "exact_div",
    "reshape", "view", "flatten", "unflatten", "permute", "transpose", "t", "mT",
    "unsqueeze", "squeeze", "expand", "repeat", "chunk", "split", "cat", "stack", "einsum",
    "reduce", "argmax", "softmax", "index", "interpolate", "pad",
    "factory_shape", "arange_shape", "eye_shape", "like_shape", "new_shape",
    "loss_output", "loss_output_for",
]

"""Types shared by the shape transfer functions (``layers``, ``ops``) and the
abstract interpreter that calls them.

Argument values handed to transfer functions are *abstract values*:

- a dimension (``int``, ``Sym``, or ``UNKNOWN``) for integer arguments;
- ``float``, ``bool``, ``str``, ``None`` when the source says so literally;
- a ``tuple`` of abstract values for tuple/list arguments (``kernel_size=(3, 3)``);
- ``UNKNOWN`` for anything the interpreter could not pin down (a transfer
  function must then answer "unknown", never guess).

A transfer function returns a ``Result``: an output (a ``Shape``, ``None`` for an
unknown shape, or a tuple of those for tuple outputs such as LSTM's) and at most
one ``ShapeError`` when the input provably cannot be taken. Errors are reported only
when provable with ``dim_eq``/``dim_ne``/``dim_sign``; undecided means no error.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from torch_lsp.analysis.shapes import Dim, Shape

Output = Union[Shape, None, tuple]


@dataclass(frozen=True)
class ShapeError:
    """Why a layer or op cannot take its input, in terms the interpreter can place.

    kind:
      - "features": the last dimension is wrong for a layer that reads it (Linear,
        LayerNorm, MultiheadAttention, Bilinear, Embedding-free ...): TL201
      - "channels": the channel dimension is wrong (conv, norms): TL202
      - "rank": wrong number of dimensions for the layer/op
      - "spatial": a spatial size shrinks to < 1 or is smaller than the kernel: TL209
      - "config": the layer's own arguments can never work (embed_dim % num_heads): TL209
      - "matmul", "broadcast", "reshape", "concat": op errors: TL205..TL208
    message: what goes wrong at run time, without locations, e.g.
      "expects 256 input features, but receives 400".
    param: the constructor parameter to change for a layer mismatch ("in_features",
      "in_channels", "normalized_shape", "embed_dim", "num_features"), else None.
    expected: the value that ``param`` should have to accept this input (for the fix).
    got / want: the offending sizes (for messages), when meaningful.
    """

    kind: str
    message: str
    param: str | None = None
    expected: Any = None
    got: Any = None
    want: Any = None


@dataclass(frozen=True)
class Result:
    out: Output = None
    error: ShapeError | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)  # how the shape was derived, for hovers

    @staticmethod
    def unknown() -> "Result":
        return Result(None)

    @staticmethod
    def fail(kind: str, message: str, **kw: Any) -> "Result":
        return Result(None, ShapeError(kind, message, **kw))


@dataclass
class Layer:
    """A torch layer with its constructor arguments bound to parameter names
    (defaults filled in). ``cls`` is the canonical name, e.g. ``torch.nn.Conv2d``."""

    cls: str
    params: dict[str, Any]

    @property
    def short(self) -> str:
        return self.cls.rsplit(".", 1)[-1]

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)


Value = Any  # an abstract value as described in the module docstring
DimLike = Dim

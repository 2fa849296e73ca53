"""What the shape interpreter hands the rules when something fails: a neutral
``ShapeProblem`` (what failed, where, the sizes, the layer and the input it had) and a
``ShapeSite``, the few questions a rule may ask the analysis about the code around it
(the source text of a node, whether it runs in a loop, a symbol's concrete value).

The analysis knows no rule codes. The rules' ``FindingBuilder`` (``rules/
shape_findings.py``, named by ``context.FINDINGS_MODULE``) decides whether a problem is
reported, by which rule, with what message, where, and which fixes, and returns a
``Finding`` (or None: no finding, the run goes on as if the problem were not there).
"""
from __future__ import annotations

import ast
import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from torch_lsp.analysis.context import FileContext
    from torch_lsp.analysis.interp_support import Finding, Frame
    from torch_lsp.analysis.shape_types import Layer, ShapeError
    from torch_lsp.analysis.values import LayerV, TensorV


class ProblemKind(enum.Enum):
    LAYER_INPUT = "layer input"  # a layer cannot take the tensor it is called with
    LAYER_CONFIG = "layer config"  # a layer's constructor arguments can never work
    OPERATION = "operation"  # a tensor operation fails on its operands
    NON_SCALAR_BACKWARD = "non-scalar backward"  # backward() without gradient on a tensor of more than one element


@dataclass(frozen=True)
class ShapeProblem:
    kind: ProblemKind
    node: ast.AST  # where it fails: the layer call, the constructor call, the operation, the backward() call
    err: ShapeError | None = None  # what failed, with the sizes (None for NON_SCALAR_BACKWARD)
    frame: Frame | None = None  # the frame it failed in (its symbols, the call site that set them)
    layer: LayerV | None = None  # LAYER_INPUT: the layer called, with where it was built
    config: Layer | None = None  # LAYER_CONFIG: the layer's bound arguments
    tensor: TensorV | None = None  # LAYER_INPUT: the input; NON_SCALAR_BACKWARD: the tensor; with its origin
    family: str | None = None  # OPERATION: matmul, broadcast, reshape or concat
    operands: tuple = ()  # OPERATION: the operation's operands


class ShapeSite(Protocol):
    """What a finding builder may ask of the analysis at the place of a problem."""

    ctx: FileContext  # the file being checked
    src: Any  # the SourceFile whose code is running (another file's, while following it)

    def seg(self, node: ast.AST) -> str:
        """The source text of ``node`` in the running file."""
        ...

    def in_loop(self, node: ast.AST) -> bool:
        """``node`` is evaluated once per iteration of a loop."""
        ...

    def concrete(self, d: Any, frame: Frame) -> Any:
        """A symbolic size with the frame's known arguments put in."""
        ...

    @property
    def outermost_init(self) -> ast.AST | None:
        """The ``__init__`` of the outermost module being analysed (its parameters
        name the symbols), if any."""
        ...


class FindingBuilder(Protocol):
    """Turns a problem into a finding: which rule, the message, where it goes, the fixes."""

    def finding(self, site: ShapeSite, problem: ShapeProblem) -> Finding | None: ...

    def foreign_finding(self, site: ShapeSite, f: Finding, entry: ast.AST, target: Any) -> Finding | None:
        """A finding inside code of another file that only this file's values cause,
        reported at ``entry`` (the call in this file that runs that code)."""
        ...


class NoFindings:
    """No rule plugged in: shapes are found, nothing is reported."""

    def finding(self, site: ShapeSite, problem: ShapeProblem) -> None:
        return None

    def foreign_finding(self, site: ShapeSite, f: Finding, entry: ast.AST, target: Any) -> None:
        return None


def finding_builder() -> FindingBuilder:
    import importlib
    from typing import cast

    from torch_lsp.analysis import context

    name = context.FINDINGS_MODULE
    return cast(FindingBuilder, importlib.import_module(name)) if name else NoFindings()

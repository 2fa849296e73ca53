"""Cheap queries over one file's shape analysis, for hovers and inlay hints.

The interpreter records the value of every tensor expression and assignment target
it evaluates (``ShapeIndex``); this module answers "what is at line L, column C" by
a binary search over those nodes' ranges (built once per analysis), and lists the
shapes after each assignment for inlay hints.
"""
from __future__ import annotations

import ast
import bisect
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from torch_lsp.strict import swallowed
from torch_lsp.analysis.interpreter import LayerV, Origin, TensorV
from torch_lsp.analysis.shapes import shape_str
from torch_lsp.analysis.summary import _out_str


@dataclass(frozen=True)
class ShapeInfo:
    """What a hover shows for an expression."""

    text: str  # "Tensor[B, 16, 15, 15]"
    shape: Any
    origin: str  # "from self.conv1 (line 20)"
    line: int  # 0-based start of the expression
    col: int
    end_line: int
    end_col: int


@dataclass(frozen=True)
class LayerInfo:
    """What a hover shows for a layer."""

    label: str  # "self.fc1"
    signature: str  # "Linear(400 → 120)"
    params: dict  # "weight" -> "[120, 400]"
    expects: str  # "[*, 400]" (empty when the layer takes anything)
    calls: list  # (analysis: "call at line 41" / "generic", input, output, error)
    line: int
    col: int
    end_line: int
    end_col: int


class ShapeQuery:
    def __init__(self, ctx: Any):
        self.ctx = ctx
        self.interp = ctx.shapes

    def _recorded(self, kind: type) -> list[tuple[tuple[int, int], tuple[int, int], ast.AST, Any]]:
        """(start, end, node, value) of the recorded expressions of one value type, by start."""
        out: list[tuple[tuple[int, int], tuple[int, int], ast.AST, Any]] = []
        if self.interp is None:
            return out
        for node, value in self.interp.shape_index().by_node.values():
            if isinstance(value, kind) and hasattr(node, "lineno"):
                r = self.ctx.src.range_of(node)
                out.append(((r.start.line, r.start.character), (r.end.line, r.end.character), node, value))
        out.sort(key=lambda e: e[0])
        return out

    @cached_property
    def _entries(self) -> list[tuple[tuple[int, int], tuple[int, int], ast.AST, Any]]:
        return self._recorded(TensorV)

    def at(self, line: int, col: int) -> ShapeInfo | None:
        """The innermost recorded tensor expression containing the 0-based position."""
        entries = self._entries
        pos = (line, col)
        i = bisect.bisect_right([e[0] for e in entries], pos)
        best = None
        for start, end, node, value in reversed(entries[:i]):
            if start <= pos <= end:
                if best is None or (start >= best[0] and end <= best[1]):
                    best = (start, end, node, value)
            if start[0] < line - 200:
                break
        if best is None:
            return None
        start, end, node, value = best
        return ShapeInfo(f"Tensor{shape_str(value.shape)}" if value.shape is not None else "Tensor (shape unknown)",
                         value.shape, describe_origin(value.origin), start[0], start[1], end[0], end[1])

    @cached_property
    def _layer_entries(self) -> list[tuple[tuple[int, int], tuple[int, int], ast.AST, Any]]:
        return self._recorded(LayerV)

    def layer_at(self, line: int, col: int) -> "LayerInfo | None":
        """The torch layer at a 0-based position (``self.fc1`` in ``forward``, its
        ``nn.Linear(...)`` constructor): signature, parameter shapes, the input it
        expects, and the shapes it was called with (and by which analysis)."""
        from torch_lsp.analysis import layers as L

        pos = (line, col)
        best = None
        for start, end, node, value in self._layer_entries:
            if start <= pos <= end and (best is None or (start >= best[0] and end <= best[1])):
                best = (start, end, node, value)
        if best is None:
            return None
        mod = best[3]
        calls = []
        for cls_runs in self.interp.layer_calls.values():
            for key, runs in cls_runs.items():
                for call in runs:
                    if call.mod is mod:
                        calls.append((str(key), shape_str(call.shape_in), _out_str(call.out), call.error))
        try:
            signature = L.signature(mod.layer)
            params = {k: shape_str(v) for k, v in L.param_shapes(mod.layer).items()}
            expected = L.expected_input(mod.layer)
        except Exception:
            swallowed()
            signature, params, expected = mod.layer.short, {}, None
        r = self.ctx.src.range_of(best[2])
        return LayerInfo(mod.label or f"nn.{mod.layer.short}", signature, params,
                         shape_str(expected) if expected is not None else "", calls,
                         r.start.line, r.start.character, r.end.line, r.end.character)

    def assignment_hints(self) -> list[tuple[int, int, str]]:
        """(0-based line, column after the statement, shape text) for each assignment of a
        tensor to a name whose shape is at least partly known."""
        hints = []
        for start, end, node, value in self._entries:
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and value.shape is not None:
                hints.append((start[0], end[1], shape_str(value.shape)))
        return hints


def describe_origin(o: Origin | None) -> str:
    if o is None:
        return ""
    line = getattr(o.node, "lineno", None)
    where = f" (line {line})" if line else ""
    if o.what == "call site":
        return f"input given at line {line}"
    if o.what in ("layer", "op", "flatten", "factory"):
        return f"from `{o.label}`{where}"
    if o.what == "annotation":
        return f"from {o.label}"
    return ""

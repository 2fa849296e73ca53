"""A static model summary (torchinfo's table, without running anything).

For each ``nn.Module`` class of a file: the layers its ``forward`` calls, in order,
with input shape, output shape and parameter count. When the file constructs and
calls the model, the first such call site's shapes and arguments are used; else the
class's own analysis (symbolic constructor arguments, inputs as far as the first
layers pin them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch_lsp.analysis.shapes import Shape, dim_str, shape_str


@dataclass
class Row:
    layer: str  # "self.conv1" / "block.fc"
    kind: str  # "Conv2d(3 → 16, kernel 5×5)"
    input: str
    output: str
    params: str
    error: str = ""  # why the layer cannot take this input (a diagnostic says where)


@dataclass
class ModelSummary:
    name: str
    line: int
    source: str  # "call at line 41" / "generic"
    rows: list[Row] = field(default_factory=list)
    total_params: str = "0"

    def to_json(self) -> dict:
        return {
            "class": self.name,
            "line": self.line,
            "shapes_from": self.source,
            "layers": [r.__dict__ for r in self.rows],
            "total_params": self.total_params,
        }


def _out_str(out: Any) -> str:
    if isinstance(out, tuple):
        return "(" + ", ".join(_out_str(o) for o in out) + ")"
    return shape_str(out) if isinstance(out, Shape) or out is None else "?"


def summarise(ctx: Any, only: str | None = None) -> list[ModelSummary]:
    from torch_lsp.analysis import layers as L

    interp = ctx.shapes
    out = []
    for info in ctx.model.module_classes():
        if info.ref.summary is not ctx.summary or (only and info.name != only):
            continue
        runs = interp.layer_calls.get(info.name, {}) if interp is not None else {}
        key = next((k for k in runs if k != "generic"), "generic" if "generic" in runs else None)
        summary = ModelSummary(info.name, info.node.lineno, key or "no forward analysed")
        total: Any = 0
        seen: set[int] = set()
        for call in runs.get(key, []) if key else []:
            layer = call.mod.layer
            try:
                count = L.param_count(layer)
                kind = L.signature(layer)
                if call.subst and interp is not None:  # the call site's arguments give numbers
                    from torch_lsp.analysis.interpreter import Frame

                    count = interp._conc_deep(count, Frame({}, None, call.subst))
            except Exception:
                count, kind = "?", layer.short
            if id(call.mod) not in seen:  # a layer called twice counts its parameters once
                seen.add(id(call.mod))
                total = total + count if count != "?" else total
            shape_in, shape_out = call.shape_in, call.out
            if call.subst and interp is not None:  # a call site: its values, not the symbols
                from torch_lsp.analysis.interpreter import Frame

                frame = Frame({}, None, call.subst)
                shape_in, shape_out = interp._conc_deep(shape_in, frame), interp._conc_deep(shape_out, frame)
            summary.rows.append(Row(call.label, kind, shape_str(shape_in), _out_str(shape_out),
                                    dim_str(count) if count != "?" else "?", call.error))
        summary.total_params = dim_str(total) if not isinstance(total, str) else total
        out.append(summary)
    return out


def render_table(summaries: list[ModelSummary]) -> str:
    lines = []
    for s in summaries:
        lines.append(f"{s.name} (line {s.line}; shapes from {s.source})")
        header = ("Layer", "Type", "Input", "Output", "Params")
        rows = [header] + [(("✗ " if r.error else "") + r.layer, r.kind, r.input, r.output, r.params) for r in s.rows]
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        sep = "  "
        lines.append(sep.join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
        lines.append(sep.join("-" * w for w in widths))
        for row in rows[1:]:
            lines.append(sep.join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if not s.rows:
            lines.append("(no layer calls found in forward)")
        lines.append(f"Total parameters: {s.total_params}")
        for r in s.rows:
            if r.error:
                lines.append(f"✗ {r.layer}: {r.error} (shapes after it assume the fix)")
        lines.append("")
    return "\n".join(lines)


def statement_shapes(ctx: Any) -> list[tuple[int, str, str]]:
    """(1-based line, source line, shapes assigned there) for every line of the file
    where a tensor is assigned to a name: the per-statement view of the analysis."""
    from torch_lsp.analysis.query import ShapeQuery

    by_line: dict[int, list[str]] = {}
    for line, _col, text in ShapeQuery(ctx).assignment_hints():
        by_line.setdefault(line, []).append(text)
    out = []
    for line in sorted(by_line):
        out.append((line + 1, ctx.src.line_text(line).rstrip("\r\n"), ", ".join(by_line[line])))
    return out

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

from torch_lsp.strict import swallowed
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
        summary = ModelSummary(info.name, info.node.lineno, str(key) if key else "no forward analysed")
        for call in runs.get(key, []) if key else []:
            layer = call.mod.layer
            try:
                count = _at_site(interp, L.param_count(layer), call.subst)
                kind = L.signature(layer)
            except Exception:
                swallowed()
                count, kind = "?", layer.short
            # a call site: its values, not the symbols
            shape_in, shape_out = _at_site(interp, (call.shape_in, call.out), call.subst)
            summary.rows.append(Row(call.label, kind, shape_str(shape_in), _out_str(shape_out),
                                    dim_str(count) if count != "?" else "?", call.error))
        inst = interp.summary_instances.get(info.name, {}).get(key) if interp is not None and key else None
        total = _module_params(interp, inst, ctx, set()) if inst is not None else "?"
        if not isinstance(total, str) and key and key != "generic" and runs.get(key):
            total = _at_site(interp, total, runs[key][0].subst)
        summary.total_params = dim_str(total) if not isinstance(total, str) else total
        out.append(summary)
    return out


def _at_site(interp: Any, value: Any, subst: dict) -> Any:
    """``value`` with a call site's constructor arguments substituted for their symbols."""
    if not subst or interp is None:
        return value
    from torch_lsp.analysis.interpreter import Frame

    return interp._conc_deep(value, Frame({}, None, subst))


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


_COUNTED_KINDS = ("layer", "module container", "parameter", "parameter container", "unknown")


def _module_params(interp: Any, inst: Any, ctx: Any, seen: set) -> Any:
    """What ``sum(p.numel() for p in model.parameters())`` gives for an analysed
    instance: its layers, containers, sub-modules and ``nn.Parameter`` attributes,
    each counted once; "?" as soon as one of them is not known (a layer built by an
    unknown helper, a base class from another file whose ``__init__`` was not run)."""
    from torch_lsp.analysis import layers as L
    from torch_lsp.analysis.interpreter import InstanceV, LayerV, SeqV, TensorV, TupleV
    from torch_lsp.analysis.shapes import _Unknown

    if id(inst) in seen:
        return 0
    seen.add(id(inst))
    info = inst.cls
    for base in getattr(info, "user_bases", []):
        if getattr(base, "summary", None) is not ctx.summary:
            return "?"
    kinds: dict[str, set[str]] = {}
    for a in getattr(info, "assignments", []):
        kinds.setdefault(a.name, set()).add(a.value.kind.value if a.value is not None else "unknown")

    def count(v: Any, name: str | None) -> Any:
        if isinstance(v, LayerV):
            if id(v) in seen:
                return 0
            seen.add(id(v))
            try:
                return L.param_count(v.layer)
            except Exception:
                swallowed()
                return "?"
        if isinstance(v, SeqV):
            if id(v) in seen:
                return 0
            seen.add(id(v))
            if v.items is None:
                return "?"
            items = [x for _, x in v.items] if v.kind == "dict" else list(v.items)
            return _add(count(x, None) for x in items)
        if isinstance(v, InstanceV):
            return _module_params(interp, v, ctx, seen)
        if isinstance(v, TensorV):
            if not v.parameter:
                return 0
            if id(v) in seen:
                return 0
            seen.add(id(v))
            return v.shape.numel() if v.shape is not None and not v.shape.prefix else "?"
        if isinstance(v, _Unknown):
            if name is None:
                return "?"
            return "?" if (kinds.get(name) or {"unknown"}) & set(_COUNTED_KINDS) else 0
        if isinstance(v, TupleV):
            return 0  # a plain Python list/tuple: torch does not register what it holds (TL102)
        return 0

    return _add(count(v, name) for name, v in inst.attrs.items())


def _add(parts: Any) -> Any:
    total: Any = 0
    for p in parts:
        if isinstance(p, str) or p is None:
            return "?"
        try:
            total = total + p
        except TypeError:
            return "?"
    from torch_lsp.analysis.shapes import _Unknown

    return "?" if isinstance(total, _Unknown) else total

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
from torch_lsp.analysis.shapes import Shape, _Unknown, dim_str, shape_str


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
        generic = interp.summary_instances.get(info.name, {}).get("generic") if interp is not None else None
        for name, elt, count, line, lines in _loop_filled(info):
            analysed = inst if inst is not None else generic
            value = analysed.attrs.get(name) if analysed is not None else None
            items = getattr(value, "items", None)
            if isinstance(items, list):  # the analysis knows how many: its items are followed, or are unknown
                if any(not isinstance(v, _Unknown) for v in items):
                    continue
                count = len(items)
            # not followed item by item: one row for them all, where forward reads them
            # (before the first row of an attribute forward reads later)
            row = Row(f"self.{name}", f"{count if count is not None else '?'} × {elt}", "?", "?", "?")
            at = next((i for i, r in enumerate(summary.rows)
                       if lines.get(r.layer.removeprefix("self.").split(".")[0].split("[")[0], -1) > line),
                      len(summary.rows))
            summary.rows.insert(at, row)
        total = _module_params(interp, inst, ctx, set()) if inst is not None else "?"
        if not isinstance(total, str) and key and key != "generic" and runs.get(key):
            total = _at_site(interp, total, runs[key][0].subst)
        summary.total_params = dim_str(total) if not isinstance(total, str) else total
        out.append(summary)
    return out


def _loop_filled(info: Any) -> list[tuple[str, str, int | None, int, dict[str, int]]]:
    """(attribute, element class, count or None, first line in forward, the first line
    of each attribute forward reads) of each container ``__init__`` fills in
    a loop and ``forward`` reads: ``self.NAME = nn.ModuleList([Block(d) for _ in
    range(n)])`` (or a plain list, or ``nn.Sequential(*[...])``), or ``self.NAME.append(
    Block(d))`` inside a ``for``. The count is known only for ``range(<number>)``."""
    import ast

    init = getattr(info, "init", None)
    forward = next((n for n in info.node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "forward"),
                   None)
    if not isinstance(init, ast.FunctionDef) or forward is None:
        return []
    read: dict[str, int] = {}  # attribute -> the first line of forward that reads it
    for n in ast.walk(forward):
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self":
            read[n.attr] = min(read.get(n.attr, n.lineno), n.lineno)

    def self_attr(node: ast.AST) -> str | None:
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
            return node.attr
        return None

    def element(node: ast.AST) -> str | None:
        if isinstance(node, ast.Call):
            func = node.func
            return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        return None

    def count(loop: ast.comprehension | ast.For) -> int | None:
        it = loop.iter
        if (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range" and len(it.args) == 1
                and isinstance(it.args[0], ast.Constant) and type(it.args[0].value) is int and not it.keywords):
            return max(it.args[0].value, 0)
        return None

    def comprehension(node: ast.AST) -> ast.ListComp | ast.GeneratorExp | None:
        if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
            return node
        if isinstance(node, ast.Call) and element(node) in ("ModuleList", "Sequential") and len(node.args) == 1:
            arg = node.args[0]
            return comprehension(arg.value if isinstance(arg, ast.Starred) else arg)
        return None

    found: dict[str, tuple[str, int | None]] = {}
    loops = [f for f in ast.walk(init) if isinstance(f, ast.For)]
    for node in ast.walk(init):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and (name := self_attr(node.targets[0])):
            comp = comprehension(node.value)
            elt = element(comp.elt) if comp is not None else None
            if comp is not None and elt and len(comp.generators) == 1:
                gen = comp.generators[0]
                found[name] = (elt, count(gen) if not gen.ifs else None)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "append"
              and len(node.args) == 1 and (name := self_attr(node.func.value)) and (elt := element(node.args[0]))):
            around = [f for f in loops if any(x is node for x in ast.walk(f))]
            if not around:
                continue  # an append outside a loop: followed by the analysis as it is
            # one loop, the append a statement of its body (not under an `if`): its count
            times = (count(around[0]) if len(around) == 1
                     and any(isinstance(st, ast.Expr) and st.value is node for st in around[0].body) else None)
            if name in found:
                found[name] = (elt if found[name][0] == elt else "modules", None)  # appended in two places
            else:
                found[name] = (elt, times)
    return [(name, elt, times, read[name], read) for name, (elt, times) in found.items() if name in read]


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
        # reached again: one module shared (counted once), unless the instance cache made
        # two constructions one value, and then the count is not known
        return "?" if getattr(inst, "reused", False) else 0
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

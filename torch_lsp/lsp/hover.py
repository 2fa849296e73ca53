"""Hover text (markdown) from one analysis: a tensor's shape and where it came
from, a layer's signature and shapes, the rule behind a diagnostic."""
from __future__ import annotations

from typing import Any

from torch_lsp.analysis.diagnostics import Diagnostic, Position
from torch_lsp.analysis.query import LayerInfo, ShapeInfo, ShapeQuery


def _contains(d: Diagnostic, p: Position) -> bool:
    return d.range.start <= p <= d.range.end


def rule_text(d: Diagnostic) -> str:
    from torch_lsp.rules import RULES

    rule = RULES.get(d.code)
    if rule is None:
        return f"**{d.code}**"
    fix = " Fix available." if d.fixes else ""
    return f"**{rule.code}** `{rule.name}`: {rule.summary}.{fix} (`torch-lsp rule {rule.code}` explains it.)"


def layer_text(info: LayerInfo) -> str:
    out = [f"**`{info.label}`** `{info.signature}`"]
    if info.params:
        out.append("parameters: " + ", ".join(f"`{k}` `{v}`" for k, v in info.params.items()))
    if info.expects:
        out.append(f"expects `{info.expects}`")
    seen = set()
    for key, shape_in, out_text, error in info.calls:
        line = f"called with `{shape_in}` → `{out_text}`" + (f" ({key})" if key != "generic" else "")
        if error:
            line += f": **{error}**"
        if line not in seen:
            seen.add(line)
            out.append(line)
        if len(seen) >= 4:
            break
    return "  \n".join(out)


def shape_text(info: ShapeInfo) -> str:
    text = f"`{info.text}`"
    if info.origin:
        text += f"  \n{info.origin}"
    return text


def hover_markdown(query: ShapeQuery | None, diagnostics: list[Diagnostic], pos: Position) -> tuple[str, Any] | None:
    """(markdown, (start, end) code-point positions of what it describes) or None."""
    parts: list[str] = []
    span = None
    for d in diagnostics:
        if _contains(d, pos):
            parts.append(rule_text(d))
            span = span or (d.range.start, d.range.end)
    if query is not None:
        layer = query.layer_at(pos.line, pos.character)
        shape = query.at(pos.line, pos.character)
        if layer is not None and (shape is None or (layer.line, layer.col) >= (shape.line, shape.col)):
            parts.insert(0, layer_text(layer))
            span = (Position(layer.line, layer.col), Position(layer.end_line, layer.end_col))
        elif shape is not None:
            parts.insert(0, shape_text(shape))
            span = (Position(shape.line, shape.col), Position(shape.end_line, shape.end_col))
    if not parts:
        return None
    return "\n\n---\n\n".join(parts), span


# ---------------------------------------------------------------------------- runtime
def _word_at(line: str, col: int) -> tuple[str, int, int] | None:
    """The identifier (with a leading ``self.``) under a column: (text, start, end)."""
    if not line:
        return None
    col = min(max(col, 0), len(line) - 1)
    if not (line[col].isalnum() or line[col] == "_"):
        if col > 0 and (line[col - 1].isalnum() or line[col - 1] == "_"):
            col -= 1
        else:
            return None
    start = col
    while start > 0 and (line[start - 1].isalnum() or line[start - 1] == "_"):
        start -= 1
    end = col
    while end < len(line) and (line[end].isalnum() or line[end] == "_"):
        end += 1
    if line[start:end][:1].isdigit():
        return None
    if line[max(0, start - 5):start] == "self.":
        start -= 5
    return line[start:end], start, end


def shape_list_text(s: Any) -> str:
    if isinstance(s, list) and s and all(isinstance(x, list) for x in s):
        return ", ".join(shape_list_text(x) for x in s)
    if isinstance(s, list):
        return "[" + ", ".join(str(x) for x in s) + "]"
    return "?"


def runtime_markdown(outcome: Any, line_text: str, pos: Position) -> tuple[str, tuple[Position, Position] | None] | None:
    """What the runtime evaluation (meta tensors) saw at a position: the shape of a
    variable after its line ran, a submodule's input and output, or why the
    evaluation of the call on this line was skipped."""
    if outcome is None:
        return None
    parts = []
    span = None
    reason = outcome.skipped.get(pos.line + 1)
    if reason:
        parts.append(f"runtime evaluation skipped: {reason}")
    found = _word_at(line_text, pos.character)
    if found is not None:
        word, start, end = found
        span = (Position(pos.line, start), Position(pos.line, end))
        if word.startswith("self."):
            calls = outcome.modules.get(word[5:])
            if calls:
                shapes_in, shape_out = calls[0]
                parts.append(f"evaluated on meta tensors: `{word}` received `{shape_list_text(shapes_in)}` → `{shape_list_text(shape_out)}`")
        else:
            shape = outcome.shape_after(pos.line + 1, word)
            if shape is not None:
                parts.append(f"evaluated on meta tensors: `{word}` is `{shape_list_text(shape)}` after this line")
    if not parts:
        return None
    return "  \n".join(parts), span

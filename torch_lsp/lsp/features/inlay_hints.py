"""``textDocument/inlayHint``: the shape of each assignment's value at the end of its line."""
from __future__ import annotations

from lsprotocol import types as lsp

from torch_lsp.analysis.diagnostics import Position
from torch_lsp.lsp.features import Feature
from torch_lsp.lsp.language_server import TorchLanguageServer
from torch_lsp.lsp.state import RequestSnapshot


async def inlay_hints(ls: TorchLanguageServer, params: lsp.InlayHintParams) -> list[lsp.InlayHint] | None:
    if not ls.settings.inlay_hints:
        return []
    snap = await ls.request_snapshot(params.text_document.uri)
    if snap is None or snap.result.query is None:
        return []
    return hints_in(snap, params.range.start.line, params.range.end.line)


def hints_in(snap: RequestSnapshot, lo: int, hi: int) -> list[lsp.InlayHint]:
    """The hints of lines lo..hi that are unchanged since the result."""
    from torch_lsp.lsp.hover import shape_list_text

    result, lines = snap.result, snap.lines
    out = []
    seen = set()
    rt = snap.runtime
    evaluated = {line: shape_list_text(shape) for line, shape in rt.assignment_shapes(result.source().tree).items()} if rt is not None else {}
    same = snap.unchanged_lines(lo, hi)
    for line, _col, text in result.query.assignment_hints():
        if not lo <= line <= hi or line in seen or line not in same:
            continue
        seen.add(line)
        if line in evaluated and evaluated[line] != text:
            text = evaluated[line] + " (evaluated)"  # the static shape was partly unknown
        end = len(result.lines[line].rstrip()) if line < len(result.lines) else 0
        out.append(lsp.InlayHint(position=lines.to_client(Position(line, end)), label=f"⟶ {text}",
                                 kind=lsp.InlayHintKind.Type, padding_left=True))
    for line, text in sorted(evaluated.items()):  # lines only the evaluation saw
        if lo <= line <= hi and line not in seen and line in same:
            seen.add(line)
            end = len(result.lines[line].rstrip()) if line < len(result.lines) else 0
            out.append(lsp.InlayHint(position=lines.to_client(Position(line, end)), label=f"⟶ {text} (evaluated)",
                                     kind=lsp.InlayHintKind.Type, padding_left=True))
    return out


FEATURES = [
    Feature(lsp.TEXT_DOCUMENT_INLAY_HINT, inlay_hints, lsp.InlayHintOptions(resolve_provider=False)),
]

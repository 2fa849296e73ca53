"""``textDocument/hover``: the inferred shape under the cursor, the rule of a diagnostic."""
from __future__ import annotations

from lsprotocol import types as lsp

from torch_lsp.analysis.diagnostics import Range
from torch_lsp.lsp.features import Feature
from torch_lsp.lsp.language_server import TorchLanguageServer
from torch_lsp.lsp.state import RequestSnapshot


async def hover(ls: TorchLanguageServer, params: lsp.HoverParams) -> lsp.Hover | None:
    snap = await ls.request_snapshot(params.text_document.uri)
    if snap is None:
        return None
    try:
        return hover_at(snap, params.position)
    except Exception as exc:
        ls.log("error", f"hover failed: {type(exc).__name__}: {exc}")
        return None


def hover_at(snap: RequestSnapshot, position: lsp.Position) -> lsp.Hover | None:
    from torch_lsp.lsp.hover import hover_markdown, runtime_markdown

    lines = snap.lines
    pos = lines.from_client(position)
    if pos.line not in snap.unchanged_lines(pos.line, pos.line):
        return None  # the line changed since the last result: no answer about other text
    found = hover_markdown(snap.result.query, snap.diagnostics, pos)
    evaluated = runtime_markdown(snap.runtime, lines.line(pos.line), pos) if snap.runtime is not None else None
    if evaluated is not None:
        found = (found[0] + "\n\n---\n\n" + evaluated[0], found[1]) if found is not None else evaluated
    if found is None:
        return None
    text, span = found
    rng = lines.range_to_client(Range(span[0], span[1])) if span else None
    return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text), range=rng)


FEATURES = [
    Feature(lsp.TEXT_DOCUMENT_HOVER, hover),
]

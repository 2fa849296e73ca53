"""``textDocument/hover``: the inferred shape under the cursor, the rule of a diagnostic."""
from __future__ import annotations

from lsprotocol import types as lsp

from torch_lsp.analysis.diagnostics import Range
from torch_lsp.lsp.features import Feature
from torch_lsp.lsp.language_server import TorchLanguageServer


async def hover(ls: TorchLanguageServer, params: lsp.HoverParams) -> lsp.Hover | None:
    from torch_lsp.lsp.hover import hover_markdown, runtime_markdown

    result = await ls.latest_result(params.text_document.uri)
    if result is None:
        return None
    lines = ls.lines_of(result)
    pos = lines.from_client(params.position)
    state = ls.docs.get(params.text_document.uri)
    if state is not None:
        ls.mark_used(state)
    if state is not None and pos.line not in ls.unchanged_lines(state, result, pos.line, pos.line):
        return None  # the line changed since the last result: no answer about other text
    try:
        diags = ls.diagnostics_of(state, result) if state is not None else result.diagnostics
        found = hover_markdown(result.query, diags, pos)
        rt = state.runtime if state is not None and state.runtime is not None and state.runtime.serial == result.serial else None
        evaluated = runtime_markdown(rt, lines._line(pos.line), pos) if rt is not None else None
    except Exception as exc:
        ls.log("error", f"hover failed: {type(exc).__name__}: {exc}")
        return None
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

"""Notebook document sync (LSP 3.17): ``notebookDocument/didOpen``, ``didChange``,
``didClose``, and the cell URIs of hovers, inlay hints, code actions and pulled
diagnostics.

An open notebook is one document of the server (``NotebookState``: its Python code
cells in order make one module), so a model defined in cell 2 and called in cell 4
is followed. The requests on a cell's URI are the file's handlers (``for_cells``
wraps them): the position is moved to the module, the handler answers for the
notebook, and what it answers is moved back into the cells (an edit over several
cells, a Fix all, becomes one edit per changed cell). Diagnostics are published per cell
(``publish_notebook``, called by ``TorchLanguageServer.publish``).
"""
from __future__ import annotations

from typing import Any, Callable

import attrs
from lsprotocol import types as lsp

from torch_lsp.analysis.notebook import relabel
from torch_lsp.lsp.documents import Document, minimal_edit
from torch_lsp.lsp.features import Feature
from torch_lsp.lsp.notebooks import CellDoc, Layout, NotebookState

# =============================================================================== sync
def did_open(ls, params: lsp.DidOpenNotebookDocumentParams) -> None:
    nb = params.notebook_document
    texts = {d.uri: d for d in params.cell_text_documents or ()}
    cells = []
    for c in nb.cells:
        item = texts.get(c.document)
        cells.append(CellDoc(c.document, int(c.kind), item.language_id if item else "", item.version if item else 0,
                             item.text if item else ""))
    ls.docs[nb.uri] = NotebookState.open_notebook(nb.uri, nb.version, cells)
    ls.schedule(nb.uri)


def did_change(ls, params: lsp.DidChangeNotebookDocumentParams) -> None:
    state = ls.docs.get(params.notebook_document.uri)
    if not isinstance(state, NotebookState):
        return
    changes = params.change.cells
    if changes is not None:
        if changes.structure is not None:
            s = changes.structure
            opened = {d.uri: d for d in s.did_open or ()}
            known = {c.uri: c for c in state.cells}
            new = []
            for c in s.array.cells or ():
                item = opened.get(c.document)
                old = known.get(c.document)
                if item is not None:
                    new.append(CellDoc(c.document, int(c.kind), item.language_id, item.version, item.text))
                elif old is not None:  # (a cell moved: closed and opened again, or kept)
                    new.append(old)
                else:
                    new.append(CellDoc(c.document, int(c.kind), "", 0, ""))
            state.cells[s.array.start:s.array.start + s.array.delete_count] = new
            gone = {d.uri for d in s.did_close or ()} - {c.uri for c in state.cells}
            state.cleared |= gone  # their diagnostics are cleared at the next publish
        for data in changes.data or ():
            cell = state.cell(data.document)
            if cell is not None:
                cell.kind = int(data.kind)
        for content in changes.text_content or ():
            cell = state.cell(content.document.uri)
            if cell is None:
                continue
            doc = Document(cell.uri, cell.text, cell.version)
            for change in content.changes:
                doc.apply(change, ls.encoding)
            cell.text = doc.text
            cell.version = content.document.version
    state.rebuild(params.notebook_document.version)
    ls.schedule(state.uri)


def did_close(ls, params: lsp.DidCloseNotebookDocumentParams) -> None:
    state = ls.docs.pop(params.notebook_document.uri, None)
    if not isinstance(state, NotebookState):
        return
    with ls._queue_lock:
        ls._queue.pop(state.uri, None)
    ls._release(state.result)
    state.result = state.runtime = None
    state.changed.set()
    if ls.pushes(state):
        for uri in {c.uri for c in state.cells} | state.cleared:
            ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


# =============================================================================== diagnostics
def _shift_range(r: lsp.Range, by: int) -> lsp.Range:
    return lsp.Range(start=lsp.Position(line=r.start.line + by, character=r.start.character),
                     end=lsp.Position(line=r.end.line + by, character=r.end.character))


def _to_cell(layout: Layout, r: lsp.Range, lenient: bool = False) -> tuple[str, lsp.Range] | None:
    """A module range as (cell URI, range in the cell); None across a cell boundary.
    ``lenient`` (a diagnostic): a range that starts in no cell (a syntax error found
    at the next cell's marker or at the end) is put at the start of the last line of
    the cell before it."""
    at = layout.module.to_cell(r.start.line)
    if at is None and lenient and (near := layout.module.locate(r.start.line)) is not None:
        p = lsp.Position(line=near[1], character=0)
        return layout.uris[near[0]], lsp.Range(start=p, end=p)
    if at is None:
        return None
    index, line = at
    shift = line - r.start.line
    end = r.end.line + shift
    cell = layout.module.cell(index)
    if cell is None or end >= cell.count + 1 or (end == cell.count and r.end.character > 0):
        return None
    return layout.uris[index], _shift_range(r, shift)


def cell_diagnostics(ls, state: NotebookState, result) -> dict[str, list[lsp.Diagnostic]]:
    """The result's diagnostics per cell URI, in cell positions (every current Python
    cell has a list, empty when it has none)."""
    layout = state.layout(result.version) if result is not None else None
    out: dict[str, list[lsp.Diagnostic]] = {c.uri: [] for c in state.cells if c.python}
    if layout is None:
        return out
    for d in ls.diagnostics_of(state, result):
        item = ls.to_lsp(relabel(d, layout.module), result, state.uri)
        moved = _to_cell(layout, item.range, lenient=True)
        if moved is None:
            continue
        uri, item.range = moved
        if item.related_information:
            related = []
            for info in item.related_information:
                if info.location.uri == state.uri:
                    where = _to_cell(layout, info.location.range)
                    if where is None:
                        continue
                    info = lsp.DiagnosticRelatedInformation(location=lsp.Location(uri=where[0], range=where[1]), message=info.message)
                related.append(info)
            item.related_information = related or None
        out.setdefault(uri, []).append(item)
    return out


def publish_notebook(ls, state: NotebookState) -> None:
    """``TorchLanguageServer.publish`` for a notebook: one notification per cell."""
    result = state.result
    key = (state.version, ls.result_key(state, result) if result else ())
    if key == state.published:
        return
    state.published = key
    per_cell = cell_diagnostics(ls, state, result)
    for uri in state.cleared - set(per_cell):
        per_cell[uri] = []
    state.cleared = {uri for uri, items in per_cell.items() if items}
    for uri, items in per_cell.items():
        cell = state.cell(uri)
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
            uri=uri, diagnostics=items, version=cell.version if cell is not None else None))


# =============================================================================== requests on cells
def _owner(ls, uri: str) -> tuple[NotebookState, Layout, int] | None:
    """The open notebook a cell URI belongs to, its current layout and the cell's index."""
    for state in list(ls.docs.values()):
        if isinstance(state, NotebookState):
            layout = state.layout()
            index = layout.cell_of(uri) if layout is not None else None
            if layout is not None and index is not None:
                return state, layout, index
    return None


def _to_module(layout: Layout, index: int, p: lsp.Position) -> lsp.Position | None:
    line = layout.module.to_module(index, p.line)
    return None if line is None else lsp.Position(line=line, character=p.character)


def _with_uri(params: Any, uri: str, **changes: Any) -> Any:
    doc = params.text_document
    return attrs.evolve(params, text_document=attrs.evolve(doc, uri=uri), **changes)


async def _hover(handler, ls, params: lsp.HoverParams, owner) -> lsp.Hover | None:
    state, layout, index = owner
    pos = _to_module(layout, index, params.position)
    if pos is None:
        return None
    found = await handler(ls, _with_uri(params, state.uri, position=pos))
    if found is None:
        return None
    if isinstance(found.contents, lsp.MarkupContent):
        found.contents.value = layout.module.relabel(found.contents.value)
    if found.range is not None:
        moved = _to_cell(layout, found.range)
        found.range = moved[1] if moved is not None and moved[0] == layout.uris[index] else None
    return found


def _cell_lines(layout: Layout, index: int, r: lsp.Range) -> lsp.Range | None:
    """A range of a cell as the module lines it covers (clamped to the cell)."""
    cell = layout.module.cell(index)
    if cell is None or cell.count == 0:
        return None
    lo = max(0, min(r.start.line, cell.count - 1))
    hi = max(0, min(r.end.line, cell.count - 1))
    return lsp.Range(start=lsp.Position(line=cell.start + lo, character=0),
                     end=lsp.Position(line=cell.start + hi, character=max(r.end.character, 10_000)))


async def _inlay_hints(handler, ls, params: lsp.InlayHintParams, owner) -> list[lsp.InlayHint] | None:
    state, layout, index = owner
    rng = _cell_lines(layout, index, params.range)
    if rng is None:
        return []
    hints = await handler(ls, _with_uri(params, state.uri, range=rng)) or []
    out = []
    for hint in hints:
        at = layout.module.to_cell(hint.position.line)
        if at is not None and at[0] == index:
            hint.position = lsp.Position(line=at[1], character=hint.position.character)
            out.append(hint)
    return out


def _edit_to_cells(ls, state: NotebookState, layout: Layout, edit: lsp.WorkspaceEdit | None) -> lsp.WorkspaceEdit | None:
    """A workspace edit of the notebook's module as edits of its cells; None when it
    cannot be (an edit of another document, or edits that cannot be cut back into
    the cells)."""
    if edit is None:
        return None
    if edit.document_changes:
        pairs = [(dc.text_document.uri, e) for dc in edit.document_changes
                 if isinstance(dc, lsp.TextDocumentEdit) for e in dc.edits]
    else:
        pairs = [(uri, e) for uri, edits in (edit.changes or {}).items() for e in edits]
    edits = [e for uri, e in pairs if uri == state.uri and isinstance(e, lsp.TextEdit)]
    if len(edits) != len(pairs):
        return None
    per_cell: dict[str, list[lsp.TextEdit]] | None = {}
    moves = [_to_cell(layout, e.range) for e in edits]
    if any(m is None for m in moves):  # across cells (a Fix all's one edit over several cells)
        per_cell = _rewritten_cells(ls, state, layout, edits)
    else:
        per_cell = {}
        for e, m in zip(edits, moves):
            if m is not None:
                per_cell.setdefault(m[0], []).append(lsp.TextEdit(range=m[1], new_text=e.new_text))
    if not per_cell:
        return None
    if edit.document_changes:
        return lsp.WorkspaceEdit(document_changes=[lsp.TextDocumentEdit(
            text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=uri, version=cell.version if (cell := state.cell(uri)) else None),
            edits=cell_edits) for uri, cell_edits in per_cell.items()])
    return lsp.WorkspaceEdit(changes=per_cell)


def _rewritten_cells(ls, state: NotebookState, layout: Layout, edits: list[lsp.TextEdit]) -> dict[str, list[lsp.TextEdit]] | None:
    """Edits of the module applied to its text, cut back into cells: one edit per
    changed cell (the part that changed). None when the result cannot be cut back."""
    if state.layout() is not layout:
        return None
    doc = Document(state.uri, state.text)
    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        doc.apply(lsp.TextDocumentContentChangePartial(range=e.range, text=e.new_text), ls.encoding)
    sources = layout.module.split(doc.text)
    if sources is None:
        return None
    out: dict[str, list[lsp.TextEdit]] = {}
    for index, new in sources.items():
        cell = layout.module.cell(index)
        if cell is None or new == cell.source:
            continue
        one = minimal_edit(cell.source, new, ls.encoding)
        if one is None:
            return None
        out[layout.uris[index]] = [one]
    return out


async def _code_action(handler, ls, params: lsp.CodeActionParams, owner) -> list[lsp.CodeAction] | None:
    state, layout, index = owner
    start = _to_module(layout, index, params.range.start)
    if start is None:
        return []
    end = _to_module(layout, index, params.range.end) or start
    originals: dict[int, lsp.Diagnostic] = {}
    diags = []
    for d in params.context.diagnostics:
        rng = lsp.Range(start=_to_module(layout, index, d.range.start) or start, end=_to_module(layout, index, d.range.end) or end)
        moved = attrs.evolve(d, range=rng)
        originals[id(moved)] = d
        diags.append(moved)
    context = attrs.evolve(params.context, diagnostics=diags)
    actions = await handler(ls, _with_uri(params, state.uri, range=lsp.Range(start=start, end=end), context=context)) or []
    out = []
    for action in actions:
        edit = _edit_to_cells(ls, state, layout, action.edit)
        if action.edit is not None and edit is None:
            continue  # cannot be cut back into the cells: not offered
        action.edit = edit
        if action.diagnostics:
            action.diagnostics = [originals.get(id(d), d) for d in action.diagnostics]
        out.append(action)
    return out


async def _pull(handler, ls, params: lsp.DocumentDiagnosticParams, owner):
    state, _layout, index = owner
    report = await handler(ls, _with_uri(params, state.uri))
    result = state.result
    items = cell_diagnostics(ls, state, result).get(_layout.uris[index], []) if result is not None else []
    return lsp.RelatedFullDocumentDiagnosticReport(items=items, result_id=getattr(report, "result_id", None))


_ON_CELLS: dict[str, Callable[..., Any]] = {
    lsp.TEXT_DOCUMENT_HOVER: _hover,
    lsp.TEXT_DOCUMENT_INLAY_HINT: _inlay_hints,
    lsp.TEXT_DOCUMENT_CODE_ACTION: _code_action,
    lsp.TEXT_DOCUMENT_DIAGNOSTIC: _pull,
}


def for_cells(feature: Feature) -> Feature:
    """``feature`` answering on notebook cell URIs too (see the module's docstring)."""
    on_cell = _ON_CELLS.get(feature.method)
    if on_cell is None:
        return feature
    handler = feature.handler

    async def answer(ls, params):
        owner = _owner(ls, params.text_document.uri)
        if owner is None:
            return await handler(ls, params)
        return await on_cell(handler, ls, params, owner)

    answer.__name__ = getattr(handler, "__name__", "answer")
    answer.__doc__ = handler.__doc__
    return Feature(feature.method, answer, feature.options)


FEATURES = [
    Feature(lsp.NOTEBOOK_DOCUMENT_DID_OPEN, did_open),
    Feature(lsp.NOTEBOOK_DOCUMENT_DID_CHANGE, did_change),
    Feature(lsp.NOTEBOOK_DOCUMENT_DID_CLOSE, did_close),
]

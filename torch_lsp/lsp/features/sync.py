"""Text document synchronisation: ``didOpen``, ``didChange``, ``didSave``, ``didClose``.
A change makes a new immutable snapshot of the text; the analysis of the new
version is scheduled."""
from __future__ import annotations

from lsprotocol import types as lsp
from pygls.uris import to_fs_path

from torch_lsp.lsp.documents import Document
from torch_lsp.lsp.features import Feature
from torch_lsp.lsp.features.configuration import reanalyse_all
from torch_lsp.lsp.language_server import TorchLanguageServer
from torch_lsp.lsp.state import DocState, is_python


def did_open(ls: TorchLanguageServer, params: lsp.DidOpenTextDocumentParams) -> None:
    doc = params.text_document
    if not is_python(doc.uri, doc.language_id):
        return
    path = to_fs_path(doc.uri) if doc.uri.startswith("file:") else None
    ls.docs[doc.uri] = DocState.open(doc.uri, path, doc.version, doc.text)
    ls.schedule(doc.uri)


def did_change(ls: TorchLanguageServer, params: lsp.DidChangeTextDocumentParams) -> None:
    state = ls.docs.get(params.text_document.uri)
    if state is None:
        return
    doc = Document(state.uri, state.text, state.version, state.line_starts)
    for change in params.content_changes:
        doc.apply(change, ls.encoding)
    state.update(doc.text, params.text_document.version if params.text_document.version is not None else state.version + 1,
                 doc.starts)
    ls.schedule(state.uri)


def did_save(ls: TorchLanguageServer, params: lsp.DidSaveTextDocumentParams) -> None:
    if params.text_document.uri.endswith("pyproject.toml"):
        ls.reload_config()
        reanalyse_all(ls)


def did_close(ls: TorchLanguageServer, params: lsp.DidCloseTextDocumentParams) -> None:
    state = ls.docs.pop(params.text_document.uri, None)
    if state is None:
        return
    with ls._queue_lock:
        ls._queue.pop(state.uri, None)
    if state.path:
        ls.submit(ls.project.set_overlay, state.path, None)
    # What it held goes now (a job of its own still running drops its result).
    ls._release(state.result)
    state.result = state.runtime = None
    state.changed.set()
    if not ls.pull:
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=state.uri, diagnostics=[]))


FEATURES = [
    Feature(lsp.TEXT_DOCUMENT_DID_OPEN, did_open),
    Feature(lsp.TEXT_DOCUMENT_DID_CHANGE, did_change),
    Feature(lsp.TEXT_DOCUMENT_DID_SAVE, did_save),
    Feature(lsp.TEXT_DOCUMENT_DID_CLOSE, did_close),
]

"""``textDocument/diagnostic`` (pull); pushed diagnostics are published by the server
when a result is in (``TorchLanguageServer.publish``)."""
from __future__ import annotations

from lsprotocol import types as lsp

from torch_lsp.lsp.features import Feature
from torch_lsp.lsp.language_server import TorchLanguageServer


async def pull_diagnostics(ls: TorchLanguageServer, params: lsp.DocumentDiagnosticParams):
    snap = await ls.request_snapshot(params.text_document.uri, current=True)
    if snap is None:
        return lsp.RelatedFullDocumentDiagnosticReport(items=[])
    ls.note_pulled(snap)
    items = [ls.to_lsp(d, snap.result, snap.uri) for d in snap.diagnostics]
    return lsp.RelatedFullDocumentDiagnosticReport(items=items, result_id=str(snap.result.version))


FEATURES = [
    Feature(lsp.TEXT_DOCUMENT_DIAGNOSTIC, pull_diagnostics, lsp.DiagnosticOptions(
        identifier="torch-lsp", inter_file_dependencies=True, workspace_diagnostics=False)),
]

"""``textDocument/diagnostic`` (pull); pushed diagnostics are published by the server
when a result is in (``TorchLanguageServer.publish``)."""
from __future__ import annotations

from lsprotocol import types as lsp

from torch_lsp.lsp.features import Feature
from torch_lsp.lsp.language_server import TorchLanguageServer


async def pull_diagnostics(ls: TorchLanguageServer, params: lsp.DocumentDiagnosticParams):
    result = await ls.current_result(params.text_document.uri)
    if result is None:
        return lsp.RelatedFullDocumentDiagnosticReport(items=[])
    state = ls.docs.get(params.text_document.uri)
    diags = ls.diagnostics_of(state, result) if state is not None else result.diagnostics
    if state is not None:
        state.pulled = (result.version, ls.result_key(state, result))
    items = [ls.to_lsp(d, result, params.text_document.uri) for d in diags]
    return lsp.RelatedFullDocumentDiagnosticReport(items=items, result_id=str(result.version))


FEATURES = [
    Feature(lsp.TEXT_DOCUMENT_DIAGNOSTIC, pull_diagnostics, lsp.DiagnosticOptions(
        identifier="torch-lsp", inter_file_dependencies=True, workspace_diagnostics=False)),
]

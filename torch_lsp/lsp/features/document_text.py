"""``torch-lsp/documentText``: the server's copy of a document (for tests and clients
that want to check their sync)."""
from __future__ import annotations

from typing import Any

from torch_lsp.lsp.features import Feature
from torch_lsp.lsp.language_server import TorchLanguageServer

DOCUMENT_TEXT = "torch-lsp/documentText"


def document_text(ls: TorchLanguageServer, params: Any) -> dict | None:
    """The server's copy of a document (for tests and clients that want to check
    their sync): ``{"textDocument": {"uri": ...}}`` -> ``{"version", "text"}``."""
    doc = params.get("textDocument") if isinstance(params, dict) else getattr(params, "textDocument", None)
    uri = doc.get("uri") if isinstance(doc, dict) else getattr(doc, "uri", None)
    state = ls.docs.get(uri) if isinstance(uri, str) else None
    return {"version": state.version, "text": state.text} if state is not None else None


FEATURES = [
    Feature(DOCUMENT_TEXT, document_text),
]

"""The LSP methods the server answers, one module each (as ruff's
``server/api/requests/*.rs``): a module's ``FEATURES`` lists its handlers with the
method name and the options the server announces for it. A handler gets the server
(``TorchLanguageServer``) and the method's parameters; what it needs of a document it
reads from the document's current state or result, never from another handler.

To answer a new method: add a module here with its handler(s) and ``FEATURES``, and
list the module in ``MODULES``; ``torch_lsp.server.create_server`` registers them.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple


class Feature(NamedTuple):
    method: str
    handler: Callable[..., Any]
    options: Any = None  # what the server announces for the method (its capability options)


MODULES = ("lifecycle", "configuration", "sync", "diagnostics", "hover", "inlay_hints", "code_actions",
           "document_text", "notebooks")


def all_features() -> list[Feature]:
    import importlib

    from torch_lsp.lsp.features.notebooks import for_cells  # requests on notebook cells' URIs

    return [for_cells(f) for name in MODULES for f in importlib.import_module(f"{__name__}.{name}").FEATURES]

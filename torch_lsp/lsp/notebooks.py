"""An open notebook as the server keeps it (LSP 3.17 notebook document sync).

A notebook is one analysed document, ``NotebookState``, keyed by the notebook's URI
in ``ls.docs``: its text is the module its Python code cells make
(``analysis.notebook.build``), so the analysis queue, results, hovers, inlay hints
and code actions work on it as on a file. What differs is at the edges
(``torch_lsp.lsp.features.notebooks``): positions on a cell's URI are mapped to the
module and back, and diagnostics are published per cell URI. Each version keeps the
cell map it was built with (``layout``), so a result of an older version is mapped
with its own cells.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from lsprotocol import types as lsp

from torch_lsp.analysis.notebook import NotebookModule, build
from torch_lsp.lsp.state import DocState

# What the server announces (``notebookDocumentSync``): Jupyter notebooks (and any
# other notebook type) with Python cells.
NOTEBOOK_SYNC = lsp.NotebookDocumentSyncOptions(notebook_selector=[
    lsp.NotebookDocumentFilterWithNotebook(notebook="jupyter-notebook", cells=[lsp.NotebookCellLanguage(language="python")]),
    lsp.NotebookDocumentFilterWithNotebook(notebook="*", cells=[lsp.NotebookCellLanguage(language="python")]),
], save=False)

KEEP_LAYOUTS = 8  # versions whose cell map is kept (results arrive at most a few versions late)


@dataclass
class CellDoc:
    uri: str
    kind: int  # lsp.NotebookCellKind: 1 markup, 2 code
    language: str
    version: int
    text: str

    @property
    def python(self) -> bool:
        return self.kind == lsp.NotebookCellKind.Code and self.language.lower() == "python"


@dataclass(frozen=True)
class Layout:
    """One version's module map and the cell URIs its cell indices refer to."""

    module: NotebookModule
    uris: tuple[str, ...]

    def cell_of(self, uri: str) -> int | None:
        try:
            return self.uris.index(uri)
        except ValueError:
            return None


@dataclass
class NotebookState(DocState):
    cells: list[CellDoc] = field(default_factory=list)
    layouts: dict[int, Layout] = field(default_factory=dict)
    cleared: set[str] = field(default_factory=set)  # cell URIs that may still show diagnostics

    @classmethod
    def open_notebook(cls, uri: str, version: int, cells: list[CellDoc]) -> "NotebookState":
        state = cast(NotebookState, cls.open(uri, None, version, ""))
        state.cells = cells
        state.rebuild(version)
        return state

    def rebuild(self, version: int) -> None:
        """The module of the cells as they are now, as the document's text at ``version``."""
        module = build((i, c.text) for i, c in enumerate(self.cells) if c.python)
        self.layouts[version] = Layout(module, tuple(c.uri for c in self.cells))
        for old in sorted(self.layouts)[:-KEEP_LAYOUTS]:
            del self.layouts[old]
        self.update(module.text, version)

    def layout(self, version: int | None = None) -> Layout | None:
        return self.layouts.get(self.version if version is None else version)

    def cell(self, uri: str) -> CellDoc | None:
        return next((c for c in self.cells if c.uri == uri), None)

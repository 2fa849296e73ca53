"""Notebook document sync end to end: a real `torch-lsp serve` driven by pytest-lsp
with VS Code's capabilities plus notebook sync. A 3-cell notebook: imports, a model
(cell 2), and in cell 3 a call of that model whose [2, 10] output is given to
`backward()` (torch raises `grad can be implicitly created only for scalar outputs`:
checked at the start of the test). The diagnostic, the hover, the inlay
hint and the quick fix land in cell 3; a notebookDocument/didChange that applies the
fix clears it."""
from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

SERVER = [sys.executable, "-m", "torch_lsp", "serve"]

CELLS = [
    "import torch\nfrom torch import nn",
    textwrap.dedent("""\
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.features = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2))
                self.fc = nn.Linear(8 * 12 * 12, 10)

            def forward(self, x):
                x = self.features(x)
                x = x.flatten(1)
                return self.fc(x)


        model = Net()"""),
    "out = model(torch.randn(2, 1, 26, 26))\nout.backward()",
]


versions: dict[str, int | None] = {}


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="function")
async def client(lsp_client: LanguageClient, tmp_path):
    lsp_client.protocol.fm._features.pop(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, None)

    @lsp_client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(ls: LanguageClient, params: lsp.PublishDiagnosticsParams) -> None:
        lsp_client.diagnostics[params.uri] = params.diagnostics
        versions[params.uri] = params.version

    @lsp_client.feature(lsp.CLIENT_REGISTER_CAPABILITY)
    def register(ls: LanguageClient, params: lsp.RegistrationParams) -> None:
        pass

    @lsp_client.feature(lsp.WORKSPACE_INLAY_HINT_REFRESH)
    def inlay_refresh(ls: LanguageClient, params: None) -> None:
        pass

    versions.clear()
    caps = client_capabilities("visual-studio-code")
    caps.notebook_document = lsp.NotebookDocumentClientCapabilities(
        synchronization=lsp.NotebookDocumentSyncClientCapabilities(dynamic_registration=False, execution_summary_support=True))
    result = await lsp_client.initialize_session(lsp.InitializeParams(capabilities=caps, root_uri=tmp_path.resolve().as_uri()))
    lsp_client.initialize_result = result  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


async def diagnostics_for(client: LanguageClient, uri: str, version: int, timeout: float = 20.0) -> list[lsp.Diagnostic]:
    async def wait():
        while True:
            got = client.diagnostics.get(uri)
            if got is not None and versions.get(uri) == version:
                return list(got)
            await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return await asyncio.wait_for(wait(), timeout)


def open_notebook(client: LanguageClient, tmp_path: Path) -> tuple[str, list[str]]:
    path = tmp_path / "model.ipynb"
    nb_uri = path.resolve().as_uri()
    cell_uris = [f"vscode-notebook-cell:{path.resolve()}#W{i}sZmlsZQ%3D%3D" for i in range(len(CELLS))]
    client.notebook_document_did_open(lsp.DidOpenNotebookDocumentParams(
        notebook_document=lsp.NotebookDocument(
            uri=nb_uri, notebook_type="jupyter-notebook", version=1,
            cells=[lsp.NotebookCell(kind=lsp.NotebookCellKind.Code, document=u) for u in cell_uris]),
        cell_text_documents=[lsp.TextDocumentItem(uri=u, language_id="python", version=1, text=t)
                             for u, t in zip(cell_uris, CELLS)]))
    return nb_uri, cell_uris


def edits_of(action: lsp.CodeAction) -> dict[str, list[lsp.TextEdit]]:
    if action.edit.document_changes:
        out: dict[str, list[lsp.TextEdit]] = {}
        for dc in action.edit.document_changes:
            out.setdefault(dc.text_document.uri, []).extend(dc.edits)
        return out
    return dict(action.edit.changes)


async def test_notebook_sync_is_announced(client: LanguageClient):
    sync = client.initialize_result.capabilities.notebook_document_sync
    assert [(f.notebook, [c.language for c in f.cells]) for f in sync.notebook_selector] == [
        ("jupyter-notebook", ["python"]), ("*", ["python"])]


async def test_a_bug_in_cell_3_with_the_model_of_cell_2(client: LanguageClient, tmp_path):
    # the bug is real: torch raises on the cells' code, and not once it is fixed
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        exec("\n".join(CELLS), {})
    namespace: dict = {}
    exec("\n".join(CELLS).replace("out.backward()", "out.mean().backward()"), namespace)
    assert namespace["out"].shape == torch.Size([2, 10])

    _, cells = open_notebook(client, tmp_path)
    [diag] = await diagnostics_for(client, cells[2], 1)
    assert diag.code == "TL301"
    assert diag.range == lsp.Range(start=lsp.Position(line=1, character=0), end=lsp.Position(line=1, character=14))
    assert "[2, 10]" in diag.message
    assert await diagnostics_for(client, cells[0], 1) == [] and await diagnostics_for(client, cells[1], 1) == []

    # a hover on `out` in cell 3 (its shape comes through the model of cell 2)
    hover = await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=cells[2]), position=lsp.Position(line=0, character=1)))
    assert hover is not None and "[2, 10]" in hover.contents.value
    assert hover.range is None or hover.range.start.line == 0
    # a hover on the layer in cell 2
    hover = await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=cells[1]), position=lsp.Position(line=9, character=22)))
    assert hover is not None and "Linear(1152 → 10)" in hover.contents.value

    # inlay hints of cell 3 only, at its lines
    hints = await client.text_document_inlay_hint_async(lsp.InlayHintParams(
        text_document=lsp.TextDocumentIdentifier(uri=cells[2]),
        range=lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=2, character=0))))
    assert [(h.position.line, h.label) for h in hints] == [(0, "⟶ [2, 10]")]

    # the quick fix edits cell 3, at the diagnostic's line
    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=cells[2]), range=diag.range,
        context=lsp.CodeActionContext(diagnostics=[diag])))
    fixes = [a for a in actions if a.title.startswith("Use `out.mean().backward()`")]
    assert len(fixes) == 1 and list(fixes[0].diagnostics) == [diag]
    edits = edits_of(fixes[0])
    assert list(edits) == [cells[2]]
    [edit] = edits[cells[2]]
    assert edit.range == diag.range and edit.new_text == "out.mean().backward()"
    assert all(list(edits_of(a)) == [cells[2]] for a in actions)  # the ignore comment too

    # applying it through notebookDocument/didChange clears the diagnostic
    client.notebook_document_did_change(lsp.DidChangeNotebookDocumentParams(
        notebook_document=lsp.VersionedNotebookDocumentIdentifier(uri=tmp_path.joinpath("model.ipynb").resolve().as_uri(), version=2),
        change=lsp.NotebookDocumentChangeEvent(cells=lsp.NotebookDocumentCellChanges(text_content=[
            lsp.NotebookDocumentCellContentChanges(
                document=lsp.VersionedTextDocumentIdentifier(uri=cells[2], version=2),
                changes=[lsp.TextDocumentContentChangePartial(range=edit.range, text=edit.new_text)])]))))
    assert await diagnostics_for(client, cells[2], 2) == []


async def test_a_new_cell_moves_the_positions_and_closing_clears(client: LanguageClient, tmp_path):
    nb_uri, cells = open_notebook(client, tmp_path)
    await diagnostics_for(client, cells[2], 1)
    # a markdown cell and a code cell inserted before the model: the bug stays in its cell
    md = f"vscode-notebook-cell:{tmp_path.resolve()}/model.ipynb#X9"
    extra = f"vscode-notebook-cell:{tmp_path.resolve()}/model.ipynb#X10"
    client.notebook_document_did_change(lsp.DidChangeNotebookDocumentParams(
        notebook_document=lsp.VersionedNotebookDocumentIdentifier(uri=nb_uri, version=2),
        change=lsp.NotebookDocumentChangeEvent(cells=lsp.NotebookDocumentCellChanges(
            structure=lsp.NotebookDocumentCellChangeStructure(
                array=lsp.NotebookCellArrayChange(start=1, delete_count=0, cells=[
                    lsp.NotebookCell(kind=lsp.NotebookCellKind.Markup, document=md),
                    lsp.NotebookCell(kind=lsp.NotebookCellKind.Code, document=extra)]),
                did_open=[lsp.TextDocumentItem(uri=md, language_id="markdown", version=1, text="# Model\n"),
                          lsp.TextDocumentItem(uri=extra, language_id="python", version=1, text="x = 1\ny = 2\n")])))))
    client.notebook_document_did_change(lsp.DidChangeNotebookDocumentParams(
        notebook_document=lsp.VersionedNotebookDocumentIdentifier(uri=nb_uri, version=3),
        change=lsp.NotebookDocumentChangeEvent(cells=lsp.NotebookDocumentCellChanges(text_content=[
            lsp.NotebookDocumentCellContentChanges(
                document=lsp.VersionedTextDocumentIdentifier(uri=cells[2], version=2),
                changes=[lsp.TextDocumentContentChangePartial(
                    range=lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=0, character=0)),
                    text="# the training step\n")])]))))
    [diag] = await diagnostics_for(client, cells[2], 2)
    assert diag.code == "TL301" and diag.range.start.line == 2
    assert client.diagnostics.get(md) is None  # markdown cells get nothing
    client.notebook_document_did_close(lsp.DidCloseNotebookDocumentParams(
        notebook_document=lsp.NotebookDocumentIdentifier(uri=nb_uri),
        cell_text_documents=[lsp.TextDocumentIdentifier(uri=u) for u in cells + [md, extra]]))

    async def cleared():
        while client.diagnostics.get(cells[2]):
            await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    await asyncio.wait_for(cleared(), 20)


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="function")
async def puller(lsp_client: LanguageClient, tmp_path):
    @lsp_client.feature(lsp.CLIENT_REGISTER_CAPABILITY)
    def register(ls: LanguageClient, params: lsp.RegistrationParams) -> None:
        pass

    @lsp_client.feature(lsp.WORKSPACE_INLAY_HINT_REFRESH)
    def inlay_refresh(ls: LanguageClient, params: None) -> None:
        pass

    caps = client_capabilities("neovim@v0.11.0")  # pulls diagnostics
    caps.notebook_document = lsp.NotebookDocumentClientCapabilities(
        synchronization=lsp.NotebookDocumentSyncClientCapabilities(dynamic_registration=False))
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=caps, root_uri=tmp_path.resolve().as_uri()))
    yield
    await lsp_client.shutdown_session()


async def test_pulled_diagnostics_of_a_cell(puller: LanguageClient, tmp_path):
    _, cells = open_notebook(puller, tmp_path)
    reports = [await puller.text_document_diagnostic_async(lsp.DocumentDiagnosticParams(
        text_document=lsp.TextDocumentIdentifier(uri=u))) for u in cells]
    assert [[(d.code, d.range.start.line) for d in r.items] for r in reports] == [[], [], [("TL301", 1)]]


async def test_fix_all_over_two_cells_edits_each_cell(client: LanguageClient, tmp_path):
    """Safe fixes in cell 1 (a missing super().__init__()) and cell 2 (in_features
    1152 for 1352 arriving from 28x28 input in cell 3): Fix all is one edit per cell."""
    cells = [CELLS[0] + "\n\n\nclass Head(nn.Module):\n    def __init__(self):\n        self.fc = nn.Linear(4, 2)",
             CELLS[1], "out = model(torch.randn(2, 1, 28, 28))"]
    path = tmp_path / "model.ipynb"
    uris = [f"vscode-notebook-cell:{path.resolve()}#F{i}" for i in range(3)]
    client.notebook_document_did_open(lsp.DidOpenNotebookDocumentParams(
        notebook_document=lsp.NotebookDocument(uri=path.resolve().as_uri(), notebook_type="jupyter-notebook", version=1,
                                               cells=[lsp.NotebookCell(kind=lsp.NotebookCellKind.Code, document=u) for u in uris]),
        cell_text_documents=[lsp.TextDocumentItem(uri=u, language_id="python", version=1, text=t) for u, t in zip(uris, cells)]))
    assert [d.code for d in await diagnostics_for(client, uris[0], 1)] == ["TL104"]
    assert [d.code for d in await diagnostics_for(client, uris[1], 1)] == ["TL203"]
    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uris[1]),
        range=lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=0, character=0)),
        context=lsp.CodeActionContext(diagnostics=[], only=["source.fixAll"])))
    assert [a.kind for a in actions] == ["source.fixAll.torch-lsp"]
    edits = edits_of(actions[0])
    assert sorted(edits) == sorted(uris[:2])
    from test_server import apply

    fixed = [apply(cells[0], edits[uris[0]]), apply(cells[1], edits[uris[1]])]
    assert "super().__init__()" in fixed[0].split("class Head")[1]
    assert "nn.Linear(1352, 10)" in fixed[1]
    torch = pytest.importorskip("torch")
    namespace: dict = {}
    exec("\n".join(fixed + [cells[2], "Head()"]), namespace)  # runs now
    assert namespace["out"].shape == torch.Size([2, 10])


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="function")
async def vscode(lsp_client: LanguageClient, tmp_path):
    """VS Code's client as it is (vscode-languageclient 9.0.1): it can pull diagnostics
    (textDocument.diagnostic), and it syncs notebooks, but it pulls only for documents shown
    in text editor tabs: never for a notebook's cells (checked in real VS Code by
    tests/test_vscode_e2e.py)."""
    lsp_client.protocol.fm._features.pop(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, None)

    @lsp_client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(ls: LanguageClient, params: lsp.PublishDiagnosticsParams) -> None:
        lsp_client.diagnostics[params.uri] = params.diagnostics
        versions[params.uri] = params.version

    @lsp_client.feature(lsp.CLIENT_REGISTER_CAPABILITY)
    def register(ls: LanguageClient, params: lsp.RegistrationParams) -> None:
        pass

    @lsp_client.feature(lsp.WORKSPACE_INLAY_HINT_REFRESH)
    def inlay_refresh(ls: LanguageClient, params: None) -> None:
        pass

    versions.clear()
    caps = client_capabilities("visual-studio-code")
    caps.text_document.diagnostic = lsp.DiagnosticClientCapabilities(dynamic_registration=True, related_document_support=False)
    caps.workspace.diagnostics = lsp.DiagnosticWorkspaceClientCapabilities(refresh_support=True)
    caps.notebook_document = lsp.NotebookDocumentClientCapabilities(
        synchronization=lsp.NotebookDocumentSyncClientCapabilities(dynamic_registration=True, execution_summary_support=True))
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=caps, root_uri=tmp_path.resolve().as_uri()))
    yield
    await lsp_client.shutdown_session()


async def test_a_pulling_client_that_does_not_pull_cells_gets_them_pushed(vscode: LanguageClient, tmp_path):
    """A client that pulls diagnostics still gets a notebook's pushed per cell (VS Code showed no
    squiggle at all in a notebook); once it pulls a cell of that notebook, the server stops pushing
    for it and clears what it pushed (the client shows the pulled ones: no duplicates)."""
    nb_uri, cells = open_notebook(vscode, tmp_path)
    [diag] = await diagnostics_for(vscode, cells[2], 1)
    assert diag.code == "TL301" and diag.range.start.line == 1
    assert await diagnostics_for(vscode, cells[0], 1) == [] and await diagnostics_for(vscode, cells[1], 1) == []

    report = await vscode.text_document_diagnostic_async(lsp.DocumentDiagnosticParams(
        text_document=lsp.TextDocumentIdentifier(uri=cells[2])))
    assert [(d.code, d.range.start.line) for d in report.items] == [("TL301", 1)]

    async def cleared():
        while vscode.diagnostics.get(cells[2]):
            await vscode.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    await asyncio.wait_for(cleared(), 20)
    # an edit: the client pulls from now on, nothing is pushed for the notebook
    vscode.notebook_document_did_change(lsp.DidChangeNotebookDocumentParams(
        notebook_document=lsp.VersionedNotebookDocumentIdentifier(uri=nb_uri, version=2),
        change=lsp.NotebookDocumentChangeEvent(cells=lsp.NotebookDocumentCellChanges(text_content=[
            lsp.NotebookDocumentCellContentChanges(
                document=lsp.VersionedTextDocumentIdentifier(uri=cells[2], version=2),
                changes=[lsp.TextDocumentContentChangePartial(
                    range=lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=0, character=0)),
                    text="# the training step\n")])]))))
    report = await vscode.text_document_diagnostic_async(lsp.DocumentDiagnosticParams(
        text_document=lsp.TextDocumentIdentifier(uri=cells[2])))
    assert [(d.code, d.range.start.line) for d in report.items] == [("TL301", 2)]
    assert not vscode.diagnostics.get(cells[2]) and versions.get(cells[2]) != 2  # nothing pushed for version 2

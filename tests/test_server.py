"""The language server end to end: a real `torch-lsp serve` subprocess driven by
pytest-lsp, with VS Code's capabilities (push diagnostics, UTF-16) and Neovim
0.11's (pull diagnostics, UTF-8)."""
from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

SERVER = [sys.executable, "-m", "torch_lsp", "serve"]

BUGGY = textwrap.dedent("""\
    import torch
    import torch.nn as nn


    class Net(nn.Module):
        def __init__(self, hidden_dim=20):
            super().__init__()
            self.fc1 = nn.Linear(10, hidden_dim)
            self.fc2 = nn.Linear(30, 5)

        def forward(self, x):
            h = self.fc1(x)
            return self.fc2(h)


    model = Net(20)
    out = model(torch.randn(4, 10))
""")


def edits_of(action: lsp.CodeAction, uri: str) -> list[lsp.TextEdit]:
    """The edits of a code action for one document (versioned or not)."""
    edit = action.edit
    if edit.document_changes:
        return [e for dc in edit.document_changes if dc.text_document.uri == uri for e in dc.edits]
    return edit.changes[uri]


def uri_of(path: Path) -> str:
    return path.resolve().as_uri()


async def open_doc(client: LanguageClient, path: Path, text: str, version: int = 1) -> str:
    path.write_text(text, encoding="utf-8")
    uri = uri_of(path)
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        text_document=lsp.TextDocumentItem(uri=uri, language_id="python", version=version, text=text)))
    return uri


async def diagnostics_for(client: LanguageClient, uri: str, version: int, timeout: float = 20.0) -> list[lsp.Diagnostic]:
    """The pushed diagnostics of `uri` for document `version` (waiting for them)."""
    async def wait():
        while True:
            got = client.diagnostics.get(uri)
            if got is not None and client_versions.get(uri) == version:
                return list(got)
            await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return await asyncio.wait_for(wait(), timeout)


client_versions: dict[str, int | None] = {}


def _like_an_editor(client: LanguageClient) -> None:
    """What real clients answer that pytest-lsp's test client does not."""
    @client.feature(lsp.CLIENT_REGISTER_CAPABILITY)
    def register(ls: LanguageClient, params: lsp.RegistrationParams) -> None:
        registrations.extend(r.method for r in params.registrations)

    @client.feature(lsp.WORKSPACE_INLAY_HINT_REFRESH)
    def inlay_refresh(ls: LanguageClient, params: None) -> None:
        inlay_refreshes.append(1)


registrations: list[str] = []
inlay_refreshes: list[int] = []


def _track_versions(client: LanguageClient) -> None:
    # pytest-lsp's own handler keeps only the diagnostics; record the versions too.
    client.protocol.fm._features.pop(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, None)

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(ls: LanguageClient, params: lsp.PublishDiagnosticsParams) -> None:
        client.diagnostics[params.uri] = params.diagnostics
        client_versions[params.uri] = params.version
        published.append((params.uri, params.version, len(params.diagnostics)))


published: list[tuple[str, int | None, int]] = []


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="function")
async def vscode(lsp_client: LanguageClient, tmp_path):
    _track_versions(lsp_client)
    _like_an_editor(lsp_client)
    published.clear()
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        root_uri=tmp_path.resolve().as_uri()))
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="function")
async def neovim(lsp_client: LanguageClient, tmp_path):
    _like_an_editor(lsp_client)
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("neovim@v0.11.0"),
        root_uri=tmp_path.resolve().as_uri()))
    yield
    await lsp_client.shutdown_session()


# ----------------------------------------------------------------------------- diagnostics
async def test_diagnostics_on_open_carry_the_version(vscode: LanguageClient, tmp_path):
    uri = await open_doc(vscode, tmp_path / "net.py", BUGGY, version=3)
    diags = await diagnostics_for(vscode, uri, 3)
    assert [(d.code, d.range.start.line) for d in diags] == [("TL201", 8)]
    assert diags[0].source == "torch-lsp"
    assert "expects 30 input features" in diags[0].message


async def test_an_edit_updates_the_diagnostics(vscode: LanguageClient, tmp_path):
    uri = await open_doc(vscode, tmp_path / "net.py", BUGGY)
    await diagnostics_for(vscode, uri, 1)
    # fc2 = nn.Linear(30, 5)  ->  nn.Linear(20, 5): line 8, the `30`
    vscode.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[lsp.TextDocumentContentChangePartial(
            range=lsp.Range(start=lsp.Position(line=8, character=29), end=lsp.Position(line=8, character=31)), text="20")]))
    assert await diagnostics_for(vscode, uri, 2) == []


async def test_a_stale_result_never_wins(vscode: LanguageClient, tmp_path):
    uri = await open_doc(vscode, tmp_path / "net.py", BUGGY)
    good = BUGGY.replace("nn.Linear(30, 5)", "nn.Linear(hidden_dim, 5)")
    for v in range(2, 12):  # a burst of edits, alternating buggy and fixed
        text = good if v % 2 else BUGGY
        vscode.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=v),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)]))
    final = await diagnostics_for(vscode, uri, 11)
    assert final == []  # version 11 is the fixed text
    versions = [v for u, v, _ in published if u == uri]
    assert versions == sorted(versions), versions  # never an older version after a newer one
    await asyncio.sleep(0.5)
    assert client_versions[uri] == 11


async def test_closing_clears_the_diagnostics(vscode: LanguageClient, tmp_path):
    uri = await open_doc(vscode, tmp_path / "net.py", BUGGY)
    assert await diagnostics_for(vscode, uri, 1)
    vscode.text_document_did_close(lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri)))

    async def cleared():
        while vscode.diagnostics.get(uri):
            await vscode.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    await asyncio.wait_for(cleared(), 10)


async def test_neovim_pulls_diagnostics(neovim: LanguageClient, tmp_path):
    uri = await open_doc(neovim, tmp_path / "net.py", BUGGY)
    report = await neovim.text_document_diagnostic_async(lsp.DocumentDiagnosticParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri)))
    assert [d.code for d in report.items] == ["TL201"]
    assert uri not in neovim.diagnostics  # pulled, not pushed as well


# ----------------------------------------------------------------------------- hover
async def test_hover_on_a_tensor_shows_its_shape(vscode: LanguageClient, tmp_path):
    uri = await open_doc(vscode, tmp_path / "net.py", BUGGY)
    await diagnostics_for(vscode, uri, 1)
    hover = await vscode.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=11, character=8)))  # `h`
    assert hover is not None
    assert "Tensor[4, hidden_dim]" in hover.contents.value
    assert "self.fc1" in hover.contents.value


async def test_hover_on_a_layer_shows_its_signature_and_shapes(vscode: LanguageClient, tmp_path):
    uri = await open_doc(vscode, tmp_path / "net.py", BUGGY)
    await diagnostics_for(vscode, uri, 1)
    hover = await vscode.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=12, character=18)))  # self.fc2 in forward
    text = hover.contents.value
    assert "Linear(30 → 5)" in text
    assert "[5, 30]" in text  # weight
    assert "[*, 30]" in text  # what it expects


async def test_hover_on_a_diagnostic_shows_the_rule(vscode: LanguageClient, tmp_path):
    uri = await open_doc(vscode, tmp_path / "net.py", BUGGY)
    await diagnostics_for(vscode, uri, 1)
    hover = await vscode.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=8, character=29)))
    assert "TL201" in hover.contents.value


# ----------------------------------------------------------------------------- code actions
def apply(text: str, edits: list[lsp.TextEdit]) -> str:
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for ln in lines:
        offsets.append(offsets[-1] + len(ln))

    def off(p: lsp.Position) -> int:
        if p.line >= len(lines):
            return len(text)
        line = lines[p.line]
        return min(offsets[p.line] + p.character, offsets[p.line] + len(line.rstrip("\r\n")))

    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        a, b = off(e.range.start), off(e.range.end)
        if e.range.end.line >= len(lines):
            b = len(text)
        text = text[:a] + e.new_text + text[b:]
    return text


async def test_the_quick_fix_makes_the_diagnostic_go(vscode: LanguageClient, tmp_path):
    path = tmp_path / "net.py"
    uri = await open_doc(vscode, path, BUGGY)
    diags = await diagnostics_for(vscode, uri, 1)
    actions = await vscode.text_document_code_action_async(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), range=diags[0].range,
        context=lsp.CodeActionContext(diagnostics=diags)))
    preferred = [a for a in actions if a.is_preferred]
    assert len(preferred) == 1 and preferred[0].kind == lsp.CodeActionKind.QuickFix
    assert any("torch-lsp: ignore[TL201]" in e.new_text for a in actions for e in edits_of(a, uri))
    fixed = apply(BUGGY, edits_of(preferred[0], uri))
    vscode.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=fixed)]))
    assert await diagnostics_for(vscode, uri, 2) == []


async def test_fix_all(vscode: LanguageClient, tmp_path):
    text = BUGGY.replace("        super().__init__()\n", "")
    uri = await open_doc(vscode, tmp_path / "net.py", text)
    assert {d.code for d in await diagnostics_for(vscode, uri, 1)} >= {"TL104"}
    actions = await vscode.text_document_code_action_async(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), range=lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=0, character=0)),
        context=lsp.CodeActionContext(diagnostics=[], only=["source.fixAll"])))
    assert [a.kind for a in actions] == ["source.fixAll.torch-lsp"]
    fixed = apply(text, edits_of(actions[0], uri))
    assert "super().__init__()" in fixed
    vscode.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=fixed)]))
    left = await diagnostics_for(vscode, uri, 2)
    assert not [d for d in left if d.code == "TL104"]


async def test_fix_all_keeps_crlf_line_endings(vscode: LanguageClient, tmp_path):
    """The inserted `super().__init__()` line ends as the file's lines do (the server's
    Fix all used to insert a bare newline into a CRLF file)."""
    text = BUGGY.replace("        super().__init__()\n", "").replace("\n", "\r\n")
    uri = await open_doc(vscode, tmp_path / "net.py", text)
    assert {d.code for d in await diagnostics_for(vscode, uri, 1)} >= {"TL104"}
    actions = await vscode.text_document_code_action_async(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), range=lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=0, character=0)),
        context=lsp.CodeActionContext(diagnostics=[], only=["source.fixAll"])))
    fixed = apply(text, edits_of(actions[0], uri))
    assert "super().__init__()\r\n" in fixed
    assert "\n" not in fixed.replace("\r\n", "")


# ----------------------------------------------------------------------------- inlay hints
async def test_inlay_hints_show_shapes_after_assignments(neovim: LanguageClient, tmp_path):
    uri = await open_doc(neovim, tmp_path / "net.py", BUGGY)
    hints = await neovim.text_document_inlay_hint_async(lsp.InlayHintParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        range=lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=20, character=0))))
    by_line = {h.position.line: h.label for h in hints}
    assert by_line[11] == "⟶ [4, hidden_dim]"
    # fc2 cannot take h: what the call would return is unknown (it raises), so no hint
    assert 16 not in by_line


# ----------------------------------------------------------------------------- positions
NON_ASCII = textwrap.dedent("""\
    import torch
    import torch.nn as nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(10, 20)  # 🙂 größe
            self.fc2 = nn.Linear(30, 5)

        def forward(self, x):
            h = self.fc1(x)
            msg = "日本語🙂"; y = torch.relu(h)
            return self.fc2(y)


    model = Net()
    out = model(torch.randn(4, 10))
""")


async def _non_ascii_positions(client: LanguageClient, tmp_path, units) -> None:
    uri = await open_doc(client, tmp_path / "u.py", NON_ASCII)
    if uri in client.diagnostics or client.capabilities.text_document.diagnostic is None:
        diags = await diagnostics_for(client, uri, 1)
    else:
        diags = (await client.text_document_diagnostic_async(lsp.DocumentDiagnosticParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri)))).items
    assert [d.code for d in diags] == ["TL201"]
    # the diagnostic is at `30` on line 8 (ASCII before it)
    assert diags[0].range.start == lsp.Position(line=8, character=29)
    # `y` after the string literal on line 12: its column depends on the encoding
    line = NON_ASCII.splitlines()[12]
    col = units(line[: line.index("y = ")])
    hover = await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=12, character=col)))
    assert hover is not None and "Tensor[4, 20]" in hover.contents.value
    assert hover.range.start.character == col


async def test_non_ascii_positions_in_utf16(vscode: LanguageClient, tmp_path):
    await _non_ascii_positions(vscode, tmp_path, lambda s: len(s.encode("utf-16-le")) // 2)


async def test_non_ascii_positions_in_utf8(neovim: LanguageClient, tmp_path):
    await _non_ascii_positions(neovim, tmp_path, lambda s: len(s.encode("utf-8")))


# ----------------------------------------------------------------------------- syntax errors
TWO_CLASSES = textwrap.dedent("""\
    import torch
    import torch.nn as nn


    class A(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(10, 20)

        def forward(self, x):
            return self.fc(x) @ torch.randn(3, 5)


    class B(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(10, 20)
            self.fc2 = nn.Linear(30, 5)

        def forward(self, x):
            return self.fc2(self.fc1(x))
""")


async def test_a_syntax_error_keeps_the_other_diagnostics(vscode: LanguageClient, tmp_path):
    """`nn.ModuleList(` typed into A's __init__: the other class's bug and A's bug in
    another method stay; the syntax error is shown where it is (TL000, on by default)."""
    uri = await open_doc(vscode, tmp_path / "net.py", TWO_CLASSES)
    assert [(d.code, d.range.start.line) for d in await diagnostics_for(vscode, uri, 1)] == [("TL205", 10), ("TL201", 17)]
    vscode.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[lsp.TextDocumentContentChangePartial(
            range=lsp.Range(start=lsp.Position(line=8, character=0), end=lsp.Position(line=8, character=0)),
            text="        self.layers = nn.ModuleList(\n")]))
    diags = await diagnostics_for(vscode, uri, 2)
    assert [(d.code, d.range.start.line) for d in diags] == [("TL000", 8), ("TL205", 11), ("TL201", 18)]
    assert "'(' was never closed" in diags[0].message
    # a half-written method in B: B's own bug in __init__ stays
    broken = TWO_CLASSES + "\n    def half(self):\n        return self.\n"
    vscode.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=3),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=broken)]))
    assert [d.code for d in await diagnostics_for(vscode, uri, 3)] == ["TL205", "TL201", "TL000"]


async def test_syntax_errors_can_be_turned_off(neovim: LanguageClient, tmp_path):
    neovim.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(
        settings={"torch-lsp": {"reportSyntaxErrors": False}}))
    uri = await open_doc(neovim, tmp_path / "net.py", TWO_CLASSES + "\nx = (\n")
    report = await neovim.text_document_diagnostic_async(lsp.DocumentDiagnosticParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri)))
    assert [d.code for d in report.items] == ["TL205", "TL201"]


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="function")
async def configured(lsp_client: LanguageClient, tmp_path):
    """VS Code's capabilities plus settings: syntax errors on, TL201 ignored, no hints."""
    _track_versions(lsp_client)
    _like_an_editor(lsp_client)
    lsp_client.set_configuration({"reportSyntaxErrors": True, "ignore": ["TL201"], "inlayHints": False}, section="torch-lsp")
    caps = client_capabilities("visual-studio-code")
    caps.workspace.configuration = True
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=caps, root_uri=tmp_path.resolve().as_uri()))
    yield
    await lsp_client.shutdown_session()


async def test_settings_from_workspace_configuration(configured: LanguageClient, tmp_path):
    uri = await open_doc(configured, tmp_path / "net.py", BUGGY + "\nx = (\n")
    # the settings arrive after `initialized`; the last published version-1 result uses them
    await asyncio.sleep(1.0)
    diags = await diagnostics_for(configured, uri, 1)
    assert [d.code for d in diags] == ["TL000"]  # TL201 ignored, the syntax error reported


async def test_changed_configuration_applies_at_once(vscode: LanguageClient, tmp_path):
    uri = await open_doc(vscode, tmp_path / "net.py", BUGGY)
    assert [d.code for d in await diagnostics_for(vscode, uri, 1)] == ["TL201"]
    published.clear()
    vscode.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(settings={"torch-lsp": {"ignore": ["TL2"]}}))

    async def quiet():
        while not (published and published[-1][2] == 0):
            await vscode.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    await asyncio.wait_for(quiet(), 10)


async def test_a_bad_setting_is_shown_and_the_others_apply(vscode: LanguageClient, tmp_path):
    uri = await open_doc(vscode, tmp_path / "net.py", BUGGY)
    assert [d.code for d in await diagnostics_for(vscode, uri, 1)] == ["TL201"]
    published.clear()
    vscode.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(
        settings={"torch-lsp": {"ignore": ["TL2"], "maxFileSize": "2 MB"}}))

    async def quiet():
        while not (published and published[-1][2] == 0):
            await vscode.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    await asyncio.wait_for(quiet(), 10)  # `ignore` applied
    shown = [m.message for m in vscode.messages if m.type == lsp.MessageType.Warning]
    assert shown == ["torch-lsp: 1 setting(s) ignored: `maxFileSize` must be an integer, not a string; ignored"]


async def test_pyproject_settings_are_reloaded_when_it_changes(vscode: LanguageClient, tmp_path):
    uri = await open_doc(vscode, tmp_path / "net.py", BUGGY)
    assert [d.code for d in await diagnostics_for(vscode, uri, 1)] == ["TL201"]
    (tmp_path / "pyproject.toml").write_text('[tool.torch-lsp]\nignore = ["TL201"]\n')
    published.clear()
    vscode.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams(changes=[
        lsp.FileEvent(uri=(tmp_path / "pyproject.toml").as_uri(), type=lsp.FileChangeType.Created)]))

    async def quiet():
        while not (published and published[-1][2] == 0):
            await vscode.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    await asyncio.wait_for(quiet(), 10)
    assert lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES in registrations


# ----------------------------------------------------------------------------- cross-file
LAYERS = textwrap.dedent("""\
    import torch.nn as nn


    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(10, 20)

        def forward(self, x):
            return self.fc(x)
""")

USES = textwrap.dedent("""\
    import torch
    import torch.nn as nn
    from layers import Block


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = Block()
            self.head = nn.Linear(20, 5)

        def forward(self, x):
            return self.head(self.block(x))


    out = Net()(torch.randn(4, 10))
""")


async def test_a_class_from_another_file_is_followed_and_its_edits_update_dependents(vscode: LanguageClient, tmp_path):
    (tmp_path / "layers.py").write_text(LAYERS)
    uri = await open_doc(vscode, tmp_path / "net.py", USES)
    assert await diagnostics_for(vscode, uri, 1) == []
    hover = await vscode.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=12, character=34)))  # self.block(x)
    assert hover is not None and "Tensor[4, 20]" in hover.contents.value
    layers_uri = await open_doc(vscode, tmp_path / "layers.py", LAYERS)
    await diagnostics_for(vscode, layers_uri, 1)
    published.clear()
    vscode.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=layers_uri, version=2),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=LAYERS.replace("nn.Linear(10, 20)", "nn.Linear(10, 30)"))]))

    async def updated():
        while True:
            got = vscode.diagnostics.get(uri) or []
            if [d.code for d in got] == ["TL201"]:
                return got
            await vscode.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    diags = await asyncio.wait_for(updated(), 15)
    assert "expects 20" in diags[0].message


async def test_a_dependency_changed_on_disk_updates_its_dependents(vscode: LanguageClient, tmp_path):
    # layers.py is not open: the editor's file watcher reports its change on disk.
    (tmp_path / "layers.py").write_text(LAYERS)
    uri = await open_doc(vscode, tmp_path / "net.py", USES)
    assert await diagnostics_for(vscode, uri, 1) == []
    (tmp_path / "layers.py").write_text(LAYERS.replace("nn.Linear(10, 20)", "nn.Linear(10, 30)"))
    vscode.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams(changes=[
        lsp.FileEvent(uri=(tmp_path / "layers.py").as_uri(), type=lsp.FileChangeType.Changed)]))

    async def updated():
        while [d.code for d in vscode.diagnostics.get(uri) or []] != ["TL201"]:
            await vscode.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    await asyncio.wait_for(updated(), 15)
    # ... and a deleted dependency makes the class unknown again: silence.
    (tmp_path / "layers.py").unlink()
    vscode.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams(changes=[
        lsp.FileEvent(uri=(tmp_path / "layers.py").as_uri(), type=lsp.FileChangeType.Deleted)]))

    async def silent():
        while vscode.diagnostics.get(uri):
            await vscode.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    await asyncio.wait_for(silent(), 15)


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="function")
async def neovim_refresh(lsp_client: LanguageClient, tmp_path):
    """Neovim 0.11's capabilities plus workspace/diagnostic/refresh support."""
    _like_an_editor(lsp_client)
    caps = client_capabilities("neovim@v0.11.0")
    caps.workspace.diagnostics = lsp.DiagnosticWorkspaceClientCapabilities(refresh_support=True)
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=caps, root_uri=tmp_path.resolve().as_uri()))
    yield
    await lsp_client.shutdown_session()


async def test_a_pulling_client_is_asked_to_pull_again_after_a_settings_change(neovim_refresh: LanguageClient, tmp_path):
    neovim = neovim_refresh
    uri = await open_doc(neovim, tmp_path / "net.py", BUGGY)
    report = await neovim.text_document_diagnostic_async(lsp.DocumentDiagnosticParams(text_document=lsp.TextDocumentIdentifier(uri=uri)))
    assert [d.code for d in report.items] == ["TL201"]
    before = neovim.diagnostic_refresh_count
    neovim.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(settings={"torch-lsp": {"ignore": ["TL201"]}}))

    async def refreshed():
        while neovim.diagnostic_refresh_count == before:
            await asyncio.sleep(0.05)
    await asyncio.wait_for(refreshed(), 10)
    report = await neovim.text_document_diagnostic_async(lsp.DocumentDiagnosticParams(text_document=lsp.TextDocumentIdentifier(uri=uri)))
    assert list(report.items) == []

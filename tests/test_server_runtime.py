"""The language server's runtime evaluation (TL901, evaluated shapes in hovers and
inlay hints), end to end with a real `torch-lsp serve` and its torch worker."""
from __future__ import annotations

import asyncio
import importlib.util
import sys
import time

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from test_runtime import CHANNELS_FROM_A_STRING, CLEAN, _hostile
from test_runtime_entries import PINNED, SEQUENTIAL_BUILDER
from test_server import SERVER, _like_an_editor, _track_versions, open_doc

pytestmark = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                reason="the runtime worker needs torch (pip install -e '.[torch]')")


async def _session(client: LanguageClient, tmp_path, options: dict) -> None:
    _track_versions(client)
    _like_an_editor(client)
    await client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=tmp_path.resolve().as_uri(),
        initialization_options=options))


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="function")
async def evaluating(lsp_client: LanguageClient, tmp_path):
    await _session(lsp_client, tmp_path, {"runtime": {"enabled": True, "timeout": 60}})
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="function")
async def untrusted(lsp_client: LanguageClient, tmp_path):
    await _session(lsp_client, tmp_path, {"runtime": {"enabled": True}, "workspaceTrusted": False})
    yield
    await lsp_client.shutdown_session()


async def _codes(client: LanguageClient, uri: str, want: list[str], timeout: float = 90) -> list[lsp.Diagnostic]:
    async def wait():
        while [d.code for d in client.diagnostics.get(uri) or []] != want:
            await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        return client.diagnostics[uri]
    return await asyncio.wait_for(wait(), timeout)


async def _hover(client: LanguageClient, uri: str, line: int, character: int) -> str:
    h = await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=line, character=character)))
    return h.contents.value if h is not None else ""


async def test_tl901_is_published_where_torch_raised(evaluating: LanguageClient, tmp_path):
    uri = await open_doc(evaluating, tmp_path / "net.py", CHANNELS_FROM_A_STRING)
    (d,) = await _codes(evaluating, uri, ["TL901"])
    assert d.range.start.line == 19 and "in_channels=32" in d.message
    assert "TL901" in await _hover(evaluating, uri, 19, 17)  # on `self.body`: the rule


async def test_evaluated_shapes_in_hovers_and_inlay_hints(evaluating: LanguageClient, tmp_path):
    uri = await open_doc(evaluating, tmp_path / "clean.py", CLEAN)
    deadline = time.monotonic() + 90
    text = ""
    while "evaluated on meta tensors" not in text and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        text = await _hover(evaluating, uri, 20, 8)  # `h` in `h = h.mean(dim=(2, 3))`
    assert "`h` is `[2, 32]` after this line" in text
    hints = await evaluating.text_document_inlay_hint_async(lsp.InlayHintParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        range=lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=30, character=0))))
    labels = {h.position.line: h.label for h in hints}
    assert labels[19] == "⟶ [2, 32, 16, 16] (evaluated)"  # h = self.body(x): channels from a string
    assert not evaluating.diagnostics.get(uri)


async def test_a_model_nobody_calls_is_evaluated_with_an_inferred_input(evaluating: LanguageClient, tmp_path):
    uri = await open_doc(evaluating, tmp_path / "head.py", SEQUENTIAL_BUILDER)
    (d,) = await _codes(evaluating, uri, ["TL901"])
    assert "`make_head()`" in d.message and "inferred [2, 10]" in d.message
    # a clean class of the file: evaluated too, its shapes in hovers, no diagnostic
    clean = await open_doc(evaluating, tmp_path / "vit.py", PINNED)
    line = PINNED.splitlines().index("        x = x + self.pos")
    deadline = time.monotonic() + 90
    text = ""
    while "evaluated on meta tensors" not in text and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        text = await _hover(evaluating, clean, line, 8)
    assert "`x` is `[2, 16, 16]` after this line" in text
    assert not evaluating.diagnostics.get(clean)


async def test_hovers_are_answered_while_an_evaluation_runs(evaluating: LanguageClient, tmp_path):
    started_marker = tmp_path / "forward-started"
    slow = _hostile(forward=f"        import pathlib, time\n        pathlib.Path({str(started_marker)!r}).touch()\n"
                            f"        time.sleep(600)")
    uri = await open_doc(evaluating, tmp_path / "slow.py", slow)
    deadline = time.monotonic() + 120  # (the worker imports torch first: slow on a loaded machine)
    while not started_marker.exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert started_marker.exists(), "the evaluation never reached forward"
    started = time.monotonic()
    await _hover(evaluating, uri, 14, 15)
    assert time.monotonic() - started < 2
    # a newer version cancels the evaluation: the TL901 of the new text comes without waiting
    # the 600 s the old one sleeps (the bound is loose: a loaded machine is slow, not wrong)
    evaluating.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=CHANNELS_FROM_A_STRING)]))
    started = time.monotonic()
    await _codes(evaluating, uri, ["TL901"], timeout=180)
    assert time.monotonic() - started < 180


async def test_no_evaluation_in_an_untrusted_workspace_until_it_is_trusted(untrusted: LanguageClient, tmp_path):
    uri = await open_doc(untrusted, tmp_path / "net.py", CHANNELS_FROM_A_STRING)
    await asyncio.sleep(6)
    assert [d.code for d in untrusted.diagnostics.get(uri) or []] == []
    # settings that do not mention trust keep the workspace untrusted (trust is sticky)
    untrusted.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(
        settings={"torch-lsp": {"runtime": {"enabled": True}}}))
    await asyncio.sleep(4)
    assert [d.code for d in untrusted.diagnostics.get(uri) or []] == []
    # the user trusts the workspace (the VS Code extension then sends the settings again)
    untrusted.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(
        settings={"torch-lsp": {"runtime": {"enabled": True}, "workspaceTrusted": True}}))
    await _codes(untrusted, uri, ["TL901"])


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="function")
async def evaluating_until_shut_down(lsp_client: LanguageClient, tmp_path):
    await _session(lsp_client, tmp_path, {"runtime": {"enabled": True, "timeout": 600}})
    yield
    if lsp_client.capabilities is not None and not getattr(lsp_client, "shut_down_by_the_test", False):
        await lsp_client.shutdown_session()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux (/proc, child subreapers)")
async def test_shutting_the_server_down_ends_what_the_evaluated_code_started(evaluating_until_shut_down: LanguageClient,
                                                                            tmp_path):
    """Processes the model's code started in sessions of their own (and a double-forked
    daemon) while its evaluation runs end when the server shuts down (issue 13)."""
    from test_runtime import _all_ended, _spawning, _started

    text, pids_file = _spawning(tmp_path, "        time.sleep(600)")
    await open_doc(evaluating_until_shut_down, tmp_path / "spawns.py", text)
    pids = await asyncio.get_running_loop().run_in_executor(None, _started, pids_file, 6, 120)
    evaluating_until_shut_down.shut_down_by_the_test = True
    await asyncio.wait_for(evaluating_until_shut_down.shutdown_session(), 60)
    assert _all_ended(pids) == []

"""Memory and scale in the server (issue 13): documents not used lately keep only what
hovers, inlay hints and code actions read, and answer exactly as before; what a
shrunk or closed document no longer needs is released; a document over the size
limit is not analysed (one information diagnostic and a log message say why) and
the others keep answering; nothing is submitted to the analysis thread after
shutdown."""
from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from lsprotocol import types as lsp

from test_server_bad_input import BUGGY, Raw, hover, open_doc
from torch_lsp import engine
from torch_lsp.analysis.diagnostics import Position
from torch_lsp.analysis.incremental import IncrementalParser
from torch_lsp.analysis.project import Project
from torch_lsp.analysis.query import ShapeQuery
from torch_lsp.analysis.units import UnitCache
from torch_lsp.lsp.hover import hover_markdown
from torch_lsp.server import DocState, ShapeSnapshot, TorchLanguageServer, create_server

ROOT = Path(__file__).resolve().parent.parent
MODELS = sorted(ROOT.glob("examples/*.py")) + sorted(ROOT.glob("tests/e2e/*.py"))


def _analysed(text: str, path: str):
    src = IncrementalParser(path).parse(text)
    ctx, diags = engine.analyse(src, Project(use_jedi=False), None, record_shapes=True, unit_cache=UnitCache())
    return src, ctx, engine.finish(src, diags, None)


def _positions(text: str):
    for line, content in enumerate(text.split("\n")):
        for col in range(len(content) + 2):
            yield line, col


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_a_snapshot_answers_every_position_as_the_analysis_does(path):
    text = path.read_text(encoding="utf-8")
    src, ctx, _ = _analysed(text, str(path))
    query, snapshot = ShapeQuery(ctx), ShapeSnapshot(ShapeQuery(ctx))
    shapes = layers = 0
    for line, col in _positions(text):
        at = snapshot.at(line, col)
        assert at == query.at(line, col), (line, col)
        layer = snapshot.layer_at(line, col)
        assert layer == query.layer_at(line, col), (line, col)
        shapes, layers = shapes + (at is not None), layers + (layer is not None)
    assert snapshot.assignment_hints() == query.assignment_hints()
    assert shapes > 0 and (layers > 0 or not query._layer_entries)
    ctx.release()


# ----------------------------------------------------------------------------- in process
def _server(tmp_path: Path, full: int) -> TorchLanguageServer:
    ls = create_server()
    ls.project = Project([str(tmp_path)], use_jedi=False)
    ls.pull = True  # (nothing is pushed: there is no client)
    ls.full_documents = full
    ls._loop = asyncio.new_event_loop()
    return ls


def _open(ls: TorchLanguageServer, path: Path, text: str) -> DocState:
    path.write_text(text, encoding="utf-8")
    state = DocState.open(path.as_uri(), str(path), 1, text)
    ls.docs[state.uri] = state
    ls._counter += 1
    state.touched = state.used = ls._counter
    return state


def _analyse(ls: TorchLanguageServer, state: DocState, text: str | None = None) -> None:
    """What an edit and its analysis do (the event loop's part without a client)."""
    if text is not None:
        state.update(text, state.version + 1)
        ls._counter += 1
        state.touched = state.used = ls._counter
    state.serial += 1
    result = ls._job(state, state.serial)
    previous, state.result = state.result, result
    ls._release(previous)


def _run_loop(ls: TorchLanguageServer) -> None:
    ls._loop.run_until_complete(asyncio.sleep(0))


def _hovers(result, text: str) -> list:
    return [hover_markdown(result.query, result.diagnostics, Position(line, col)) for line, col in _positions(text)]


def test_documents_not_used_lately_keep_only_what_hovers_read(tmp_path):
    ls = _server(tmp_path, full=2)
    texts = {p.name: p.read_text(encoding="utf-8") for p in MODELS[:4]}
    states = [_open(ls, tmp_path / name, text) for name, text in texts.items()]
    for state in reversed(states):  # the most recently opened first, as the queue does
        _analyse(ls, state)
    first, second, third, fourth = states
    for state in (third, fourth):  # the two most recently used: whole
        assert not state.result.compact and state.result.ctx is not None
        assert state.parser is not None and state.units is not None
    for state in (first, second):  # the others: compact, no parser, no unit cache
        assert state.result.compact and state.result.ctx is None and state.result.src.tree is None
        assert state.parser is None and state.units is None
    assert any(h is not None and "Tensor[" in h[0] for h in _hovers(first.result, first.text))
    for state in states:  # every answer is the analysis' own
        text = state.text
        _, ctx, diags = _analysed(text, state.path)
        assert state.result.diagnostics == diags
        fresh = ShapeQuery(ctx)
        assert _hovers(state.result, text) == [hover_markdown(fresh, diags, Position(line, col))
                                                for line, col in _positions(text)]
        assert state.result.query.assignment_hints() == fresh.assignment_hints()
        ctx.release()

    # An edit of a compact document: parsed and analysed whole, then whole again.
    edited = first.text.replace("\n\n", "\n\n\n", 1)
    _analyse(ls, first, edited)
    assert not first.result.compact and not first.parser.last_was_incremental
    assert [(d.code, d.range, d.message) for d in first.result.diagnostics] == \
        [(d.code, d.range, d.message) for d in engine.check_source(edited, first.path, project=Project(use_jedi=False)).diagnostics]
    assert first.result.source().tree is not None

    # The document that fell out of the two most recently used gives back its analysis
    # between two analyses (on the analysis thread), and still answers.
    assert ls._full_uris() == {first.uri, fourth.uri}
    before = _hovers(third.result, third.text)
    ls._trim()
    ls.executor.submit(lambda: None).result(timeout=60)  # the compaction job has run
    _run_loop(ls)
    assert third.result.compact and third.parser is None and third.units is None
    assert _hovers(third.result, third.text) == before
    assert not fourth.result.compact and not first.result.compact
    ls.executor.shutdown()


def test_a_shrunk_or_closed_document_gives_its_memory_back(tmp_path):
    ls = _server(tmp_path, full=4)
    base = (ROOT / "examples" / "vit_tiny.py").read_text(encoding="utf-8")
    chunk = "".join("\n" + p.read_text(encoding="utf-8") for p in sorted((ROOT / "tests" / "e2e").glob("*.py"))) * 3
    state = _open(ls, tmp_path / "m.py", base)
    _analyse(ls, state)
    tracemalloc.start()
    try:
        def traced() -> float:
            gc.collect()
            return tracemalloc.get_traced_memory()[0]

        _analyse(ls, state, base + "\n")
        _analyse(ls, state, base)
        start = traced()
        for _ in range(3):
            _analyse(ls, state, base + chunk)
            grown = traced()
            _analyse(ls, state, base)
            after = traced()
            assert grown - start > 2_000_000  # (the pasted code was analysed)
            assert after - start < 0.05 * (grown - start), (start, grown, after)
        # The unit cache keeps what the last version used, nothing of the pasted code.
        fresh = UnitCache()
        engine.analyse(IncrementalParser(state.path).parse(base), Project(use_jedi=False), None,
                       record_shapes=True, unit_cache=fresh)[0].release()
        def sizes(units: UnitCache) -> tuple[int, ...]:
            return (len(units.words), len(units.calls), len(units.refs), len(units.code_words), len(units.infos))

        assert sizes(state.units) == sizes(fresh)
        del fresh

        close = ls.protocol.fm.features[lsp.TEXT_DOCUMENT_DID_CLOSE]
        close(lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=state.uri)))
        ls.executor.submit(lambda: None).result(timeout=60)  # the overlay is dropped
        assert state.result is None and state.uri not in ls.docs
        del state
        assert traced() < start
    finally:
        tracemalloc.stop()
        ls.executor.shutdown()


def test_the_size_limits():
    ls = TorchLanguageServer()
    assert ls._too_large("x = 1\n" * 1000) is None
    assert "2 MB" in ls._too_large("x = 1\n" * 400_000)  # 2.4 MB
    assert "100,000" in ls._too_large("x\n" * 150_000)  # 0.3 MB, too many lines
    assert ls._too_large("é" * 600_000) is None and ls._too_large("é" * 1_100_000) is not None  # bytes, not characters
    ls.settings.max_file_size = ls.settings.max_file_lines = 0  # no limit
    assert ls._too_large("x = 1\n" * 400_000) is None
    ls.executor.shutdown()


def test_submitting_after_shutdown_does_not_raise(tmp_path):
    ls = _server(tmp_path, full=4)
    state = _open(ls, tmp_path / "m.py", BUGGY)
    ls.executor.shutdown(wait=True)  # without the flag: the executor refuses
    assert ls.submit(print) is False
    ls._loop.run_until_complete(asyncio.sleep(0))
    asyncio.set_event_loop(ls._loop)
    ls.schedule(state.uri)  # refused quietly; nothing is draining
    assert ls._draining is False
    ls._analyse_next()  # its own resubmission is refused quietly too
    assert ls._draining is False
    ls.shutting_down = True
    ls.schedule(state.uri)
    assert ls.submit(print) is False


# ----------------------------------------------------------------------------- end to end
class Server(Raw):
    """Raw, with the server's stderr kept."""

    def __init__(self, root: Path):
        self.proc = subprocess.Popen([sys.executable, "-m", "torch_lsp", "serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=root)
        self.next_id = 0
        self.buffer = b""
        self.notifications: list[dict] = []


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path)
    yield s
    s.close()


def _initialize(s: Server, root: Path, options=None) -> None:
    rid = s.send("initialize", {"processId": os.getpid(), "rootUri": root.as_uri(), "capabilities": {},
                                "initializationOptions": options})
    assert "result" in s.response(rid)
    s.send("initialized", {}, request=False)


def test_a_file_over_the_size_limit_is_not_analysed_and_the_others_keep_answering(server, tmp_path):
    _initialize(server, tmp_path, {"maxFileSize": 200_000})
    big = (tmp_path / "big.py").as_uri()
    body = "".join(BUGGY.replace("class Net", f"class Net{i}") for i in range(1200))  # ~290 KB, 13,200 lines
    open_doc(server, big, body)
    small = (tmp_path / "small.py").as_uri()
    open_doc(server, small, BUGGY)
    [note] = server.diagnostics(big, 1)
    assert note["severity"] == 3 and "code" not in note and note["range"]["start"] == {"line": 0, "character": 0}
    assert "does not analyse" in note["message"] and "maxFileSize" in note["message"]
    assert [d["code"] for d in server.diagnostics(small, 1)] == ["TL201"]
    assert hover(server, small, 10, 18)["result"] is not None  # `self.b`
    logs = [n["params"]["message"] for n in server.notifications if n["method"] == "window/logMessage"]
    assert any("big.py is not analysed" in m for m in logs)
    rid = server.send("textDocument/codeAction", {"textDocument": {"uri": big}, "range": note["range"],
                                                  "context": {"diagnostics": [note]}})
    assert server.response(rid)["result"] == []  # nothing to fix or ignore
    # Under the limit again: analysed.
    server.send("textDocument/didChange", {"textDocument": {"uri": big, "version": 2},
                                           "contentChanges": [{"text": BUGGY}]}, request=False)
    assert [d["code"] for d in server.diagnostics(big, 2)] == ["TL201"]


def test_no_error_when_shutdown_comes_during_a_burst(server, tmp_path):
    _initialize(server, tmp_path)
    uris = []
    for i in range(6):
        uri = (tmp_path / f"m{i}.py").as_uri()
        open_doc(server, uri, BUGGY.replace("30, 5", f"{30 + i}, 5"))
        uris.append(uri)
    for version in range(2, 12):
        for uri in uris:
            server.send("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [
                {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "#\n"}]},
                request=False)
    rid = server.send("shutdown")
    server.response(rid)
    server.send("exit", request=False)
    assert server.proc.wait(30) == 0
    stderr = server.proc.stderr.read().decode(errors="replace")
    assert "Traceback" not in stderr and "ERROR" not in stderr and "cannot schedule" not in stderr, stderr
    errors = [n for n in server.notifications if n["method"] == "window/logMessage" and n["params"]["type"] == 1]
    assert errors == []

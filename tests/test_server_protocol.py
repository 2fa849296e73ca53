"""The server's protocol, byte for byte: its copy of a document equals the editor's
under the LSP's line model (only \\n, \\r\\n, \\r end lines; a column past a line's end
is its end), every request gets exactly one answer (InvalidParams for params that
cannot be read, InvalidRequest after shutdown, MethodNotFound for unknown methods),
a message without headers costs only that message, and the exit code follows
shutdown/exit. A raw JSON-RPC client over stdio: pytest-lsp cannot send broken
messages."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
from lsprotocol import types as lsp

from torch_lsp.lsp.documents import Document

SERVER = [sys.executable, "-P", "-m", "torch_lsp", "serve"]


# ----------------------------------------------------------------------------- the document model
def change(sl: int, sc: int, el: int, ec: int, text: str) -> lsp.TextDocumentContentChangePartial:
    return lsp.TextDocumentContentChangePartial(
        range=lsp.Range(start=lsp.Position(line=sl, character=sc), end=lsp.Position(line=el, character=ec)), text=text)


@pytest.mark.parametrize("before, edit, encoding, after", [
    # a form feed (str.splitlines would split there): the edit two lines below lands on line 2
    ("x = 1\n# \x0c comment\ny = 2\n", (2, 0, 2, 0, "Z"), "utf-16", "x = 1\n# \x0c comment\nZy = 2\n"),
    ("a\u2028b\nc\n", (1, 0, 1, 1, "C"), "utf-16", "a\u2028b\nC\n"),
    ("a\x1cb\x85c\nd", (1, 0, 1, 0, "!"), "utf-8", "a\x1cb\x85c\n!d"),
    # past the end of a line means its end
    ("x = 1\ny = 2\n", (0, 9, 0, 9, "2"), "utf-16", "x = 12\ny = 2\n"),
    ("x = 1\ny = 2\n", (0, 6, 1, 0, ""), "utf-16", "x = 1y = 2\n"),
    # past the last line means the end of the document
    ("a\r\nb", (7, 0, 9, 3, "!"), "utf-16", "a\r\nb!"),
    # \r\n is one line end, \r alone is one
    ("a\r\nb\rc\n", (2, 0, 2, 1, "C"), "utf-16", "a\r\nb\rC\n"),
    # columns in the negotiated units
    ("🙂x\n", (0, 2, 0, 3, "y"), "utf-16", "🙂y\n"),
    ("🙂x\n", (0, 4, 0, 5, "y"), "utf-8", "🙂y\n"),
    ("🙂x\n", (0, 1, 0, 2, "y"), "utf-32", "🙂y\n"),
    ("é = 1\n", (0, 2, 0, 2, "x"), "utf-8", "éx = 1\n"),
])
def test_a_change_lands_where_the_editor_put_it(before, edit, encoding, after):
    doc = Document("file:///t.py", before)
    doc.apply(change(*edit), encoding)
    assert doc.text == after


def test_line_starts_kept_across_keystrokes_are_those_of_the_text():
    # A keystroke (no line break typed or removed) keeps the document's line starts,
    # shifted, instead of scanning the whole text again; every change lands where it
    # does without them, and kept starts are always the text's.
    import random

    from torch_lsp.lsp.documents import line_starts

    rng = random.Random(3)
    pieces = ["x", "self.fc(x)", " ", "\n", "\r\n", "\r", "\x0c", "\u2028", "\U0001f642", "é", "    ", "#"]
    kept = 0
    for _ in range(300):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 40)))
        doc = Document("file:///t.py", text)
        for _ in range(20):
            starts = line_starts(doc.text)
            sl = rng.randrange(len(starts) + 1)
            el = sl if rng.random() < 0.7 else rng.randrange(sl, len(starts) + 2)
            sc, ec = rng.randrange(0, 6), rng.randrange(0, 6)
            typed = rng.choice(["", "a", "bc", "🙂", "é", "\n", "x\r\ny", "\r"]) if rng.random() < 0.8 else ""
            edit = change(sl, sc, el, ec, typed)
            encoding = rng.choice(["utf-8", "utf-16", "utf-32"])
            reference = Document("file:///t.py", doc.text)
            reference.apply(edit, encoding)
            doc.apply(edit, encoding)
            assert doc.text == reference.text
            if doc.starts is not None:
                kept += 1
                assert doc.starts == line_starts(doc.text), (text, edit)
    assert kept > 200


# ----------------------------------------------------------------------------- a raw client
class RawClient:
    """Writes bytes to the server and reads its framed messages on a thread."""

    def __init__(self, cwd: str, env: dict | None = None) -> None:
        self.proc = subprocess.Popen(SERVER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     cwd=cwd, env=env)
        self.messages: list[dict] = []
        self.lock = threading.Condition()
        self._next = 0
        threading.Thread(target=self._read, daemon=True).start()
        self.stderr = b""
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read_err(self) -> None:
        self.stderr = self.proc.stderr.read()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                elif line in (b"\r\n", b"\n"):
                    break
            body = json.loads(out.read(length))
            with self.lock:
                self.messages.append(body)
                self.lock.notify_all()

    def raw(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, obj: dict) -> None:
        body = json.dumps(obj).encode()
        self.raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def request(self, method: str, params=None, **extra) -> int:
        self._next += 1
        msg = {"jsonrpc": "2.0", "id": self._next, "method": method, **extra}
        if params is not None or "params" not in extra:
            msg["params"] = params
        if params is None and "no_params" in extra:
            msg.pop("params")
            msg.pop("no_params")
        self.send(msg)
        return self._next

    def notify(self, method: str, params) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def response(self, msg_id: int, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for m in self.messages:
                    if m.get("id") == msg_id and "method" not in m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no answer to request {msg_id}")
                self.lock.wait(left)

    def answers(self, msg_id: int) -> int:
        with self.lock:
            return sum(1 for m in self.messages if m.get("id") == msg_id and "method" not in m)

    def initialize(self, root: str, encodings=("utf-16",)) -> dict:
        rid = self.request("initialize", {"processId": None, "rootUri": "file://" + root, "capabilities": {
            "general": {"positionEncodings": list(encodings)}}})
        res = self.response(rid)
        self.notify("initialized", {})
        return res

    def close(self) -> int:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -9


@pytest.fixture
def client(tmp_path):
    c = RawClient(str(tmp_path))
    c.initialize(str(tmp_path))
    yield c
    c.close()


def _text_of(c: RawClient, uri: str) -> dict:
    return c.response(c.request("torch-lsp/documentText", {"textDocument": {"uri": uri}}))["result"]


def test_the_servers_copy_is_the_editors(client, tmp_path):
    uri = (tmp_path / "m.py").as_uri()
    text = "x = 1\n# \x0c form feed\ny = 2\n"
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
        {"range": {"start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 0}}, "text": "Z"},
        {"range": {"start": {"line": 0, "character": 9}, "end": {"line": 0, "character": 9}}, "text": "2"}]})
    assert _text_of(client, uri) == {"version": 2, "text": "x = 12\n# \x0c form feed\nZy = 2\n"}


@pytest.mark.parametrize("params", [
    {"textDocument": {"uri": "file:///x.py"}, "position": {"line": -1, "character": 0}},
    {"textDocument": {"uri": "file:///x.py"}, "position": {"line": 0, "character": -1}},
    {"textDocument": {"uri": "file:///x.py"}, "position": {"line": 2 ** 31, "character": 0}},
    {"textDocument": {"uri": "file:///x.py"}, "position": None},
    {"position": {"line": 0, "character": 0}},
    [1, 2],
    None,
])
def test_unreadable_hover_params_get_invalid_params(client, params):
    rid = client.request("textDocument/hover", params)
    answer = client.response(rid)
    assert answer["error"]["code"] == -32602 and answer["error"]["message"]


def test_unreadable_code_action_and_inlay_hint_params(client):
    doc = {"uri": "file:///x.py"}
    for method, params in [
        ("textDocument/codeAction", {"textDocument": doc, "range": {"start": None, "end": {"line": 0, "character": 0}},
                                      "context": {"diagnostics": []}}),
        ("textDocument/codeAction", {"textDocument": doc, "range": {"start": {"line": 0, "character": 0},
                                                                    "end": {"line": 0, "character": 0}}}),
        ("textDocument/inlayHint", {"textDocument": doc, "range": {"start": {}, "end": {"line": 1, "character": 0}}}),
    ]:
        answer = client.response(client.request(method, params))
        assert answer["error"]["code"] == -32602, (method, answer)


def test_garbage_diagnostic_data_is_skipped(client, tmp_path):
    uri = (tmp_path / "m.py").as_uri()
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                            "text": "import torch\n"}})
    rng = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}}
    for data in [{"fixes": [{}]}, "a string", 7, {"fixes": "no"}, {"fixes": [{"edits": [{"range": 3}]}]}]:
        d = {"range": rng, "message": "m", "source": "torch-lsp", "code": "TL201", "data": data}
        answer = client.response(client.request("textDocument/codeAction", {
            "textDocument": {"uri": uri}, "range": rng, "context": {"diagnostics": [d], "only": ["quickfix"]}}))
        assert "error" not in answer, (data, answer)


def test_unknown_method_gets_method_not_found(client):
    assert client.response(client.request("torch-lsp/noSuchThing", {}))["error"]["code"] == -32601


def test_a_message_without_headers_costs_only_itself(client):
    body = json.dumps({"jsonrpc": "2.0", "id": 999, "method": "torch-lsp/documentText", "params": {}}).encode()
    client.raw(body)  # no Content-Length: runs into the next message's header
    rid = client.request("torch-lsp/documentText", {"textDocument": {"uri": "file:///none.py"}})
    assert client.response(rid) == {"jsonrpc": "2.0", "id": rid, "result": None}
    client.raw(b"Content-Length: 5\r\n\r\n{nope")  # not JSON
    rid = client.request("torch-lsp/documentText", {"textDocument": {"uri": "file:///none.py"}})
    assert "result" in client.response(rid)


def test_shutdown_then_exit(tmp_path):
    c = RawClient(str(tmp_path))
    c.initialize(str(tmp_path))
    assert c.response(c.request("shutdown", None))["result"] is None
    after = c.response(c.request("textDocument/hover", {"textDocument": {"uri": "file:///x.py"},
                                                        "position": {"line": 0, "character": 0}}))
    assert after["error"]["code"] == -32600
    c.notify("exit", None)
    assert c.proc.wait(timeout=20) == 0
    assert b"Traceback" not in c.stderr


def test_exit_without_shutdown_is_code_1(tmp_path):
    c = RawClient(str(tmp_path))
    c.initialize(str(tmp_path))
    c.notify("exit", None)
    assert c.proc.wait(timeout=20) == 1


def test_every_request_is_answered_once_and_the_log_stays_quiet(client, tmp_path):
    uri = (tmp_path / "m.py").as_uri()
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                            "text": "import torch\nx = torch.zeros(2, 3)\n"}})
    ids = [client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 1, "character": c}})
           for c in (0, 1, 100)]
    ids.append(client.request("textDocument/hover", [1]))
    for rid in ids:
        client.response(rid)
    time.sleep(0.3)
    assert all(client.answers(rid) == 1 for rid in ids)
    client.response(client.request("shutdown", None))
    client.notify("exit", None)
    client.proc.wait(timeout=20)
    time.sleep(0.2)
    assert b"Traceback" not in client.stderr, client.stderr.decode(errors="replace")[-2000:]


def _messages(c: RawClient, method: str) -> list[dict]:
    with c.lock:
        return [m for m in c.messages if m.get("method") == method]


MODEL = """import torch
import torch.nn as nn
from other import helper


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 20)
        self.fc2 = nn.Linear(30, 5)

    def forward(self, x):
        return self.fc2(self.fc1(x))


model = Net()
out = model(torch.randn(4, 10))
"""


def test_two_files_that_import_each_other_settle(client, tmp_path):
    """Opened together and left alone, two files importing each other are analysed
    a bounded number of times: no publish ping-pong."""
    a = MODEL.replace("from other import helper", "from b import helper")
    b = "import torch\nfrom a import Net\n\n\ndef helper():\n    return Net()\n"
    for name, text in (("a.py", a), ("b.py", b)):
        (tmp_path / name).write_text(text)
        client.notify("textDocument/didOpen", {"textDocument": {"uri": (tmp_path / name).as_uri(), "languageId": "python",
                                                                "version": 1, "text": text}})
    time.sleep(3.0)
    n = len(_messages(client, "textDocument/publishDiagnostics"))
    time.sleep(2.0)
    assert len(_messages(client, "textDocument/publishDiagnostics")) == n <= 4
    published = _messages(client, "textDocument/publishDiagnostics")
    assert any(m["params"]["diagnostics"] and m["params"]["uri"].endswith("a.py") for m in published)


def _apply(text: str, edit: dict, encoding: str = "utf-16") -> str:
    doc = Document("", text)
    doc.apply(lsp.TextDocumentContentChangePartial(range=lsp.Range(
        start=lsp.Position(**edit["range"]["start"]), end=lsp.Position(**edit["range"]["end"])), text=edit["newText"]),
        encoding)
    return doc.text


def test_fix_all_touches_only_what_it_fixes(client, tmp_path):
    """A form feed on line 2, a blank line deleted further down, then Fix all: the edit
    changes the fixed size and nothing else (the old whole-document edit, computed
    on pygls' copy, dropped a line of forward)."""
    uri = (tmp_path / "m.py").as_uri()
    text = MODEL.replace("import torch\n", "import torch  # \x0c page\n", 1).replace(
        "        return self.fc2(self.fc1(x))", "        x = self.fc1(x)\n\n        x = torch.relu(x)\n        return self.fc2(x)")
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
    lines = text.split("\n")
    blank = lines.index("", lines.index("        x = self.fc1(x)"))
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
        {"range": {"start": {"line": blank, "character": 0}, "end": {"line": blank + 1, "character": 0}}, "text": ""}]})
    current = text.replace("        x = self.fc1(x)\n\n", "        x = self.fc1(x)\n", 1)
    assert _text_of(client, uri) == {"version": 2, "text": current}
    answer = client.response(client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
        "context": {"diagnostics": [], "only": ["source.fixAll"]}}))
    [action] = answer["result"]
    [edit] = action["edit"]["changes"][uri]
    fixed = _apply(current, edit)
    assert fixed == current.replace("nn.Linear(30, 5)", "nn.Linear(20, 5)")


def test_two_files_that_import_each_other_settle_when_pulling(tmp_path):
    c = RawClient(str(tmp_path))
    rid = c.request("initialize", {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {
        "textDocument": {"diagnostic": {"dynamicRegistration": False}},
        "workspace": {"diagnostics": {"refreshSupport": True}}}})
    c.response(rid)
    c.notify("initialized", {})
    a = MODEL.replace("from other import helper", "from b import helper")
    b = "import torch\nfrom a import Net\n\n\ndef helper():\n    return Net()\n"
    for name, text in (("a.py", a), ("b.py", b)):
        (tmp_path / name).write_text(text)
        c.notify("textDocument/didOpen", {"textDocument": {"uri": (tmp_path / name).as_uri(), "languageId": "python",
                                                           "version": 1, "text": text}})
        c.response(c.request("textDocument/diagnostic", {"textDocument": {"uri": (tmp_path / name).as_uri()}}))
    time.sleep(4.0)
    assert len(_messages(c, "workspace/diagnostic/refresh")) <= 1
    c.close()


def test_the_edited_document_is_analysed_before_the_others(client, tmp_path):
    """Thirty documents opened at once queue thirty analyses; an edit to one of them
    goes to the front: its new diagnostics come before most of the others'."""
    uris = []
    for i in range(30):
        uri = (tmp_path / f"m{i}.py").as_uri()
        uris.append(uri)
        text = MODEL.replace("from other import helper\n", "") * 200  # 3,600 lines each: ~0.3 s to analyse
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                                "text": text}})
    # every open is read (the answer comes after them), most analyses are still queued
    client.response(client.request("torch-lsp/documentText", {"textDocument": {"uri": uris[-1]}}))
    edited = uris[0]
    client.notify("textDocument/didChange", {"textDocument": {"uri": edited, "version": 2}, "contentChanges": [
        {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "# edited\n"}]})
    client.response(client.request("torch-lsp/documentText", {"textDocument": {"uri": edited}}))  # the edit is in
    done_before = len(_messages(client, "textDocument/publishDiagnostics"))
    deadline = time.monotonic() + 60
    order: list[tuple[str, int]] = []
    while time.monotonic() < deadline:
        order = [(m["params"]["uri"], m["params"].get("version")) for m in _messages(client, "textDocument/publishDiagnostics")]
        if len({u for u, _ in order}) == 30:
            break
        time.sleep(0.1)
    assert len({u for u, _ in order}) == 30
    # at most the analysis under way when the edit came, then the edited document
    assert (edited, 2) in order[done_before:done_before + 2], (done_before, [(u.rsplit("/", 1)[1], v) for u, v in order])
    assert done_before < 25  # the test is meaningful: most analyses were still to come


def test_tl301_quick_fixes_offer_mean_first(client, tmp_path):
    """`.mean()` is the first TL301 quick fix, as in the CLI: `.sum()` scales the
    gradients by the number of elements."""
    uri = (tmp_path / "loss.py").as_uri()
    text = ("import torch\nimport torch.nn as nn\n\npred = torch.randn(64, 1, requires_grad=True)\n"
            "loss = nn.MSELoss(reduction=\"none\")(pred, torch.randn(64, 1))\nloss.backward()\n")
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
    deadline = time.monotonic() + 30
    found: list = []
    while not found and time.monotonic() < deadline:
        found = [d for m in _messages(client, "textDocument/publishDiagnostics") if m["params"]["uri"] == uri
                 for d in m["params"]["diagnostics"] if d.get("code") == "TL301"]
        time.sleep(0.1)
    assert found, "no TL301 published"
    d = found[-1]
    answer = client.response(client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": d["range"], "context": {"diagnostics": [d]}}))
    titles = [a["title"] for a in answer["result"]]
    assert titles[:3] == ["Use `loss.mean().backward()` (unsafe)", "Use `loss.sum().backward()` (unsafe)",
                          "Pass `gradient=torch.ones_like(loss)` (unsafe)"], titles

"""The server survives bad input: each case gets an error response or is ignored as
the LSP spec says, the process keeps running, and later requests are answered.
Spoken as raw JSON-RPC over the server's stdin/stdout (malformed messages cannot be
sent through an LSP client library)."""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

SERVER = [sys.executable, "-m", "torch_lsp", "serve"]


class Raw:
    def __init__(self, root: Path):
        self.proc = subprocess.Popen(SERVER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     cwd=root)
        self.next_id = 0
        self.buffer = b""
        self.notifications: list[dict] = []

    def send_bytes(self, body: bytes) -> None:
        self.proc.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        self.proc.stdin.flush()

    def send(self, method: str, params=None, request: bool = True) -> int | None:
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        rid = None
        if request:
            self.next_id += 1
            rid = msg["id"] = self.next_id
        self.send_bytes(json.dumps(msg).encode())
        return rid

    def _read_message(self, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        while True:
            if b"\r\n\r\n" in self.buffer:
                head, rest = self.buffer.split(b"\r\n\r\n", 1)
                length = int([h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")][0].split(b":")[1])
                if len(rest) >= length:
                    self.buffer = rest[length:]
                    return json.loads(rest[:length])
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self.proc.stdout], [], [], remaining)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    return None
                self.buffer += chunk

    def response(self, rid: int, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self._read_message(deadline - time.monotonic())
            if msg is None:
                break
            if msg.get("id") == rid and "method" not in msg:
                return msg
            if "method" in msg:
                self.notifications.append(msg)
                if "id" in msg:  # a request from the server: answer it
                    self.send_bytes(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": None}).encode())
        raise AssertionError(f"no response to request {rid}")

    def diagnostics(self, uri: str, version: int, timeout: float = 30.0) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for n in self.notifications:
                p = n.get("params") or {}
                if n["method"] == "textDocument/publishDiagnostics" and p.get("uri") == uri and p.get("version") == version:
                    return p["diagnostics"]
            msg = self._read_message(deadline - time.monotonic())
            if msg is None:
                break
            if "method" in msg:
                self.notifications.append(msg)
        raise AssertionError(f"no diagnostics for {uri} v{version}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.alive():
            try:
                rid = self.send("shutdown")
                self.response(rid, 10)
                self.send("exit", request=False)
                self.proc.wait(10)
            except Exception:
                self.proc.kill()


BUGGY = "import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.a = nn.Linear(10, 20)\n        self.b = nn.Linear(30, 5)\n\n    def forward(self, x):\n        return self.b(self.a(x))\n"


@pytest.fixture
def raw(tmp_path):
    server = Raw(tmp_path)
    yield server
    server.close()


def initialize(raw: Raw, root: Path) -> None:
    rid = raw.send("initialize", {"processId": os.getpid(), "rootUri": root.as_uri(), "capabilities": {}})
    assert "result" in raw.response(rid)
    raw.send("initialized", {}, request=False)


def open_doc(raw: Raw, uri: str, text: str, version: int = 1, language: str = "python") -> None:
    raw.send("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": language, "version": version, "text": text}}, request=False)


def hover(raw: Raw, uri: str, line: int, col: int) -> dict:
    rid = raw.send("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": line, "character": col}})
    return raw.response(rid)


def still_serving(raw: Raw, root: Path) -> None:
    uri = (root / "check.py").as_uri()
    open_doc(raw, uri, BUGGY, version=7)
    assert [d["code"] for d in raw.diagnostics(uri, 7)] == ["TL201"]
    assert raw.alive()


def test_requests_before_initialize_get_an_error(raw, tmp_path):
    reply = hover(raw, (tmp_path / "x.py").as_uri(), 0, 0)
    assert "error" in reply
    initialize(raw, tmp_path)
    still_serving(raw, tmp_path)


def test_malformed_json_rpc_is_survived(raw, tmp_path):
    initialize(raw, tmp_path)
    raw.send_bytes(b"{not json")
    raw.send_bytes(b'{"jsonrpc": "2.0", "id": 99, "method": "textDocument/hover", "params": {"bogus": 1}}')
    raw.send_bytes(b'{"jsonrpc": "2.0", "id": 100, "method": "no/suchMethod", "params": {}}')
    assert "error" in raw.response(100)
    raw.send_bytes(b'[1, 2, 3]')
    still_serving(raw, tmp_path)


def test_unknown_uris_and_non_python_documents(raw, tmp_path):
    initialize(raw, tmp_path)
    assert hover(raw, "file:///no/such/file.py", 3, 4).get("result") is None
    txt = (tmp_path / "notes.txt").as_uri()
    open_doc(raw, txt, "class Net(nn.Module): pass\n", language="plaintext")
    assert hover(raw, txt, 0, 0).get("result") is None
    raw.send("textDocument/didChange", {"textDocument": {"uri": "file:///never/opened.py", "version": 2},
                                        "contentChanges": [{"text": "x = 1"}]}, request=False)
    raw.send("textDocument/didClose", {"textDocument": {"uri": "file:///never/opened.py"}}, request=False)
    still_serving(raw, tmp_path)


def test_changes_with_ranges_past_the_end(raw, tmp_path):
    initialize(raw, tmp_path)
    uri = (tmp_path / "m.py").as_uri()
    open_doc(raw, uri, BUGGY)
    raw.diagnostics(uri, 1)
    raw.send("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
        {"range": {"start": {"line": 500, "character": 0}, "end": {"line": 900, "character": 3}}, "text": "y = 1\n"}]}, request=False)
    raw.send("textDocument/didChange", {"textDocument": {"uri": uri, "version": 3}, "contentChanges": [
        {"range": {"start": {"line": 2, "character": 999}, "end": {"line": 1, "character": 0}}, "text": "#"}]}, request=False)
    assert "result" in hover(raw, uri, 0, 0)
    still_serving(raw, tmp_path)


def test_huge_and_deeply_nested_files(raw, tmp_path):
    initialize(raw, tmp_path)
    big = (tmp_path / "big.py").as_uri()
    body = "".join(f"x{i} = torch.zeros({i % 7 + 1}, 3)\n" for i in range(50_000))
    open_doc(raw, big, "import torch\n" + body)
    nested = (tmp_path / "nested.py").as_uri()
    open_doc(raw, nested, "x = " + "(" * 10_000 + "1" + ")" * 10_000 + "\n")
    # too deep for Python's parser: the syntax error only (reportSyntaxErrors is on by default)
    assert [d["code"] for d in raw.diagnostics(nested, 1)] == ["TL000"]
    assert raw.diagnostics(big, 1, timeout=120) == []
    assert "result" in hover(raw, big, 40_000, 0)
    still_serving(raw, tmp_path)


def test_invalid_utf8_on_disk_next_to_an_open_file(raw, tmp_path):
    (tmp_path / "broken.py").write_bytes(b"import torch.nn as nn\nx = '\xff\xfe'\nclass Block(nn.Module):\n    pass\n")
    initialize(raw, tmp_path)
    uri = (tmp_path / "user.py").as_uri()
    open_doc(raw, uri, "import torch\nfrom broken import Block\n\nout = Block()(torch.zeros(2, 3))\n")
    assert raw.diagnostics(uri, 1) == []
    still_serving(raw, tmp_path)


def test_a_cancelled_request_is_answered_and_the_server_goes_on(raw, tmp_path):
    initialize(raw, tmp_path)
    uri = (tmp_path / "big.py").as_uri()
    body = "".join(f"x{i} = torch.zeros({i % 7 + 1}, 3)\n" for i in range(20_000))
    open_doc(raw, uri, "import torch\n" + body)  # a long analysis the hover waits for
    rid = raw.send("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 5, "character": 0}})
    raw.send("$/cancelRequest", {"id": rid}, request=False)
    reply = raw.response(rid, timeout=60)
    assert "result" in reply or reply["error"]["code"] == -32800  # RequestCancelled
    still_serving(raw, tmp_path)


def test_a_cancel_for_an_answered_request_is_not_a_warning(tmp_path):
    """VS Code cancels requests it no longer needs as the user types; when the answer
    has already gone, pygls logged "Cancel notification for unknown message id" as a
    warning on every start (in the extension's output)."""
    log = tmp_path / "stderr.txt"
    with open(log, "wb") as err:
        raw = Raw(tmp_path)
        raw.proc.kill()
        raw.proc.wait()
        raw.proc = subprocess.Popen(SERVER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, cwd=tmp_path)
        try:
            initialize(raw, tmp_path)
            uri = (tmp_path / "m.py").as_uri()
            open_doc(raw, uri, BUGGY)
            assert [d["code"] for d in raw.diagnostics(uri, 1)] == ["TL201"]
            answered = hover(raw, uri, 6, 9)
            assert "result" in answered
            raw.send("$/cancelRequest", {"id": answered["id"]}, request=False)
            raw.send("$/cancelRequest", {"id": 4242}, request=False)
            still_serving(raw, tmp_path)
        finally:
            raw.close()
    assert raw.proc.returncode == 0
    text = log.read_text()
    assert "Cancel notification" not in text and "WARNING" not in text, text


def test_serve_over_tcp(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(SERVER + ["--tcp", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        with conn:
            body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                               "params": {"processId": None, "rootUri": None, "capabilities": {}}}).encode()
            conn.sendall(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            data = b""
            while b'"id": 1' not in data and b'"id":1' not in data:
                chunk = conn.recv(65536)
                assert chunk, "connection closed"
                data += chunk
            assert b'"capabilities"' in data and b"hoverProvider" in data
    finally:
        proc.kill()
        proc.wait(10)


def test_serve_rejects_a_bad_tcp_address():
    proc = subprocess.run(SERVER + ["--tcp", "nonsense"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "HOST:PORT" in proc.stderr


def test_serve_accepts_stdio_flag():
    proc = subprocess.run(SERVER + ["--stdio"], input="", capture_output=True, text=True, timeout=60)
    assert "error" not in proc.stderr.lower()

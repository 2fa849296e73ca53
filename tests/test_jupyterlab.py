"""The JupyterLab set-up (jupyterlab-lsp): the server spec the README documents is the
shipped editors/jupyterlab/jupyter_server_config.json, and the server started exactly
as that spec says (its argv and env, on stdio) reports a notebook's bug in the
virtual document jupyterlab-lsp sends for a notebook (the cells joined, IPython
magics rewritten as `get_ipython()` calls)."""
from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "editors" / "jupyterlab" / "jupyter_server_config.json"
NOTEBOOK = Path(__file__).parent / "data" / "notebooks" / "cnn_flatten_bug.ipynb"


def documented_config() -> dict:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```json\n(.*?)```", readme, re.S) if "LanguageServerManager" in b]
    assert len(blocks) == 1, "the README documents one jupyterlab-lsp server spec"
    return json.loads(blocks[0])


def spec() -> dict:
    return json.loads(CONFIG.read_text(encoding="utf-8"))["LanguageServerManager"]["language_servers"]["torch-lsp"]


def test_the_readme_documents_the_shipped_spec():
    assert documented_config() == json.loads(CONFIG.read_text(encoding="utf-8"))
    s = spec()
    assert s["version"] == 2 and s["languages"] == ["python"] and "text/x-ipython" in s["mime_types"]


def test_the_spec_is_valid_for_jupyter_lsp():
    pytest.importorskip("jupyter_lsp", reason="jupyter-lsp is not installed (the spec's schema comes with it)")
    from jupyter_lsp.schema import LANGUAGE_SERVER_SPEC

    LANGUAGE_SERVER_SPEC.validate(spec())


def virtual_document() -> str:
    """What jupyterlab-lsp sends for the fixture notebook: its code cells joined by two
    blank lines, line magics and shell lines as IPython calls, %%bash cells left out."""
    cells = []
    for cell in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] != "code" or src.startswith("%%bash"):
            continue
        lines = []
        for line in src.split("\n"):
            if line.startswith("%"):
                name, _, rest = line[1:].partition(" ")
                line = f"get_ipython().run_line_magic({name!r}, {rest!r})"
            elif line.startswith("!"):
                line = f"get_ipython().system({line[1:]!r})"
            elif line.endswith("?"):
                line = f"get_ipython().run_line_magic('pinfo', {line[:-1]!r})"
            lines.append(line)
        cells.append("\n".join(lines))
    return "\n\n\n".join(cells) + "\n"


def _send(proc: subprocess.Popen, message: dict) -> None:
    body = json.dumps(message).encode("utf-8")
    assert proc.stdin is not None
    proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    proc.stdin.flush()


def _reader(proc: subprocess.Popen, out: queue.Queue) -> None:
    stream = proc.stdout
    assert stream is not None
    while True:
        length = 0
        while True:
            line = stream.readline()
            if not line:
                return
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
            elif line in (b"\r\n", b"\n"):
                break
        out.put(json.loads(stream.read(length)))


def test_the_server_started_as_the_spec_says_checks_a_notebook():
    s = spec()
    if shutil.which(s["argv"][0]) is None:
        pytest.skip(f"{s['argv'][0]} is not on PATH: install the package (see the README) to run the spec's argv")
    env = {**os.environ, **s.get("env", {})}
    proc = subprocess.Popen(s["argv"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0)
    messages: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(proc, messages), daemon=True).start()
    uri = "file:///tmp/.virtual_documents/model.ipynb"
    text = virtual_document()
    try:
        _send(proc, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "processId": None, "rootUri": None, "capabilities": {"textDocument": {"publishDiagnostics": {}}}}})
        _send(proc, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
        _send(proc, {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": text}}})
        while True:
            msg = messages.get(timeout=60)
            if msg.get("method") == "textDocument/publishDiagnostics" and msg["params"]["uri"] == uri:
                break
        [diag] = msg["params"]["diagnostics"]
        line = text.split("\n").index("        self.fc = nn.Linear(8 * 12 * 12, 10)")
        assert diag["code"] == "TL203" and diag["range"]["start"] == {"line": line, "character": 28}
        _send(proc, {"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": None})
        _send(proc, {"jsonrpc": "2.0", "method": "exit", "params": None})
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

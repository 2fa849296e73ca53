"""The VS Code extension in real VS Code: code-server 4.100.3 (VS Code 1.100.3) with
the packaged .vsix installed, driven by playwright-core and Chromium
(tests/vscode_e2e/drive.mjs): the TL201 squiggle and its Problems entry, a hover
with the tensor's shape, the quick fix applied and the problem gone; and, with an
interpreter that does not exist, the error's "Open settings" button showing the
interpreter setting (tests/vscode_e2e/drive_settings.mjs); and a Jupyter notebook
(VS Code's built-in ipynb serializer, no Jupyter extension) with the bug in its third
cell: the squiggle there and only there, the hover, the quick fix applied in that cell
(tests/vscode_e2e/drive_notebook.mjs). The server is the
one bundled in the .vsix, run by a Python without torch-lsp (a virtual environment
without pip or the system's site-packages): installing the .vsix is the whole set-up.

tests/vscode_e2e/setup.sh installs what it needs (Debian's chromium, ripgrep and
libkrb5-dev when this runs as root; code-server and playwright-core from npm; why each,
and how to run code-server by hand: tests/vscode_e2e/README.md). Where that cannot be
done the test is skipped with the reason. Screenshots go to a
temporary directory; with TORCH_LSP_SCREENSHOTS=DIR they are copied to DIR (the
README's come from `TORCH_LSP_SCREENSHOTS=docs`)."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from conftest import TWO_LINEARS

ROOT = Path(__file__).resolve().parent.parent
E2E = ROOT / "tests" / "vscode_e2e"
EXTENSION = ROOT / "editors" / "vscode"

MODEL = TWO_LINEARS  # TL201 at line 9, column 30: `nn.Linear(30, 5)` receives 20 features


def _run(cmd: list[str], cwd: Path, timeout: float, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def tools() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the real-VS-Code test")
    proc = _run(["bash", str(E2E / "setup.sh")], E2E, timeout=900)
    if proc.returncode == 3:
        pytest.skip(f"cannot install the real-VS-Code test's prerequisites here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return E2E / "node_modules" / ".bin" / "code-server"


@pytest.fixture(scope="module")
def vsix() -> Path:
    if not (EXTENSION / "node_modules").is_dir():
        proc = _run(["npm", "ci", "--no-audit", "--no-fund"], EXTENSION, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    proc = _run(["npm", "run", "package"], EXTENSION, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = EXTENSION / "torch-lsp.vsix"
    names = zipfile.ZipFile(out).namelist() if out.is_file() else []
    assert "extension/dist/extension.js" in names and "extension/bundled/libs/torch_lsp/__init__.py" in names
    return out


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> Path:
    """A Python with nothing of torch-lsp's: a venv without pip, without the system's site-packages."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    exe = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = _run([str(exe), "-c", "import torch_lsp"], venv, timeout=60, env=env)
    assert probe.returncode != 0 and "No module named 'torch_lsp'" in probe.stderr
    return exe


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _code_server(tools: Path, vsix: Path, tmp_path: Path, settings: dict, files: dict[str, str] | None = None):
    """code-server with the .vsix installed and these user settings, on a workspace with these files
    (default: model.py); yields (url, workspace, env)."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    for name, content in (files or {"model.py": MODEL}).items():
        (workspace / name).write_text(content)
    (workspace / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    data = tmp_path / "code-server"
    user = data / "user"
    (user / "User").mkdir(parents=True)
    (user / "User" / "settings.json").write_text(json.dumps({
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": False,
        "telemetry.telemetryLevel": "off",
        "extensions.autoCheckUpdates": False,
        "editor.hover.delay": 200,
        "security.workspace.trust.enabled": False,
        **settings,
    }))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the server finds nothing but its bundle
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[var] = str(tmp_path / var.lower())
    common = ["--config", "/dev/null", "--user-data-dir", str(user), "--extensions-dir", str(data / "ext")]
    proc = _run([str(tools), *common, "--install-extension", str(vsix)], tmp_path, timeout=300, env=env)
    assert proc.returncode == 0 and "torch-lsp" in proc.stdout + proc.stderr, proc.stdout + proc.stderr

    port = _free_port()
    server = subprocess.Popen([str(tools), *common, "--bind-addr", f"127.0.0.1:{port}", "--auth", "none",
                               "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust", str(workspace)],
                              cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "code-server did not start"
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}", workspace, env
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def test_squiggle_problems_hover_and_quick_fix_in_real_vscode(tools, vsix, bare_python, tmp_path):
    shots = tmp_path / "shots"
    shots.mkdir()
    out = tmp_path / "drive.json"
    # No Python extension in code-server: the interpreter comes from the setting.
    with _code_server(tools, vsix, tmp_path, {"torch-lsp.interpreter": str(bare_python)}) as (url, workspace, env):
        try:
            drive = _run(["node", str(E2E / "drive.mjs"), url, str(workspace), str(out), str(shots)], E2E, timeout=600,
                         env=env)
            result = json.loads(out.read_text()) if out.exists() else {}
            assert result.get("ok"), (result.get("error"), drive.stdout[-2000:], drive.stderr[-2000:])
        finally:
            keep = os.environ.get("TORCH_LSP_SCREENSHOTS")
            if keep:
                Path(keep).mkdir(parents=True, exist_ok=True)
                for png in shots.glob("*.png"):
                    shutil.copy(png, Path(keep) / png.name)
    assert "TL201" in result["problems"]
    assert "Tensor[4, 20]" in result["hover"]
    assert "Set in_features to 20" in result["actions"]
    assert any("nn.Linear(20, 5)" in line for line in result["after"])
    assert "TL201" not in result["problemsAfter"]
    assert (shots / "vscode-hover.png").stat().st_size > 10_000
    # The model summary: a read-only view (no unsaved-changes dot to save), with the layer table.
    assert result["summaryTab"].startswith("model.py (model summary)"), result["summaryTab"]
    assert "dirty" not in result["summaryTabClass"].split(), result["summaryTabClass"]
    assert "Model summary: model.py" in result["summaryText"] and "Linear" in result["summaryText"], result["summaryText"]
    # The output channel (VS Code writes it to the logs folder): the start, the requests and
    # cancels of the session and a restart left no error or warning (pygls' "Cancel
    # notification" warnings, the client's "[Error] Server process exited with code 0.").
    [log] = (tmp_path / "code-server" / "user" / "logs").rglob("*torch-lsp.log")
    output = log.read_text()
    assert "Server process exited with code 0." in output, output  # the restart happened
    assert "[Error" not in output and "WARNING" not in output and "Cancel notification" not in output, output


def test_open_settings_shows_the_interpreter_setting_in_real_vscode(tools, vsix, tmp_path):
    """An interpreter that does not exist: the error's "Open settings" button opens this extension's
    settings where code-server shows torch-lsp.interpreter (the Remote tab: the User tab hides
    machine-scoped settings in a remote window, and showed nothing for the setting's id)."""
    out = tmp_path / "settings.json"
    missing = str(tmp_path / "no" / "python")
    with _code_server(tools, vsix, tmp_path, {"torch-lsp.interpreter": missing}) as (url, workspace, env):
        drive = _run(["node", str(E2E / "drive_settings.mjs"), url, str(workspace), str(out),
                      str(tmp_path / "settings.png")], E2E, timeout=300, env=env)
        result = json.loads(out.read_text()) if out.exists() else {}
        assert result.get("ok"), (result.get("error"), drive.stdout[-2000:], drive.stderr[-2000:])
    assert f"cannot run the Python interpreter {missing}" in result["toast"]
    assert result["query"] == "@ext:torch-lsp.torch-lsp"
    assert any(t.startswith("Torch-lsp: Interpreter") for t in result["titles"]), result["titles"]


# A notebook: imports (cell 1), a model (cell 2), and in cell 3 a Linear whose in_features (30) is not
# what the model gives it (20): torch raises `mat1 and mat2 shapes cannot be multiplied (4x20 and 30x5)`
# in cell 3 (checked by running the cells at the start of the test).
NOTEBOOK_CELLS = [
    "import torch\nfrom torch import nn",
    textwrap.dedent("""\
        class Encoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(10, 20)

            def forward(self, x):
                return torch.relu(self.fc(x))


        encoder = Encoder()"""),
    "head = nn.Linear(30, 5)\nfeatures = encoder(torch.randn(4, 10))\nlogits = head(features)",
]


def _ipynb(cells: list[str]) -> str:
    """An nbformat 4.5 notebook with these Python code cells (the layout Jupyter writes)."""
    return json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"cell{i + 1}", "metadata": {}, "outputs": [],
                   "source": source.splitlines(keepends=True)} for i, source in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }, indent=1) + "\n"


def _run_cells(cells: list[str]) -> None:
    """Runs the cells in order in one namespace, as a kernel does."""
    namespace: dict = {}
    for i, source in enumerate(cells, 1):
        exec(compile(source, f"cell {i}", "exec"), namespace)


def test_notebook_squiggle_hover_and_quick_fix_in_the_third_cell_in_real_vscode(tools, vsix, bare_python, tmp_path):
    """A .ipynb opened with VS Code's built-in ipynb serializer (no Jupyter extension): the extension's
    selector takes the notebook's Python cells, the client syncs the notebook (notebookDocument/*), and the
    squiggle, the hover and the quick fix are in the third cell, where the bug is."""
    pytest.importorskip("torch", reason="torch checks that the notebook's bug is real")
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(4x20 and 30x5\)"):
        _run_cells(NOTEBOOK_CELLS)
    shots = tmp_path / "shots"
    shots.mkdir()
    out = tmp_path / "drive.json"
    before = _ipynb(NOTEBOOK_CELLS)
    settings = {"torch-lsp.interpreter": str(bare_python), "torch-lsp.trace.server": "messages"}
    files = {"model.ipynb": before, "pyproject.toml": "[project]\nname = 'demo'\n"}
    with _code_server(tools, vsix, tmp_path, settings, files=files) as (url, workspace, env):
        try:
            drive = _run(["node", str(E2E / "drive_notebook.mjs"), url, str(workspace), str(out), str(shots)], E2E,
                         timeout=600, env=env)
            result = json.loads(out.read_text()) if out.exists() else {}
            assert result.get("ok"), (result.get("error"), result.get("cellsAtFailure"), result.get("hoversAtFailure"),
                                      drive.stdout[-2000:], drive.stderr[-2000:])
        finally:
            keep = os.environ.get("TORCH_LSP_SCREENSHOTS")
            if keep:
                Path(keep).mkdir(parents=True, exist_ok=True)
                for png in shots.glob("*.png"):
                    shutil.copy(png, Path(keep) / png.name)
        saved = json.loads((workspace / "model.ipynb").read_text())
    # (1) The squiggle: in the third cell, and only there; the cells shown are the notebook's.
    cells = result["cells"]
    assert [c["index"] for c in cells] == [0, 1, 2], cells
    assert [c["squiggles"] for c in cells] == [0, 0, 1], cells
    assert cells[2]["lines"][0] == "head = nn.Linear(30, 5)", cells
    # The Problems entry: the notebook, at the position in the cell (line 1, column 18 of cell 3).
    assert "TL201" in result["problems"] and "model.ipynb" in result["problems"], result["problems"]
    assert "[Ln 1, Col 18]" in result["problems"], result["problems"]
    # (2) The hover on it: VS Code's diagnostic message (with the shape that arrives) and the server's
    # hover of the layer; the hover of the tensor that reaches it, in the same cell, has its shape.
    hover = result["hover"]
    assert "expects 30 input features (in_features), but receives 20" in hover, hover
    assert "`self.fc` produces [4, 20]" in hover, hover
    assert "Linear(30 → 5)" in hover and "expects [*, 30]" in hover, hover
    assert "Tensor[4, 20]" in result["tensorHover"], result["tensorHover"]
    # (3) The quick fix applied in that cell; the squiggle and the problem are gone.
    assert "Set in_features to 20" in result["actions"], result["actions"]
    after = result["cellsAfter"]
    assert [c["squiggles"] for c in after] == [0, 0, 0], after
    assert after[2]["lines"][0] == "head = nn.Linear(20, 5)", after
    assert [c["lines"] for c in after[:2]] == [c["lines"] for c in cells[:2]], after
    assert "TL201" not in result["problemsAfter"], result["problemsAfter"]
    # Saved: only cell 3's source changed, and the notebook now runs.
    sources = ["".join(c["source"]) for c in saved["cells"]]
    assert sources == [*NOTEBOOK_CELLS[:2], NOTEBOOK_CELLS[2].replace("nn.Linear(30, 5)", "nn.Linear(20, 5)")], sources
    _run_cells(sources)
    assert (shots / "vscode-notebook-hover.png").stat().st_size > 10_000
    # The client synced the notebook as a notebook (the selector's `notebook` filter), the fix too.
    [log] = (tmp_path / "code-server" / "user" / "logs").rglob("*torch-lsp.log")
    output = log.read_text()
    assert "Sending notification 'notebookDocument/didOpen'" in output, output
    assert "Sending notification 'notebookDocument/didChange'" in output, output

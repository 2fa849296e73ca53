"""Every shipped configuration starts torch-lsp safely whatever the working
directory (issue 13).

`python -m torch_lsp` puts the working directory first on `sys.path`, so started in
a project that has its own `json.py`, `enum.py` or `argparse.py` it imports those
instead of the standard library's. The configurations avoid it: Neovim, Helix and
Emacs start the console script (`torch-lsp serve`: its `sys.path[0]` is the
script's own folder), the pre-commit hook and the CI example run `torch-lsp check`,
and the VS Code extension runs `<python> -m torch_lsp serve` in the extension's
folder (`neutralCwd()`; its unit tests check the folder). Each is started here the
way its configuration says, from (or for) a workspace full of modules that raise
when imported, and must answer `initialize` (or check the file) without importing
any of them. A control shows the same workspace does break `python -m torch_lsp`."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import tomllib
from pathlib import Path

import pytest

from conftest import TWO_LINEARS
from test_integrations import _lsp_message, _read_message, _read_sexps

ROOT = Path(__file__).resolve().parent.parent
EDITORS = ROOT / "editors"
VSCODE = EDITORS / "vscode"

# Modules the server imports after start-up (the first of them that the working
# directory shadows is the one that breaks `python -m`).
SHADOWED = ["json", "enum", "typing", "ast", "re", "argparse", "functools", "contextlib", "dataclasses", "logging",
            "asyncio", "inspect", "tokenize", "threading", "select", "signal", "subprocess", "warnings", "uuid",
            "pathlib", "fnmatch", "shlex", "difflib", "textwrap", "importlib_metadata", "attrs", "cattrs", "lsprotocol",
            "pygls"]


@pytest.fixture
def hostile(tmp_path) -> Path:
    """A workspace whose modules named like the standard library's (and like the
    server's dependencies) note that they were imported, then raise."""
    ws = tmp_path / "workspace"
    ws.mkdir()
    marker = tmp_path / "imported.txt"
    for name in SHADOWED:
        (ws / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write({name!r} + '\\n')\n"
                                       f"raise RuntimeError('the workspace {name}.py was imported')\n")
    (ws / "model.py").write_text(TWO_LINEARS)
    return ws


def _imported(ws: Path) -> list[str]:
    marker = ws.parent / "imported.txt"
    return marker.read_text().split() if marker.exists() else []


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONSAFEPATH", "PYTHONPATH", "PYTHONSTARTUP")}
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def _console_script() -> str:
    """`torch-lsp` as an editor finds it: next to this interpreter, else on PATH."""
    here = Path(sys.executable).parent / ("torch-lsp.exe" if os.name == "nt" else "torch-lsp")
    found = str(here) if here.exists() else shutil.which("torch-lsp")
    if found is None:
        pytest.skip("the torch-lsp console script is not installed (pip install -e .)")
    return found


def _command(argv: list[str]) -> list[str]:
    """A configuration's command with its program found as the editor would (this
    interpreter's, for `python`)."""
    if argv[0] == "torch-lsp":
        return [_console_script(), *argv[1:]]
    if argv[0] in ("python", "python3"):
        return [sys.executable, *argv[1:]]
    return argv


def _initialize(argv: list[str], cwd: Path, workspace: Path, options: dict | None = None) -> dict:
    """Start the server, send `initialize`, return the reply (then shut it down)."""
    err = tempfile.TemporaryFile()  # (a pipe nobody reads could fill up and stall the server)
    proc = subprocess.Popen(argv, cwd=cwd, env=_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
    watchdog = threading.Timer(120, proc.kill)  # no answer at all: the read below ends at EOF
    watchdog.start()
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(_lsp_message({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "processId": os.getpid(), "rootUri": workspace.as_uri(), "capabilities": {},
            "initializationOptions": options or {}}}))
        proc.stdin.flush()
        while True:
            try:
                message = _read_message(proc.stdout)
            except (EOFError, ValueError):
                proc.kill()
                proc.wait(timeout=10)
                err.seek(0)
                log = err.read().decode(errors="replace")[-2000:]
                raise AssertionError(f"{argv} in {cwd} did not answer initialize:\n{log}") from None
            if message.get("id") == 1:
                break
        for msg in ({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}, {"jsonrpc": "2.0", "method": "exit"}):
            proc.stdin.write(_lsp_message(msg))
        proc.stdin.flush()
        proc.wait(timeout=30)
        return message
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        watchdog.cancel()
        err.close()


def _answered(reply: dict) -> None:
    assert reply["result"]["serverInfo"]["name"] == "torch-lsp"
    assert reply["result"]["capabilities"]["hoverProvider"]


# ============================================================================ the configurations
def _neovim_cmd() -> list[str]:
    text = (EDITORS / "neovim" / "lsp" / "torch_lsp.lua").read_text()
    (cmd,) = re.findall(r"^\s*cmd\s*=\s*\{([^}]*)\}", text, re.M)
    # lua/torch_lsp/init.lua (Neovim 0.7-0.10) has the same default cmd (it works copied alone)
    module = (EDITORS / "neovim" / "lua" / "torch_lsp" / "init.lua").read_text()
    assert re.findall(r"^\s*cmd\s*=\s*\{([^}]*)\}", module, re.M) == [cmd]
    return re.findall(r"'([^']*)'", cmd)


def _helix_cmd() -> list[str]:
    server = tomllib.loads((EDITORS / "helix" / "languages.toml").read_text())["language-server"]["torch-lsp"]
    return [server["command"], *server["args"]]


def _emacs_cmd() -> list[str]:
    def find(form):
        if isinstance(form, list):
            if form and form[0] == "with-eval-after-load":
                for sub in form:
                    found = find(sub)
                    if found:
                        return found
            if len(form) == 3 and form[0] == "add-to-list" and form[1] == "eglot-server-programs":
                modes, dot, program = form[2]  # '(MODES . PROGRAM)
                assert dot == "."
                return program
            for sub in form:
                found = find(sub)
                if found:
                    return found
        return None

    program = find(_read_sexps((EDITORS / "emacs" / "torch-lsp.el").read_text()))
    assert program is not None
    return program


def _vscode_cmds() -> list[list[str]]:
    """`<python> bundled/tool/lsp_server.py serve --stdio` (the server bundled in the
    extension) and, for a build without it, `<python> -m torch_lsp serve --stdio`
    (vscode-languageclient appends --stdio for TransportKind.stdio), both started in
    the extension's folder."""
    interpreter = (VSCODE / "src" / "interpreter.ts").read_text()
    assert re.search(r"launcher \? \[launcher, \.\.\.args\] : \['-m', 'torch_lsp', \.\.\.args\]", interpreter)
    assert re.search(r"export function serverCommand\([^)]*\): Command \{\s*return torchLsp\(interp, \['serve'\], launcher\)",
                     interpreter)
    assert re.search(r"path\.join\(extensionPath, 'bundled', 'tool', 'lsp_server\.py'\)", interpreter)
    extension = (VSCODE / "src" / "extension.ts").read_text()
    assert re.search(r"transport: TransportKind\.stdio,\s*options: \{ cwd: this\.neutralCwd\(\)", extension)
    assert re.search(r"neutralCwd\(\): string \{\s*return this\.context\.extensionUri\?\.fsPath", extension)
    launcher = VSCODE / "bundled" / "tool" / "lsp_server.py"
    return [[sys.executable, str(launcher), "serve", "--stdio"], [sys.executable, "-m", "torch_lsp", "serve", "--stdio"]]


@pytest.mark.parametrize("editor", ["neovim", "helix", "emacs"])
def test_editors_that_start_the_console_script_in_the_workspace(editor, hostile):
    argv = {"neovim": _neovim_cmd, "helix": _helix_cmd, "emacs": _emacs_cmd}[editor]()
    assert "serve" in argv, argv
    _answered(_initialize(_command(argv), cwd=hostile, workspace=hostile))
    assert _imported(hostile) == []


@pytest.mark.parametrize("bundled", [True, False], ids=["bundled-launcher", "python-m"])
def test_vscode_starts_its_server_in_the_extension_folder(hostile, bundled, tmp_path):
    argv = _vscode_cmds()[0 if bundled else 1]
    assert "serve" in argv, argv
    assert not list(VSCODE.glob("*.py")), "the extension's folder is on sys.path of the server it starts"
    assert [p.name for p in (VSCODE / "bundled" / "tool").glob("*.py")] == ["lsp_server.py"], \
        "the launcher's folder is first on sys.path of the bundled server"
    cwd = VSCODE
    if bundled and not (VSCODE / "bundled" / "libs" / "torch_lsp").is_dir():
        # The bundle is built by `npm run bundle`; here the extension's layout with this
        # checkout's torch_lsp as its bundled library (its dependencies come from this Python).
        cwd = tmp_path / "extension"
        (cwd / "bundled" / "tool").mkdir(parents=True)
        (cwd / "bundled" / "libs").mkdir()
        shutil.copy(VSCODE / "bundled" / "tool" / "lsp_server.py", cwd / "bundled" / "tool")
        (cwd / "bundled" / "libs" / "torch_lsp").symlink_to(ROOT / "torch_lsp", target_is_directory=True)
        argv = [argv[0], str(cwd / "bundled" / "tool" / "lsp_server.py"), *argv[2:]]
    _answered(_initialize(argv, cwd=cwd, workspace=hostile))
    assert _imported(hostile) == []


@pytest.mark.skipif(sys.version_info < (3, 11), reason="-P is new in Python 3.11")
def test_python_p_m_is_safe_in_the_workspace(hostile):
    """What the README says to use for a hand-written `python -m` command."""
    _answered(_initialize([sys.executable, "-P", "-m", "torch_lsp", "serve"], cwd=hostile, workspace=hostile))
    assert _imported(hostile) == []


def test_control_python_m_in_the_workspace_imports_its_modules(hostile):
    """Why: the same workspace as the working directory of `python -m torch_lsp`."""
    with pytest.raises(AssertionError, match="was imported"):
        _initialize([sys.executable, "-m", "torch_lsp", "serve"], cwd=hostile, workspace=hostile)
    assert _imported(hostile) != []


def test_the_pre_commit_hook_and_the_ci_example_run_in_the_workspace(hostile):
    import yaml

    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    commands = [shlex.split(hook["entry"]) + ["model.py"]]
    workflow = yaml.safe_load((EDITORS / "ci" / "github-actions.yml").read_text())
    commands += [shlex.split(s["run"]) for s in workflow["jobs"]["torch-lsp"]["steps"]
                 if s.get("run", "").startswith("torch-lsp ")]
    assert len(commands) == 3
    for argv in commands:
        proc = subprocess.run(_command(argv), cwd=hostile, env=_env(), capture_output=True, text=True, timeout=300)
        found = (hostile / "torch-lsp.sarif").read_text() if "sarif" in argv else proc.stdout
        assert "TL201" in found, proc.stdout + proc.stderr
        assert _imported(hostile) == [], proc.stderr
    report = json.loads((hostile / "torch-lsp.sarif").read_text())
    assert report["runs"][0]["results"][0]["ruleId"] == "TL201"

"""The server bundled with the VS Code extension (editors/vscode/bundled): `npm run bundle`
(scripts/bundle.py) installs torch-lsp and its pure-Python dependencies into bundled/libs,
and bundled/tool/lsp_server.py runs them with any Python >= 3.10, one that has no
torch-lsp, pygls, ... of its own (a fresh virtual environment without pip), over stdio.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_server_bad_input import BUGGY, Raw, initialize, open_doc

ROOT = Path(__file__).resolve().parent.parent
EXT = ROOT / "editors" / "vscode"
LAUNCHER = EXT / "bundled" / "tool" / "lsp_server.py"
LIBS = EXT / "bundled" / "libs"


def find_python(version: str) -> str | None:
    """A Python of this version (on PATH, or in a pyenv's versions), checked by running it."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [shutil.which(f"python{version}"), *sorted(str(p) for p in root.glob(f"versions/{version}.*/bin/python{version}"))]
    for exe in filter(None, candidates):
        try:
            r = subprocess.run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True,
                               text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        if r.returncode == 0 and r.stdout.strip() == version:
            return exe
    return None


PYTHON310 = find_python("3.10")


@pytest.fixture(scope="module")
def bundle() -> Path:
    proc = subprocess.run([sys.executable, str(EXT / "scripts" / "bundle.py")], cwd=EXT, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=600)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-30:])
        if "No matching distribution" in proc.stdout or "Could not find a version" in proc.stdout:
            pytest.skip(f"the bundle's dependencies cannot be downloaded here (pip needs the package index):\n{tail}")
        pytest.fail(f"scripts/bundle.py exited {proc.returncode}:\n{tail}", pytrace=False)
    return LIBS


def bare_venv(where: Path, python: str = sys.executable) -> Path:
    """A virtual environment without pip, without the system site-packages: nothing of torch-lsp's."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(where)], check=True, timeout=120)
    exe = where / "bin" / "python"
    probe = subprocess.run([str(exe), "-c", "import torch_lsp"], capture_output=True, text=True, cwd=where, env=clean_env())
    assert probe.returncode != 0 and "No module named 'torch_lsp'" in probe.stderr
    return exe


def site_packages(exe: Path) -> Path:
    out = subprocess.run([str(exe), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True, env=clean_env())
    return Path(out.stdout.strip())


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "TORCH_LSP_IMPORT_STRATEGY")}
    env.update(extra)
    return env


class BundledServer(Raw):
    def __init__(self, exe: Path, root: Path, env: dict[str, str]):  # (no super().__init__: it would start another server)
        self.proc = subprocess.Popen([str(exe), str(LAUNCHER), "serve", "--stdio"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=root, env=env)
        self.next_id = 0
        self.buffer = b""
        self.notifications = []


def test_the_bundle_holds_the_server_and_its_dependencies(bundle):
    names = {p.name.split("-")[0].lower() for p in bundle.glob("*.dist-info")}
    assert {"torch_lsp", "pygls", "lsprotocol", "cattrs", "attrs", "jedi", "parso", "typing_extensions"} <= names
    # What Python 3.10 needs as well (the bundle runs from 3.10 on, whichever Python built it).
    assert {"tomli", "exceptiongroup"} <= names
    assert not (bundle / "bin").exists()
    assert not list(bundle.rglob("*.so")), "every bundled dependency is pure Python"
    assert (bundle / "torch_lsp" / "cli.py").read_text() == (ROOT / "torch_lsp" / "cli.py").read_text()


@pytest.mark.parametrize("python", [sys.executable, PYTHON310], ids=["this-python", "python3.10"])
def test_a_bare_python_gets_diagnostics_from_the_bundled_server(bundle, tmp_path, python):
    if python is None:
        pytest.skip("no Python 3.10 here (on PATH or in a pyenv): the oldest Python the bundle supports")
    exe = bare_venv(tmp_path / "venv", python)
    # A workspace file named like a module the server imports does not shadow it (the cwd is not on sys.path).
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "json.py").write_text("raise SystemExit('the workspace json.py was imported')\n")
    server = BundledServer(exe, tmp_path / "ws", clean_env())
    try:
        initialize(server, tmp_path / "ws")
        uri = (tmp_path / "ws" / "model.py").as_uri()
        open_doc(server, uri, BUGGY)
        diags = server.diagnostics(uri, 1, timeout=60)
        assert [d["code"] for d in diags] == ["TL201"]
        assert diags[0]["range"]["start"]["line"] == 7
    finally:
        server.close()
    assert server.proc.returncode == 0


def test_the_import_strategy(bundle, tmp_path):
    """useBundled: the bundled torch-lsp even when the interpreter has its own (here a broken
    one); fromEnvironment: the interpreter's own when it has one, else the bundled one."""
    exe = bare_venv(tmp_path / "venv")
    cmd = [str(exe), str(LAUNCHER), "--version"]
    for strategy in ("useBundled", "fromEnvironment"):
        r = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(TORCH_LSP_IMPORT_STRATEGY=strategy),
                           cwd=tmp_path)
        assert (r.returncode, r.stdout.strip()) == (0, "torch-lsp 0.1.0"), r.stderr
    own = site_packages(exe) / "torch_lsp"
    own.mkdir(parents=True)
    (own / "__init__.py").write_text("raise ImportError('the environment torch-lsp')\n")
    r = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(), cwd=tmp_path)
    assert (r.returncode, r.stdout.strip()) == (0, "torch-lsp 0.1.0"), r.stderr
    r = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(TORCH_LSP_IMPORT_STRATEGY="fromEnvironment"),
                       cwd=tmp_path)
    assert r.returncode != 0 and "the environment torch-lsp" in r.stderr


def test_the_summary_command_runs_bundled(bundle, tmp_path):
    exe = bare_venv(tmp_path / "venv")
    model = tmp_path / "model.py"
    model.write_text(BUGGY)
    r = subprocess.run([str(exe), str(LAUNCHER), "summary", str(model)], capture_output=True, text=True,
                       env=clean_env(), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Net" in r.stdout and "Linear" in r.stdout


def test_a_python_older_than_310_is_told(tmp_path):
    python39 = find_python("3.9")
    if python39 is None:
        pytest.skip("no Python 3.9 here (on PATH or in a pyenv) to run the launcher with")
    r = subprocess.run([python39, str(LAUNCHER), "--version"], capture_output=True, text=True, env=clean_env(),
                       cwd=tmp_path)
    assert r.returncode == 3
    assert "torch-lsp needs Python 3.10 or newer" in r.stderr and "is Python 3.9" in r.stderr

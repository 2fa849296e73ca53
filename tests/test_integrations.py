"""The other clients and CI integrations: the pre-commit hook, the GitHub Actions
example, Helix's and Emacs' configurations. Each file is checked for syntax and,
where it names a command, that command is run as written."""
from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from conftest import TWO_LINEARS

ROOT = Path(__file__).resolve().parent.parent
BUGGY = TWO_LINEARS  # TL201 at line 9, column 30


def _torch_lsp(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "torch_lsp", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


# ============================================================================ pre-commit
def test_the_pre_commit_manifest_is_valid():
    pre_commit = shutil.which("pre-commit") or (Path(sys.executable).parent / "pre-commit")
    if not Path(pre_commit).exists():
        pytest.skip("pre-commit is not installed (it is in the test extra: pip install -e '.[test]')")
    proc = subprocess.run([str(pre_commit), "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_pre_commit_hook_entry_checks_the_files_it_is_given(tmp_path):
    import yaml

    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "torch-lsp" and hook["language"] == "python"
    argv = shlex.split(hook["entry"])
    assert argv[0] == "torch-lsp"
    (tmp_path / "bad.py").write_text(BUGGY)
    (tmp_path / "good.py").write_text(BUGGY.replace("Linear(30, 5)", "Linear(20, 5)"))
    # pre-commit appends the staged file names to the entry
    bad = _torch_lsp(*argv[1:], "bad.py", "good.py", cwd=tmp_path)
    assert bad.returncode == 1 and "bad.py:9:30: TL201" in bad.stdout
    good = _torch_lsp(*argv[1:], "good.py", cwd=tmp_path)
    assert good.returncode == 0, good.stdout


def _readme_yaml_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [b.split("```", 1)[0] for b in text.split("```yaml\n")[1:]]


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """A clone of this repository's HEAD, as a user has it (installing from the working tree would write build/ there)."""
    where = tmp_path_factory.mktemp("clone") / "torch-lsp"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(where)], check=True, timeout=300)
    return where


def test_the_readme_pre_commit_local_hook_works_from_a_clone(tmp_path, clone):
    """The README's `repo: local` hook, with the clone's path, run by pre-commit in a project."""
    import yaml

    pre_commit = shutil.which("pre-commit") or (Path(sys.executable).parent / "pre-commit")
    if not Path(pre_commit).exists():
        pytest.skip("pre-commit is not installed (it is in the test extra: pip install -e '.[test]')")
    [block] = [b for b in _readme_yaml_blocks() if "repo: local" in b]
    assert '"/path/to/torch-lsp"' in block
    config = yaml.safe_load(block.replace("/path/to/torch-lsp", str(clone)))
    [hook] = config["repos"][0]["hooks"]
    assert hook["entry"] == yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())[0]["entry"]
    project = tmp_path / "project"
    project.mkdir()
    (project / ".pre-commit-config.yaml").write_text(block.replace("/path/to/torch-lsp", str(clone)))
    (project / "bad.py").write_text(BUGGY)
    (project / "good.py").write_text(BUGGY.replace("Linear(30, 5)", "Linear(20, 5)"))
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run(["git", "add", "."], cwd=project, check=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-home")
    proc = subprocess.run([str(pre_commit), "run", "--all-files"], cwd=project, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "bad.py:9:30: TL201" in proc.stdout and "good.py" not in proc.stdout, proc.stdout


# ============================================================================ GitHub Actions
def test_the_github_actions_install_step_installs_from_git(tmp_path, clone):
    """The workflow's install step, with the clone as the repository and its HEAD as the commit."""
    import yaml

    workflow = yaml.safe_load((ROOT / "editors" / "ci" / "github-actions.yml").read_text())
    [install] = [s["run"] for s in workflow["jobs"]["torch-lsp"]["steps"] if "pip install" in s.get("run", "")]
    assert install == 'pip install "torch-lsp @ git+https://github.com/<owner>/torch-lsp@<commit>"'
    assert any(install in b for b in _readme_yaml_blocks())
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True, check=True).stdout.strip()
    # (git+file://localhost/...: a PEP 508 URL needs a host)
    argv = shlex.split(install.replace("https://github.com/<owner>/torch-lsp", f"file://localhost{clone}").replace("<commit>", head))
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    bin_dir = tmp_path / "venv" / "bin"
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (tmp_path / "model.py").write_text(BUGGY)
    check = subprocess.run([str(bin_dir / "torch-lsp"), "check", "--format", "github", "."], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 1 and check.stdout.startswith("::error file=model.py,line=9,col=30"), check.stdout


def test_the_github_actions_example_runs_as_written(tmp_path):
    import yaml

    workflow = yaml.safe_load((ROOT / "editors" / "ci" / "github-actions.yml").read_text())
    steps = workflow["jobs"]["torch-lsp"]["steps"]
    commands = [s["run"] for s in steps if "run" in s and s["run"].startswith("torch-lsp ")]
    assert len(commands) == 2
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    (tmp_path / "model.py").write_text(BUGGY)
    github = _torch_lsp(*shlex.split(commands[0])[1:], cwd=tmp_path)
    assert github.returncode == 1 and github.stdout.startswith("::error file=model.py,line=9,col=30")
    sarif = _torch_lsp(*shlex.split(commands[1])[1:], cwd=tmp_path)
    assert sarif.returncode == 0
    report = json.loads((tmp_path / upload["with"]["sarif_file"]).read_text())
    assert report["version"] == "2.1.0" and report["runs"][0]["results"][0]["ruleId"] == "TL201"


# ============================================================================ Helix
def _lsp_message(obj: dict) -> bytes:
    body = json.dumps(obj).encode()
    return f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def _read_message(stream) -> dict:
    length = None
    while True:
        line = stream.readline()
        if not line:
            raise EOFError("the server closed its output")
        if line in (b"\r\n", b"\n"):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return json.loads(stream.read(length))


def test_the_helix_configuration_starts_the_server(tmp_path):
    config = tomllib.loads((ROOT / "editors" / "helix" / "languages.toml").read_text())
    server = config["language-server"]["torch-lsp"]
    python = next(lang for lang in config["language"] if lang["name"] == "python")
    assert "torch-lsp" in python["language-servers"]
    command = [sys.executable, "-m", "torch_lsp"] if server["command"] == "torch-lsp" else [server["command"]]
    proc = subprocess.Popen(command + server["args"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            cwd=tmp_path)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(_lsp_message({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "processId": os.getpid(), "rootUri": tmp_path.as_uri(), "capabilities": {},
            "initializationOptions": server["config"]}}))
        proc.stdin.flush()
        reply = _read_message(proc.stdout)
        assert reply["id"] == 1 and reply["result"]["serverInfo"]["name"] == "torch-lsp"
        assert reply["result"]["capabilities"]["hoverProvider"]
    finally:
        proc.kill()
        proc.wait(timeout=10)


# ============================================================================ Emacs
def _read_sexps(text: str) -> list:
    """A reader for the Emacs Lisp subset the file uses: lists, strings, quotes,
    symbols and keywords, comments; raises ValueError on unbalanced input."""
    tokens: list = []
    i, n = 0, len(text)
    stack: list[list] = [[]]
    while i < n:
        c = text[i]
        if c == ";":
            while i < n and text[i] != "\n":
                i += 1
        elif c in " \t\r\n'`#":
            i += 1
        elif c == "(":
            stack.append([])
            i += 1
        elif c == ")":
            if len(stack) == 1:
                raise ValueError(f"unbalanced ')' at offset {i}")
            done = stack.pop()
            stack[-1].append(done)
            i += 1
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                raise ValueError("unterminated string")
            stack[-1].append(text[i + 1:j])
            i = j + 1
        else:
            j = i
            while j < n and text[j] not in " \t\r\n()\";":
                j += 1
            stack[-1].append(text[i:j])
            i = j
    if len(stack) != 1:
        raise ValueError("unbalanced '('")
    tokens = stack[0]
    return tokens


def test_the_emacs_configuration_reads_and_names_the_server():
    text = (ROOT / "editors" / "emacs" / "torch-lsp.el").read_text()
    forms = _read_sexps(text)
    flat = json.dumps(forms)
    assert '"torch-lsp", "serve"' in flat and ":torch-lsp" in flat and "eglot-ensure" in flat
    with pytest.raises(ValueError):
        _read_sexps(text + "(")


def _emacs() -> str | None:
    """Emacs for the test: installed, or Debian's emacs-nox installed now when root."""
    if shutil.which("emacs") is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "emacs-nox"], capture_output=True, timeout=600, env=env)
        if shutil.which("emacs") is None:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=600, env=env)
            subprocess.run(["apt-get", "install", "-y", "-qq", "emacs-nox"], capture_output=True, timeout=600, env=env)
    return shutil.which("emacs")


def test_emacs_evaluates_the_configuration(tmp_path):
    emacs = _emacs()
    if emacs is None:
        pytest.skip("emacs is not installed and cannot be installed here (the reader above checked the syntax)")
    # Eglot is built in from Emacs 29 (Debian 12 has 28): a stand-in `eglot` feature
    # runs the file's with-eval-after-load form as loading eglot would.
    # (The after-load forms of a feature provided while a file loads run when that
    # file is done: the checks come in a second file.)
    (tmp_path / "eglot.el").write_text(f'(load-file "{ROOT / "editors" / "emacs" / "torch-lsp.el"}")\n'
                                       "(defvar eglot-server-programs nil)\n(provide 'eglot)\n")
    (tmp_path / "check.el").write_text(textwrap.dedent("""\
        (princ (format "%S\\n" (assoc '(python-mode python-ts-mode) eglot-server-programs)))
        (princ (format "%S\\n" (default-value 'eglot-workspace-configuration)))
        (princ (format "%S\\n" (memq 'eglot-ensure python-mode-hook)))
    """))
    proc = subprocess.run([emacs, "--batch", "-Q", "-l", str(tmp_path / "eglot.el"), "-l", str(tmp_path / "check.el")],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    server, config, hooked = proc.stdout.splitlines()[-3:]
    assert server == '((python-mode python-ts-mode) "torch-lsp" "serve")'
    assert config.startswith("(:torch-lsp (:inlayHints t") and hooked.startswith("(eglot-ensure")

"""The VS Code extension (editors/vscode): type check, unit tests, bundle and .vsix.

Runs npm in editors/vscode: ``npm ci`` (only when node_modules is missing or older
than package-lock.json), then ``npm run typecheck``, ``npm test`` (node --test against
a fake ``vscode`` module and a fake LanguageClient), ``npm run build`` and ``npm run
package``. Skipped when node or npm is missing. The real-editor test is separate.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from torch_lsp.lsp.settings import RuntimeSettings
from torch_lsp.server import ClientSettings

ROOT = Path(__file__).resolve().parent.parent
EXT = ROOT / "editors" / "vscode"
VSIX = EXT / "torch-lsp.vsix"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="node and npm are needed to build the VS Code extension (editors/vscode)",
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(npm_config_update_notifier="false", npm_config_fund="false", npm_config_audit="false",
               NO_COLOR="1", FORCE_COLOR="0")
    return env


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(args), cwd=EXT, env=_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-60:])
        pytest.fail(f"`{' '.join(args)}` in {EXT} exited {proc.returncode}:\n{tail}", pytrace=False)
    return proc


def _installed_at() -> float | None:
    # npm writes node_modules/.package-lock.json on every install.
    for marker in (EXT / "node_modules" / ".package-lock.json", EXT / "node_modules"):
        if marker.exists():
            return marker.stat().st_mtime
    return None


@pytest.fixture(scope="session")
def npm_ready() -> Path:
    installed = _installed_at()
    if installed is None or installed < (EXT / "package-lock.json").stat().st_mtime:
        _run("npm", "ci", "--no-fund", "--no-audit")
    return EXT


def test_typecheck(npm_ready):
    _run("npm", "run", "typecheck")


def test_unit_tests(npm_ready):
    out = _run("npm", "test").stdout
    assert "# fail 0" in out, out[-3000:]
    assert "# pass " in out


def test_build(npm_ready):
    _run("npm", "run", "build")
    bundle = EXT / "dist" / "extension.js"
    assert bundle.is_file()
    text = bundle.read_text(encoding="utf-8")
    assert 'require("vscode")' in text  # provided by VS Code, not bundled
    assert 'require("vscode-languageclient' not in text  # bundled: the .vsix has no node_modules
    assert "torch_lsp" in text


def test_package(npm_ready):
    """`npm run package`: the extension and the server bundled with it (`npm run bundle`)."""
    VSIX.unlink(missing_ok=True)
    _run("npm", "run", "package", timeout=900)
    assert VSIX.is_file()
    with zipfile.ZipFile(VSIX) as z:
        names = set(z.namelist())
        manifest = json.loads(z.read("extension/package.json"))
        launcher = z.read("extension/bundled/tool/lsp_server.py").decode()
        bundled_cli = z.read("extension/bundled/libs/torch_lsp/cli.py").decode()
    assert {"extension/dist/extension.js", "extension/package.json", "extension/bundled/tool/lsp_server.py",
            "extension/bundled/libs/torch_lsp/__init__.py", "extension/bundled/libs/pygls/__init__.py",
            "extension/bundled/libs/lsprotocol/types.py", "extension/bundled/libs/jedi/__init__.py"} <= names
    assert launcher == (EXT / "bundled" / "tool" / "lsp_server.py").read_text()
    assert bundled_cli == (ROOT / "torch_lsp" / "cli.py").read_text()  # this checkout's torch-lsp
    assert not any(n.startswith(("extension/src/", "extension/node_modules/", "extension/test/", "extension/out/",
                                 "extension/scripts/"))
                   or "__pycache__" in n or n.endswith(".pyc") or n.startswith("extension/bundled/libs/bin/")
                   for n in names), sorted(n for n in names if "__pycache__" in n or "/src/" in n)[:20]
    assert VSIX.stat().st_size < 12_000_000  # jedi (with its typeshed stubs) is most of it
    assert manifest["main"] == "./dist/extension.js"
    assert manifest["engines"]["vscode"] == "^1.100.0"
    assert manifest["activationEvents"] == ["onLanguage:python"]
    assert "torch-lsp.runtime.enabled" in manifest["capabilities"]["untrustedWorkspaces"]["restrictedConfigurations"]
    commands = {c["command"] for c in manifest["contributes"]["commands"]}
    assert commands == {"torch-lsp.restart", "torch-lsp.showOutput", "torch-lsp.showSummary"}


def test_the_settings_describe_what_the_server_does():
    """`torch-lsp.unsafeFixes` names the fix-all kind the server advertises (and says quick
    fixes are always offered: the server marks the unsafe ones, it does not hide them)."""
    from torch_lsp.lsp.features.code_actions import FIX_ALL_KIND

    props = json.loads((EXT / "package.json").read_text())["contributes"]["configuration"]["properties"]
    unsafe = props["torch-lsp.unsafeFixes"]["markdownDescription"]
    assert f"`{FIX_ALL_KIND}`" in unsafe
    assert "always offer every fix" in unsafe and '"(unsafe)"' in unsafe
    readme = (EXT / "README.md").read_text()
    assert f'"{FIX_ALL_KIND}": "explicit"' in readme


def _settings_from_extension(npm_ready, cases: list[tuple[dict, bool]]) -> list[dict]:
    """What src/settings.ts sends for each (user values, trusted), via out/settings.js (built by npm test)."""
    if not (EXT / "out" / "settings.js").exists():
        _run("npm", "test")
    script = ("const s = require('./out/settings.js');"
              "const cases = JSON.parse(process.argv[1]);"
              "console.log(JSON.stringify(cases.map(([v, t]) => s.readSettings(s.plainConfiguration(v), t))));")
    proc = _run("node", "-e", script, json.dumps(cases))
    return json.loads(proc.stdout)


def test_the_server_reads_what_the_extension_sends(npm_ready):
    defaults, custom, untrusted = _settings_from_extension(npm_ready, [
        ({}, True),
        ({"select": ["TL1"], "extendIgnore": ["TL902"], "inlayHints": False, "logLevel": "debug", "unsafeFixes": True,
          "runtime": {"enabled": True, "timeout": 3, "memoryMb": 512, "reportSkipped": True}}, True),
        ({"runtime": {"enabled": True}}, False),
    ])
    for sent in (defaults, custom, untrusted):
        problems: list[str] = []
        ClientSettings.from_json(sent, problems)
        assert problems == [], sent
        # The same through workspace/configuration's section wrapper and initializationOptions' `settings`.
        ClientSettings.from_json({"torch-lsp": sent}, problems)
        assert problems == []

    d = ClientSettings.from_json(defaults, [])
    assert d.select is None and d.ignore is None  # the project's pyproject decides
    assert d.inlay_hints is True and d.runtime_enabled is False and d.workspace_trusted is True
    assert d.runtime == RuntimeSettings(enabled=False)  # the limits stay with [tool.torch-lsp.runtime]

    c = ClientSettings.from_json(custom, [])
    assert c.select == ["TL1"] and c.extend_ignore == ["TL902"] and c.inlay_hints is False
    assert c.log_level == "debug" and c.unsafe_fixes is True
    assert c.runtime_enabled is True
    assert c.runtime == RuntimeSettings(enabled=True, timeout=3, memory_mb=512, report_skipped=True)

    u = ClientSettings.from_json(untrusted, [])
    assert u.workspace_trusted is False and u.runtime_enabled is False
    assert untrusted["runtime"]["enabled"] is False

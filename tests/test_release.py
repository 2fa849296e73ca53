"""What keeps batch checks fast without changing results: a checked file's analysis is
freed by reference counting (no reference cycles left for the collector), and jedi is
not asked about packages that cannot be found."""
from __future__ import annotations

import gc
import textwrap
from pathlib import Path

import pytest

from torch_lsp.analysis import project as project_mod
from torch_lsp.engine import check_source
from torch_lsp.analysis.project import Project

MODEL = textwrap.dedent(
    """
    import torch
    import torch.nn as nn


    def block(c_in, c_out):
        return nn.Sequential(nn.Conv2d(c_in, c_out, 3), nn.ReLU())


    class Net(nn.Module):
        def __init__(self, hidden=20):
            super().__init__()
            self.features = block(3, 16)
            self.fc1 = nn.Linear(10, hidden)
            self.fc2 = nn.Linear(30, 5)

        def forward(self, x):
            x = self.fc1(x)
            for _ in range(2):
                x = torch.relu(x)
            if x.shape[0] > 1:
                x = x * 2
            return self.fc2(x)


    model = Net(20)
    out = model(torch.randn(4, 10))
    """
)


def test_a_checked_file_leaves_no_cyclic_garbage(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(MODEL)
    project = Project([str(tmp_path)])
    check_source(path.read_bytes(), str(path), project=project)  # warm the caches
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        result = check_source(path.read_bytes(), str(path), project=project)
        unreachable = gc.collect()
    finally:
        if was_enabled:
            gc.enable()
    assert [d.code for d in result.diagnostics] == ["TL201"]  # the analysis really ran
    assert unreachable == 0


def test_jedi_is_not_asked_about_a_package_that_is_not_there(tmp_path, monkeypatch):
    path = tmp_path / "m.py"
    path.write_text(textwrap.dedent(
        """
        import torch.nn as nn
        try:
            from surely_not_installed_pkg.blocks import Block
        except ImportError:
            Block = nn.Module


        class Net(Block):
            def __init__(self):
                super().__init__()
                self.w = nn.Linear(2, 2)
        """
    ))
    asked = []
    import jedi

    monkeypatch.setattr(jedi, "Script", lambda *a, **k: asked.append(a) or (_ for _ in ()).throw(RuntimeError("asked")))
    project = Project([str(tmp_path)])
    check_source(path.read_bytes(), str(path), project=project)
    assert asked == []
    assert project_mod._installed("json") and not project_mod._installed("surely_not_installed_pkg")


def test_jedi_is_still_asked_about_a_package_of_the_project(tmp_path, monkeypatch):
    pkg = tmp_path / "mylib"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from mylib._impl import *\n")
    path = tmp_path / "m.py"
    path.write_text("import torch.nn as nn\nfrom mylib import Block\n\n\nclass Net(Block):\n    pass\n")
    asked = []

    def fake_script(*a, **k):
        asked.append(a)
        raise RuntimeError("no answer")

    import jedi

    monkeypatch.setattr(jedi, "Script", fake_script)
    project = Project([str(tmp_path)])
    check_source(path.read_bytes(), str(path), project=project)
    assert asked, "our own resolution fails (star import of a missing module): jedi must get its chance"


E2E = sorted((Path(__file__).parent / "e2e").glob("*.py"))


@pytest.mark.parametrize("path", E2E, ids=lambda p: p.name)
def test_model_files_leave_no_cyclic_garbage(path):
    project = Project([str(path.parent)])
    check_source(path.read_bytes(), str(path), project=project)
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        check_source(path.read_bytes(), str(path), project=project)
        unreachable = gc.collect()
    finally:
        if was_enabled:
            gc.enable()
    assert unreachable == 0

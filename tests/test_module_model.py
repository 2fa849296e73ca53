"""The module model: recognising nn.Module subclasses and the table of what __init__ stores."""
import textwrap

import pytest

from torch_lsp.analysis.context import FileContext
from torch_lsp.analysis.modules import Kind
from torch_lsp.analysis.project import Project
from torch_lsp.analysis.source import SourceFile


def model_of(code: str, path: str | None = None, project: Project | None = None):
    src = SourceFile.parse(textwrap.dedent(code).lstrip("\n"), path)
    ctx = FileContext(src, project or Project(use_jedi=False))
    return {c.name: c for c in ctx.model.classes()}


@pytest.mark.parametrize(
    "header, base",
    [
        ("import torch.nn as nn", "nn.Module"),
        ("import torch", "torch.nn.Module"),
        ("import torch.nn", "torch.nn.Module"),
        ("from torch.nn import Module", "Module"),
        ("from torch.nn import Module as M", "M"),
        ("import torch.nn as tnn", "tnn.Module"),
        ("from torch import nn", "nn.Module"),
        ("from torch.nn.modules.module import Module", "Module"),
        ("import torch.nn as nn", "nn.Conv2d"),
        ("from torch.nn import Sequential", "Sequential"),
        ("from typing import Generic, TypeVar\nimport torch.nn as nn\nT = TypeVar('T')", "nn.Module, Generic[T]"),
    ],
)
def test_module_recognised(header, base):
    classes = model_of(f"{header}\n\nclass Net({base}):\n    pass\n")
    assert classes["Net"].is_module


def test_not_modules():
    classes = model_of("""
    import torch
    from dataclasses import dataclass

    class Plain:
        pass

    class Child(Plain):
        pass

    @dataclass
    class Config:
        dim: int = 3

    class Unknown(SomethingUndefined):
        pass
    """)
    assert not any(c.is_module for c in classes.values())


def test_subclass_chain_in_same_file_and_nested():
    classes = model_of("""
    import torch.nn as nn

    class A(nn.Module):
        pass

    class B(A):
        pass

    class C(B):
        class Inner(nn.Linear):
            pass

    class Later(Defined):
        pass

    class Defined(C):
        pass
    """)
    assert classes["B"].is_module and classes["C"].is_module and classes["Inner"].is_module
    assert classes["Later"].is_module  # bases are looked up in the whole file, not just above
    assert classes["Inner"].torch_bases == {"torch.nn.Linear"}


def test_member_table():
    classes = model_of("""
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self, dim, hidden=32):
            self.dim = dim
            super().__init__()
            self.fc = nn.Linear(dim, hidden)
            self.blocks = nn.ModuleList([nn.ReLU()])
            self.scale = nn.Parameter(torch.ones(1))
            self.register_buffer("mean", torch.zeros(dim))
            self.cache = torch.zeros(dim)
            self.items = []
            self.items.append(nn.Linear(1, 1))
            self._more()

        def _more(self):
            self.extra = nn.GELU()
    """)
    net = classes["Net"]
    members = net.members
    kinds = {name: [a.value.kind for a in assigns] for name, assigns in members.items()}
    assert kinds == {
        "dim": [Kind.UNKNOWN],
        "fc": [Kind.LAYER],
        "blocks": [Kind.MODULE_CONTAINER],
        "scale": [Kind.PARAMETER],
        "mean": [Kind.BUFFER],
        "cache": [Kind.TENSOR],
        "items": [Kind.PLAIN_CONTAINER],
        "extra": [Kind.LAYER],
    }
    fc = members["fc"][0]
    assert fc.value.cls == "torch.nn.Linear"
    assert fc.value_node.lineno == 8 and fc.target.col_offset == 8
    assert members["dim"][0].before_super and not fc.before_super
    assert members["extra"][0].method == "_more"
    assert [i.value.cls for i in members["items"][0].value.items] == ["torch.nn.Linear"]
    assert net.super_init is not None and net.super_init.lineno == 7
    assert net.registered_names >= {"fc", "blocks", "scale", "mean", "extra"}
    assert "cache" not in net.registered_names


def write(root, rel, text):
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(textwrap.dedent(text).lstrip("\n"))
    return p


@pytest.fixture
def project_tree(tmp_path):
    write(tmp_path, "pyproject.toml", "")
    write(tmp_path, "pkg/__init__.py", "")
    write(tmp_path, "pkg/layers/__init__.py", "from .base import Base\n")
    write(tmp_path, "pkg/layers/base.py", """
    import torch.nn as nn

    class Base(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("scale", None)
    """)
    write(tmp_path, "pkg/star.py", "from torch.nn import Module as StarBase\n")
    write(tmp_path, "pkg/alias.py", "from pkg.layers.base import Base\nAliased = Base\n")
    write(tmp_path, "pkg/factory.py", "from pkg.layers.base import Base\n\ndef make():\n    return Base\n\nMade = make()\n")
    return tmp_path


@pytest.mark.parametrize(
    "imports, base",
    [
        ("from .layers.base import Base", "Base"),
        ("from .layers import Base", "Base"),  # re-exported by a package __init__
        ("from pkg.layers.base import Base", "Base"),
        ("from pkg.layers import base", "base.Base"),
        ("import pkg.layers.base", "pkg.layers.base.Base"),
        ("from .star import *", "StarBase"),
    ],
)
def test_cross_file_bases(project_tree, imports, base):
    path = write(project_tree, "pkg/model.py", f"{imports}\n\nclass Net({base}):\n    pass\n")
    classes = model_of(path.read_text(), str(path))
    assert classes["Net"].is_module


def test_cross_file_base_registered_names_are_known(project_tree):
    from torch_lsp.engine import check_source

    path = write(project_tree, "pkg/model.py", """
    import torch
    from .layers.base import Base

    class Net(Base):
        def __init__(self):
            super().__init__()
            self.scale = torch.ones(1)
            self.other = torch.ones(1)

        def forward(self, x):
            return x * self.scale * self.other
    """)
    diags = check_source(path.read_bytes(), str(path), project=Project(use_jedi=False)).diagnostics
    assert [(d.code, d.range.start.line + 1) for d in diags] == [("TL101", 8)]


def test_module_level_alias_is_followed(project_tree):
    path = write(project_tree, "pkg/model.py", "from pkg.alias import Aliased\n\nclass Net(Aliased):\n    pass\n")
    assert model_of(path.read_text(), str(path), Project(use_jedi=False))["Net"].is_module


def test_jedi_resolves_what_imports_alone_cannot(project_tree):
    path = write(project_tree, "pkg/model.py", "from pkg.factory import Made\n\nclass Net(Made):\n    pass\n")
    assert not model_of(path.read_text(), str(path), Project(use_jedi=False))["Net"].is_module
    assert model_of(path.read_text(), str(path), Project(use_jedi=True))["Net"].is_module


def test_unsaved_overlay_wins_over_disk(project_tree):
    path = write(project_tree, "pkg/model.py", "from .layers.base import Base\n\nclass Net(Base):\n    pass\n")
    project = Project(use_jedi=False)
    project.set_overlay(str(project_tree / "pkg/layers/base.py"), "class Base:\n    pass\n")
    assert not model_of(path.read_text(), str(path), project)["Net"].is_module
    project.set_overlay(str(project_tree / "pkg/layers/base.py"), None)
    assert model_of(path.read_text(), str(path), project)["Net"].is_module


def test_inheritance_cycle_does_not_hang():
    classes = model_of("class A(B):\n    pass\n\nclass B(A):\n    pass\n")
    assert not classes["A"].is_module and not classes["B"].is_module


def test_jedi_is_not_asked_about_the_standard_library(tmp_path, monkeypatch):
    # A class of the standard library is never an nn.Module: a base our resolution does
    # not find there (io.py's `_io._BufferedIOBase`, a C module) is not looked up with
    # jedi, which cost 0.2 s a look-up. A project's own name still is.
    asked: list = []
    real = Project.jedi_resolve

    def counting(self, near, node, qualified=None):
        asked.append(qualified)
        return real(self, near, node, qualified)

    monkeypatch.setattr(Project, "jedi_resolve", counting)
    (tmp_path / "pyproject.toml").write_text("")
    infos = model_of("""
        import io
        import random
        import torch.nn as nn
        from helpers import Missing


        class Stream(io.BufferedIOBase):
            pass


        class Rng(random.Random):
            pass


        class Other(Missing):
            pass


        class Net(nn.Module):
            pass
    """, str(tmp_path / "m.py"), Project())
    assert not infos["Stream"].is_module and not infos["Rng"].is_module and infos["Net"].is_module
    assert "helpers.Missing" in asked
    assert not [q for q in asked if q and q.split(".")[0] in ("io", "_io", "random", "_random")], asked


def test_a_name_a_star_import_gets_from_outside_the_project_is_not_asked_of_jedi(tmp_path, monkeypatch):
    # `Enum` reaches the file through star imports, bound by `from enum import Enum`:
    # a name outside the project, as when the file imports it itself (no jedi look-up);
    # a project class that a later star import binds is still found.
    asked: list = []
    real = Project.jedi_resolve

    def counting(self, near, node, qualified=None):
        asked.append(getattr(node, "id", qualified))
        return real(self, near, node, qualified)

    monkeypatch.setattr(Project, "jedi_resolve", counting)
    (tmp_path / "pyproject.toml").write_text("")
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "imports.py").write_text("from enum import Enum\nfrom collections import OrderedDict as Block\n")
    (pkg / "layers.py").write_text("import torch.nn as nn\n\n\nclass Block(nn.Module):\n    pass\n")
    (pkg / "basics.py").write_text("from .imports import *\nfrom .layers import *\n")
    infos = model_of("""
        from .basics import *


        class Mode(Enum):
            A = 1


        class Net(Block):
            pass


        class Other(NotAnywhere):
            pass
    """, str(pkg / "m.py"), Project())
    assert not infos["Mode"].is_module and infos["Net"].is_module and not infos["Other"].is_module
    assert asked == ["NotAnywhere"], asked

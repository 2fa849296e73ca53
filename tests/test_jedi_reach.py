"""A jedi look-up of a bare base-class name is skipped only when jedi surely finds
nothing (analysis/jedi_reach.py): each decision here is checked against jedi itself."""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import jedi
import pytest

from torch_lsp.analysis.project import Project
from torch_lsp.engine import check_source


def _tree(root: Path, files: dict[str, str]) -> None:
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def _decide_and_ask_jedi(root: Path, rel: str, name: str, qualified: str | None = None) -> tuple[bool, list[str]]:
    """(our decision that jedi finds nothing for the last use of ``name`` in ``rel``
    (imported as ``qualified``), the types of what jedi really infers there)."""
    path = root / rel
    project = Project([str(root)])
    src = project.parsed(path.read_bytes(), str(path))
    summary = project.summary_for_source(src)
    node = max((n for n in ast.walk(src.tree) if isinstance(n, ast.Name) and n.id == name),
               key=lambda n: (n.lineno, n.col_offset))  # the last use
    decision = project._cannot_find_name(summary, name, qualified)
    end = src.end_of(node)
    script = jedi.Script(src.text, path=str(path), project=jedi.Project(str(root)))
    found = [d.type for d in script.infer(end.line + 1, max(end.character - 1, 0))]
    return decision, found


MODEL = """
import torch.nn as nn
from .base import *


class Net(Base, nn.Module):
    pass
"""


def _jedi_scripts_of_a_check(tmp_path, monkeypatch) -> list:
    """The jedi scripts a whole check of pkg/model.py makes (each fails at once)."""
    asked: list = []
    monkeypatch.setattr(jedi, "Script", lambda *a, **k: asked.append(a) or (_ for _ in ()).throw(RuntimeError("asked")))
    path = tmp_path / "pkg/model.py"
    check_source(path.read_bytes(), str(path), project=Project([str(tmp_path)]))
    return asked


def test_a_star_chain_into_a_missing_package_is_decided_without_jedi(tmp_path, monkeypatch):
    _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/base.py": "from surely_not_installed_pkg_xyz.all import *\nfrom .helpers import *\n",
        "pkg/helpers.py": "import os\nVALUE = 1\n\ndef helper(Base):\n    return Base\n",
        "pkg/model.py": MODEL,
    })
    decision, found = _decide_and_ask_jedi(tmp_path, "pkg/model.py", "Base")
    assert decision and "class" not in found

    assert _jedi_scripts_of_a_check(tmp_path, monkeypatch) == []


@pytest.mark.parametrize("files", [
    # bound by something our resolution does not follow (a call)
    {"pkg/base.py": "from .helpers import *\n", "pkg/helpers.py": "class Real:\n    pass\n\ndef make():\n    return Real\n\nBase = make()\n"},
    # bound by a function's `global` statement
    {"pkg/base.py": "def setup():\n    global Base\n    Base = Real\n\nclass Real:\n    pass\n\nsetup()\n"},
    # a star import under `with` (our import table reads only `if` and `try`)
    {"pkg/base.py": "import contextlib\nwith contextlib.suppress(ImportError):\n    from .real import *\n",
     "pkg/real.py": "class Base:\n    pass\n"},
    # a star import of a module whose folder holds a stub beside it
    {"pkg/base.py": "from .real import *\n", "pkg/real.py": "Base = object\n", "pkg/real.pyi": "class Base: ...\n"},
])
def test_jedi_is_still_asked_when_it_can_find_the_name(tmp_path, files):
    _tree(tmp_path, {"pkg/__init__.py": "", "pkg/model.py": MODEL, **files})
    decision, found = _decide_and_ask_jedi(tmp_path, "pkg/model.py", "Base")
    assert "class" in found  # jedi finds a class there
    assert not decision


def test_a_name_bound_in_the_enclosing_class_body_is_left_to_jedi(tmp_path):
    _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/model.py": """
            from surely_not_installed_pkg_xyz import *


            class Real:
                pass


            class Outer:
                Alias = Real

                class Inner(Alias):
                    pass
            """,
    })
    decision, found = _decide_and_ask_jedi(tmp_path, "pkg/model.py", "Alias")
    assert "class" in found and not decision


IMPORTED = """
import torch.nn as nn
from .dyn import Made


class Net(Made, nn.Module):
    pass
"""


def test_an_imported_name_its_module_never_binds_is_decided_without_jedi(tmp_path, monkeypatch):
    """pyro's `from .torch import TransformedDistribution`: pyro/distributions/torch.py
    makes its classes in a loop, through locals()."""
    _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/dyn.py": "__all__ = ['Made']\nfor _name in ['Made']:\n    locals()[_name] = type(_name, (), {})\n",
        "pkg/model.py": IMPORTED,
    })
    decision, found = _decide_and_ask_jedi(tmp_path, "pkg/model.py", "Made", "pkg.dyn.Made")
    assert decision and "class" not in found

    assert _jedi_scripts_of_a_check(tmp_path, monkeypatch) == []


@pytest.mark.parametrize("dyn, model", [
    # bound by a call in the imported module
    ("class Real:\n    pass\n\ndef make():\n    return Real\n\nMade = make()\n", IMPORTED),
    # the importing file binds the name a second time
    ("for _name in ['Made']:\n    locals()[_name] = type(_name, (), {})\n",
     IMPORTED + "\n\nclass Made:\n    pass\n\n\nclass Other(Made):\n    pass\n"),
])
def test_jedi_is_still_asked_about_an_imported_name_it_can_find(tmp_path, dyn, model):
    _tree(tmp_path, {"pkg/__init__.py": "", "pkg/dyn.py": dyn, "pkg/model.py": model})
    decision, found = _decide_and_ask_jedi(tmp_path, "pkg/model.py", "Made", "pkg.dyn.Made")
    assert not decision
    assert "class" in found

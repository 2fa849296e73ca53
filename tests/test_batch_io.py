"""What a batch check spends outside the shape interpreter, bounded without changing
any answer."""
from __future__ import annotations

from pathlib import Path

from torch_lsp.analysis.modules import ModuleModel
from torch_lsp.analysis.project import Project

LEVELS = 7


def _diamond(root: Path) -> Path:
    """pkg/m0a.py star-imports m1a and m1b, each of which star-imports m2a and m2b, ...:
    2**LEVELS paths through the star-import graph; the base class is in the last level."""
    pkg = root / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for i in range(LEVELS):
        for side in "ab":
            (pkg / f"m{i}{side}.py").write_text(f"from .m{i + 1}a import *\nfrom .m{i + 1}b import *\n")
    (pkg / f"m{LEVELS}a.py").write_text("import torch.nn as nn\n")
    (pkg / f"m{LEVELS}b.py").write_text("import torch.nn as nn\n\nclass Base(nn.Module):\n    pass\n")
    model = pkg / "model.py"
    model.write_text("from .m0a import *\n\n\nclass Net(Base):\n    pass\n\n\nclass Other(Missing):\n    pass\n")
    return model


def _classes(project: Project, path: Path) -> tuple[dict, int]:
    calls = []
    inner = project.summary

    def counted(p):
        calls.append(p)
        return inner(p)

    project.summary = counted  # type: ignore[method-assign]
    src = project.parsed(path.read_bytes(), str(path))
    model = ModuleModel(project.summary_for_source(src), project)
    out = {c.node.name: (c.is_module, [b.qualname for b in c.user_bases]) for c in model.classes()}
    return out, len(calls)


def test_a_star_import_diamond_is_walked_once_per_module_and_depth_in_a_batch(tmp_path):
    model = _diamond(tmp_path)
    editor = Project([str(tmp_path)], use_jedi=False)  # files may change: nothing remembered
    expected, unremembered = _classes(editor, model)
    assert expected == {"Net": (True, [f"pkg.m{LEVELS}b.Base"]), "Other": (False, [])}

    batch = Project([str(tmp_path)], use_jedi=False)
    batch.files_fixed = True
    got, reads = _classes(batch, model)
    assert got == expected
    # each module is reached at one depth only: a handful of reads per module and name,
    # not one per path (2**LEVELS)
    assert reads < 8 * (2 * LEVELS + 2) < unremembered

"""What the registration rules find before other files are read
(``registration.check_ready``, the server's first publish of a large document):
a subset of ``registration.check``, the findings of the classes that need no
other file; reading is forbidden while it runs (``Project.reading_forbidden``)."""
from __future__ import annotations

import re
import textwrap
import threading
from pathlib import Path

import pytest

from torch_lsp.analysis.context import FileContext
from torch_lsp.analysis.project import NotRead, Project
from torch_lsp.analysis.source import SourceFile
from torch_lsp.rules import registration

# The shared corpus beside the repository (a clone elsewhere, as CI's, finds it at its
# usual place on this machine).
CORPUS = next((p for p in (Path(__file__).resolve().parents[2] / "shared" / "corpus", Path("/work/shared/corpus"))
               if p.is_dir()), Path("/work/shared/corpus"))
BASE = "import torch.nn as nn\n\n\nclass Base(nn.Module):\n    pass\n"


def ready(src: SourceFile, project: Project):
    return registration.check_ready(src, project)


def full(src: SourceFile, project: Project):
    return list(registration.check(FileContext(src, project, False)))


def workspace(tmp_path: Path, text: str) -> tuple[SourceFile, Project]:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "base.py").write_text(BASE)
    path = tmp_path / "m.py"
    path.write_text(text)
    return SourceFile.parse(text, str(path)), Project()


MIXIN = textwrap.dedent("""
    import torch
    import torch.nn as nn
    from base import Base


    class Mixin:
        def _build(self):
            self.w = torch.randn(4, 4, requires_grad=True)


    class Local(nn.Module, Mixin):
        def __init__(self):
            super().__init__()
            self._build()

        def forward(self, x):
            return x @ self.w


    class Other(Base, Mixin):
        def __init__(self):
            super().__init__()
            self._build()

        def forward(self, x):
            return x @ self.w


    class Alone(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(3, 4)

        def forward(self, x):
            return self.fc(x)
""")


def test_a_class_whose_base_is_not_read_yet_waits_and_so_does_what_it_inherits(tmp_path):
    src, project = workspace(tmp_path, MIXIN)
    codes = sorted((d.code, d.range.start.line) for d in full(src, Project()))
    assert [c for c, _ in codes] == ["TL101", "TL104"]
    early = ready(src, project)
    # `Alone`'s missing super().__init__() is found without base.py; the plain tensor
    # made in Mixin is judged from Local and from Other, which needs base.py: it waits.
    assert early is not None and [d.code for d in early] == ["TL104"]
    assert not project._summaries  # nothing was read
    full(src, project)  # reads base.py
    assert sorted((d.code, d.range.start.line) for d in ready(src, project)) == codes


def test_an_inheritance_cycle_gives_no_early_answer(tmp_path):
    # A cycle cut makes an answer depend on the order the classes are asked in.
    text = MIXIN + "\n\nclass P(Q):\n    pass\n\n\nclass Q(P):\n    pass\n"
    src, project = workspace(tmp_path, text)
    assert ready(src, project) is None


def test_reading_is_forbidden_only_in_the_block_and_on_its_thread(tmp_path):
    src, project = workspace(tmp_path, MIXIN)
    base = str(tmp_path / "base.py")
    with project.reading_forbidden():
        with pytest.raises(NotRead):
            project.summary(base)
        other: list = []
        t = threading.Thread(target=lambda: other.append(project.summary(base)))
        t.start()
        t.join()
        assert other[0] is not None and "Base" in other[0].classes
        assert project.summary(base) is other[0]  # read already: no reading needed
        (tmp_path / "base.py").write_text(BASE + "\n")  # changed on disk: it would be read again
        with pytest.raises(NotRead):
            project.summary(base)
    assert "Base" in project.summary(base).classes


def _mixed(text: str) -> str | None:
    """``text`` with every other class's ``nn.Module`` base replaced by ``Base`` of
    another file: classes that need no other file beside ones that do."""
    count = 0

    def swap(m: re.Match) -> str:
        nonlocal count
        count += 1
        return m.group(0) if count % 2 else m.group(1) + "Base" + m.group(3)

    out = re.sub(r"(^class \w+\((?:[\w.]+, )*)((?:torch\.)?nn\.Module)(\b)", swap, text, flags=re.M)
    return "from base import Base\n" + out if count > 1 else None


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus (../shared/corpus) is not on this machine")
def test_the_early_findings_are_a_subset_of_the_whole_on_the_corpus(tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "base.py").write_text(BASE)
    warm = Project()
    files = sorted(CORPUS.rglob("*.py"))
    assert len(files) > 50
    answered = early_found = mixed = 0
    for i, f in enumerate(files):
        text = f.read_text(encoding="utf-8", errors="replace")
        variants = [(text, str(f))]
        m = _mixed(text)
        if m is not None:
            mixed += 1
            variants.append((m, str(tmp_path / f"mixed_{i}.py")))
        for t, path in variants:
            src = SourceFile.parse(t, path)
            if src.tree is None or src.problem is not None:
                continue
            for project in (Project(), warm):
                early = ready(src, project)
                whole = full(src, project)
                if early is None:
                    continue
                answered += 1
                early_found += len(early)
                for d in early:
                    assert d in whole, (path, d)
    assert answered > 100 and early_found > 20 and mixed > 5

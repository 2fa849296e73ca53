"""The server's analysis reuses the results of units (top-level code, functions,
classes) whose source and dependencies did not change. Its diagnostics must be
exactly those of a fresh, whole-file analysis (what `torch-lsp check` reports), on
open and after any edit."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from torch_lsp import engine
from torch_lsp.analysis.incremental import IncrementalParser
from torch_lsp.analysis.project import Project
from torch_lsp.analysis.source import SourceFile
from torch_lsp.analysis.units import UnitCache

HERE = Path(__file__).parent
FILES = sorted((HERE / "e2e").glob("*.py")) + sorted((HERE.parent / "examples").glob("*.py"))


def fresh(text: str, path: str) -> list:
    return engine.check_source(text, path, project=Project(use_jedi=False)).diagnostics


def cached(parser: IncrementalParser, cache: UnitCache, text: str, path: str, project: Project) -> list:
    src = parser.parse(text)
    if src.tree is None or src.problem is not None:
        return []
    ctx, diags = engine.analyse(SourceFile(text=text, path=path, tree=src.tree), project, None, record_shapes=True, unit_cache=cache)
    return engine.finish(src, diags, None)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_reused_units_give_the_diagnostics_of_a_fresh_analysis(path):
    text = path.read_text(encoding="utf-8")
    p = str(path)
    parser, cache, project = IncrementalParser(p), UnitCache(), Project(use_jedi=False)
    assert cached(parser, cache, text, p, project) == fresh(text, p)
    hits = cache.hits
    assert cached(parser, cache, text, p, project) == fresh(text, p)
    assert cache.hits > hits  # the second analysis reused units

    rng = random.Random(path.name)
    lines = text.splitlines(keepends=True)
    numbers = [i for i, ln in enumerate(lines) if any(ch.isdigit() for ch in ln) and not ln.lstrip().startswith("#")]
    for _ in range(25):
        # Change a number somewhere (sizes are what the rules are about), keep it valid.
        i = rng.choice(numbers)
        digits = [k for k, ch in enumerate(lines[i]) if ch.isdigit()]
        k = rng.choice(digits)
        new_line = lines[i][:k] + rng.choice("123456789") + lines[i][k + 1:]
        candidate = "".join(lines[:i] + [new_line] + lines[i + 1:])
        try:
            compile(candidate, p, "exec")
        except SyntaxError:
            continue
        lines[i] = new_line
        text = candidate
        assert cached(parser, cache, text, p, project) == fresh(text, p), f"after changing line {i + 1}"
    assert cache.hits > 0 and cache.misses > 0


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_moved_code_reuses_its_units_and_reports_the_new_lines(path):
    # Enter and Backspace move every statement below them: their units are reused
    # (the same nodes, shifted), and the diagnostics (ranges, related ranges and the
    # lines the messages quote) are those of a fresh analysis of the new text.
    text = path.read_text(encoding="utf-8")
    p = str(path)
    parser, cache, project = IncrementalParser(p), UnitCache(), Project(use_jedi=False)
    cached(parser, cache, text, p, project)
    rng = random.Random("moves" + path.name)
    lines = text.splitlines(keepends=True)
    reused = 0
    for _ in range(20):
        k = rng.randrange(len(lines))
        if rng.random() < 0.6:
            indent = lines[k][: len(lines[k]) - len(lines[k].lstrip())].rstrip("\n")
            candidate_lines = lines[:k + 1] + [indent + "\n"] + lines[k + 1:]
        elif lines[k].strip() == "" and k + 1 < len(lines):
            candidate_lines = lines[:k] + lines[k + 1:]  # delete a blank line
        else:
            continue
        candidate = "".join(candidate_lines)
        try:
            compile(candidate, p, "exec")
        except SyntaxError:
            continue
        lines, text = candidate_lines, candidate
        hits = cache.hits
        assert cached(parser, cache, text, p, project) == fresh(text, p), f"after a move at line {k + 1}"
        reused += cache.hits > hits
    assert reused > 0


def test_a_message_quotes_the_line_its_origin_moved_to():
    text = (
        "import torch\nimport torch.nn as nn\n\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.a = nn.Linear(10, 20)\n"
        "        self.b = nn.Linear(30, 5)\n\n"
        "    def forward(self, x):\n"
        "        return self.b(self.a(x))\n"
    )
    p = "net.py"
    parser, cache, project = IncrementalParser(p), UnitCache(), Project(use_jedi=False)
    (before,) = cached(parser, cache, text, p, project)
    moved = text.replace("import torch\n", "import torch\n\n\n", 1)
    hits = cache.hits
    (after,) = cached(parser, cache, moved, p, project)
    assert cache.hits > hits  # the class was not analysed again
    assert after.range.start.line == before.range.start.line + 2
    assert after.message == fresh(moved, p)[0].message and after.message != before.message

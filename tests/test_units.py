"""The server's analysis reuses the results of units (top-level code, functions,
classes) whose source and dependencies did not change. Its diagnostics must be
exactly those of a fresh, whole-file analysis (what `torch-lsp check` reports), on
open and after any edit."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from torch_lsp.analysis import engine
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

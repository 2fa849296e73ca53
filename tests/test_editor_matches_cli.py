"""The editor and CI report the same problems: for every case file of the project (and
the shared corpus when it is next to the repository), the server's pipeline (the
incremental parser and the unit cache, after edits that led to the text) gives
exactly what `torch-lsp check` gives for the text."""
from __future__ import annotations

from pathlib import Path

import pytest

from torch_lsp.engine import analyse, check_source, finish
from torch_lsp.analysis.incremental import IncrementalParser
from torch_lsp.analysis.project import Project
from torch_lsp.analysis.units import UnitCache

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "corpus"
FILES = sorted({*ROOT.glob("tests/cli_cases/*.py"), *ROOT.glob("tests/e2e/*.py"), *ROOT.glob("examples/*.py"),
                *(SHARED.rglob("*.py") if SHARED.is_dir() else ())})


def _key(diags) -> list:
    return [(d.code, d.range, d.message, int(d.severity)) for d in diags]


def _edits_leading_to(text: str) -> list[str]:
    """Earlier versions a user might have typed through: a line deleted in the middle,
    then a blank line inserted above the last statement, then the text itself."""
    lines = text.splitlines(keepends=True)
    if len(lines) < 4:
        return [text]
    mid = len(lines) // 2
    deleted = "".join(lines[:mid] + lines[mid + 1:])
    inserted = "".join(lines[:-2] + ["\n"] + lines[-2:])
    return [deleted, inserted, text]


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(p.parents[1])) for p in FILES])
def test_the_servers_pipeline_reports_what_check_reports(path):
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pytest.skip("not UTF-8: the CLI's decoding path is tested elsewhere (test_cli.py)")
    expected = _key(check_source(data, str(path), project=Project(use_jedi=False)).diagnostics)
    parser, cache, project = IncrementalParser(str(path)), UnitCache(), Project(use_jedi=False)
    got = None
    for version in _edits_leading_to(text):
        src = parser.parse(version)
        if src.tree is None:
            got = None
            continue
        ctx, diags = analyse(src, project, None, record_shapes=True, unit_cache=cache)
        got = _key(finish(src, diags, None))
        if ctx is not None:
            ctx.release()
    if got is None:
        pytest.skip("does not parse (TL000 is the CLI's alone unless the editor asks for syntax errors)")
    assert got == expected


TWO_MAINS = """import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 5)

    def forward(self, x):
        return self.fc(x)


def main():
    prediction = Net()(torch.randn(4, 10))
    prediction.backward()


def main():
    return Net()(torch.randn(4, 10))
"""


def test_a_name_defined_twice_keeps_each_definition_apart():
    """Two `def main()` (a script edited over time): fixing the first one's backward
    must not leave its old TL301 (each definition is its own unit)."""
    parser, cache, project = IncrementalParser("two.py"), UnitCache(), Project(use_jedi=False)
    fixed = TWO_MAINS.replace("prediction.backward()", "prediction.sum().backward()")
    for text, want in ((TWO_MAINS, ["TL301"]), (fixed, [])):
        src = parser.parse(text)
        ctx, diags = analyse(src, project, None, record_shapes=True, unit_cache=cache)
        assert [d.code for d in finish(src, diags, None)] == want
        assert want == [d.code for d in check_source(text, "two.py", project=Project(use_jedi=False)).diagnostics]

"""``torch-lsp check`` on Jupyter notebooks: positions as cells and lines in them,
the JSON and SARIF cell index, ``--fix``/``--diff`` per cell in the file's own
layout, notebooks in directories, TL000 for a file that is not a notebook.

The fixture (tests/data/notebooks/cnn_flatten_bug.ipynb) has six cells: markdown,
imports with ``%matplotlib``/``!pip``, the model (its ``nn.Linear(8 * 12 * 12, 10)``
on line 5 of cell 3 is wrong for 28x28 input: 8 x 13 x 13 = 1352 features arrive),
a ``%%bash`` cell, markdown, and the call on line 2 of cell 6."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from torch_lsp.cli import main

CNN = Path(__file__).parent / "data" / "notebooks" / "cnn_flatten_bug.ipynb"


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(CNN, tmp_path / "model.ipynb")
    return tmp_path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_diagnostic_names_the_cell_and_the_line_in_it(work, capsys):
    rc, out, _ = run(capsys, "check", "model.ipynb")
    assert rc == 1
    assert out.startswith("model.ipynb:cell 3:5:29: TL203 [error] [*] ")
    assert "5 |         self.fc = nn.Linear(8 * 12 * 12, 10)" in out  # the excerpt numbers the cell's line
    assert "at line 2 of cell 6" in out  # the call site, named by its cell too
    rc, out, _ = run(capsys, "check", "--format", "concise", "model.ipynb")
    assert out.splitlines()[0].startswith("model.ipynb:cell 3:5:29: TL203 [error] ")


def test_json_and_sarif_carry_the_cell(work, capsys):
    rc, out, _ = run(capsys, "check", "--format", "json", "model.ipynb")
    [item] = json.loads(out)
    assert {k: item[k] for k in ("path", "cell", "line", "column", "end_line", "end_column", "code")} == {
        "path": "model.ipynb", "cell": 3, "line": 5, "column": 29, "end_line": 5, "end_column": 40, "code": "TL203"}
    [fix] = item["fixes"]
    assert fix["edits"] == [{"cell": 3, "line": 5, "column": 29, "end_line": 5, "end_column": 40, "new_text": "1352"}]
    rc, out, _ = run(capsys, "check", "--format", "sarif", "model.ipynb")
    [result] = json.loads(out)["runs"][0]["results"]
    loc = result["locations"][0]
    assert loc["properties"] == {"cell": 3}
    assert loc["physicalLocation"]["region"] == {"startLine": 5, "startColumn": 29, "endLine": 5, "endColumn": 40}
    rc, out, _ = run(capsys, "check", "--format", "github", "model.ipynb")
    assert out.startswith("::error file=model.ipynb,title=torch-lsp (TL203) in cell 3%2C line 5::")  # no JSON line
    # a Python file's items are as before: no "cell"
    (work / "net.py").write_text("import torch\nx = torch.zeros(2, 3) @ torch.zeros(4, 5)\n")
    rc, out, _ = run(capsys, "check", "--format", "json", "net.py", "model.ipynb")
    assert ["cell" in item for item in json.loads(out)] == [False, True]


def test_fix_rewrites_only_the_changed_cell_and_the_code_then_runs(work, capsys):
    before = (work / "model.ipynb").read_text(encoding="utf-8")
    rc, out, _ = run(capsys, "check", "--fix", "model.ipynb")
    assert rc == 0 and "Fixed 1 problem." in out
    after = (work / "model.ipynb").read_text(encoding="utf-8")
    changed = [(a, b) for a, b in zip(before.splitlines(True), after.splitlines(True)) if a != b]
    assert len(before.splitlines()) == len(after.splitlines())
    assert changed == [('    "        self.fc = nn.Linear(8 * 12 * 12, 10)\\n",\n',
                        '    "        self.fc = nn.Linear(1352, 10)\\n",\n')]  # outputs, metadata, layout kept
    torch = pytest.importorskip("torch")
    from torch_lsp.analysis.notebook import read_ipynb

    namespace: dict = {}
    exec(compile(read_ipynb(after).module().text, "model.ipynb", "exec"), namespace)  # no error any more
    assert namespace["out"].shape == torch.Size([2, 10])


def test_diff_shows_the_cell_and_writes_nothing(work, capsys):
    before = (work / "model.ipynb").read_bytes()
    rc, out, err = run(capsys, "check", "--diff", "model.ipynb")
    assert rc == 1
    assert out.startswith("--- model.ipynb:cell 3\n+++ model.ipynb:cell 3\n")
    assert "-        self.fc = nn.Linear(8 * 12 * 12, 10)\n+        self.fc = nn.Linear(1352, 10)\n" in out
    assert (work / "model.ipynb").read_bytes() == before


def test_fix_refuses_a_layout_it_cannot_reproduce(work, capsys):
    compact = json.dumps(json.loads(CNN.read_text(encoding="utf-8")), separators=(",", ":"))
    (work / "model.ipynb").write_text(compact, encoding="utf-8")
    rc, out, err = run(capsys, "check", "--fix", "model.ipynb")
    assert rc == 2 and "cannot write this notebook's JSON back in its own layout" in err
    assert (work / "model.ipynb").read_text(encoding="utf-8") == compact


def test_directories_include_notebooks_unless_excluded(work, capsys):
    rc, out, _ = run(capsys, "check", "--format", "json", ".")
    assert [i["path"] for i in json.loads(out)] == ["model.ipynb"]
    (work / "pyproject.toml").write_text('[tool.torch-lsp]\nextend-exclude = ["*.ipynb"]\n')
    rc, out, _ = run(capsys, "check", "--format", "json", ".")
    assert json.loads(out) == [] and rc == 0


def test_a_notebook_that_is_not_json_is_tl000(work, capsys):
    (work / "broken.ipynb").write_text('{\n "cells": [\n  {"cell_type": "code",,}\n ]\n}\n')
    rc, out, _ = run(capsys, "check", "--format", "json", "broken.ipynb")
    [item] = json.loads(out)
    assert rc == 1 and item["code"] == "TL000" and "cell" not in item
    assert item["message"].startswith("not a valid notebook: the file is not valid JSON")
    assert (item["line"], item["column"]) == (3, 24)  # where the JSON breaks, in the file


def test_cells_in_other_languages_and_magics_are_not_errors(work, capsys):
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                     "source": ["%%bash\n", "echo (\n"]},
                    {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                     "source": ["!pip install torch\n", "import torch\n", "x = torch.zeros(2, 3) @ torch.zeros(4, 5)\n", "x?"]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (work / "other.ipynb").write_text(json.dumps(nb, indent=1))
    rc, out, _ = run(capsys, "check", "--format", "concise", "other.ipynb")
    assert out.splitlines()[0].startswith("other.ipynb:cell 2:3:5: TL205")  # no TL000 for %%bash, !pip or x?
    assert len(out.splitlines()) == 2


def test_the_pre_commit_hook_takes_notebooks(work, capsys):
    """pre-commit passes a staged file to the hook when one of its tags is in
    types_or: a notebook's are text, json, jupyter."""
    import shlex

    yaml = pytest.importorskip("yaml")
    identify = pytest.importorskip("identify.identify", reason="identify comes with pre-commit (the test extra)")
    (hook,) = yaml.safe_load((Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml").read_text())
    assert set(hook["types_or"]) & identify.tags_from_filename("model.ipynb")
    argv = shlex.split(hook["entry"])
    rc, out, _ = run(capsys, *argv[1:], "model.ipynb")
    assert rc == 1 and "model.ipynb:cell 3:5:29: TL203" in out

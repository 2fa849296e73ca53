"""torch_lsp.analysis.notebook: code cells as one module, the line map both ways,
IPython syntax replaced line for line, fixed text cut back into cells, nbformat JSON
read and written in the file's own layout."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from torch_lsp.analysis.notebook import MARKER, NotebookError, build, is_python_cell, read_ipynb
from torch_lsp.analysis.source import split_lines

NOTEBOOKS = Path(__file__).parent / "data" / "notebooks"
CNN = NOTEBOOKS / "cnn_flatten_bug.ipynb"


def test_cells_in_order_with_a_line_map_both_ways():
    m = build([(1, "import torch\nx = 1"), (3, "y = x + 1\nz = y\n")])
    lines = split_lines(m.text)
    assert ast.parse(m.text)  # one module that parses
    assert lines[m.to_module(1, 1)] == "x = 1"
    assert lines[m.to_module(3, 0)] == "y = x + 1"
    assert m.to_cell(m.to_module(3, 1)) == (3, 1)
    assert m.to_cell(m.to_module(1, 0)) == (1, 0)
    # marker lines belong to no cell; lines past a cell's end map to nothing
    assert [m.to_cell(i) for i, ln in enumerate(lines) if ln == MARKER] == [None, None]
    assert m.to_module(3, 2) is None  # the empty line after the trailing newline
    assert m.to_module(2, 0) is None  # a cell not in the module


def test_magics_shell_and_help_lines_are_replaced_keeping_line_numbers():
    src = ("%matplotlib inline\n!pip install torch\nfiles = !ls\nx = %time f()\nmodel?\n??torch.nn\n"
           "for i in range(2):\n    %time g(i)\n!echo one \\\n  two\nq = 'not %magic'\n")
    m = build([(0, src)])
    tree = ast.parse(m.text)  # valid Python, the loop keeps a body
    lines = split_lines(m.text)
    assert lines[m.to_module(0, 10)] == "q = 'not %magic'"
    assert lines[m.to_module(0, 6)] == "for i in range(2):"
    assert lines[m.to_module(0, 7)].startswith("    pass")
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert not names & {"files", "x", "model", "torch", "f", "g"}  # no IPython line left as Python
    assert "q" in names


def test_a_docstring_that_mentions_a_magic_is_kept():
    src = 'def f():\n    """Usage:\n%time f()\n    """\n    return 1\n'
    m = build([(0, src)])
    assert m.split(m.text) == {0: src}
    assert "%time f()" in m.text


def test_cells_in_other_languages_are_left_out():
    assert not is_python_cell("%%bash\necho hi\n")
    assert not is_python_cell("%%html\n<b>x</b>")
    assert is_python_cell("%%time\nx = 1\n")
    m = build([(0, "x = 1"), (1, "%%bash\nfor f in *; do (\n"), (2, "%%timeit\ny = x\n")])
    assert ast.parse(m.text)
    assert m.cell(1) is None and m.cell(2) is not None
    assert split_lines(m.text)[m.to_module(2, 1)] == "y = x"


def test_split_restores_magics_and_trailing_newlines_after_an_edit():
    cells = [(0, "%pip install x\nimport torch"), (2, "a = 1\n%time b = a\n")]
    m = build(cells)
    assert m.split(m.text) == dict(cells)
    # a fix that inserts a line in the first cell moves everything after it
    lines = split_lines(m.text, keepends=True)
    at = m.to_module(0, 1)
    fixed = "".join(lines[:at] + ["import torch.nn as nn\n"] + lines[at:])
    assert m.split(fixed) == {0: "%pip install x\nimport torch.nn as nn\nimport torch", 2: "a = 1\n%time b = a\n"}
    # an edit that removed a marker cannot be cut back
    assert m.split(fixed.replace(MARKER + "\n", "", 1)) is None


def test_read_ipynb_takes_python_code_cells_by_notebook_index():
    nb = read_ipynb(CNN.read_text(encoding="utf-8"))
    cells = nb.code_cells()
    assert [i for i, _ in cells] == [1, 2, 3, 5]  # markdown cells 0 and 4 are skipped
    m = nb.module()
    assert m.cell(3) is None  # %%bash
    ast.parse(m.text)
    lines = split_lines(m.text)
    assert lines[m.to_module(2, 4)] == "        self.fc = nn.Linear(8 * 12 * 12, 10)"


def test_the_notebook_code_really_fails_under_torch():
    """The fixture's bug is real: running its Python (magics replaced) raises
    torch's shape error at the classifier."""
    pytest.importorskip("torch")
    m = read_ipynb(CNN.read_text(encoding="utf-8")).module()
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x1352 and 1152x10\)"):
        exec(compile(m.text, str(CNN), "exec"), {})


def test_dumps_keeps_layout_and_changes_only_the_given_cells():
    text = CNN.read_text(encoding="utf-8")
    nb = read_ipynb(text)
    assert nb.dumps() == text  # nbformat's layout: indent 1, sorted keys, trailing newline
    new = nb.dumps({2: "x = 1\ny = 2"})
    before, after = json.loads(text), json.loads(new)
    assert after["cells"][2]["source"] == ["x = 1\n", "y = 2"]
    after["cells"][2]["source"] = before["cells"][2]["source"]
    assert after == before  # outputs, metadata, other cells untouched
    # another layout: indent 2, key order as written, non-ASCII escaped, no final newline
    raw = json.dumps({"nbformat": 4, "cells": [{"source": "é = 1", "cell_type": "code", "metadata": {}}],
                      "metadata": {}}, indent=2)
    nb2 = read_ipynb(raw)
    assert nb2.dumps() == raw


@pytest.mark.parametrize("text, where", [
    ('{"cells": [', (0, 11)),
    ("not json", (0, 0)),
])
def test_invalid_json_says_where(text, where):
    with pytest.raises(NotebookError, match="not valid JSON") as info:
        read_ipynb(text)
    assert (info.value.line, info.value.column) == where


def test_not_a_v4_notebook():
    with pytest.raises(NotebookError, match="nbformat 3"):
        read_ipynb('{"nbformat": 3, "worksheets": []}')
    with pytest.raises(NotebookError, match="cells"):
        read_ipynb("[1, 2]")


def test_a_notebook_in_another_language_has_no_python():
    nb = read_ipynb(json.dumps({"cells": [{"cell_type": "code", "source": "x <- 1", "metadata": {}}],
                                "metadata": {"kernelspec": {"language": "R"}}, "nbformat": 4}))
    assert nb.code_cells() == []
    vs = read_ipynb(json.dumps({"cells": [{"cell_type": "code", "source": "SELECT 1", "metadata": {"vscode": {"languageId": "sql"}}},
                                          {"cell_type": "code", "source": "x = 1", "metadata": {}}],
                                "metadata": {}, "nbformat": 4}))
    assert [i for i, _ in vs.code_cells()] == [1]


def test_only_a_line_that_starts_a_statement_can_be_a_magic():
    src = ("x = (1\n     % 2)\n"          # a modulo continued inside brackets
           "y = 3 \\\n    % 2\n"          # after a backslash
           "s = '''\n%not a magic\n'''\n"  # inside a string
           "t = [a  # a comment (\n     for a in 'x']\n"
           "%time u = 1\n")
    m = build([(0, src)])
    ast.parse(m.text)
    assert m.cell(0).magics == ("%time u = 1",)
    assert m.split(m.text) == {0: src}


def test_a_line_in_no_cell_is_located_at_the_end_of_the_cell_before():
    m = build([(0, "a\nb"), (2, ""), (3, "c\n")])
    lines = split_lines(m.text)
    markers = [i for i, ln in enumerate(lines) if ln == MARKER]
    assert [m.locate(i) for i in markers] == [(0, 0), (0, 1), (2, 0)]
    assert m.locate(len(lines) + 5) == (3, 0)  # past the end: the last cell's last line
    assert m.locate(m.to_module(3, 0)) == (3, 0)

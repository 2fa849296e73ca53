"""``torch-lsp check`` on a Jupyter notebook (``.ipynb``): a shell like ``cli``.

The notebook's Python code cells form one module (``analysis.notebook``), checked by
``engine.check_source`` as a file is; the outcome keeps the module's cell map, so the
formats print each position as a cell and a line in it (``model.ipynb:cell 3:5:29``,
cells numbered from 1 among all the notebook's cells, as ruff does). ``--fix`` applies
the fixes to the module (the loop ``check --fix`` runs on a file), cuts the result
back into cells and rewrites only the cells that changed, in the file's own JSON
layout; outputs and metadata are untouched. A file that is not a notebook gives
TL000 at the place the JSON breaks. The runtime evaluation (``--runtime``) does not
run on notebooks.
"""
from __future__ import annotations

import difflib
import os

from torch_lsp import engine
from torch_lsp.analysis.diagnostics import Range
from torch_lsp.analysis.notebook import NotebookError, NotebookModule, read_ipynb, relabel
from torch_lsp.analysis.source import ParseProblem, split_lines
from torch_lsp.output import FileOutcome

SUFFIX = ".ipynb"


def is_notebook(path: str) -> bool:
    return path.lower().endswith(SUFFIX)


def _not_a_notebook(task, text: str, message: str, line: int = 0, column: int = 0) -> FileOutcome:
    from torch_lsp.rules import parse_error

    lines = split_lines(text)
    if line >= len(lines):  # (past the end: at the end of the last line)
        line, column = max(len(lines) - 1, 0), len(lines[-1]) if lines else 0
    line = max(line, 0)
    column = min(max(column, 0), len(lines[line]) if lines else 0)
    outcome = FileOutcome(task.display)
    d = parse_error.diagnostic(ParseProblem(message, Range.point(line, column)))
    if task.enabled is None or task.enabled(d.code):
        outcome.diagnostics = [d]
        outcome.lines[line] = lines[line] if lines else ""
    return outcome


def process_notebook(task, data: bytes, st: os.stat_result | None) -> FileOutcome:
    """Check (and fix) one notebook: ``cli._process`` for a ``.ipynb`` file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _not_a_notebook(task, data.decode("utf-8", "replace"),
                               f"not a valid notebook: the file is not UTF-8 ({exc.reason} at byte {exc.start})")
    try:
        nb = read_ipynb(text)
    except NotebookError as exc:
        return _not_a_notebook(task, text, str(exc), exc.line, exc.column)
    module = nb.module()
    result = engine.check_source(module.text, task.display, enabled=task.enabled)
    outcome = FileOutcome(task.display, notebook=module)
    if task.mode != "check" and result.diagnostics:
        result = _fix(task, nb, text, data, st, module, result, outcome)
    outcome.diagnostics = [relabel(d, outcome.notebook) for d in result.diagnostics]
    lines = split_lines(result.source or "") if result.diagnostics else []
    for d in result.diagnostics:
        n = d.range.start.line
        outcome.lines[n] = lines[n] if 0 <= n < len(lines) else ""
    return outcome


def _fix(task, nb, text: str, data: bytes, st: os.stat_result | None, module: NotebookModule, result, outcome: FileOutcome):
    from torch_lsp.cli_check import _write_fixed, fix_rounds

    original = module.text
    run, final = fix_rounds(task, original, result, outcome)
    if run.text == original:
        return result
    sources = module.split(run.text)
    if sources is None:
        outcome.error = "fixes not applied: a fix crossed a cell boundary. This is a bug in torch-lsp, please report it"
        return result
    changed = {i: s for i, s in sources.items() if (c := module.cell(i)) is not None and s != c.source}
    outcome.fixed += run.applied
    if task.mode == "diff":
        outcome.diff = "".join(_cell_diff(module, i, s, task.display) for i, s in sorted(changed.items()))
        return result
    if nb.dumps() != text:
        outcome.error = ("fixes not written: torch-lsp cannot write this notebook's JSON back in its own layout "
                         "(see `--diff` for the changes)")
        outcome.fixed = 0
        return result
    problem = _write_fixed(task.path, data, nb.dumps(changed), st) if st is not None else \
        "fixes not written: a notebook read from standard input is not rewritten"
    if problem is not None:
        outcome.error = problem
        outcome.fixed = 0
        return result
    # the new diagnostics are those of the new text, mapped by its cells
    outcome.notebook = nb.module()
    if outcome.notebook.text != run.text:  # (not expected: the same cells make the same module)
        return engine.check_source(outcome.notebook.text, task.display, enabled=task.enabled)
    return final


def _cell_diff(module: NotebookModule, index: int, new: str, path: str) -> str:
    cell = module.cell(index)
    old = cell.source if cell is not None else ""
    name = f"{path}:cell {index + 1}"
    out = []
    for line in difflib.unified_diff(split_lines(old, True), split_lines(new, True), fromfile=name, tofile=name):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)

"""Jupyter notebooks as one Python module (pure: no LSP, no rules).

The code cells of a notebook, in order, form one module: a model defined in cell 2
and called in cell 4 is followed as in a file. ``build`` takes the cells (their
index in the notebook and their text) and returns a ``NotebookModule``: the module
text and the map between a module line and (cell index, line in the cell), both
ways. Columns never change: every line of a cell is its own line in the module.

- Each cell is preceded by a marker line (a comment, ``MARKER``) so that a fixed
  module text can be cut back into its cells (``split``) whatever line counts the
  fixes changed.
- IPython syntax that is not Python is replaced, line for line, by a placeholder
  (``pass`` at the line's indentation, with a comment that ``split`` recognises):
  line magics (``%time x = f()``), shell lines (``!pip install``, ``files = !ls``),
  help lines (``model?``, ``??model``) and a cell magic's first line when its body
  is Python (``%%time``). A cell whose cell magic runs another language
  (``%%bash``, ``%%html``, ...) is left out, as are cells whose language is not
  Python.

``read_ipynb`` reads nbformat v4 JSON (stdlib ``json``) and ``Notebook.dumps``
writes it back with the file's own layout (indent, key order, ASCII escapes,
trailing newline), changing only the sources given.
"""
from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

from torch_lsp.analysis.diagnostics import Diagnostic
from torch_lsp.analysis.source import split_lines

MARKER = "# %% torch-lsp cell"  # (a plain comment: no suppression, nothing the analysis reads)
_PLACEHOLDER = "pass  # torch-lsp: ipython"

# Cell magics whose body is Python (the first line is replaced, the rest analysed).
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "pypy", "python", "python3", "ipython"})

_LINE_REF = re.compile(r"\b(lines? )(\d+)\b")
_LINE_MAGIC = re.compile(r"^[ \t]*[%!]")
_ASSIGNED_MAGIC = re.compile(r"^[ \t]*[A-Za-z_][\w.]*(?:[ \t]*,[ \t]*[A-Za-z_][\w.]*)*[ \t]*=[ \t]*[%!]")
_HELP = re.compile(r"^[ \t]*(?:\?{1,2}[A-Za-z_][\w.\[\]()'\"]*\*?|[A-Za-z_][\w.\[\]()'\"]*\*?\?{1,2})[ \t]*$")


class NotebookError(ValueError):
    """The file is not a notebook torch-lsp can read: ``line``/``column`` (0-based)
    say where in the file, when known."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


@dataclass(frozen=True)
class CellSpan:
    """One cell of the module: ``start`` is the module line of the cell's first line
    (the marker is the line before), ``count`` its number of lines."""

    index: int  # the cell's index among all the notebook's cells (0-based)
    start: int
    count: int
    source: str
    magics: tuple[str, ...] = ()  # the original lines replaced by placeholders, in order


@dataclass
class NotebookModule:
    text: str
    cells: list[CellSpan] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._starts = [c.start for c in self.cells]
        self._by_index = {c.index: c for c in self.cells}

    def cell(self, index: int) -> CellSpan | None:
        return self._by_index.get(index)

    def to_cell(self, line: int) -> tuple[int, int] | None:
        """(cell index, line in the cell) of a module line; None on a marker line or
        outside every cell."""
        k = bisect.bisect_right(self._starts, line) - 1
        if k < 0:
            return None
        c = self.cells[k]
        return (c.index, line - c.start) if line < c.start + c.count else None

    def locate(self, line: int) -> tuple[int, int] | None:
        """``to_cell``, or for a line in no cell (a marker, past the end: where Python
        may put a syntax error that the next cell or the end of the text revealed) the
        last line of the cell before it (the first cell's first line before it)."""
        at = self.to_cell(line)
        if at is not None or not self.cells:
            return at
        k = bisect.bisect_right(self._starts, line) - 1
        if k < 0:
            return self.cells[0].index, 0
        c = self.cells[k]
        return c.index, max(c.count - 1, 0)

    def to_module(self, index: int, line: int) -> int | None:
        """The module line of a cell's line; None for a cell not in the module or a
        line past its end (a cell ending with a newline has an empty last line in an
        editor, which is the cell's ``count``-th: it maps to nothing)."""
        c = self._by_index.get(index)
        if c is None or not 0 <= line < c.count:
            return None
        return c.start + line

    def relabel(self, message: str) -> str:
        """A message's ``line N`` (1-based module lines, as the analysis words them)
        as ``line L of cell C`` (both 1-based, cells counted among all the notebook's
        cells)."""
        def one(m: re.Match) -> str:
            at = self.to_cell(int(m.group(2)) - 1)
            return m.group(0) if at is None else f"{m.group(1)}{at[1] + 1} of cell {at[0] + 1}"

        return _LINE_REF.sub(one, message) if "line" in message else message

    def split(self, text: str) -> dict[int, str] | None:
        """The cells' sources in a module text made from this one (by fixes): the
        lines after each marker, magics restored, a cell's trailing newline as it
        was. None when the markers or placeholders are not all there any more (an edit
        crossed a cell boundary): the text cannot be cut back safely."""
        lines = split_lines(text, keepends=True)
        marks = [i for i, ln in enumerate(lines) if ln.rstrip("\r\n") == MARKER]
        if len(marks) != len(self.cells):
            return None
        out: dict[int, str] = {}
        for k, cell in enumerate(self.cells):
            body = lines[marks[k] + 1: marks[k + 1] if k + 1 < len(marks) else len(lines)]
            restored: list[str] = []
            magics = list(cell.magics)
            for ln in body:
                bare = ln.rstrip("\r\n")
                if bare.strip() == _PLACEHOLDER:
                    if not magics:
                        return None
                    restored.append(magics.pop(0) + ln[len(bare):])
                else:
                    restored.append(ln)
            if magics:
                return None
            src = "".join(restored)
            if not cell.source.endswith(("\n", "\r")) and src.endswith("\n"):
                src = src[:-2] if src.endswith("\r\n") else src[:-1]
            out[cell.index] = src
        return out


def relabel(d: Diagnostic, module: NotebookModule) -> Diagnostic:
    """``d`` with the module lines its texts name given as cells and lines in them."""
    return replace(d, message=module.relabel(d.message),
                   related=tuple(r if r.path else replace(r, message=module.relabel(r.message)) for r in d.related),
                   fixes=tuple(replace(f, title=module.relabel(f.title)) for f in d.fixes))


def cell_magic(source: str) -> str | None:
    """The name of a cell's cell magic (``%%bash`` -> ``bash``), or None."""
    first = source.lstrip("\n").split("\n", 1)[0].strip()
    if not first.startswith("%%"):
        return None
    return first[2:].split(None, 1)[0] if first[2:].strip() else ""


def is_python_cell(source: str) -> bool:
    """Does the cell hold Python (perhaps under a Python cell magic such as ``%%time``)?"""
    magic = cell_magic(source)
    return magic is None or magic in PYTHON_CELL_MAGICS


def _ipython_lines(lines: list[str]) -> dict[int, str]:
    """The lines that are IPython syntax (magics, shell, help), each with the
    indentation of its placeholder: a magic continued with a backslash takes its next
    lines along (at its own indentation). Only a line that starts a Python statement
    is looked at: not one inside a triple-quoted string, inside brackets
    (``(a\\n % b)``) or after a line ending with a backslash."""
    out: dict[int, str] = {}
    state: _Scan = (None, 0, False)
    continued = False
    indent = ""
    for i, raw in enumerate(lines):
        line = raw.rstrip("\r\n")
        if continued:
            out[i] = indent
            continued = line.endswith("\\")
            continue
        starts_statement = state == (None, 0, False)
        if starts_statement and (_LINE_MAGIC.match(line) or _ASSIGNED_MAGIC.match(line) or _HELP.match(line)):
            indent = line[: len(line) - len(line.lstrip(" \t"))]
            out[i] = indent
            continued = line.endswith("\\")
            continue
        state = _scan(line, state)
    return out


# (the triple-quoted string open, the depth of open brackets, a backslash at the end)
_Scan = tuple[str | None, int, bool]


def _scan(line: str, state: _Scan) -> _Scan:
    """The lexical state at the end of ``line`` given the one at its start: enough to
    tell whether the next line starts a statement."""
    quote, depth, _ = state
    i = 0
    while i < len(line):
        if quote is not None:
            j = line.find(quote, i)
            while j > 0 and line[j - 1] == "\\" and (j - len(line[:j].rstrip("\\"))) % 2:
                j = line.find(quote, j + 1)
            if j < 0:
                return quote, depth, False
            i, quote = j + 3, None
            continue
        ch = line[i]
        if ch == "#":
            return None, depth, False
        if line.startswith(('"""', "'''"), i):
            quote = line[i:i + 3]
            i += 3
        elif ch in "\"'":
            j = i + 1
            while j < len(line) and line[j] != ch:
                j += 2 if line[j] == "\\" else 1
            i = j + 1
        else:
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth = max(0, depth - 1)
            i += 1
    return quote, depth, line.endswith("\\")


def build(cells: Iterable[tuple[int, str]]) -> NotebookModule:
    """One module from the code cells ``(index in the notebook, source)``, in order.
    Cells that are not Python (``is_python_cell``) are left out."""
    parts: list[str] = []
    spans: list[CellSpan] = []
    line = 0
    for index, source in cells:
        if not is_python_cell(source):
            continue
        lines = split_lines(source, keepends=True)
        magic_lines = _ipython_lines(lines)
        if cell_magic(source) is not None:  # (a Python cell magic: its line is not Python)
            magic_lines[next(i for i, ln in enumerate(lines) if ln.strip())] = ""
        magics = []
        body = []
        for i, ln in enumerate(lines):
            if i in magic_lines:
                bare = ln.rstrip("\r\n")
                magics.append(bare)
                body.append(magic_lines[i] + _PLACEHOLDER + ln[len(bare):])
            else:
                body.append(ln)
        text = "".join(body)
        if text and not text.endswith(("\n", "\r")):
            text += "\n"
        parts.append(MARKER + "\n" + text)
        count = len(lines)
        spans.append(CellSpan(index, line + 1, count, source, tuple(magics)))
        line += 1 + count
    return NotebookModule("".join(parts), spans)


# --------------------------------------------------------------------- nbformat JSON
def _source_text(source: Any) -> str:
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


@dataclass
class Notebook:
    """A notebook file as read: its JSON (key order kept) and the layout to write it
    back with."""

    data: dict
    indent: int | str | None
    ensure_ascii: bool
    trailing_newline: bool
    python: bool  # the notebook's language is Python (or not said)

    def code_cells(self) -> list[tuple[int, str]]:
        """(index among all cells, source) of the code cells whose language is Python
        (a cell in another language, as VS Code marks it, is left out)."""
        out = []
        for i, cell in enumerate(self.data.get("cells", [])):
            if not isinstance(cell, dict) or cell.get("cell_type") != "code":
                continue
            meta = cell.get("metadata")
            lang = meta.get("vscode", {}).get("languageId") if isinstance(meta, dict) and isinstance(meta.get("vscode"), dict) else None
            if isinstance(lang, str) and lang.lower() != "python":
                continue
            out.append((i, _source_text(cell.get("source", ""))))
        return out if self.python else []

    def module(self) -> NotebookModule:
        return build(self.code_cells())

    def dumps(self, sources: dict[int, str] | None = None) -> str:
        """The notebook's JSON text with the given cells' sources replaced (as a list
        of lines, or a string when the cell had one)."""
        for index, text in (sources or {}).items():
            cell = self.data["cells"][index]
            cell["source"] = split_lines(text, keepends=True) if isinstance(cell.get("source"), list) else text
        out = json.dumps(self.data, indent=self.indent, ensure_ascii=self.ensure_ascii)
        return out + "\n" if self.trailing_newline else out


def _layout(text: str) -> tuple[int | str | None, bool]:
    """The indent (``json.dumps``'s) and ASCII escaping of a JSON text."""
    m = re.match(r"[\[{]\r?\n([ \t]+)", text)
    indent: int | str | None = None
    if m:
        ws = m.group(1)
        indent = len(ws) if set(ws) == {" "} else ws
    return indent, text.isascii()


def read_ipynb(text: str) -> Notebook:
    """A notebook from its JSON text. Raises NotebookError for JSON that does not
    parse or is not an nbformat 4 notebook."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"not a valid notebook: the file is not valid JSON ({exc.msg} at line {exc.lineno} "
                            f"column {exc.colno})", exc.lineno - 1, exc.colno - 1) from None
    except RecursionError:
        raise NotebookError("not a valid notebook: the JSON is nested too deeply") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        fmt = data.get("nbformat") if isinstance(data, dict) else None
        if isinstance(fmt, int) and fmt < 4:
            raise NotebookError(f"nbformat {fmt} notebooks are not supported (save it again with Jupyter to get nbformat 4)")
        raise NotebookError("not a valid notebook: no list of \"cells\" in the JSON")
    meta = data.get("metadata")
    lang = None
    if isinstance(meta, dict):
        info = meta.get("language_info")
        spec = meta.get("kernelspec")
        lang = (info.get("name") if isinstance(info, dict) else None) or (spec.get("language") if isinstance(spec, dict) else None)
    indent, ascii_only = _layout(text)
    return Notebook(data, indent, ascii_only, text.endswith("\n"),
                    python=not isinstance(lang, str) or lang.lower() in ("python", "python3", "ipython", "ipython3"))

"""Parsing a buffer that is being typed: keep what still parses.

While the user types, the buffer is often not valid Python (`x = self.` half
written). The editor should keep showing the problems of the rest of the file, so
the top-level statement that holds the syntax error is blanked out (its lines
become empty, so every other line keeps its number and columns) and the rest is
parsed; this repeats for a few errors. The result is a ``SourceFile`` whose
``text`` is the real buffer and whose ``tree`` covers the statements that parse,
with ``problem`` set to the first syntax error (reported as TL000 only when the
user asks for it: other tools already show syntax errors).
"""
from __future__ import annotations

import re

from torch_lsp.analysis.source import SourceFile, _parse, split_lines

MAX_ROUNDS = 8
# A line that continues the statement above it even though it starts in column 0.
_CONTINUATION = re.compile(r"(else|elif|except|finally|case)\b|[)\]}]")


def parse_recovering(text: str, path: str | None = None) -> SourceFile:
    """``SourceFile.parse``, but with a syntax error the statements that do parse
    are kept (see the module docstring)."""
    src = SourceFile.parse(text, path)
    if src.tree is not None or src.problem is None or not src.problem.message.startswith("syntax error"):
        return src
    first_problem = src.problem
    lines = split_lines(text, keepends=True)
    starts = _statement_starts(lines)
    # Every line ends in "\n" in the text that is parsed again: a blanked line next to
    # a lone "\r" must not make one "\r\n" of two line ends (every statement below
    # would move up a line). Columns are the same: a line end is not part of a line.
    blanked = [_content(line) + "\n" for line in lines]
    for _ in range(MAX_ROUNDS):
        tree, problem = _parse("".join(blanked), path)
        if tree is not None:
            return SourceFile(text=text, path=path, tree=tree, problem=first_problem)
        if problem is None or not problem.message.startswith("syntax error"):
            break
        lo, hi = _block_around(problem.range.start.line, starts, len(lines))
        if all(not blanked[i].strip() for i in range(lo, hi)):
            break  # nothing left to blank there: give up
        for i in range(lo, hi):
            blanked[i] = "\n"
    return src


def _content(line: str) -> str:
    """A line without its line end."""
    if line.endswith("\r\n"):
        return line[:-2]
    if line.endswith(("\n", "\r")):
        return line[:-1]
    return line


def _statement_starts(lines: list[str]) -> list[int]:
    """0-based numbers of the lines that (probably) start a top-level statement:
    code in column 0 that does not continue the statement above (``else:``, a
    closing bracket, the definition under a decorator). Lines inside a
    triple-quoted string can look like starts too; blanking too much only loses
    some diagnostics for a moment, never invents one."""
    starts = []
    after_decorator = False
    for i, line in enumerate(lines):
        if not line or line[0] in " \t\r\n#":
            continue
        if _CONTINUATION.match(line):
            continue
        if after_decorator:
            after_decorator = line.startswith("@")
            continue
        starts.append(i)
        after_decorator = line.startswith("@")
    return starts


def _block_around(line: int, starts: list[int], n: int) -> tuple[int, int]:
    """The lines [lo, hi) of the top-level statement holding ``line``: from the start
    at or before it to the next start."""
    import bisect

    k = bisect.bisect_right(starts, line) - 1
    lo = starts[k] if k >= 0 else 0
    hi = starts[k + 1] if k + 1 < len(starts) else n
    return lo, max(hi, min(line + 1, n))

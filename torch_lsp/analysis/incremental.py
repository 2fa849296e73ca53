"""Re-parsing a document after an edit: only the top-level statements it touched.

An editor sends a change per keystroke; parsing a 10,000-line file again for each
one costs as much as the whole budget of a keystroke. Most edits change a few
lines inside one top-level statement (a method of a class), and leave the number of
lines as it was. Then the statements the changed lines overlap are parsed on their
own and put between the unchanged statements of the previous tree, which are kept
as they were (the same node objects, so whatever was computed from them stays
valid).

The shortcut is taken only when it cannot differ from a full parse:

- the line count is unchanged (otherwise every statement below would move);
- the re-parsed lines begin at a statement's first line (decorators included) and
  end at a statement's last line, and they parse on their own: so they leave no
  bracket, string or backslash continuation open, and the unchanged lines that
  follow are read exactly as before;
- the previous version parsed without a syntax error.

Anything else is a full parse (``recovery.parse_recovering``). Tests compare the
result with a full parse after thousands of random edits (tests/test_incremental.py).
"""
from __future__ import annotations

import ast
import warnings

from torch_lsp.analysis.recovery import parse_recovering
from torch_lsp.analysis.source import SourceFile, split_lines


def _span(stmt: ast.stmt) -> tuple[int, int]:
    """1-based first and last line of a top-level statement, decorators included."""
    start = stmt.lineno
    for d in getattr(stmt, "decorator_list", ()):
        start = min(start, d.lineno)
    return start, stmt.end_lineno or stmt.lineno


class IncrementalParser:
    """Parses successive versions of one document."""

    def __init__(self, path: str | None = None):
        self.path = path
        self.text: str | None = None
        self.lines: list[str] | None = None
        self.src: SourceFile | None = None
        self.last_was_incremental = False  # for tests and logs

    def parse(self, text: str) -> SourceFile:
        lines = split_lines(text, keepends=True)
        src = None
        if self.src is not None and self.src.tree is not None and self.src.problem is None and self.lines is not None:
            src = self._incremental(self.lines, lines, text)
        self.last_was_incremental = src is not None
        if src is None:
            src = parse_recovering(text, self.path)
        src._lines = lines or [""]  # split once: position conversions use them too
        self.text, self.lines, self.src = text, lines, src
        return src

    def _incremental(self, old: list[str], new: list[str], text: str) -> SourceFile | None:
        n = len(new)
        if len(old) != n:
            return None
        p = 0
        while p < n and old[p] == new[p]:
            p += 1
        assert self.src is not None and self.src.tree is not None
        if p == n:  # the same text
            return SourceFile(text=text, path=self.path, tree=self.src.tree)
        q = n - 1
        while q > p and old[q] == new[q]:
            q -= 1
        first, last = p + 1, q + 1  # 1-based changed lines
        body = self.src.tree.body
        i = 0
        while i < len(body) and _span(body[i])[1] < first:
            i += 1
        j = i
        while j < len(body) and _span(body[j])[0] <= last:
            j += 1
        # statements body[i:j] overlap the changed lines
        lo = min(first, _span(body[i])[0]) if i < j else first
        hi = max(last, _span(body[j - 1])[1]) if i < j else last
        snippet = "".join(new[lo - 1: hi])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(snippet, filename=self.path or "<unknown>")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        if lo > 1:
            ast.increment_lineno(tree, lo - 1)
        module = ast.Module(body=body[:i] + tree.body + body[j:], type_ignores=[])
        return SourceFile(text=text, path=self.path, tree=module)

"""Re-parsing a document after an edit: only the top-level statements it touched.

An editor sends a change per keystroke; parsing a 10,000-line file again for each
one costs as much as the whole budget of a keystroke. Most edits change a few
lines inside one top-level statement (a method of a class). The statements the
changed lines overlap (and the ones just before and after them, which a new
indented line may join) are parsed on their own and put between the unchanged
statements of the previous tree, which are kept (the same node objects). When the
edit added or removed lines (Enter, a pasted block), the statements below are
moved: their nodes' line numbers are shifted in place, from a per-statement list of
the nodes, which costs a few milliseconds where a parse of the file costs ~100.

The shortcut is taken only when it cannot differ from a full parse:

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
        # id(statement) -> (statement, its nodes that carry line numbers): for moving
        # the statements below an edit that added or removed lines
        self._nodes: dict[int, tuple[ast.stmt, list[ast.AST]]] = {}

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
        n_old, n_new = len(old), len(new)
        p = 0
        limit = min(n_old, n_new)
        while p < limit and old[p] == new[p]:
            p += 1
        assert self.src is not None and self.src.tree is not None
        if p == n_old == n_new:  # the same text
            return SourceFile(text=text, path=self.path, tree=self.src.tree)
        qo, qn = n_old - 1, n_new - 1  # the common suffix, not overlapping the prefix
        while qo >= p and qn >= p and old[qo] == new[qn]:
            qo -= 1
            qn -= 1
        delta = n_new - n_old
        first, last = p + 1, qo + 1  # 1-based changed lines of the old text (last < first: none removed)
        body = self.src.tree.body
        # the statements that overlap the changed lines
        i = 0
        while i < len(body) and _span(body[i])[1] < first:
            i += 1
        j = i
        while j < len(body) and _span(body[j])[0] <= last:
            j += 1
        parsed = self._parse_lines(new, body, i, j, first, last, delta)
        if parsed is None and i > 0:
            # New indented lines may belong to the statement before them (a line
            # typed after the last one of a method): parse that statement with them.
            i -= 1
            parsed = self._parse_lines(new, body, i, j, first, last, delta)
        if parsed is None:
            return None
        tree, lo = parsed
        below = body[j:]
        if delta:
            for stmt in below:
                self._shift(stmt, delta)
        kept = body[:i] + below
        self._nodes = {id(s): entry for s in kept if (entry := self._nodes.get(id(s))) is not None and entry[0] is s}
        module = ast.Module(body=body[:i] + tree.body + below, type_ignores=[])
        return SourceFile(text=text, path=self.path, tree=module)

    def _parse_lines(self, new: list[str], body: list[ast.stmt], i: int, j: int, first: int, last: int,
                     delta: int) -> tuple[ast.Module, int] | None:
        """Parse, on their own, the new lines that replace ``body[i:j]`` and the changed
        lines ``first..last`` (old numbering): (tree, its first line), or None when they
        do not parse alone."""
        lo = min(first, _span(body[i])[0]) if i < j else first
        hi = max(last, _span(body[j - 1])[1]) if i < j else last
        # Blank lines before the snippet give its nodes their line numbers in the file
        # (instead of a walk of the new nodes to move them: ast.increment_lineno).
        snippet = "\n" * (lo - 1) + "".join(new[lo - 1: hi + delta])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return ast.parse(snippet, filename=self.path or "<unknown>"), lo
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None

    def _shift(self, stmt: ast.stmt, delta: int) -> None:
        """Move a kept statement ``delta`` lines (all its nodes, in place)."""
        entry = self._nodes.get(id(stmt))
        if entry is None or entry[0] is not stmt:
            entry = self._nodes[id(stmt)] = (stmt, [n for n in ast.walk(stmt) if "lineno" in n._attributes])
        for node in entry[1]:
            node.lineno += delta  # type: ignore[attr-defined]
            if node.end_lineno is not None:  # type: ignore[attr-defined]
                node.end_lineno += delta  # type: ignore[attr-defined]

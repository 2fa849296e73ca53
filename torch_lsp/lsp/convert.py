"""Positions between the analysis (code points) and the client (its position
encoding: UTF-16 for VS Code, UTF-8 for Neovim 0.11 when offered, or UTF-32).

The analysis counts columns in code points (Python ``str`` indices); an LSP
client counts them in the units of the negotiated encoding. Only lines holding
non-ASCII text differ, so ASCII lines are converted without work.
"""
from __future__ import annotations

from lsprotocol import types as lsp

from torch_lsp.analysis.diagnostics import Position, Range

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"


def _units(ch: str, encoding: str) -> int:
    if encoding == UTF32:
        return 1
    o = ord(ch)
    if encoding == UTF16:
        return 2 if o > 0xFFFF else 1
    return 1 if o < 0x80 else 2 if o < 0x800 else 3 if o < 0x10000 else 4


class Lines:
    """A document's lines (line endings are ignored), for column conversion."""

    def __init__(self, lines: list[str], encoding: str):
        self.lines = lines
        self.encoding = encoding

    def line(self, n: int) -> str:
        """Line ``n`` without its line end ('' past the end)."""
        return self.lines[n].rstrip("\r\n") if 0 <= n < len(self.lines) else ""

    def to_client(self, p: Position) -> lsp.Position:
        text = self.line(p.line)
        col = max(p.character, 0)
        if self.encoding == UTF32 or text.isascii():
            return lsp.Position(line=max(p.line, 0), character=col)
        return lsp.Position(line=max(p.line, 0), character=sum(_units(c, self.encoding) for c in text[:col]) + max(col - len(text), 0))

    def from_client(self, p: lsp.Position) -> Position:
        """A client position to code points (clamped to the line, as the spec says of
        a column past its end; a column inside a character counts as its start)."""
        from torch_lsp.lsp.documents import column_to_index

        return Position(p.line, column_to_index(self.line(p.line), p.character, self.encoding))

    def range_to_client(self, r: Range) -> lsp.Range:
        return lsp.Range(start=self.to_client(r.start), end=self.to_client(r.end))

    def range_from_client(self, r: lsp.Range) -> Range:
        return Range(self.from_client(r.start), self.from_client(r.end))

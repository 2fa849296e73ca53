"""The server's copy of each open document, kept exactly as the editor's.

The LSP counts only ``\\n``, ``\\r\\n`` and ``\\r`` as line ends (Python's tokenizer
counts the same three; ``str.splitlines`` also splits at form feeds, ``\\x1c``-``\\x1e``,
``\\x85``, U+2028 and U+2029, which is why pygls' own copy drifts from the editor's).
A position's ``character`` counts units of the negotiated encoding (UTF-16 code units
for most clients, UTF-8 bytes or code points when negotiated), and a character past
the end of a line means the end of that line; a line past the last means the end of
the document. ``Document.apply`` follows exactly that, for every encoding.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from lsprotocol import types as lsp

_LINE_END = re.compile(r"\r\n|\r|\n")


def line_starts(text: str) -> list[int]:
    """The offset of each line's first character (the LSP's line model)."""
    starts = [0]
    starts.extend(m.end() for m in _LINE_END.finditer(text))
    return starts


def _units(ch: str, encoding: str) -> int:
    if encoding == "utf-32":
        return 1
    o = ord(ch)
    if encoding == "utf-16":
        return 2 if o > 0xFFFF else 1
    return 1 if o < 0x80 else 2 if o < 0x800 else 3 if o < 0x10000 else 4


def column_to_index(line: str, character: int, encoding: str) -> int:
    """A column in ``encoding`` units on ``line`` (without its line end) to a code
    point index, clamped to the line. A column inside a character counts as that
    character's start."""
    if character <= 0:
        return 0
    if encoding == "utf-32" or line.isascii():
        return min(character, len(line))
    units = 0
    for i, ch in enumerate(line):
        units += _units(ch, encoding)
        if units > character:
            return i
        if units == character:
            return i + 1
    return len(line)


@dataclass
class Document:
    """One open document: its text and version as the editor has them."""

    uri: str
    text: str
    version: int | None = None

    def offset_at(self, position: lsp.Position, encoding: str, starts: list[int] | None = None) -> int:
        """The code point offset of a client position (clamped as the spec says)."""
        starts = starts if starts is not None else line_starts(self.text)
        line = position.line
        if line < 0:
            return 0
        if line >= len(starts):
            return len(self.text)
        begin = starts[line]
        end = starts[line + 1] if line + 1 < len(starts) else len(self.text)
        content = self.text[begin:end]
        if content.endswith("\r\n"):
            content = content[:-2]
        elif content.endswith(("\r", "\n")):
            content = content[:-1]
        return begin + column_to_index(content, position.character, encoding)

    def apply(self, change: lsp.TextDocumentContentChangeEvent, encoding: str) -> None:
        """Apply one content change (incremental or whole-document)."""
        rng = getattr(change, "range", None)
        if rng is None:
            self.text = change.text
            return
        starts = line_starts(self.text)
        a = self.offset_at(rng.start, encoding, starts)
        b = self.offset_at(rng.end, encoding, starts)
        if b < a:
            a, b = b, a
        self.text = self.text[:a] + change.text + self.text[b:]

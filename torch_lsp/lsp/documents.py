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
    # line_starts(text) when known (kept across edits that add or remove no line: a
    # keystroke then costs no scan of the whole text)
    starts: list[int] | None = None

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
            self.starts = None
            return
        starts = self.starts if self.starts is not None else line_starts(self.text)
        a = self.offset_at(rng.start, encoding, starts)
        b = self.offset_at(rng.end, encoding, starts)
        if b < a:
            a, b = b, a
        self.text = self.text[:a] + change.text + self.text[b:]
        line = rng.start.line
        if line == rng.end.line and 0 <= line < len(starts) and "\n" not in change.text and "\r" not in change.text \
                and "\r" not in self.text:
            # The change replaced characters of one line (offset_at keeps both ends
            # before its line break) with no line break: the lines below moved by the
            # difference in length. (Not with a carriage return in the text: removing
            # the characters between a \r and a \n makes one line break of two.)
            delta = len(change.text) - (b - a)
            self.starts = starts[:line + 1] + [x + delta for x in starts[line + 1:]] if delta else starts
        else:
            self.starts = None


def position_of(text: str, offset: int, encoding: str, starts: list[int] | None = None) -> lsp.Position:
    """The client position of a code point offset (the LSP's line model)."""
    import bisect

    starts = starts if starts is not None else line_starts(text)
    line = bisect.bisect_right(starts, offset) - 1
    before = text[starts[line]:offset]
    if encoding == "utf-32" or before.isascii():
        return lsp.Position(line=line, character=len(before))
    return lsp.Position(line=line, character=sum(_units(c, encoding) for c in before))


def minimal_edit(old: str, new: str, encoding: str) -> lsp.TextEdit | None:
    """One edit that turns ``old`` into ``new``: the part between their common prefix
    and suffix. Checked by applying it as a client would (None if that does not give
    ``new``): an edit may never touch text it did not mean to change."""
    if old == new:
        return None
    a = 0
    limit = min(len(old), len(new))
    while a < limit and old[a] == new[a]:
        a += 1
    b = 0
    while b < limit - a and old[len(old) - 1 - b] == new[len(new) - 1 - b]:
        b += 1
    # never split a \r\n pair (the client's line model would see another line)
    while a > 0 and old[a - 1] == "\r" and a < len(old) and old[a] == "\n":
        a -= 1
    while b > 0 and len(old) - b < len(old) and old[len(old) - b - 1] == "\r" and old[len(old) - b] == "\n":
        b -= 1
    starts = line_starts(old)
    edit = lsp.TextEdit(range=lsp.Range(start=position_of(old, a, encoding, starts),
                                        end=position_of(old, len(old) - b, encoding, starts)),
                        new_text=new[a:len(new) - b])
    doc = Document("", old)
    doc.apply(lsp.TextDocumentContentChangePartial(range=edit.range, text=edit.new_text), encoding)
    return edit if doc.text == new else None

"""Decoding, parsing and position bookkeeping for one Python source file.

``SourceFile`` is the unit every analysis works on. It is built once per file
(or per document version in the server) and never re-parses: rules read
``tree`` and convert AST positions with ``range_of``.

AST columns are UTF-8 byte offsets; our ``Range`` columns are code points.
``char_col`` converts, touching only lines that hold non-ASCII text.
"""
from __future__ import annotations

import ast
import io
import re
import tokenize
import warnings
from dataclasses import dataclass, field

from torch_lsp.analysis.diagnostics import Position, Range


@dataclass
class ParseProblem:
    """Why a file could not be analysed (reported as TL000)."""

    message: str
    range: Range


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


_OTHER_BREAKS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e")
_OTHER_BREAKS_UNICODE = ("\x85", "\u2028", "\u2029")


def split_lines(text: str, keepends: bool = False) -> list[str]:
    """The lines of a source text as Python numbers them: only \\n, \\r\\n and \\r end
    a line (``str.splitlines`` also splits at form feeds and U+2028)."""
    if _splitlines_agrees(text):  # almost every file: str.splitlines is 3x faster
        return text.splitlines(keepends)
    lines = _LINE.findall(text)
    return lines if keepends else [ln.rstrip("\r\n") for ln in lines]


def _splitlines_agrees(text: str) -> bool:
    """Does ``str.splitlines`` split ``text`` where Python does (no form feed, no
    lone carriage return, no Unicode line separator)?"""
    if any(c in text for c in _OTHER_BREAKS):
        return False
    if not text.isascii() and any(c in text for c in _OTHER_BREAKS_UNICODE):
        return False
    return "\r" not in text or text.count("\r") == text.count("\r\n")


def line_lengths(text: str) -> list[int]:
    """The length (code points, line end excluded) of each line of a document, as the
    LSP and Python number them (``split_lines``): a text that ends with a line break,
    or is empty, has an empty last line after it."""
    return _lengths(split_lines(text, keepends=True))


def _lengths(lines: list[str]) -> list[int]:
    """``line_lengths`` from the lines of ``split_lines(text, keepends=True)``."""
    lengths = [len(ln) - (2 if ln.endswith("\r\n") else 1 if ln.endswith(("\n", "\r")) else 0) for ln in lines]
    if not lines or lines[-1].endswith(("\n", "\r")):
        lengths.append(0)
    return lengths


def clamp_position(p: Position, lengths: list[int]) -> Position:
    """``p`` inside the document (the LSP's rule): a line past the last is the end of
    the document, a column past a line's end is its end."""
    if p.line >= len(lengths):
        return Position(len(lengths) - 1, lengths[-1])
    if p.line < 0:
        return Position(0, 0)
    return Position(p.line, min(max(p.character, 0), lengths[p.line]))


def clamp_range(r: Range, lengths: list[int]) -> Range:
    """``r`` inside the document: both ends clamped, and the end not before the start."""
    start, end = clamp_position(r.start, lengths), clamp_position(r.end, lengths)
    return Range(start, max(start, end))


def inside(r: Range, lengths: list[int]) -> bool:
    return r.start <= r.end and all(0 <= p.line < len(lengths) and 0 <= p.character <= lengths[p.line]
                                    for p in (r.start, r.end))


def _lossy(data: bytes) -> str:
    """File bytes decoded as an editor shows them: undecodable bytes as U+FFFD."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding, errors="replace")
    except (SyntaxError, LookupError):
        text = data.decode("utf-8", errors="replace")
    return text[1:] if text.startswith("\ufeff") else text


def decode_source(data: bytes) -> tuple[str | None, ParseProblem | None]:
    """Decode file bytes as Python does (BOM, PEP 263 cookie, else UTF-8)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        if b"coding" in b"\n".join(data.split(b"\n", 2)[:2]):  # an unknown or inconsistent cookie
            return None, ParseProblem(f"cannot decode file: {exc}", Range.point(0, 0))
        encoding = "utf-8"  # invalid UTF-8 in the first two lines: report the byte below
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        if isinstance(exc, UnicodeDecodeError):
            # The position of the byte in the text an editor shows (each undecodable
            # byte sequence one U+FFFD), lines ended by \n, \r\n or \r.
            # (the offsets are in the bytes the codec saw: after the BOM for utf-8-sig)
            seen = exc.object if isinstance(exc.object, bytes) else data
            before = seen[: exc.start].decode(encoding, errors="replace")
            if before.startswith("\ufeff"):
                before = before[1:]
            lines = split_lines(before, keepends=True) or [""]
            if lines[-1].endswith(("\n", "\r")):
                lines.append("")
            line, col = len(lines) - 1, len(lines[-1])
            bad = seen[exc.start : exc.start + 1]
            msg = f"file is not valid {encoding}: byte 0x{bad.hex()} at line {line + 1} cannot be decoded; the file cannot be imported"
            return None, ParseProblem(msg, Range.of(line, col, line, col + 1))
        return None, ParseProblem(f"cannot decode file: {exc}", Range.point(0, 0))
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, None


@dataclass
class SourceFile:
    text: str
    path: str | None = None
    tree: ast.Module | None = None
    problem: ParseProblem | None = None
    from_disk: bool = False  # the text is exactly the file on disk at `path`
    _lines: list[str] | None = field(default=None, repr=False)
    _line_bytes: dict[int, bytes] = field(default_factory=dict, repr=False)
    _lengths: list[int] | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, text: str, path: str | None = None) -> "SourceFile":
        src = cls(text=text, path=path)
        src.tree, src.problem = _parse(text, path)
        return src

    @classmethod
    def from_bytes(cls, data: bytes, path: str | None = None) -> "SourceFile":
        text, problem = decode_source(data)
        if text is None:
            # Nothing to analyse; positions are those of the text an editor shows
            # (each undecodable byte sequence one U+FFFD).
            return cls(text="", path=path, problem=problem, _lengths=line_lengths(_lossy(data)))
        return cls.parse(text, path)

    # ----------------------------------------------------------------- positions
    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = split_lines(self.text, keepends=True) or [""]
        return self._lines

    @property
    def line_lengths(self) -> list[int]:
        """Each line's length as the LSP numbers the document's lines (``line_lengths``)."""
        if self._lengths is None:
            self._lengths = _lengths(self.lines)
        return self._lengths

    def line_text(self, line: int) -> str:
        """The text of a 0-based line without its line ending ('' past the end)."""
        lines = self.lines
        if 0 <= line < len(lines):
            return lines[line].rstrip("\r\n")
        return ""

    def char_col(self, line: int, byte_col: int) -> int:
        """Convert an AST (UTF-8 byte) column on a 0-based line to code points."""
        text = self.line_text(line)
        if text.isascii():
            return byte_col
        data = self._line_bytes.get(line)
        if data is None:
            data = self._line_bytes[line] = text.encode("utf-8")
        return len(data[:byte_col].decode("utf-8", errors="replace"))

    # The methods below take any positioned node (stmt, expr, arg, keyword, ...); ast.AST
    # itself declares no position, hence their attr-defined ignores.
    def range_of(self, node: ast.AST, end_node: ast.AST | None = None) -> Range:
        end_node = end_node or node
        line = node.lineno - 1  # type: ignore[attr-defined]
        end_line = (end_node.end_lineno or node.lineno) - 1  # type: ignore[attr-defined]
        end_col = end_node.end_col_offset if end_node.end_col_offset is not None else node.col_offset  # type: ignore[attr-defined]
        return Range(
            Position(line, self.char_col(line, node.col_offset)),  # type: ignore[attr-defined]
            Position(end_line, self.char_col(end_line, end_col)),
        )

    def start_of(self, node: ast.AST) -> Position:
        line = node.lineno - 1  # type: ignore[attr-defined]
        return Position(line, self.char_col(line, node.col_offset))  # type: ignore[attr-defined]

    def end_of(self, node: ast.AST) -> Position:
        line = (node.end_lineno or node.lineno) - 1  # type: ignore[attr-defined]
        return Position(line, self.char_col(line, node.end_col_offset or 0))  # type: ignore[attr-defined]

    def segment(self, node: ast.AST) -> str:
        """The exact source text of a node."""
        line = node.lineno - 1  # type: ignore[attr-defined]
        if node.end_lineno == node.lineno:  # type: ignore[attr-defined]  # the common case: one line, often ASCII
            text = self.line_text(line)
            if text.isascii():
                return text[node.col_offset : node.end_col_offset]  # type: ignore[attr-defined]
        r = self.range_of(node)
        return self.text_in(r)

    def text_in(self, r: Range) -> str:
        if r.start.line == r.end.line:
            return self.line_text(r.start.line)[r.start.character : r.end.character]
        parts = [self.lines[r.start.line][r.start.character :]]
        parts.extend(self.lines[r.start.line + 1 : r.end.line])
        parts.append(self.line_text(r.end.line)[: r.end.character])
        return "".join(parts)

    def indent_of(self, line: int) -> str:
        text = self.line_text(line)
        return text[: len(text) - len(text.lstrip())]


def _parse(text: str, path: str | None) -> tuple[ast.Module | None, ParseProblem | None]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for invalid escapes etc.
            return ast.parse(text, filename=path or "<unknown>"), None
    except SyntaxError as exc:
        return None, ParseProblem(f"syntax error: {exc.msg}; the file cannot be imported", _error_range(text, exc))
    except (RecursionError, MemoryError) as exc:
        what = "too deeply nested" if isinstance(exc, RecursionError) else "too large"
        return None, ParseProblem(f"the file is {what} for Python's parser ({type(exc).__name__}); it cannot be imported", Range.point(0, 0))
    except ValueError as exc:  # e.g. null bytes on older Pythons
        return None, ParseProblem(f"syntax error: {exc}; the file cannot be imported", Range.point(0, 0))


def _error_range(text: str, exc: SyntaxError) -> Range:
    """Where a SyntaxError is, inside the text. Python's position can lie past its
    line (an unexpected end of file, a missing ``:``, a dedent that matches nothing)
    or past the last line: such a position is moved onto the code of its line, or of
    the last line with code above it (its last character; the whole line for an
    indentation error)."""
    lines = split_lines(text)
    if not lines:
        return Range.point(0, 0)
    line = max((exc.lineno or 1) - 1, 0)
    col = max((exc.offset or 1) - 1, 0)
    # (the getattr tests rule out None; mypy does not narrow through getattr)
    end_line = (exc.end_lineno - 1) if getattr(exc, "end_lineno", None) else line  # type: ignore[operator]
    end_col = (exc.end_offset - 1) if getattr(exc, "end_offset", None) and exc.end_offset > 0 else col + 1  # type: ignore[operator]
    if (end_line, end_col) < (line, col):
        end_line, end_col = line, col + 1
    if line >= len(lines):  # past the last line: the end of the file
        line = len(lines) - 1
        col = len(lines[line])
    code = lines[line].rstrip()
    if col >= len(code):  # past the line's code (on a blank line: the code above it)
        above = line
        while above > 0 and not lines[above].strip():
            above -= 1
        if not lines[above].strip():
            return Range.point(line, min(col, len(lines[line])))
        line, code = above, lines[above].rstrip()
        if isinstance(exc, IndentationError):
            return Range.of(line, len(code) - len(code.lstrip()), line, len(code))
        return Range.of(line, len(code) - 1, line, len(code))
    if end_line >= len(lines):
        end_line, end_col = len(lines) - 1, len(lines[-1])
    end_col = min(end_col, len(lines[end_line]))
    if (end_line, end_col) <= (line, col):
        end_line, end_col = line, col + 1
    return Range.of(line, col, end_line, end_col)

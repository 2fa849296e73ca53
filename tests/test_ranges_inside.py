"""Every range torch-lsp reports lies inside the document (issue 13).

The document's lines are the LSP's and Python's: only \\n, \\r\\n and \\r end a line
(a form feed, \\x0b, \\x1c-\\x1e, U+0085, U+2028 and U+2029 do not); a text that ends
with a line break has an empty last line after it. For file bytes that cannot be
decoded, the document is what an editor shows: each undecodable byte sequence one
U+FFFD. Inside means: 0 <= line < number of lines, 0 <= column <= the line's length
(code points), start <= end; for a diagnostic's range, its related locations in the
same file and its fixes' edits.

The property runs on random and mutated source (odd line ends, non-UTF-8 bytes, NUL
bytes, truncation), on what ``check_source`` returns and also on what the rules
and the parser produce before ``engine.finish`` (which moves a stray range inside),
so that the safety net is not what makes it pass."""
from __future__ import annotations

import io
import re
import textwrap
import tokenize
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import TWO_LINEARS
from torch_lsp import engine
from torch_lsp.analysis.recovery import parse_recovering
from torch_lsp.analysis.source import SourceFile

ROOT = Path(__file__).resolve().parent.parent
SEEDS = [p.read_bytes() for p in sorted((ROOT / "examples").glob("*.py"))] + [
    p.read_bytes() for p in sorted((ROOT / "tests" / "cli_cases").glob("*.py"))]
SEEDS += [TWO_LINEARS.encode(), b"", b"x = 1", b"\r", b"\r\r\r", b"\x0c", b"class A:\n    pass\r\n"]

PIECES = [b"\n", b"\r", b"\r\n", b"\x0c", b"\x0b", b"\x1c", "\u2028".encode(), "\u2029".encode(), "\x85".encode(),
          b"\xff", b"\xe2\x82", b"\xc3", b"\x00", b"(", b")", b"[", b"'", b'"', b'"""', b"\\", b":", b",", b"    ",
          b"\t", b" ", "é".encode(), "𝔘".encode(), "字".encode(), b"# torch-lsp: ignore\n", b"  # noqa: TL201",
          b"def f(:\n", b"class A(nn.Module):\n", b"super().__init__()", b"self.fc = nn.Linear(3, 4)\n",
          b"\xef\xbb\xbf", b"# -*- coding: latin-1 -*-\n", b"# coding: nope\n", b"if x:\n", b"else:\n",
          b"\n    return x", b"x = (", b"lambda", b"@", b"import torch\n"]


def document_lines(data: str | bytes) -> list[str]:
    """The document's lines (see the module docstring), computed here on its own."""
    if isinstance(data, bytes):
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
            text = data.decode(encoding, errors="replace")
        except (SyntaxError, LookupError):
            text = data.decode("utf-8", errors="replace")
        text = text[1:] if text.startswith("\ufeff") else text
    else:
        text = data
    return re.split(r"\r\n|\r|\n", text)


def outside(r, lines: list[str]) -> bool:
    s, e = r.start, r.end
    if not (0 <= s.line < len(lines) and 0 <= e.line < len(lines)):
        return True
    if (s.line, s.character) > (e.line, e.character):
        return True
    return not (0 <= s.character <= len(lines[s.line]) and 0 <= e.character <= len(lines[e.line]))


def stray_ranges(diagnostics, lines: list[str]) -> list:
    out = []
    for d in diagnostics:
        ranges = [d.range] + [r.range for r in d.related if r.path is None]
        ranges += [e.range for f in d.fixes for e in f.edits]
        out += [(d.code, d.message, r) for r in ranges if outside(r, lines)]
    return out


def assert_inside(data: str | bytes) -> None:
    lines = document_lines(data)
    result = engine.check_source(data, "model.py")
    assert stray_ranges(result.diagnostics, lines) == [], repr(data)
    # before engine.finish: the parser's TL000 and the rules' own ranges
    src = SourceFile.parse(data, "model.py") if isinstance(data, str) else SourceFile.from_bytes(data, "model.py")
    if src.problem is not None:
        assert not outside(src.problem.range, lines), (repr(data), src.problem)
    _, raw = engine.analyse(src)
    assert stray_ranges(raw, lines) == [], repr(data)
    if isinstance(data, str):  # the server's parser (statements with a syntax error blanked)
        recovered = parse_recovering(data, "model.py")
        if recovered.problem is not None:
            assert not outside(recovered.problem.range, lines), (repr(data), recovered.problem)
        if recovered.tree is not None:
            _, raw = engine.analyse(SourceFile(text=data, path="model.py", tree=recovered.tree))
            assert stray_ranges(raw, lines) == [], repr(data)


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert", "insert", "delete", "truncate", "bytes"]))
        if op == "insert":
            data[at:at] = draw(st.sampled_from(PIECES))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 12))]
        elif op == "truncate":
            del data[at:]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
    return bytes(data)


random_text = st.lists(st.sampled_from(PIECES) | st.binary(max_size=3), max_size=40).map(b"".join)


def as_text(data: bytes) -> str:
    """What an editor would send for those bytes (it never sends undecodable ones)."""
    return data.decode("utf-8", errors="replace")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated() | random_text)
@example(data=b"def f():\n    x = 1\n  y = 2\n")  # a dedent that matches nothing: Python's column is past the line
@example(data=b"for i in x:\n")  # an indented block expected at the end of the file
@example(data=b"x = 1 +\\\n")  # unexpected end of file
@example(data=b"class A:\n\n\n")
@example(data=b"x = 1\r\ny = '\xff'\n")  # an undecodable byte after \r\n
@example(data=b"x = 1\ry = '\xe2\x82'")  # after a lone \r, without a line break at the end
@example(data=b"x = 1\x00")
@example(data=b"")
@example(data=b"\r\r")
@example(data=b"\x0cx = (")
@example(data=b"\xef\xbb\xbfx = '\xff'")
# The server's parser blanked line 0 and joined its lone \r with the next line's \n:
# TL104's fix landed a line past the end (found here and by the server fuzzer).
@example(data=b'"\r""doc"""\nimport torch.nn as nn\nclass A(nn.Module):\n    def __init__(self):\n'
              b'        self.fc = nn.Linear(84, 2)')
# A BOM, then an undecodable byte: utf-8-sig's error offsets do not count the BOM.
@example(data=b'\xef\xbb\xbf\n\n\xff')
def test_every_range_lies_inside_the_document(data):
    assert_inside(data)
    assert_inside(as_text(data))


CLOSING_FILE = textwrap.dedent("""\
    import torch.nn as nn


    class Net(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(3, 4)
            super().__init__()""")


@pytest.mark.parametrize("text", [
    "", "\n", "\r", "\r\r\r", "\x0c", "x = 1", "x = (", "(\r", "\u2028", "x = 1\x0c\n(",
    CLOSING_FILE,  # TL104's fix moves the last line, which has no line break
    CLOSING_FILE.replace("\n", "\r"),
    CLOSING_FILE + "\n",
    TWO_LINEARS.replace("\n", "\r"),
    TWO_LINEARS.replace("\n\n", "\n\x0c\n"),
    TWO_LINEARS.rstrip("\n"),
], ids=["empty", "lf", "cr", "crs", "form-feed", "no-line-break", "eof-in-bracket", "bracket-cr", "u2028",
        "form-feed-line", "tl104-at-eof", "tl104-cr", "tl104-lf", "cr-lines", "form-feeds", "no-final-break"])
def test_ranges_at_the_edges_of_a_document(text):
    assert_inside(text)
    assert_inside(text.encode("utf-8"))


def test_tl000_lies_on_the_code_of_the_line_python_names():
    def tl000(text):
        (d,) = engine.check_source(text, "m.py").diagnostics
        assert d.code == "TL000"
        return d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character

    assert tl000("def f():\n    x = 1\n  y = 2\n") == (2, 2, 2, 7)  # the statement that dedents wrongly
    assert tl000("for i in x:\n") == (0, 0, 0, 11)  # the statement that wants a block
    assert tl000("class A:\n\n\n") == (0, 0, 0, 8)  # (Python names the blank line at the end)
    assert tl000("def f()\n") == (0, 6, 0, 7)  # expected ':' after the last character
    assert tl000("x = 1 +\\\n") == (0, 7, 0, 8)  # unexpected end of file
    assert tl000(b"x = 1\ry = '\xff'\n") == (1, 5, 1, 6)  # a lone \r ends a line
    assert tl000(b"x = 1\r\n\xef\xbb\xbf = 2\n\xff") == (2, 0, 2, 1)


def test_a_suppression_comment_after_a_form_feed_applies_to_its_own_line():
    text = TWO_LINEARS.replace("import torch\n", "import torch\x0c  # a form feed does not end a line\n")
    text = text.replace("self.fc2 = nn.Linear(30, 5)", "self.fc2 = nn.Linear(30, 5)  # torch-lsp: ignore[TL201]")
    assert [d.code for d in engine.check_source(TWO_LINEARS, "m.py").diagnostics] == ["TL201"]
    assert engine.check_source(text, "m.py").diagnostics == []
    moved = text.replace("  # torch-lsp: ignore[TL201]", "").replace("class Net", "# torch-lsp: ignore\nclass Net")
    assert [d.code for d in engine.check_source(moved, "m.py").diagnostics] == ["TL201"]

"""The protocol fuzzer (tests/server_fuzz.py, issue 13), short and seeded: the
server's copy of each document is the editor's, every request is answered, the
diagnostics equal a fresh analysis and lie inside the document, the server exits 0;
and `torch-lsp check --format json` on mutated corpus files gives ranges inside
each file. The long run is benchmarks/server_fuzz.py.

The client-side line model is checked first against hand-computed positions: a
failure of the fuzz run must be the server's, not the fuzzer's."""
from __future__ import annotations

import random

import pytest

from server_fuzz import Document, EditGenerator, MidCharacter, make_document, python_lines, run_cli_batch, run_fuzz

SEED = 13
SESSIONS = 4  # per profile
EDITS = 250  # per session
CLI_FILES = 200


# ----------------------------------------------------------------------------- the client's line model
def test_lines_end_only_at_lf_crlf_cr():
    doc = Document("a\x0cb\x1c\x1d\x1e\x85\u2028\u2029c\r\nd\re\nf", "utf-16")
    assert [doc.line(i) for i in range(doc.n_lines)] == ["a\x0cb\x1c\x1d\x1e\x85\u2028\u2029c", "d", "e", "f"]
    assert Document("x\n", "utf-16").n_lines == 2  # the (empty) line after the last line end exists
    assert Document("", "utf-8").n_lines == 1


def test_utf16_and_utf8_columns():
    text = "a🙂b\r\nxé\rz\n"  # 🙂: 2 UTF-16 units, 4 UTF-8 bytes; é: 1 unit, 2 bytes
    u16, u8 = Document(text, "utf-16"), Document(text, "utf-8")
    assert (u16.line_units(0), u8.line_units(0)) == (4, 6)
    assert u16.offset_at(0, 3) == u8.offset_at(0, 5) == 2  # before b
    assert u16.offset_at(1, 2) == u8.offset_at(1, 3) == 7  # end of "xé"
    with pytest.raises(MidCharacter):
        u16.offset_at(0, 2)  # inside the surrogate pair
    with pytest.raises(MidCharacter):
        u8.offset_at(1, 2)  # inside é
    assert u16.position_at(4) == (0, 4)  # between \r and \n: the end of line 0
    assert u8.position_at(6) == (1, 1)


def test_clamping_past_the_line_and_past_the_document():
    doc = Document("ab\ncd\n", "utf-16")
    assert doc.offset_at(0, 3) == doc.offset_at(0, 99) == 2  # the end of line 0, not into line 1
    assert doc.offset_at(2, 0) == doc.offset_at(2, 7) == 6  # the last (empty) line
    assert doc.offset_at(3, 0) == doc.offset_at(2 ** 31 - 1, 5) == 6  # past the last line: the end
    doc.apply({"range": {"start": {"line": 0, "character": 5}, "end": {"line": 1, "character": 0}}, "text": "!"})
    assert doc.text == "ab!cd\n"
    doc.apply({"range": {"start": {"line": 9, "character": 0}, "end": {"line": 9, "character": 0}}, "text": "z"})
    assert doc.text == "ab!cd\nz"


def test_a_lone_cr_and_a_following_lf_become_one_line_end():
    doc = Document("a\rb\nc", "utf-16")
    assert doc.n_lines == 3
    doc.apply({"range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 1}}, "text": ""})  # delete b
    assert doc.text == "a\r\nc" and doc.n_lines == 2  # \r\n: one line end now


def test_cli_lines_follow_python():
    assert python_lines(b"a\r\nb\rc\x0cd\n") == ["a", "b", "c\x0cd", ""]
    assert python_lines(b"\xef\xbb\xbfx = '\xff'\n") == ["x = '\udcff'", ""]  # BOM dropped; a bad byte is one code point


def test_generated_edits_stay_at_character_boundaries():
    rng = random.Random(1)
    gen = EditGenerator(rng)
    for encoding in ("utf-16", "utf-8"):
        doc = Document(make_document(rng), encoding)
        for _ in range(500):
            _, change = gen.one(doc)
            doc.apply(change)  # raises MidCharacter if a position were inside a character
            if len(doc.text) > 5000:
                doc = Document(make_document(rng), encoding)


# ----------------------------------------------------------------------------- the fuzz runs
def test_server_fuzz():
    report = run_fuzz(sessions=SESSIONS, edits=EDITS, seed=SEED)
    print(report.summary())
    assert report.sessions == 2 * SESSIONS and report.checkpoints > 0
    assert report.failures == 0, report.summary(examples=3)


def test_cli_fuzz():
    report = run_cli_batch(CLI_FILES, seed=SEED)
    print(report.summary())
    assert report.cli_files == CLI_FILES
    assert report.failures == 0, report.summary(examples=5)

"""Re-parsing only the statements an edit touched gives the same tree as a full
parse: random edits (typing, deleting, replacing) on real model files, each
compared with `ast.parse` of the whole new text."""
from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest

from torch_lsp.analysis.incremental import IncrementalParser
from torch_lsp.analysis.recovery import UNKNOWN

FILES = sorted((Path(__file__).parent / "e2e").glob("*.py")) + sorted((Path(__file__).parent.parent / "examples").glob("*.py"))
SNIPPETS = ["x", "1", " ", "(", ")", ":", "\n", "    ", "'", '"""', "#", "\\", "pass", "def f():\n    return 1\n",
            "class C:\n    pass\n", "@decorator\n", "else:", "    y = 2\n", ",", "]", "[", "lambda: 0"]


def _edit(rng: random.Random, text: str) -> str:
    lines = text.splitlines(keepends=True) or [""]
    line = rng.randrange(len(lines))
    col = rng.randrange(len(lines[line].rstrip("\n")) + 1)
    offset = sum(len(x) for x in lines[:line]) + col
    kind = rng.random()
    if kind < 0.4:  # type a character of a name (the common keystroke)
        return text[:offset] + rng.choice("abcxyz_0") + text[offset:]
    if kind < 0.6:  # type something
        return text[:offset] + rng.choice(SNIPPETS) + text[offset:]
    if kind < 0.85:  # delete a few characters
        return text[:offset] + text[offset + rng.randint(1, 6):]
    return text[:offset] + rng.choice(SNIPPETS) + text[offset + rng.randint(1, 4):]  # replace


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::SyntaxWarning")


def _dump(tree: ast.AST | None) -> str | None:
    return None if tree is None else ast.dump(tree, include_attributes=True)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_incremental_parse_equals_a_full_parse(path):
    rng = random.Random(path.name)
    text = path.read_text(encoding="utf-8")
    parser = IncrementalParser(str(path))
    parser.parse(text)
    incremental = 0
    for _ in range(300):
        valid = text
        text = _edit(rng, text)
        src = parser.parse(text)
        try:
            full = ast.parse(text)
        except SyntaxError:
            full = None
        if full is None:
            # The recovering parse keeps what parses (not comparable with ast.parse);
            # undo, as a user would, so that later edits start from valid code.
            text = valid
            parser.parse(text)
            continue
        assert src.problem is None
        assert _dump(src.tree) == _dump(full), f"differs after an edit ({'incremental' if parser.last_was_incremental else 'full'})"
        incremental += parser.last_was_incremental
    assert incremental > 0  # the shortcut was really taken


def test_typing_inside_a_method_reparses_only_that_statement():
    text = "import torch\n\n\nclass A:\n    def f(self):\n        return 1\n\n\nclass B:\n    pass\n"
    parser = IncrementalParser("m.py")
    first = parser.parse(text)
    second = parser.parse(text.replace("return 1", "return 12"))
    assert parser.last_was_incremental
    assert second.tree.body[0] is first.tree.body[0] and second.tree.body[2] is first.tree.body[2]
    assert second.tree.body[1] is not first.tree.body[1]
    assert second.tree.body[1].body[0].body[0].value.value == 12


def test_a_reparsed_statement_is_parsed_at_its_line_not_moved_there(monkeypatch):
    # The re-parsed statement gets its line numbers from the parse itself (blank
    # lines before it), not from a second walk over its new nodes.
    def walk_again(*args):
        raise AssertionError("ast.increment_lineno walked the new nodes")

    text = "import torch\n\n\nclass A:\n    def f(self):\n        return 1\n\n\nclass B:\n    pass\n"
    parser = IncrementalParser("m.py")
    parser.parse(text)
    monkeypatch.setattr(ast, "increment_lineno", walk_again)
    edited = text.replace("return 1", "return 12")
    second = parser.parse(edited)
    assert parser.last_was_incremental
    assert _dump(second.tree) == _dump(ast.parse(edited))


def test_an_edit_that_opens_a_bracket_falls_back_to_a_full_parse():
    text = "x = 1\ny = 2\nz = 3\n"
    parser = IncrementalParser("m.py")
    parser.parse(text)
    src = parser.parse("x = 1\ny = (2\nz = 3\n")
    assert not parser.last_was_incremental
    assert src.problem is not None  # a syntax error: the recovering parse keeps x and z (y unknown)
    assert [ast.unparse(s) for s in src.tree.body] == ["x = 1", f"y = {UNKNOWN}", "z = 3"]


def test_enter_and_backspace_move_the_statements_below_without_parsing_them():
    text = "import torch\n\n\nclass A:\n    def f(self):\n        return 1\n\n\nclass B:\n    def g(self):\n        return 2\n"
    parser = IncrementalParser("m.py")
    first = parser.parse(text)
    b = first.tree.body[2]
    entered = text.replace("        return 1\n", "        return 1\n        \n")  # Enter at the end of f
    second = parser.parse(entered)
    assert parser.last_was_incremental
    assert second.tree.body[2] is b and b.lineno == 10 and b.body[0].body[0].lineno == 12
    assert _dump(second.tree) == _dump(ast.parse(entered))
    typed = entered.replace("        \n", "        y = 3\n")  # typing on the new line joins f
    third = parser.parse(typed)
    assert parser.last_was_incremental and third.tree.body[2] is b
    assert _dump(third.tree) == _dump(ast.parse(typed))
    back = parser.parse(text)  # the line removed again
    assert parser.last_was_incremental and back.tree.body[2] is b and b.lineno == 9
    assert _dump(back.tree) == _dump(ast.parse(text))


@pytest.mark.parametrize("path", FILES[:3], ids=lambda p: p.name)
def test_random_line_insertions_and_joins_equal_a_full_parse(path):
    rng = random.Random("lines" + path.name)
    text = path.read_text(encoding="utf-8")
    parser = IncrementalParser(str(path))
    parser.parse(text)
    incremental = 0
    for _ in range(300):
        lines = text.splitlines(keepends=True)
        k = rng.randrange(len(lines))
        if rng.random() < 0.5:  # Enter: a new line with the indentation of line k
            indent = lines[k][: len(lines[k]) - len(lines[k].lstrip())].rstrip("\n")
            lines.insert(k + 1, indent + rng.choice(["", "z = 0", "pass", "# note"]) + "\n")
        elif k + 1 < len(lines):  # Backspace at the start of a line: join it with the previous one
            lines[k] = lines[k].rstrip("\n") + lines.pop(k + 1)
        candidate = "".join(lines)
        try:
            full = ast.parse(candidate)
        except SyntaxError:
            continue
        text = candidate
        src = parser.parse(text)
        assert src.problem is None
        assert _dump(src.tree) == _dump(full)
        incremental += parser.last_was_incremental
    assert incremental > 100


def test_import_words_per_statement_equal_a_walk_of_the_whole_tree():
    # The server keeps each top-level statement's import words while the incremental
    # parser keeps the statement: after any edit the set is that of the whole new tree,
    # and an unchanged statement's words are the same object (not walked again).
    from torch_lsp.lsp.state import imported_words

    rng = random.Random("imports")
    for path in FILES:
        text = path.read_text(encoding="utf-8")
        parser = IncrementalParser(str(path))
        memo: dict = {}
        for _ in range(40):
            src = parser.parse(text)
            if src.tree is not None and src.problem is None:
                before = dict(memo)
                assert imported_words(src.tree, memo) == imported_words(ast.parse(text))
                kept = [s for s in src.tree.body if id(s) in before and before[id(s)][0] is s]
                assert all(memo[id(s)][1] is before[id(s)][1] for s in kept)
                if parser.last_was_incremental:
                    assert kept
            text = _edit(rng, text) if rng.random() < 0.8 else text.replace("import torch.nn as nn", "import torch.nn as tnn\nimport torch.nn as nn", 1)

"""split_lines numbers lines as Python does, on its fast path and its slow one."""
import ast
import random

import pytest

from torch_lsp.analysis.source import _LINE, split_lines


def _reference(text, keepends):
    lines = _LINE.findall(text)
    return lines if keepends else [ln.rstrip("\r\n") for ln in lines]


PIECES = ["a", " ", "é", "\n", "\r", "\r\n", "\x0c", "\x0b", "\x1c", "\u2028", "\u2029", "\x85"]


@pytest.mark.parametrize("keepends", [True, False])
def test_agrees_with_the_line_regex_on_every_mix_of_breaks(keepends):
    rng = random.Random(7)
    texts = ["", "a", "a\n", "a\r\nb", "a\rb\n", "a\x0cb\n", "x\u2028y", "\r\n\r\n", "a\r\r\nb"]
    texts += ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 14))) for _ in range(3000)]
    for text in texts:
        assert split_lines(text, keepends) == _reference(text, keepends), repr(text)


def test_a_form_feed_does_not_start_a_line_for_python():
    text = "x = 1\n\x0cy = 2\nz = 3  # \u2028 in a comment\nw = 4\n"
    tree = ast.parse(text)
    lines = split_lines(text)
    assert len(lines) == 4
    for stmt in tree.body:  # each statement's line holds its target
        assert lines[stmt.lineno - 1].lstrip("\x0c").startswith(stmt.targets[0].id)

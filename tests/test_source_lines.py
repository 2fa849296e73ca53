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


def test_recovery_keeps_lines_after_a_lone_carriage_return():
    """A syntax error is blanked out; a blanked line next to a lone \\r must not merge
    two line ends into one \\r\\n (every statement below would move up a line)."""
    from torch_lsp.engine import check_source
    from torch_lsp.analysis.recovery import parse_recovering

    # line 2 is blanked to a placeholder `pass`; the `pass` of line 3 stays on line 3
    assert [n.lineno for n in parse_recovering("\r s\npass").tree.body] == [2, 3]
    text = ("import torch.nn as nn\nx = (\r 1\nclass B(nn.Module):\n    def __init__(self):\n"
            "        self.fc = nn.Linear(1, 2)\n        super().__init__()\n")
    from torch_lsp.analysis.incremental import IncrementalParser

    from torch_lsp.engine import analyse, finish
    from torch_lsp.analysis.source import SourceFile

    src = IncrementalParser("b.py").parse(text)
    assert src.problem is not None  # analysed as the server does: the statements that parse
    kept = SourceFile(text=text, path="b.py", tree=src.tree, _lines=src.lines)
    _, diags = analyse(kept, None, None)
    tl104 = [d for d in finish(kept, diags, None) if d.code == "TL104"]
    assert [d.range.start.line for d in tl104] == [5]  # the `self.fc = ...` line (0-based)
    del check_source

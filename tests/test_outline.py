"""The dependency outline (function bodies blanked): same lines, same classes."""
import ast

from torch_lsp.analysis.outline import outline

PADDING = "".join(f"CONST_{i} = {i}\n" for i in range(50))  # outlines start at 50 lines


def _parse(text):
    return ast.parse(text)


def test_bodies_are_blanked_and_lines_kept():
    src = PADDING + (
        "import torch.nn as nn\n"
        "class Net(nn.Module):\n"
        "    size = 3\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(3, 4)\n"
        "\n"
        "    def forward(self, x):  # comment\n"
        "        return self.fc(x)\n"
        "def helper(a,\n"
        "           b):\n"
        '    """doc\n'
        "def not_a_def():\n"
        '    """\n'
        "    return a + b\n"
        "AFTER = 1\n"
    )
    out = outline(src)
    assert out is not None
    assert out.count("\n") == src.count("\n")
    tree = _parse(out)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    assert [type(s).__name__ for s in cls.body] == ["Assign", "FunctionDef", "FunctionDef"]
    assert all(len(f.body) == 1 and isinstance(f.body[0].value, ast.Constant) for f in cls.body[1:])
    after = next(n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "AFTER")
    assert after.lineno == src.splitlines().index("AFTER = 1") + 1
    assert "self.fc" not in out and "not_a_def" not in out


def test_short_files_and_files_without_functions_give_none():
    assert outline("x = 1\n") is None
    assert outline(PADDING) is None


def test_a_docstring_on_the_def_line_falls_back_to_the_whole_file():
    # `def f(): r"""` ends its header inside a string: the outline gives up (None)
    # rather than guessing, and the caller parses the whole file.
    src = PADDING + 'def test_example(): r"""\n    Unit tests:\n    >>> 1 + 1\n    2\n    """\n' + "X = 2\n"
    out = outline(src)
    assert out is None or _parse(out)

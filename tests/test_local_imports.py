"""Imports inside a function bind their names there to what they name, as a
module-level import would (lazy imports are common in model code). Every case was run
under torch 2.13: the comments say what it did."""
from __future__ import annotations

import textwrap

from torch_lsp.engine import check_source


def codes(text: str) -> list[tuple[str, int]]:
    src = textwrap.dedent(text).lstrip()
    result = check_source(src.encode(), "model.py")
    return [(d.code, d.range.start.line + 1) for d in result.diagnostics if d.code.startswith(("TL1", "TL2", "TL3"))]


SEQUENTIAL = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        from collections import OrderedDict as OD
        self.net = nn.Sequential(OD([("fc1", nn.Linear(8, 16)), ("fc2", nn.Linear(16, 4))]))

    def forward(self, x):
        import torch.nn.functional as F
        return F.relu(self.net(x))
"""


def test_names_imported_inside_a_function():
    # Run for real on randn(2, 8): [2, 4].
    assert codes(SEQUENTIAL) == []
    # fc2 reading 32 features: "mat1 and mat2 shapes cannot be multiplied (2x16 and 32x4)".
    assert codes(SEQUENTIAL.replace("nn.Linear(16, 4)", "nn.Linear(32, 4)")) == [("TL201", 9)]
    # F.linear through the local import: the weight [4, 32] against 16 features raises
    # "mat1 and mat2 shapes cannot be multiplied (2x16 and 32x4)".
    bad = SEQUENTIAL.replace("return F.relu(self.net(x))",
                             "return F.linear(torch.zeros(2, 16), torch.zeros(4, 32))")
    assert codes(bad) == [("TL205", 13)]


def test_a_local_import_shadows_a_module_level_name():
    # `F` of the module is a number; the function's import rebinds it to the module.
    text = SEQUENTIAL.replace("import torch\n", "import torch\nF = 3\n", 1)
    assert codes(text) == []
    assert codes(text.replace("nn.Linear(16, 4)", "nn.Linear(32, 4)")) == [("TL201", 10)]

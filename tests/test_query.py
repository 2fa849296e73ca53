"""The queries hovers and inlay hints will use: shapes at a position, layer info."""
import textwrap

from torch_lsp.analysis.context import FileContext
from torch_lsp.analysis.project import Project
from torch_lsp.analysis.query import ShapeQuery
from torch_lsp.analysis.source import SourceFile

CODE = textwrap.dedent("""\
    import torch
    import torch.nn as nn


    class Encoder(nn.Module):
        def __init__(self, in_dim, hidden_dim):
            super().__init__()
            self.fc1 = nn.Linear(in_dim, hidden_dim)

        def forward(self, x):
            h = self.fc1(x)
            return h


    enc = Encoder(32, 64)
    out = enc(torch.randn(4, 32))
""")


def query() -> ShapeQuery:
    src = SourceFile.parse(CODE, "enc.py")
    return ShapeQuery(FileContext(src, Project(use_jedi=False)))


def test_shape_at_a_name_keeps_the_symbols_of_the_class():
    info = query().at(10, 8)  # `h` in forward (0-based line 10)
    assert info is not None and "hidden_dim" in info.text
    assert "self.fc1" in info.origin


def test_shape_at_top_level_uses_the_call_sites_values():
    info = query().at(15, 0)  # `out`
    assert info is not None and info.text == "Tensor[4, 64]"


def test_layer_at_attribute_and_constructor():
    q = query()
    for line, col in ((10, 14), (7, 20)):  # `self.fc1` in forward, `nn.Linear(...)` in __init__
        info = q.layer_at(line, col)
        assert info is not None and info.label == "self.fc1"
        assert info.signature == "Linear(in_dim → hidden_dim)"
        assert info.params == {"weight": "[hidden_dim, in_dim]", "bias": "[hidden_dim]"}
        assert info.expects == "[*, in_dim]"
        assert any(key.startswith("call at line 16") and inp == "[4, 32]" for key, inp, _out, _err in info.calls)


def test_assignment_hints_list_tensor_assignments():
    hints = query().assignment_hints()
    assert any(line == 15 and text == "[4, 64]" for line, _col, text in hints)

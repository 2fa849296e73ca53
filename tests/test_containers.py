"""Subclasses of torch's containers (ModuleDict, ModuleList) filled by their own
``__init__`` and iterated in ``forward`` (torchvision's DenseNet blocks), and lists a
call changes in place when that call may not run. Every case was run under torch
2.13: the comments say what it did."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from torch_lsp.engine import check_source

DENSE = """
import torch
from torch import nn


class Block(nn.ModuleDict):
    def __init__(self, n: int, c: int, g: int):
        super().__init__()
        for i in range(n):
            self.add_module("layer%d" % (i + 1), nn.Conv2d(c + i * g, g, 3, padding=1))

    def forward(self, x):
        features = [x]
        for name, layer in self.items():
            new = layer(torch.cat(features, 1))
            features.append(new)
        return torch.cat(features, 1)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block(3, 16, 8)
        self.norm = nn.BatchNorm2d(40)

    def forward(self, x):
        return self.norm(self.block(x))


def build():
    return Net()(torch.randn(2, 16, 8, 8))
"""


def codes(text: str) -> list[tuple[str, int]]:
    src = textwrap.dedent(text).lstrip()
    result = check_source(src.encode(), "model.py")
    return [(d.code, d.range.start.line + 1) for d in result.diagnostics if d.code.startswith(("TL1", "TL2", "TL3"))]


def test_a_module_dict_subclass_runs_its_modules_in_registration_order():
    # Run for real: [2, 40, 8, 8] (16 + 3 * 8 channels).
    assert codes(DENSE) == []
    # BatchNorm2d(48): "running_mean should contain 40 elements not 48".
    assert codes(DENSE.replace("BatchNorm2d(40)", "BatchNorm2d(48)")) == [("TL202", 23)]
    # The layers one channel wider: "expected input[2, 16, 8, 8] to have 17 channels".
    assert codes(DENSE.replace("nn.Conv2d(c + i * g, g", "nn.Conv2d(c + i * g + 1, g")) == [("TL202", 9)]


@pytest.mark.parametrize("change", [
    # a name not known: any module may be replaced
    ('self.add_module("layer%d" % (i + 1), ', 'self.add_module(NAMES[i], '),
    # modules added in a way not modelled: the list of modules is not known
    ("        for i in range(n):", "        self.update({'extra': nn.Conv2d(1, 1, 1)})\n        for i in range(n):"),
])
def test_a_module_dict_whose_modules_are_not_known_proves_nothing(change):
    text = DENSE.replace("BatchNorm2d(40)", "BatchNorm2d(48)").replace(*change)
    assert change[1] in text
    assert codes(text) == []


def test_a_list_a_possibly_failing_call_appends_to_is_not_known_after_it():
    # torchvision's DenseNet (trimmed) with `conv1` taking twice its input channels. Run
    # for real: build()(randn(2, 3, 64, 64)) raises "expected input[2, 16, 16, 16] to
    # have 32 channels" at conv1 (line 18), densenet121() "... [1, 64, 16, 16] to have 128
    # channels". In densenet121's run `memory_efficient` comes from `**kwargs`: the
    # conv1 of `bn_function` may not run (the checkpointed path runs instead), so what
    # the block's `features.append(...)` appends is not known, and the list after the
    # loop is not either: no second claim about `self.norm` of the transition (it was
    # "expects 256 channels, but receives 64").
    path = Path(__file__).parent / "data" / "densenet_conv1_doubled.py"
    result = check_source(path.read_bytes(), str(path))
    found = [(d.code, d.range.start.line + 1) for d in result.diagnostics if d.code.startswith(("TL1", "TL2", "TL3"))]
    assert found == [("TL202", 18)]


POPPED = """
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 16)
        self.solo = nn.Linear(32, 16)

    def forward(self, x, encoder_states=None, **kwargs):
        x = self.fc(x)
        if encoder_states is None:
            x = self.solo(x)
        return x


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()

    def forward(self, x: torch.Tensor | None = None, **kwargs):
        kwargs.pop("output_attentions", None)
        return self.block(x, **kwargs)


def build():
    return Model()
"""


def test_a_keyword_popped_from_known_keywords():
    # Run for real: build()(randn(2, 16)) raises "mat1 and mat2 shapes cannot be
    # multiplied (2x16 and 32x16)" at `self.solo`: called with x only, kwargs is empty
    # once `output_attentions` is popped, so encoder_states is None.
    assert codes(POPPED) == [("TL201", 9)]
    # Popped on some paths only: the engine forgets what kwargs holds after it (a change
    # on some paths), so it claims nothing about the branch. (torch still raises here:
    # kwargs is empty either way; a miss, not a false alarm.)
    some_paths = POPPED.replace('        kwargs.pop("output_attentions", None)',
                                '        if x.requires_grad:\n            kwargs.pop("output_attentions", None)')
    assert codes(some_paths) == []

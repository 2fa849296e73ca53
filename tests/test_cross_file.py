"""Module classes imported from another file of the project are followed: their
constructor and forward run (on their own file's names and imports), so chains
through them are checked; problems inside them belong to their file. Each case was
run under torch."""
from __future__ import annotations

import textwrap

from torch_lsp.engine import check_source
from torch_lsp.analysis.project import Project


def check(tmp_path, files: dict[str, str], main: str) -> list[tuple[str, int]]:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    path = tmp_path / main
    result = check_source(path.read_bytes(), str(path), project=Project([str(tmp_path)], use_jedi=False))
    return [(d.code, d.range.start.line + 1) for d in result.diagnostics if d.code.startswith(("TL2", "TL3"))]


LAYERS = """
import torch.nn as nn

WIDTH = 20


def make(c_in):
    return nn.Linear(c_in, WIDTH)


class Block(nn.Module):
    def __init__(self, c_in=10):
        super().__init__()
        self.fc = make(c_in)

    def forward(self, x):
        return self.fc(x)
"""

MAIN = """
import torch
import torch.nn as nn
from layers import Block

WIDTH = 999


def make(c_in):
    return nn.Linear(c_in, 7)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block(10)
        self.head = nn.Linear(HEAD_IN, 5)

    def forward(self, x):
        return self.head(self.block(x))


out = Net()(torch.randn(4, 10))
"""


def test_a_chain_through_an_imported_class_is_checked(tmp_path):
    # Block's output is 20 wide (its file's WIDTH and `make`, not this file's)
    assert check(tmp_path, {"layers.py": LAYERS, "main.py": MAIN.replace("HEAD_IN", "30")}, "main.py") == [("TL201", 17)]


def test_a_right_chain_through_an_imported_class_is_quiet(tmp_path):
    assert check(tmp_path, {"layers.py": LAYERS, "main.py": MAIN.replace("HEAD_IN", "20")}, "main.py") == []


def test_a_problem_inside_the_imported_file_is_reported_there_not_here(tmp_path):
    bad = LAYERS.replace("return self.fc(x)", "return nn.Linear(5, 5)(self.fc(x))")
    files = {"layers.py": bad, "main.py": MAIN.replace("HEAD_IN", "20")}
    assert check(tmp_path, files, "main.py") == []


def test_relative_imports_of_the_imported_file_are_its_own(tmp_path):
    files = {
        "pkg/__init__.py": "",
        "pkg/widths.py": "HIDDEN = 20\n",
        "pkg/layers.py": LAYERS.replace("WIDTH = 20", "from .widths import HIDDEN as WIDTH"),
        "pkg/main.py": MAIN.replace("from layers import Block", "from .layers import Block").replace("HEAD_IN", "30"),
    }
    # WIDTH comes from a third file: not known, so nothing is claimed
    assert check(tmp_path, files, "pkg/main.py") == []


def test_a_constant_bound_twice_in_the_imported_file_is_not_known(tmp_path):
    layers = LAYERS.replace("WIDTH = 20\n", "WIDTH = 20\nif True:\n    WIDTH = 30\n")
    files = {"layers.py": layers, "main.py": MAIN.replace("HEAD_IN", "20")}
    assert check(tmp_path, files, "main.py") == []  # 30 at run time: not claimed either way


BLOCKS = """
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, d, hidden):
        super().__init__()
        self.fc1 = nn.Linear(d, hidden)
        self.fc2 = nn.Linear(64, d)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))
"""

USES_BLOCKS = """
import torch
import torch.nn as nn
IMPORT


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = BLOCK(32, HIDDEN)
        self.head = nn.Linear(32, 5)

    def forward(self, x):
        return self.head(self.block(x))


model = Net()
out = model(torch.randn(4, 32))
"""


def _uses(hidden: int, imported: str = "from blocks import Block", spelled: str = "Block") -> str:
    return USES_BLOCKS.replace("IMPORT", imported).replace("BLOCK", spelled).replace("HIDDEN", str(hidden))


def test_a_problem_inside_an_imported_class_caused_by_this_file_is_reported_here(tmp_path):
    """Block(32, 128) makes Block's fc1 give 128 features to its fc2, which takes 64
    (torch: "mat1 and mat2 shapes cannot be multiplied (4x128 and 64x32)"); Block on its
    own is fine for hidden=64. The line to change is here: the diagnostic is at the
    construction, and points at blocks.py where it fails."""
    files = {"blocks.py": BLOCKS, "main.py": _uses(128)}
    assert check(tmp_path, files, "main.py") == [("TL201", 10)]
    path = tmp_path / "main.py"
    d = check_source(path.read_bytes(), str(path), project=Project([str(tmp_path)], use_jedi=False)).diagnostics[0]
    assert "Block(32, 128)" in d.message and "of blocks.py" in d.message and "64" in d.message
    assert any(r.path == str(tmp_path / "blocks.py") and r.range.start.line + 1 == 10 for r in d.related)
    assert d.fixes == ()  # the fix is a size in another file, or an argument here: not one number to set
    assert check(tmp_path, {"blocks.py": BLOCKS, "main.py": _uses(64)}, "main.py") == []
    # the same through `import blocks` / `blocks.Block(...)`
    files = {"blocks.py": BLOCKS, "main.py": _uses(128, "import blocks", "blocks.Block")}
    assert check(tmp_path, files, "main.py") == [("TL201", 10)]


def test_a_chain_through_a_class_of_an_imported_module_is_checked(tmp_path):
    main = MAIN.replace("from layers import Block", "import layers").replace("Block(10)", "layers.Block(10)")
    assert check(tmp_path, {"layers.py": LAYERS, "main.py": main.replace("HEAD_IN", "30")}, "main.py") == [("TL201", 17)]
    assert check(tmp_path, {"layers.py": LAYERS, "main.py": main.replace("HEAD_IN", "20")}, "main.py") == []


def test_imported_snippets_behave_as_claimed_under_torch(tmp_path, monkeypatch):
    import pytest

    pytest.importorskip("torch", reason="torch is an optional extra; the cases are checked against it")
    import runpy
    import sys

    (tmp_path / "blocks.py").write_text(textwrap.dedent(BLOCKS))
    monkeypatch.syspath_prepend(str(tmp_path))
    for hidden, fails in ((128, True), (64, False)):
        (tmp_path / "main.py").write_text(textwrap.dedent(_uses(hidden)))
        sys.modules.pop("blocks", None)
        if fails:
            with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied"):
                runpy.run_path(str(tmp_path / "main.py"))
        else:
            runpy.run_path(str(tmp_path / "main.py"))


HELPERS = """
def make_divisible(v, divisor=8, min_value=None):
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v
"""

USES_HELPER = """
import torch
import torch.nn as nn
from helpers import make_divisible


class Net(nn.Module):
    def __init__(self, width=0.5):
        super().__init__()
        c = make_divisible(64 * width)
        self.conv = nn.Conv2d(3, c, 3)
        self.bn = nn.BatchNorm2d(c)
        self.fc = nn.Linear(64, 5)

    def forward(self, x):
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(self.bn(self.conv(x)), 1), 1)
        return self.fc(x)


def build():
    return Net(width=0.5)
"""


def test_a_helper_function_of_another_file_is_run_with_the_callers_values(tmp_path):
    # Run for real: build()(torch.randn(2, 3, 16, 16)) raises "mat1 and mat2 shapes
    # cannot be multiplied (2x32 and 64x5)": make_divisible(32.0) is 32. With width=1.0
    # (64 channels) it runs.
    found = check(tmp_path, {"helpers.py": HELPERS, "main.py": USES_HELPER}, "main.py")
    assert [c for c, _ in found] == ["TL203"]
    assert check(tmp_path, {"helpers.py": HELPERS, "main.py": USES_HELPER.replace("width=0.5)\n", "width=1.0)\n")},
                 "main.py") == []


FACTORIES = """
import collections.abc
import functools
import types
from itertools import repeat


def _ntuple(n):
    def parse(x):
        if isinstance(x, collections.abc.Iterable) and not isinstance(x, str):
            return tuple(x)
        return tuple(repeat(x, n))
    return parse


to_ntuple = _ntuple


def get_norm_layer(norm_layer):
    if norm_layer is None:
        return None
    assert isinstance(norm_layer, (type, str, types.FunctionType, functools.partial))
    norm_kwargs = {}
    if isinstance(norm_layer, functools.partial):
        norm_kwargs.update(norm_layer.keywords)
        norm_layer = norm_layer.func
    if norm_kwargs:
        norm_layer = functools.partial(norm_layer, **norm_kwargs)
    return norm_layer
"""

USES_FACTORIES = """
import torch
import torch.nn as nn
from helpers import get_norm_layer, to_ntuple


class Block(nn.Module):
    def __init__(self, cin, cout, norm_layer):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm = norm_layer(cout)

    def forward(self, x):
        return self.norm(self.conv(x))


class Net(nn.Module):
    def __init__(self, block=Block, widths=(8, 16), norm_layer=nn.BatchNorm2d):
        super().__init__()
        norm_layer = get_norm_layer(norm_layer)
        blocks = to_ntuple(len(widths))(block)
        self.stem = nn.Conv2d(3, widths[0], 3)
        self.b1 = blocks[0](widths[0], widths[1], norm_layer)
        self.b2 = blocks[1](widths[0], widths[1], norm_layer)

    def forward(self, x):
        return self.b2(self.b1(self.stem(x)))


def build():
    return Net()
"""


def test_timm_style_factories_of_another_file(tmp_path):
    # timm's get_norm_layer (isinstance of a class against type, str, partial) and
    # to_ntuple (an alias of a function returning a nested function that reads `n`). Run
    # for real: build()(torch.randn(2, 3, 16, 16)) raises "expected input[2, 16, 14, 14]
    # to have 8 channels, but got 16 channels instead"; with widths[1] into b2 it runs.
    files = {"helpers.py": FACTORIES}
    assert [c for c, _ in check(tmp_path, {**files, "main.py": USES_FACTORIES}, "main.py")] == ["TL202"]
    fixed = USES_FACTORIES.replace("blocks[1](widths[0], widths[1]", "blocks[1](widths[1], widths[1]")
    assert check(tmp_path, {**files, "main.py": fixed}, "main.py") == []


MLP_BASE = """
import torch.nn as nn


class MLP(nn.Sequential):
    def __init__(self, in_channels, hidden_channels, activation_layer=nn.ReLU):
        layers = []
        in_dim = in_channels
        for hidden_dim in hidden_channels[:-1]:
            layers.append(nn.Linear(in_dim, hidden_dim))
            layers.append(activation_layer())
            in_dim = hidden_dim
        layers.append(nn.Linear(in_dim, hidden_channels[-1]))
        super().__init__(*layers)
"""

MLP_BLOCK = """
import torch
import torch.nn as nn
from mlp import MLP


class MLPBlock(MLP):
    def __init__(self, in_dim, mlp_dim):
        super().__init__(in_dim, [mlp_dim, in_dim], activation_layer=nn.GELU)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln = nn.LayerNorm(32)
        self.mlp = MLPBlock(32, 64)
        self.head = nn.Linear(64, 5)

    def forward(self, x):
        return self.head(self.mlp(self.ln(x)))
"""


def test_a_method_inherited_from_a_small_file_runs(tmp_path):
    # torchvision's MLPBlock(MLP): the base's __init__ (another file, 14 lines) builds the
    # layers and hands them to nn.Sequential. Run for real: Net()(torch.randn(2, 32))
    # raises "mat1 and mat2 shapes cannot be multiplied (2x32 and 64x5)"; with
    # nn.Linear(32, 5) it runs.
    files = {"mlp.py": MLP_BASE}
    assert [c for c, _ in check(tmp_path, {**files, "main.py": MLP_BLOCK}, "main.py")] == ["TL201"]
    fixed = MLP_BLOCK.replace("nn.Linear(64, 5)", "nn.Linear(32, 5)")
    assert check(tmp_path, {**files, "main.py": fixed}, "main.py") == []


MLP = """
import torch.nn as nn


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.fc1(x))
"""

MIXER = """
import torch
import torch.nn as nn
from mlp import Mlp


class Block(nn.Module):
    def __init__(self, dim=32, mlp_layer=Mlp):
        super().__init__()
        self.mlp = mlp_layer(dim, dim * 4)
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        return self.head(self.mlp(x))
"""


def test_an_imported_class_used_as_a_value(tmp_path):
    # `mlp_layer=Mlp`, the class of another file, called later: followed as a call of
    # `Mlp` is. Run for real on randn(2, 32): [2, 10]; with the head reading 64 features:
    # "mat1 and mat2 shapes cannot be multiplied (2x32 and 64x10)".
    assert check(tmp_path, {"mlp.py": MLP, "mixer.py": MIXER}, "mixer.py") == []
    bad = MIXER.replace("nn.Linear(32, 10)", "nn.Linear(64, 10)")
    assert check(tmp_path, {"mlp.py": MLP, "mixer.py": bad}, "mixer.py") == [("TL201", 11)]


NTUPLE_HELPERS = """
import collections.abc
from itertools import repeat


def _ntuple(n):
    def parse(x):
        if isinstance(x, collections.abc.Iterable) and not isinstance(x, str):
            return tuple(x)
        return tuple(repeat(x, n))
    return parse


to_2tuple = _ntuple(2)
"""

TOKENS = """
import torch
import torch.nn as nn
from helpers import to_2tuple


class Mixer(nn.Module):
    def __init__(self, dim=32, ratio=(0.5, 4.0)):
        super().__init__()
        tokens_dim, channels_dim = [int(r * dim) for r in to_2tuple(ratio)]
        self.tokens = nn.Linear(dim, tokens_dim)
        self.channels = nn.Linear(tokens_dim, channels_dim)

    def forward(self, x):
        return self.channels(self.tokens(x))
"""


def test_a_function_made_by_a_factory_of_another_file(tmp_path):
    # `to_2tuple = _ntuple(2)` (timm's helpers): the nested `parse` it returns is followed
    # with its closure. Run for real on randn(2, 32): [2, 128]; with `channels` reading
    # 32 features: "mat1 and mat2 shapes cannot be multiplied (2x16 and 32x128)".
    files = {"helpers.py": NTUPLE_HELPERS, "tokens.py": TOKENS}
    assert check(tmp_path, files, "tokens.py") == []
    bad = {**files, "tokens.py": TOKENS.replace("nn.Linear(tokens_dim, channels_dim)", "nn.Linear(dim, channels_dim)")}
    assert check(tmp_path, bad, "tokens.py") == [("TL201", 12)]


STEM_INTO_BLOCK = """
import torch
import torch.nn as nn
from blocks import Block


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(8, 20)
        self.block = Block()

    def forward(self, x):
        return self.block(self.stem(x))


def main():
    Net()(torch.randn(2, 8))
"""

BLOCK_16 = """
import torch.nn as nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 32)

    def forward(self, x):
        return self.fc(x)
"""


def test_related_locations_of_a_problem_in_another_file_name_their_own_file(tmp_path):
    """Block's fc (16 features, blocks.py line 7) receives this file's stem (20): torch raises
    "mat1 and mat2 shapes cannot be multiplied (2x20 and 16x32)". The related places are in
    both files; the stem and the call were said to be at lines 9 and 17 of blocks.py."""
    files = {"blocks.py": BLOCK_16, "main.py": STEM_INTO_BLOCK}
    assert check(tmp_path, files, "main.py") == [("TL201", 11)]
    path = tmp_path / "main.py"
    d = check_source(path.read_bytes(), str(path), project=Project([str(tmp_path)], use_jedi=False)).diagnostics[0]
    blocks = str(tmp_path / "blocks.py")
    lines = {"main.py": textwrap.dedent(STEM_INTO_BLOCK).splitlines(), "blocks.py": textwrap.dedent(BLOCK_16).splitlines()}
    where = [("blocks.py" if r.path == blocks else "main.py" if r.path is None else r.path,
              lines["blocks.py" if r.path == blocks else "main.py"][r.range.start.line].strip(), r.message) for r in d.related]
    assert where == [
        ("blocks.py", "self.fc = nn.Linear(16, 32)", "TL201: it fails here"),
        ("main.py", "self.stem = nn.Linear(8, 20)", "`self.stem` produces [2, 20]"),
        ("blocks.py", "return self.fc(x)", "the tensor reaches the layer here"),
        ("main.py", "Net()(torch.randn(2, 8))", "the input shape comes from this call"),
    ], where


STAR_CHAIN = {
    "pkg/__init__.py": "",
    "pkg/api.py": "from .middle import *\n",
    "pkg/middle.py": "from .layers import *\n",
    "pkg/layers.py": """
        import torch.nn as nn


        class Base(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(8, 4)

            def forward(self, x):
                return self.fc(x)
    """,
}

USER = """
import torch
import torch.nn as nn
from pkg.api import Base, Other


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Base()
        self.head = nn.Linear(7, 5)

    def forward(self, x):
        return self.head(self.block(x))


class Unknown(Other):  # a name the chain does not define: every star import is searched
    pass


out = Net()(torch.randn(2, 8))
"""


def test_a_batch_reads_a_dependency_once_and_an_editor_sees_it_change(tmp_path, monkeypatch):
    """A batch check (``files_fixed``: the tree does not change while it runs) finds a
    class through a chain of star imports in every file that uses it, and stats the
    files of the chain once, not once per look-up per file; without ``files_fixed`` (an
    editor) a dependency changed on disk is read again once the change is reported. (Checked under torch:
    nn.Linear(8, 4) then nn.Linear(7, 5) on a [2, 8] input raises; with nn.Linear(8, 7)
    first it does not.)"""
    import os

    for name, text in STAR_CHAIN.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    users = []
    for i in range(6):
        path = tmp_path / f"user{i}.py"
        path.write_text(USER)
        users.append(path)
    layers = str(tmp_path / "pkg" / "layers.py")
    stats: list[str] = []
    real_stat = os.stat

    def counting_stat(p, *a, **k):
        if os.fspath(p) == layers:
            stats.append(layers)
        return real_stat(p, *a, **k)

    monkeypatch.setattr(os, "stat", counting_stat)
    project = Project([str(tmp_path)], use_jedi=False)
    project.files_fixed = True
    first = None
    for path in users:
        result = check_source(path.read_bytes(), str(path), project=project)
        assert [(d.code, d.range.start.line + 1) for d in result.diagnostics if d.code.startswith("TL2")] == [("TL201", 11)]
        first = len(stats) if first is None else first
    assert 0 < first and len(stats) == first  # the first file's look-ups read it; the other five's do not

    editor = Project([str(tmp_path)], use_jedi=False)
    user = users[0]
    assert [d.code for d in check_source(user.read_bytes(), str(user), project=editor).diagnostics if d.code.startswith("TL2")] == ["TL201"]
    (tmp_path / "pkg" / "layers.py").write_text(textwrap.dedent(STAR_CHAIN["pkg/layers.py"]).replace("Linear(8, 4)", "Linear(8, 7)  # wider"))
    editor.file_system_changed([layers])  # (what the editor's file watcher reports)
    assert [d.code for d in check_source(user.read_bytes(), str(user), project=editor).diagnostics if d.code.startswith("TL2")] == []

"""The memo of plain function calls (torch_lsp/analysis/interp_memo.py) only saves work:
every finding, message, fix and hover shape is the same with it and without it.

Checked on programs written to break a careless memo (a helper reading a global that
changes, appending to a module-level list, returning a tensor its callers rename in
place, recursing, reading its caller's tensor), on the repository's examples, on
generated programs of the differential and control-flow fuzzers, and on torch's own
``nn/modules`` when torch is installed. And it must save work where it is meant to: a
helper called again with the same values is not run again."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from torch_lsp import engine
from torch_lsp.analysis import interp_memo
from torch_lsp.analysis.context import FileContext
from torch_lsp.analysis.project import Project
from torch_lsp.analysis.source import SourceFile

ROOT = Path(__file__).resolve().parent.parent


def _diagnostics(text: str, path: str) -> list:
    result = engine.check_source(text, path, project=Project.default())
    return [(d.code, d.range, d.message, d.related, d.fixes, d.severity) for d in result.diagnostics]


def _hovers(text: str, path: str) -> dict:
    src = SourceFile.parse(text, path)
    if src.tree is None:
        return {}
    ctx = FileContext(src, Project.default(), record_shapes=True)
    index = ctx.shapes.shape_index()
    out = {}
    for node, value in index.by_node.values():
        out[(node.lineno, node.col_offset, type(node).__name__)] = _shown(value)
    ctx.release()
    return out


def _shown(value) -> str:
    """A recorded value as a hover shows it (no object addresses)."""
    layer = getattr(value, "layer", None)
    if layer is not None:
        return f"{layer.cls}{sorted((k, str(v)) for k, v in layer.params.items())}"
    if hasattr(value, "shape"):
        return str(value.shape)
    return type(value).__name__


def _both(text: str, path: str = "memo_case.py") -> tuple:
    saved = interp_memo.ENABLED
    try:
        interp_memo.ENABLED = True
        with_memo = (_diagnostics(text, path), _hovers(text, path))
        interp_memo.ENABLED = False
        without = (_diagnostics(text, path), _hovers(text, path))
    finally:
        interp_memo.ENABLED = saved
    return with_memo, without


def assert_same(text: str, path: str = "memo_case.py") -> list:
    with_memo, without = _both(text, path)
    assert with_memo[0] == without[0], f"diagnostics differ with the memo in {path}"
    assert with_memo[1] == without[1], f"hover shapes differ with the memo in {path}"
    return with_memo[0]


HEADER = "import torch\nimport torch.nn as nn\n"

CASES = {
    # A helper reads a global another function rebinds between the calls.
    "global_rebound": HEADER + """
SIZE = 10

def width(n):
    return SIZE * n

def grow():
    global SIZE
    SIZE = 20

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(width(1), 5)
        grow()
        self.b = nn.Linear(width(1), 5)

    def forward(self, x):
        return self.b(x)

Net()(torch.randn(2, 10))
""",
    # A helper appends to a module-level list: the second call is not the first.
    "module_list": HEADER + """
SEEN = []

def note(n):
    SEEN.append(n)
    return len(SEEN)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, note(3))
        self.b = nn.Linear(note(3), 2)

    def forward(self, x):
        return self.b(self.a(x))

Net()(torch.randn(2, 4))
""",
    # A helper makes a tensor; each caller names its sizes in place.
    "tensor_result": HEADER + """
def make(n):
    return torch.zeros(n, 8)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        t = make(4)
        b, c = t.shape
        u = make(4)
        y = self.fc(u)
        return y.view(b, 3) + x.view(c, -1)[:4, :3]

Net()(torch.randn(8, 4))
""",
    # A helper that recurses (timm's get_padding), called from two depths.
    "recursion": HEADER + """
def pad(k, s=1):
    if isinstance(k, (tuple, list)):
        return tuple(pad(x, s) for x in k)
    return ((s - 1) + (k - 1)) // 2

class Block(nn.Module):
    def __init__(self, c, k):
        super().__init__()
        self.conv = nn.Conv2d(c, c, k, padding=pad(k))

    def forward(self, x):
        return self.conv(x)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Block(3, pad(3) * 2 + 1)
        self.b = Block(4, 3)

    def forward(self, x):
        return self.b(self.a(x))

Net()(torch.randn(1, 3, 8, 8))
""",
    # A helper handed the caller's tensor, and one returning a layer (an object).
    "objects": HEADER + """
def first(x, n):
    return x[:, :n]

def act(name):
    return nn.GELU() if name == "gelu" else nn.ReLU()

def lin(a, b):
    return nn.Linear(a, b)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = lin(6, 4)
        self.b = lin(6, 4)
        self.g = act("gelu")
        self.h = act("gelu")

    def forward(self, x):
        y = first(x, 6)
        z = first(x, 6)
        return self.g(self.a(y)) + self.h(self.b(z)) + self.a(x)

Net()(torch.randn(2, 9))
""",
    # The same helper called where a finding is reported and where it is not.
    "finding_inside": HEADER + """
def bad(n):
    return torch.randn(2, n) @ torch.randn(3, 4)

def fine(n):
    return torch.randn(2, n)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        a = fine(4)
        b = fine(4)
        try:
            bad(3)
        except RuntimeError:
            pass
        bad(3)
        return self.fc(a + b)

Net()(torch.randn(2, 4))
""",
    # A helper names the sizes of the caller's tensor in place (`b, c = x.shape`): run
    # again for another tensor, it names that one's (a memo keyed by shapes alone would
    # leave `y` unnamed).
    "renames_argument": HEADER + """
def split(x, k):
    b, c = x.shape
    return k

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 3)

    def forward(self, x, y):
        split(x, 1)
        split(y, 1)
        return self.fc(x.view(-1, 8)) + y
""",
    # Helpers that change a module-level instance or dict on each call.
    "instance_counter": HEADER + """
class Cfg:
    def __init__(self):
        self.w = 4

CFG = Cfg()

def grow(k):
    CFG.w = CFG.w + k
    return CFG.w

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(grow(2), 8)
        self.b = nn.Linear(grow(2), 8)

    def forward(self, x):
        return self.b(x)

Net()(torch.randn(2, 8))
""",
    "dict_counter": HEADER + """
STATE = {"w": 4}

def grow(k):
    STATE["w"] = STATE["w"] + k
    return STATE["w"]

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(grow(2), 8)
        self.b = nn.Linear(grow(2), 8)

    def forward(self, x):
        return self.b(x)

Net()(torch.randn(2, 8))
""",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_memo_changes_nothing_on_programs_written_to_break_it(name):
    assert_same(CASES[name], f"{name}.py")


def test_the_module_list_case_still_finds_the_mismatch():
    # the second `note(3)` is 2 (the list grew): Linear(4, 1) then Linear(2, 2)
    diags = assert_same(CASES["module_list"])
    assert not diags or all(d[0] != "TL201" or "1" in d[2] for d in diags)


def test_examples_are_unchanged():
    for path in sorted((ROOT / "examples").glob("*.py")):
        assert_same(path.read_text(), str(path))


def test_generated_programs_are_unchanged():
    import differential_gen
    import flow_fuzz_gen

    rng = random.Random(7)
    for _ in range(60):
        prog = differential_gen.generate(differential_gen.RandomChooser(random.Random(rng.random())))
        assert_same(prog.source, "diff_prog.py")
    for i in range(60):
        assert_same(flow_fuzz_gen.program_for(3, i).source, "flow_prog.py")


def test_torch_nn_modules_are_unchanged():
    torch = pytest.importorskip("torch", reason="torch is an optional extra: its nn/modules are the real code checked here")
    folder = Path(torch.__file__).parent / "nn" / "modules"
    for path in sorted(folder.glob("*.py")):
        assert_same(path.read_text(encoding="utf-8"), str(path))


def test_a_helper_called_again_with_the_same_values_is_not_run_again():
    text = HEADER + """
def widen(c, mult):
    out = c
    for _ in range(3):
        out = out * mult
    return out // 4

class Net(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.a = nn.Linear(c, widen(8, 2))
        self.b = nn.Linear(widen(8, 2), widen(8, 2))
        self.c = nn.Linear(widen(8, 2), 3)

    def forward(self, x):
        return self.c(self.b(self.a(x)))
"""
    from torch_lsp.analysis.interpreter import Interpreter

    src = SourceFile.parse(text, "m.py")
    runs: list[int] = []
    original = Interpreter._run_function_in_file

    def counting(self, fn, *args, **kwargs):
        if getattr(fn, "name", None) == "widen":
            runs[-1] += 1
        return original(self, fn, *args, **kwargs)

    saved = interp_memo.ENABLED
    try:
        Interpreter._run_function_in_file = counting  # type: ignore[method-assign]
        for enabled in (True, False):
            interp_memo.ENABLED = enabled
            runs.append(0)
            ctx = FileContext(src, Project.default())
            ctx.shapes
            ctx.release()
    finally:
        interp_memo.ENABLED = saved
        Interpreter._run_function_in_file = original  # type: ignore[method-assign]
    assert runs == [1, 4]  # four calls with the same values: run once with the memo

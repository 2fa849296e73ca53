"""Control flow as Python runs it: `break`, `continue`, `return` and `raise` leave
their loop or branch, the states that reach the code after it are joined, `else` of a
loop runs only without a `break`, `match` takes the first case that matches, an error
caught by a handler is not reported, and a statement without a model makes what it
stores unknown.

Each snippet states what torch does with it (`RUNS`, or the text of the error it
raises), and `test_snippets_behave_as_claimed_under_torch` runs them all: a snippet
that runs must get no TL2xx/TL3xx diagnostic; one that fails must get the listed one.
"""
import textwrap

import pytest

from conftest import HEADER, codes

RUNS = None

CASES: dict[str, tuple[str, str | None, list]] = {}


def case(name: str, raises: str | None, expect: list, code: str) -> None:
    CASES[name] = (code, raises, expect)


BLOCKS = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(10, 20), nn.Linear(20, 20), nn.Linear(30, 5)])
"""

# ----------------------------------------------------------------------------- loops
case("break_leaves_the_loop", RUNS, [], BLOCKS + """
    def forward(self, x):
        for block in self.blocks:
            if x.shape[-1] == 20:
                break
            x = block(x)
        return x

model = Net()
out = model(torch.randn(4, 10))
""")

case("break_on_unknown_condition_joins", RUNS, [], BLOCKS + """
    def forward(self, x, stop: bool):
        for i, block in enumerate(self.blocks):
            if stop and i == 1:
                break
            x = block(x)
            if x.shape[-1] == 20 and i == 1:
                break
        return x

model = Net()
out = model(torch.randn(4, 10), False)
""")

case("continue_skips_the_rest_of_the_body", RUNS, [], BLOCKS + """
    def forward(self, x):
        for block in self.blocks:
            if x.shape[-1] == 20 and block.in_features == 30:
                continue
            x = block(x)
        return x

model = Net()
out = model(torch.randn(4, 10))
""")

case("for_else_runs_without_break", "mat1 and mat2 shapes cannot be multiplied", [("TL201", 5)], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(10, 20), nn.Linear(20, 20)])
        self.head = nn.Linear(30, 5)

    def forward(self, x):
        for block in self.blocks:
            if x.shape[-1] == 5:
                break
            x = block(x)
        else:
            x = torch.relu(x)
        return self.head(x)

model = Net()
out = model(torch.randn(4, 10))
""")

case("for_else_skipped_after_break", RUNS, [], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(10, 20), nn.Linear(20, 30)])
        self.bad = nn.Linear(7, 5)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
            if x.shape[-1] == 20:
                break
        else:
            x = self.bad(x)
        return x

model = Net()
out = model(torch.randn(4, 10))
""")

case("while_with_a_counter_unrolls", RUNS, [], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(10, 20), nn.Linear(20, 30), nn.Linear(30, 5)])

    def forward(self, x):
        i = 0
        while i < len(self.blocks) - 1:
            x = self.blocks[i](x)
            i += 1
        return x

model = Net()
out = model(torch.randn(4, 10))
""")

case("while_true_with_break", RUNS, [], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(10, 20)
        self.head = nn.Linear(20, 5)

    def forward(self, x, n: int):
        steps = 0
        while True:
            steps += 1
            if steps > n:
                break
        return self.head(self.proj(x))

model = Net()
out = model(torch.randn(4, 10), 3)
""")

case("while_else_after_a_counter", "mat1 and mat2 shapes cannot be multiplied", [("TL201", 5)], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(10, 20)
        self.head = nn.Linear(30, 5)

    def forward(self, x):
        i = 0
        while i < 2:
            x = torch.relu(x)
            i += 1
        else:
            x = self.proj(x)
        return self.head(x)

model = Net()
out = model(torch.randn(4, 10))
""")

case("loop_whose_every_path_returns", RUNS, [], BLOCKS + """
    def forward(self, x):
        for block in self.blocks:
            return block(x)
        return self.blocks[2](x)

model = Net()
out = model(torch.randn(4, 10))
""")

# ----------------------------------------------------------------------------- branches
case("early_return_in_a_branch", RUNS, [], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(10, 20)
        self.bad = nn.Linear(30, 5)

    def forward(self, x):
        x = self.proj(x)
        if x.shape[-1] == 20:
            return x
        return self.bad(x)

model = Net()
out = model(torch.randn(4, 10))
""")

case("raise_in_a_taken_branch_ends_the_path", "bad width", [], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(10, 20)
        self.bad = nn.Linear(30, 5)

    def forward(self, x):
        x = self.proj(x)
        if x.shape[-1] != 30:
            raise ValueError("bad width")
        return self.bad(x)

model = Net()
out = model(torch.randn(4, 10))
""")

case("error_in_a_branch_of_an_unknown_condition_is_reported", "mat1 and mat2 shapes cannot be multiplied", [("TL201", 5)], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(10, 20)
        self.bad = nn.Linear(30, 5)

    def forward(self, x, flag: bool):
        x = self.proj(x)
        if flag:
            x = torch.relu(x)
            x = self.bad(x)
        return x

model = Net()
out = model(torch.randn(4, 10), True)
""")

case("assert_that_fails_ends_the_path", "AssertionError", [], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(10, 20)
        self.bad = nn.Linear(30, 5)

    def forward(self, x):
        x = self.proj(x)
        assert x.shape[-1] == 30
        return self.bad(x)

model = Net()
out = model(torch.randn(4, 10))
""")

case("and_or_short_circuit", RUNS, [], """
class Net(nn.Module):
    def __init__(self, hidden=None):
        super().__init__()
        hidden = hidden or 20
        self.proj = nn.Linear(10, hidden)
        self.head = nn.Linear(20, 5)

    def forward(self, x):
        return self.head(self.proj(x))

model = Net()
out = model(torch.randn(4, 10))
""")

# ----------------------------------------------------------------------------- match
case("match_on_an_int", RUNS, [], """
class Net(nn.Module):
    def __init__(self, kind: int = 2):
        super().__init__()
        match kind:
            case 1:
                self.proj = nn.Linear(10, 30)
            case 2:
                self.proj = nn.Linear(10, 20)
            case _:
                self.proj = nn.Identity()
        self.head = nn.Linear(20, 5)

    def forward(self, x):
        return self.head(self.proj(x))

model = Net(2)
out = model(torch.randn(4, 10))
""")

case("match_on_a_shape", RUNS, [], BLOCKS + """
    def forward(self, x):
        for block in self.blocks:
            match x.shape:
                case (b, 20) if block.in_features == 30:
                    break
                case (b, d):
                    x = block(x)
        return x

model = Net()
out = model(torch.randn(4, 10))
""")

case("match_on_a_string_wrong_case_taken", "mat1 and mat2 shapes cannot be multiplied", [("TL201", 6)], """
class Net(nn.Module):
    def __init__(self, mode: str = "wide"):
        super().__init__()
        self.mode = mode
        self.proj = nn.Linear(10, 20)
        self.wide = nn.Linear(30, 5)
        self.narrow = nn.Linear(20, 5)

    def forward(self, x):
        x = self.proj(x)
        match self.mode:
            case "narrow":
                return self.narrow(x)
            case "wide" | "wider":
                x = torch.relu(x)
                return self.wide(x)
        return x

model = Net("wide")
out = model(torch.randn(4, 10))
""")

case("match_capture_is_bound", RUNS, [], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(10, 20)

    def forward(self, x):
        match x.shape:
            case (b, 10):
                y = x.view(b, 10)
            case _:
                y = x.flatten(1)
        return self.proj(y)

model = Net()
out = model(torch.randn(4, 10))
""")

# ----------------------------------------------------------------------------- try
case("error_caught_by_except_runtime_error", RUNS, [], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fast = nn.Linear(30, 5)
        self.slow = nn.Linear(10, 5)

    def forward(self, x):
        try:
            y = self.fast(x)
        except RuntimeError:
            y = self.slow(x)
        return y

model = Net()
out = model(torch.randn(4, 10))
""")

case("error_caught_by_bare_except_in_the_caller", RUNS, [], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(30, 5)

    def forward(self, x):
        return self.fc(x)

model = Net()
try:
    out = model(torch.randn(4, 10))
except Exception:
    out = None
""")

case("error_not_caught_by_except_key_error", "mat1 and mat2 shapes cannot be multiplied", [("TL204", 14)], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(30, 5)

    def forward(self, x):
        try:
            y = self.fc(x)
        except KeyError:
            y = x
        return y

model = Net()
out = model(torch.randn(4, 10))
""")

case("handler_starts_from_the_state_before_the_error", RUNS, [], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(10, 20)
        self.bad = nn.Linear(30, 5)
        self.head = nn.Linear(20, 5)

    def forward(self, x):
        try:
            x = self.proj(x)
            x = self.bad(x)
        except RuntimeError:
            return self.head(x)
        return x

model = Net()
out = model(torch.randn(4, 10))
""")

case("try_else_and_finally", "mat1 and mat2 shapes cannot be multiplied", [("TL201", 5)], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(10, 20)
        self.head = nn.Linear(30, 5)

    def forward(self, x):
        try:
            x = self.proj(x)
        except KeyError:
            x = None
        else:
            x = torch.relu(x)
        finally:
            y = self.head(x)
        return y

model = Net()
out = model(torch.randn(4, 10))
""")

case("except_star", RUNS, [], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(30, 5)

    def forward(self, x):
        y = x
        try:
            y = self.fc(x)
        except* RuntimeError:
            pass
        return y

model = Net()
out = model(torch.randn(4, 10))
""")

case("contextlib_suppress", RUNS, [], """
import contextlib

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(30, 5)

    def forward(self, x):
        y = x
        with contextlib.suppress(RuntimeError):
            y = self.fc(x)
        return y

model = Net()
out = model(torch.randn(4, 10))
""")

# ----------------------------------------------------------------------------- names
case("with_no_grad", "mat1 and mat2 shapes cannot be multiplied", [("TL201", 5)], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(10, 20)
        self.head = nn.Linear(30, 5)

    def forward(self, x):
        with torch.no_grad():
            x = self.proj(x)
        return self.head(x)

model = Net()
out = model(torch.randn(4, 10))
""")

case("del_forgets_the_name", RUNS, [], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(10, 20)
        self.head = nn.Linear(20, 5)

    def forward(self, x):
        h = self.proj(x)
        del x
        return self.head(h)

model = Net()
out = model(torch.randn(4, 10))
""")

case("global_is_not_taken_as_known", RUNS, [], """
WIDTH = 30

def configure(width):
    global WIDTH
    WIDTH = width

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(10, 20)
        self.head = nn.Linear(WIDTH, 5)

    def forward(self, x):
        return self.head(self.proj(x))

configure(20)
model = Net()
out = model(torch.randn(4, 10))
""")

case("nonlocal_and_closures", RUNS, [], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(10, 20)
        self.head = nn.Linear(20, 5)

    def forward(self, x):
        width = 10

        def grow(t):
            nonlocal width
            width = 20
            return self.proj(t)

        y = grow(x)
        z = y.view(-1, width)
        scale = lambda t: t * 2
        return self.head(scale(z))

model = Net()
out = model(torch.randn(4, 10))
""")

case("closure_reads_the_enclosing_function", "shape '[-1, 7]' is invalid", [("TL207", 10)], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(10, 20)

    def forward(self, x):
        width = 7

        def reshape(t):
            return t.view(-1, width)

        return reshape(self.proj(x))

model = Net()
out = model(torch.randn(4, 10))
""")

case("walrus_binds", RUNS, [], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(10, 20)

    def forward(self, x):
        if (n := x.shape[-1]) == 10:
            x = self.proj(x)
        return x.view(-1, 20)

model = Net()
out = model(torch.randn(4, 10))
""")

case("generator_helper", RUNS, [], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(10, 20), nn.Linear(20, 5)])

    def stages(self):
        for b in self.blocks:
            yield b

    def forward(self, x):
        for stage in self.stages():
            x = stage(x)
        return x

model = Net()
out = model(torch.randn(4, 10))
""")

case("async_helper_never_awaited", RUNS, [], """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(10, 20)

    async def later(self, x):
        return self.proj(x.view(-1, 3))

    def forward(self, x):
        return self.proj(x)

model = Net()
out = model(torch.randn(4, 10))
""")

case("init_that_only_raises_makes_no_instance", "deprecated", [], """
class Old(nn.Module):
    def __init__(self):
        raise RuntimeError("deprecated")

    def forward(self, x):
        return x.view(-1, 7)

model = Old()
out = model(torch.randn(4, 10))
""")


# ----------------------------------------------------------------------------- narrowing
# A test the path passes only one way tells the code after it a size: past
# `if c != self.channels: raise`, c is self.channels. The input's sizes come from a
# string here, so the engine knows only what the guards say.
PATCH = """
class Patch(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.channels = channels
        self.proj = nn.Conv2d(channels + 1, 8, 3)
"""
UNKNOWN_INPUT = """
model = Patch(3)
out = model(torch.randn(*[int(s) for s in "2 3 8 8".split()]))
"""

case("raise_guard_fixes_the_size_after_it", "expected input[2, 3, 8, 8] to have 4 channels", [("TL202", 5)], PATCH + """
    def forward(self, x):
        b, c, h, w = x.shape
        if c != self.channels:
            raise ValueError("wrong channel count")
        return self.proj(x)
""" + UNKNOWN_INPUT)

case("assert_fixes_the_size_after_it", "expected input[2, 3, 8, 8] to have 4 channels", [("TL202", 5)], PATCH + """
    def forward(self, x):
        b, c, h, w = x.shape
        assert x.shape[1] == self.channels, "wrong channel count"
        return self.proj(x)
""" + UNKNOWN_INPUT)

case("else_raise_fixes_the_size_in_the_arm_that_goes_on", "expected input[2, 3, 8, 8] to have 4 channels", [("TL202", 5)], PATCH + """
    def forward(self, x):
        n, c, h, w = x.shape
        if not (x.size(1) != self.channels or x.dim() != 4):
            return self.proj(x)
        else:
            raise ValueError("wrong input")
""" + UNKNOWN_INPUT)

case("guard_in_a_branch_not_taken_fixes_nothing", RUNS, [], """
import sys

class Patch(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        b, c, h, w = x.shape
        if len(sys.argv) > 99:
            if c != 4:
                raise ValueError("four channels only")
        return self.proj(x)

model = Patch()
out = model(torch.randn(*[int(s) for s in "2 3 8 8".split()]))
""")

case("guard_that_does_not_end_the_path_fixes_nothing", RUNS, [], PATCH + """
        self.adapt = nn.Conv2d(channels, channels + 1, 1)

    def forward(self, x):
        b, c, h, w = x.shape
        if c != self.channels + 1:
            x = self.adapt(x)
        return self.proj(x)
""" + UNKNOWN_INPUT)


def _only_shapes(found):
    return [c for c in found if c[0].startswith(("TL2", "TL3"))]


@pytest.mark.parametrize("name", sorted(CASES))
def test_engine(name):
    code, raises, expect = CASES[name]
    assert _only_shapes(codes(code)) == expect


@pytest.mark.parametrize("name", sorted(CASES))
def test_snippets_behave_as_claimed_under_torch(name):
    torch = pytest.importorskip("torch", reason="torch is an optional extra; these snippets are checked against it")
    code, raises, _ = CASES[name]
    text = HEADER + textwrap.dedent(code).lstrip("\n")
    g = {"__name__": "__main__"}
    if raises is None:
        exec(compile(text, name, "exec"), g)
        return
    with pytest.raises(BaseException) as info:
        exec(compile(text, name, "exec"), g)
    assert raises in f"{type(info.value).__name__}: {info.value}"
    del torch

"""Loops whose iterations are not known one by one (`for _ in range(self.n)`,
`while`): a value the body leaves the same (a tensor of the same shape) keeps its
shape after the loop, so later mistakes are still found; whatever the body changes is
unknown after it, so nothing is claimed about it. Each snippet was run under torch
(`test_snippets_behave_as_claimed_under_torch`)."""
import textwrap

import pytest

from conftest import HEADER, codes


def only(found):
    return [c for c in found if c[0].startswith(("TL2", "TL3"))]


SHAPE_KEPT = """
class Net(nn.Module):
    def __init__(self, depth=3):
        super().__init__()
        self.depth = depth
        self.fc1 = nn.Linear(10, 20)
        self.block = nn.Linear(20, 20)
        self.fc2 = nn.Linear(30, 5)

    def forward(self, x):
        x = self.fc1(x)
        for _ in range(self.depth):
            x = torch.relu(self.block(x))
        return self.fc2(x)

model = Net(depth=3)
out = model(torch.randn(4, 10))
"""

WHILE_KEPT = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 20)
        self.fc2 = nn.Linear(30, 5)

    def forward(self, x, steps):
        x = self.fc1(x)
        i = 0
        while i < steps:
            x = x * 0.5 + torch.tanh(x)
            i += 1
        return self.fc2(x)

model = Net()
out = model(torch.randn(4, 10), 2)
"""

SHAPE_GROWS = """
class Net(nn.Module):
    def __init__(self, depth=2):
        super().__init__()
        self.depth = depth
        self.fc2 = nn.Linear(40, 5)

    def forward(self, x):
        for _ in range(self.depth):
            x = torch.cat([x, x], dim=1)
        return self.fc2(x)

model = Net(depth=2)
out = model(torch.randn(4, 10))
"""

# `x` is the same after the first iteration, but it takes `y`'s value, which grows:
# after the loop `x` is not known.
CHANGES_THROUGH_ANOTHER = """
class Net(nn.Module):
    def __init__(self, depth=3):
        super().__init__()
        self.depth = depth
        self.fc2 = nn.Linear(20, 5)

    def forward(self, x):
        y = x
        for _ in range(self.depth):
            x = y
            y = torch.cat([y, y], dim=1)
        return self.fc2(x)

model = Net(depth=3)
out = model(torch.randn(4, 10))
"""


def test_a_loop_that_keeps_the_shape_keeps_it_after_the_loop():
    assert only(codes(SHAPE_KEPT)) == [("TL201", 7)]


def test_a_while_loop_that_keeps_the_shape_keeps_it_after_the_loop():
    assert only(codes(WHILE_KEPT)) == [("TL201", 5)]


def test_a_loop_that_changes_the_shape_leaves_it_unknown():
    assert only(codes(SHAPE_GROWS)) == []


def test_a_value_that_changes_through_another_one_is_unknown_after_the_loop():
    assert only(codes(CHANGES_THROUGH_ANOTHER)) == []


@pytest.mark.parametrize("code, raises", [
    (SHAPE_KEPT, True),
    (WHILE_KEPT, True),
    (SHAPE_GROWS, False),  # depth=2 gives 40 features: fc2 takes them
    (CHANGES_THROUGH_ANOTHER, True),  # 40 features after 3 iterations, not 20: torch raises, we stay silent
], ids=["kept", "while", "grows", "through-another"])
def test_snippets_behave_as_claimed_under_torch(code, raises):
    torch = pytest.importorskip("torch", reason="torch (the [torch] extra) is not installed")
    text = HEADER + textwrap.dedent(code)
    try:
        exec(compile(text, "<snippet>", "exec"), {"__name__": "snippet"})
    except RuntimeError:
        assert raises
    else:
        assert not raises
    del torch

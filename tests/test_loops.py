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


# ---------------------------------------------------------------------------- lists built step by step
# `layers.append(...)` where every step surely runs changes the list in place (every
# name holding it sees it); in a branch of an unknown condition, or in a loop whose
# iterations are not known, the list is forgotten instead: silence, never a guess.
APPENDED_IN_AN_UNROLLED_LOOP = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layers = []
        c = 3
        for w in [16, 32, 64]:
            layers.append(nn.Conv2d(c, w, 3, padding=1))
            c = w * 2
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)

out = Net()(torch.randn(2, 3, 32, 32))
"""

SEEN_THROUGH_AN_ALIAS = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        a = [nn.Linear(10, 20)]
        b = a
        a.append(nn.ReLU())
        a.extend([nn.Linear(20, 30)])
        self.body = nn.Sequential(*b)
        self.head = nn.Linear(20, 5)

    def forward(self, x):
        return self.head(self.body(x))

out = Net()(torch.randn(4, 10))
"""

APPENDED_UNDER_AN_UNKNOWN_CONDITION = """
import random

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layers = [nn.Linear(10, 20)]
        if random.random() > 2:
            layers.append(nn.Linear(30, 8))
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(20, 5)

    def forward(self, x):
        return self.head(self.body(x))

out = Net()(torch.randn(4, 10))
"""

APPENDED_IN_AN_UNKNOWN_LOOP = """
class Net(nn.Module):
    def __init__(self, depth):
        super().__init__()
        layers = [nn.Linear(10, 20)]
        for _ in range(depth):
            layers.append(nn.Linear(20, 20))
        layers.append(nn.Linear(20, 30))
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(20, 5)

    def forward(self, x):
        return self.head(self.body(x))

out = Net(int(input() or 0))(torch.randn(4, 10))
"""


def test_a_list_appended_to_in_an_unrolled_loop_is_followed_without_a_fix():
    from conftest import run

    _, diags = run(APPENDED_IN_AN_UNROLLED_LOOP)
    (d,) = [d for d in diags if d.code.startswith("TL2")]
    assert (d.code, d.range.start.line + 1 - 3) == ("TL202", 7)
    assert d.fixes == ()  # `c` takes a value per iteration: no single number fixes it


def test_an_alias_sees_what_was_appended():
    assert only(codes(SEEN_THROUGH_AN_ALIAS)) == [("TL201", 9)]


def test_a_list_changed_under_an_unknown_condition_is_forgotten():
    assert only(codes(APPENDED_UNDER_AN_UNKNOWN_CONDITION)) == []


def test_a_list_changed_in_a_loop_of_unknown_length_is_forgotten():
    assert only(codes(APPENDED_IN_AN_UNKNOWN_LOOP)) == []


@pytest.mark.parametrize("code, raises", [
    (APPENDED_IN_AN_UNROLLED_LOOP, True),
    (SEEN_THROUGH_AN_ALIAS, True),
    (APPENDED_UNDER_AN_UNKNOWN_CONDITION, False),  # the branch never runs: fine for real
], ids=["unrolled", "alias", "unknown-condition"])
def test_list_snippets_behave_as_claimed_under_torch(code, raises):
    test_snippets_behave_as_claimed_under_torch(code, raises)

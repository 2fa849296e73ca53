"""The symbolic shape domain: arithmetic, printing, and decisions that are only made when provable."""
import pickle

import pytest

from torch_lsp.analysis.shapes import UNKNOWN, Shape, Sym, dim_eq, dim_ne, dim_sign, dim_str, join_shapes, sym

h, H, B = sym("hidden_dim"), sym("H"), sym("B")


def test_arithmetic_and_printing():
    assert str(h * 2) == "hidden_dim * 2"
    assert h * 2 - h == h
    assert isinstance(h * 2 - h * 2, int) and h * 2 - h * 2 == 0
    assert str((H - 3) // 2 + 1) == "(H - 3) // 2 + 1"
    assert (2 * H + 4) // 2 == H + 2  # exact division simplifies
    assert str(((H - 3) // 2 + 1) * 16) == "((H - 3) // 2) * 16 + 16"
    assert dim_str(UNKNOWN) == "?"
    assert str(Shape.of(B, h)) == "[B, hidden_dim]" and str(Shape.suffix(10)) == "[*, 10]"


def test_unknown_absorbs_everything():
    for value in (UNKNOWN + 3, 3 * UNKNOWN, h * UNKNOWN, UNKNOWN // 2, h // UNKNOWN, -UNKNOWN):
        assert value is UNKNOWN


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (3, 3, True),
        (3, 4, False),
        (h, h, True),
        (h * 2, h, False),  # sizes are >= 1, so 2h != h
        (h + 1, h, False),
        (h, 64, None),  # never decided: hidden_dim may be 64
        (h, sym("in_dim"), None),
        (UNKNOWN, 3, None),
        (UNKNOWN, UNKNOWN, None),
        (sym("a") * sym("b"), sym("b") * sym("a"), True),
        ((H - 3) // 2 + 1, (H - 3) // 2 + 1, True),
        ((H - 3) // 2, 0, None),  # a floor division may be 0
    ],
)
def test_decisions(a, b, expected):
    assert dim_eq(a, b) is expected
    assert dim_ne(a, b) is (expected is False)


def test_signs():
    assert dim_sign(h) == 1 and dim_sign(-h) == -1 and dim_sign(h - 1) is None and dim_sign(0) == 0


def test_shapes():
    s = Shape.of(B, 16, 5, 5)
    assert s.numel() == B * 400 and s.rank == 4 and s.dim(-1) == 5 and s.dim(0) == B
    assert Shape.suffix(10).dim(0) is UNKNOWN and Shape.suffix(10).dim(-1) == 10 and Shape.suffix(10).rank is None
    assert join_shapes(Shape.of(B, 3), Shape.of(B, 4)) == Shape((B, UNKNOWN))
    assert join_shapes(Shape.of(2, 3, 4), Shape.suffix(4)) == Shape((4,), prefix=True)
    assert join_shapes(Shape.of(1), None) is None


def test_pickling_keeps_the_unknown_singleton():
    assert pickle.loads(pickle.dumps(UNKNOWN)) is UNKNOWN
    assert pickle.loads(pickle.dumps(h * 2 + 1)) == h * 2 + 1
    assert isinstance(h * 2, Sym)

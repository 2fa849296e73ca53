"""Sizes taken from a tensor of unknown rank (``x.shape[:-1]``), attention functions
chosen at run time from a registry with a default, and ``and`` decided by a later
operand. Every case was run under torch 2.13: the comments say what it did."""
from __future__ import annotations

import textwrap

import pytest

from torch_lsp.engine import check_source

ATTENTION = """
import torch
from torch import nn


class Attn(nn.Module):
    def __init__(self, dim: int = 32, heads: int = 4):
        super().__init__()
        self.head_dim = dim // heads
        self.q = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        input_shape = x.shape[:-1]
        hidden_shape = (*input_shape, -1, self.head_dim)
        return self.q(x).view(hidden_shape)
"""


def codes(text: str) -> list[tuple[str, int]]:
    src = textwrap.dedent(text).lstrip()
    result = check_source(src.encode(), "model.py")
    return [(d.code, d.range.start.line + 1) for d in result.diagnostics if d.code.startswith(("TL1", "TL2", "TL3"))]


def test_a_view_with_the_inputs_leading_sizes_divides_the_rest():
    # Run for real with x = zeros(2, 5, 32): the view gives [2, 5, 4, 8].
    assert codes(ATTENTION) == []
    # head_dim + 1: "shape '[2, 5, -1, 9]' is invalid for input of size 320"; with no
    # element at all the -1 is ambiguous (it raises too).
    assert codes(ATTENTION.replace("-1, self.head_dim)", "-1, self.head_dim + 1)")) == [("TL207", 14)]


@pytest.mark.parametrize("form", [
    "self.q(x).view(*x.shape[:-1], -1, 9)",
    "self.q(x).reshape(x.shape[:-1] + (-1, 9))",
    "self.q(x).view(*x.size()[:-1], -1, 9)",
])
def test_the_forms_of_leading_sizes(form):
    text = ATTENTION.replace("self.q(x).view(hidden_shape)", form)
    assert codes(text) == [("TL207", 14)]  # shape '[2, 5, -1, 9]' is invalid for input of size 320
    assert codes(text.replace("9)", "8)")) == []  # [2, 5, 4, 8]


def test_leading_sizes_of_another_tensor_or_without_minus_one_prove_nothing():
    # `y` may have other leading sizes than x: the view is not decided here.
    other = ATTENTION.replace("def forward(self, x: torch.Tensor)", "def forward(self, x: torch.Tensor, y: torch.Tensor)")
    assert codes(other.replace("self.q(x).view(hidden_shape)", "self.q(y).view(*x.shape[:-1], -1, 9)")) == []
    # No -1: an input with no element views fine (zeros(0, 32) viewed as (0, 4, 9) runs).
    assert codes(ATTENTION.replace("self.q(x).view(hidden_shape)", "self.q(x).view(*x.shape[:-1], 4, 9)")) == []


REGISTRY = """
import torch
from torch import nn
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS


def eager_attention_forward(module, query, key, value, scaling):
    attn_weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    attn_weights = nn.functional.softmax(attn_weights, dim=-1)
    return torch.matmul(attn_weights, value).transpose(1, 2), attn_weights


class Attention(nn.Module):
    def __init__(self, implementation: str = "sdpa"):
        super().__init__()
        self.implementation = implementation
        self.q_proj = nn.Linear(32, 32)
        self.k_proj = nn.Linear(32, 32)

    def forward(self, x):
        q = self.q_proj(x).view(2, 5, 4, 8).transpose(1, 2)
        k = self.k_proj(x).view(2, 5, 4, 8).transpose(1, 2)
        attention = ALL_ATTENTION_FUNCTIONS.get_interface(self.implementation, eager_attention_forward)
        out, _ = attention(self, q, k, k, scaling=0.125)
        return out
"""


def test_an_attention_function_chosen_at_run_time_has_the_defaults_contract():
    # Run for real (transformers 5, "sdpa" and "eager"): q and k [2, 4, 5, 8] run.
    assert codes(REGISTRY) == []
    # q transposed (1, 3): [2, 8, 5, 4] against k [2, 4, 5, 8]. sdpa and eager both
    # raise "The size of tensor a (8) must match the size of tensor b (4) at
    # non-singleton dimension 1".
    assert codes(REGISTRY.replace("view(2, 5, 4, 8).transpose(1, 2)\n        k", "view(2, 5, 4, 8).transpose(1, 3)\n        k", 1)) \
        == [("TL205", 7)]


LAYERDROP = """
import torch
from torch import nn


class Encoder(nn.Module):
    def __init__(self, layerdrop: float = 0.0):
        super().__init__()
        self.layerdrop = layerdrop
        self.layers = nn.ModuleList([nn.Linear(16, 16), nn.Linear(32, 16)])
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        for layer in self.layers:
            skip = False
            if self.training and self.layerdrop > 0.0:
                skip = torch.rand([]) < self.layerdrop
            if not skip:
                x = layer(x)
        return self.head(x)


def build():
    return Encoder()(torch.randn(2, 16))
"""


def test_an_and_whose_later_operand_is_false_is_false():
    # Run for real: "mat1 and mat2 shapes cannot be multiplied (2x16 and 32x16)" at the
    # second layer, in training and in eval: with layerdrop 0.0 no layer is skipped.
    assert codes(LAYERDROP) == [("TL201", 9)]
    # With a layerdrop, a training run may skip the layer (and an eval run takes it):
    # not an error every run meets.
    assert codes(LAYERDROP.replace("Encoder()(", "Encoder(0.5)(")) == []


POOLED = """
import torch
from torch import nn


class Head(nn.Module):
    def __init__(self, dim: int = 32, classes: int = 5):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, classes)

    def forward(self, tokens):
        cls = self.norm(tokens)[:, 0, :]
        return self.fc(cls)
"""


def test_an_index_ending_in_full_slices_keeps_the_last_sizes():
    # `tokens` of unknown rank: after the norm it is [*, 32]; `[:, 0, :]` keeps its last
    # size whatever the rank. Run for real on randn(2, 17, 32): [2, 5].
    assert codes(POOLED) == []
    # fc reading 64 features: "mat1 and mat2 shapes cannot be multiplied (2x32 and 64x5)".
    assert codes(POOLED.replace("nn.Linear(dim, classes)", "nn.Linear(dim * 2, classes)")) == [("TL201", 9)]
    # `[:, 0]` of a rank-2 tensor is [2]: the last size is not known to stay.
    assert codes(POOLED.replace("[:, 0, :]", "[:, 0]").replace("nn.Linear(dim, classes)", "nn.Linear(dim * 2, classes)")) == []


BOTH_ARMS = """
import torch
from torch import nn
import torch.nn.functional as F

try:
    from flash_attn import flash_attn_func
    FLASH = True
except ImportError:
    FLASH = False


class Attn(nn.Module):
    def __init__(self):
        super().__init__()
        self.q = nn.Linear(32, 32)
        self.k = nn.Linear(32, 32)

    def forward(self, x):
        q = self.q(x).view(2, 5, 4, 8).transpose(1, 2)
        k = self.k(x).view(2, 5, 4, 8).transpose(1, 3)
        if FLASH:
            out = F.scaled_dot_product_attention(q, k, k)
        else:
            out = torch.softmax(q @ k.transpose(-1, -2), dim=-1) @ k
        return out
"""


def test_an_error_on_both_arms_of_an_undecided_if():
    # Whether flash_attn is installed is not known here; k is transposed (1, 3) by
    # mistake: [2, 8, 4, 5] against q [2, 4, 5, 8]. Run for real (randn(2, 5, 32)), both
    # arms raise "The size of tensor a (4) must match the size of tensor b (8) at
    # non-singleton dimension 1" (sdpa, and the matmul). The statement fails whichever
    # runs: reported (the first arm's error).
    assert codes(BOTH_ARMS) == [("TL205", 22)]
    # k transposed (1, 2) as q: both arms run.
    assert codes(BOTH_ARMS.replace("self.k(x).view(2, 5, 4, 8).transpose(1, 3)", "self.k(x).view(2, 5, 4, 8).transpose(1, 2)")) == []
    # Only one arm fails (the other does not touch k): not every run fails, no claim.
    one_arm = BOTH_ARMS.replace("torch.softmax(q @ k.transpose(-1, -2), dim=-1) @ k", "q")
    assert codes(one_arm) == []


SDPA = """
import torch
import torch.nn.functional as F

q = torch.zeros(2, 4, 5, 8)
k = torch.zeros(2, 8, 5, 4)
out = F.scaled_dot_product_attention(q, k.transpose(1, 3), k.transpose(1, 3))
"""


def test_scaled_dot_product_attention_checks_its_query_and_key():
    # Run for real: k.transpose(1, 3) is [2, 4, 5, 8], as q: [2, 4, 5, 8].
    assert codes(SDPA) == []
    # Without the transposes: "The size of tensor a (4) must match the size of tensor b
    # (8) at non-singleton dimension 1".
    assert codes(SDPA.replace("k.transpose(1, 3), k.transpose(1, 3)", "k, k")) == [("TL205", 6)]
    # With enable_gqa the heads may differ: not checked (here torch still raises, on the
    # head dim: a miss, not a false alarm).
    assert codes(SDPA.replace("k.transpose(1, 3), k.transpose(1, 3))", "k, k, enable_gqa=True)")) == []

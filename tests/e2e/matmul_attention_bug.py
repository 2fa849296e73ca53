"""Single-head self-attention that forgets to transpose the keys."""
import math

import torch
import torch.nn as nn


class SelfAttention(nn.Module):
    def __init__(self, dim=64):
        super().__init__()
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.scale = 1.0 / math.sqrt(dim)

    def forward(self, x):
        q, k, v = self.q(x), self.k(x), self.v(x)
        scores = (q @ k) * self.scale
        return torch.softmax(scores, dim=-1) @ v


if __name__ == "__main__":
    attn = SelfAttention(64)
    print(attn(torch.randn(2, 10, 64)).shape)

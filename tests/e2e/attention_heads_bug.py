"""A transformer block whose embedding size is not divisible by its number of heads."""
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, dim=100, heads=8):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, x):
        h = self.norm(x)
        out, _ = self.attn(h, h, h)
        return x + out


if __name__ == "__main__":
    block = Block()
    print(block(torch.randn(2, 5, 100)).shape)

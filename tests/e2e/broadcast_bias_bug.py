"""A gated feature fusion that adds a per-channel bias of the wrong size."""
import torch
import torch.nn as nn


class GatedFusion(nn.Module):
    def __init__(self, dim=48):
        super().__init__()
        self.gate = nn.Linear(dim, dim)
        self.bias = nn.Parameter(torch.zeros(dim // 2))

    def forward(self, a, b):
        g = torch.sigmoid(self.gate(a))
        return g * a + (1 - g) * b + self.bias


if __name__ == "__main__":
    fusion = GatedFusion()
    print(fusion(torch.randn(5, 48), torch.randn(5, 48)).shape)

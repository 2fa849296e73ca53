"""A two-layer MLP encoder whose second layer reads the wrong size."""
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, in_dim, hidden_dim, out_dim):
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(in_dim, out_dim)
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, x):
        h = self.act(self.fc1(x))
        return self.norm(self.fc2(h))


if __name__ == "__main__":
    encoder = Encoder(16, 32, 8)
    z = encoder(torch.randn(4, 16))
    print(z.shape)

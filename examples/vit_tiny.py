"""A tiny vision transformer with three registration bugs (torch-lsp finds them)."""
import torch
import torch.nn as nn


class PatchEmbed(nn.Module):
    def __init__(self, patch=4, chans=3, dim=64, num_patches=64):
        super().__init__()
        self.proj = nn.Conv2d(chans, dim, kernel_size=patch, stride=patch)
        # Meant to be learned, but a plain tensor: the optimizer never sees it.
        self.pos_embed = torch.zeros(1, num_patches, dim)

    def forward(self, x):
        x = self.proj(x).flatten(2).transpose(1, 2)
        return x + self.pos_embed


class Encoder(nn.Module):
    def __init__(self, dim=64, depth=4, heads=4):
        super().__init__()
        # A plain list: these layers are not trained, saved or moved to the GPU.
        self.layers = [nn.TransformerEncoderLayer(dim, heads, batch_first=True) for _ in range(depth)]
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)


class ContrastiveHead(nn.Module):
    def __init__(self, dim=64):
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.log_temp = torch.zeros(1, requires_grad=True)

    def forward(self, a, b):
        a = nn.functional.normalize(self.proj(a), dim=-1)
        b = nn.functional.normalize(self.proj(b), dim=-1)
        return a @ b.t() * self.log_temp.exp()

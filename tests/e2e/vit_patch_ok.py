"""A tiny vision transformer with patch embedding and a class token; correct."""
import torch
import torch.nn as nn


class TinyViT(nn.Module):
    def __init__(self, image=32, patch=8, chans=3, dim=64, depth=2, heads=4, num_classes=10):
        super().__init__()
        num_patches = (image // patch) ** 2
        self.patch_embed = nn.Conv2d(chans, dim, kernel_size=patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=dim * 2, batch_first=True)
        self.blocks = nn.TransformerEncoder(layer, depth)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


if __name__ == "__main__":
    vit = TinyViT()
    print(vit(torch.randn(2, 3, 32, 32)).shape)

"""A one-level U-Net whose bottleneck conv has no padding, so the skip no longer fits."""
import torch
import torch.nn as nn


class TinyUNet(nn.Module):
    def __init__(self, in_ch=3, base=8, n_classes=2):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(in_ch, base, 3, padding=1), nn.ReLU())
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = nn.Sequential(nn.Conv2d(base, base * 2, 3), nn.ReLU())
        self.up = nn.ConvTranspose2d(base * 2, base, kernel_size=2, stride=2)
        self.dec = nn.Sequential(nn.Conv2d(base * 2, base, 3, padding=1), nn.ReLU())
        self.head = nn.Conv2d(base, n_classes, 1)

    def forward(self, x):
        skip = self.enc(x)
        y = self.bottleneck(self.pool(skip))
        y = self.up(y)
        y = torch.cat([y, skip], dim=1)
        return self.head(self.dec(y))


if __name__ == "__main__":
    net = TinyUNet()
    masks = net(torch.randn(1, 3, 32, 32))
    print(masks.shape)

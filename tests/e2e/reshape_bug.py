"""A DCGAN-style generator stem whose view() asks for four times the elements it has."""
import torch
import torch.nn as nn


class GeneratorStem(nn.Module):
    def __init__(self, z_dim=16):
        super().__init__()
        self.fc = nn.Linear(z_dim, 32 * 4 * 4)
        self.up = nn.ConvTranspose2d(32, 16, kernel_size=4, stride=2, padding=1)

    def forward(self, z):
        x = self.fc(z)
        x = x.view(z.size(0), 32, 8, 8)
        return torch.tanh(self.up(x))


if __name__ == "__main__":
    gen = GeneratorStem()
    print(gen(torch.randn(3, 16)).shape)

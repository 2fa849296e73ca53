"""An RGB classifier fed a grayscale MNIST-sized batch."""
import torch
import torch.nn as nn


class RGBClassifier(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, kernel_size=3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, num_classes)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        return self.fc(self.pool(x).flatten(1))


if __name__ == "__main__":
    model = RGBClassifier()
    batch = torch.randn(4, 1, 28, 28)
    print(model(batch).shape)

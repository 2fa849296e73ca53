"""A VGG-style feature extractor built from a helper; the second block reads the wrong channels."""
import torch
import torch.nn as nn


def conv_block(c_in, c_out):
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class SmallVGG(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            conv_block(3, 16),
            conv_block(32, 64),
        )
        self.classifier = nn.Linear(64 * 8 * 8, num_classes)

    def forward(self, x):
        x = self.features(x)
        return self.classifier(x.flatten(1))


if __name__ == "__main__":
    model = SmallVGG()
    print(model(torch.randn(2, 3, 32, 32)).shape)

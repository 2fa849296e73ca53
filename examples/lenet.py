"""LeNet-5 for 32x32 RGB images, with the dimension bugs torch-lsp catches."""
import torch
import torch.nn as nn


class LeNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, kernel_size=5)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.fc1 = nn.Linear(16 * 4 * 4, 120)  # TL203: the flattened size is 16 * 5 * 5 = 400
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = x.flatten(1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


def train_step(model, optimizer):
    images = torch.randn(4, 3, 32, 32)
    labels = torch.randint(0, 10, (4,))
    loss = nn.CrossEntropyLoss(reduction="none")(model(images), labels)
    loss.backward()  # TL301: one loss per sample, not a scalar
    optimizer.step()
    return loss


if __name__ == "__main__":
    model = LeNet()
    train_step(model, torch.optim.SGD(model.parameters(), lr=0.01))

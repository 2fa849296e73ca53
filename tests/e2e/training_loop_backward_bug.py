"""A regression training step that calls backward() on the per-sample losses."""
import torch
import torch.nn as nn


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1))

    def forward(self, x):
        return self.net(x)


def train_step(model, optimizer):
    criterion = nn.MSELoss(reduction="none")
    x = torch.randn(8, 10)
    y = torch.randn(8, 1)
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


if __name__ == "__main__":
    model = Regressor()
    train_step(model, torch.optim.SGD(model.parameters(), lr=0.1))

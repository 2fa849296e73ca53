"""A config-driven MLP trained from a DataLoader; shapes come from data the checker cannot see. Correct."""
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


@dataclass
class Config:
    in_features: int = 20
    hidden: tuple = (64, 32)
    num_classes: int = 3
    dropout: float = 0.1
    batch_size: int = 8


def make_mlp(config):
    layers = []
    width = config.in_features
    for h in config.hidden:
        layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(config.dropout)]
        width = h
    layers.append(nn.Linear(width, config.num_classes))
    return nn.Sequential(*layers)


class Classifier(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.body = make_mlp(config)

    def forward(self, x):
        return self.body(x)


def load_data(config, n=32):
    x = torch.randn(n, config.in_features)
    y = torch.randint(0, config.num_classes, (n,))
    return DataLoader(TensorDataset(x, y), batch_size=config.batch_size, shuffle=True)


def train(config):
    model = Classifier(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    for xb, yb in load_data(config):
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
    return model


if __name__ == "__main__":
    train(Config())

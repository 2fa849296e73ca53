"""Modules written the old way: legacy constructors and super().__init__() too late."""
import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self, in_features, num_classes):
        self.hidden = nn.Linear(in_features, 128)
        self.out = nn.Linear(128, num_classes)
        super().__init__()

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x)))


class DomainAdapter(nn.Module):
    def __init__(self, domains, dim=8):
        super().__init__()
        self.encoder = nn.Linear(dim, dim)
        self.domain_bias = {}
        for name in domains:
            self.domain_bias[name] = nn.Parameter(torch.zeros(dim))

    def forward(self, x, domain):
        return self.encoder(x) + self.domain_bias[domain]


def class_weights():
    return torch.FloatTensor([1.0, 2.0, 1.0, 0.5])

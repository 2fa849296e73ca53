import torch

data = torch.FloatTensor([1.0, 2.0])

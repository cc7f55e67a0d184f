"""A model none of whose time is in a kernel type autokernel has: elementwise ops and a cumulative sum."""
import torch
from torch import nn


class Elementwise(nn.Module):
    def __init__(self, width=64):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(width))

    def forward(self, x):
        return torch.relu(x * self.scale).cumsum(-1)


class NotAModule:
    pass

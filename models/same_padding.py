"""Convolutions and pools with TensorFlow-style "same" padding, as the authors' PyTorch code
computes it (docs/reference.md, "CochCNN9").

The padding is ``max((ceil(n / s) - 1) * s + k - n, 0)`` samples per spatial dimension,
the smaller half (``pad // 2``) before and the rest after, so the output has ``ceil(n / s)``
positions. Convolutions and the average pool pad with zeros; max pools pad with -inf, so a
padded cell never wins. The average pool divides by the whole kernel window, padded zeros
included (the authors pad explicitly and then average; TensorFlow's own average pool would
exclude them): at CochCNN9's ``avgpool`` 17 of the 45 output positions touch padding.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of one dimension for TF "same" semantics."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def same_output_size(size: int, stride: int) -> int:
    """Output length of a TF "same" conv or pool along one dimension."""
    return math.ceil(size / stride)


def _pad_for(x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int]) -> tuple[int, int, int, int]:
    top, bottom = same_padding(x.shape[-2], kernel[0], stride[0])
    left, right = same_padding(x.shape[-1], kernel[1], stride[1])
    return (left, right, top, bottom)


def _pair(v: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


class Conv2dSame(nn.Conv2d):
    """``nn.Conv2d`` with TF "same" zero padding computed from the input size."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, bias: bool = False) -> None:
        super().__init__(in_channels, out_channels, _pair(kernel_size), _pair(stride), padding=0, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, _pad_for(x, self.kernel_size, self.stride)))


class MaxPool2dSame(nn.Module):
    """Max pool with TF "same" padding (-inf, so padded cells never win)."""

    def __init__(self, kernel_size, stride) -> None:
        super().__init__()
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, _pad_for(x, self.kernel_size, self.stride), value=float("-inf"))
        return F.max_pool2d(x, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class AvgPool2dSame(nn.Module):
    """Average pool with TF "same" zero padding; the mean is over the whole kernel window,
    padded zeros included (divisor ``kernel[0] * kernel[1]`` everywhere, as the authors')."""

    def __init__(self, kernel_size, stride) -> None:
        super().__init__()
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, _pad_for(x, self.kernel_size, self.stride))
        return F.avg_pool2d(x, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"

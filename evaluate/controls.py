"""Controls: the same network with its learned weights permuted.

REFERENCE.md section 6: "permuted networks (every weight tensor shuffled with seed 0)". Each
learned tensor (``nn.Module.parameters()``: convolution and linear weights and biases,
normalisation scales and shifts) has its elements shuffled by its own random permutation,
drawn in parameter order from one generator seeded with ``seed``. The weights' marginal
distribution per tensor is kept; what training put where is destroyed. Buffers are left as
they are: the fixed cochleagram front end is not learned, and BatchNorm running statistics
are statistics of the data, not weights.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

CONTROLS = ("permuted",)


@torch.no_grad()
def permuted_copy(model: nn.Module, seed: int = 0) -> nn.Module:
    """A deep copy of ``model`` with every parameter tensor's elements shuffled (seed ``seed``)."""
    out = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(seed)
    for param in out.parameters():
        flat = param.detach().reshape(-1)
        perm = torch.randperm(flat.numel(), generator=gen).to(flat.device)
        param.copy_(flat[perm].reshape(param.shape))
    return out


def control_model(model: nn.Module, control: str, seed: int = 0) -> nn.Module:
    """The control network named ``control`` (one of :data:`CONTROLS`)."""
    if control == "permuted":
        return permuted_copy(model, seed)
    raise ValueError(f"control must be one of {list(CONTROLS)}, got {control!r}")

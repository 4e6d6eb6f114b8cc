"""Timing helpers shared by the benchmark scripts."""

from __future__ import annotations

import time

import torch


def training_step_rate(net: torch.nn.Module, optimizer: torch.optim.Optimizer, wave: torch.Tensor,
                       target: torch.Tensor, steps: int) -> float:  # fmt: skip
    """Clips/s of forward + backward + ``optimizer`` step of ``net`` on the word head,
    ``wave`` ``[batch, samples]``; the first of ``steps + 1`` steps is a warm-up."""
    times = []
    for _ in range(steps + 1):
        t = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(net(wave)["word"], target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - t)
    return len(wave) * steps / sum(times[1:])

"""Timing helpers shared by the benchmark scripts."""

from __future__ import annotations

import os
import platform
import time

import torch


def machine_line(device: torch.device) -> str:
    """One line naming what the figures were measured on."""
    return (f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
            f"{platform.processor() or platform.machine()}, device {device}")  # fmt: skip


def seconds(fn, device: torch.device) -> float:
    """Wall time of ``fn()`` without gradients, with the device synchronised before and after."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.no_grad():
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


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

"""Checkpoints in the layout ``python -m train`` writes (models/checkpoint.py), from a network
built here, without training."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from models.checkpoint import CHECKPOINT_KEY


def write(path: str | Path, net: nn.Module, layout: int | None = 2, vocabularies: dict | None = None) -> Path:
    """Save ``net`` (a CochCNN9 or CochResNet50 with ``width`` and ``heads_spec``) as ``path``
    with our metadata; ``layout=None``: as an earlier version wrote it (a CochCNN9 with
    convolution biases and no layout entry)."""
    meta = {"model_config": {"_target_": f"models.{type(net).__name__}", "width": net.width},
            "label_sizes": dict(net.heads_spec), "vocabularies": dict(vocabularies or {}), "run_config": {}}  # fmt: skip
    if layout is not None:
        meta["layout"] = layout
    state = {f"net.{k}": v for k, v in net.state_dict().items()}
    if layout is None:  # the old CochCNN9 had convolution biases
        state.update({f"net.conv{i}.bias": torch.zeros(getattr(net, f"conv{i}").out_channels) for i in range(5)})
    torch.save({"state_dict": state, CHECKPOINT_KEY: meta, "global_step": 7, "epoch": 1}, path)
    return Path(path)

"""Rebuild a trained network from a training checkpoint."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import hydra
import torch
from torch import nn

from models.reference import is_reference_layout
from train.module import CHECKPOINT_KEY, check_layout, network_state


@dataclass
class TrainedNetwork:
    """A network restored from a checkpoint, with what it was trained on."""

    net: nn.Module
    label_sizes: dict[str, int]
    vocabularies: dict[str, list[str]] = field(default_factory=dict)
    run_config: dict = field(default_factory=dict)
    global_step: int = 0
    epoch: int = 0


def load_network(ckpt_path: str | os.PathLike, map_location: str | torch.device = "cpu") -> TrainedNetwork:
    """Load the network of a ``python -m train`` checkpoint (``last.ckpt`` or a best one)."""
    if not os.path.isfile(ckpt_path):
        raise FileNotFoundError(f"checkpoint {ckpt_path} does not exist")
    try:
        ckpt = torch.load(ckpt_path, map_location=map_location, weights_only=False)
    except Exception as exc:  # truncated or not a torch file
        raise ValueError(f"checkpoint {ckpt_path} could not be read: {exc}") from exc
    meta = ckpt.get(CHECKPOINT_KEY)
    if meta is None or "model_config" not in meta:
        hint = (" It looks like one of the authors' released checkpoints: score it with python -m evaluate "
                f"model=reference model.path={ckpt_path}, or load it with models.load_reference_checkpoint."
                if is_reference_layout(ckpt) else "")  # fmt: skip
        raise ValueError(
            f"checkpoint {ckpt_path} has no '{CHECKPOINT_KEY}' metadata; it was not written by `python -m train`.{hint}"
        )
    check_layout(ckpt_path, meta)
    net = hydra.utils.instantiate(meta["model_config"], heads=meta["label_sizes"])
    net.load_state_dict(network_state(ckpt))
    return TrainedNetwork(
        net=net,
        label_sizes=dict(meta["label_sizes"]),
        vocabularies=dict(meta.get("vocabularies", {})),
        run_config=dict(meta.get("run_config", {})),
        global_step=int(ckpt.get("global_step", 0)),
        epoch=int(ckpt.get("epoch", 0)),
    )


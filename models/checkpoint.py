"""Our training checkpoints: what they hold and how a network is rebuilt from one.

``python -m train`` writes Lightning checkpoints with an extra entry, :data:`CHECKPOINT_KEY`,
holding the network's config, its label sizes and vocabularies and the run config; this
module is the one place that knows that layout, so both ``train/`` (resume, ``init_from``)
and ``evaluate/`` (``ckpt_path=``) read checkpoints through it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import hydra
import torch
from torch import nn

from models.reference import is_reference_layout

CHECKPOINT_KEY = "auditory_dnn"  # our metadata inside Lightning checkpoints
# Version of the network layouts our checkpoints hold. 2: CochCNN9 as the authors built it (no
# convolution biases, average pool counting padded zeros, waveform clamped to [-1, 1]).
# Checkpoints without it were written by earlier versions (see load_network below).
CHECKPOINT_LAYOUT = 2
# The last commit whose CochCNN9 had convolution biases and a pad-excluding average pool.
LAST_LAYOUT_1_COMMIT = "2c51014"


def check_layout(ckpt_path: str | os.PathLike | None, meta: dict) -> None:
    """Refuse a CochCNN9 checkpoint of an earlier layout rather than load it into the new one.

    Checkpoints written before layout 2 hold a CochCNN9 with convolution biases whose average
    pool excluded padded cells; loading their weights into today's CochCNN9 (no biases, pads
    counted, clamped input) would silently compute something else.
    """
    layout = int(meta.get("layout", 1))
    target = str(meta.get("model_config", {}).get("_target_", ""))
    if layout < CHECKPOINT_LAYOUT and target.endswith("CochCNN9"):
        raise ValueError(
            f"checkpoint {ckpt_path} was written by an earlier version of auditory-dnn (checkpoint layout {layout}), "
            "whose CochCNN9 had convolution biases and an average pool that excluded padding. This version builds "
            "CochCNN9 as the authors did and does not load it into the new layout. Retrain the network, or score "
            f"it with the version that wrote it (git checkout {LAST_LAYOUT_1_COMMIT})."
        )


def network_state(checkpoint: dict) -> dict[str, torch.Tensor]:
    """The network's state dict inside a checkpoint of :class:`TaskModule` (its ``net.`` entries)."""
    return {k[len("net.") :]: v for k, v in checkpoint["state_dict"].items() if k.startswith("net.")}


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


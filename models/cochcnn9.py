"""CochCNN9: the in-house 9-stage cochleagram CNN as the authors built it (docs/reference.md
section 2, after Kell et al. 2018): convolutions without biases, TF-style "same" padding,
an average pool that counts padded zeros, and the waveform clamped to [-1, 1] before the
cochleagram (the authors' input normaliser)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from models.cochleagram import Cochleagram
from models.contract import CochleagramNetwork
from models.same_padding import AvgPool2dSame, Conv2dSame, MaxPool2dSame, same_output_size

# (name, out_channels, kernel [freq, time], stride) of the five convolutions at width 1.0.
_CONVS = (
    ("conv0", 96, (7, 14), (3, 3)),
    ("conv1", 256, (4, 8), (2, 2)),
    ("conv2", 512, (2, 5), (1, 1)),
    ("conv3", 1024, (2, 5), (1, 1)),
    ("conv4", 512, (2, 5), (1, 1)),
)
_POOL_KERNEL, _POOL_STRIDE = (2, 5), (2, 2)
_FC_WIDTH = 4096
INPUT_CLAMP = 1.0  # the authors' input normaliser clamps the waveform to [-1, 1]
# batchnorm0 (weight, bias) of the authors' multi-task architecture ("kell2018_multi_task",
# used for their speaker, AudioSet and multitask models); the word models keep PyTorch's (1, 0).
MULTITASK_BATCHNORM0_INIT = (0.6180, -2.0971)


def check_heads(heads: Mapping[str, int]) -> dict[str, int]:
    """Validate ``{task name: number of classes}`` and return it as a plain dict."""
    if not isinstance(heads, Mapping) or not heads:
        raise ValueError(f"heads must be a non-empty mapping of task name -> class count, got {heads!r}")
    out = {}
    for name, size in heads.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"head name {name!r} must be a Python identifier (e.g. 'word')")
        if int(size) < 1:
            raise ValueError(f"head {name!r} needs at least 1 output, got {size}")
        out[name] = int(size)
    return out


class CochCNN9(CochleagramNetwork):
    """Waveform ``[batch, 40000]`` (2 s at 20 kHz) -> ``{head: logits [batch, n_classes]}``.

    The cochleagram runs inside the model (``model.cochleagram``, which clamps the waveform
    to [-1, 1] first), so the network is differentiable from the waveform. Scored layers (``SCORED_LAYERS``) are submodules
    whose forward outputs are ``[batch, channels, freq, time]`` (``relufc``: ``[batch, 4096]``),
    reachable by forward hooks by name.

    Args:
        heads: task name -> number of classes, e.g. ``{"word": 794}``.
        width: multiplies every channel count and the fully connected width (1.0 = reference).
        dropout: dropout after ``relufc``.
        batchnorm0_init: optional ``(weight, bias)`` for the input batch norm
            (the authors' multi-task architecture: :data:`MULTITASK_BATCHNORM0_INIT`).
        cochleagram_kwargs: arguments for :class:`models.Cochleagram` (input length, rates ...;
            ``input_clamp`` defaults to 1.0 here).
    """

    SCORED_LAYERS = ("relu0", "maxpool0", "relu1", "maxpool1", "relu2", "relu3", "relu4", "avgpool", "relufc")

    def __init__(
        self,
        heads: Mapping[str, int],
        width: float = 1.0,
        dropout: float = 0.5,
        batchnorm0_init: tuple[float, float] | None = None,
        cochleagram_kwargs: Mapping | None = None,
    ) -> None:
        super().__init__()
        if width <= 0:
            raise ValueError(f"width must be > 0, got {width}")
        self.heads_spec = check_heads(heads)
        self.width = width
        self.cochleagram = Cochleagram(**{"input_clamp": INPUT_CLAMP, **dict(cochleagram_kwargs or {})})
        ch = [max(1, round(c * width)) for _, c, _, _ in _CONVS]
        fc_width = max(1, round(_FC_WIDTH * width))

        self.batchnorm0 = nn.BatchNorm2d(1)
        if batchnorm0_init is not None:
            nn.init.constant_(self.batchnorm0.weight, batchnorm0_init[0])
            nn.init.constant_(self.batchnorm0.bias, batchnorm0_init[1])
        self.conv0 = Conv2dSame(1, ch[0], _CONVS[0][2], _CONVS[0][3])
        self.relu0 = nn.ReLU()
        self.maxpool0 = MaxPool2dSame(_POOL_KERNEL, _POOL_STRIDE)
        self.batchnorm1 = nn.BatchNorm2d(ch[0])
        self.conv1 = Conv2dSame(ch[0], ch[1], _CONVS[1][2], _CONVS[1][3])
        self.relu1 = nn.ReLU()
        self.maxpool1 = MaxPool2dSame(_POOL_KERNEL, _POOL_STRIDE)
        self.batchnorm2 = nn.BatchNorm2d(ch[1])
        self.conv2 = Conv2dSame(ch[1], ch[2], _CONVS[2][2], _CONVS[2][3])
        self.relu2 = nn.ReLU()
        self.conv3 = Conv2dSame(ch[2], ch[3], _CONVS[3][2], _CONVS[3][3])
        self.relu3 = nn.ReLU()
        self.conv4 = Conv2dSame(ch[3], ch[4], _CONVS[4][2], _CONVS[4][3])
        self.relu4 = nn.ReLU()
        self.avgpool = AvgPool2dSame(_POOL_KERNEL, _POOL_STRIDE)

        freq, time = self.cochleagram.output_shape
        self.layer_shapes = self._layer_shapes(ch, freq, time, fc_width)
        c, f, t = self.layer_shapes["avgpool"]
        self.fullyconnected = nn.Linear(c * f * t, fc_width)
        self.relufc = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict({name: nn.Linear(fc_width, n) for name, n in self.heads_spec.items()})
        self._init_weights()

    def _init_weights(self) -> None:
        # He initialisation keeps activation scale through the ReLU stack (PyTorch's default
        # shrinks it ~3x per layer, which stalls training of the narrow CPU-sized variants).
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        for head in self.heads.values():
            nn.init.normal_(head.weight, std=0.01)

    @staticmethod
    def _layer_shapes(ch: list[int], freq: int, time: int, fc_width: int) -> dict[str, tuple[int, ...]]:
        """Per-clip output shape of every scored layer (channels, freq, time) or (features,)."""
        shapes: dict[str, tuple[int, ...]] = {}

        def step(f: int, t: int, stride: tuple[int, int]) -> tuple[int, int]:
            return same_output_size(f, stride[0]), same_output_size(t, stride[1])

        f, t = step(freq, time, _CONVS[0][3])
        shapes["relu0"] = (ch[0], f, t)
        f, t = step(f, t, _POOL_STRIDE)
        shapes["maxpool0"] = (ch[0], f, t)
        f, t = step(f, t, _CONVS[1][3])
        shapes["relu1"] = (ch[1], f, t)
        f, t = step(f, t, _POOL_STRIDE)
        shapes["maxpool1"] = (ch[1], f, t)
        for i in (2, 3, 4):
            f, t = step(f, t, _CONVS[i][3])
            shapes[f"relu{i}"] = (ch[i], f, t)
        f, t = step(f, t, _POOL_STRIDE)
        shapes["avgpool"] = (ch[4], f, t)
        shapes["relufc"] = (fc_width,)
        return shapes

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        """Waveform ``[batch, samples]`` -> ``relufc`` output ``[batch, fc_width]`` (before dropout)."""
        return self.embed(self.cochleagram(waveform))

    def embed(self, cochleagram: torch.Tensor) -> torch.Tensor:
        """Cochleagram ``[batch, 211, 390]`` -> ``relufc`` output ``[batch, fc_width]`` (before dropout)."""
        x = cochleagram.unsqueeze(1)  # [batch, 1, 211, 390]
        x = self.batchnorm0(x)
        x = self.batchnorm1(self.maxpool0(self.relu0(self.conv0(x))))
        x = self.batchnorm2(self.maxpool1(self.relu1(self.conv1(x))))
        x = self.relu2(self.conv2(x))
        x = self.relu3(self.conv3(x))
        x = self.relu4(self.conv4(x))
        x = self.avgpool(x)
        return self.relufc(self.fullyconnected(x.flatten(1)))

    def from_frontend(self, cochleagram: torch.Tensor) -> dict[str, torch.Tensor]:
        """Cochleagram ``[batch, 211, 390]`` -> ``{head: logits [batch, n_classes]}``."""
        x = self.dropout(self.embed(cochleagram))
        return {name: head(x) for name, head in self.heads.items()}


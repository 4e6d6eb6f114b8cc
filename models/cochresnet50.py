"""CochResNet50: a torchvision-style ResNet-50 on the cochleagram (docs/reference.md section 3).

Written out here (no torchvision dependency): a 1-channel 7x7 stride-2 stem, max pool,
Bottleneck stages ``[3, 4, 6, 3]`` (expansion 4, stride on the 3x3 conv, 1x1 conv + BN
projection when the shape changes), global average pool, one linear head per task.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from models.cochcnn9 import INPUT_CLAMP, check_heads
from models.cochleagram import Cochleagram
from models.contract import CochleagramNetwork

_STEM_CHANNELS = 64
# (bottleneck width, blocks, stride of the first block) of layer1..layer4 at width 1.0.
_STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))
_EXPANSION = 4


def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a convolution / pooling along one axis (floor mode)."""
    return (size + 2 * padding - kernel) // stride + 1


class Bottleneck(nn.Module):
    """torchvision's Bottleneck (v1.5): 1x1 reduce -> 3x3 (carries the stride) -> 1x1 expand.

    ``[batch, in_channels, F, T]`` -> ``[batch, planes * 4, F', T']`` with
    ``F' = (F - 1) // stride + 1`` (same for ``T``).
    """

    expansion = _EXPANSION

    def __init__(self, in_channels: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        out_channels = planes * self.expansion
        self.conv1 = nn.Conv2d(in_channels, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_channels, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        # One ReLU instance reused inside the block is fine: no block-internal ReLU is scored.
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class CochResNet50(CochleagramNetwork):
    """Waveform ``[batch, 40000]`` (2 s at 20 kHz) -> ``{head: logits [batch, n_classes]}``.

    The cochleagram runs inside the model (``model.cochleagram``, which clamps the waveform
    to [-1, 1] first, as the authors' input normaliser), so the network is differentiable
    from the waveform; conv1 sees ``[batch, 1, 211, 390]``. Scored layers
    (``SCORED_LAYERS``) are submodules reachable by forward hooks by name; at width 1.0
    their outputs are ``conv1_relu1`` ``[batch, 64, 106, 195]``, ``maxpool1``
    ``[batch, 64, 53, 98]``, ``layer1`` ``[batch, 256, 53, 98]``, ``layer2``
    ``[batch, 512, 27, 49]``, ``layer3`` ``[batch, 1024, 14, 25]``, ``layer4``
    ``[batch, 2048, 7, 13]`` and ``avgpool`` ``[batch, 2048, 1, 1]`` (see ``layer_shapes``).

    Args:
        heads: task name -> number of classes, e.g. ``{"word": 794}``.
        width: multiplies every channel count (1.0 = reference: 64 stem channels, 2048-d
            embedding); each count is rounded and kept >= 1, so ``embedding_dim`` is
            ``4 * round(512 * width)``.
        cochleagram_kwargs: arguments for :class:`models.Cochleagram` (input length, rates ...;
            ``input_clamp`` defaults to 1.0 here).
    """

    SCORED_LAYERS = ("conv1_relu1", "maxpool1", "layer1", "layer2", "layer3", "layer4", "avgpool")

    def __init__(
        self,
        heads: Mapping[str, int],
        width: float = 1.0,
        cochleagram_kwargs: Mapping | None = None,
    ) -> None:
        super().__init__()
        if not width > 0:
            raise ValueError(f"width must be > 0, got {width}")
        self.heads_spec = check_heads(heads)
        self.width = width
        self.cochleagram = Cochleagram(**{"input_clamp": INPUT_CLAMP, **dict(cochleagram_kwargs or {})})

        stem = max(1, round(_STEM_CHANNELS * width))
        self.conv1 = nn.Conv2d(1, stem, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.conv1_relu1 = nn.ReLU(inplace=True)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        in_channels = stem
        stage_channels: list[int] = []
        for index, (planes, blocks, stride) in enumerate(_STAGES, start=1):
            planes_w = max(1, round(planes * width))
            stage = [Bottleneck(in_channels, planes_w, stride)]
            in_channels = planes_w * _EXPANSION
            stage += [Bottleneck(in_channels, planes_w) for _ in range(blocks - 1)]
            setattr(self, f"layer{index}", nn.Sequential(*stage))
            stage_channels.append(in_channels)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.embedding_dim = in_channels
        self.heads = nn.ModuleDict({name: nn.Linear(in_channels, n) for name, n in self.heads_spec.items()})

        freq, time = self.cochleagram.output_shape
        self.layer_shapes = self._layer_shapes(stem, stage_channels, freq, time)
        self._init_weights()

    def _init_weights(self) -> None:
        # He initialisation as in CochCNN9/torchvision (fan_out, as torchvision's ResNet does),
        # BN at identity, heads small so initial logits are near uniform.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        for head in self.heads.values():
            nn.init.normal_(head.weight, std=0.01)
            nn.init.zeros_(head.bias)

    @staticmethod
    def _layer_shapes(stem: int, stage_channels: list[int], freq: int, time: int) -> dict[str, tuple[int, ...]]:
        """Per-clip output shape ``(channels, freq, time)`` of every scored layer."""
        shapes: dict[str, tuple[int, ...]] = {}
        f, t = _conv_out(freq, 7, 2, 3), _conv_out(time, 7, 2, 3)
        shapes["conv1_relu1"] = (stem, f, t)
        f, t = _conv_out(f, 3, 2, 1), _conv_out(t, 3, 2, 1)
        shapes["maxpool1"] = (stem, f, t)
        for index, (channels, (_, _, stride)) in enumerate(zip(stage_channels, _STAGES), start=1):
            # Only the first block's 3x3 conv (and its projection) strides; the rest keep size.
            f, t = _conv_out(f, 3, stride, 1), _conv_out(t, 3, stride, 1)
            shapes[f"layer{index}"] = (channels, f, t)
        shapes["avgpool"] = (stage_channels[-1], 1, 1)
        return shapes

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        """Waveform ``[batch, samples]`` -> embedding ``[batch, embedding_dim]`` (2048 at width 1)."""
        return self.embed(self.cochleagram(waveform))

    def embed(self, cochleagram: torch.Tensor) -> torch.Tensor:
        """Cochleagram ``[batch, 211, 390]`` -> embedding ``[batch, embedding_dim]``."""
        x = cochleagram.unsqueeze(1)  # [batch, 1, 211, 390]
        x = self.conv1_relu1(self.bn1(self.conv1(x)))  # [batch, 64, 106, 195]
        x = self.maxpool1(x)  # [batch, 64, 53, 98]
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)  # [batch, 2048, 7, 13]
        return self.avgpool(x).flatten(1)

    def from_frontend(self, cochleagram: torch.Tensor) -> dict[str, torch.Tensor]:
        """Cochleagram ``[batch, 211, 390]`` -> ``{head: logits [batch, n_classes]}``."""
        x = self.embed(cochleagram)
        return {name: head(x) for name, head in self.heads.items()}


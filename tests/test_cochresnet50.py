"""CochResNet50 (docs/reference.md section 3): shapes, parameter count, hooks, gradients, config."""

from __future__ import annotations

import time

import pytest
import torch
from hydra.utils import instantiate

import evaluate
from models import CochResNet50
from tests.helpers.configs import compose_config

SMALL = 1 / 8  # CPU-sized: 8 stem channels, 256-d embedding
# Per-clip (channels, freq, time) at width 1.0 for a [1, 211, 390] cochleagram: conv1 and every
# stride-2 3x3 conv / pool map n -> (n - 1) // 2 + 1.
FULL_SHAPES = {
    "conv1_relu1": (64, 106, 195),
    "maxpool1": (64, 53, 98),
    "layer1": (256, 53, 98),
    "layer2": (512, 27, 49),
    "layer3": (1024, 14, 25),
    "layer4": (2048, 7, 13),
    "avgpool": (2048, 1, 1),
}


def expected_trunk_parameters(in_channels: int = 1) -> int:
    """ResNet-50 parameters without the classifier, from the architecture (convs have no bias)."""

    def bn(c: int) -> int:
        return 2 * c  # weight + bias

    total = in_channels * 64 * 7 * 7 + bn(64)  # stem
    c_in = 64
    for planes, blocks in ((64, 3), (128, 4), (256, 6), (512, 3)):
        out = 4 * planes
        for block in range(blocks):
            total += c_in * planes + bn(planes)  # 1x1 reduce
            total += 9 * planes * planes + bn(planes)  # 3x3
            total += planes * out + bn(out)  # 1x1 expand
            if block == 0:  # projection shortcut (channels change in every stage's first block)
                total += c_in * out + bn(out)
            c_in = out
    return total


def run_with_hooks(model: CochResNet50, waveform: torch.Tensor) -> tuple[dict, dict[str, list[torch.Size]]]:
    """Forward once, recording every scored layer's output shape(s)."""
    seen: dict[str, list[torch.Size]] = {name: [] for name in CochResNet50.SCORED_LAYERS}
    handles = [
        model.get_submodule(name).register_forward_hook(lambda m, i, o, name=name: seen[name].append(o.shape))
        for name in CochResNet50.SCORED_LAYERS
    ]
    try:
        out = model(waveform)
    finally:
        for h in handles:
            h.remove()
    return out, seen


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(0)
    return CochResNet50({"word": 7, "speaker": 3}, width=SMALL).eval()


@pytest.fixture(scope="module")
def full():
    torch.manual_seed(0)
    return CochResNet50({"word": 794})


@pytest.fixture(scope="module")
def waveform():
    torch.manual_seed(1)
    return 0.1 * torch.randn(2, 40000)


def test_outputs_one_head(waveform):
    net = CochResNet50({"word": 5}, width=SMALL).eval()
    with torch.no_grad():
        out = net(waveform)
        emb = net.features(waveform)
    assert set(out) == {"word"} and out["word"].shape == (2, 5)
    assert emb.shape == (2, 256) and net.embedding_dim == 256
    assert torch.isfinite(out["word"]).all()


def test_outputs_two_heads(small, waveform):
    with torch.no_grad():
        out = small(waveform)
    assert set(out) == {"word", "speaker"}
    assert out["word"].shape == (2, 7) and out["speaker"].shape == (2, 3)
    assert small.conv1.in_channels == 1 and small.conv1.out_channels == 8
    assert small.layer4[-1].conv3.out_channels == 2048 * SMALL


def test_full_width_parameter_count_and_shapes(full):
    trunk = sum(p.numel() for name, p in full.named_parameters() if not name.startswith("heads."))
    # torchvision resnet50: 25,557,032 total = 23,508,032 trunk + 2,049,000 fc; a 1-channel
    # conv1 has 2 x 64 x 49 fewer weights.
    assert expected_trunk_parameters(3) == 23_508_032
    assert trunk == expected_trunk_parameters(1) == 23_508_032 - 2 * 64 * 49
    assert sum(p.numel() for p in full.heads.parameters()) == 2048 * 794 + 794
    assert full.embedding_dim == 2048
    assert full.layer_shapes == FULL_SHAPES
    assert isinstance(full.conv1_relu1, torch.nn.ReLU)
    assert isinstance(full.avgpool, torch.nn.AdaptiveAvgPool2d)


def test_full_width_forward_backward_time(full, waveform):
    """Times one training step on CPU (printed, not asserted) and checks the real hook shapes."""
    full.train()
    full.zero_grad()
    start = time.perf_counter()
    out, seen = run_with_hooks(full, waveform)
    out["word"].logsumexp(1).sum().backward()
    elapsed = time.perf_counter() - start
    print(f"\nCochResNet50 width 1.0, batch 2, CPU forward+backward: {elapsed:.2f} s")
    for name, shapes in seen.items():
        assert shapes == [torch.Size((2, *FULL_SHAPES[name]))], name
    assert full.conv1.weight.grad is not None


def test_hooks_fire_once_with_layer_shapes(small, waveform):
    assert list(small.layer_shapes) == list(CochResNet50.SCORED_LAYERS)
    with torch.no_grad():
        _, seen = run_with_hooks(small, waveform)
    for name in CochResNet50.SCORED_LAYERS:
        assert seen[name] == [torch.Size((2, *small.layer_shapes[name]))], name
    assert small.layer_shapes["conv1_relu1"] == (8, 106, 195)
    assert small.layer_shapes["avgpool"] == (256, 1, 1)


def test_gradients_reach_waveform_and_every_parameter():
    torch.manual_seed(0)
    net = CochResNet50({"word": 5}, width=SMALL)
    x = (0.1 * torch.randn(2, 40000)).requires_grad_(True)
    net(x)["word"].logsumexp(1).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert net.conv1.weight.grad.abs().sum() > 0


def test_extract_activations(small, waveform):
    acts = evaluate.extract_activations(small, waveform, cache=False, progress=False)
    assert list(acts) == list(CochResNet50.SCORED_LAYERS)
    for name, features in acts.items():
        c, f, _ = small.layer_shapes[name]
        assert features.shape == (2, c * f), name  # time-averaged: channels x frequency
    assert acts["avgpool"].shape == (2, int(2048 * SMALL))
    with torch.no_grad():
        assert torch.allclose(torch.from_numpy(acts["avgpool"]), small.features(waveform), atol=1e-5)


def test_tiny_width_keeps_one_channel():
    net = CochResNet50({"word": 2}, width=1e-3)
    assert net.conv1.out_channels == 1 and net.embedding_dim == 4
    assert net.layer_shapes["layer4"][0] == 4


@pytest.mark.parametrize("heads", [{}, {"word": 0}, {"not a name": 3}, [("word", 3)]])
def test_bad_heads(heads):
    with pytest.raises(ValueError, match="head"):
        CochResNet50(heads, width=SMALL)


@pytest.mark.parametrize("width", [0, -1.0])
def test_bad_width(width):
    with pytest.raises(ValueError, match="width"):
        CochResNet50({"word": 3}, width=width)


def test_config_composes():
    cfg = compose_config("train", ["model=cochresnet50"])
    assert cfg.model.width == 1.0
    net = instantiate(cfg.model, heads={"word": 5})
    assert isinstance(net, CochResNet50)
    assert net.heads["word"].out_features == 5 and net.embedding_dim == 2048


def released_resnet50_keys(heads: dict[str, int]) -> dict[str, tuple[int, ...]]:
    """The state-dict keys and shapes of the authors' ResNet-50 networks (torchvision names;
    docs/reference.md section 8), written out independently of the model code. Heads under
    our names (``heads.<task>.*``, the file's ``fc.*``)."""
    keys: dict[str, tuple[int, ...]] = {}

    def bn(name: str, c: int) -> None:
        keys.update({f"{name}.weight": (c,), f"{name}.bias": (c,), f"{name}.running_mean": (c,),
                     f"{name}.running_var": (c,), f"{name}.num_batches_tracked": ()})  # fmt: skip

    keys["conv1.weight"] = (64, 1, 7, 7)
    bn("bn1", 64)
    c_in = 64
    for stage, (planes, blocks) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3)), start=1):
        for b in range(blocks):
            p = f"layer{stage}.{b}"
            keys[f"{p}.conv1.weight"] = (planes, c_in, 1, 1)
            bn(f"{p}.bn1", planes)
            keys[f"{p}.conv2.weight"] = (planes, planes, 3, 3)
            bn(f"{p}.bn2", planes)
            keys[f"{p}.conv3.weight"] = (4 * planes, planes, 1, 1)
            bn(f"{p}.bn3", 4 * planes)
            if b == 0:
                keys[f"{p}.downsample.0.weight"] = (4 * planes, c_in, 1, 1)
                bn(f"{p}.downsample.1", 4 * planes)
            c_in = 4 * planes
    for name, n in heads.items():
        keys[f"heads.{name}.weight"], keys[f"heads.{name}.bias"] = (n, 2048), (n,)
    return keys


def test_state_dict_is_the_authors_key_by_key(full):
    """Same keys, same order, same shapes as the released ResNet-50s; no convolution biases;
    the stem (7x7 stride 2 padding 3, max pool 3/2/1) as torchvision's."""
    expected = released_resnet50_keys(full.heads_spec)
    actual = {k: tuple(v.shape) for k, v in full.state_dict().items()}
    assert list(actual) == list(expected)
    assert actual == expected
    assert not any(m.bias is not None for m in full.modules() if isinstance(m, torch.nn.Conv2d))
    assert (full.conv1.kernel_size, full.conv1.stride, full.conv1.padding) == ((7, 7), (2, 2), (3, 3))
    assert (full.maxpool1.kernel_size, full.maxpool1.stride, full.maxpool1.padding) == (3, 2, 1)
    assert full.cochleagram.input_clamp == 1.0  # the authors' normaliser clamps the waveform to [-1, 1]

from __future__ import annotations

import pytest
import torch

from models import CochCNN9

# REFERENCE.md section 2: time-averaged feature sizes (channels x frequency).
REFERENCE_SIZES = {
    "relu0": 6816,
    "maxpool0": 3456,
    "relu1": 4608,
    "maxpool1": 2304,
    "relu2": 4608,
    "relu3": 9216,
    "relu4": 4608,
    "avgpool": 2560,
    "relufc": 4096,
}
CHANNELS = {"relu0": 96, "maxpool0": 96, "relu1": 256, "maxpool1": 256, "relu2": 512, "relu3": 1024, "relu4": 512,
            "avgpool": 512}  # fmt: skip


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return CochCNN9(heads={"word": 794, "speaker": 433}).eval()


def test_scored_layers_shapes_match_reference(model):
    outputs = {}
    handles = [
        getattr(model, name).register_forward_hook(lambda m, i, o, name=name: outputs.__setitem__(name, o))
        for name in CochCNN9.SCORED_LAYERS
    ]
    x = 0.1 * torch.randn(2, 40000)
    with torch.no_grad():
        logits = model(x)
    for h in handles:
        h.remove()
    assert set(outputs) == set(REFERENCE_SIZES)
    for name, out in outputs.items():
        assert out.shape[0] == 2
        assert out.shape[1:] == model.layer_shapes[name]
        if name == "relufc":
            assert out.shape == (2, 4096)
            averaged = out
        else:
            assert out.shape[1] == CHANNELS[name]
            averaged = out.mean(dim=-1).flatten(1)  # average over time -> channels x frequency
        assert averaged.shape[1] == REFERENCE_SIZES[name], name
    assert logits["word"].shape == (2, 794)
    assert logits["speaker"].shape == (2, 433)
    assert model.fullyconnected.in_features == 512 * 9 * 5


def test_parameter_count_and_width_multiplier():
    full = CochCNN9({"word": 10})
    small = CochCNN9({"word": 10}, width=0.25)
    assert small.conv0.out_channels == 24 and small.conv3.out_channels == 256
    assert small.fullyconnected.out_features == 1024
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in full.parameters()) / 10
    out = small(0.1 * torch.randn(3, 40000))
    assert out["word"].shape == (3, 10)


def test_gradients_reach_every_layer():
    net = CochCNN9({"word": 5}, width=0.125)
    net(0.1 * torch.randn(2, 40000))["word"].logsumexp(1).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_batchnorm0_init():
    net = CochCNN9({"word": 5}, width=0.125, batchnorm0_init=(0.6180, -2.0971))
    assert net.batchnorm0.weight.item() == pytest.approx(0.6180)
    assert net.batchnorm0.bias.item() == pytest.approx(-2.0971)


@pytest.mark.parametrize("shape", [(40000,), (2, 20000)])
def test_wrong_waveform_shape(shape):
    net = CochCNN9({"word": 5}, width=0.125)
    with pytest.raises(ValueError, match=r"\[batch, 40000\]"):
        net(torch.zeros(shape))


@pytest.mark.parametrize("heads", [{}, {"word": 0}, {"not a name": 3}, [("word", 3)]])
def test_bad_heads(heads):
    with pytest.raises(ValueError, match="head"):
        CochCNN9(heads, width=0.125)

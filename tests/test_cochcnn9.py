from __future__ import annotations

import pytest
import torch

from models import CochCNN9

# docs/reference.md section 2: time-averaged feature sizes (channels x frequency).
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


def released_cochcnn9_keys(heads: dict[str, int]) -> dict[str, tuple[int, ...]]:
    """The state-dict keys and shapes of the authors' CochCNN9 networks (docs/reference.md
    section 8), heads under our names (the file's ``classification.*``)."""
    keys: dict[str, tuple[int, ...]] = {}

    def bn(name: str, c: int) -> None:
        keys.update({f"{name}.weight": (c,), f"{name}.bias": (c,), f"{name}.running_mean": (c,),
                     f"{name}.running_var": (c,), f"{name}.num_batches_tracked": ()})  # fmt: skip

    bn("batchnorm0", 1)
    keys["conv0.weight"] = (96, 1, 7, 14)
    bn("batchnorm1", 96)
    keys["conv1.weight"] = (256, 96, 4, 8)
    bn("batchnorm2", 256)
    keys["conv2.weight"] = (512, 256, 2, 5)
    keys["conv3.weight"] = (1024, 512, 2, 5)
    keys["conv4.weight"] = (512, 1024, 2, 5)
    keys["fullyconnected.weight"], keys["fullyconnected.bias"] = (4096, 23040), (4096,)
    for name, n in heads.items():
        keys[f"heads.{name}.weight"], keys[f"heads.{name}.bias"] = (n, 4096), (n,)
    return keys


def test_state_dict_is_the_authors_key_by_key(model):
    """No convolution biases; the keys, their order and shapes of the released networks."""
    expected = released_cochcnn9_keys({"word": 794, "speaker": 433})
    actual = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert list(actual) == list(expected) and actual == expected


def test_average_pool_counts_padded_zeros():
    """relu4's [9, 17] output is padded (0, 1) in frequency and (2, 2) in time, and every
    window is divided by 10: at a constant input the 17 border positions that touch padding
    are below the constant (TensorFlow's pad-excluding average would keep it)."""
    net = CochCNN9({"word": 3}, width=0.125)
    out = net.avgpool(torch.ones(1, 2, 9, 17))
    assert out.shape == (1, 2, 5, 9)
    assert int((out[0, 0] < 1).sum()) == 17
    assert out[0, 0, 0, 0].item() == pytest.approx(6 / 10)  # 2 x 3 real cells of 2 x 5
    assert out[0, 0, 4, 4].item() == pytest.approx(5 / 10)  # last row: 1 real row of 2
    assert out[0, 0, 1, 1].item() == 1.0


def test_waveform_is_clamped_to_plus_minus_one_before_the_cochleagram():
    torch.manual_seed(0)
    net = CochCNN9({"word": 3}, width=0.125).eval()
    assert net.cochleagram.input_clamp == 1.0
    x = 0.1 * torch.randn(2, 40000)
    x[:, 100:110] = 5.0
    with torch.no_grad():
        torch.testing.assert_close(net(x)["word"], net(x.clamp(-1, 1))["word"])
        net.cochleagram.input_clamp = None
        assert not torch.allclose(net(x)["word"], net(x.clamp(-1, 1))["word"])

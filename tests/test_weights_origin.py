"""Where the weights of a model built from a config came from (``python -m evaluate
model._target_=...``): a random initialisation is called untrained, weights its constructor
loads (a pretrained file, a wheel's bundled weights) never are, and a model without
parameters says so."""

from __future__ import annotations

import torch
from omegaconf import OmegaConf
from torch import nn

from evaluate.app import build_model
from models.contract import weights_digest


class RandomInit(nn.Module):
    """A network with a fresh random initialisation (as a user's untrained architecture)."""

    SCORED_LAYERS = ("fc",)

    def __init__(self, width: int = 8):
        super().__init__()
        self.fc = nn.Linear(4, width)

    def forward(self, x):
        return self.fc(x[:, :4])


class LoadsItsWeights(RandomInit):
    """Built like RandomInit, then overwritten from a file: how a pretrained package (e.g.
    Resemblyzer's encoder, whose weights ship in its wheel) builds its model."""

    def __init__(self, weights: str):
        super().__init__()
        self.load_state_dict(torch.load(weights))


class NoParameters(nn.Module):
    SCORED_LAYERS = ("pool",)

    def __init__(self):
        super().__init__()
        self.register_buffer("window", torch.hann_window(16))
        self.pool = nn.Identity()

    def forward(self, x):
        return self.pool(x)


def _cfg(target: str, **kwargs):
    return OmegaConf.create({"ckpt_path": None, "seed": 0, "heads": {"word": 3},
                             "model": {"_target_": f"{__name__}.{target}", **kwargs}})  # fmt: skip


def test_a_random_initialisation_is_untrained_and_the_rng_is_left_as_one_build_leaves_it():
    net, ident, info = build_model(_cfg("RandomInit"), torch.device("cpu"))
    after = torch.random.get_rng_state()
    torch.manual_seed(0)
    RandomInit()
    assert torch.equal(after, torch.random.get_rng_state())  # the second build under seed 1 left no trace
    assert ident == "RandomInit-untrained-seed0"
    assert info["weights"]["origin"].startswith("random initialisation") and info["weights"]["sha256"] == weights_digest(net)


def test_weights_a_constructor_loads_are_never_called_untrained(tmp_path):
    torch.manual_seed(123)
    pretrained = RandomInit().state_dict()
    path = tmp_path / "encoder.pt"
    torch.save(pretrained, path)
    net, ident, info = build_model(_cfg("LoadsItsWeights", weights=str(path)), torch.device("cpu"))
    assert "untrained" not in ident
    digest = weights_digest(net)
    assert ident == f"LoadsItsWeights-weights-{digest[:12]}" and info["weights"]["sha256"] == digest
    assert "not a random initialisation" in info["weights"]["origin"]
    assert all(torch.equal(net.state_dict()[k], v) for k, v in pretrained.items())
    # The digest is of the tensors themselves: other weights, another label.
    torch.save({k: v + 1 for k, v in pretrained.items()}, path)
    _, other, _ = build_model(_cfg("LoadsItsWeights", weights=str(path)), torch.device("cpu"))
    assert other != ident and other.startswith("LoadsItsWeights-weights-")


class LoadsAndSays(LoadsItsWeights):
    """A loader that records its file (``provenance``) but sets no identifier."""

    def __init__(self, weights: str):
        super().__init__(weights)
        self.provenance = {"file": weights}


def test_a_loaders_own_record_is_kept_beside_the_origin(tmp_path):
    path = tmp_path / "w.pt"
    torch.save(RandomInit().state_dict(), path)
    net, ident, info = build_model(_cfg("LoadsAndSays", weights=str(path)), torch.device("cpu"))
    assert info["weights"]["file"] == str(path) and info["weights"]["sha256"] == weights_digest(net)
    assert ident.startswith("LoadsAndSays-weights-")


def test_a_model_without_parameters_is_parameter_free():
    _, ident, info = build_model(_cfg("NoParameters"), torch.device("cpu"))
    assert ident == "NoParameters-parameter-free" and "no parameters" in info["weights"]["origin"]


def test_weights_digest_sees_names_values_and_dtypes():
    a, b = RandomInit(), RandomInit()
    b.load_state_dict(a.state_dict())
    assert weights_digest(a) == weights_digest(b)
    with torch.no_grad():
        b.fc.bias[0] += 1e-6
    assert weights_digest(a) != weights_digest(b)
    b.load_state_dict(a.state_dict())
    assert weights_digest(a.double()) != weights_digest(b)  # the same values in float64
    assert weights_digest(nn.Identity()) is None

"""The model contract (models/contract.py): what every network declares, and what evaluation
reads through it -- including the front-end path the brain-score callback uses."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_module
from torch import nn

from evaluate.activations import extract_activations, frontend_outputs
from models import CochCNN9, CochResNet50, SpectroTemporal
from models.contract import (
    FrontEndModel,
    ScoredModel,
    input_rate,
    model_identifier,
    parameter_free_frontend,
    scored_layers,
)
from train.app import build_module


def _waves(n: int, samples: int = 40000, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal((n, samples))).astype(np.float32)


@pytest.fixture(scope="module")
def cnn() -> CochCNN9:
    torch.manual_seed(0)
    return CochCNN9({"word": 3, "speaker": 2}, width=1 / 16).eval()


def test_every_network_implements_the_contract(cnn):
    torch.manual_seed(0)
    nets = [cnn, CochResNet50({"word": 3}, width=1 / 16), SpectroTemporal()]
    for net in nets:
        assert isinstance(net, ScoredModel) and isinstance(net, FrontEndModel), type(net).__name__
        assert input_rate(net) == 20000
        assert scored_layers(net) == list(net.SCORED_LAYERS)
        assert parameter_free_frontend(net) is net.cochleagram
    assert model_identifier(cnn) is None  # random init: the caller names it from its seed
    assert model_identifier(SpectroTemporal()) == "SpectroTemporal"


def test_forward_is_a_dict_of_logits_per_head_and_equals_the_front_end_path(cnn):
    x = torch.from_numpy(_waves(2))
    with torch.inference_mode():
        out = cnn(x)
        via = cnn.from_frontend(cnn.frontend(x))
    assert {k: tuple(v.shape) for k, v in out.items()} == {"word": (2, 3), "speaker": (2, 2)}
    for head in out:
        assert torch.equal(out[head], via[head])


def test_a_plain_module_gets_the_documented_defaults():
    plain = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    assert not isinstance(plain, ScoredModel)
    with pytest.raises(ValueError, match=r"Sequential does not define SCORED_LAYERS; .*such as 0, 1"):
        scored_layers(plain)
    assert input_rate(plain) == 20000 and input_rate(plain, 16000) == 16000
    assert model_identifier(plain) is None and parameter_free_frontend(plain) is None

    class Odd(nn.Module):
        sample_rate = 22050.5

    with pytest.raises(ValueError, match=r"Odd.sample_rate must be a positive whole number of Hz, got 22050.5"):
        input_rate(Odd())


def test_activations_from_precomputed_front_end_equal_the_full_forward(cnn, tmp_path):
    wav = _waves(3, seed=1)
    layers = ["relu0", "avgpool", "relufc"]
    full = extract_activations(cnn, wav, layers, batch_size=2, cache=False, progress=False)
    front = frontend_outputs(cnn, wav, batch_size=2, cache_dir=tmp_path)
    assert front.shape == (3, 211, 390)
    fast = extract_activations(cnn, wav, layers, batch_size=2, cache=False, progress=False, frontend_outputs=front)
    for layer in layers:
        assert np.array_equal(full[layer], fast[layer]), layer
    # cached on disk: a second call reads the file; a corrupt file is rebuilt, same numbers
    (entry,) = (tmp_path / "frontend").glob("*.npz")
    assert torch.equal(frontend_outputs(cnn, wav, batch_size=2, cache_dir=tmp_path), front)
    entry.write_bytes(b"not an npz")
    assert torch.equal(frontend_outputs(cnn, wav, batch_size=2, cache_dir=tmp_path), front)


def test_front_end_misuse_is_a_clear_error(cnn, tmp_path):
    wav = _waves(2, seed=2)
    front = frontend_outputs(cnn, wav, cache=False)
    with pytest.raises(ValueError, match=r"layers \['cochleagram'\] lie inside the front end"):
        extract_activations(cnn, wav, ["cochleagram", "relu0"], cache=False, progress=False, frontend_outputs=front)
    with pytest.raises(ValueError, match="frontend_outputs has 1 rows for 2 waveforms"):
        extract_activations(cnn, wav, ["relu0"], cache=False, progress=False, frontend_outputs=front[:1])
    plain = nn.Sequential(nn.Linear(40000, 2))
    assert frontend_outputs(plain, wav) is None
    with pytest.raises(ValueError, match="Sequential has no parameter-free front end"):
        extract_activations(plain, wav, ["0"], cache=False, progress=False, frontend_outputs=front)


def test_training_a_model_without_heads_is_a_clear_error():
    with initialize_config_module(config_module="conf", version_base="1.3"):
        cfg = compose(config_name="train", overrides=["model=spectrotemporal"])
    data = SimpleNamespace(label_sizes={"word": 3}, vocabularies={"word": ["a", "b", "c"]})
    with pytest.raises(ValueError, match=r"model models.SpectroTemporal has no heads to train .*python -m evaluate"):
        build_module(cfg, data)

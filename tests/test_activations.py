"""Activation extraction (evaluate.extract_activations) and scoring a module directly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from evaluate import Benchmark, extract_activations, score_model
from evaluate.benchmark import BenchmarkError
from models import CochCNN9


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return CochCNN9(heads={"word": 5}, width=1 / 16)


@pytest.fixture(scope="module")
def waves():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 40000)).astype(np.float32)
    return 0.1 * w / np.sqrt((w**2).mean(axis=1, keepdims=True))


def test_time_averaged_features_of_cochcnn9(net, waves, tmp_path):
    acts = extract_activations(net, waves, batch_size=2, cache_dir=tmp_path, progress=False)
    assert list(acts) == list(CochCNN9.SCORED_LAYERS)
    for name, shape in net.layer_shapes.items():
        expected = shape[0] * shape[1] if len(shape) == 3 else shape[0]
        assert acts[name].shape == (5, expected), name
        assert acts[name].dtype == np.float32
    # Independent computation of two layers.
    net.eval()
    with torch.no_grad():
        x = torch.from_numpy(waves)
        coch = net.batchnorm0(net.cochleagram(x).unsqueeze(1))
        relu0 = net.relu0(net.conv0(coch))  # [batch, channels, freq, time]
        np.testing.assert_allclose(acts["relu0"], relu0.mean(dim=-1).flatten(1).numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(acts["relufc"], net.features(x).numpy(), rtol=1e-5, atol=1e-6)


def test_batch_size_and_mode_do_not_change_features(net, waves, tmp_path):
    net.train()
    a = extract_activations(net, waves, ["relu2", "relufc"], batch_size=5, cache=False, progress=False)
    assert net.training  # restored
    b = extract_activations(net, waves, ["relu2", "relufc"], batch_size=2, cache=False, progress=False)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6)


class Sequence(nn.Module):
    """A toy sequence model: [batch, samples] -> frames [batch, time, dim]."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(100, 8)
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        frames = self.proj(x.reshape(x.shape[0], -1, 100))
        return self.out(frames.relu())


def test_sequence_outputs_are_averaged_over_time(waves):
    model = Sequence()
    acts = extract_activations(model, waves, ["proj", "out"], cache=False, progress=False)
    with torch.no_grad():
        frames = model.proj(torch.from_numpy(waves).reshape(5, -1, 100))
    np.testing.assert_allclose(acts["proj"], frames.mean(dim=1).numpy(), rtol=1e-5, atol=1e-6)
    assert acts["out"].shape == (5, 3)


def test_layer_errors(net, waves):
    with pytest.raises(ValueError, match=r"has no submodule\(s\) \['relu9'\]; available: .*relu0"):
        extract_activations(net, waves, ["relu0", "relu9"], cache=False, progress=False)
    with pytest.raises(ValueError, match="does not define SCORED_LAYERS"):
        extract_activations(Sequence(), waves, cache=False, progress=False)
    with pytest.raises(ValueError, match=r"waveforms must be \[n_sounds, samples\]"):
        extract_activations(net, waves[0], cache=False, progress=False)


def test_score_model_needs_waveforms_and_scores_a_module(net, waves, tmp_path):
    rng = np.random.default_rng(0)
    responses = rng.standard_normal((12, 6, 3))
    no_audio = Benchmark.from_arrays(responses, participant=[0, 0, 0, 1, 1, 1], name="tiny")
    with pytest.raises(BenchmarkError, match="has no waveforms"):
        score_model(net, no_audio)
    wav = np.tile(waves, (3, 1))[:12] * rng.uniform(0.5, 1.5, (12, 1)).astype(np.float32)
    bench = Benchmark.from_arrays(responses, participant=[0, 0, 0, 1, 1, 1], waveforms=wav, name="tiny")
    result = score_model(net, bench, ["relu0", "relufc"], cache_dir=tmp_path, progress=False)
    assert result.model == "CochCNN9" and result.layers == ["relu0", "relufc"]
    assert np.isfinite(result.value)

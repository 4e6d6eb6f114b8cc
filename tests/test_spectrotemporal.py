"""SpectroTemporal baseline (REFERENCE.md section 6, controls): layout, filter selectivity, scoring."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from evaluate import Score, load_benchmark, score_model
from evaluate.activations import reduce_output
from evaluate.benchmark import ROIS
from models import SpectroTemporal
from models.spectrotemporal import ModulationFilterBank
from tests.test_evaluate_cli import only_run_dir, run

RATES = [0, 0.5, 1, 2, 4, 8, 16, 32, 64]  # Hz
SCALES = [0, 0.0625, 0.125, 0.25, 0.5, 1, 2]  # cycles/ERB
VOXELS = 40  # per participant: the small synthetic benchmark shared with the other tests


@pytest.fixture(scope="module")
def model():
    return SpectroTemporal().eval()


def test_filter_layout_and_counts(model):
    specs = model.filters.specs
    assert len(specs) == 111 and len(set(specs)) == 111
    assert sorted({s[0] for s in specs}) == RATES and sorted({s[1] for s in specs}) == SCALES
    directional = [s for s in specs if s[2] is not None]
    assert len(directional) == 96 and {s[2] for s in directional} == {"up", "down"}
    assert all((s[0] == 0 or s[1] == 0) == (s[2] is None) for s in specs)
    # Documented grid order: rates ascending, then scales, then up before down.
    assert specs[:8] == [(0.0, s, None) for s in map(float, SCALES)] + [(0.5, 0.0, None)]
    assert specs[8:10] == [(0.5, 0.0625, "up"), (0.5, 0.0625, "down")] and specs[-1] == (64.0, 2.0, "down")
    assert list(model.SCORED_LAYERS) == ["filters"]
    # The reference cochleagram is unchanged and its channels are 0.1636 ERB apart.
    assert model.cochleagram.output_shape == (211, 390)
    assert model.filters.channel_spacing_erb == pytest.approx(0.163605, abs=1e-6)
    assert model.filters.n_x >= 2 * 211 and model.filters.n_t >= 2 * 390
    # Nothing to train; heads (passed by the training configs) are ignored.
    assert sum(p.numel() for p in model.parameters()) == 0
    assert not any(p.requires_grad for p in model.parameters())
    assert sum(p.numel() for p in SpectroTemporal(heads={"word": 794}).parameters()) == 0


def test_forward_and_hooked_layer_shapes(model):
    captured = {}
    handle = model.filters.register_forward_hook(lambda m, i, o: captured.__setitem__("filters", o))
    waveform = 0.1 * torch.randn(2, 40000, generator=torch.Generator().manual_seed(0))
    try:
        with torch.inference_mode():
            features = model(waveform)
    finally:
        handle.remove()
    assert features.shape == (2, 23421) and features.dtype == torch.float32
    assert torch.isfinite(features).all() and (features >= 0).all()
    layer = captured["filters"]
    assert layer.shape == (2, 111, 211, 390) and (layer >= 0).all()
    # The scoring code's reduction of the hooked layer is the model's output.
    torch.testing.assert_close(reduce_output(layer, "filters"), features)


def test_batched_passes_match_one_sound_at_a_time(model, monkeypatch):
    """Accelerators filter many sounds per pass: the batched code path gives the same power."""
    import models.spectrotemporal as st

    coch = 0.05 + 0.1 * torch.rand(3, 211, 390, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        single = model.filters(coch)
        monkeypatch.setattr(st, "_CPU_CHUNK", 3)
        batched = model.filters(coch)
    torch.testing.assert_close(batched, single, rtol=1e-5, atol=1e-9)


def ripple_power(bank: ModulationFilterBank, rate_hz: float, scale_cyc_per_erb: float) -> torch.Tensor:
    """Time- and channel-averaged power [111] of the cochleagram ``1 + cos(2 pi (w t + W x))``
    (t in s at the frame rate, x in ERB along the channels); W > 0 moves down, W < 0 up."""
    t = torch.arange(bank.n_frames, dtype=torch.float64) / bank.frame_rate
    x = torch.arange(bank.n_channels, dtype=torch.float64) * bank.channel_spacing_erb
    ripple = 1 + torch.cos(2 * math.pi * (rate_hz * t[None, :] + scale_cyc_per_erb * x[:, None]))
    with torch.inference_mode():
        return bank(ripple[None].float())[0].mean(dim=(1, 2))


@pytest.mark.parametrize("rate, scale", [(4, 0.5), (16, 0.125), (1, 1), (64, 2), (0.5, 0.0625), (32, 0.0625)])
def test_ripples_excite_the_matching_rate_scale_and_direction(model, rate, scale):
    bank = model.filters
    index = {spec: k for k, spec in enumerate(bank.specs)}
    modulated = [k for k, (r, s, _) in enumerate(bank.specs) if r > 0 and s > 0]  # both non-zero
    for direction, opposite, sign in (("down", "up", 1), ("up", "down", -1)):
        power = ripple_power(bank, rate, sign * scale)
        best = max(modulated, key=lambda k: power[k])
        assert bank.specs[best] == (rate, scale, direction), (bank.specs[best], rate, scale, direction)
        # Normalisation: a unit-amplitude ripple gives power near 1 (less for ripples with about
        # one cycle in the 2-s clip); the opposite sweep direction is rejected.
        assert 0.4 < power[index[(rate, scale, direction)]] < 1.05
        assert power[index[(rate, scale, opposite)]] < 0.02 * power[best]


def test_pure_temporal_and_spectral_modulations_and_a_constant(model):
    bank = model.filters
    power = ripple_power(bank, 8, 0)  # amplitude modulation, the same in every channel
    best = max(range(bank.n_filters), key=lambda k: power[k] if bank.specs[k][0] > 0 else -1)
    assert bank.specs[best] == (8.0, 0.0, None) and power[best] > 0.9
    power = ripple_power(bank, 0, 0.5)  # static spectral ripple
    best = max(range(bank.n_filters), key=lambda k: power[k] if bank.specs[k][1] > 0 else -1)
    assert bank.specs[best] == (0.0, 0.5, None) and power[best] > 0.9
    # A constant passes only the rate-0, scale-0 low-pass, with gain 1 up to the edges: the
    # padding does not add edge transients.
    with torch.inference_mode():
        out = bank(torch.full((1, 211, 390), 0.1))
    torch.testing.assert_close(out[0, 0], torch.full((211, 390), 0.01))
    assert out[0, 1:].abs().max() < 1e-8


def test_rejects_a_wrong_size_and_gradients(model):
    with pytest.raises(ValueError, match=r"expects a cochleagram \[batch, 211, 390\]"):
        model.filters(torch.zeros(1, 211, 400))
    with pytest.raises(RuntimeError, match="not differentiable"):
        model.filters(torch.zeros(1, 211, 390, requires_grad=True))


@pytest.mark.slow  # ~1-3 min on 2 cores: 165 sounds through the filter bank, in a new interpreter
def test_evaluate_cli_scores_the_model(tmp_path, cache_dir):
    logs = tmp_path / "logs"
    run(["model=spectrotemporal", "benchmark=synthetic", f"benchmark.voxels_per_participant={VOXELS}",
         "figures=false", "cache_activations=false", "progress=false"], logs, cache_dir)  # fmt: skip
    out_dir = only_run_dir(logs)
    head = json.loads((out_dir / "score" / "score.json").read_text())
    assert head["model"] == "SpectroTemporal-untrained-seed0" and head["layers"] == ["filters"]
    saved = Score.load(out_dir / "score")
    assert saved.benchmark == "synthetic" and saved.per_voxel["voxel"].nunique() == 8 * VOXELS
    assert 0 < saved.value < 1


@pytest.mark.slow  # ~1-2 min on 2 cores (plus building the synthetic benchmark once per session)
def test_predicts_primary_better_than_non_primary_regions(cache_dir):
    bench = load_benchmark("synthetic", voxels_per_participant=VOXELS, cache_dir=cache_dir, progress=False)
    result = score_model(SpectroTemporal(), bench, cache=True, cache_dir=cache_dir, progress=False, rsa=False)
    roi = result.per_roi.set_index("roi")["value"]
    assert np.isfinite(roi[list(ROIS)]).all(), roi
    for other in ROIS[1:]:
        assert roi["Primary"] > roi[other], roi

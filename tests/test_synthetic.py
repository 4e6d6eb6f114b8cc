"""The SYNTHETIC auditory-cortex benchmark: known truth, noise settings, determinism, cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluate import load_benchmark, score
from evaluate.benchmark import ROIS
from evaluate.synthetic import COMPONENT_NAMES, SyntheticSpec, _entry, ground_truth_features, load_synthetic

SMALL = {"n_participants": 8, "voxels_per_participant": 40}


@pytest.fixture(scope="module")
def bench(cache_dir):
    return load_synthetic(**SMALL, cache_dir=cache_dir, progress=False)


@pytest.fixture(scope="module")
def truth(bench, cache_dir):
    return ground_truth_features(**SMALL, cache_dir=cache_dir)


def test_layout_and_labels(bench):
    assert bench.name == "synthetic" and bench.kind == "voxels"
    assert bench.responses.shape == (165, 320, 3)
    assert bench.waveforms.shape == (165, 40000) and bench.waveforms.dtype == np.float32
    np.testing.assert_allclose(np.sqrt((bench.waveforms.astype(float) ** 2).mean(axis=1)), 0.1, rtol=1e-3)
    counts = pd.Series(bench.categories).value_counts()
    assert len(counts) == 11 and (counts == 15).all()
    assert all(s.startswith("syn") for s in bench.stimulus_ids) and len(set(bench.stimulus_ids)) == 165
    assert set(bench.roi) == set(ROIS) and len(np.unique(bench.participant)) == 8
    assert (pd.Series(bench.participant).value_counts() == 40).all()


def test_ground_truth_scores_at_the_ceiling_and_random_features_near_zero(bench, truth):
    rng = np.random.default_rng(0)
    result = score({"truth": truth, "random": rng.standard_normal((165, 300))}, bench, model="truth", progress=False)
    per_layer = result.per_layer.set_index("layer")["value"]
    # Noise-corrected r2 of the exact linear readout: the ceiling within sampling error.
    assert 0.85 <= per_layer["truth"] <= 1.0, per_layer
    assert per_layer["random"] < 0.05
    roi = result.per_roi.set_index("roi")["value"]
    assert (roi[list(ROIS)] > 0.8).all(), roi
    # Uncorrected r2 is far lower: the correction is doing the work.
    truth_vox = result.per_voxel[result.per_voxel["layer"] == "truth"]
    assert truth_vox["r2"].median() < 0.75 < truth_vox["r2_corrected"].median()
    assert result.benchmark == "synthetic" and "synthetic" in result.summary()


def cochleagram_statistics(waveforms: np.ndarray) -> np.ndarray:
    """Time-averaged cochleagram [165, 211]: a low-level feature set."""
    import torch

    from models import Cochleagram

    with torch.inference_mode():
        return Cochleagram()(torch.from_numpy(waveforms)).mean(dim=2).double().numpy()


def test_cochleagram_statistics_predict_primary_better_than_lateral(bench):
    result = score({"cochleagram": cochleagram_statistics(bench.waveforms)}, bench, progress=False, rsa=False)
    roi = result.per_roi.set_index("roi")["value"]
    assert roi["Primary"] > roi["Lateral"] + 0.1, roi
    assert roi["Primary"] > roi["Posterior"], roi


def test_measured_reliability_matches_the_settings(bench):
    resp = bench.responses
    r = np.mean(
        [
            [np.corrcoef(resp[:, v, a], resp[:, v, b])[0, 1] for a, b in ((0, 1), (1, 2), (0, 2))]
            for v in range(bench.n_targets)
        ],
        axis=1,
    )
    rho = bench.targets["reliability"].to_numpy()
    assert rho.min() >= 0.2 and rho.max() <= 0.9
    assert np.corrcoef(r, rho)[0, 1] > 0.8
    assert abs(np.mean(r - rho)) < 0.02  # unbiased
    assert np.std(r - rho) < 0.1  # within the sampling error of 165 sounds
    assert np.percentile(r, 10) < 0.35 and np.percentile(r, 90) > 0.75  # a realistic spread


def test_components_variant(cache_dir, truth):
    comp = load_benchmark("synthetic-comp", **SMALL, cache_dir=cache_dir, progress=False)
    assert comp.name == "synthetic-comp" and comp.kind == "components"
    assert list(comp.targets["target"]) == list(COMPONENT_NAMES)
    result = score({"truth": truth}, comp, progress=False)
    assert result.value > 0.8 and not result.info["noise_corrected"]


def test_deterministic_and_a_corrupt_cache_is_rebuilt(bench, cache_dir, caplog):
    entry = _entry(SyntheticSpec(**SMALL), cache_dir)
    (entry / "responses.npy").write_bytes(b"not an array")
    with caplog.at_level("WARNING"):
        again = load_synthetic(**SMALL, cache_dir=cache_dir, progress=False)
    assert "Rebuilding cache entry" in caplog.text
    np.testing.assert_array_equal(again.responses, bench.responses)  # rebuilt from the seed: same arrays
    np.testing.assert_array_equal(again.waveforms, bench.waveforms)
    other = SyntheticSpec(seed=1, **SMALL)
    assert other.key() != SyntheticSpec(**SMALL).key()


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="n_reps must be >= 2"):
        SyntheticSpec(n_reps=1)
    with pytest.raises(ValueError, match="reliability must be a range inside"):
        SyntheticSpec(reliability=(0.5, 1.2))

"""The scoring engine (evaluate.score) against a direct per-voxel implementation of the
reference procedure, on simulated responses with known signal, and on bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import RidgeCV

from evaluate import Benchmark, BenchmarkError, Score, reference_splits, score
from evaluate.benchmark import ROIS
from evaluate.bestlayer import best_layer_cv

GRID = 10.0 ** np.arange(-3, 8)  # a short grid keeps the per-voxel reference fast


def simulated(n_voxels=48, n_participants=4, n_features=20, noise=(0.3, 2.0), seed=0, n_stim=165):
    """Responses = linear readout of ``true`` features + per-repetition noise of per-voxel size."""
    rng = np.random.default_rng(seed)
    true = rng.standard_normal((n_stim, n_features))
    signal = true @ rng.standard_normal((n_features, n_voxels))
    signal /= signal.std(axis=0)
    sd = rng.uniform(*noise, n_voxels)
    responses = signal[:, :, None] + sd[None, :, None] * rng.standard_normal((n_stim, n_voxels, 3))
    participant = np.repeat(np.arange(n_participants), n_voxels // n_participants)
    roi = np.array(ROIS)[np.arange(n_voxels) % 4]
    bench = Benchmark.from_arrays(responses, participant, roi, name="simulated")
    return bench, true, rng


# ------------------------------------------------------------------ direct reference
def _corr(a, b):
    a, b = a - a.mean(), b - b.mean()
    d = np.sqrt((a * a).sum() * (b * b).sum())
    return np.nan if d == 0 else float((a * b).sum() / d)


def _ridge_predict(x_train, y_train, x_test):
    """One voxel as the reference: RidgeCV on data demeaned with training means, intercept
    on, leave-one-out, grid visited from large to small."""
    xm, ym = x_train.mean(0), y_train.mean()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = RidgeCV(alphas=GRID[::-1], fit_intercept=True).fit(x_train - xm, y_train - ym)
    return model.predict(x_test - xm), float(model.alpha_)


def reference_voxel(x, resp, train, test):
    """(r2, corrected r2, alpha) of one voxel and split, written out from docs/reference.md section 6."""
    mean = resp.mean(axis=1)
    pred, alpha = _ridge_predict(x[train], mean[train], x[test])
    r = 0.0 if np.std(pred) == 0 else _corr(pred, mean[test])
    r = 0.0 if not np.isfinite(r) or r < 0 else r
    reps = [_ridge_predict(x[train], resp[train, k], x[test])[0] for k in range(3)]
    pairs = [(0, 1), (1, 2), (0, 2)]
    rv = np.median([_corr(resp[train, a], resp[train, b]) for a, b in pairs])
    rv_hat = np.median([_corr(reps[a], reps[b]) for a, b in pairs])
    rv, rv_hat = 3 * rv / (1 + 2 * rv), 3 * rv_hat / (1 + 2 * rv_hat)
    rv, rv_hat = np.nanmax([rv, 0.182]), np.nanmax([rv_hat, 0.183])
    return r**2, r**2 / (rv * rv_hat), alpha


def test_noise_corrected_r2_equals_a_direct_per_voxel_implementation():
    bench, true, rng = simulated(n_voxels=12, n_participants=3, noise=(0.5, 4.0))
    x = true + 0.5 * rng.standard_normal(true.shape)
    splits = reference_splits(165)
    result = score({"layer": x}, bench, alphas=GRID, rsa=False, progress=False)
    r2 = np.zeros((len(splits), bench.n_targets))
    r2c, alpha = np.zeros_like(r2), np.zeros_like(r2)
    for s, (train, test) in enumerate(splits):
        for v in range(bench.n_targets):
            r2[s, v], r2c[s, v], alpha[s, v] = reference_voxel(x, bench.responses[:, v], train, test)
    pv = result.per_voxel
    np.testing.assert_allclose(pv["r2"], np.median(r2, axis=0), rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(pv["r2_corrected"], np.median(r2c, axis=0), rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(pv["alpha"], np.median(alpha, axis=0), rtol=1e-12)
    assert (pv["r2_corrected"] > pv["r2"]).all()  # the correction did something


def test_known_signal_scores_near_ceiling_and_random_features_near_zero():
    bench, true, rng = simulated(n_voxels=80, n_participants=4)
    result = score({"true": true, "random": rng.standard_normal((165, 200))}, bench, progress=False)
    per_layer = result.per_layer.set_index("layer")["value"]
    assert 0.85 <= per_layer["true"] <= 1.0
    assert per_layer["random"] < 0.05
    assert 0.85 <= result.value <= 1.0  # cross-validated best layer = the true features
    assert np.isfinite(result.sem) and result.sem < 0.05
    assert result.per_participant["best_relative_layer"].max() == 0.0  # always layer "true"
    # Uncorrected r2 is bounded by the noise: the correction lifts it towards 1.
    voxels = result.per_voxel[result.per_voxel["layer"] == "true"]
    assert voxels["r2"].median() < 0.8 < voxels["r2_corrected"].median()
    # RSA: the true features resemble the brain far more than random ones.
    rsa = result.rsa_per_layer.set_index("layer")["value"]
    assert rsa["true"] > rsa["random"] + 0.3
    assert 0 < result.rsa["ceiling"] <= 1


def test_roi_tables_and_summary_statistics():
    bench, true, _ = simulated(n_voxels=64, n_participants=4)
    result = score({"a": true[:, :10], "b": true}, bench, progress=False, rsa=False)
    roi = result.per_roi.set_index("roi")
    assert list(roi.index) == ["all", *ROIS]
    assert (roi["n_targets"][list(ROIS)] == 16).all() and roi.loc["all", "n_targets"] == 64
    assert roi.loc["all", "value"] == pytest.approx(result.value)
    # Headline SEM is the SEM over participants of their cross-validated values.
    vals = result.per_participant["value"].to_numpy()
    assert result.sem == pytest.approx(vals.std(ddof=1) / np.sqrt(len(vals)))
    assert result.value == pytest.approx(vals.mean())
    # Best relative layer: all layers "b" (index 1 of 2 -> 1.0).
    assert roi.loc["all", "best_relative_layer"] == pytest.approx(1.0)
    assert set(result.per_roi_layer["layer"]) == {"a", "b"}
    assert len(result.per_voxel) == 2 * 64 and len(result.ceiling) == 64
    assert result.ceiling["rv"].between(0.182, 1.0).all()
    assert "simulated" in result.summary()


def test_cv_best_layer_matches_the_reference_loop():
    rng = np.random.default_rng(3)
    values = rng.uniform(-0.2, 1.4, (4, 10, 25))
    got = best_layer_cv(values, n_iterations=3)
    got_value, got_layer = got.value, got.layer
    np.testing.assert_array_equal(got.relative, got_layer / 3)
    for it in range(3):
        np.random.seed(it)  # the reference seeds numpy's global generator per iteration
        select, readout = np.zeros((4, 25)), np.zeros((4, 25))
        for layer in range(4):
            for v in range(25):
                mask = np.array([0, 1] * 5)
                np.random.shuffle(mask)
                select[layer, v] = min(np.median(values[layer, mask == 1, v]), 1)
                readout[layer, v] = min(np.median(values[layer, mask == 0, v]), 1)
        # Ties (several layers clipped to 1) drawn as the authors: seed 0, one choice per voxel.
        np.random.seed(0)
        best = np.array([np.random.choice(np.flatnonzero(col == col.max())) for col in select.T])
        np.testing.assert_array_equal(got_layer[it], best)
        np.testing.assert_allclose(got_value[it], readout[best, np.arange(25)])


def test_splits_are_the_reference_draw():
    np.random.seed(0)
    expected = []
    for _ in range(10):
        train = np.random.choice(165, 83, replace=False)
        test = np.random.choice(np.setdiff1d(np.arange(165), train), 82, replace=False)
        expected.append((np.sort(train), np.sort(test)))
    got = reference_splits(165)
    for (a, b), (c, d) in zip(got, expected):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
        assert len(np.intersect1d(a, b)) == 0 and len(a) + len(b) == 165


def test_components_are_scored_without_noise_correction(tmp_path):
    bench, true, rng = simulated(n_voxels=6, n_participants=1, noise=(0.2, 0.4))
    comp = Benchmark.from_arrays(bench.responses.mean(axis=2), participant=["c"] * 6, kind="components",
                                 target_ids=[f"comp{i}" for i in range(6)], name="comp")  # fmt: skip
    result = score({"true": true, "random": rng.standard_normal((165, 30))}, comp, progress=False)
    assert result.kind == "components" and not result.info["noise_corrected"]
    assert list(result.per_participant["component"]) == [f"comp{i}" for i in range(6)]
    assert result.value == pytest.approx(result.per_participant["value"].mean())
    assert 0.7 < result.value < 1.0
    assert result.per_voxel["r2_corrected"].isna().all() and result.rsa == {}
    result.save(tmp_path)
    back = Score.load(tmp_path)
    assert (back.per_voxel["roi"] == "").all() and list(back.per_participant["component"]) == [f"comp{i}" for i in range(6)]


def test_nan_and_constant_voxels_are_excluded_and_reported(caplog):
    bench, true, _ = simulated(n_voxels=16, n_participants=2)
    responses = bench.responses.copy()
    responses[3, 2, 1] = np.nan
    responses[:, 5, :] = 1.0
    with caplog.at_level("WARNING"):
        bad = Benchmark.from_arrays(responses, bench.participant, bench.roi, name="holes")
    assert "excluding 2 of 16" in caplog.text
    assert bad.n_targets == 14 and list(bad.excluded["target"]) == [2, 5]
    result = score({"true": true}, bad, progress=False, rsa=False)
    assert np.isfinite(result.value) and result.info["n_excluded"] == 2
    assert not result.per_voxel["voxel"].isin([2, 5]).any()


@pytest.mark.parametrize(
    "activations, ids, message",
    [
        ({"l": np.zeros((165, 3, 2))}, None, r"layer 'l': activations must be \[n_stimuli, n_features\]"),
        ({"l": np.zeros((164, 3))}, None, "164 stimuli, benchmark simulated has 165"),
        ({"l": np.zeros((165, 0))}, None, "layer 'l' has 0 features"),
        ({"l": np.full((165, 3), np.inf)}, None, "NaN or inf activations for 165 stimuli"),
        ({}, None, "non-empty mapping"),
        ({"l": np.ones((165, 3))}, [f"stim{i}" for i in range(164)], "activations are for 164 stimuli"),
        ({"l": np.ones((165, 3))}, ["stim1", "stim0"] + [f"stim{i}" for i in range(2, 165)],
         "not in benchmark simulated's stimulus order: position 0 is 'stim1'"),
    ],
)  # fmt: skip
def test_bad_activations_are_clear_errors(activations, ids, message):
    bench, _, _ = simulated(n_voxels=8, n_participants=2)
    with pytest.raises(ValueError, match=message):
        score(activations, bench, stimulus_ids=ids, progress=False)


def test_bad_benchmark_arrays_are_clear_errors():
    with pytest.raises(BenchmarkError, match=r"responses must be \[n_stimuli, n_targets, n_reps\]"):
        Benchmark.from_arrays(np.zeros(10), participant=[0])
    with pytest.raises(BenchmarkError, match=r"participant must have one entry per target \(3\)"):
        Benchmark.from_arrays(np.random.rand(10, 3, 2), participant=[0, 1])
    with pytest.raises(BenchmarkError, match="stimulus_ids has 9 entries"):
        Benchmark.from_arrays(np.random.rand(10, 3, 2), participant=[0, 0, 1], stimulus_ids=list("abcdefghi"))
    with pytest.raises(BenchmarkError, match="every target has NaN/inf or constant"):
        Benchmark.from_arrays(np.ones((10, 3, 2)), participant=[0, 0, 1])


def test_score_saves_and_loads(tmp_path):
    bench, true, _ = simulated(n_voxels=24, n_participants=3)
    result = score({"a": true[:, :5], "b": true}, bench, model="m1", progress=False)
    result.save(tmp_path / "s")
    back = Score.load(tmp_path / "s")
    assert (back.benchmark, back.model, back.kind, back.layers) == ("simulated", "m1", "voxels", ["a", "b"])
    assert back.value == pytest.approx(result.value, rel=1e-12) and back.sem == pytest.approx(result.sem, rel=1e-12)
    for name in ("per_participant", "per_layer", "per_roi", "per_roi_layer", "per_voxel", "ceiling", "rsa_per_layer"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(result, name), check_dtype=False, rtol=1e-12)
    assert back.rsa["value"] == pytest.approx(result.rsa["value"])
    assert back.best_relative_layer == pytest.approx(result.best_relative_layer)
    with pytest.raises(FileNotFoundError, match="not a saved score directory"):
        Score.load(tmp_path)


def test_figures_are_written(tmp_path):
    from evaluate.figures import layer_roi_figure, write_figures

    bench, true, _ = simulated(n_voxels=16, n_participants=2)
    result = score({"a": true[:, :5], "b": true}, bench, progress=False)
    paths = write_figures(result, tmp_path)
    assert sorted(p.name for p in paths) == ["best_layer.png", "layer_curves.png", "layer_x_roi.png", "rsa.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)
    labels = [t.get_text() for t in layer_roi_figure(result).axes[0].get_yticklabels()]
    assert labels == ["all", *ROIS]  # each ROI once, "all" first

"""The scoring engine's stages, each alone on cases small enough to check by hand, and the staged
:func:`evaluate.score` against every output the engine gave before it was split into stages
(tests/fixtures/scoring_outputs.npz, made by tests/fixtures/make_scoring_outputs.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from evaluate import Benchmark
from evaluate.aggregate import aggregate, ceiling_table, per_voxel_table
from evaluate.bestlayer import BestLayerCV, best_layer_cv
from evaluate.ceiling import RV_FLOOR, RV_HAT_FLOOR, noise_ceiling, reliability
from evaluate.fits import fit_splits, prediction_r
from evaluate.rsa import rsa_stage
from evaluate.stats import nanmedian, pearson_columns, sem, spearman_brown, within_participant_sem
from tests.fixtures.make_scoring_outputs import DEFAULT_OUT, TABLES, pinned_outputs

X = np.array([1.0, -1.0, 1.0, -1.0])  # mean 0
Y = np.array([1.0, 1.0, -1.0, -1.0])  # mean 0, uncorrelated with X


# ------------------------------------------------------------------ statistics
def test_pearson_columns_signs_constant_columns_and_1d():
    a = np.stack([X, X, X, np.ones(4)], axis=1)
    b = np.stack([2 * X + 3, -X, Y, X], axis=1)
    np.testing.assert_allclose(pearson_columns(a, b)[:3], [1.0, -1.0, 0.0], atol=1e-15)
    assert np.isnan(pearson_columns(a, b)[3])  # constant column: undefined
    rng = np.random.default_rng(0)
    u, v = rng.standard_normal((2, 30))
    assert pearson_columns(u, v).shape == ()
    assert float(pearson_columns(u, v)) == pytest.approx(np.corrcoef(u, v)[0, 1], rel=1e-12)


def test_spearman_brown_and_nanmedian():
    assert spearman_brown(np.array(0.5), 3) == pytest.approx(0.75)  # 3 * 0.5 / (1 + 2 * 0.5)
    assert spearman_brown(np.array(1.0), 5) == 1.0
    stack = np.array([[1.0, np.nan], [3.0, np.nan], [np.nan, np.nan]])
    np.testing.assert_array_equal(nanmedian(stack), [2.0, np.nan])


def test_sem_and_within_participant_sem():
    assert sem([1.0, 2.0, 3.0, 4.0]) == pytest.approx(np.sqrt(5 / 3) / 2)  # std (ddof 1) / sqrt(4)
    assert np.isnan(sem([2.0])) and np.isnan(sem([]))
    assert np.isnan(sem([1.0, np.nan]))  # NaN propagates; callers drop it when they mean to
    rng = np.random.default_rng(1)
    table = pd.DataFrame(rng.uniform(size=(40, 3)))
    # One helper for every SEM: the same bits as pandas' std over a table's rows.
    np.testing.assert_array_equal(sem(table.to_numpy(), axis=0), table.std(ddof=1).to_numpy() / np.sqrt(40))
    np.testing.assert_array_equal(sem(table.to_numpy().T, axis=1), sem(table.to_numpy(), axis=0))
    # Participant means 1.5 and 4.5, grand mean 3: demeaned columns (2.5, 1.5) and (3.5, 4.5).
    np.testing.assert_allclose(within_participant_sem(pd.DataFrame([[1.0, 2.0], [3.0, 6.0]])), [0.5, 0.5])
    # A constant offset per participant is no within-participant variation.
    np.testing.assert_allclose(within_participant_sem(pd.DataFrame([[1.0, 3.0], [3.0, 5.0]])), [0, 0], atol=1e-15)
    assert np.isnan(within_participant_sem(pd.DataFrame([[1.0, 2.0]]))).all()


# ------------------------------------------------------------------ noise ceiling
def test_reliability_spearman_brown_and_floors():
    # Columns: identical repetitions (r = 1); one uncorrelated repetition (pairs 1, 0, 0:
    # median 0, floored); one constant repetition (its pairs undefined, median of the other: 1);
    # every repetition constant (all undefined: the floor).
    reps = [
        np.stack([X, X, X, np.ones(4)], 1),
        np.stack([X, X, X, np.ones(4)], 1),
        np.stack([X, Y, np.ones(4), np.ones(4)], 1),
    ]
    np.testing.assert_allclose(reliability(reps, RV_FLOOR), [1.0, RV_FLOOR, 1.0, RV_FLOOR])
    np.testing.assert_allclose(reliability(reps, RV_HAT_FLOOR)[[1, 3]], [RV_HAT_FLOOR, RV_HAT_FLOOR])
    with pytest.raises(ValueError, match="repetitions: .* at least 2"):
        reliability(reps[:1], RV_FLOOR)


def _split_benchmark(kind="voxels"):
    """8 stimuli, split 0-3 / 4-7. Voxel 0: three equal repetitions on the training sounds;
    voxel 1: the third uncorrelated with the others there."""
    z = np.array([0.3, -0.2, 0.5, 0.1])
    v0 = np.stack([np.r_[X, z]] * 3, axis=1)
    v1 = np.stack([np.r_[X, z], np.r_[X, -z], np.r_[Y, z]], axis=1)
    responses = np.stack([v0, v1], axis=1)  # [8, 2, 3]
    if kind == "components":
        responses = responses.mean(axis=2)
    bench = Benchmark.from_arrays(responses, participant=[0, 0], kind=kind, name="hand")
    return bench, [(np.arange(4), np.arange(4, 8))]


def test_noise_ceiling_on_the_training_sounds():
    bench, splits = _split_benchmark()
    ceiling = noise_ceiling(bench, splits)
    assert ceiling.corrected and ceiling.rv.shape == (1, 2)
    np.testing.assert_allclose(ceiling.rv[0], [1.0, RV_FLOOR])
    np.testing.assert_allclose(ceiling.per_target(), [1.0, RV_FLOOR])
    table = ceiling_table(bench, ceiling)
    assert list(table.columns) == ["voxel", "participant", "roi", "rv"] and len(table) == 2
    comp, splits = _split_benchmark("components")
    off = noise_ceiling(comp, splits)
    assert not off.corrected and np.isnan(off.rv).all() and np.isnan(off.per_target()).all()
    assert list(ceiling_table(comp, off).columns) == ["component", "participant", "roi", "rv"]


# ------------------------------------------------------------------ regression
def _linear_benchmark(n_reps=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((40, 3))
    signal = x @ rng.standard_normal((3, 4))
    responses = signal[:, :, None] + 0.5 * rng.standard_normal((40, 4, n_reps))
    bench = Benchmark.from_arrays(responses if n_reps > 1 else responses[:, :, 0], participant=[1, 1, 2, 2])
    splits = [(np.arange(0, 40, 2), np.arange(1, 40, 2)), (np.arange(1, 40, 2), np.arange(0, 40, 2))]
    return bench, splits, x


def test_prediction_r_sets_negative_and_undefined_to_zero():
    pred = np.stack([X, -X, np.ones(4)], axis=1)
    np.testing.assert_allclose(prediction_r(pred, np.stack([X, X, X], axis=1)), [1.0, 0.0, 0.0])


def test_fit_splits_true_and_constant_features():
    bench, splits, x = _linear_benchmark()
    alphas = 10.0 ** np.arange(-3, 4)
    fits = fit_splits({"true": x, "constant": np.ones((40, 2))}, bench, splits, alphas=alphas, progress=False)
    assert fits.layers == ("true", "constant") and fits.r2.shape == fits.alpha.shape == fits.rv_hat.shape == (2, 2, 4)
    assert (fits.r2[0] > 0.8).all()  # the features that made the responses
    assert np.isin(fits.alpha[0], alphas).all()
    # Constant features predict a constant: r (and r2) 0, the reliability of the
    # single-repetition predictions undefined -> its floor.
    np.testing.assert_array_equal(fits.r2[1], 0.0)
    np.testing.assert_array_equal(fits.rv_hat[1], RV_HAT_FLOOR)
    ceiling = noise_ceiling(bench, splits)
    corrected = fits.corrected_r2(ceiling)
    np.testing.assert_array_equal(corrected, fits.r2 / (ceiling.rv[None] * fits.rv_hat))
    assert (corrected[0] > fits.r2[0]).all() and (corrected[1] == 0).all()
    table = per_voxel_table(bench, fits, ceiling)
    assert list(table["layer"]) == ["true"] * 4 + ["constant"] * 4
    np.testing.assert_array_equal(table["r2"], np.median(fits.r2, axis=1).ravel())
    np.testing.assert_array_equal(table["rv_hat"].to_numpy()[4:], RV_HAT_FLOOR)


def test_fit_splits_without_repetitions_has_no_noise_correction():
    bench, splits, x = _linear_benchmark(n_reps=1)
    fits = fit_splits({"true": x}, bench, splits, alphas=10.0 ** np.arange(-3, 4), progress=False)
    ceiling = noise_ceiling(bench, splits)
    assert np.isnan(fits.rv_hat).all() and np.isnan(fits.corrected_r2(ceiling)).all()
    assert (fits.r2 > 0.5).all()
    table = per_voxel_table(bench, fits, ceiling)
    assert table["r2_corrected"].isna().all() and table["rv_hat"].isna().all()


# ------------------------------------------------------------------ best layer
def test_best_layer_cv_picks_the_layer_that_wins_the_choosing_splits():
    # Layer 0 scores 0.5 on every split; layer 1 0.9 on splits 0 and 1, 0.1 on 2 and 3. Layer 1
    # wins only when its choosing half is {0, 1} (a mixed half gives 0.5: a tie, the earlier
    # layer wins); then its value is read out on {2, 3}.
    values = np.array([[[0.5], [0.5], [0.5], [0.5]], [[0.9], [0.9], [0.1], [0.1]]])
    result = best_layer_cv(values, n_iterations=10)
    wins = []
    for it in range(10):
        rng = np.random.RandomState(it)
        halves = [np.tile([0.0, 1.0], 2) for _ in range(2)]
        for half in halves:  # one shuffle per layer, in layer order
            rng.shuffle(half)
        wins.append(set(np.flatnonzero(halves[1] == 1)) == {0, 1})
    wins = np.array(wins)
    assert wins.any() and not wins.all()  # both outcomes occur in these 10 iterations
    np.testing.assert_array_equal(result.layer[:, 0], wins.astype(int))
    np.testing.assert_allclose(result.value[:, 0], np.where(wins, 0.1, 0.5))
    np.testing.assert_array_equal(result.relative, result.layer / 1)


def test_best_layer_cv_clips_after_the_median_and_draws_among_tied_layers():
    values = np.full((3, 4, 2), 1.5)
    values[2] = 2.0  # better before clipping, tied with the others after it
    clipped = best_layer_cv(values, n_iterations=2)
    rng = np.random.RandomState(0)  # the authors' draw: seed 0, one choice per target
    drawn = [rng.choice([0, 1, 2]) for _ in range(2)]
    np.testing.assert_array_equal(clipped.layer, [drawn, drawn])  # reseeded in every iteration
    np.testing.assert_array_equal(clipped.value, 1.0)
    raw = best_layer_cv(values, n_iterations=2, clip=False)
    np.testing.assert_array_equal(raw.layer, 2)
    np.testing.assert_array_equal(raw.value, 2.0)
    np.testing.assert_array_equal(raw.relative, 1.0)  # layer 2 of 0..2
    one = best_layer_cv(values[:1], n_iterations=1)
    np.testing.assert_array_equal(one.relative, 0.0)
    with pytest.raises(ValueError, match="values: .*even number of splits, got 3"):
        best_layer_cv(values[:, :3])


# ------------------------------------------------------------------ aggregation
def test_aggregate_medians_per_participant_then_mean_and_sem():
    participant, roi = [1, 1, 2, 2], ["Zeta", "Primary", "Other", ""]
    bench = Benchmark.from_arrays(np.random.default_rng(0).standard_normal((6, 4, 2)), participant, roi, name="agg")
    per_split = np.array([[0.2, 0.4, 0.6, 1.6], [0.1, 0.3, 0.5, 0.7]])  # [layers, targets]
    values = np.stack([per_split, per_split], axis=1)  # the same on both splits
    layer = np.array([[0, 0, 1, 1], [0, 1, 1, 1]])
    best = BestLayerCV(value=np.array([[0.2, 0.4, 0.6, 0.8], [0.4, 0.6, 0.8, 1.0]]), layer=layer, relative=layer / 1.0)
    agg = aggregate(bench, ["a", "b"], values, best, clip=True, relative_layer="cv")
    assert [g.name for g in agg.groups] == ["all", "Primary", "Other", "Zeta"]  # "" only in "all"
    g = agg.everything
    np.testing.assert_array_equal(g.units, [1, 2])
    np.testing.assert_allclose(g.unit_value, [0.4, 0.8])  # means over iterations of (0.3, 0.5), (0.7, 0.9)
    np.testing.assert_allclose(g.unit_relative_layer, [0.25, 1.0])
    assert (g.value, g.sem, g.relative_layer) == pytest.approx((0.6, 0.2, 0.625))
    # Layer medians over splits, target 3's 1.6 clipped to 1: participants (0.3, 0.2), (0.8, 0.6).
    np.testing.assert_allclose(g.layer_value, [0.55, 0.4])
    np.testing.assert_allclose(g.layer_sem, [0.025, 0.025])
    primary = agg.groups[1]
    assert primary.n_targets == 1 and primary.value == pytest.approx(0.5) and np.isnan(primary.sem)
    roi_table = agg.per_roi()
    assert list(roi_table.columns) == [
        "roi",
        "value",
        "sem",
        "best_relative_layer",
        "best_relative_layer_sem",
        "n_targets",
    ]
    assert list(roi_table["n_targets"]) == [4, 1, 1, 1]
    assert list(agg.per_layer().columns) == ["layer", "value", "sem"] and len(agg.per_roi_layer()) == 8
    assert list(agg.per_participant()["participant"]) == [1, 2]
    unclipped = aggregate(bench, ["a", "b"], values, best, clip=False)
    np.testing.assert_allclose(unclipped.everything.layer_value, [(0.3 + 1.1) / 2, 0.4])


def test_aggregate_components_are_their_own_units():
    bench = Benchmark.from_arrays(np.random.default_rng(0).standard_normal((6, 3)), ["c"] * 3, kind="components",
                                  target_ids=["x", "y", "z"])  # fmt: skip
    values = np.array([[[0.1, 0.2, 0.6]] * 2])  # [1 layer, 2 splits, 3 components]
    best = BestLayerCV(value=np.array([[0.1, 0.2, 0.6]]), layer=np.zeros((1, 3), int), relative=np.zeros((1, 3)))
    agg = aggregate(bench, ["only"], values, best, clip=False, relative_layer="cv")
    g = agg.everything
    assert agg.unit_name == "component" and list(g.units) == ["x", "y", "z"]
    np.testing.assert_allclose(g.unit_value, [0.1, 0.2, 0.6])
    assert g.value == pytest.approx(0.3) and g.sem == pytest.approx(sem([0.1, 0.2, 0.6]))
    np.testing.assert_allclose(g.layer_sem, [sem([0.1, 0.2, 0.6])])
    assert list(agg.per_participant().columns) == ["component", "value", "best_relative_layer"]


# ------------------------------------------------------------------ RSA
def test_rsa_stage_needs_two_participants_and_finds_a_copy_of_the_brain():
    rng = np.random.default_rng(4)
    responses = rng.standard_normal((20, 6, 2))
    bench = Benchmark.from_arrays(responses, participant=[1, 1, 1, 2, 2, 2], name="rsa")
    splits = [(np.arange(10), np.arange(10, 20)), (np.arange(10, 20), np.arange(10))]
    features = {"copy_of_1": responses.mean(axis=2)[:, :3], "noise": rng.standard_normal((20, 5)),
                "constant": np.ones((20, 2))}  # fmt: skip
    result = rsa_stage(features, bench, splits)
    assert result.layers == ("copy_of_1", "noise", "constant")
    np.testing.assert_array_equal(result.participants, [1, 2])
    assert result.per_participant[0] == pytest.approx(1.0)  # chosen on training sounds, read out on test
    # A constant layer's similarity matrix is undefined: NaN, never chosen (nanargmax), not 0.
    assert np.isnan(result.layer_value[2]) and np.isnan(result.layer_sem[2])
    assert (result.best_layer != 2).all()
    summary = result.summary()
    assert list(summary) == ["value", "sem", "ceiling", "ceiling_sem", "n_participants", "per_participant"]
    assert summary["per_participant"]["1"] == pytest.approx(1.0)
    assert summary["sem"] == pytest.approx(sem(result.per_participant))
    assert list(result.per_layer().columns) == ["layer", "value", "sem"]
    one = Benchmark.from_arrays(responses, participant=[1] * 6, name="one")
    assert rsa_stage(features, one, splits) is None
    comp = Benchmark.from_arrays(responses.mean(axis=2), participant=[1, 1, 1, 2, 2, 2], kind="components")
    assert rsa_stage(features, comp, splits) is None


# ------------------------------------------------------------------ the orchestrator, bit for bit
def test_score_reproduces_the_engine_before_the_stages_bit_for_bit():
    """Every table column (values and dtype) and every scalar of evaluate.score on the fixture's
    cases is what the single-function engine gave (one CPU thread and the CPU kernels pinned, so
    that the bits do not depend on this host's CPU; see make_scoring_outputs)."""
    stored = np.load(DEFAULT_OUT)  # tests/fixtures/scoring_outputs.npz
    arrays, meta = pinned_outputs()
    assert sorted(stored.files) == sorted([*arrays, "meta.json"])
    differ = []
    for key, got in arrays.items():
        want = stored[key]
        assert got.dtype == want.dtype and got.shape == want.shape, key
        if not np.array_equal(got, want, equal_nan=want.dtype.kind in "fc"):
            worst = np.nanmax(np.abs(got - want)) if want.dtype.kind in "fc" else "labels"
            differ.append(f"{key} (max |diff| {worst})")
    assert not differ, f"{len(differ)} of {len(arrays)} arrays differ: " + ", ".join(differ[:8])
    assert meta == str(stored["meta.json"])  # value, sem, rsa, info, column order and dtypes
    cases = json.loads(meta)
    assert set(cases) == {"voxels", "components", "ties", "many_participants", "one_participant"}
    assert all(set(m["tables"]) == set(TABLES) for m in cases.values())

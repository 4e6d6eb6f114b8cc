"""RSA as the authors computed it (docs/reference.md sections 6 and 11): category order, z-scoring
that keeps zero-variance columns, nanargmax best layer, medians over splits, and per ROI.

Numbers are checked against ``slow_rsa`` below, written from the reference text with loops,
``StandardScaler`` (what the authors z-scored with), ``np.corrcoef`` and ``scipy.stats.spearmanr``.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.preprocessing import StandardScaler

from evaluate import Benchmark, Score, score
from evaluate.release import CATEGORIES
from evaluate.rsa import RSAUndefinedError, category_order, rsa_score, rsa_stage, similarity, zscore_train
from evaluate.splits import reference_splits


# ----------------------------------------------------------------------------- slow reference
def slow_order(categories):
    """Category order as the reference text says: the 11 in order, file order within each; other
    labels after, in order of first appearance."""
    extra = [c for i, c in enumerate(categories) if c not in CATEGORIES and c not in categories[:i]]
    return [i for cat in list(CATEGORIES) + extra for i, c in enumerate(categories) if c == cat]


def _triu(m):
    return m[np.triu_indices_from(m, k=1)]


def _spearman(a, b):
    return spearmanr(_triu(a), _triu(b)).statistic


def _matrices(x, train, test):
    scaler = StandardScaler().fit(x[train])  # training statistics; zero variance -> scale 1
    return np.corrcoef(scaler.transform(x[train])), np.corrcoef(scaler.transform(x[test]))


def slow_rsa(features, responses, participant, splits, categories):
    """``(per-participant value, per-participant ceiling, per-split values, per-layer [layers, people])``."""
    order = slow_order(categories) if categories is not None else list(range(len(responses)))
    feats = {k: np.asarray(v, float)[order] for k, v in features.items()}
    resp = np.asarray(responses, float)[order]
    people = sorted(set(participant.tolist()))
    values = np.zeros((len(splits), len(people)))
    ceilings = np.zeros((len(splits), len(people)))
    layer_values = np.zeros((len(splits), len(feats), len(people)))
    for s, (train, test) in enumerate(splits):
        model = [_matrices(x, train, test) for x in feats.values()]
        brain = [_matrices(resp[:, participant == p], train, test) for p in people]
        for pi in range(len(people)):
            train_r = [_spearman(m_train, brain[pi][0]) for m_train, _ in model]
            test_r = [_spearman(m_test, brain[pi][1]) for _, m_test in model]
            values[s, pi] = test_r[int(np.nanargmax(train_r))]
            layer_values[s, :, pi] = test_r
            others = np.mean([brain[q][1] for q in range(len(people)) if q != pi], axis=0)
            ceilings[s, pi] = _spearman(brain[pi][1], others)
    return np.median(values, 0), np.median(ceilings, 0), values, np.median(layer_values, 0)


# ----------------------------------------------------------------------------- small data
SMALL_CATS = ["Song", "EnvSound", "Music", "Song", "Music", "EnvSound",
              "Music", "Song", "EnvSound", "EnvSound", "Song", "Music"]  # fmt: skip


def small_case(seed=0, n_splits=3):
    """12 sounds in 3 categories given out of category order, 3 participants of 4 voxels, 2
    layers (``b`` with a zero-variance column), ``n_splits`` reference splits."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((12, 3))
    responses = latent @ rng.standard_normal((3, 12)) + 0.8 * rng.standard_normal((12, 12))
    participant = np.repeat([10, 20, 30], 4)
    signal = latent @ rng.standard_normal((3, 4)) + 0.5 * rng.standard_normal((12, 4))
    features = {"a": rng.standard_normal((12, 5)), "b": np.column_stack([signal, np.full(12, 0.5)])}
    splits = reference_splits(12, n_splits=n_splits)
    return features, responses, participant, splits


# ----------------------------------------------------------------------------- the whole procedure
def test_rsa_score_equals_the_slow_reference_on_a_small_case():
    features, responses, participant, splits = small_case()
    result = rsa_score(features, responses, participant, splits, categories=SMALL_CATS)
    value, ceiling, per_split, per_layer = slow_rsa(features, responses, participant, splits, SMALL_CATS)
    np.testing.assert_array_equal(result.participants, [10, 20, 30])
    np.testing.assert_allclose(result.split_value, per_split, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.per_participant, value, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.ceiling_per_participant, ceiling, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.layer_value, per_layer.mean(axis=1), rtol=0, atol=1e-12)
    summary = result.summary()
    assert summary["value"] == pytest.approx(value.mean(), abs=1e-12)
    assert summary["ceiling"] == pytest.approx(ceiling.mean(), abs=1e-12)
    assert summary["n_participants"] == 3
    assert summary["sem"] == pytest.approx(np.std(value, ddof=1) / np.sqrt(3), abs=1e-12)


# ----------------------------------------------------------------------------- rule 1: order
def test_category_order_is_the_release_order_then_unknown_labels_by_first_appearance():
    cats = ["Zed", "Song", "Music", "Other", "Song", "Zed", "Music", "EnvSound"]
    # Music (2, 6), Song (1, 4), EnvSound (7), then Zed (0, 5) and Other (3).
    np.testing.assert_array_equal(category_order(cats, 8), [2, 6, 1, 4, 7, 0, 5, 3])
    np.testing.assert_array_equal(category_order(cats, 8), slow_order(cats))
    np.testing.assert_array_equal(category_order(None, 4), [0, 1, 2, 3])
    with pytest.raises(ValueError, match="categories has 3 entries, expected one per stimulus \\(4\\)"):
        category_order(["Music"] * 3, 4)


def test_splits_index_the_category_ordered_sounds():
    features, responses, participant, splits = small_case()
    ordered = rsa_score(features, responses, participant, splits, categories=SMALL_CATS)
    given = rsa_score(features, responses, participant, splits)  # no categories: the given order
    order = np.array(slow_order(SMALL_CATS))
    np.testing.assert_array_equal(ordered.order, order)
    np.testing.assert_array_equal(given.order, np.arange(12))
    # The same as reordering the arrays by hand; not the same as ignoring the categories.
    by_hand = rsa_score({k: v[order] for k, v in features.items()}, responses[order], participant, splits)
    np.testing.assert_allclose(ordered.split_value, by_hand.split_value, rtol=0, atol=1e-12)
    assert not np.allclose(ordered.split_value, given.split_value)


# ----------------------------------------------------------------------------- rule 2: zero columns
def test_zscore_matches_standard_scaler_and_keeps_zero_variance_columns():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((10, 4))
    x[:, 1] = 0.1  # constant everywhere (a dead unit)
    train = np.array([0, 2, 3, 5, 8])
    x[train, 2] = 3.0  # constant on the training sounds only
    z = zscore_train(x, train)
    np.testing.assert_allclose(z, StandardScaler().fit(x[train]).transform(x), rtol=0, atol=1e-12)
    assert z.shape == x.shape and np.isfinite(z).all()  # nothing dropped, no 0/0
    assert (z[:, 1] == 0).all() and (z[train, 2] == 0).all()  # exactly 0, not rounding noise


def test_a_zero_variance_column_is_kept_and_changes_the_value():
    rng = np.random.default_rng(11)
    latent = rng.standard_normal((40, 3))
    responses = latent @ rng.standard_normal((3, 10)) + rng.standard_normal((40, 10))
    participant = np.repeat([1, 2], 5)
    signal = latent + 0.5 * rng.standard_normal((40, 3))  # few features: one more column matters
    features = {"a": rng.standard_normal((40, 6)), "b": np.column_stack([signal, np.zeros(40)])}
    splits = reference_splits(40, n_splits=2)
    kept = rsa_score(features, responses, participant, splits)
    dropped = rsa_score({**features, "b": signal}, responses, participant, splits)  # the old rule
    assert np.abs(kept.layer_value[1] - dropped.layer_value[1]) > 1e-3
    assert kept.layer_value[0] == dropped.layer_value[0]  # layer "a" untouched
    _, _, _, per_layer = slow_rsa(features, responses, participant, splits, None)
    np.testing.assert_allclose(kept.layer_value, per_layer.mean(axis=1), rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------- rule 3: nanargmax, median
def test_value_and_ceiling_are_medians_over_splits():
    features, responses, participant, splits = small_case(seed=3, n_splits=5)
    result = rsa_score(features, responses, participant, splits, categories=SMALL_CATS)
    np.testing.assert_allclose(result.per_participant, np.median(result.split_value, 0), rtol=0, atol=0)
    np.testing.assert_allclose(result.ceiling_per_participant, np.median(result.split_ceiling, 0), rtol=0, atol=0)
    assert np.abs(result.per_participant - result.split_value.mean(0)).max() > 1e-3  # not the mean
    value, ceiling, _, _ = slow_rsa(features, responses, participant, splits, SMALL_CATS)
    np.testing.assert_allclose(result.per_participant, value, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.ceiling_per_participant, ceiling, rtol=0, atol=1e-12)


def test_best_layer_is_the_nanargmax_of_the_training_sounds():
    features, responses, participant, splits = small_case()
    single = {"a": features["a"], "one_unit": np.arange(12.0)[:, None]}  # one feature: no correlation across features
    result = rsa_score(single, responses, participant, splits)
    assert (result.best_layer == 0).all() and np.isnan(result.layer_value[1])
    # with "a" alone the chosen values are the same: the undefined layer is skipped, not scored 0
    alone = rsa_score({"a": features["a"]}, responses, participant, splits)
    np.testing.assert_allclose(result.split_value, alone.split_value, rtol=0, atol=1e-12)


def test_nan_splits_are_left_out_of_the_median_and_all_nan_raises(caplog):
    rng = np.random.default_rng(5)
    responses = rng.standard_normal((12, 6))
    participant = np.repeat([1, 2], 3)
    a, b = np.arange(6), np.arange(6, 12)
    splits = [(a, b), (b, a), (np.r_[0:3, 6:9], np.r_[3:6, 9:12])]
    x = rng.standard_normal((12, 4))
    x[a] = 0.0  # constant on the sounds of a
    result = rsa_score({"x": x}, responses, participant, splits)
    # split 0 trains on a: every training Spearman NaN, no best layer; split 1 tests on a: identical
    # rows, a constant test matrix, NaN value; split 2 is defined and is the participants' value.
    np.testing.assert_array_equal(result.best_layer[0], [-1, -1])
    assert np.isnan(result.split_value[:2]).all() and np.isfinite(result.split_value[2]).all()
    np.testing.assert_array_equal(result.per_participant, result.split_value[2])
    assert np.isfinite(result.ceiling_per_participant).all()  # the brain side is defined on every split
    np.testing.assert_allclose(result.ceiling_per_participant, np.median(result.split_ceiling, 0))
    # a layer never defined anywhere: RSA is undefined, loudly
    with pytest.raises(RSAUndefinedError, match="no defined value for any participant.*'flat'"):
        rsa_score({"flat": np.ones((12, 3))}, responses, participant, splits)
    bench = Benchmark.from_arrays(responses, participant, name="flat")
    with caplog.at_level(logging.WARNING, logger="evaluate.rsa"):
        assert rsa_stage({"flat": np.ones((12, 3))}, bench, splits) is None
    assert "RSA on flat not computed" in caplog.text


def test_similarity_of_a_constant_sound_is_nan_as_corrcoef():
    x = np.array([[1.0, 2.0, 4.0], [2.0, 2.0, 2.0], [0.0, 1.0, 0.5], [3.0, 1.0, 2.0]])
    sim = similarity(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.corrcoef(x)
    np.testing.assert_allclose(sim, expected, rtol=0, atol=1e-12)
    assert np.isnan(sim[1]).all()


def test_fewer_than_two_usable_participants_raises():
    rng = np.random.default_rng(0)
    splits = reference_splits(12, n_splits=2)
    with pytest.raises(RSAUndefinedError, match="at least 2 participants with at least 2 voxels"):
        rsa_score({"a": rng.standard_normal((12, 3))}, rng.standard_normal((12, 4)), np.array([1, 1, 1, 2]), splits)


# ----------------------------------------------------------------------------- rule 4: per ROI
def roi_case():
    features, _, _, splits = small_case(seed=7, n_splits=4)  # even: score's best-layer CV
    rng = np.random.default_rng(7)
    # per participant (10, 20, 30): Primary 3/3/3 voxels; Anterior 1/3/3 (10 skipped there);
    # Lateral only 30's (left out: no noise ceiling); "" counts for the whole benchmark only.
    # (3 voxels, not 2: with 2 every correlation across voxels is +-1 and the ranks are ties
    # that rounding breaks differently in np.corrcoef.)
    roi = np.array(["Primary"] * 3 + ["Anterior", ""] + ["Primary"] * 3 + ["Anterior"] * 3
                   + ["Primary"] * 3 + ["Anterior"] * 3 + ["Lateral"] * 3)  # fmt: skip
    participant = np.repeat([10, 20, 30], [5, 6, 9])
    responses = features["b"][:, :3] @ rng.standard_normal((3, 20)) + 0.8 * rng.standard_normal((12, 20))
    return features, responses, participant, splits, roi


def test_per_roi_equals_rsa_score_on_the_rois_voxels():
    features, responses, participant, splits, roi = roi_case()
    result = rsa_score(features, responses, participant, splits, SMALL_CATS, roi=roi)
    whole = rsa_score(features, responses, participant, splits, SMALL_CATS)
    np.testing.assert_array_equal(result.per_participant, whole.per_participant)  # ROIs change nothing else
    long = result.per_roi_participant()
    assert list(long.columns) == ["roi", "participant", "value", "ceiling", "n_voxels", "n_splits"]
    table = result.per_roi()
    assert list(table.columns) == ["roi", "value", "sem", "ceiling", "ceiling_sem", "n_participants"]
    assert list(table["roi"]) == ["Primary", "Anterior"] and list(table["n_participants"]) == [3, 2]
    for name, people in (("Primary", [10, 20, 30]), ("Anterior", [20, 30])):
        mask = roi == name
        alone = rsa_score(features, responses[:, mask], participant[mask], splits, SMALL_CATS)
        rows = long[long["roi"] == name]
        assert list(rows["participant"]) == people == list(alone.participants)
        np.testing.assert_allclose(rows["value"], alone.per_participant, rtol=0, atol=1e-12)
        np.testing.assert_allclose(rows["ceiling"], alone.ceiling_per_participant, rtol=0, atol=1e-12)
        usable = mask & np.isin(participant, people)  # participant 10 has 1 Anterior voxel: skipped
        value, ceiling, _, _ = slow_rsa(features, responses[:, usable], participant[usable], splits, SMALL_CATS)
        np.testing.assert_allclose(rows["value"], value, rtol=0, atol=1e-12)
        row = table.set_index("roi").loc[name]
        assert row["value"] == pytest.approx(value.mean(), abs=1e-12)
        assert row["ceiling"] == pytest.approx(ceiling.mean(), abs=1e-12)
        assert row["sem"] == pytest.approx(np.std(value, ddof=1) / np.sqrt(len(value)), abs=1e-12)
    np.testing.assert_array_equal(long[long["roi"] == "Anterior"]["n_voxels"], [3, 3])


def test_score_stores_rsa_per_roi_and_loads_old_directories_without_it(tmp_path):
    features, responses, participant, splits, roi = roi_case()
    rng = np.random.default_rng(2)
    reps = responses[:, :, None] + 0.3 * rng.standard_normal((12, 20, 3))
    bench = Benchmark.from_arrays(reps, participant, roi, categories=SMALL_CATS, name="toy")
    result = score(features, bench, "toy", splits=splits, alphas=10.0 ** np.arange(-2, 3), n_iterations=2,
                   progress=False, device="cpu")  # fmt: skip
    direct = rsa_stage(features, bench, splits)
    pd.testing.assert_frame_equal(result.rsa_per_roi, direct.per_roi())
    assert list(result.rsa_per_roi["roi"]) == ["Primary", "Anterior"]
    result.save(tmp_path / "new")
    back = Score.load(tmp_path / "new")
    pd.testing.assert_frame_equal(back.rsa_per_roi, result.rsa_per_roi, check_dtype=False, rtol=1e-12)
    # a directory written before the table existed: no file, not listed in score.json
    head = json.loads((tmp_path / "new" / "score.json").read_text())
    (tmp_path / "new" / head["tables"].pop("rsa_per_roi")).unlink()
    (tmp_path / "new" / "score.json").write_text(json.dumps(head))
    old = Score.load(tmp_path / "new")
    assert isinstance(old.rsa_per_roi, pd.DataFrame) and old.rsa_per_roi.empty
    pd.testing.assert_frame_equal(old.rsa_per_layer, result.rsa_per_layer, check_dtype=False, rtol=1e-12)

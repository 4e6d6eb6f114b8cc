"""The paper's cross-model analyses (evaluate/analyses.py) on cases worked by hand or against
slow independent implementations, and their figures (evaluate/analysis_figures.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from evaluate import Benchmark, Score, reference_splits, score
from evaluate import analysis_figures as figs
from evaluate.analyses import (
    SURFACE_COLUMNS,
    best_channel_recovery,
    channel_recovery,
    component_predictions,
    consistency,
    ed_vs_predictivity,
    seed_consistency,
    voxel_best_layer_map,
    write_surface_csv,
)
from evaluate.release import CATEGORIES


# ------------------------------------------------------------------ helpers
def _pearson_by_hand(x, y):
    x, y = np.asarray(x, float) - np.mean(x), np.asarray(y, float) - np.mean(y)
    r = float((x * y).sum() / math.sqrt((x * x).sum() * (y * y).sum()))
    n = len(x)
    t = r * math.sqrt((n - 2) / (1 - r * r)) if abs(r) < 1 else math.inf
    return r, float(2 * sps.t.sf(abs(t), n - 2))


def _ranks(v):
    """Average ranks (1-based) of ``v``, written out."""
    v = np.asarray(v, float)
    out = np.empty(len(v))
    for i, x in enumerate(v):
        out[i] = (v < x).sum() + ((v == x).sum() + 1) / 2
    return out


def make_score(per_voxel=None, per_participant=None, layers=("a", "b"), benchmark="nh2015", model="m", kind="voxels"):
    """A Score with only the tables the analyses read."""
    empty = pd.DataFrame()
    return Score(
        benchmark=benchmark, model=model, kind=kind, metric="test", value=0.0, sem=0.0, layers=list(layers),
        per_participant=empty if per_participant is None else per_participant, per_layer=empty, per_roi=empty,
        per_roi_layer=empty, per_voxel=empty if per_voxel is None else per_voxel, ceiling=empty,
    )  # fmt: skip


def per_voxel_table(values, voxels, participants, layers=("a", "b"), rois=None, corrected=True):
    """``values`` [layers, voxels] medians -> a per_voxel table in the scoring's layout (layer-major)."""
    values = np.asarray(values, float)
    n = len(voxels)
    table = pd.DataFrame({
        "layer": np.repeat(list(layers), n), "voxel": np.tile(voxels, len(layers)),
        "participant": np.tile(participants, len(layers)),
        "roi": np.tile(rois if rois is not None else ["Primary"] * n, len(layers)),
    })  # fmt: skip
    table["r2_corrected"] = values.ravel() if corrected else np.nan
    table["r2"] = values.ravel() / 2 if corrected else values.ravel()  # differs, so a wrong column shows
    return table


# ------------------------------------------------------------------ consistency
def test_consistency_aligns_on_common_models_and_matches_hand_formulas():
    a = pd.Series({"m1": 0.30, "m2": 0.50, "m3": 0.20, "m4": 0.45, "only_a": 9.0})
    b = pd.Series({"m4": 0.40, "m2": 0.60, "m1": 0.35, "m3": 0.10, "only_b": -9.0})
    out = consistency(a, b)
    x, y = [0.30, 0.50, 0.20, 0.45], [0.35, 0.60, 0.10, 0.40]
    r, p = _pearson_by_hand(x, y)
    rho, p_rho = _pearson_by_hand(_ranks(x), _ranks(y))  # Spearman = Pearson of ranks, same t p-value
    assert out["models"] == ["m1", "m2", "m3", "m4"]
    assert out["n"] == 4
    assert out["pearson_r"] == pytest.approx(r) and out["pearson_p"] == pytest.approx(p)
    assert out["spearman_rho"] == pytest.approx(rho) and out["spearman_p"] == pytest.approx(p_rho)
    # the rank orders: x 3 1 4 2 (ascending m3 m1 m4 m2), y m3 m1 m4 m2: identical -> rho = 1
    assert out["spearman_rho"] == pytest.approx(1.0)


def test_consistency_errors_are_clear():
    a = pd.Series({"m1": 1.0, "m2": 2.0, "m3": 3.0})
    with pytest.raises(ValueError, match="at least 3 models in both, got 2"):
        consistency(a, pd.Series({"m1": 1.0, "m2": 3.0, "x": 0.0}))
    with pytest.raises(ValueError, match=r"b: NaN or inf values for models \['m2'\]"):
        consistency(a, pd.Series({"m1": 1.0, "m2": np.nan, "m3": 0.0}))
    with pytest.raises(ValueError, match="a: duplicate model labels"):
        consistency(pd.Series([1.0, 2.0, 3.0], index=["m1", "m1", "m2"]), a)
    with pytest.raises(ValueError, match="constant"):
        consistency(a, pd.Series({"m1": 0.5, "m2": 0.5, "m3": 0.5}))
    with pytest.raises(TypeError, match="a: expected a pandas Series"):
        consistency({"m1": 1.0}, a)


# ------------------------------------------------------------------ effective dimensionality
def test_ed_vs_predictivity_best_layers_and_pooled():
    table = pd.DataFrame({
        "model": ["A", "A", "A", "B", "B", "C", "C", "D", "D"],
        "layer": ["c1", "c2", "c3", "c1", "c2", "c1", "c2", "c1", "c2"],
        "ed":    [5.0, 9.0, 7.0, 3.0, 4.0, 12.0, 6.0, 2.0, 8.0],
        "value": [0.2, 0.6, 0.5, 0.3, 0.1, 0.9, 0.4, 0.05, 0.05],  # D ties
    })  # fmt: skip
    # D's tie: the authors' draw, np.random.seed(0) then choice among the tied layers [0, 1]
    d_layer = ["c1", "c2"][np.random.RandomState(0).choice([0, 1])]
    d_ed = {"c1": 2.0, "c2": 8.0}[d_layer]
    out = ed_vs_predictivity(table)
    assert out["best_layer"]["layers"] == {"A": "c2", "B": "c1", "C": "c1", "D": d_layer}
    ed_best, value_best = [9.0, 3.0, 12.0, d_ed], [0.6, 0.3, 0.9, 0.05]
    r, p = _pearson_by_hand(ed_best, value_best)
    assert out["best_layer"]["n"] == 4
    assert out["best_layer"]["pearson_r"] == pytest.approx(r) and out["best_layer"]["pearson_p"] == pytest.approx(p)
    rho, _ = _pearson_by_hand(_ranks(ed_best), _ranks(value_best))
    assert out["best_layer"]["spearman_rho"] == pytest.approx(rho)
    r_all, p_all = _pearson_by_hand(table["ed"], table["value"])
    assert out["pooled"]["n"] == 9
    assert out["pooled"]["pearson_r"] == pytest.approx(r_all) and out["pooled"]["pearson_p"] == pytest.approx(p_all)
    rho_all, _ = _pearson_by_hand(_ranks(table["ed"]), _ranks(table["value"]))
    assert out["pooled"]["spearman_rho"] == pytest.approx(rho_all)


def test_ed_vs_predictivity_errors():
    good = pd.DataFrame({"model": list("ABC"), "layer": ["x"] * 3, "ed": [1.0, 2.0, 3.0], "value": [0.1, 0.3, 0.2]})
    with pytest.raises(ValueError, match=r"missing columns \['ed'\]"):
        ed_vs_predictivity(good.drop(columns="ed"))
    with pytest.raises(ValueError, match=r"table\['value'\]: NaN.*B x"):
        ed_vs_predictivity(good.assign(value=[0.1, np.nan, 0.2]))
    with pytest.raises(ValueError, match="at least 3 paired values, got 2"):
        ed_vs_predictivity(good.iloc[:2])
    with pytest.raises(ValueError, match="duplicate"):
        ed_vs_predictivity(pd.concat([good, good.iloc[:1]]))


# ------------------------------------------------------------------ seeds
def test_seed_consistency_voxel_level_by_hand():
    voxels, participants = [10, 11, 12, 13], [1, 1, 2, 2]
    # medians [layers, voxels]; 1.3 and 1.1 both clip to 1 (voxel 11's best value is 1)
    seed1 = per_voxel_table([[0.2, 1.3, 0.5, 0.1], [0.4, 1.1, 0.3, 0.0]], voxels, participants)
    seed2 = per_voxel_table([[0.1, 0.8, 0.6, 0.2], [0.3, 0.7, 0.9, 0.25]], voxels, participants)
    # seed 2 lists its voxels in another order: alignment is by id
    order = [2, 0, 3, 1, 6, 4, 7, 5]
    s1, s2 = make_score(seed1, model="seed1"), make_score(seed2.iloc[order].reset_index(drop=True), model="seed2")
    pairs, stats = seed_consistency(s1, s2, level="voxel")
    assert pairs["voxel"].tolist() == voxels
    assert pairs["value_1"].tolist() == [0.4, 1.0, 0.5, 0.1]
    assert pairs["value_2"].tolist() == [0.3, 0.8, 0.9, 0.25]
    r, p = _pearson_by_hand([0.4, 1.0, 0.5, 0.1], [0.3, 0.8, 0.9, 0.25])
    assert stats["pearson_r"] == pytest.approx(r) and stats["pearson_p"] == pytest.approx(p)
    assert (stats["level"], stats["model_1"], stats["model_2"], stats["n"]) == ("voxel", "seed1", "seed2", 4)


def test_seed_consistency_uses_r2_without_noise_correction():
    table = per_voxel_table([[0.2, 1.3, 0.5], [0.4, 1.1, 0.3]], [0, 1, 2], [0, 0, 0], corrected=False)
    other = per_voxel_table([[0.1, 0.2, 0.3], [0.0, 0.0, 0.0]], [0, 1, 2], [0, 0, 0], corrected=False)
    pairs, _ = seed_consistency(make_score(table, kind="components"), make_score(other, kind="components"))
    assert pairs["value_1"].tolist() == [0.4, 1.3, 0.5]  # plain r2 is not clipped


def test_seed_consistency_participant_level_and_errors():
    pp1 = pd.DataFrame({"participant": [1, 2, 3, 4], "value": [0.5, 0.6, 0.4, 0.7]})
    pp2 = pd.DataFrame({"participant": [3, 1, 4, 2], "value": [0.45, 0.55, 0.65, 0.5]})
    pairs, stats = seed_consistency(make_score(per_participant=pp1), make_score(per_participant=pp2), "participant")
    assert pairs["participant"].tolist() == [1, 2, 3, 4]
    assert pairs["value_2"].tolist() == [0.55, 0.5, 0.45, 0.65]
    assert stats["pearson_r"] == pytest.approx(_pearson_by_hand([0.5, 0.6, 0.4, 0.7], [0.55, 0.5, 0.45, 0.65])[0])
    with pytest.raises(ValueError, match="level: expected 'voxel' or 'participant'"):
        seed_consistency(make_score(per_participant=pp1), make_score(per_participant=pp2), "roi")
    with pytest.raises(ValueError, match="different benchmarks"):
        seed_consistency(make_score(per_participant=pp1), make_score(per_participant=pp2, benchmark="b2021"))
    with pytest.raises(ValueError, match=r"different participants: only in score_1 \[4\], only in score_2 \[5\]"):
        seed_consistency(make_score(per_participant=pp1),
                         make_score(per_participant=pp2.replace({"participant": {4: 5}})), "participant")  # fmt: skip
    t = per_voxel_table([[0.1, 0.2, 0.3]] * 2, [0, 1, 2], [0, 0, 0])
    with pytest.raises(ValueError, match=r"different voxels: only in score_1 \[2\]"):
        seed_consistency(make_score(t), make_score(t[t["voxel"] != 2]))


# ------------------------------------------------------------------ component predictions
def _slow_ridge(x_train, y_train, x_test, alpha):
    """Closed-form ridge with an unpenalised intercept: demean with the training means."""
    xm, ym = x_train.mean(axis=0), y_train.mean()
    xc = x_train - xm
    w = np.linalg.solve(xc.T @ xc + alpha * np.eye(xc.shape[1]), xc.T @ (y_train - ym))
    return (x_test - xm) @ w + ym


def _slow_component_predictions(x, y, splits, alphas):
    """Brute-force leave-one-out alpha per component (refit without each training sound),
    alphas visited from large to small, a smaller one wins only when strictly better."""
    total, count = np.zeros(y.shape), np.zeros(len(y))
    for train, test in splits:
        for c in range(y.shape[1]):
            best_alpha, best_err = None, np.inf
            for alpha in sorted(alphas, reverse=True):
                errs = []
                for i in range(len(train)):
                    keep = np.delete(train, i)
                    errs.append((_slow_ridge(x[keep], y[keep, c], x[train[i : i + 1]], alpha)[0] - y[train[i], c]) ** 2)
                if np.mean(errs) < best_err:
                    best_alpha, best_err = alpha, np.mean(errs)
            total[test, c] += _slow_ridge(x[train], y[train, c], x[test], best_alpha)
        count[test] += 1
    return total / count[:, None]


def test_component_predictions_match_a_brute_force_ridge():
    rng = np.random.default_rng(3)
    n, f = 18, 5
    x = rng.standard_normal((n, f)) * np.array([1.0, 3.0, 0.3, 2.0, 1.0]) + 4.0  # offset: demeaning matters
    signal = x @ rng.standard_normal((f, 3))
    y = signal + rng.standard_normal((n, 3)) * np.array([0.2, 2.0, 10.0]) + np.array([5.0, -2.0, 0.0])
    splits = reference_splits(n, n_splits=8)
    alphas = 10.0 ** np.arange(-3, 5)
    fast = component_predictions(x, y, splits, alphas=alphas)
    slow = _slow_component_predictions(x, y, splits, alphas)
    assert fast.shape == (n, 3) and np.isfinite(fast).all()  # these 8 splits test every sound
    np.testing.assert_allclose(fast, slow, rtol=1e-8, atol=1e-8)
    # a well-predicted component is close to its measurement; noise alone is not
    assert np.corrcoef(fast[:, 0], y[:, 0])[0, 1] > 0.95


def test_component_predictions_untested_sounds_and_errors(caplog):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    splits = [(np.array([0, 1, 2, 3, 4]), np.array([5, 6]))]
    out = component_predictions(x, y, splits, alphas=np.array([1.0]))
    assert np.isnan(out[[0, 1, 2, 3, 4, 7]]).all() and np.isfinite(out[[5, 6]]).all()
    assert "6 sounds are in no split's test set" in caplog.text
    np.testing.assert_allclose(out[[5, 6], 1], _slow_ridge(x[:5], y[:5, 1], x[[5, 6]], 1.0))
    with pytest.raises(ValueError, match="features, responses: 8 and 7 sounds"):
        component_predictions(x, y[:7], splits)
    with pytest.raises(ValueError, match=r"responses: expected \[n_sounds, n_components\]"):
        component_predictions(x, y[:, 0], splits)
    with pytest.raises(ValueError, match=r"features: values must be finite"):
        component_predictions(np.where(np.eye(8, 3) > 0, np.nan, x), y, splits)
    with pytest.raises(ValueError, match=r"splits\[0\]: indices outside 0 .. 7"):
        component_predictions(x, y, [(np.array([0, 1, 2]), np.array([8]))])
    with pytest.raises(ValueError, match=r"splits\[0\].*disjoint"):
        component_predictions(x, y, [(np.array([0, 1, 2]), np.array([2, 3]))])


# ------------------------------------------------------------------ ground-truth channels
def test_channel_recovery_is_the_median_test_r2_of_a_ridge_at_one_alpha():
    """With a one-value alpha grid the readout is a plain ridge: the R2 is worked out here from
    the closed form, per split, then the median over splits."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((30, 4))
    channels = pd.DataFrame({"exact": x @ np.array([1.0, -2.0, 0.5, 0.0]) + 3.0, "noise": rng.standard_normal(30)})
    splits = reference_splits(30, n_splits=3)
    table = channel_recovery({"conv": x, "zero_info": rng.standard_normal((30, 2))}, channels, splits,
                             alphas=np.array([0.5]))  # fmt: skip
    assert list(table.columns) == ["layer", "channel", "r2"] and len(table) == 4
    for layer, feats in (("conv", x),):
        for name in channels:
            y = channels[name].to_numpy()
            per_split = []
            for train, test in splits:
                pred = _slow_ridge(feats[train], y[train], feats[test], 0.5)
                per_split.append(1 - ((y[test] - pred) ** 2).sum() / ((y[test] - y[test].mean()) ** 2).sum())
            got = table[(table.layer == layer) & (table.channel == name)]["r2"].iloc[0]
            assert got == pytest.approx(float(np.median(per_split)), abs=1e-10)
    r2 = table.set_index(["layer", "channel"])["r2"]
    assert r2["conv", "exact"] > 0.99  # a linear function of the features is recovered
    assert r2["conv", "noise"] < 0.1 and r2["zero_info", "exact"] < 0.1  # nothing to read out


def test_best_channel_recovery_picks_the_best_layer_per_channel_and_errors():
    table = pd.DataFrame({"layer": ["a", "b", "c", "a", "b", "c"], "channel": ["u", "u", "u", "v", "v", "v"],
                          "r2": [0.1, 0.7, 0.7, 0.9, np.nan, -0.2]})  # fmt: skip
    best = best_channel_recovery(table)
    assert best.to_dict("records") == [{"channel": "u", "best_layer": "b", "r2": 0.7},
                                       {"channel": "v", "best_layer": "a", "r2": 0.9}]  # fmt: skip
    with pytest.raises(ValueError, match=r"missing columns \['r2'\]"):
        best_channel_recovery(table.drop(columns="r2"))
    x = np.ones((6, 2))
    with pytest.raises(ValueError, match=r"activations\['l'\]: expected \[6, n_features\]"):
        channel_recovery({"l": x[:5]}, pd.DataFrame({"c": np.arange(6.0)}), reference_splits(6, n_splits=1))
    with pytest.raises(ValueError, match="channels: expected finite"):
        channel_recovery({"l": x}, pd.DataFrame({"c": [np.nan] * 6}), reference_splits(6, n_splits=1))


def test_channel_recovery_figure(tmp_path):
    table = pd.DataFrame({"label": ["net", "net", "base", "base"], "channel": ["tono_200", "word_apple"] * 2,
                          "group": ["tonotopic", "word"] * 2, "r2": [0.9, 0.3, 0.8, -0.05]})  # fmt: skip
    path = figs.channel_recovery_figure(table, tmp_path / "c.png", benchmark="synthetic")
    assert path.stat().st_size > 1000 and path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="missing columns"):
        figs.channel_recovery_figure(table.drop(columns="group"), tmp_path / "d.png", benchmark="synthetic")


# ------------------------------------------------------------------ best layer on the surface
def surface_benchmark(n_stim=12, coordinates=True):
    """Six voxels in two participants with made-up surface positions (not brain data)."""
    rng = np.random.default_rng(1)
    meta = pd.DataFrame({"hemi": ["lh", "rh", "lh", "rh", "lh", "rh"], "x_ras": [1, 2, 3, 4, 5, 6],
                         "y_ras": [-1, -2, -3, -4, -5, -6]})  # fmt: skip
    return Benchmark.from_arrays(
        rng.standard_normal((n_stim, 6, 3)), participant=[7, 7, 7, 9, 9, 9],
        roi=["Primary", "Anterior", "Lateral", "Posterior", "Primary", "Anterior"], target_ids=[100, 101, 102, 103, 104, 105],
        name="synthetic_surface", metadata=meta if coordinates else meta.drop(columns=["x_ras", "hemi"]),
    )  # fmt: skip


def test_voxel_best_layer_map_by_hand():
    bench = surface_benchmark()
    t = bench.targets
    values = np.array([
        [0.10, 1.40, 0.30, 0.20, 0.00, 0.5],
        [0.20, 1.20, 0.60, 0.20, 0.00, 0.4],
        [0.15, 0.90, 0.10, 0.10, 0.00, 0.3],
    ])  # fmt: skip
    s = make_score(per_voxel_table(values, t["target"].to_numpy(), t["participant"].to_numpy(), layers=("c1", "c2", "c3"),
                                   rois=t["roi"].to_numpy()), layers=("c1", "c2", "c3"))  # fmt: skip
    # ties after clipping at 1: voxel 101 between layers 0, 1; voxel 103 between 0, 1; voxel 104 among 0, 1, 2;
    # drawn in voxel order from one RandomState(0), as the authors
    rng = np.random.RandomState(0)
    draws = [rng.choice([0, 1]), rng.choice([0, 1]), rng.choice([0, 1, 2])]
    expected = [1, draws[0], 1, draws[1], draws[2], 0]
    out = voxel_best_layer_map(s, t)
    assert out["best_layer_index"].tolist() == expected
    assert out["best_layer"].tolist() == [["c1", "c2", "c3"][i] for i in expected]
    assert out["best_relative_layer"].tolist() == [i / 2 for i in expected]
    assert out["voxel"].tolist() == [100, 101, 102, 103, 104, 105]
    assert out["hemi"].tolist() == ["lh", "rh", "lh", "rh", "lh", "rh"]
    assert out["x_ras"].tolist() == [1, 2, 3, 4, 5, 6] and out["y_ras"].tolist() == [-1, -2, -3, -4, -5, -6]
    assert out["participant"].tolist() == [7, 7, 7, 9, 9, 9]
    assert out["roi"].tolist() == t["roi"].tolist()


def test_voxel_best_layer_map_of_a_real_score_round_trip(tmp_path):
    bench = surface_benchmark(n_stim=16)
    rng = np.random.default_rng(2)
    acts = {"l1": rng.standard_normal((16, 4)), "l2": rng.standard_normal((16, 6)), "l3": rng.standard_normal((16, 3))}
    result = score(acts, bench, "tiny", splits=reference_splits(16, n_splits=4), alphas=10.0 ** np.arange(-2, 3),
                   n_iterations=2, rsa=False, progress=False)  # fmt: skip
    result.save(tmp_path / "score")
    loaded = Score.load(tmp_path / "score")
    out = voxel_best_layer_map(loaded, bench.targets)
    # independent: pivot the medians, clip at 1, take the largest (ties drawn as the authors)
    med = loaded.per_voxel.pivot(index="layer", columns="voxel", values="r2_corrected").loc[["l1", "l2", "l3"]]
    med = np.minimum(med[[100, 101, 102, 103, 104, 105]].to_numpy(), 1.0)
    rng0 = np.random.RandomState(0)
    expected = []
    for v in range(6):
        top = np.flatnonzero(med[:, v] == med[:, v].max())
        expected.append(int(top[0]) if len(top) == 1 else int(rng0.choice(top)))
    assert out["best_layer_index"].tolist() == expected
    path = write_surface_csv(out, tmp_path / "maps" / "surface.csv")
    back = pd.read_csv(path)
    assert tuple(back.columns) == SURFACE_COLUMNS
    assert back["voxel_id"].tolist() == [100, 101, 102, 103, 104, 105]
    assert back["subj_idx"].tolist() == [7, 7, 7, 9, 9, 9]
    assert back["best_layer_index"].tolist() == expected
    assert back["best_layer"].tolist() == [["l1", "l2", "l3"][i] for i in expected]
    np.testing.assert_allclose(back["best_relative_layer"], np.array(expected) / 2)


def test_voxel_best_layer_map_errors(tmp_path):
    bench = surface_benchmark()
    t = bench.targets
    s = make_score(per_voxel_table(np.ones((2, 6)), t["target"].to_numpy(), t["participant"].to_numpy()))
    with pytest.raises(ValueError, match=r"targets: missing columns \['hemi', 'x_ras'\]"):
        voxel_best_layer_map(s, surface_benchmark(coordinates=False).targets)
    with pytest.raises(ValueError, match=r"1 of the score's 6 voxels are not in column 'target', e\.g\. \[105\]"):
        voxel_best_layer_map(s, t.iloc[:5])
    with pytest.raises(ValueError, match="'participant' disagrees"):
        voxel_best_layer_map(s, t.assign(participant=[7, 7, 9, 9, 9, 9]))
    comp = make_score(per_voxel_table(np.ones((2, 6)), t["target"].to_numpy(), t["participant"].to_numpy())
                      .rename(columns={"voxel": "component"}), kind="components")  # fmt: skip
    with pytest.raises(ValueError, match="no 'voxel' column"):
        voxel_best_layer_map(comp, t)
    with pytest.raises(ValueError, match=r"voxel_map: missing columns \['x_ras'\]"):
        write_surface_csv(voxel_best_layer_map(s, t).drop(columns="x_ras"), tmp_path / "x.csv")


# ------------------------------------------------------------------ figures
@pytest.fixture
def titles(monkeypatch):
    """Record every title of each saved figure (then save it as usual)."""
    seen = []
    real = figs._save

    def save(fig, path):
        seen.append(" ".join([fig._suptitle.get_text() if fig._suptitle else ""] + [a.get_title() for a in fig.axes]))
        return real(fig, path)

    monkeypatch.setattr(figs, "_save", save)
    return seen


def _is_png(path):
    data = path.read_bytes()
    return data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000


def test_consistency_and_ed_figures(tmp_path, titles):
    a = pd.Series({"m1": 0.30, "m2": 0.50, "m3": 0.20, "m4": 0.45})
    b = pd.Series({"m1": 0.35, "m2": 0.60, "m3": 0.10, "m4": 0.40})
    p = figs.consistency_scatter(a, b, tmp_path / "c.png", benchmark=("nh2015", "b2021"), x_label="NH2015",
                                 y_label="B2021")  # fmt: skip
    assert _is_png(p) and "nh2015 vs b2021" in titles[-1] and f"r = {consistency(a, b)['pearson_r']:.3f}" in titles[-1]
    assert "SYNTHETIC" not in titles[-1]
    table = pd.DataFrame({"model": ["A", "A", "B", "B", "C", "C"], "layer": ["x", "y"] * 3,
                          "ed": [1.0, 4.0, 2.0, 3.0, 6.0, 5.0], "value": [0.1, 0.3, 0.4, 0.2, 0.5, 0.6]})  # fmt: skip
    p = figs.ed_scatter(table, tmp_path / "ed.png", benchmark="synthetic")
    assert _is_png(p) and "synthetic (SYNTHETIC, not brain data)" in titles[-1]


def test_seed_and_component_figures(tmp_path, titles):
    voxels = np.arange(600)
    rng = np.random.default_rng(0)
    v = rng.uniform(0, 1, (2, 600))
    t1 = per_voxel_table(v, voxels, voxels % 3)
    t2 = per_voxel_table(v + rng.normal(0, 0.1, v.shape), voxels, voxels % 3)
    pairs, stats = seed_consistency(make_score(t1, model="s1"), make_score(t2, model="s2"))
    p = figs.seed_scatter(pairs, stats, tmp_path / "seed.png", benchmark="nh2015")
    assert _is_png(p) and "per voxel" in titles[-1]
    with pytest.raises(ValueError, match=r"pairs: missing columns \['value_2'\]"):
        figs.seed_scatter(pairs.drop(columns="value_2"), stats, tmp_path / "bad.png", benchmark="nh2015")

    cats = [CATEGORIES[i % 11] for i in range(33)]
    measured = rng.standard_normal((33, 4))
    predicted = measured + rng.normal(0, 0.5, measured.shape)
    predicted[3] = np.nan  # an untested sound is left out
    p = figs.component_scatter(predicted, measured, cats, tmp_path / "comp.png", benchmark="synthetic_comp",
                               model="m", components=["c1", "c2", "c3", "c4"], layer="relu3")  # fmt: skip
    assert _is_png(p) and "SYNTHETIC" in titles[-1] and "c4 (r = " in titles[-1]
    with pytest.raises(ValueError, match="same"):
        figs.component_scatter(predicted[:, :2], measured, cats, tmp_path / "bad.png", benchmark="x", model="m")
    with pytest.raises(ValueError, match="categories: 32 entries for 33 sounds"):
        figs.component_scatter(predicted, measured, cats[:32], tmp_path / "bad.png", benchmark="x", model="m")


def test_voxel_map_figure(tmp_path, titles):
    bench = surface_benchmark()
    t = bench.targets
    rng = np.random.default_rng(4)
    s = make_score(per_voxel_table(rng.uniform(0, 1, (3, 6)), t["target"].to_numpy(), t["participant"].to_numpy(),
                                   layers=("a", "b", "c")), layers=("a", "b", "c"))  # fmt: skip
    p = figs.voxel_map_figure(voxel_best_layer_map(s, t), tmp_path / "map.png", benchmark=bench.name, model="m")
    assert _is_png(p) and "SYNTHETIC" in titles[-1] and "participant 9, rh (2 voxels)" in titles[-1]
    with pytest.raises(ValueError, match=r"voxel_map: missing columns \['hemi'\]"):
        figs.voxel_map_figure(voxel_best_layer_map(s, t).drop(columns="hemi"), tmp_path / "x.png", benchmark="b",
                              model="m")  # fmt: skip

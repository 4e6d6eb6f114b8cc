"""The paper's statistics (evaluate/statistics.py) on cases small enough to work by hand."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from evaluate import Score
from evaluate.statistics import (
    ComparisonResult,
    bootstrap_compare,
    compare_scores,
    comparisons_to_csv,
    ed_per_layer,
    effective_dimensionality,
    paired_compare,
    permutation_test,
    roi_table,
    wilcoxon_rois,
    within_subject_sem,
)
from evaluate.stats import within_participant_sem


# ------------------------------------------------------------------ bootstrap
def test_bootstrap_p_value_by_hand():
    # model 2 constant: every resampled mean is 0; "above" is strict
    assert bootstrap_compare([0.5, 0.5, 0.5], [0.0, 0.0, 0.0]).p_value == 0.0
    assert bootstrap_compare([-1.0, -1.0, -1.0], [0.0, 0.0, 0.0]).p_value == 1.0
    assert bootstrap_compare([1.0, 1.0, 1.0], [1.0, 1.0, 1.0]).p_value == 0.0
    # resampling [0, 0, 1]: mean > 0.5 iff the 1 is drawn at least twice: 3 * (1/3)^2 (2/3) + (1/3)^3 = 7/27
    r = bootstrap_compare([0.5, 0.5, 0.5], [0.0, 0.0, 1.0])
    assert r.p_value == pytest.approx(7 / 27, abs=0.02)  # binomial SD 0.0044 with 10,000 resamples
    assert (r.n, r.n_resamples, r.method) == (3, 10_000, "subject bootstrap")
    assert r.mean_difference == pytest.approx(0.5 - 1 / 3)
    # differences [0.5, 0.5, -0.5]: SD (ddof 1) sqrt(1/3), SEM 1/3; the margin is 0.5 of it
    assert r.sem_difference == pytest.approx(1 / 3) and r.margin_in_sem == pytest.approx(0.5)


def test_bootstrap_matches_the_authors_seeded_loop():
    v1, v2 = np.array([0.41, 0.52, 0.38, 0.47, 0.50]), np.array([0.44, 0.36, 0.49, 0.40, 0.43])
    np.random.seed(0)  # the authors' procedure, docs/reference.md section 11
    means = np.array([np.random.choice(v2, len(v2), replace=True).mean() for _ in range(10_000)])
    r = bootstrap_compare(v1, v2)
    assert r.p_value == np.mean(means > v1.mean())
    d = v1 - v2
    assert r.effect_size == pytest.approx(d.mean() / d.std(ddof=1))
    assert r.margin_in_sem == pytest.approx(d.mean() / (d.std(ddof=1) / math.sqrt(5)))
    assert r.effect_size_kind == "cohen_dz"


def test_bootstrap_seed_and_input_errors():
    v1, v2 = [0.4, 0.5, 0.6, 0.2], [0.45, 0.3, 0.5, 0.55]
    assert bootstrap_compare(v1, v2, n_resamples=50, seed=3) == bootstrap_compare(v1, v2, n_resamples=50, seed=3)
    with pytest.raises(ValueError, match="values_1 and values_2.*same length"):
        bootstrap_compare([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"values_2.*finite.*\[1\]"):
        bootstrap_compare([1.0, 2.0, 3.0], [1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="values_1.*1-d"):
        bootstrap_compare([[1.0, 2.0]], [1.0, 2.0])
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_compare(v1, v2, n_resamples=0)


def _score(model, participants, values, kind="voxels", benchmark="nh2015", rel=None):
    rois = ["all", "Primary", "Anterior"]
    return Score(
        benchmark=benchmark, model=model, kind=kind, metric="m", value=float(np.mean(values)), sem=0.0,
        layers=["a", "b"],
        per_participant=pd.DataFrame({"participant": participants, "value": values,
                                      "best_relative_layer": np.zeros(len(values))}),
        per_layer=pd.DataFrame(), per_roi=pd.DataFrame({"roi": rois, "best_relative_layer": rel or [0.5, 0.3, 0.6]}),
        per_roi_layer=pd.DataFrame(), per_voxel=pd.DataFrame(), ceiling=pd.DataFrame(),
    )  # fmt: skip


def test_compare_scores_aligns_participants():
    s1 = _score("m1", [1, 2, 3, 4], [0.4, 0.5, 0.6, 0.2])
    s2 = _score("m2", [3, 1, 4, 2], [0.5, 0.45, 0.55, 0.3])  # participant 1: 0.45, 2: 0.3, 3: 0.5, 4: 0.55
    assert compare_scores(s1, s2, n_resamples=200) == bootstrap_compare(
        [0.4, 0.5, 0.6, 0.2], [0.45, 0.3, 0.5, 0.55], n_resamples=200
    )
    with pytest.raises(ValueError, match=r"only in score_1 \[4\], only in score_2 \[5\]"):
        compare_scores(s1, _score("m3", [1, 2, 3, 5], [0.1, 0.2, 0.3, 0.4]))
    with pytest.raises(ValueError, match="score_2 \\(m4\\).*voxel benchmark"):
        compare_scores(s1, _score("m4", [1, 2, 3, 4], [0.1] * 4, kind="components"))
    with pytest.raises(ValueError, match="different benchmarks"):
        compare_scores(s1, _score("m5", [1, 2, 3, 4], [0.1] * 4, benchmark="b2021"))
    with pytest.raises(ValueError, match=r"score_2 \(m6\) per_participant\['value'\].*finite"):
        compare_scores(s1, _score("m6", [1, 2, 3, 4], [0.1, np.nan, 0.2, 0.3]))


# ------------------------------------------------------------------ permutation test
def _exhaustive_by_hand(a, b):
    pooled, n = np.concatenate([a, b]), len(a)
    obs, count, total = a.mean() - b.mean(), 0, 0
    for idx in itertools.combinations(range(2 * n), n):
        g1 = pooled[list(idx)]
        g2 = np.delete(pooled, list(idx))
        count += abs(g1.mean() - g2.mean()) >= abs(obs) - 1e-12
        total += 1
    return count / total


def test_permutation_exhaustive_equals_hand_enumeration_and_scipy():
    a, b = np.array([1.0, 2.0, 4.0]), np.array([3.0, 5.0, 6.0])
    # by hand: diffs of the 20 splits of {1..6}; |diff| >= 7/3 for {1,2,3},{1,2,4} and their mirrors
    exact = permutation_test(a, b, n_permutations=None)
    assert exact.p_value == pytest.approx(4 / 20)
    assert exact.p_value == pytest.approx(_exhaustive_by_hand(a, b))
    ref = sps.permutation_test((a, b), lambda x, y: x.mean() - y.mean(), permutation_type="independent",
                               n_resamples=np.inf, alternative="two-sided")  # fmt: skip
    assert exact.p_value == pytest.approx(ref.pvalue)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=5), rng.normal(0.8, size=5)
    assert permutation_test(a, b, n_permutations=None).p_value == pytest.approx(_exhaustive_by_hand(a, b))
    # 10,000 seeded shuffles approach the exhaustive p-value; the observed split counts (p = 1 when equal)
    sampled = permutation_test(a, b)
    assert sampled.n_resamples == 10_000 and sampled == permutation_test(a, b)
    assert sampled.p_value == pytest.approx(_exhaustive_by_hand(a, b), abs=0.02)
    assert permutation_test([1.0, 2.0], [2.0, 1.0], n_permutations=None).p_value == 1.0


def test_permutation_effect_size_and_errors():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([2.0, 3.0, 4.0])
    r = permutation_test(a, b, n_permutations=100)
    assert r.effect_size == pytest.approx(-1.0) and r.effect_size_kind == "cohen_d_pooled"  # -1 / SD 1
    assert r.statistic == r.mean_difference == pytest.approx(-1.0)
    # independent sets, variance 1 each: SEM of the difference sqrt(1/3 + 1/3)
    assert r.sem_difference == pytest.approx(math.sqrt(2 / 3)) and r.margin_in_sem == pytest.approx(-math.sqrt(1.5))
    with pytest.raises(ValueError, match="same length"):
        permutation_test([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="values_1.*finite"):
        permutation_test([np.inf, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="n_permutations.*enumerates"):
        permutation_test(np.arange(20.0), np.arange(20.0), n_permutations=None)


# ------------------------------------------------------------------ paired and Wilcoxon
def test_paired_compare_matches_scipy_and_dz():
    clean = np.array([0.60, 0.55, 0.70, 0.65, 0.50, 0.58])
    noisy = np.array([0.52, 0.50, 0.61, 0.66, 0.39, 0.51])
    r = paired_compare(clean, noisy)
    t = sps.ttest_rel(clean, noisy)
    d = clean - noisy
    assert (r.statistic, r.p_value) == (pytest.approx(t.statistic), pytest.approx(t.pvalue))
    assert r.statistic == pytest.approx(d.mean() / (d.std(ddof=1) / math.sqrt(6)))  # t = d_z sqrt(n)
    assert r.margin_in_sem == pytest.approx(r.statistic)  # the paired t is the margin in SEMs
    assert r.effect_size == pytest.approx(d.mean() / d.std(ddof=1))
    # Wilcoxon: one negative difference (-0.01, the smallest |d|): W = 1, exact p = 2 * 2 / 2^6
    assert r.wilcoxon_statistic == 1.0 and r.wilcoxon_p_value == pytest.approx(4 / 64)
    same = paired_compare([1.0, 2.0], [1.0, 2.0])
    assert math.isnan(same.wilcoxon_p_value) and math.isnan(same.effect_size)
    with pytest.raises(ValueError, match="a and b"):
        paired_compare([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"^b: .*finite"):
        paired_compare([1.0, 2.0], [1.0, np.nan])


def _fifteen_models(with_zero: bool) -> pd.DataFrame:
    # differences (Anterior - Primary): ranks 1..3 negative, the rest positive -> W = 1 + 2 + 3 = 6
    d = np.arange(1, 16, dtype=float) / 100
    d[:3] *= -1
    if with_zero:  # one model with no difference (dropped by the test), the rest shifted to ranks 1..14
        d = np.concatenate([[0.0], np.arange(1, 15) / 100])
        d[1:4] *= -1
    primary = np.linspace(0.3, 0.45, 15)
    return pd.DataFrame({"model": [f"m{i}" for i in range(15)], "Primary": primary, "Anterior": primary + d,
                         "Lateral": primary + np.arange(1, 16) / 50})  # fmt: skip


def test_wilcoxon_rois_w6_exact_and_the_papers_value():
    out = wilcoxon_rois(_fifteen_models(with_zero=False)).set_index("roi")
    assert list(out.index) == ["Anterior", "Lateral"]  # non-numeric "model" ignored
    assert out.loc["Anterior", "W"] == 6.0 and out.loc["Anterior", "n_models"] == 15
    # exact null for n = 15: subsets of ranks 1..15 with sum <= 6 number 1+1+1+2+2+3+4 = 14
    assert out.loc["Anterior", "p_value"] == pytest.approx(2 * 14 / 2**15)
    assert out.loc["Lateral", "W"] == 0.0 and out.loc["Lateral", "p_value"] == pytest.approx(2 / 2**15)
    # one zero difference: n = 14, normal approximation: the paper's W = 6, p = 0.0035
    zero = wilcoxon_rois(_fifteen_models(with_zero=True)).set_index("roi")
    z = (6 - 14 * 15 / 4) / math.sqrt(14 * 15 * 29 / 24)
    assert zero.loc["Anterior", "W"] == 6.0
    assert zero.loc["Anterior", "p_value"] == pytest.approx(2 * sps.norm.cdf(z)) and round(z, 2) == -2.92
    assert round(zero.loc["Anterior", "p_value"], 4) == 0.0035


def test_wilcoxon_rois_errors_and_roi_table():
    table = _fifteen_models(False)
    with pytest.raises(ValueError, match="no 'Primary' column"):
        wilcoxon_rois(table.drop(columns="Primary"))
    bad = table.copy()
    bad.loc[2, "Anterior"] = np.nan
    with pytest.raises(ValueError, match=r"table\['Anterior'\].*finite"):
        wilcoxon_rois(bad)
    scores = {"a": _score("a", [1, 2], [0.1, 0.2], rel=[0.5, 0.3, 0.6]),
              "b": _score("b", [1, 2], [0.1, 0.2], rel=[0.5, 0.2, 0.4])}  # fmt: skip
    t = roi_table(scores)
    assert list(t.columns) == ["Primary", "Anterior"] and list(t.index) == ["a", "b"]
    assert t.loc["b", "Anterior"] == 0.4


# ------------------------------------------------------------------ within-subject SEM
def test_within_subject_sem_by_hand():
    m = np.array([[1.0, 3.0], [2.0, 2.0], [0.0, 4.0]])
    # centred: [-1, 1], [0, 0], [-2, 2]; column SD (ddof 0) sqrt(2/3); over sqrt(3 - 1) -> sqrt(1/3)
    np.testing.assert_allclose(within_subject_sem(m), [math.sqrt(1 / 3)] * 2)
    np.testing.assert_array_equal(within_subject_sem(m), within_participant_sem(pd.DataFrame(m)))
    assert np.isnan(within_subject_sem(m[:1])).all()
    with pytest.raises(ValueError, match="matrix.*shape"):
        within_subject_sem([1.0, 2.0])
    with pytest.raises(ValueError, match="matrix.*finite"):
        within_subject_sem([[1.0, np.nan], [1.0, 2.0]])


# ------------------------------------------------------------------ effective dimensionality
def _cov_path(x):
    lam = np.linalg.eigvalsh(np.cov(x, rowvar=False))
    return lam.sum() ** 2 / (lam**2).sum()


def test_effective_dimensionality():
    rng = np.random.default_rng(0)
    # isotropic in k dimensions: orthonormal, mean-free columns of equal norm -> ED = k
    q, _ = np.linalg.qr(np.column_stack([np.ones(165), rng.normal(size=(165, 7))]))
    assert effective_dimensionality(3.0 * q[:, 1:]) == pytest.approx(7.0)
    assert effective_dimensionality(np.outer(rng.normal(size=165), rng.normal(size=500))) == pytest.approx(1.0)
    # eigenvalues 4 and 1 (two orthogonal directions, norms 2 : 1): (4 + 1)^2 / (16 + 1)
    assert effective_dimensionality(np.column_stack([2 * q[:, 1], q[:, 2]])) == pytest.approx(25 / 17)
    wide, tall = rng.normal(size=(20, 300)), rng.normal(size=(300, 20)) * np.linspace(1, 5, 20)
    assert effective_dimensionality(wide) == pytest.approx(_cov_path(wide), rel=1e-9)  # Gram path
    assert effective_dimensionality(tall) == pytest.approx(_cov_path(tall), rel=1e-9)  # covariance path
    assert effective_dimensionality(wide.astype(np.float32)) == pytest.approx(_cov_path(wide), rel=1e-5)
    assert math.isnan(effective_dimensionality(np.ones((5, 3))))
    with pytest.raises(ValueError, match="acts.*shape"):
        effective_dimensionality(np.ones(5))
    with pytest.raises(ValueError, match="acts.*finite"):
        effective_dimensionality(np.array([[1.0, np.nan], [2.0, 3.0]]))


def test_ed_per_layer():
    rng = np.random.default_rng(1)
    conv = rng.normal(size=(10, 4, 6))  # flattened to [10, 24]
    out = ed_per_layer({"conv": conv, "fc": np.outer(rng.normal(size=10), np.ones(3))})
    assert list(out) == ["conv", "fc"]
    assert out["conv"] == pytest.approx(_cov_path(conv.reshape(10, -1)), rel=1e-9) and out["fc"] == pytest.approx(1)
    with pytest.raises(ValueError, match=r"activations\['fc'\]: 9 sounds"):
        ed_per_layer({"conv": conv, "fc": np.ones((9, 3))})
    with pytest.raises(ValueError, match=r"activations\['x'\]: acts.*finite"):
        ed_per_layer({"x": np.full((3, 2), np.nan)})


# ------------------------------------------------------------------ CSV
def test_comparisons_to_csv(tmp_path):
    r1 = permutation_test([1.0, 2.0, 4.0], [3.0, 5.0, 6.0], n_permutations=None)
    r2 = paired_compare([0.6, 0.5, 0.7], [0.5, 0.45, 0.5])
    path = comparisons_to_csv([("perm", r1), ("paired", r2)], tmp_path / "sub" / "stats.csv")
    table = pd.read_csv(path)
    assert list(table["label"]) == ["perm", "paired"]
    assert table.loc[0, "p_value"] == pytest.approx(0.2) and table.loc[1, "effect_size"] == pytest.approx(r2.effect_size)
    assert math.isnan(table.loc[0, "wilcoxon_p_value"])
    assert list(table.columns)[:3] == ["label", "method", "n"]
    assert [p.name for p in path.parent.iterdir()] == ["stats.csv"]  # no temporary left behind
    assert comparisons_to_csv({"a": r1}, tmp_path / "d.csv").read_text().startswith("label,method")
    with pytest.raises(ValueError, match=r"duplicate labels \['x'\]"):
        comparisons_to_csv([("x", r1), ("x", r2)], tmp_path / "e.csv")
    with pytest.raises(ValueError, match=r"results\['y'\].*ComparisonResult"):
        comparisons_to_csv({"y": 0.5}, tmp_path / "f.csv")
    assert isinstance(r1, ComparisonResult)

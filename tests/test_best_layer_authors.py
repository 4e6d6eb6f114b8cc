"""The authors' best-layer rules (docs/reference.md section 11): random tie-breaking and Figure 7's
best relative layer per ROI, each on a case small enough to work by hand, and against an
independent implementation written here from the reference text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluate import Benchmark, score
from evaluate.aggregate import aggregate
from evaluate.bestlayer import BestLayerCV, argmax_layer, best_layer_cv, choose_layer


def _authors_choice(values: np.ndarray) -> np.ndarray:
    """Independent: ``np.random.seed(0)``, then per voxel in order ``np.random.choice`` among the
    layers equal to its maximum (the global legacy generator, as the authors' code)."""
    np.random.seed(0)
    out = []
    for column in values.T:
        out.append(np.random.choice(np.flatnonzero(column == column.max())))
    return np.array(out)


def test_choose_layer_draws_among_ties_as_the_authors():
    # Worked by hand: voxel 0 has one best layer (1); voxels 1 and 2 tie layers {0, 2} and {0, 1, 2}.
    values = np.array([[0.1, 1.0, 0.3], [0.5, 0.2, 0.3], [0.2, 1.0, 0.3]])
    got = choose_layer(values)
    assert got[0] == 1 and got[1] in (0, 2)
    rng = np.random.RandomState(0)
    first, second = rng.choice([0, 2]), rng.choice([0, 1, 2])  # the single best draws nothing
    np.testing.assert_array_equal(got, [1, first, second])
    # Many voxels, many ties (values on a coarse grid), against the global-generator loop.
    grid = np.random.default_rng(3).integers(0, 3, size=(5, 400)).astype(float)
    np.testing.assert_array_equal(choose_layer(grid), _authors_choice(grid))
    assert (choose_layer(grid) != np.argmax(grid, axis=0)).any()  # not the first-of-ties rule
    state = np.random.get_state()[1].copy()
    choose_layer(grid)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # the global generator untouched


def test_choose_layer_nan_and_errors():
    values = np.array([[np.nan, np.nan, 0.2], [0.5, np.nan, np.nan]])
    np.testing.assert_array_equal(choose_layer(values), [1, 0, 0])
    with pytest.raises(ValueError, match=r"values must be \[layers, targets\]"):
        choose_layer(np.zeros(3))


def test_best_layer_cv_ties_equal_the_authors_loop():
    rng = np.random.default_rng(0)
    values = np.minimum(rng.uniform(0.5, 1.5, size=(4, 10, 30)), 1.0)  # clipped: many ties at 1
    result = best_layer_cv(values, n_iterations=3)
    half = np.tile([0.0, 1.0], 5)
    for it in range(3):
        r = np.random.RandomState(it)
        select = np.empty((4, 30))
        for layer in range(4):
            for target in range(30):
                mask = half.copy()
                r.shuffle(mask)
                select[layer, target] = min(np.median(values[layer, mask == 1, target]), 1.0)
        np.testing.assert_array_equal(result.layer[it], _authors_choice(select))


def _two_roi_benchmark() -> Benchmark:
    # 2 participants x (2 Primary + 2 Lateral voxels).
    participant = [1, 1, 1, 1, 2, 2, 2, 2]
    roi = ["Primary", "Primary", "Lateral", "Lateral"] * 2
    return Benchmark.from_arrays(np.random.default_rng(0).standard_normal((6, 8, 2)), participant, roi, name="fig7")


def test_figure7_best_relative_layer_per_roi_worked_by_hand():
    bench = _two_roi_benchmark()
    # Per voxel medians over splits [3 layers, 8 voxels]; every split equal, so median = value.
    med = np.array(
        [
            [0.9, 0.1, 0.1, 0.1, 0.9, 0.9, 0.1, 0.2],
            [0.2, 0.8, 0.1, 0.9, 0.1, 0.1, 0.1, 0.9],
            [0.1, 0.1, 0.9, 0.2, 0.1, 0.1, 0.9, 0.1],
        ]
    )
    values = np.repeat(med[:, None, :], 2, axis=1)
    # Best layers 0,1,2,1 | 0,0,2,1 -> relative 0, .5, 1, .5 | 0, 0, 1, .5.
    np.testing.assert_array_equal(argmax_layer(values), [0, 1, 2, 1, 0, 0, 2, 1])
    best = best_layer_cv(values, n_iterations=2)
    agg = aggregate(bench, ["a", "b", "c"], values, best, clip=True)
    table = agg.per_roi().set_index("roi")
    # Medians per participant: Primary (0.25, 0), Lateral (0.75, 0.75); all (0.5, 0.25).
    assert table.loc["Primary", "best_relative_layer"] == pytest.approx(0.125)
    assert table.loc["Lateral", "best_relative_layer"] == pytest.approx(0.75)
    assert table.loc["all", "best_relative_layer"] == pytest.approx(0.375)
    # Within-participant SEM across the ROIs: participant means 0.5, 0.375, grand mean 0.4375;
    # centred Primary values 0.1875, 0.0625 -> sd (ddof 0) 0.0625 / sqrt(1); Lateral the same.
    assert table.loc["Primary", "best_relative_layer_sem"] == pytest.approx(0.0625)
    assert table.loc["Lateral", "best_relative_layer_sem"] == pytest.approx(0.0625)
    # "all" keeps the plain SEM over participants: sd(0.5, 0.25) / sqrt(2) = 0.125.
    assert table.loc["all", "best_relative_layer_sem"] == pytest.approx(0.125)
    np.testing.assert_allclose(agg.per_participant()["best_relative_layer"], [0.5, 0.25])
    cv = aggregate(bench, ["a", "b", "c"], values, best, clip=True, relative_layer="cv").per_roi().set_index("roi")
    # The cross-validated variant: with identical splits it picks the same layers, plain SEM.
    assert cv.loc["Primary", "best_relative_layer"] == pytest.approx(0.125)
    assert cv.loc["Primary", "best_relative_layer_sem"] == pytest.approx(0.125)
    with pytest.raises(ValueError, match="relative_layer must be one of"):
        aggregate(bench, ["a", "b", "c"], values, best, clip=True, relative_layer="mean")


def test_figure7_ties_at_the_clip_are_drawn():
    bench = _two_roi_benchmark()
    values = np.full((3, 2, 8), 1.4)  # every layer clips to 1: all tied
    values[0] = 1.6  # ... but before clipping layer 0 is best
    best = best_layer_cv(values, n_iterations=1)
    np.testing.assert_array_equal(argmax_layer(values), _authors_choice(np.ones((3, 8))))
    rel = aggregate(bench, ["a", "b", "c"], values, best, clip=True).everything.unit_relative_layer
    drawn = _authors_choice(np.ones((3, 8))) / 2
    np.testing.assert_allclose(rel, [np.median(drawn[:4]), np.median(drawn[4:])])
    np.testing.assert_array_equal(argmax_layer(values, clip=False), 0)


def test_score_records_the_method_and_the_two_methods_differ():
    rng = np.random.default_rng(1)
    bench = _two_roi_benchmark()
    acts = {f"l{i}": rng.standard_normal((6, 3)) for i in range(3)}
    splits = [(np.arange(3), np.arange(3, 6)), (np.arange(3, 6), np.arange(3))]
    kw = {"splits": splits, "alphas": 10.0 ** np.arange(-2, 3), "rsa": False, "progress": False, "device": "cpu"}
    a = score(acts, bench, **kw)
    c = score(acts, bench, relative_layer="cv", **kw)
    assert a.info["relative_layer"] == "argmax" and c.info["relative_layer"] == "cv"
    assert a.value == c.value  # the headline does not depend on it
    pd.testing.assert_frame_equal(a.per_layer, c.per_layer)
    assert isinstance(best_layer_cv(np.zeros((1, 2, 1)), 1), BestLayerCV)

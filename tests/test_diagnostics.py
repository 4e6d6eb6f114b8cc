"""Per-layer diagnostics (evaluate/diagnostics.py) on cases whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluate import Benchmark, Score, score
from evaluate.diagnostics import COLUMNS, layer_diagnostics, warnings_for


@pytest.fixture(scope="module")
def scored() -> Score:
    rng = np.random.default_rng(0)
    n_stim, n_vox = 165, 24
    signal = rng.standard_normal((n_stim, 3))
    weights = rng.standard_normal((3, n_vox))
    clean = signal @ weights
    responses = clean[:, :, None] + 0.5 * rng.standard_normal((n_stim, n_vox, 3))
    bench = Benchmark.from_arrays(responses, participant=np.repeat([0, 1, 2], 8),
                                  roi=np.tile(["Primary", "Anterior", "Lateral", "Posterior"], 6))  # fmt: skip
    acts = {
        "good": signal + 0.01 * rng.standard_normal((n_stim, 3)),  # the generating features
        "constant": np.ones((n_stim, 4)),  # constant predictions: r2 = 0 everywhere
        "noise": rng.standard_normal((n_stim, 5)),
    }
    return score(acts, bench, "toy", rsa=False, device="cpu", progress=False)


def test_diagnostics_say_what_each_layer_ran_into(scored):
    table = layer_diagnostics(scored)
    assert list(table.columns) == list(COLUMNS) and table["layer"].tolist() == ["good", "constant", "noise"]
    rows = table.set_index("layer")
    assert (rows["n_targets"] == 24).all()
    assert rows.loc["constant", "r2_zero"] == 1.0  # every prediction constant
    assert rows.loc["good", "r2_zero"] == 0.0
    # by hand from the per-voxel table: the share of median alphas at the grid's top
    top = scored.info["alphas"][1]
    noise = scored.per_voxel[scored.per_voxel["layer"] == "noise"]
    assert rows.loc["noise", "alpha_at_high_edge"] == pytest.approx(np.mean(np.isclose(noise["alpha"], top)))
    good = scored.per_voxel[scored.per_voxel["layer"] == "good"]
    assert rows.loc["good", "corrected_above_1"] == pytest.approx(np.mean(good["r2_corrected"] > 1))
    assert rows.loc["good", "corrected_max"] == pytest.approx(good["r2_corrected"].max())
    lines = warnings_for(table)
    assert "constant: 100% of targets with r2 = 0 (negative or constant predictions)" in lines
    assert not any(line.startswith("good: ") and "r2 = 0" in line for line in lines)


def test_a_saved_score_gives_the_same_diagnostics(scored, tmp_path):
    scored.save(tmp_path / "score")
    pd.testing.assert_frame_equal(layer_diagnostics(Score.load(tmp_path / "score")), layer_diagnostics(scored))


def test_a_score_without_the_alpha_grid_is_a_clear_error(scored):
    broken = Score(**{**scored.__dict__, "info": {}})
    with pytest.raises(ValueError, match=r"score of toy: info\['alphas'\] should be \[min, max, count\]"):
        layer_diagnostics(broken)

"""Per-layer diagnostics of a score: where the regression ran into the edges of what it can say.

From a :class:`evaluate.Score` alone (a fresh one or one read back with ``Score.load``), per
layer, over the targets (voxels or components):

* ``alpha_at_low_edge`` / ``alpha_at_high_edge``: the fraction whose median leave-one-out
  alpha is the smallest / largest of the grid (``info["alphas"]``): the best ridge penalty may
  lie outside it (a high edge: the layer predicts nothing better than the mean);
* ``r2_zero``: the fraction whose median r2 is exactly 0 -- test predictions negatively
  correlated with the responses, or constant (a constant layer), which the reference scores as 0;
* ``corrected_above_1`` and ``corrected_max``: the fraction whose median noise-corrected r2
  exceeds 1 before it is clipped, and the largest such value (NaN without noise correction):
  a sign of a noise ceiling estimated too low.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluate.results import Score

COLUMNS = ("layer", "n_targets", "alpha_at_low_edge", "alpha_at_high_edge", "r2_zero", "corrected_above_1",
           "corrected_max")  # fmt: skip


def layer_diagnostics(score: Score) -> pd.DataFrame:
    """One row per layer (in ``score.layers`` order) with the columns of the module docstring."""
    alphas = score.info.get("alphas")
    if not (isinstance(alphas, (list, tuple)) and len(alphas) == 3):
        raise ValueError(f"score of {score.model}: info['alphas'] should be [min, max, count], got {alphas!r}")
    low, high = float(alphas[0]), float(alphas[1])
    missing = {"layer", "alpha", "r2", "r2_corrected"} - set(score.per_voxel.columns)
    if missing:
        raise ValueError(f"score of {score.model}: per_voxel lacks the columns {sorted(missing)}")
    rows = []
    for layer in score.layers:
        t = score.per_voxel[score.per_voxel["layer"] == layer]
        corrected = t["r2_corrected"].to_numpy(dtype=float)
        has_corrected = np.isfinite(corrected).any()
        rows.append({
            "layer": layer,
            "n_targets": len(t),
            "alpha_at_low_edge": float(np.mean(np.isclose(t["alpha"], low, rtol=1e-9))) if len(t) else np.nan,
            "alpha_at_high_edge": float(np.mean(np.isclose(t["alpha"], high, rtol=1e-9))) if len(t) else np.nan,
            "r2_zero": float(np.mean(t["r2"].to_numpy() == 0.0)) if len(t) else np.nan,
            "corrected_above_1": float(np.mean(corrected[np.isfinite(corrected)] > 1.0)) if has_corrected else np.nan,
            "corrected_max": float(np.nanmax(corrected)) if has_corrected else np.nan,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=list(COLUMNS))


def warnings_for(table: pd.DataFrame, threshold: float = 0.05) -> list[str]:
    """Human-readable lines for the layers where a diagnostic fraction exceeds ``threshold``."""
    lines = []
    what = {"alpha_at_low_edge": "median alpha at the grid's low edge",
            "alpha_at_high_edge": "median alpha at the grid's high edge",
            "r2_zero": "r2 = 0 (negative or constant predictions)",
            "corrected_above_1": "noise-corrected r2 above 1 before clipping"}  # fmt: skip
    for row in table.itertuples(index=False):
        for column, text in what.items():
            value = getattr(row, column)
            if np.isfinite(value) and value > threshold:
                lines.append(f"{row.layer}: {value:.0%} of targets with {text}")
    return lines

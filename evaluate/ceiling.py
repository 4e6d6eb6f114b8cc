"""The noise ceiling of the noise-corrected r2 (docs/reference.md section 6).

Both reliabilities have one form: the median over repetition pairs of their correlation,
Spearman-Brown corrected to ``k`` repetitions (``k r / (1 + (k - 1) r)``) and floored as the
reference does (``np.nanmax([value, floor])``, so an undefined value becomes the floor):

* ``rv``, of the measured responses, on each split's training sounds (floor 0.182);
* ``rv_hat``, of the single-repetition models' test predictions (floor 0.183), per layer;
  :func:`evaluate.fits.fit_splits` computes it with :func:`reliability`.

Corrected r2 = r2 / (rv * rv_hat).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from evaluate.benchmark import Benchmark
from evaluate.stats import nanmedian, pearson_columns, spearman_brown

RV_FLOOR, RV_HAT_FLOOR = 0.182, 0.183


def floored(values: np.ndarray, floor: float) -> np.ndarray:
    """``np.nanmax([values, floor])`` element-wise, as the reference (NaN -> floor)."""
    return np.where(np.isnan(values), floor, np.maximum(values, floor))


def reliability(repetitions: Sequence[np.ndarray], floor: float) -> np.ndarray:
    """Spearman-Brown corrected, floored reliability of ``k >= 2`` repetitions.

    ``repetitions``: ``k`` arrays ``[m, T]`` (the same ``m`` sounds and ``T`` targets). Returns
    ``[T]``: the median over the ``k (k - 1) / 2`` pairs of their column-wise correlation
    (pairs where a column is constant are left out of the median), corrected to ``k``.
    """
    k = len(repetitions)
    if k < 2:
        raise ValueError(f"repetitions: a reliability needs at least 2 repetitions, got {k}")
    pairs = np.stack([pearson_columns(repetitions[a], repetitions[b]) for a, b in itertools.combinations(range(k), 2)])
    return floored(spearman_brown(nanmedian(pairs), k), floor)


@dataclass(frozen=True, eq=False)  # numpy fields: compare arrays, not records
class NoiseCeiling:
    """The measured responses' reliability per split.

    Attributes:
        rv: ``[splits, targets]`` floored Spearman-Brown reliability on each split's
            training sounds; all NaN when the benchmark is not noise-corrected.
        corrected: whether the benchmark is noise-corrected (voxels with >= 2 repetitions).
    """

    rv: np.ndarray
    corrected: bool

    def per_target(self) -> np.ndarray:
        """``[targets]`` median over splits (NaN when not noise-corrected)."""
        return nanmedian(self.rv) if self.corrected else np.full(self.rv.shape[1], np.nan)


def noise_ceiling(benchmark: Benchmark, splits: Sequence[tuple[np.ndarray, np.ndarray]]) -> NoiseCeiling:
    """``rv`` of ``benchmark``'s repetitions on the training sounds of each (train, test) split."""
    rv = np.full((len(splits), benchmark.n_targets), np.nan)
    corrected = benchmark.noise_corrected
    if corrected:
        resp = benchmark.responses
        for s, (train, _test) in enumerate(splits):
            rv[s] = reliability([resp[train, :, k] for k in range(benchmark.n_reps)], RV_FLOOR)
    return NoiseCeiling(rv=rv, corrected=corrected)


__all__ = ["RV_FLOOR", "RV_HAT_FLOOR", "NoiseCeiling", "floored", "noise_ceiling", "reliability"]

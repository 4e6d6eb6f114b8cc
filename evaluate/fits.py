"""The regression stage: every layer fitted on every split (docs/reference.md section 6).

Per split and layer, one eigendecomposition (:mod:`evaluate.ridge`) serves the model of the
mean of the repetitions and, for noise-corrected benchmarks, one model per repetition:

* r = correlation of the mean-response model's test predictions with the mean response,
  set to 0 when negative or when the prediction is constant; r2 = r**2;
* rv_hat = the single-repetition models' prediction reliability (:func:`evaluate.ceiling.reliability`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from evaluate.benchmark import Benchmark
from evaluate.ceiling import RV_HAT_FLOOR, NoiseCeiling, reliability
from evaluate.ridge import REFERENCE_ALPHAS, decompose, fit_targets
from evaluate.stats import pearson_columns


def prediction_r(predictions: np.ndarray, responses: np.ndarray) -> np.ndarray:
    """``[T]`` correlation of ``[m, T]`` predictions with ``[m, T]`` responses, set to 0 when
    negative, undefined, or the prediction is constant (the reference's rule)."""
    r = pearson_columns(predictions, responses)
    return np.where(np.isnan(r) | (r < 0), 0.0, r)


@dataclass(frozen=True, eq=False)  # numpy fields: compare arrays, not records
class SplitFits:
    """Test-sound scores of every layer on every split.

    Attributes:
        layers: the fitted layers, in model order.
        r2: ``[layers, splits, targets]`` squared :func:`prediction_r` of the mean-response model.
        alpha: ``[layers, splits, targets]`` the mean-response model's leave-one-out alpha.
        rv_hat: ``[layers, splits, targets]`` the single-repetition models' floored
            prediction reliability; all NaN when the benchmark is not noise-corrected.
        seconds: time spent in the regression itself (decomposition, fits, transfers).
    """

    layers: tuple[str, ...]
    r2: np.ndarray
    alpha: np.ndarray
    rv_hat: np.ndarray
    seconds: float

    def corrected_r2(self, ceiling: NoiseCeiling) -> np.ndarray:
        """``[layers, splits, targets]`` r2 / (rv * rv_hat); all NaN without noise correction."""
        if not ceiling.corrected:
            return np.full(self.r2.shape, np.nan)
        return self.r2 / (ceiling.rv[None] * self.rv_hat)


def fit_splits(
    features: Mapping[str, np.ndarray],
    benchmark: Benchmark,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    alphas: np.ndarray = REFERENCE_ALPHAS,
    device: torch.device | str = "cpu",
    progress: bool = True,
    desc: str = "Scoring",
) -> SplitFits:
    """Fit every layer of ``features`` (``{layer: [n_stimuli, n_features]}`` float64, checked
    by :func:`evaluate.scoring.check_activations`) on every (train, test) split of ``benchmark``.

    The ridge runs in float64 on ``device``; ``progress`` shows one bar step per fit.
    """
    layers = tuple(features)
    corrected, n_reps = benchmark.noise_corrected, benchmark.n_reps
    resp = benchmark.responses
    mean_resp = resp.mean(axis=2)
    n_targets, n_splits, n_layers = benchmark.n_targets, len(splits), len(layers)
    # Columns [rep 0 | rep 1 | ...]; the ridge also fits their mean (docs/reference.md: the mean of
    # the repetitions) and returns [mean | rep 0 | ...].
    stacked = np.concatenate([resp[:, :, k] for k in range(n_reps)], axis=1) if corrected else mean_resp
    y_all = torch.as_tensor(stacked, dtype=torch.float64, device=device)

    r2 = np.zeros((n_layers, n_splits, n_targets))
    alpha = np.zeros((n_layers, n_splits, n_targets))
    rv_hat = np.full((n_layers, n_splits, n_targets), np.nan)
    bar = tqdm(total=n_splits * n_layers, desc=desc, unit="fit", disable=not progress)
    seconds = 0.0
    for s, (train, test) in enumerate(splits):
        for li, layer in enumerate(layers):
            t0 = time.perf_counter()
            x = torch.as_tensor(features[layer], dtype=torch.float64, device=device)
            eig = decompose(x[train], x[test])
            fit = fit_targets(eig, y_all[train], alphas, mean_of_blocks=n_reps if corrected else 0)
            pred = fit.predictions.cpu().numpy()
            seconds += time.perf_counter() - t0
            r2[li, s] = prediction_r(pred[:, :n_targets], mean_resp[test]) ** 2
            alpha[li, s] = fit.alpha[:n_targets].cpu().numpy()
            if corrected:
                reps = [pred[:, n_targets * (1 + k) : n_targets * (2 + k)] for k in range(n_reps)]
                rv_hat[li, s] = reliability(reps, RV_HAT_FLOOR)
            bar.update()
    bar.close()
    return SplitFits(layers=layers, r2=r2, alpha=alpha, rv_hat=rv_hat, seconds=seconds)


__all__ = ["SplitFits", "fit_splits", "prediction_r"]

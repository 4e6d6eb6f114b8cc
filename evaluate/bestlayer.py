"""The best layer per target, cross-validated over splits as the reference (docs/reference.md section 6)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluate.stats import nanmedian

N_CV_ITERATIONS = 10


@dataclass(frozen=True, eq=False)  # numpy fields: compare arrays, not records
class BestLayerCV:
    """The cross-validated best layer of every target, per iteration.

    Attributes:
        value: ``[iterations, targets]`` the chosen layer's median over the read-out splits.
        layer: ``[iterations, targets]`` int64 index of the chosen layer (model order).
        relative: ``[iterations, targets]`` ``layer / (n_layers - 1)`` (0 with one layer): 0 =
            first scored layer, 1 = last.
    """

    value: np.ndarray
    layer: np.ndarray
    relative: np.ndarray


def best_layer_cv(values: np.ndarray, n_iterations: int = N_CV_ITERATIONS, clip: bool = True) -> BestLayerCV:
    """Cross-validated best layer per target, as the reference.

    ``values`` ``[layers, splits, targets]``. For iteration ``i`` numpy is seeded with ``i``;
    for each layer (in order) and target the splits are shuffled into two halves
    (``np.random.shuffle`` of ``[0, 1] * (splits / 2)``): the "1" half's median (clipped at 1
    after the median when ``clip``) chooses the layer (ties: the earlier layer), the "0" half's
    median at that layer is the value.
    """
    n_layers, n_splits, n_targets = values.shape
    if n_splits % 2:
        raise ValueError(f"values: the cross-validated best layer needs an even number of splits, got {n_splits}")
    half = np.tile([0.0, 1.0], n_splits // 2)
    out_value = np.empty((n_iterations, n_targets))
    out_layer = np.empty((n_iterations, n_targets), dtype=np.int64)
    for it in range(n_iterations):
        rng = np.random.RandomState(it)
        select = np.empty((n_layers, n_targets))
        readout = np.empty((n_layers, n_targets))
        masks = np.empty((n_targets, n_splits))
        for layer in range(n_layers):
            for target in range(n_targets):
                masks[target] = half
                rng.shuffle(masks[target])
            vals = values[layer].T  # [targets, splits]
            select[layer] = nanmedian(np.where(masks == 1, vals, np.nan).T)
            readout[layer] = nanmedian(np.where(masks == 0, vals, np.nan).T)
        if clip:
            select, readout = np.minimum(select, 1.0), np.minimum(readout, 1.0)
        best = np.argmax(select, axis=0)
        out_layer[it] = best
        out_value[it] = readout[best, np.arange(n_targets)]
    return BestLayerCV(value=out_value, layer=out_layer, relative=out_layer / max(n_layers - 1, 1))


__all__ = ["N_CV_ITERATIONS", "BestLayerCV", "best_layer_cv"]

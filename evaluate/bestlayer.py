"""The best layer per target (docs/reference.md sections 6 and 11).

:func:`choose_layer` is the authors' argmax with random tie-breaking (ties are common: noise-
corrected scores clipped at 1, layers that predict nothing); :func:`best_layer_cv` the
cross-validated best layer; :func:`argmax_layer` the per-target best layer of the medians over
splits that Figure 7's best relative layer is built from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluate.stats import nanmedian

N_CV_ITERATIONS = 10
TIE_SEED = 0  # the authors seed numpy with 0 before drawing among tied layers


def choose_layer(values: np.ndarray, seed: int = TIE_SEED) -> np.ndarray:
    """The best layer of every target, ties broken as the authors.

    ``values`` ``[layers, targets]``. Returns ``[targets]`` int64: the layer of the largest
    value; where several layers share it exactly, one of them drawn by
    ``np.random.choice`` from a ``RandomState(seed)`` created for this call, one draw per
    target in target order (a target with a single best layer draws nothing: numpy's
    ``choice`` of one candidate leaves the state unchanged, so this equals drawing for every
    target). NaN counts as below every number; a target that is NaN everywhere gets layer 0.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] == 0:
        raise ValueError(f"values must be [layers, targets] with at least one layer, got shape {list(values.shape)}")
    filled = np.where(np.isnan(values), -np.inf, values)
    best = np.argmax(filled, axis=0)
    tied = filled == filled[best, np.arange(filled.shape[1])]
    rng = np.random.RandomState(seed)
    for target in np.flatnonzero(tied.sum(axis=0) > 1):  # ascending: voxel order
        best[target] = rng.choice(np.flatnonzero(tied[:, target]))
    return best.astype(np.int64)


def argmax_layer(values: np.ndarray, clip: bool = True, seed: int = TIE_SEED) -> np.ndarray:
    """Per target the layer of the best median over splits (Figure 7's per-voxel best layer).

    ``values`` ``[layers, splits, targets]``; the median over splits is clipped at 1 when
    ``clip`` (noise-corrected scores) before :func:`choose_layer`. Returns ``[targets]`` int64.
    """
    med = np.median(values, axis=1)
    return choose_layer(np.minimum(med, 1.0) if clip else med, seed=seed)


def relative_position(layer: np.ndarray, n_layers: int) -> np.ndarray:
    """``(index - min) / (max - min)`` of layer indices in ``0 .. n_layers - 1`` (0 with one layer)."""
    return np.asarray(layer) / max(n_layers - 1, 1)


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


def best_layer_cv(
    values: np.ndarray, n_iterations: int = N_CV_ITERATIONS, clip: bool = True, tie_seed: int = TIE_SEED
) -> BestLayerCV:
    """Cross-validated best layer per target, as the reference.

    ``values`` ``[layers, splits, targets]``. For iteration ``i`` numpy is seeded with ``i``;
    for each layer (in order) and target the splits are shuffled into two halves
    (``np.random.shuffle`` of ``[0, 1] * (splits / 2)``): the "1" half's median (clipped at 1
    after the median when ``clip``) chooses the layer (ties: :func:`choose_layer`, drawn
    afresh from ``RandomState(tie_seed)`` in every iteration), the "0" half's median at that
    layer is the value.
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
        best = choose_layer(select, seed=tie_seed)
        out_layer[it] = best
        out_value[it] = readout[best, np.arange(n_targets)]
    return BestLayerCV(value=out_value, layer=out_layer, relative=relative_position(out_layer, n_layers))


__all__ = [
    "N_CV_ITERATIONS",
    "TIE_SEED",
    "BestLayerCV",
    "argmax_layer",
    "best_layer_cv",
    "choose_layer",
    "relative_position",
]

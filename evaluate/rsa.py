"""Representational similarity analysis (docs/reference.md section 6).

Features and responses are z-scored with training-sound statistics; a representation's
similarity matrix is the Pearson correlation between sounds; model and brain are compared
by the Spearman correlation of the upper triangles. For each split the best layer is the
one with the highest similarity on the training sounds, read out on the test sounds. The
noise ceiling compares each participant's test-sound matrix with the mean of the others'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata


def _zscore(x: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Z-score columns of ``x`` with the statistics of rows ``train``; constant columns dropped."""
    mu = x[train].mean(axis=0)
    sd = x[train].std(axis=0)
    keep = sd > 0
    return (x[:, keep] - mu[keep]) / sd[keep]


def similarity(x: np.ndarray) -> np.ndarray:
    """``[n_sounds, n_features]`` -> ``[n_sounds, n_sounds]`` Pearson correlation between sounds."""
    xc = x - x.mean(axis=1, keepdims=True)
    norm = np.sqrt((xc * xc).sum(axis=1))
    norm[norm == 0] = np.inf
    xn = xc / norm[:, None]
    return xn @ xn.T


def _upper_ranks(mat: np.ndarray) -> np.ndarray:
    iu = np.triu_indices(mat.shape[0], k=1)
    return rankdata(mat[iu])


def _spearman_ranked(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 0 else 0.0


def rsa_score(
    features: Mapping[str, np.ndarray],
    responses: np.ndarray,
    participant: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
) -> tuple[dict, pd.DataFrame]:
    """RSA of every layer against every participant's voxels.

    Args:
        features: layer -> ``[n_stimuli, n_features]``.
        responses: ``[n_stimuli, n_voxels]`` (mean over repetitions).
        participant: ``[n_voxels]``.
        splits: (train, test) index pairs.

    Returns ``({value, sem, ceiling, ceiling_sem}, per-layer table)`` where ``value`` is the
    test-sound Spearman of the layer chosen on training sounds, averaged over splits, then
    mean and SEM over participants.
    """
    layers = list(features)
    people = np.unique(participant)
    best = np.zeros((len(splits), len(people)))
    per_layer = np.zeros((len(splits), len(layers), len(people)))
    ceiling = np.zeros((len(splits), len(people)))
    for s, (train, test) in enumerate(splits):
        brain_train, brain_test = [], []
        for p in people:
            z = _zscore(responses[:, participant == p], train)
            brain_train.append(_upper_ranks(similarity(z[train])))
            brain_test.append(similarity(z[test]))
        brain_test_ranks = [_upper_ranks(m) for m in brain_test]
        train_scores = np.zeros((len(layers), len(people)))
        for li, layer in enumerate(layers):
            z = _zscore(features[layer], train)
            model_train = _upper_ranks(similarity(z[train]))
            model_test = _upper_ranks(similarity(z[test]))
            for pi in range(len(people)):
                train_scores[li, pi] = _spearman_ranked(model_train, brain_train[pi])
                per_layer[s, li, pi] = _spearman_ranked(model_test, brain_test_ranks[pi])
        chosen = np.argmax(train_scores, axis=0)
        best[s] = per_layer[s, chosen, np.arange(len(people))]
        for pi in range(len(people)):
            others = np.mean([brain_test[q] for q in range(len(people)) if q != pi], axis=0)
            ceiling[s, pi] = _spearman_ranked(brain_test_ranks[pi], _upper_ranks(others))
    per_person = best.mean(axis=0)
    ceil_person = ceiling.mean(axis=0)
    n = len(people)
    result = {
        "value": float(per_person.mean()),
        "sem": float(per_person.std(ddof=1) / np.sqrt(n)),
        "ceiling": float(ceil_person.mean()),
        "ceiling_sem": float(ceil_person.std(ddof=1) / np.sqrt(n)),
        "per_participant": {str(p): float(v) for p, v in zip(people, per_person)},
    }
    layer_person = per_layer.mean(axis=0)  # [layers, people]
    table = pd.DataFrame(
        {"layer": layers, "value": layer_person.mean(axis=1), "sem": layer_person.std(axis=1, ddof=1) / np.sqrt(n)}
    )
    return result, table

"""Representational similarity analysis (docs/reference.md section 6).

Features and responses are z-scored with training-sound statistics; a representation's
similarity matrix is the Pearson correlation between sounds; model and brain are compared
by the Spearman correlation of the upper triangles. For each split the best layer is the
one with the highest similarity on the training sounds, read out on the test sounds. The
noise ceiling compares each participant's test-sound matrix with the mean of the others'.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from evaluate.benchmark import Benchmark
from evaluate.stats import pearson_columns, sem


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
    """Spearman correlation of two ``[pairs]`` rank vectors (their Pearson); 0 when one is constant."""
    r = pearson_columns(a, b)
    return 0.0 if np.isnan(r) else float(r)


@dataclass(frozen=True, eq=False)  # numpy fields: compare arrays, not records
class RSAResult:
    """Representational similarity of a model's layers with every participant.

    Attributes:
        participants: ``[people]`` participant ids (sorted).
        per_participant: ``[people]`` test-sound Spearman of the layer chosen on the training
            sounds, averaged over splits.
        ceiling_per_participant: ``[people]`` Spearman of each participant's test-sound matrix
            with the mean of the others', averaged over splits.
        layers: the layers, in model order.
        layer_value, layer_sem: ``[layers]`` mean and SEM over participants of each layer's
            test-sound Spearman (averaged over splits).
        seconds: time it took.
    """

    participants: np.ndarray
    per_participant: np.ndarray
    ceiling_per_participant: np.ndarray
    layers: tuple[str, ...]
    layer_value: np.ndarray
    layer_sem: np.ndarray
    seconds: float = 0.0

    def summary(self) -> dict:
        """``{value, sem, ceiling, ceiling_sem, per_participant: {id: value}}`` (:attr:`evaluate.Score.rsa`)."""
        return {
            "value": float(self.per_participant.mean()),
            "sem": sem(self.per_participant),
            "ceiling": float(self.ceiling_per_participant.mean()),
            "ceiling_sem": sem(self.ceiling_per_participant),
            "per_participant": {str(p): float(v) for p, v in zip(self.participants, self.per_participant)},
        }

    def per_layer(self) -> pd.DataFrame:
        """layer, value, sem (:attr:`evaluate.Score.rsa_per_layer`)."""
        return pd.DataFrame({"layer": list(self.layers), "value": self.layer_value, "sem": self.layer_sem})


def rsa_score(
    features: Mapping[str, np.ndarray],
    responses: np.ndarray,
    participant: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
) -> RSAResult:
    """RSA of every layer against every participant's voxels.

    Args:
        features: layer -> ``[n_stimuli, n_features]``.
        responses: ``[n_stimuli, n_voxels]`` (mean over repetitions).
        participant: ``[n_voxels]``.
        splits: (train, test) index pairs.

    For each split the layer with the highest training-sound Spearman is read out on the
    test sounds; see :class:`RSAResult`.
    """
    t0 = time.perf_counter()
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
    layer_person = per_layer.mean(axis=0)  # [layers, people]
    return RSAResult(
        participants=people,
        per_participant=best.mean(axis=0),
        ceiling_per_participant=ceiling.mean(axis=0),
        layers=tuple(layers),
        layer_value=layer_person.mean(axis=1),
        layer_sem=sem(layer_person, axis=1),
        seconds=time.perf_counter() - t0,
    )


def rsa_stage(
    features: Mapping[str, np.ndarray], benchmark: Benchmark, splits: Sequence[tuple[np.ndarray, np.ndarray]]
) -> RSAResult | None:
    """:func:`rsa_score` of ``features`` on ``benchmark``'s mean responses; ``None`` where RSA
    is not defined: component benchmarks, or fewer than 2 participants (no noise ceiling)."""
    participant = benchmark.participant
    if benchmark.kind != "voxels" or len(np.unique(participant)) < 2:
        return None
    return rsa_score(features, benchmark.responses.mean(axis=2), participant, splits)


__all__ = ["RSAResult", "rsa_score", "rsa_stage", "similarity"]

"""Representational similarity analysis, the authors' procedure (docs/reference.md sections 6 and 11).

:func:`rsa_score` computes, for every layer and participant:

1. **Order.** The sounds are first reordered by category (:func:`category_order`: the 11
   categories of :data:`evaluate.release.CATEGORIES` in that order, sounds in file order within
   each; categories outside the 11 follow, in order of first appearance). The (train, test)
   splits then index THAT reordered list: split ``s`` uses the sounds ``order[train]`` and
   ``order[test]``, so with the reference's split masks RSA trains on other sounds than the
   regression does. Without categories (users' arrays) the given order is kept.
2. **Z-scoring** of every feature (voxel) with the training sounds' mean and standard
   deviation. A column constant on the training sounds is centred and not scaled (unit
   scale, as sklearn's ``StandardScaler``, which the authors used): it is 0 on the training
   sounds, and 0 everywhere for a unit constant on every sound (a dead unit). It is kept,
   not dropped: the similarity is a correlation across features, so a zero column moves each
   sound's mean. Nothing is ever divided by 0.
3. **Similarity**: the ``[sounds, sounds]`` Pearson correlation between sounds across features
   (:func:`similarity`), on the training sounds and on the test sounds separately; NaN in the
   rows of a sound whose z-scored features are all equal (as ``np.corrcoef``).
4. **Model vs brain**: the Spearman correlation of the two matrices' upper triangles.
5. **Best layer**: per split and participant the ``nanargmax`` over layers of the training-sound
   Spearman; its test-sound Spearman is the split's value. **Noise ceiling**: the Spearman of
   a participant's test-sound matrix with the mean of the other participants' matrices.
6. **Per participant** the value and the noise ceiling are the median over splits; the
   headline is their mean and SEM over participants. Layer curves: per participant the
   median over splits of each layer's test-sound Spearman, then mean and SEM over participants.
7. **Per ROI** (:meth:`RSAResult.per_roi`): the same, restricted to each ROI's voxels
   (``Benchmark.targets["roi"]`` among :data:`evaluate.benchmark.ROIS`), participant by
   participant.

Undefined values (the NaN rule):

* A Spearman is NaN when either upper triangle is constant or holds a NaN (step 3).
* A (split, participant) where every layer's training Spearman is NaN has no best layer
  (``best_layer == -1``) and a NaN value; the chosen layer's test Spearman may also be NaN.
* Medians over splits, and means and SEMs over participants, use the defined (finite) values
  only; ``n_splits`` / ``n_participants`` say how many went in. A participant (or layer) with
  no defined split is NaN and left out of the means. (The authors' ``np.median`` would turn
  one NaN split into a NaN participant; where nothing is NaN both agree.)
* Participants with fewer than 2 voxels (in the benchmark, or in an ROI) are skipped there:
  one voxel has no correlation across voxels. The noise ceiling needs 2 participants:
  :func:`rsa_score` raises :class:`RSAUndefinedError` with fewer than 2 usable participants or
  when no participant has any defined value (e.g. every layer has a single unit); ROIs with
  fewer than 2 usable participants are left out of :meth:`RSAResult.per_roi`.
* :func:`rsa_stage` (the scoring engine's stage) returns ``None`` where RSA is undefined, with
  a logged warning when the reason is the data rather than the benchmark kind, so the headline
  is never a silent NaN.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from evaluate.benchmark import ROIS, Benchmark
from evaluate.release import CATEGORIES
from evaluate.stats import nanmedian, sem

log = logging.getLogger(__name__)

MIN_VOXELS = 2  # a correlation across voxels needs at least two of them


class RSAUndefinedError(ValueError):
    """RSA has no defined value for these arrays (see the NaN rule in :mod:`evaluate.rsa`)."""


# ----------------------------------------------------------------------------- the steps
def category_order(categories: Sequence[str] | None, n_stimuli: int) -> np.ndarray:
    """``[n_stimuli]`` indices that sort the sounds by category, stably.

    The 11 categories of :data:`evaluate.release.CATEGORIES` come first, in that order; other
    labels follow in order of first appearance; within a category the file order is kept.
    ``categories=None`` keeps the given order (``arange(n_stimuli)``).
    """
    if categories is None:
        return np.arange(n_stimuli)
    labels = [str(c) for c in categories]
    if len(labels) != n_stimuli:
        raise ValueError(f"categories has {len(labels)} entries, expected one per stimulus ({n_stimuli})")
    rank = {c: i for i, c in enumerate(CATEGORIES)}
    for c in labels:  # unknown labels after the 11, first appearance first
        rank.setdefault(c, len(rank))
    return np.argsort([rank[c] for c in labels], kind="stable")


def zscore_train(x: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Z-score the columns of ``x`` ``[n, features]`` with the statistics of the rows ``train``.

    A column constant on the training rows (also up to rounding, sklearn's test) is only
    centred, on its training value, so it is exactly 0 there; no column is dropped.
    """
    x = np.asarray(x, dtype=np.float64)
    xt = x[train]
    mu = xt.mean(axis=0)
    var = xt.var(axis=0)
    n = len(xt)
    eps = np.finfo(np.float64).eps
    constant = (np.ptp(xt, axis=0) == 0) | (var <= n * eps * var + (n * mu * eps) ** 2)
    mu = np.where(constant, xt[0], mu)
    scale = np.where(constant, 1.0, np.sqrt(var))
    return (x - mu) / scale


def similarity(x: np.ndarray) -> np.ndarray:
    """``[n_sounds, n_features]`` -> ``[n_sounds, n_sounds]`` Pearson correlation between sounds
    (across features); NaN in the row and column of a sound whose features are all equal."""
    xc = x - x.mean(axis=1, keepdims=True)
    norm = np.sqrt((xc * xc).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        xn = np.where(norm[:, None] > 0, xc / norm[:, None], np.nan)
    return xn @ xn.T


def _unit_ranks(mat: np.ndarray) -> np.ndarray:
    """Ranks of the upper triangle of ``mat``, centred and scaled to unit norm, so that the
    Spearman correlation of two matrices is the dot product of theirs; all NaN where the
    Spearman is undefined (a NaN in the triangle, or a constant triangle)."""
    tri = mat[np.triu_indices(mat.shape[0], k=1)]
    if not np.isfinite(tri).all():
        return np.full(len(tri), np.nan)
    r = rankdata(tri)
    r -= r.mean()
    norm = np.sqrt(r @ r)
    return r / norm if norm > 0 else np.full(len(tri), np.nan)


def _nanargmax(scores: np.ndarray) -> np.ndarray:
    """``[layers, people]`` -> ``[people]`` index of the largest non-NaN score (first on ties,
    as ``np.nanargmax``); -1 where every layer is NaN."""
    filled = np.where(np.isnan(scores), -np.inf, scores)
    best = filled.argmax(axis=0)
    best[np.isnan(scores).all(axis=0)] = -1
    return best


def _finite_mean_sem(values: np.ndarray) -> tuple[float, float, int]:
    """Mean, SEM and count of the finite entries (NaN, NaN, 0 when there are none)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return float("nan"), float("nan"), 0
    return float(v.mean()), sem(v), len(v)


# ----------------------------------------------------------------------------- the result
_ROI_PARTICIPANT_COLUMNS = ["roi", "participant", "value", "ceiling", "n_voxels", "n_splits"]


@dataclass(frozen=True, eq=False)  # numpy fields: compare arrays, not records
class RSAResult:
    """Representational similarity of a model's layers with every participant.

    Attributes:
        participants: ``[people]`` participant ids (sorted; participants with fewer than 2
            voxels are not among them).
        per_participant: ``[people]`` median over splits of the test-sound Spearman of the layer
            chosen on the training sounds (NaN where no split is defined).
        ceiling_per_participant: ``[people]`` median over splits of the Spearman of each
            participant's test-sound matrix with the mean of the others'.
        layers: the layers, in model order.
        layer_value, layer_sem: ``[layers]`` mean and SEM over participants of each layer's
            test-sound Spearman (median over splits); NaN for a layer never defined.
        seconds: time it took.
        split_value, split_ceiling: ``[splits, people]`` the values before the median.
        best_layer: ``[splits, people]`` index into ``layers`` of the chosen layer, -1 where none.
        order: ``[n_stimuli]`` the stimulus order the splits index (:func:`category_order`).
        roi_participants: per ROI and participant: roi, participant, value, ceiling, n_voxels,
            n_splits (the same procedure on the ROI's voxels); empty without ROI labels.
    """

    participants: np.ndarray
    per_participant: np.ndarray
    ceiling_per_participant: np.ndarray
    layers: tuple[str, ...]
    layer_value: np.ndarray
    layer_sem: np.ndarray
    seconds: float = 0.0
    split_value: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    split_ceiling: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    best_layer: np.ndarray = field(default_factory=lambda: np.empty((0, 0), dtype=int))
    order: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    roi_participants: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=_ROI_PARTICIPANT_COLUMNS))

    def summary(self) -> dict:
        """``{value, sem, ceiling, ceiling_sem, n_participants, per_participant: {id: value}}``
        (:attr:`evaluate.Score.rsa`); means and SEMs over the participants with a finite value."""
        value, value_sem, n = _finite_mean_sem(self.per_participant)
        ceiling, ceiling_sem, _ = _finite_mean_sem(self.ceiling_per_participant)
        return {
            "value": value,
            "sem": value_sem,
            "ceiling": ceiling,
            "ceiling_sem": ceiling_sem,
            "n_participants": n,
            "per_participant": {str(p): float(v) for p, v in zip(self.participants, self.per_participant)},
        }

    def per_layer(self) -> pd.DataFrame:
        """layer, value, sem (:attr:`evaluate.Score.rsa_per_layer`)."""
        return pd.DataFrame({"layer": list(self.layers), "value": self.layer_value, "sem": self.layer_sem})

    def per_roi(self) -> pd.DataFrame:
        """roi, value, sem, ceiling, ceiling_sem, n_participants (:attr:`evaluate.Score.rsa_per_roi`):
        per ROI (in :data:`evaluate.benchmark.ROIS` order) the mean and SEM over participants
        of :attr:`roi_participants`, finite values only; no rows without ROI labels."""
        rows = []
        for roi, group in self.roi_participants.groupby("roi", sort=False):
            value, value_sem, n = _finite_mean_sem(group["value"].to_numpy())
            ceiling, ceiling_sem, _ = _finite_mean_sem(group["ceiling"].to_numpy())
            row = {"roi": roi, "value": value, "sem": value_sem, "ceiling": ceiling, "ceiling_sem": ceiling_sem}
            rows.append({**row, "n_participants": n})
        return pd.DataFrame(rows, columns=["roi", "value", "sem", "ceiling", "ceiling_sem", "n_participants"])

    def per_roi_participant(self) -> pd.DataFrame:
        """The long table behind :meth:`per_roi`: roi, participant, value, ceiling, n_voxels, n_splits."""
        return self.roi_participants.copy()


# ----------------------------------------------------------------------------- the procedure
@dataclass
class _Group:
    """One set of voxels split by participant: the whole benchmark, or one ROI."""

    name: str
    people: np.ndarray  # [people] ids
    columns: list[np.ndarray]  # per person, response columns
    value: np.ndarray  # [splits, people]
    ceiling: np.ndarray  # [splits, people]
    best: np.ndarray  # [splits, people]
    layer: np.ndarray  # [splits, layers, people]


def _group(name: str, participant: np.ndarray, mask: np.ndarray, n_splits: int, n_layers: int) -> _Group | None:
    """The participants with at least :data:`MIN_VOXELS` voxels among ``mask``; ``None`` when
    fewer than 2 remain (no noise ceiling)."""
    ids, counts = np.unique(participant[mask], return_counts=True)
    skipped = ids[counts < MIN_VOXELS].tolist()
    if skipped:  # expected in small ROIs (info); unusual for a whole benchmark (warning)
        level = logging.WARNING if mask.all() else logging.INFO
        log.log(level, "RSA %s: skipping participant(s) %s with fewer than %d voxels", name, skipped, MIN_VOXELS)
    people = ids[counts >= MIN_VOXELS]
    if len(people) < 2:
        return None
    shape = (n_splits, len(people))
    return _Group(
        name=name,
        people=people,
        columns=[np.flatnonzero(mask & (participant == p)) for p in people],
        value=np.full(shape, np.nan),
        ceiling=np.full(shape, np.nan),
        best=np.full(shape, -1, dtype=int),
        layer=np.full((n_splits, n_layers, len(people)), np.nan),
    )


def _score_split(group: _Group, s: int, z: np.ndarray, train: np.ndarray, test: np.ndarray,
                 model_train: np.ndarray, model_test: np.ndarray) -> None:  # fmt: skip
    """Fill split ``s`` of ``group`` from the z-scored responses ``z`` and the models' unit
    ranks ``[layers, pairs]`` on the training and the test sounds."""
    brain_train = np.stack([_unit_ranks(similarity(z[np.ix_(train, c)])) for c in group.columns])
    test_mats = np.stack([similarity(z[np.ix_(test, c)]) for c in group.columns])  # [people, n, n]
    brain_test = np.stack([_unit_ranks(m) for m in test_mats])
    train_scores = model_train @ brain_train.T  # [layers, people]; NaN rows/columns stay NaN
    test_scores = model_test @ brain_test.T
    best = _nanargmax(train_scores)
    people = np.arange(len(group.people))
    group.best[s] = best
    group.value[s] = np.where(best >= 0, test_scores[np.maximum(best, 0), people], np.nan)
    group.layer[s] = test_scores
    total = test_mats.sum(axis=0)
    for pi in people:
        others = (total - test_mats[pi]) / (len(people) - 1)
        group.ceiling[s, pi] = float(brain_test[pi] @ _unit_ranks(others))


def rsa_score(
    features: Mapping[str, np.ndarray],
    responses: np.ndarray,
    participant: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    categories: Sequence[str] | None = None,
    roi: np.ndarray | None = None,
) -> RSAResult:
    """RSA of every layer against every participant's voxels, the authors' procedure (module doc).

    Args:
        features: layer -> ``[n_stimuli, n_features]``, stimuli in the benchmark's order.
        responses: ``[n_stimuli, n_voxels]`` (mean over repetitions).
        participant: ``[n_voxels]``.
        splits: (train, test) index pairs into the category-ordered stimulus list (see
            :func:`category_order`); the reference's 10 splits in the scoring engine.
        categories: ``[n_stimuli]`` stimulus categories; ``None`` keeps the given order.
        roi: optional ``[n_voxels]`` ROI labels; those in :data:`evaluate.benchmark.ROIS` get
            their own RSA (:meth:`RSAResult.per_roi`).

    Raises:
        RSAUndefinedError: fewer than 2 participants with at least 2 voxels, or no participant
            with a defined value.
        ValueError: arrays whose shapes disagree.
    """
    t0 = time.perf_counter()
    responses = np.asarray(responses, dtype=np.float64)
    participant = np.asarray(participant)
    if responses.ndim != 2 or participant.shape != (responses.shape[1],):
        raise ValueError(
            f"responses must be [n_stimuli, n_voxels] and participant [n_voxels], got shapes "
            f"{list(responses.shape)} and {list(participant.shape)}"
        )
    n_stim = responses.shape[0]
    for layer, x in features.items():
        if np.shape(x)[0] != n_stim or np.ndim(x) != 2:
            raise ValueError(f"features[{layer!r}] must be [n_stimuli={n_stim}, n_features], got {list(np.shape(x))}")
    order = category_order(categories, n_stim)
    layers = list(features)
    feats = [np.asarray(features[layer], dtype=np.float64)[order] for layer in layers]
    responses = responses[order]

    everything = _group("(all voxels)", participant, np.ones(len(participant), bool), len(splits), len(layers))
    if everything is None:
        raise RSAUndefinedError(
            "RSA needs at least 2 participants with at least 2 voxels each (the noise ceiling compares "
            f"participants); participant has {len(np.unique(participant))} distinct id(s)"
        )
    groups = [everything]
    if roi is not None:
        roi = np.asarray(roi)
        if roi.shape != participant.shape:
            raise ValueError(f"roi must have one label per voxel ({len(participant)}), got shape {list(roi.shape)}")
        for name in ROIS:
            g = _group(name, participant, roi == name, len(splits), len(layers))
            if g is not None:
                groups.append(g)
            elif (roi == name).any():
                log.info("RSA: ROI %s left out (fewer than 2 participants with %d voxels)", name, MIN_VOXELS)

    for s, (train, test) in enumerate(splits):
        train, test = np.asarray(train), np.asarray(test)
        model_train, model_test = [], []
        for x in feats:
            z = zscore_train(x, train)
            model_train.append(_unit_ranks(similarity(z[train])))
            model_test.append(_unit_ranks(similarity(z[test])))
        z = zscore_train(responses, train)  # column-wise: every participant and ROI at once
        for g in groups:
            _score_split(g, s, z, train, test, np.stack(model_train), np.stack(model_test))

    if not np.isfinite(everything.value).any():
        raise RSAUndefinedError(
            f"RSA has no defined value for any participant: on every split the similarity matrices of "
            f"layers {layers} are constant or undefined (a layer needs 2 or more varying features)"
        )
    layer_person = nanmedian(everything.layer, axis=0)  # [layers, people]
    layer_stats = [_finite_mean_sem(row) for row in layer_person]
    roi_rows = [
        {"roi": g.name, "participant": p, "value": v, "ceiling": c, "n_voxels": len(cols), "n_splits": int(n)}
        for g in groups[1:]
        for p, v, c, cols, n in zip(
            g.people, nanmedian(g.value, 0), nanmedian(g.ceiling, 0), g.columns, np.isfinite(g.value).sum(0)
        )
    ]
    return RSAResult(
        participants=everything.people,
        per_participant=nanmedian(everything.value, axis=0),
        ceiling_per_participant=nanmedian(everything.ceiling, axis=0),
        layers=tuple(layers),
        layer_value=np.array([m for m, _, _ in layer_stats]),
        layer_sem=np.array([e for _, e, _ in layer_stats]),
        seconds=time.perf_counter() - t0,
        split_value=everything.value,
        split_ceiling=everything.ceiling,
        best_layer=everything.best,
        order=order,
        roi_participants=pd.DataFrame(roi_rows, columns=_ROI_PARTICIPANT_COLUMNS),
    )


def rsa_stage(
    features: Mapping[str, np.ndarray], benchmark: Benchmark, splits: Sequence[tuple[np.ndarray, np.ndarray]]
) -> RSAResult | None:
    """:func:`rsa_score` of ``features`` on ``benchmark``'s mean responses, in category order
    (``benchmark.categories``; the given order when ``None``) and per ROI.

    ``None`` where RSA is not defined: component benchmarks, fewer than 2 participants, or
    :class:`RSAUndefinedError` (logged as a warning).
    """
    participant = benchmark.participant
    if benchmark.kind != "voxels" or len(np.unique(participant)) < 2:
        return None
    try:
        return rsa_score(
            features, benchmark.responses.mean(axis=2), participant, splits, benchmark.categories, benchmark.roi
        )
    except RSAUndefinedError as exc:
        log.warning("RSA on %s not computed: %s", benchmark.name, exc)
        return None


__all__ = [
    "MIN_VOXELS",
    "RSAResult",
    "RSAUndefinedError",
    "category_order",
    "rsa_score",
    "rsa_stage",
    "similarity",
    "zscore_train",
]

"""The paper's statistics: model comparisons, Primary vs non-primary ROI tests, error bars
across models and effective dimensionality (docs/reference.md section 11).

Plain functions over arrays (and :class:`evaluate.Score` objects where a score carries the
values). Every comparison returns a :class:`ComparisonResult`; :func:`comparisons_to_csv`
writes a list of them. Bad input (wrong shape, mismatched lengths, NaN) raises a
``ValueError`` naming the argument.
"""

from __future__ import annotations

import itertools
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from data.cache import atomic_file
from evaluate.results import Score
from evaluate.stats import sem, within_participant_sem

N_RESAMPLES = 10_000  # bootstrap resamples and permutation shuffles (docs/reference.md section 11)
_EXACT_LIMIT = 2_000_000  # most group assignments an exhaustive permutation test enumerates


@dataclass(frozen=True)
class ComparisonResult:
    """One comparison of two sets of values (``values_1`` vs ``values_2``, ``n`` each).

    Attributes:
        method: ``"subject bootstrap"``, ``"permutation"`` or ``"paired t-test"``.
        n: values per set (participants, CV iterations, models).
        mean_1, mean_2: the means of the two sets; ``mean_difference = mean_1 - mean_2``.
        statistic: the test statistic: the mean difference (bootstrap, permutation) or t (paired).
        p_value: see the function that made it for the convention.
        effect_size: standardised mean difference, of the kind ``effect_size_kind``:
            ``"cohen_dz"`` mean of the paired differences over their SD (``ddof=1``), or
            ``"cohen_d_pooled"`` mean difference over the pooled SD (``ddof=1``, equal groups).
            +-inf where the SD is 0 and the means differ, NaN where both are 0.
        n_resamples: bootstrap resamples / permutations drawn (0: exhaustive or not resampled).
        wilcoxon_statistic, wilcoxon_p_value: the Wilcoxon signed-rank test of the paired
            values (:func:`paired_compare` only; NaN otherwise).
        sem_difference: the standard error of ``mean_difference``: SD of the paired
            differences over sqrt(n) (bootstrap, paired; ``ddof=1``), or
            sqrt(var_1 / n + var_2 / n) for the two independent sets of a permutation test.
            ``margin_in_sem`` is the ratio of the two: how many SEMs the difference is.
    """

    method: str
    n: int
    mean_1: float
    mean_2: float
    mean_difference: float
    statistic: float
    p_value: float
    effect_size: float
    effect_size_kind: str
    n_resamples: int = 0
    wilcoxon_statistic: float = math.nan
    wilcoxon_p_value: float = math.nan
    sem_difference: float = math.nan

    @property
    def margin_in_sem(self) -> float:
        """``mean_difference / sem_difference`` (inf where the SEM is 0 and the means differ)."""
        return _ratio(self.mean_difference, self.sem_difference)


# ------------------------------------------------------------------ input checks
def _vector(values, name: str, min_n: int = 2) -> np.ndarray:
    """``values`` as a finite float ``[n]`` array with ``n >= min_n``; else ValueError naming ``name``."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d array of values, got shape {arr.shape}")
    if len(arr) < min_n:
        raise ValueError(f"{name}: expected at least {min_n} values, got {len(arr)}")
    if not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr)).tolist()
        raise ValueError(f"{name}: values must be finite (NaN/inf at positions {bad})")
    return arr


def _pair(values_1, values_2, names: tuple[str, str] = ("values_1", "values_2")) -> tuple[np.ndarray, np.ndarray]:
    a, b = _vector(values_1, names[0]), _vector(values_2, names[1])
    if len(a) != len(b):
        raise ValueError(f"{names[0]} and {names[1]}: expected the same length, got {len(a)} and {len(b)}")
    return a, b


def _ratio(num: float, den: float) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(num) / np.float64(den))


def cohen_dz(values_1, values_2) -> float:
    """Cohen's d_z: mean of the paired differences ``values_1 - values_2`` over their SD (ddof 1)."""
    d = np.asarray(values_1, dtype=float) - np.asarray(values_2, dtype=float)
    return _ratio(d.mean(), d.std(ddof=1))


def _cohen_d_pooled(a: np.ndarray, b: np.ndarray) -> float:
    pooled = math.sqrt((a.var(ddof=1) * (len(a) - 1) + b.var(ddof=1) * (len(b) - 1)) / (len(a) + len(b) - 2))
    return _ratio(a.mean() - b.mean(), pooled)


# ------------------------------------------------------------------ model comparisons
def bootstrap_compare(values_1, values_2, n_resamples: int = N_RESAMPLES, seed: int = 0) -> ComparisonResult:
    """Subject bootstrap of two models' per-participant best-layer values (docs/reference.md section 11).

    ``values_1``, ``values_2``: ``[n_participants]`` in the same participant order. As the
    authors: numpy's legacy generator seeded with ``seed`` (``np.random.seed(0)``), ``n_resamples``
    resamples with replacement of ``values_2`` (one ``choice`` of ``n`` per resample; one
    ``[n_resamples, n]`` draw from ``RandomState(seed)`` is the same stream); ``p_value`` is the
    fraction of resampled means strictly above ``mean(values_1)`` -- small when model 1 is
    better. Effect size: Cohen's d_z of the paired differences.
    """
    a, b = _pair(values_1, values_2)
    if n_resamples < 1:
        raise ValueError(f"n_resamples: expected a positive count, got {n_resamples}")
    rng = np.random.RandomState(seed)
    means = rng.choice(b, size=(n_resamples, len(b)), replace=True).mean(axis=1)
    return ComparisonResult(
        method="subject bootstrap", n=len(a), mean_1=float(a.mean()), mean_2=float(b.mean()),
        mean_difference=float(a.mean() - b.mean()), statistic=float(a.mean() - b.mean()),
        p_value=float(np.mean(means > a.mean())), effect_size=cohen_dz(a, b), effect_size_kind="cohen_dz",
        n_resamples=n_resamples, sem_difference=float(sem(a - b)),
    )  # fmt: skip


def compare_scores(score_1: Score, score_2: Score, column: str = "value", n_resamples: int = N_RESAMPLES,
                   seed: int = 0) -> ComparisonResult:  # fmt: skip
    """:func:`bootstrap_compare` of two voxel-benchmark scores' ``per_participant[column]``
    (``"value"``: the cross-validated best-layer score; or ``"best_relative_layer"``), the
    participants aligned in ``score_1``'s order. Component scores do not keep the per-iteration
    values their comparison needs: use :func:`permutation_test` on those."""
    for name, s in (("score_1", score_1), ("score_2", score_2)):
        if s.kind != "voxels":
            raise ValueError(f"{name} ({s.model}): the subject bootstrap needs a voxel benchmark, got kind "
                             f"{s.kind!r}; compare component scores with permutation_test over CV iterations")  # fmt: skip
        if column not in s.per_participant:
            raise ValueError(f"{name} ({s.model}): per_participant has no column {column!r}")
    if score_1.benchmark != score_2.benchmark:
        raise ValueError(f"score_1, score_2: scored on different benchmarks ({score_1.benchmark!r}, {score_2.benchmark!r})")
    t1 = score_1.per_participant.set_index("participant")[column]
    t2 = score_2.per_participant.set_index("participant")[column]
    only_1, only_2 = sorted(set(t1.index) - set(t2.index)), sorted(set(t2.index) - set(t1.index))
    if only_1 or only_2:
        raise ValueError(f"score_1 ({score_1.model}) and score_2 ({score_2.model}) have different participants: "
                         f"only in score_1 {only_1}, only in score_2 {only_2}")  # fmt: skip
    return bootstrap_compare(
        _vector(t1.to_numpy(), f"score_1 ({score_1.model}) per_participant[{column!r}]"),
        _vector(t2.reindex(t1.index).to_numpy(), f"score_2 ({score_2.model}) per_participant[{column!r}]"),
        n_resamples=n_resamples, seed=seed,
    )  # fmt: skip


def permutation_test(values_1, values_2, n_permutations: int | None = N_RESAMPLES, seed: int = 0) -> ComparisonResult:
    """Permutation test of the difference of means, for component benchmarks over the CV
    iterations (docs/reference.md section 11).

    ``values_1``, ``values_2``: ``[n]`` (e.g. the 10 iterations' values of two models). The
    ``2n`` values are pooled; each of ``n_permutations`` shuffles (``RandomState(seed).permutation``
    in turn) gives the first ``n`` to group 1 and the rest to group 2. ``n_permutations=None``
    enumerates every assignment instead (exact). Two-sided ``p_value``: the fraction of
    permuted differences with ``|diff| >= |observed|`` (a relative tolerance of 1e-12 so the
    observed assignment, summed in another order, still counts); the observed value is not
    added as an extra permutation. Effect size: Cohen's d with the pooled SD.
    """
    a, b = _pair(values_1, values_2)
    n = len(a)
    pooled = np.concatenate([a, b])
    if n_permutations is None:
        if math.comb(2 * n, n) > _EXACT_LIMIT:
            raise ValueError(f"n_permutations: None enumerates {math.comb(2 * n, n)} assignments of {2 * n} values; "
                             f"give a count instead")  # fmt: skip
        group = np.zeros((math.comb(2 * n, n), 2 * n), dtype=bool)
        for row, idx in enumerate(itertools.combinations(range(2 * n), n)):
            group[row, list(idx)] = True
        null = (pooled * group).sum(axis=1) / n - (pooled * ~group).sum(axis=1) / n
    else:
        if n_permutations < 1:
            raise ValueError(f"n_permutations: expected a positive count or None, got {n_permutations}")
        rng = np.random.RandomState(seed)
        perms = np.stack([rng.permutation(pooled) for _ in range(n_permutations)])
        null = perms[:, :n].mean(axis=1) - perms[:, n:].mean(axis=1)
    observed = float(a.mean() - b.mean())
    p = float(np.mean(np.abs(null) >= abs(observed) * (1 - 1e-12)))
    return ComparisonResult(
        method="permutation", n=n, mean_1=float(a.mean()), mean_2=float(b.mean()), mean_difference=observed,
        statistic=observed, p_value=p, effect_size=_cohen_d_pooled(a, b), effect_size_kind="cohen_d_pooled",
        n_resamples=n_permutations or 0, sem_difference=math.hypot(sem(a), sem(b)),
    )  # fmt: skip


def paired_compare(a, b) -> ComparisonResult:
    """Paired comparison (e.g. clean vs noisy, one value per model or participant): the paired
    t-test (``statistic``, ``p_value``; scipy ``ttest_rel``, two-sided) and the Wilcoxon
    signed-rank test (scipy defaults: two-sided, zero differences dropped); Cohen's d_z.
    ``a``, ``b``: ``[n]`` paired values, ``n >= 2``."""
    a, b = _pair(a, b, names=("a", "b"))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all differences equal: t undefined
        t = sps.ttest_rel(a, b)
        w = sps.wilcoxon(a, b) if np.any(a != b) else None
    return ComparisonResult(
        method="paired t-test", n=len(a), mean_1=float(a.mean()), mean_2=float(b.mean()),
        mean_difference=float(a.mean() - b.mean()), statistic=float(t.statistic), p_value=float(t.pvalue),
        effect_size=cohen_dz(a, b), effect_size_kind="cohen_dz",
        wilcoxon_statistic=float(w.statistic) if w else math.nan, wilcoxon_p_value=float(w.pvalue) if w else math.nan,
        sem_difference=float(sem(a - b)),
    )  # fmt: skip


# ------------------------------------------------------------------ ROIs across models
def roi_table(scores: Mapping[str, Score], column: str = "best_relative_layer") -> pd.DataFrame:
    """models x ROIs table of ``per_roi[column]`` (``"all"`` dropped) for :func:`wilcoxon_rois`."""
    rows = {}
    for model, s in scores.items():
        if column not in s.per_roi:
            raise ValueError(f"scores[{model!r}]: per_roi has no column {column!r}")
        per_roi = s.per_roi[s.per_roi["roi"] != "all"]
        rows[model] = dict(zip(per_roi["roi"], per_roi[column]))
    return pd.DataFrame.from_dict(rows, orient="index")


def wilcoxon_rois(table: pd.DataFrame, primary: str = "Primary", method: str = "auto") -> pd.DataFrame:
    """Wilcoxon signed-rank test across models of ``primary`` vs each other ROI (docs/reference.md section 11).

    ``table``: one row per model, one numeric column per ROI (other columns are ignored).
    scipy ``wilcoxon`` defaults: two-sided, zero differences dropped, ``method="auto"`` (exact
    for small ``n`` without zeros or ties, else the normal approximation) -- with one zero
    difference among 15 models that gives the paper's W = 6, p = 0.0035 (n = 14, normal).
    Returns one row per non-primary ROI: roi, n_models, primary_mean, roi_mean, W (the
    smaller signed-rank sum), p_value.
    """
    if primary not in table:
        raise ValueError(f"table: no {primary!r} column (columns {list(table.columns)})")
    x = _vector(table[primary].to_numpy(), f"table[{primary!r}]")
    rows = []
    for roi in table.columns:
        if roi == primary or not pd.api.types.is_numeric_dtype(table[roi]):
            continue
        y = _vector(table[roi].to_numpy(), f"table[{roi!r}]")
        if np.all(x == y):
            raise ValueError(f"table[{roi!r}]: equal to table[{primary!r}] for every model (no test possible)")
        res = sps.wilcoxon(x, y, method=method)
        rows.append({"roi": roi, "n_models": len(x), "primary_mean": float(x.mean()), "roi_mean": float(y.mean()),
                     "W": float(res.statistic), "p_value": float(res.pvalue)})  # fmt: skip
    if not rows:
        raise ValueError(f"table: no numeric ROI column besides {primary!r}")
    return pd.DataFrame(rows)


def within_subject_sem(matrix) -> np.ndarray:
    """Error bars across models (docs/reference.md section 11): ``matrix`` ``[n_participants,
    n_models]``; each participant's values centred on its mean across the models, then the
    SD over participants (ddof 0) over ``sqrt(n - 1)``. ``[n_models]``; NaN for one participant.
    The same computation as the layer curves' :func:`evaluate.stats.within_participant_sem`."""
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"matrix: expected [n_participants, n_models], got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError("matrix: values must be finite (drop or fill participants with NaN first)")
    return within_participant_sem(pd.DataFrame(m))


# ------------------------------------------------------------------ effective dimensionality
def effective_dimensionality(acts) -> float:
    """ED = (sum lam)^2 / sum lam^2 over the eigenvalues ``lam`` of the covariance across
    sounds of ``acts`` ``[n_sounds, n_features]`` (docs/reference.md section 11).

    Computed in float64 from the smaller of the feature covariance and the Gram matrix of the
    centred activations (``[n_sounds, n_sounds]``; the same nonzero eigenvalues), so wide
    layers cost ``n_sounds^2 x n_features``. NaN when every activation is constant."""
    x = np.asarray(acts, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError(f"acts: expected [n_sounds >= 2, n_features >= 1], got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("acts: activations must be finite")
    x = x - x.mean(axis=0)
    gram = x @ x.T if x.shape[0] <= x.shape[1] else x.T @ x  # scale (1 / (n - 1)) cancels in ED
    lam = np.clip(np.linalg.eigvalsh(gram), 0.0, None)  # round-off can leave tiny negatives
    return _ratio(lam.sum() ** 2, (lam**2).sum())


def ed_per_layer(activations: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Layer -> :func:`effective_dimensionality` of its ``[n_sounds, n_features]`` activations
    (flattened past the first axis); every layer must have the same sounds."""
    out, n_sounds = {}, None
    for layer, acts in activations.items():
        x = np.asarray(acts)
        x = x.reshape(len(x), -1) if x.ndim > 2 else x
        if n_sounds is not None and x.shape[0] != n_sounds:
            raise ValueError(f"activations[{layer!r}]: {x.shape[0]} sounds, the other layers have {n_sounds}")
        n_sounds = x.shape[0]
        try:
            out[layer] = effective_dimensionality(x)
        except ValueError as err:
            raise ValueError(f"activations[{layer!r}]: {err}") from None
    return out


# ------------------------------------------------------------------ files
def comparisons_to_csv(results: Mapping[str, ComparisonResult] | Sequence[tuple[str, ComparisonResult]],
                       path: str | os.PathLike) -> Path:  # fmt: skip
    """Write labelled comparisons as CSV (one row each: label, then every :class:`ComparisonResult`
    field, p-values and effect sizes included), atomically. Labels must be unique."""
    items = list(results.items()) if isinstance(results, Mapping) else list(results)
    labels = [label for label, _ in items]
    if len(set(labels)) != len(labels):
        raise ValueError(f"results: duplicate labels {sorted({x for x in labels if labels.count(x) > 1})}")
    for label, r in items:
        if not isinstance(r, ComparisonResult):
            raise ValueError(f"results[{label!r}]: expected a ComparisonResult, got {type(r).__name__}")
    columns = ["label"] + [f.name for f in fields(ComparisonResult)]
    table = pd.DataFrame([{"label": label, **asdict(r)} for label, r in items], columns=columns)
    path = Path(path)
    with atomic_file(path, "w") as f:
        table.to_csv(f, index=False)
    return path


__all__ = [
    "N_RESAMPLES",
    "ComparisonResult",
    "bootstrap_compare",
    "cohen_dz",
    "compare_scores",
    "comparisons_to_csv",
    "ed_per_layer",
    "effective_dimensionality",
    "paired_compare",
    "permutation_test",
    "roi_table",
    "wilcoxon_rois",
    "within_subject_sem",
]

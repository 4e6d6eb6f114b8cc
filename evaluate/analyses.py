"""The paper's cross-model analyses as numbers (docs/reference.md section 11, "Other figures").

Pure functions over plain arrays, DataFrames and :class:`evaluate.Score` objects (no file
discovery): consistency of model scores between two sources (NH2015 vs B2021, regression vs
RSA), effective dimensionality vs predictivity, seed-vs-seed agreement, the cross-validated
component predictions behind the predicted-vs-measured scatters, and the per-voxel argmax
layer for the cortical-surface maps. Their figures: :mod:`evaluate.analysis_figures`.

Bad input (too few values, NaN, missing columns, mismatched targets) raises a ``ValueError``
naming the argument and what was expected.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats as sps

from data.cache import atomic_file
from evaluate.bestlayer import choose_layer, relative_position
from evaluate.results import Score
from evaluate.ridge import REFERENCE_ALPHAS, decompose, fit_targets

log = logging.getLogger(__name__)

MIN_MODELS = 3  # fewest paired values a correlation across models is computed from
COORDINATE_COLUMNS = ("hemi", "x_ras", "y_ras")  # per-voxel surface position (the release's voxel metadata)
SURFACE_COLUMNS = (
    "voxel_id", "subj_idx", "hemi", "x_ras", "y_ras", "best_layer_index", "best_relative_layer", "best_layer",
)  # fmt: skip


# ------------------------------------------------------------------ correlations
def _correlate(x: np.ndarray, y: np.ndarray, name: str) -> dict:
    """Pearson and Spearman correlation of two finite ``[n]`` arrays, ``n >= MIN_MODELS``."""
    if len(x) < MIN_MODELS:
        raise ValueError(f"{name}: a correlation needs at least {MIN_MODELS} paired values, got {len(x)}")
    for label, v in (("first", x), ("second", y)):
        if np.ptp(v) == 0:  # r is undefined (scipy would return NaN with a warning)
            raise ValueError(f"{name}: the {label} set of values is constant ({v[0]!r}); the correlation is undefined")
    pearson = sps.pearsonr(x, y)
    spearman = sps.spearmanr(x, y)
    return {
        "n": len(x),
        "pearson_r": float(pearson.statistic),
        "pearson_p": float(pearson.pvalue),
        "spearman_rho": float(spearman.statistic),
        "spearman_p": float(spearman.pvalue),
    }


def consistency(a: pd.Series, b: pd.Series) -> dict:
    """Agreement across models of two sources of one value per model.

    Args:
        a, b: values indexed by model label (e.g. best-layer scores on NH2015 and on B2021, or
            the regression and the RSA score); aligned on the models both have.

    Returns:
        ``n``, ``pearson_r``, ``pearson_p``, ``spearman_rho``, ``spearman_p`` (scipy,
        two-sided) and ``models`` (the common labels, in ``a``'s order).

    Raises:
        ValueError: duplicate labels, NaN values for a common model, fewer than 3 common
            models, or a constant set of values.
    """
    for name, s in (("a", a), ("b", b)):
        if not isinstance(s, pd.Series):
            raise TypeError(f"{name}: expected a pandas Series indexed by model label, got {type(s).__name__}")
        if s.index.has_duplicates:
            raise ValueError(f"{name}: duplicate model labels {sorted(map(str, s.index[s.index.duplicated()]))}")
    common = [m for m in a.index if m in b.index]
    if len(common) < MIN_MODELS:
        raise ValueError(
            f"a, b: need at least {MIN_MODELS} models in both, got {len(common)} in common "
            f"(a has {len(a)}: {list(map(str, a.index))[:8]}, b has {len(b)}: {list(map(str, b.index))[:8]})"
        )
    x, y = a.loc[common].to_numpy(dtype=float), b.loc[common].to_numpy(dtype=float)
    for name, v in (("a", x), ("b", y)):
        if not np.all(np.isfinite(v)):
            bad = [str(m) for m, ok in zip(common, np.isfinite(v)) if not ok]
            raise ValueError(f"{name}: NaN or inf values for models {bad}")
    return {**_correlate(x, y, "a, b"), "models": [str(m) for m in common]}


# ------------------------------------------------------------------ effective dimensionality
def best_layer_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Each model's best layer (largest ``value``; ties as :func:`evaluate.bestlayer.choose_layer`)
    from a ``model, layer, ed, value`` table: one row per model, in first-appearance order."""
    _check_ed_table(table)
    rows = []
    for _, group in table.groupby("model", sort=False):
        best = int(choose_layer(group["value"].to_numpy(dtype=float)[:, None])[0])
        rows.append(group.iloc[best])
    return pd.DataFrame(rows).reset_index(drop=True)


def _check_ed_table(table: pd.DataFrame) -> None:
    missing = [c for c in ("model", "layer", "ed", "value") if c not in table.columns]
    if missing:
        raise ValueError(
            f"table: missing columns {missing} (expected model, layer, ed, value; got {list(table.columns)})"
        )
    for column in ("ed", "value"):
        v = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(v)):
            bad = table.loc[~np.isfinite(v), ["model", "layer"]].astype(str).agg(" ".join, axis=1).tolist()
            raise ValueError(f"table[{column!r}]: NaN or non-numeric values for (model layer) {bad[:8]}")
    if table.duplicated(["model", "layer"]).any():
        dup = table.loc[table.duplicated(["model", "layer"]), ["model", "layer"]].astype(str).values.tolist()
        raise ValueError(f"table: duplicate (model, layer) rows {dup[:8]}")


def ed_vs_predictivity(table: pd.DataFrame) -> dict:
    """Effective dimensionality vs predictivity across models (docs/reference.md section 11).

    Args:
        table: one row per model x layer: ``model``, ``layer``, ``ed`` (e.g.
            :func:`evaluate.statistics.ed_per_layer`), ``value`` (the layer's score, e.g.
            ``Score.per_layer["value"]``).

    Returns:
        ``best_layer``: correlation stats (as :func:`consistency`) of each model's best-layer
        ED vs its best-layer value (:func:`best_layer_rows`), with ``layers`` (model ->
        chosen layer); ``pooled``: the same over every model x layer row.
    """
    best = best_layer_rows(table)
    best_stats = _correlate(best["ed"].to_numpy(dtype=float), best["value"].to_numpy(dtype=float),
                            "table (best layer of each model)")  # fmt: skip
    pooled = _correlate(table["ed"].to_numpy(dtype=float), table["value"].to_numpy(dtype=float),
                        "table (all layers pooled)")  # fmt: skip
    return {
        "best_layer": {**best_stats, "layers": dict(zip(best["model"].astype(str), best["layer"].astype(str)))},
        "pooled": pooled,
    }


# ------------------------------------------------------------------ per-voxel medians of a score
def _target_column(score: Score, name: str) -> str:
    for column in ("voxel", "component"):
        if column in score.per_voxel.columns:
            return column
    raise ValueError(f"{name} ({score.model}): per_voxel has neither a 'voxel' nor a 'component' column")


def voxel_medians(score: Score, name: str = "score") -> tuple[pd.DataFrame, np.ndarray, bool]:
    """The per-target medians over splits that the best layer of medians is chosen from.

    Returns ``(targets, values, corrected)``: ``targets`` one row per target in the score's
    target order (its target column, ``participant``, ``roi``); ``values`` ``[layers, targets]``
    float64 of ``per_voxel["r2_corrected"]`` clipped at 1 (noise-corrected scores) or
    ``per_voxel["r2"]`` (scores without correction), layers in ``score.layers`` order.
    """
    table, column = score.per_voxel, _target_column(score, name)
    missing = [c for c in ("layer", "participant", "r2") if c not in table.columns]
    if missing:
        raise ValueError(f"{name} ({score.model}): per_voxel lacks columns {missing}")
    if not score.layers:
        raise ValueError(f"{name} ({score.model}): no scored layers")
    corrected = "r2_corrected" in table.columns and bool(table["r2_corrected"].notna().any())
    first = table[table["layer"] == score.layers[0]]
    ids = first[column].to_numpy()
    if pd.Index(ids).has_duplicates:
        raise ValueError(f"{name} ({score.model}): per_voxel has duplicate {column} ids in layer {score.layers[0]!r}")
    values = np.empty((len(score.layers), len(ids)))
    for i, layer in enumerate(score.layers):
        rows = table[table["layer"] == layer].set_index(column)
        if len(rows) != len(ids) or not rows.index.isin(ids).all():
            raise ValueError(
                f"{name} ({score.model}): per_voxel layer {layer!r} has {len(rows)} targets, not the "
                f"{len(ids)} of layer {score.layers[0]!r}"
            )
        v = rows.loc[ids, "r2_corrected" if corrected else "r2"].to_numpy(dtype=float)
        values[i] = np.minimum(v, 1.0) if corrected else v  # clipped after the median (section 6)
    targets = first[[column, "participant"] + (["roi"] if "roi" in first else [])].reset_index(drop=True)
    return targets, values, corrected


# ------------------------------------------------------------------ seeds
def seed_consistency(score_1: Score, score_2: Score, level: str = "voxel") -> tuple[pd.DataFrame, dict]:
    """Two seeds (or any two scores of one benchmark) side by side.

    Args:
        score_1, score_2: scores on the same benchmark.
        level: ``"voxel"``: per target the best-layer-of-medians value (the largest median
            over splits across layers, r2_corrected clipped at 1, else r2); ``"participant"``:
            ``per_participant["value"]`` (the cross-validated best-layer score).

    Returns:
        ``(pairs, stats)``: ``pairs`` one row per target (its id column, ``participant``,
        ``roi``) or participant, with ``value_1`` and ``value_2``, in ``score_1``'s order;
        ``stats`` as :func:`consistency` (without ``models``), plus ``level``, ``model_1``,
        ``model_2``.
    """
    if level not in ("voxel", "participant"):
        raise ValueError(f"level: expected 'voxel' or 'participant', got {level!r}")
    if score_1.benchmark != score_2.benchmark:
        raise ValueError(
            f"score_1, score_2: scored on different benchmarks ({score_1.benchmark!r}, {score_2.benchmark!r})"
        )
    if level == "participant":
        for name, s in (("score_1", score_1), ("score_2", score_2)):
            if not {"participant", "value"} <= set(s.per_participant.columns):
                raise ValueError(f"{name} ({s.model}): per_participant lacks 'participant' and 'value' columns")
        t1 = score_1.per_participant.set_index("participant")["value"]
        t2 = score_2.per_participant.set_index("participant")["value"]
        key = ["participant"]
        pairs = pd.DataFrame({"participant": t1.index, "value_1": t1.to_numpy(dtype=float)})
        other = pd.DataFrame({"participant": t2.index, "value_2": t2.to_numpy(dtype=float)})
    else:
        (targets_1, values_1, _), (targets_2, values_2, _) = (
            voxel_medians(score_1, "score_1"),
            voxel_medians(score_2, "score_2"),
        )
        column = targets_1.columns[0]
        if targets_2.columns[0] != column:
            raise ValueError(f"score_1, score_2: target columns differ ({column!r}, {targets_2.columns[0]!r})")
        key = [column, "participant"]
        pairs = targets_1.assign(value_1=_best_value(values_1))
        other = targets_2[key].assign(value_2=_best_value(values_2))
    merged = pairs.merge(other, on=key, how="outer", indicator=True)
    if (merged["_merge"] != "both").any():
        only_1 = merged.loc[merged["_merge"] == "left_only", key[0]].tolist()
        only_2 = merged.loc[merged["_merge"] == "right_only", key[0]].tolist()
        raise ValueError(
            f"score_1 ({score_1.model}) and score_2 ({score_2.model}) have different {key[0]}s: "
            f"only in score_1 {only_1[:8]}, only in score_2 {only_2[:8]}"
        )
    merged = pairs.merge(other, on=key, how="left", validate="one_to_one")  # score_1's order (outer sorts)
    for name, column in (("score_1", "value_1"), ("score_2", "value_2")):
        bad = ~np.isfinite(merged[column].to_numpy(dtype=float))
        if bad.any():
            raise ValueError(f"{name}: NaN values for {key[0]}s {merged.loc[bad, key[0]].tolist()[:8]}")
    stats = _correlate(merged["value_1"].to_numpy(dtype=float), merged["value_2"].to_numpy(dtype=float),
                       f"score_1, score_2 ({level} level)")  # fmt: skip
    return merged, {**stats, "level": level, "model_1": score_1.model, "model_2": score_2.model}


def _best_value(values: np.ndarray) -> np.ndarray:
    """``[targets]`` the value of the best layer of ``[layers, targets]`` medians (NaN counts as lowest)."""
    best = choose_layer(values)
    return values[best, np.arange(values.shape[1])]


# ------------------------------------------------------------------ component predictions
def _split_predictions(
    x: np.ndarray,
    y: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    alphas: np.ndarray,
    device: str | torch.device,
    min_test: int,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """``(split index, test indices, [n_test, targets] predictions)`` of the scoring's ridge
    fitted on each split's training sounds, on the responses' scale (the training mean added
    back). ``x`` ``[n, features]`` and ``y`` ``[n, targets]`` are float64 and already checked;
    each split is checked here (``min_test``: fewest test sounds the caller can use)."""
    splits = list(splits)
    if not splits:
        raise ValueError("splits: expected at least one (train, test) pair")
    xt = torch.as_tensor(x, dtype=torch.float64, device=device)
    yt = torch.as_tensor(y, dtype=torch.float64, device=device)
    for s, (train, test) in enumerate(splits):
        train, test = np.asarray(train, dtype=np.int64), np.asarray(test, dtype=np.int64)
        if len(train) < 2 or len(test) < min_test or np.intersect1d(train, test).size:
            raise ValueError(f"splits[{s}]: expected >= 2 training and >= {min_test} test sounds, disjoint")
        if min(train.min(), test.min()) < 0 or max(train.max(), test.max()) >= len(y):
            raise ValueError(f"splits[{s}]: indices outside 0 .. {len(y) - 1}")
        fit = fit_targets(decompose(xt[train], xt[test]), yt[train], np.asarray(alphas, dtype=np.float64))
        # fit_targets leaves out the training mean (a constant per target): add it back.
        yield s, test, fit.predictions.cpu().numpy() + y[train].mean(axis=0)


def component_predictions(
    features: np.ndarray,
    responses: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    alphas: np.ndarray = REFERENCE_ALPHAS,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Cross-validated predictions of each component's response from one layer.

    The scoring's ridge (:mod:`evaluate.ridge`: training-set demeaning, an intercept, a
    per-component alpha chosen by leave-one-out, ties to the larger alpha): for each split the
    test sounds are predicted (the training mean of the response added back, so predictions
    are on the response's scale); each sound's prediction is the mean over the splits where it
    is a test sound.

    Args:
        features: ``[n_sounds, n_features]`` one layer's activations, in the benchmark's order.
        responses: ``[n_sounds, n_components]`` measured responses (``Benchmark.responses[:, :, 0]``).
        splits: (train, test) index arrays (e.g. :func:`evaluate.splits.reference_splits`).
        alphas: the ridge alpha grid.
        device: torch device for the ridge.

    Returns:
        ``[n_sounds, n_components]`` float64; NaN rows for sounds no split tests (logged; the
        reference's 10 splits test every one of NH2015's 165 sounds, and 194 of the synthetic
        benchmark's 195).
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(responses, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 1:
        raise ValueError(f"features: expected [n_sounds, n_features], got shape {list(x.shape)}")
    if y.ndim != 2 or y.shape[1] < 1:
        raise ValueError(f"responses: expected [n_sounds, n_components], got shape {list(y.shape)}")
    if len(x) != len(y):
        raise ValueError(f"features, responses: {len(x)} and {len(y)} sounds; expected the same sounds")
    for name, arr in (("features", x), ("responses", y)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(
                f"{name}: values must be finite (NaN/inf for sounds {np.unique(np.nonzero(~np.isfinite(arr))[0])[:8].tolist()})"
            )
    total = np.zeros(y.shape)
    count = np.zeros(len(y))
    for _, test, predictions in _split_predictions(x, y, splits, alphas, device, min_test=1):
        total[test] += predictions
        count[test] += 1
    untested = np.flatnonzero(count == 0)
    if untested.size:
        log.warning("component_predictions: %d sounds are in no split's test set (NaN rows): %s",
                    untested.size, untested[:10].tolist())  # fmt: skip
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count[:, None]


# ------------------------------------------------------------------ ground-truth channels
def channel_recovery(
    activations: dict[str, np.ndarray],
    channels: pd.DataFrame,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    alphas: np.ndarray = REFERENCE_ALPHAS,
    device: str | torch.device = "cpu",
) -> pd.DataFrame:
    """How well each layer's linear readout recovers each ground-truth channel of a synthetic
    benchmark (the noise-free features its voxels are mixtures of).

    Per layer and split the scoring's ridge (:mod:`evaluate.ridge`, per-channel alpha by
    leave-one-out) is fitted on the training sounds; the split's score is the test-set
    coefficient of determination

        R2 = 1 - sum_test (y - y_hat)^2 / sum_test (y - mean_test(y))^2

    (y_hat with the training mean added back; negative when the readout is worse than the test
    mean), and a layer's value is the median over splits, the scoring's rule. A voxel score
    says how much of a mixture a model explains; this says which ingredients it carries.

    Args:
        activations: ``{layer: [n_sounds, n_features]}`` in the benchmark's stimulus order.
        channels: ``[n_sounds, n_channels]`` ground truth (``Benchmark.ground_truth``).
        splits: (train, test) index arrays (:func:`evaluate.splits.reference_splits`).

    Returns:
        One row per layer and channel: ``layer``, ``channel``, ``r2`` (median over splits).
    """
    y = np.array(channels, dtype=np.float64)  # a copy: torch refuses read-only arrays
    if y.ndim != 2 or y.shape[1] < 1 or not np.all(np.isfinite(y)):
        raise ValueError(f"channels: expected finite [n_sounds, n_channels], got shape {list(y.shape)}")
    if not activations:
        raise ValueError("activations: expected at least one layer")
    splits = list(splits)
    names = [str(c) for c in channels.columns] if isinstance(channels, pd.DataFrame) else [str(i) for i in range(y.shape[1])]
    rows = []
    for layer, feats in activations.items():
        x = np.asarray(feats, dtype=np.float64)
        if x.ndim != 2 or len(x) != len(y):
            raise ValueError(f"activations[{layer!r}]: expected [{len(y)}, n_features], got shape {list(x.shape)}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"activations[{layer!r}]: values must be finite")
        per_split = np.empty((len(splits), y.shape[1]))
        for s, test, pred in _split_predictions(x, y, splits, alphas, device, min_test=2):
            truth = y[test]
            total = ((truth - truth.mean(axis=0)) ** 2).sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                per_split[s] = 1.0 - ((truth - pred) ** 2).sum(axis=0) / total
        rows += [{"layer": layer, "channel": c, "r2": float(v)} for c, v in zip(names, np.nanmedian(per_split, axis=0))]
    return pd.DataFrame(rows)


def best_channel_recovery(table: pd.DataFrame) -> pd.DataFrame:
    """Per channel, the layer that recovers it best (:func:`channel_recovery`'s table): one row
    per channel with ``channel``, ``best_layer``, ``r2``; ties to the earlier layer."""
    missing = {"layer", "channel", "r2"} - set(table.columns)
    if missing:
        raise ValueError(f"table: missing columns {sorted(missing)}")
    rows = []
    for channel, g in table.groupby("channel", sort=False):
        i = int(np.argmax(g["r2"].fillna(-np.inf).to_numpy()))
        rows.append({"channel": channel, "best_layer": g["layer"].iloc[i], "r2": float(g["r2"].iloc[i])})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ best layer on the surface
def voxel_best_layer_map(score: Score, targets: pd.DataFrame) -> pd.DataFrame:
    """The argmax layer of every voxel, with its position on the cortical surface.

    Per voxel the layer of the largest median over splits (``per_voxel["r2_corrected"]``
    clipped at 1, else ``r2``), ties drawn as :func:`evaluate.bestlayer.choose_layer` in the
    score's voxel order (docs/reference.md section 11).

    Args:
        score: a voxel-benchmark score.
        targets: ``Benchmark.targets`` of the benchmark it was scored on: ``target`` (voxel id),
            ``participant``, ``roi``, and the coordinate columns ``hemi``, ``x_ras``, ``y_ras``.

    Returns:
        One row per voxel in the score's order: voxel, participant, hemi, x_ras, y_ras, roi,
        best_layer (name), best_layer_index (model order), best_relative_layer (0 = first
        scored layer, 1 = last).
    """
    if not isinstance(targets, pd.DataFrame):
        raise TypeError(f"targets: expected Benchmark.targets (a DataFrame), got {type(targets).__name__}")
    missing = [c for c in ("target", *COORDINATE_COLUMNS) if c not in targets.columns]
    if missing:
        raise ValueError(
            f"targets: missing columns {missing} (the surface map needs each voxel's {', '.join(COORDINATE_COLUMNS)}; "
            f"got {list(targets.columns)})"
        )
    if "voxel" not in score.per_voxel.columns:
        raise ValueError(f"score ({score.model}): per_voxel has no 'voxel' column (a {score.kind!r} score, not voxels)")
    ids, values, _ = voxel_medians(score)
    meta = targets.set_index("target")
    if meta.index.has_duplicates:
        raise ValueError(
            f"targets: duplicate voxel ids in column 'target' {meta.index[meta.index.duplicated()][:8].tolist()}"
        )
    absent = ids["voxel"][~ids["voxel"].isin(meta.index)].tolist()
    if absent:
        raise ValueError(
            f"targets: {len(absent)} of the score's {len(ids)} voxels are not in column 'target', e.g. {absent[:5]} "
            f"(targets must come from the benchmark {score.benchmark!r} was scored on)"
        )
    meta = meta.loc[ids["voxel"].to_numpy()]
    if "participant" in meta and not np.array_equal(
        meta["participant"].astype(str).to_numpy(), ids["participant"].astype(str).to_numpy()
    ):
        raise ValueError(
            f"targets: column 'participant' disagrees with score ({score.model}) per_voxel for the same voxels"
        )
    roi = ids["roi"] if "roi" in ids else meta["roi"] if "roi" in meta else pd.Series([""] * len(ids))
    best = choose_layer(values)
    return pd.DataFrame(
        {
            "voxel": ids["voxel"].to_numpy(),
            "participant": ids["participant"].to_numpy(),
            "hemi": meta["hemi"].astype(str).to_numpy(),
            "x_ras": meta["x_ras"].to_numpy(),
            "y_ras": meta["y_ras"].to_numpy(),
            "roi": roi.astype(str).to_numpy(),
            "best_layer": np.asarray(score.layers, dtype=object)[best],
            "best_layer_index": best,
            "best_relative_layer": relative_position(best, len(score.layers)),
        }
    )


def write_surface_csv(voxel_map: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a :func:`voxel_best_layer_map` as the CSV a surface tool reads, atomically: one row
    per voxel with ``voxel_id, subj_idx, hemi, x_ras, y_ras, best_layer_index,
    best_relative_layer, best_layer`` (the release's names for the voxel metadata)."""
    renamed = voxel_map.rename(columns={"voxel": "voxel_id", "participant": "subj_idx"})
    missing = [c for c in SURFACE_COLUMNS if c not in renamed.columns]
    if missing:
        raise ValueError(f"voxel_map: missing columns {missing} (expected a voxel_best_layer_map table)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path, "w") as f:
        renamed[list(SURFACE_COLUMNS)].to_csv(f, index=False)
    return path


__all__ = [
    "COORDINATE_COLUMNS",
    "MIN_MODELS",
    "SURFACE_COLUMNS",
    "best_channel_recovery",
    "best_layer_rows",
    "channel_recovery",
    "component_predictions",
    "consistency",
    "ed_vs_predictivity",
    "seed_consistency",
    "voxel_best_layer_map",
    "voxel_medians",
    "write_surface_csv",
]

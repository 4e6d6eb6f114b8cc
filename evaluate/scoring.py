"""Score activations against a benchmark exactly as the reference pipeline (docs/reference.md section 6).

Per split (10 reference splits, 83 train / 82 test sounds) and layer:
  * ridge with per-voxel alpha by leave-one-out (evaluate.ridge), fitted on the mean of
    the repetitions and on each single repetition, all from one eigendecomposition;
  * r = correlation of the test predictions with the mean response, set to 0 when negative
    or when the prediction is constant; r2 = r**2;
  * noise correction: rv = median over repetition pairs of their correlation on the training
    sounds, rv_hat = median over pairs of the single-repetition models' test-prediction
    correlations, both Spearman-Brown corrected (k r / (1 + (k - 1) r), k repetitions) and
    floored at 0.182 / 0.183; corrected r2 = r2 / (rv * rv_hat).
Then per voxel the median over splits, clipped at 1 only after the median; the best layer
cross-validated over splits (10 iterations: 5 splits choose, 5 give the value); medians
over voxels per participant; mean and SEM over participants; the same within ROIs.
Components (one repetition) get the same regression without noise correction.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from evaluate.benchmark import ROIS, Benchmark, BenchmarkError
from evaluate.results import Score
from evaluate.ridge import REFERENCE_ALPHAS, decompose, fit_targets
from evaluate.splits import reference_splits

log = logging.getLogger(__name__)

RV_FLOOR, RV_HAT_FLOOR = 0.182, 0.183
N_CV_ITERATIONS = 10


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/``"auto"``: CUDA when available, else CPU."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def check_activations(
    activations: Mapping[str, np.ndarray | torch.Tensor],
    benchmark: Benchmark,
    stimulus_ids: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Validate ``{layer: [n_stimuli, n_features]}`` against ``benchmark``; float64 copies."""
    if not isinstance(activations, Mapping) or not activations:
        raise ValueError("activations must be a non-empty mapping of layer name -> [n_stimuli, n_features] array")
    if stimulus_ids is not None:
        ids = [str(s) for s in stimulus_ids]
        if len(ids) != benchmark.n_stimuli:
            raise ValueError(
                f"activations are for {len(ids)} stimuli, benchmark {benchmark.name} has {benchmark.n_stimuli}"
            )
        if ids != list(benchmark.stimulus_ids):
            bad = next(i for i, (a, b) in enumerate(zip(ids, benchmark.stimulus_ids)) if a != b)
            raise ValueError(
                f"activations are not in benchmark {benchmark.name}'s stimulus order: position {bad} is "
                f"{ids[bad]!r}, the benchmark expects {benchmark.stimulus_ids[bad]!r}"
            )
    out = {}
    for layer, values in activations.items():
        arr = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
        if arr.ndim != 2:
            raise ValueError(
                f"layer {layer!r}: activations must be [n_stimuli, n_features], got shape {list(arr.shape)} "
                "(average convolutional outputs over time and flatten first)"
            )
        if arr.shape[0] != benchmark.n_stimuli:
            raise ValueError(
                f"layer {layer!r}: {arr.shape[0]} stimuli, benchmark {benchmark.name} has {benchmark.n_stimuli}"
            )
        if arr.shape[1] == 0:
            raise ValueError(f"layer {layer!r} has 0 features")
        arr = arr.astype(np.float64)
        if not np.isfinite(arr).all():
            rows = np.unique(np.nonzero(~np.isfinite(arr))[0])
            raise ValueError(
                f"layer {layer!r} has NaN or inf activations for {len(rows)} stimuli "
                f"(first: {benchmark.stimulus_ids[rows[0]]!r})"
            )
        out[str(layer)] = arr
    return out


def _pearson_columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Column-wise Pearson correlation of ``[m, T]`` arrays; NaN where a column is constant."""
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    denom = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (a * b).sum(axis=0) / denom, np.nan)


def spearman_brown(r: np.ndarray, k: int) -> np.ndarray:
    """Reliability of the mean of ``k`` repetitions from the correlation of two."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return k * r / (1 + (k - 1) * r)


def _floored(values: np.ndarray, floor: float) -> np.ndarray:
    """``np.nanmax([values, floor])`` element-wise, as the reference (NaN -> floor)."""
    return np.where(np.isnan(values), floor, np.maximum(values, floor))


def _nanmedian_rows(stack: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmedian(stack, axis=0)


def test_correlation(predictions: np.ndarray, responses: np.ndarray) -> np.ndarray:
    """r per target, set to 0 when negative, undefined, or the prediction is constant."""
    r = _pearson_columns(predictions, responses)
    return np.where(np.isnan(r) | (r < 0), 0.0, r)


def cv_best_layer(
    values: np.ndarray, n_iterations: int = N_CV_ITERATIONS, clip: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Cross-validated best layer per target, as the reference.

    ``values`` ``[layers, splits, targets]``. For iteration ``i`` numpy is seeded with ``i``;
    for each layer (in order) and target the splits are shuffled into two halves
    (``np.random.shuffle`` of ``[0, 1] * (splits / 2)``): the "1" half's median (clipped at 1
    after the median) chooses the layer, the "0" half's median at that layer is the value.

    Returns ``(value [iterations, targets], best_layer [iterations, targets])``.
    """
    n_layers, n_splits, n_targets = values.shape
    if n_splits % 2:
        raise ValueError(f"the cross-validated best layer needs an even number of splits, got {n_splits}")
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
            select[layer] = _nanmedian_rows(np.where(masks == 1, vals, np.nan).T)
            readout[layer] = _nanmedian_rows(np.where(masks == 0, vals, np.nan).T)
        if clip:
            select, readout = np.minimum(select, 1.0), np.minimum(readout, 1.0)
        best = np.argmax(select, axis=0)
        out_layer[it] = best
        out_value[it] = readout[best, np.arange(n_targets)]
    return out_value, out_layer


def _sem(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")


def _within_participant_sem(pivot: pd.DataFrame) -> np.ndarray:
    """Reference's within-participant SEM across the columns (layers) of a participant x
    layer table: remove each participant's mean, add the grand mean, std over participants
    divided by sqrt(n - 1)."""
    if len(pivot) < 2:
        return np.full(pivot.shape[1], np.nan)
    demeaned = pivot.sub(pivot.mean(axis=1), axis=0) + pivot.values.mean()
    return demeaned.std(axis=0, ddof=0).to_numpy() / np.sqrt(len(pivot) - 1)


def score(
    activations: Mapping[str, np.ndarray | torch.Tensor],
    benchmark: Benchmark,
    model: str = "model",
    *,
    stimulus_ids: Sequence[str] | None = None,
    splits: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    alphas: np.ndarray = REFERENCE_ALPHAS,
    n_iterations: int = N_CV_ITERATIONS,
    rsa: bool = True,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> Score:
    """Score model activations against a benchmark (see the module docstring).

    Args:
        activations: layer name -> ``[n_stimuli, n_features]`` in the benchmark's stimulus
            order (layer order = model order, used for relative layer positions).
        benchmark: an :class:`evaluate.Benchmark`.
        model: identifier stored in the result.
        stimulus_ids: optional stimulus order of ``activations``, checked against the benchmark.
        splits: optional (train, test) index pairs; default the reference's 10 splits.
        alphas: ridge alpha grid (default ``10**x`` for x in -50..49).
        n_iterations: iterations of the cross-validated best-layer selection.
        rsa: also compute representational similarity (voxel benchmarks).
        device: torch device for the regression (default: CUDA if available).
    """
    t_start = time.perf_counter()
    feats = check_activations(activations, benchmark, stimulus_ids)
    layers = list(feats)
    dev = resolve_device(device)
    splits = list(splits) if splits is not None else reference_splits(benchmark.n_stimuli)
    corrected = benchmark.noise_corrected
    n_reps = benchmark.n_reps
    resp = benchmark.responses
    mean_resp = resp.mean(axis=2)
    n_targets, n_splits, n_layers = benchmark.n_targets, len(splits), len(layers)
    pairs = list(itertools.combinations(range(n_reps), 2)) if corrected else []
    # Columns [rep 0 | rep 1 | ...]; the ridge also fits their mean (docs/reference.md: the mean of
    # the repetitions) and returns [mean | rep 0 | ...].
    stacked = np.concatenate([resp[:, :, k] for k in range(n_reps)], axis=1) if corrected else mean_resp
    y_all = torch.as_tensor(stacked, dtype=torch.float64, device=dev)

    r2 = np.zeros((n_layers, n_splits, n_targets))
    r2c = np.full((n_layers, n_splits, n_targets), np.nan)
    alpha = np.zeros((n_layers, n_splits, n_targets))
    rv_hat = np.full((n_layers, n_splits, n_targets), np.nan)
    rv = np.full((n_splits, n_targets), np.nan)
    bar = tqdm(total=n_splits * n_layers, desc=f"Scoring {model} on {benchmark.name}", unit="fit", disable=not progress)
    t_fit = 0.0
    for s, (train, test) in enumerate(splits):
        if corrected:
            rv_pairs = np.stack([_pearson_columns(resp[train, :, a], resp[train, :, b]) for a, b in pairs])
            rv[s] = _floored(spearman_brown(_nanmedian_rows(rv_pairs), n_reps), RV_FLOOR)
        for li, layer in enumerate(layers):
            t0 = time.perf_counter()
            x = torch.as_tensor(feats[layer], dtype=torch.float64, device=dev)
            eig = decompose(x[train], x[test])
            fit = fit_targets(eig, y_all[train], alphas, mean_of_blocks=n_reps if corrected else 0)
            pred = fit.predictions.cpu().numpy()
            t_fit += time.perf_counter() - t0
            r = test_correlation(pred[:, :n_targets], mean_resp[test])
            r2[li, s] = r**2
            alpha[li, s] = fit.alpha[:n_targets].cpu().numpy()
            if corrected:
                reps = [pred[:, n_targets * (1 + k) : n_targets * (2 + k)] for k in range(n_reps)]
                hat_pairs = np.stack([_pearson_columns(reps[a], reps[b]) for a, b in pairs])
                rv_hat[li, s] = _floored(spearman_brown(_nanmedian_rows(hat_pairs), n_reps), RV_HAT_FLOOR)
                r2c[li, s] = r2[li, s] / (rv[s] * rv_hat[li, s])
            bar.update()
    bar.close()

    values = r2c if corrected else r2
    t0 = time.perf_counter()
    cv_value, cv_layer = cv_best_layer(values, n_iterations, clip=corrected)
    t_cv = time.perf_counter() - t0
    rel_layer = cv_layer / max(n_layers - 1, 1)

    targets = benchmark.targets
    participant = targets["participant"].to_numpy()
    roi = targets["roi"].astype(str).to_numpy()
    med_values = np.median(values, axis=1)  # [layers, targets], unclipped
    layer_values = np.minimum(med_values, 1.0) if corrected else med_values

    def group_stats(mask: np.ndarray) -> dict:
        """Headline, per-participant and per-layer statistics over targets in ``mask``."""
        if benchmark.kind == "components":
            units = np.flatnonzero(mask)  # each component is its own unit
            unit_value = cv_value[:, units].mean(axis=0)
            unit_rel = rel_layer[:, units].mean(axis=0)
            per_layer = pd.DataFrame(layer_values[:, units].T, columns=layers)
            unit_ids = targets["target"].to_numpy()[units]
        else:
            frame = pd.DataFrame({"participant": participant[mask]})
            unit_ids = np.unique(participant[mask])
            vals, rels = [], []
            for it in range(n_iterations):
                frame["v"], frame["rel"] = cv_value[it, mask], rel_layer[it, mask]
                grouped = frame.groupby("participant")[["v", "rel"]].median()
                vals.append(grouped["v"].reindex(unit_ids).to_numpy())
                rels.append(grouped["rel"].reindex(unit_ids).to_numpy())
            unit_value, unit_rel = np.mean(vals, axis=0), np.mean(rels, axis=0)
            per_layer = (
                pd.DataFrame(layer_values[:, mask].T, columns=layers).assign(participant=participant[mask])
                .groupby("participant")[layers].median().reindex(unit_ids)
            )  # fmt: skip
        return {
            "units": unit_ids,
            "unit_value": unit_value,
            "unit_rel": unit_rel,
            "per_layer": per_layer,
            "value": float(np.mean(unit_value)),
            "sem": _sem(unit_value),
            "rel": float(np.mean(unit_rel)),
            "rel_sem": _sem(unit_rel),
            "n": int(mask.sum()),
        }

    everything = group_stats(np.ones(n_targets, dtype=bool))
    roi_names = ["all"] + [r for r in ROIS if (roi == r).any()] + sorted(set(roi) - set(ROIS) - {""})
    roi_rows, roi_layer_rows = [], []
    for name in roi_names:
        stats = everything if name == "all" else group_stats(roi == name)
        roi_rows.append(
            {"roi": name, "value": stats["value"], "sem": stats["sem"], "best_relative_layer": stats["rel"],
             "best_relative_layer_sem": stats["rel_sem"], "n_targets": stats["n"]}
        )  # fmt: skip
        pivot = stats["per_layer"]
        sems = (
            _within_participant_sem(pivot)
            if benchmark.kind == "voxels"
            else pivot.std(ddof=1).to_numpy() / np.sqrt(len(pivot))
        )
        for layer, v, e in zip(layers, pivot.mean(axis=0).to_numpy(), sems):
            roi_layer_rows.append({"roi": name, "layer": layer, "value": float(v), "sem": float(e)})
    per_roi_layer = pd.DataFrame(roi_layer_rows)
    per_layer = per_roi_layer[per_roi_layer["roi"] == "all"].drop(columns="roi").reset_index(drop=True)
    unit_name = "participant" if benchmark.kind == "voxels" else "component"
    target_col = "voxel" if benchmark.kind == "voxels" else "component"
    per_participant = pd.DataFrame(
        {
            unit_name: everything["units"],
            "value": everything["unit_value"],
            "best_relative_layer": everything["unit_rel"],
        }
    )

    per_voxel = pd.DataFrame(
        {
            "layer": np.repeat(layers, n_targets),
            target_col: np.tile(targets["target"].to_numpy(), n_layers),
            "participant": np.tile(participant, n_layers),
            "roi": np.tile(roi, n_layers),
            "r2_corrected": np.median(r2c, axis=1).ravel() if corrected else np.nan,
            "r2": np.median(r2, axis=1).ravel(),
            "alpha": np.median(alpha, axis=1).ravel(),
            "rv_hat": _nanmedian_rows(np.moveaxis(rv_hat, 1, 0)).ravel() if corrected else np.nan,
        }
    )
    ceiling = pd.DataFrame(
        {target_col: targets["target"].to_numpy(),
         "participant": participant, "roi": roi,
         "rv": _nanmedian_rows(rv) if corrected else np.nan}
    )  # fmt: skip

    rsa_result, rsa_per_layer, t_rsa = {}, pd.DataFrame(), 0.0
    if rsa and benchmark.kind == "voxels" and len(np.unique(participant)) >= 2:
        from evaluate.rsa import rsa_score

        t0 = time.perf_counter()
        rsa_result, rsa_per_layer = rsa_score(feats, mean_resp, participant, splits)
        t_rsa = time.perf_counter() - t0

    metric = (
        "median noise-corrected r2 of the cross-validated best layer"
        if corrected
        else "median r2 of the cross-validated best layer"
    )
    info = {
        "n_splits": n_splits,
        "n_train": len(splits[0][0]),
        "n_test": len(splits[0][1]),
        "alphas": [float(alphas.min()), float(alphas.max()), len(alphas)],
        "n_iterations": n_iterations,
        "noise_corrected": corrected,
        "n_targets": n_targets,
        "n_excluded": len(benchmark.excluded),
        "excluded": benchmark.excluded.astype(str).to_dict(orient="records"),
        "device": str(dev),
        "seconds": {"total": time.perf_counter() - t_start, "regression": t_fit, "best_layer_cv": t_cv, "rsa": t_rsa},
        "features": {layer: int(feats[layer].shape[1]) for layer in layers},
    }
    return Score(
        benchmark=benchmark.name,
        model=model,
        kind=benchmark.kind,
        metric=metric,
        value=everything["value"],
        sem=everything["sem"],
        layers=layers,
        per_participant=per_participant,
        per_layer=per_layer,
        per_roi=pd.DataFrame(roi_rows),
        per_roi_layer=per_roi_layer,
        per_voxel=per_voxel,
        ceiling=ceiling,
        rsa=rsa_result,
        rsa_per_layer=rsa_per_layer,
        info=info,
    )


__all__ = ["BenchmarkError", "check_activations", "cv_best_layer", "score"]

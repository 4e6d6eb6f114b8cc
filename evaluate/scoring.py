"""Score activations against a benchmark exactly as the reference pipeline (docs/reference.md section 6).

:func:`score` runs the stages, each a public function returning a typed record:

  1. :func:`evaluate.ceiling.noise_ceiling` -> ``NoiseCeiling``: per split the repetitions'
     reliability ``rv`` on the training sounds (Spearman-Brown corrected, floored at 0.182);
  2. :func:`evaluate.fits.fit_splits` -> ``SplitFits``: per layer and split (10 reference splits,
     83 train / 82 test sounds) ridge with per-target alpha by leave-one-out, fitted on the mean
     of the repetitions and on each repetition from one eigendecomposition; r2 (r set to 0 when
     negative or the prediction constant) and the predictions' reliability ``rv_hat`` (floor
     0.183); corrected r2 = r2 / (rv * rv_hat);
  3. :func:`evaluate.bestlayer.best_layer_cv` -> ``BestLayerCV``: the best layer cross-validated
     over splits (10 iterations: 5 splits choose, 5 give the value; clipped at 1 only after
     the median; ties drawn at random as the authors, docs/reference.md section 11);
  4. :func:`evaluate.aggregate.aggregate` -> ``Aggregates``: medians over voxels per participant,
     mean and SEM over participants, the same within ROIs, layer curves;
  5. :func:`evaluate.rsa.rsa_stage` -> ``RSAResult``: representational similarity (voxels).

Components (one repetition) get the same regression without noise correction.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from evaluate.aggregate import aggregate, ceiling_table, per_voxel_table
from evaluate.benchmark import Benchmark, BenchmarkError
from evaluate.bestlayer import N_CV_ITERATIONS, best_layer_cv
from evaluate.ceiling import noise_ceiling
from evaluate.fits import fit_splits
from evaluate.results import Score
from evaluate.ridge import REFERENCE_ALPHAS
from evaluate.rsa import rsa_stage
from evaluate.splits import reference_splits


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


def score(
    activations: Mapping[str, np.ndarray | torch.Tensor],
    benchmark: Benchmark,
    model: str = "model",
    *,
    stimulus_ids: Sequence[str] | None = None,
    splits: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    alphas: np.ndarray = REFERENCE_ALPHAS,
    n_iterations: int = N_CV_ITERATIONS,
    relative_layer: str = "argmax",
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
        relative_layer: how the best relative layer per ROI is computed: ``"argmax"`` (the
            authors' Figure 7 method: per voxel the layer of the best median over splits) or
            ``"cv"`` (the cross-validated best layer's position); evaluate/aggregate.py.
        rsa: also compute representational similarity (voxel benchmarks).
        device: torch device for the regression (default: CUDA if available).
    """
    t_start = time.perf_counter()
    feats = check_activations(activations, benchmark, stimulus_ids)
    layers = list(feats)
    dev = resolve_device(device)
    splits = list(splits) if splits is not None else reference_splits(benchmark.n_stimuli)
    corrected = benchmark.noise_corrected

    ceiling = noise_ceiling(benchmark, splits)
    fits = fit_splits(feats, benchmark, splits, alphas=alphas, device=dev, progress=progress,
                      desc=f"Scoring {model} on {benchmark.name}")  # fmt: skip
    values = fits.corrected_r2(ceiling) if corrected else fits.r2  # [layers, splits, targets]
    t0 = time.perf_counter()
    best = best_layer_cv(values, n_iterations, clip=corrected)
    t_cv = time.perf_counter() - t0
    agg = aggregate(benchmark, layers, values, best, clip=corrected, relative_layer=relative_layer)
    rsa_result = rsa_stage(feats, benchmark, splits) if rsa else None  # None where RSA is undefined

    metric = (
        "median noise-corrected r2 of the cross-validated best layer"
        if corrected
        else "median r2 of the cross-validated best layer"
    )
    info = {
        "n_splits": len(splits),
        "n_train": len(splits[0][0]),
        "n_test": len(splits[0][1]),
        "alphas": [float(alphas.min()), float(alphas.max()), len(alphas)],
        "n_iterations": n_iterations,
        "relative_layer": relative_layer,
        # The headline per cross-validation iteration: what a permutation test over iterations needs.
        "per_iteration": [float(v) for v in agg.everything.iteration_value],
        "noise_corrected": corrected,
        "n_targets": benchmark.n_targets,
        "n_excluded": len(benchmark.excluded),
        "excluded": benchmark.excluded.astype(str).to_dict(orient="records"),
        "device": str(dev),
        "seconds": {"total": time.perf_counter() - t_start, "regression": fits.seconds, "best_layer_cv": t_cv,
                    "rsa": rsa_result.seconds if rsa_result is not None else 0.0},
        "features": {layer: int(feats[layer].shape[1]) for layer in layers},
    }  # fmt: skip
    return Score(
        benchmark=benchmark.name,
        model=model,
        kind=benchmark.kind,
        metric=metric,
        value=agg.everything.value,
        sem=agg.everything.sem,
        layers=layers,
        per_participant=agg.per_participant(),
        per_layer=agg.per_layer(),
        per_roi=agg.per_roi(),
        per_roi_layer=agg.per_roi_layer(),
        per_roi_participant=agg.per_roi_participant(),
        per_voxel=per_voxel_table(benchmark, fits, ceiling),
        ceiling=ceiling_table(benchmark, ceiling),
        rsa=rsa_result.summary() if rsa_result is not None else {},
        rsa_per_layer=rsa_result.per_layer() if rsa_result is not None else pd.DataFrame(),
        rsa_per_roi=rsa_result.per_roi() if rsa_result is not None else pd.DataFrame(),
        info=info,
    )


__all__ = ["BenchmarkError", "check_activations", "resolve_device", "score"]

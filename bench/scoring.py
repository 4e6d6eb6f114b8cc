"""Scoring-engine throughput on an NH2015-shaped workload.

    python bench/scoring.py [--voxels 7694] [--device cpu|cuda] [--skip-sklearn]

Workload: 165 stimuli, 7,694 voxels x 3 repetitions in 8 participants, 9 layers with the
CochCNN9 feature sizes of docs/reference.md section 2, the 10 reference splits, the 100-alpha
grid, noise correction, cross-validated best layer and RSA: exactly what
``evaluate.score`` does for a CochCNN9 on NH2015. Prints the total seconds, the peak
resident memory of the process, and, measured in the same run on one layer-split (the
mean response and the three single repetitions, 4 x 7,694 targets), the ratio to
scikit-learn's batched ``RidgeCV(alphas, alpha_per_target=True)``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from evaluate.benchmark import ROIS, Benchmark
from evaluate.ridge import REFERENCE_ALPHAS, decompose, fit_targets
from evaluate.scoring import score
from evaluate.splits import reference_splits

COCHCNN9_SIZES = {"relu0": 6816, "maxpool0": 3456, "relu1": 4608, "maxpool1": 2304, "relu2": 4608,
                  "relu3": 9216, "relu4": 4608, "avgpool": 2560, "relufc": 4096}  # fmt: skip


def workload(n_voxels: int, seed: int = 0) -> tuple[dict[str, np.ndarray], Benchmark]:
    """Activations with shared latent structure and voxels that read it out with noise."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((165, 40))
    acts = {}
    for name, size in COCHCNN9_SIZES.items():
        mix = rng.standard_normal((40, size)) * rng.uniform(0.2, 1.0, size)
        acts[name] = np.maximum(latent @ mix + rng.standard_normal((165, size)), 0).astype(np.float32)
    signal = latent @ rng.standard_normal((40, n_voxels))
    signal /= signal.std(axis=0)
    noise = rng.uniform(0.5, 3.0, n_voxels)[None, :, None]
    responses = signal[:, :, None] + noise * rng.standard_normal((165, n_voxels, 3))
    participant = np.sort(rng.integers(0, 8, n_voxels))
    roi = np.array(ROIS)[rng.integers(0, 4, n_voxels)]
    return acts, Benchmark.from_arrays(responses, participant, roi, name="nh2015-shaped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voxels", type=int, default=7694)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-sklearn", action="store_true")
    args = parser.parse_args()
    acts, bench = workload(args.voxels)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}; {bench.describe()}")

    t0 = time.perf_counter()
    result = score(acts, bench, "synthetic-cochcnn9", device=args.device, progress=False)
    total = time.perf_counter() - t0
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    sec = result.info["seconds"]
    print(f"whole workload: {total:.1f} s (regression {sec['regression']:.1f} s, best-layer CV "
          f"{sec['best_layer_cv']:.1f} s, RSA {sec['rsa']:.1f} s); peak memory {peak_gib:.2f} GiB")  # fmt: skip

    if args.skip_sklearn:
        return
    from sklearn.linear_model import RidgeCV

    train, test = reference_splits(165)[0]
    x = acts["relu0"].astype(np.float64)
    y = np.concatenate([bench.responses.mean(axis=2)] + [bench.responses[:, :, k] for k in range(3)], axis=1)
    xtr = x[train] - x[train].mean(0)
    ytr = y[train] - y[train].mean(0)
    t0 = time.perf_counter()
    eig = decompose(torch.as_tensor(x[train]), torch.as_tensor(x[test]))
    ours = fit_targets(eig, torch.as_tensor(y[train]))
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = RidgeCV(alphas=REFERENCE_ALPHAS[::-1], fit_intercept=True, alpha_per_target=True).fit(xtr, ytr)
    t_sk = time.perf_counter() - t0
    sk_alpha, our_alpha = np.asarray(sk.alpha_), ours.alpha.numpy()
    lam = eig.eigenvalues[torch.isfinite(eig.eigenvalues) & (eig.eigenvalues > 0)].numpy()
    hi, lo = lam.max() * 1e8, lam.min() / 1e8  # beyond these every alpha gives the same fit
    plateau = ((sk_alpha > hi) & (our_alpha > hi)) | ((sk_alpha < lo) & (our_alpha < lo))
    same = sk_alpha == our_alpha
    sk_pred = sk.predict(x[test] - x[train].mean(0))
    scale = np.maximum(np.abs(sk_pred).max(axis=0), y[train].std(axis=0))
    diff = (np.abs(sk_pred - ours.predictions.numpy()).max(axis=0) / scale)[same | plateau]
    print(f"one layer-split (relu0, {y.shape[1]} targets): ours {t_ours:.3f} s, scikit-learn RidgeCV "
          f"{t_sk:.1f} s -> {t_sk / t_ours:.0f}x")  # fmt: skip
    print(f"  same alpha for {100 * same.mean():.1f} % of targets, same plateau (mean-only or interpolation "
          f"limit, rounding decides) for {100 * (plateau & ~same).mean():.1f} %, different for "
          f"{100 * (~same & ~plateau).mean():.2f} %; max prediction difference where they agree "
          f"{diff.max():.1e} x the response scale")  # fmt: skip

if __name__ == "__main__":
    main()

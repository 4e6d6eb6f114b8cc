"""Ridge regression with per-target alpha by efficient leave-one-out, for many targets at once.

Reproduces the reference's per-voxel scikit-learn ``RidgeCV`` (features and responses
demeaned with training means, intercept on, alpha chosen by leave-one-out from a grid
visited from large to small, ties to the larger alpha) with one eigendecomposition of
the training Gram matrix shared by every target and every alpha:

    Kc + 1 1^T = U diag(lam) U^T                (n x n, n = training stimuli)
    w_k = 1 / (lam_k + alpha), except w = 0 on the intercept direction (U's column along 1)
    c = U diag(w) U^T yc,   G_ii = sum_k U_ik^2 w_k
    LOO residual e_i = c_i / G_ii,   E(alpha) = mean_i e_i^2

(the same identities scikit-learn's efficient LOO uses; this form has no cancellation at
very small or very large alpha).
All in float64 with torch, so it runs on a GPU when one is given. Cost per alpha is one
``n x n`` by ``n x targets`` matrix product; alphas far outside the eigenvalue range are
not evaluated one by one (see :func:`alpha_window`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

REFERENCE_ALPHAS = 10.0 ** np.arange(-50, 50)  # the reference grid: 10**x, x in range(-50, 50)
_PLATEAU_MARGIN = 1e8  # beyond 1e8 x the eigenvalue range the LOO error changes < 1e-8 relative
_TARGET_CHUNK = 4096  # targets per matrix product (keeps its output in cache)


@dataclass
class RidgeFit:
    """Result of fitting every target on one train/test split.

    Attributes:
        alpha: ``[targets]`` chosen alpha.
        alpha_index: ``[targets]`` index into the alpha grid.
        predictions: ``[n_test, targets]`` test predictions, centred (the training mean of
            the response, a constant, is left out; correlations do not depend on it).
        loo_error: ``[targets]`` leave-one-out mean squared error at the chosen alpha.
    """

    alpha: torch.Tensor
    alpha_index: torch.Tensor
    predictions: torch.Tensor
    loo_error: torch.Tensor


@dataclass
class GramEigen:
    """Eigendecomposition of one split's training Gram matrix (shared by all targets)."""

    eigenvalues: torch.Tensor  # [n]; tiny ones set to exactly 0; the intercept direction's is inf
    eigenvectors: torch.Tensor  # [n, n]
    test_kernel_u: torch.Tensor  # [n_test, n] = (X_test - mean) Xc^T U

    @property
    def n(self) -> int:
        return self.eigenvalues.shape[0]

    def weights(self, alpha: float) -> torch.Tensor:
        """``1 / (lam + alpha)`` per direction; 0 on the unpenalised intercept direction."""
        return 1.0 / (self.eigenvalues + alpha)


def decompose(x_train: torch.Tensor, x_test: torch.Tensor) -> GramEigen:
    """Centre features with the training means and eigendecompose the training Gram matrix.

    ``x_train`` ``[n_train, features]``, ``x_test`` ``[n_test, features]``, float64.
    """
    n = x_train.shape[0]
    mean = x_train.mean(dim=0, keepdim=True)
    xc, xt = x_train - mean, x_test - mean
    gram = xc @ xc.T
    gram = (gram + gram.T) / 2
    # Adding 1 1^T lifts the centring direction (a null vector of the centred Gram matrix)
    # to eigenvalue n, apart from any other null directions: that is the intercept.
    ones = torch.ones(n, 1, dtype=gram.dtype, device=gram.device)
    lam, u = torch.linalg.eigh(gram + ones @ ones.T)
    intercept = int(torch.argmax((u.T @ ones).abs()))
    lam = lam.clone()
    lam[intercept] = 0.0
    # Eigenvalues at rounding level are the null space (rank deficiency): exactly zero.
    tol = max(float(lam.max()), 0.0) * n * 1e-13
    lam = torch.where(lam > tol, lam, torch.zeros_like(lam))
    lam[intercept] = float("inf")  # weight 1 / (inf + alpha) = 0: never penalised
    return GramEigen(lam, u, (xt @ xc.T) @ u)


def alpha_window(eigenvalues: torch.Tensor, alphas: np.ndarray) -> np.ndarray:
    """Indices of the grid alphas whose LOO errors can differ by more than 1e-8 relative.

    For ``alpha > 1e8 * max(lam)`` the fit is the mean-only limit and for
    ``alpha < 1e-8 * min(lam > 0)`` the minimum-norm interpolation limit, up to relative
    changes below 1e-8; the reference picks among such plateau alphas by rounding noise
    (docs/reference.md section 6). The window keeps every alpha in between plus the nearest one
    beyond each end, which stands for its plateau.
    """
    positive = eigenvalues[(eigenvalues > 0) & torch.isfinite(eigenvalues)]
    if len(positive) == 0:  # constant features: every alpha gives the same fit
        return np.array([int(np.argmax(alphas))])
    lo, hi = float(positive.min()) / _PLATEAU_MARGIN, float(positive.max()) * _PLATEAU_MARGIN
    order = np.argsort(alphas)
    sorted_alphas = alphas[order]
    first = max(int(np.searchsorted(sorted_alphas, lo, side="left")) - 1, 0)
    last = min(int(np.searchsorted(sorted_alphas, hi, side="right")), len(alphas) - 1)
    return np.sort(order[first : last + 1])


def fit_targets(
    eig: GramEigen, y_train: torch.Tensor, alphas: np.ndarray = REFERENCE_ALPHAS, mean_of_blocks: int = 0
) -> RidgeFit:
    """Fit every column of ``y_train`` ``[n_train, targets]`` (float64, any centring) with its
    own LOO-chosen alpha; predictions on the split's test stimuli.

    ``mean_of_blocks=k`` (k >= 2): ``y_train`` holds ``k`` equal blocks of columns (e.g. the
    repetitions of every voxel), and the mean of the blocks is fitted too, as ``k + 1``
    blocks ``[mean | block 0 | ... | block k-1]`` in the result. Its LOO residuals are the mean
    of the blocks' (they are linear in the response), which saves a quarter of the work for
    three repetitions.
    """
    device, dtype = y_train.device, torch.float64
    u, lam = eig.eigenvectors, eig.eigenvalues
    proj = u.T @ (y_train - y_train.mean(dim=0, keepdim=True))  # [n, targets]
    k = int(mean_of_blocks)
    if k:
        if k < 2 or proj.shape[1] % k:
            raise ValueError(f"mean_of_blocks={k}: need k >= 2 blocks of equal width, got {proj.shape[1]} columns")
        width = proj.shape[1] // k
        proj = torch.cat([proj.reshape(proj.shape[0], k, width).mean(dim=1), proj], dim=1)
    else:
        width = proj.shape[1]
    n_targets = proj.shape[1]

    window = alpha_window(lam, alphas)
    # Visit from large to small alpha; a later alpha must be strictly better to win, so
    # exact ties go to the larger alpha, as in the reference's scikit-learn loop.
    visit = window[np.argsort(-alphas[window], kind="stable")]
    best_err = torch.full((n_targets,), float("inf"), device=device, dtype=dtype)
    best_idx = torch.full((n_targets,), int(visit[0]), device=device, dtype=torch.long)
    u_sq = u * u
    n = u.shape[0]
    err = torch.empty(n_targets, device=device, dtype=dtype)
    blocks = [width * (b + 1) for b in range(k)] if k else [0]  # first column of each computed block
    for idx in visit:
        w = eig.weights(float(alphas[idx]))
        inv_g = 1.0 / (u_sq @ w)  # 1 / diagonal of (K + alpha I)^-1 without the intercept
        # LOO residuals e = diag(inv_g) U diag(w) U^T yc: both diagonals folded into one
        # n x n matrix, so each alpha costs one matrix product and one pass over its output.
        loo_map = (inv_g[:, None] * u) * w[None, :]
        for c0 in range(0, width, _TARGET_CHUNK):
            c1 = min(c0 + _TARGET_CHUNK, width)
            mean_resid = None
            for b0 in blocks:
                resid = loo_map @ proj[:, b0 + c0 : b0 + c1]
                if k:
                    mean_resid = resid.clone() if mean_resid is None else mean_resid.add_(resid)
                torch.sum(resid.square_(), dim=0, out=err[b0 + c0 : b0 + c1])
            if k:
                torch.sum(mean_resid.div_(k).square_(), dim=0, out=err[c0:c1])
        err /= n
        better = err < best_err
        best_err = torch.where(better, err, best_err)
        best_idx = torch.where(better, torch.full_like(best_idx, int(idx)), best_idx)

    predictions = torch.empty(eig.test_kernel_u.shape[0], n_targets, device=device, dtype=dtype)
    for idx in torch.unique(best_idx).tolist():
        cols = torch.nonzero(best_idx == idx).squeeze(1)
        # Null directions carry no signal into predictions ((X_test - mean) Xc^T u = 0).
        w = torch.where(lam > 0, eig.weights(float(alphas[idx])), torch.zeros_like(lam))
        predictions[:, cols] = eig.test_kernel_u @ (w[:, None] * proj[:, cols])
    alpha_values = torch.as_tensor(alphas, device=device, dtype=dtype)[best_idx]
    return RidgeFit(alpha=alpha_values, alpha_index=best_idx, predictions=predictions, loo_error=best_err)

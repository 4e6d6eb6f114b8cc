"""The shared-eigendecomposition ridge (evaluate.ridge) against brute-force leave-one-out
refits and scikit-learn's RidgeCV (the reference's per-voxel solver)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.linear_model import RidgeCV

from evaluate.ridge import REFERENCE_ALPHAS, decompose, fit_targets


def problem(n_train=30, n_test=25, n_features=50, n_targets=60, seed=0):
    """Features with low-rank structure; targets = readout + noise of widely varying size."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n_train + n_test, 8))
    x = latent @ rng.standard_normal((8, n_features)) + 0.3 * rng.standard_normal((n_train + n_test, n_features))
    x += 5.0  # an offset the intercept must absorb
    y = x @ rng.standard_normal((n_features, n_targets)) * 0.1
    y += rng.uniform(0.1, 10, n_targets) * rng.standard_normal(y.shape) + rng.standard_normal(n_targets) * 3
    return x[:n_train], x[n_train:], y[:n_train], y[n_train:]


def brute_force_loo(x, y, alphas):
    """LOO mean squared error [alphas, targets] by actually refitting without each sample
    (features and targets demeaned with the n - 1 training means, intercept unpenalised).

    Each refit solves the dual system in the eigenbasis of its own centred Gram matrix and
    leaves out its null directions, which carry nothing into a prediction; that keeps the
    refit exact even at alpha = 1e-50, where a direct solve would be singular."""
    n = len(x)
    errors = np.zeros((len(alphas), y.shape[1]))
    for i in range(n):
        keep = np.arange(n) != i
        xm, ym = x[keep].mean(0), y[keep].mean(0)
        xc, yc = x[keep] - xm, y[keep] - ym
        lam, u = np.linalg.eigh(xc @ xc.T)
        live = lam > lam.max() * 1e-11
        k = ((x[i] - xm) @ xc.T) @ u[:, live]  # test kernel in the eigenbasis
        proj = u[:, live].T @ yc
        for a, alpha in enumerate(alphas):
            pred = k @ (proj / (lam[live] + alpha)[:, None]) + ym
            errors[a] += (y[i] - pred) ** 2
    return errors / n


def direct_predictions(x_train, y_train, x_test, alpha):
    """Centred test predictions of one ridge fit (the training mean of y left out), solved in
    the eigenbasis of the centred Gram matrix (exact also for tiny alphas)."""
    xm, ym = x_train.mean(0), y_train.mean(0)
    xc = x_train - xm
    lam, u = np.linalg.eigh(xc @ xc.T)
    live = lam > lam.max() * 1e-11
    dual = u[:, live] @ ((u[:, live].T @ (y_train - ym)) / (lam[live] + alpha)[:, None])
    return (x_test - xm) @ xc.T @ dual


def test_alpha_and_predictions_equal_brute_force_leave_one_out():
    x_train, x_test, y_train, _ = problem()
    alphas = 10.0 ** np.arange(-12, 12)
    eig = decompose(torch.as_tensor(x_train), torch.as_tensor(x_test))
    fit = fit_targets(eig, torch.as_tensor(y_train), alphas)
    errors = brute_force_loo(x_train, y_train, alphas)
    chosen = fit.alpha_index.numpy()
    cols = np.arange(errors.shape[1])
    assert len(np.unique(chosen)) >= 3  # the problem exercises several alphas

    # Our choice is optimal up to rounding; where the optimum is clear (runner-up > 1e-6
    # worse) it is exactly the alpha the reference's loop (large to small, strict) picks.
    best = errors.min(axis=0)
    np.testing.assert_array_less(errors[chosen, cols], best * (1 + 1e-8) + 1e-300)
    ordered = np.sort(errors, axis=0)
    clear = ordered[1] > ordered[0] * (1 + 1e-6)
    assert clear.sum() >= 30  # the rest sit on the mean-only or interpolation plateau
    expected = np.array([len(alphas) - 1 - np.argmin(errors[::-1, t]) for t in cols])
    np.testing.assert_array_equal(chosen[clear], expected[clear])
    np.testing.assert_allclose(fit.loo_error.numpy(), errors[chosen, cols], rtol=1e-8)
    for t in cols:
        ref = direct_predictions(x_train, y_train[:, t : t + 1], x_test, alphas[chosen[t]])[:, 0]
        np.testing.assert_allclose(fit.predictions[:, t].numpy(), ref, rtol=0, atol=1e-8 * np.abs(ref).max())


@pytest.mark.parametrize("n_features", [200, 40])  # more features than sounds (NH2015 layers) and fewer
def test_matches_sklearn_ridgecv_alpha_per_target(n_features):
    """As the reference: features and responses demeaned with training means, intercept on,
    the 100-value grid visited from large to small, one alpha per target."""
    x_train, x_test, y_train, _ = problem(n_train=83, n_test=82, n_features=n_features, n_targets=120, seed=1)
    xm, ym = x_train.mean(0), y_train.mean(0)
    alphas_desc = REFERENCE_ALPHAS[::-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = RidgeCV(alphas=alphas_desc, fit_intercept=True, alpha_per_target=True).fit(x_train - xm, y_train - ym)
    sk_pred = sk.predict(x_test - xm)

    eig = decompose(torch.as_tensor(x_train), torch.as_tensor(x_test))
    fit = fit_targets(eig, torch.as_tensor(y_train), REFERENCE_ALPHAS)
    ours_alpha = fit.alpha.numpy()

    # Where the two solvers disagree, refitting without each sound decides: scikit-learn's
    # closed form loses precision at alphas far below the Gram eigenvalues (and picks among
    # near-equal errors by rounding), ours must never be the worse choice.
    # Alphas on the same plateau (beyond 1e8 x the Gram eigenvalue range, or below 1e-8 x its
    # smallest positive value) give the same fit up to 1e-8 relative: a tie, not a difference.
    sk_alpha = np.asarray(sk.alpha_)
    lam = eig.eigenvalues[torch.isfinite(eig.eigenvalues) & (eig.eigenvalues > 0)].numpy()
    hi, lo = lam.max() * 1e8, lam.min() / 1e8
    same_plateau = ((ours_alpha > hi) & (sk_alpha > hi)) | ((ours_alpha < lo) & (sk_alpha < lo))
    differ = np.flatnonzero(ours_alpha != sk_alpha)
    real = np.flatnonzero((ours_alpha != sk_alpha) & ~same_plateau)
    assert len(real) <= 0.05 * len(ours_alpha), f"{len(real)} of {len(ours_alpha)} alphas differ"
    if len(differ):
        index = {a: i for i, a in enumerate(REFERENCE_ALPHAS)}
        errors = brute_force_loo(x_train, y_train[:, differ], REFERENCE_ALPHAS)
        for j, t in enumerate(differ):
            mine, theirs = errors[index[ours_alpha[t]], j], errors[index[float(sk_alpha[t])], j]
            assert mine <= theirs * (1 + 1e-6), (t, ours_alpha[t], sk.alpha_[t], mine, theirs)

    same = (ours_alpha == sk_alpha) | same_plateau
    # Relative to the response scale: on the mean-only plateau both predictions are ~0.
    scale = np.maximum(np.abs(sk_pred).max(axis=0), y_train.std(axis=0))
    diff = np.abs(fit.predictions.numpy() - sk_pred).max(axis=0)
    assert (diff[same] <= 1e-8 * scale[same]).all(), diff[same].max() / scale[same].max()


def test_plateau_alphas_give_the_mean_only_limit():
    """Targets unrelated to the features pick a huge alpha; the centred predictions are then
    ~0 (the mean-only limit), not rounding noise around a constant."""
    x_train, x_test, _, _ = problem(n_train=40, n_test=20, n_features=30, n_targets=1)
    rng = np.random.default_rng(5)
    x_train = np.repeat(x_train[:, :1], 30, axis=1)  # one direction only
    y = rng.standard_normal((40, 50))
    eig = decompose(torch.as_tensor(x_train), torch.as_tensor(x_test[:, :30]))
    fit = fit_targets(eig, torch.as_tensor(y), REFERENCE_ALPHAS)
    big = fit.alpha.numpy() > 1e8 * float(eig.eigenvalues[torch.isfinite(eig.eigenvalues)].max())
    assert big.any()
    assert np.abs(fit.predictions.numpy()[:, big]).max() < 1e-6 * np.abs(y).max()


def test_constant_features_predict_nothing():
    x = np.ones((20, 5))
    y = np.random.default_rng(0).standard_normal((20, 3))
    eig = decompose(torch.as_tensor(x[:12]), torch.as_tensor(x[12:]))
    fit = fit_targets(eig, torch.as_tensor(y[:12]))
    assert torch.all(fit.predictions == 0)
    assert torch.isfinite(fit.loo_error).all()


def test_mean_of_blocks_equals_fitting_the_mean_explicitly():
    x_train, x_test, y_train, _ = problem(n_train=40, n_test=20, n_targets=30, seed=4)
    reps = np.concatenate([y_train + np.random.default_rng(k).standard_normal(y_train.shape) for k in range(3)], axis=1)
    mean = reps.reshape(40, 3, 30).mean(axis=1)
    eig = decompose(torch.as_tensor(x_train), torch.as_tensor(x_test))
    explicit = fit_targets(eig, torch.as_tensor(np.concatenate([mean, reps], axis=1)))
    blocks = fit_targets(eig, torch.as_tensor(reps), mean_of_blocks=3)
    np.testing.assert_array_equal(blocks.alpha_index.numpy(), explicit.alpha_index.numpy())
    np.testing.assert_allclose(blocks.loo_error.numpy(), explicit.loo_error.numpy(), rtol=1e-10)
    np.testing.assert_allclose(blocks.predictions.numpy(), explicit.predictions.numpy(), rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="mean_of_blocks=4"):
        fit_targets(eig, torch.as_tensor(reps), mean_of_blocks=4)

"""Train/test splits of the stimuli, drawn exactly as the reference does."""

from __future__ import annotations

import numpy as np


def reference_splits(
    n_stimuli: int = 165, n_splits: int = 10, seed: int = 0, n_train: int | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n_splits`` (train, test) index arrays, each sorted ascending.

    The reference seeds numpy's global generator once (``np.random.seed(0)``) and, for
    each split, draws the training stimuli with ``np.random.choice(n, 83, replace=False)``
    and then the test stimuli with ``np.random.choice(rest, 82, replace=False)`` (a draw
    that only permutes the rest, but consumes random numbers); the fits select stimuli
    with boolean masks, so both sets are used in ascending order. With 165 stimuli this
    gives 83 train / 82 test; other sizes use ``ceil(n / 2)`` for training.
    """
    if n_stimuli < 4:
        raise ValueError(f"need at least 4 stimuli to split, got {n_stimuli}")
    n_train = (n_stimuli + 1) // 2 if n_train is None else n_train
    if not 2 <= n_train <= n_stimuli - 2:
        raise ValueError(f"n_train must leave at least 2 stimuli on each side, got {n_train} of {n_stimuli}")
    rng = np.random.RandomState(seed)
    splits = []
    for _ in range(n_splits):
        train = rng.choice(n_stimuli, size=n_train, replace=False)
        rest = sorted(set(range(n_stimuli)) - set(train.tolist()))
        test = rng.choice(rest, size=len(rest), replace=False)
        splits.append((np.sort(train), np.sort(test)))
    return splits

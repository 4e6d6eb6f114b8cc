"""The statistics every part of the evaluation shares: correlation, median, standard error.

One home for each, so the regression, the noise ceiling, RSA and the reports agree to the
last bit (docs/reference.md section 6 defines what they compute).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


def pearson_columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Column-wise Pearson correlation.

    ``a``, ``b``: ``[m, T]`` (or both ``[m]``, giving a 0-d array). Returns ``[T]``, NaN where
    a column of either is constant (no correlation is defined there; callers choose what it means).
    """
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    denom = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (a * b).sum(axis=0) / denom, np.nan)


def spearman_brown(r: np.ndarray, k: int) -> np.ndarray:
    """Reliability of the mean of ``k`` repetitions from the correlation ``r`` of two (any shape)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return k * r / (1 + (k - 1) * r)


def nanmedian(stack: np.ndarray, axis: int = 0) -> np.ndarray:
    """``np.nanmedian`` over ``axis``, NaN (without a warning) where every value is NaN."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(stack, axis=axis)


def sem(values: np.ndarray, axis: int | None = None) -> float | np.ndarray:
    """Standard error of the mean: sample standard deviation (``ddof=1``) over ``sqrt(n)``.

    ``axis=None``: over every value, a float. Otherwise over ``axis``, an array of the other
    dimensions. NaN where ``n < 2``; NaN values propagate (drop them first to ignore them).
    The values are summed along a contiguous last axis, the layout pandas' ``std`` uses, so
    tables made either way agree bit for bit.
    """
    values = np.asarray(values, dtype=float)
    values = values.ravel() if axis is None else np.ascontiguousarray(np.moveaxis(values, axis, -1))
    n = values.shape[-1]
    if n < 2:
        out = np.full(values.shape[:-1], np.nan)
    else:
        out = np.std(values, axis=-1, ddof=1) / np.sqrt(n)
    return float(out) if axis is None else out


def within_participant_sem(table: pd.DataFrame) -> np.ndarray:
    """Within-participant SEM across the columns (layers) of a participant x layer table, as the
    reference: remove each participant's mean, add the grand mean, standard deviation over
    participants (``ddof=0``) divided by ``sqrt(n - 1)``. ``[columns]``; NaN for one participant."""
    if len(table) < 2:
        return np.full(table.shape[1], np.nan)
    demeaned = table.sub(table.mean(axis=1), axis=0) + table.values.mean()
    return demeaned.std(axis=0, ddof=0).to_numpy() / np.sqrt(len(table) - 1)


__all__ = ["nanmedian", "pearson_columns", "sem", "spearman_brown", "within_participant_sem"]

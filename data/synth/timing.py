"""When things happen in a synthesized sound: event schedules, segments and impulse trains.

Times are in seconds (schedules) or samples at :data:`data.synth.dsp.SR` (onsets of
:func:`segments`, :func:`impulses`, :func:`hits`); every schedule ends with the clip of
``n`` samples.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve

from data.audio import SAMPLE_RATE as SR

__all__ = ["burst_times", "hits", "impulses", "onset_rate", "poisson_times", "regular_times", "segments"]


def segments(n: int, onsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sorted onsets (samples): the index of the latest onset at or before each
    sample (-1 before the first) and the samples elapsed since it (a large value
    before the first, so that envelopes are 0 there); both ``[n]``."""
    onsets = np.asarray(onsets, dtype=np.int64)
    t = np.arange(n)
    if onsets.size == 0:
        return np.full(n, -1), np.full(n, 10**9)
    idx = np.searchsorted(onsets, t, side="right") - 1
    since = np.where(idx >= 0, t - onsets[np.maximum(idx, 0)], 10**9)
    return idx, since


def impulses(n: int, onsets: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Float64 ``[n]`` of zeros with ``gains`` added at the onsets (samples) inside the clip."""
    exc = np.zeros(n)
    on = np.asarray(onsets, dtype=np.int64)
    ok = (on >= 0) & (on < n)
    np.add.at(exc, on[ok], np.asarray(gains, dtype=float)[ok])
    return exc


def hits(n: int, onsets: np.ndarray, gains: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Kernel copies at the onsets (samples), scaled by gains; float64 [n]."""
    if len(onsets) == 0:
        return np.zeros(n)
    return fftconvolve(impulses(n, onsets, gains), kernel)[:n]


def regular_times(rng: np.random.Generator, n: int, mean: float, jitter: float, start: float = 0.0) -> np.ndarray:
    """Event times (s) from ``start`` until the clip ends, with inter-onset intervals
    ``mean * (1 + jitter * N(0,1))`` (at least 20 % of the mean)."""
    total = n / SR
    k = int(total / mean) + 3
    ioi = mean * np.maximum(1.0 + jitter * rng.standard_normal(k), 0.2)
    t = start + np.concatenate([[0.0], np.cumsum(ioi[:-1])])
    while t[-1] < total:  # rare: many short intervals in a long clip
        t = np.append(t, t[-1] + mean)
    return t[t < total]


def poisson_times(rng: np.random.Generator, n: int, rate: float, start: float = 0.0) -> np.ndarray:
    """Poisson event times (s) at ``rate`` per second in [start, clip end)."""
    total = n / SR
    k = rng.poisson(rate * max(total - start, 0.0))
    return np.sort(rng.uniform(start, total, k)) if total > start else np.zeros(0)


def burst_times(
    rng: np.random.Generator,
    n: int,
    start: tuple[float, float],
    per_group: tuple[int, int],
    ioi: tuple[float, float],
    gap: tuple[float, float],
) -> np.ndarray:
    """Onset times (s) of bursts that come in groups: the first at ``start`` (s, range),
    ``per_group`` (count range) bursts ``ioi`` (s, range) apart within a group; the next
    group starts ``gap`` (s, range) after the last burst of the previous one."""
    total = n / SR
    t = rng.uniform(*start)
    out = []
    while t < total:
        k = int(rng.integers(per_group[0], per_group[1] + 1))
        step = rng.uniform(*ioi)
        for i in range(k):
            out.append(t)
            if i < k - 1:
                t += step * rng.uniform(0.9, 1.1)
        t += rng.uniform(*gap)
    return np.array(out)


def onset_rate(times_s: np.ndarray, n: int) -> float:
    """Events starting inside the clip of ``n`` samples, per second (the ``onset_rate`` latent)."""
    t = np.asarray(times_s, dtype=float)
    return float(np.count_nonzero((t >= 0) & (t < n / SR)) / (n / SR))

"""Cochlear filterbank and envelope-downsampling kernel of the reference cochleagram.

Pure numpy; :class:`models.Cochleagram` turns these arrays into torch buffers.
The definitions follow docs/reference.md section 1 ("cochleagram_1").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.audio import CLIP_SAMPLES, SAMPLE_RATE


def freq_to_erb(freq_hz: np.ndarray | float) -> np.ndarray:
    """Glasberg & Moore ERB-number of a frequency in Hz."""
    return 9.265 * np.log(1.0 + np.asarray(freq_hz, dtype=np.float64) / (24.7 * 9.265))


def erb_to_freq(erb: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`freq_to_erb`: ERB-number -> Hz."""
    return 24.7 * 9.265 * (np.exp(np.asarray(erb, dtype=np.float64) / 9.265) - 1.0)


@dataclass(frozen=True)
class ErbCosineFilterbank:
    """Half-cosine filters on the ERB-number scale, defined on the rfft grid.

    Attributes:
        filters: ``[n_channels, n_freqs]`` float64 magnitude responses on the
            non-negative FFT frequencies (``n_freqs = signal_length // 2 + 1`` for even lengths).
        center_freqs: ``[n_channels]`` centre frequencies in Hz (low-pass first, high-pass last).
        freqs: ``[n_freqs]`` frequency of each rfft bin in Hz.
    """

    filters: np.ndarray
    center_freqs: np.ndarray
    freqs: np.ndarray


def erb_cosine_filterbank(
    signal_length: int = CLIP_SAMPLES,
    sample_rate: int = SAMPLE_RATE,
    n: int = 50,
    low_hz: float = 50.0,
    high_hz: float = 10000.0,
    sample_factor: int = 4,
) -> ErbCosineFilterbank:
    """Build ``sample_factor * (n + 1) - 1`` band-pass filters plus ``sample_factor``
    low-pass and ``sample_factor`` high-pass filters (211 channels for the defaults).

    Filters overlap so that their squared responses sum to one across frequency.
    """
    if signal_length < 2:
        raise ValueError(f"signal_length must be >= 2 samples, got {signal_length}")
    if not 0 < low_hz < high_hz:
        raise ValueError(f"need 0 < low_hz < high_hz, got low_hz={low_hz}, high_hz={high_hz}")
    if signal_length % 2 == 0:
        n_freqs = signal_length // 2
        max_freq = sample_rate / 2
    else:
        n_freqs = (signal_length - 1) // 2
        max_freq = sample_rate * (signal_length - 1) / 2 / signal_length
    high_hz = min(high_hz, max_freq)

    n_bandpass = sample_factor * (n + 1) - 1
    freqs = np.linspace(0.0, max_freq, n_freqs + 1)
    filts = np.zeros((n_freqs + 1, n_bandpass + 2 * sample_factor))
    # Centres evenly spaced in ERB-number; the two end points are band edges, not centres.
    centers, spacing = np.linspace(
        freq_to_erb(low_hz), freq_to_erb(high_hz), n_bandpass + 2, retstep=True
    )
    centers = centers[1:-1]
    freqs_erb = freq_to_erb(freqs)
    for i in range(n_bandpass):
        lo = centers[i] - sample_factor * spacing
        hi = centers[i] + sample_factor * spacing
        inside = (freqs_erb > lo) & (freqs_erb < hi)
        filts[inside, i + sample_factor] = np.cos(
            (freqs_erb[inside] - (lo + hi) / 2) / (hi - lo) * np.pi
        )
    # Low-pass (high-pass) filters complement the lowest (highest) band-pass filters
    # up to (down from) the peak of those filters.
    for i in range(sample_factor):
        col = i + sample_factor
        lp_top = np.nonzero(freqs < erb_to_freq(centers[i]))[0].max()
        filts[: lp_top + 1, i] = np.sqrt(1.0 - filts[: lp_top + 1, col] ** 2)
        hp_bottom = np.nonzero(freqs > erb_to_freq(centers[-1 - i]))[0].min()
        filts[hp_bottom:, -1 - i] = np.sqrt(1.0 - filts[hp_bottom:, -1 - col] ** 2)
    filts /= np.sqrt(sample_factor)

    cfs_low = centers[:sample_factor] - sample_factor * spacing
    cfs_high = centers[-sample_factor:] + sample_factor * spacing
    center_freqs = erb_to_freq(np.concatenate([cfs_low, centers, cfs_high]))
    center_freqs[center_freqs < 0] = 1.0
    return ErbCosineFilterbank(filters=filts.T.copy(), center_freqs=center_freqs, freqs=freqs)


def sinc_kaiser_kernel(downsample_factor: int = 100, window_size: int = 1001, beta: float = 5.0) -> np.ndarray:
    """Anti-aliasing low-pass for envelope downsampling: ``sinc(t / D) / D * kaiser``.

    Sampled at ``t = -window_size / 2, ..., window_size / 2 - 1`` (half-integer offsets
    for odd windows), as in the reference. Returns ``[window_size]`` float64, applied as a
    cross-correlation with stride ``D``.
    """
    t = np.arange(-window_size / 2, int(window_size / 2))
    return np.sinc(t / downsample_factor) / downsample_factor * np.kaiser(window_size, beta)

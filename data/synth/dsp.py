"""DSP primitives of the stimulus synthesizer: filters, envelopes, noise, kernels, finishing.

Everything is vectorised numpy/scipy on float64 ``[n]`` signals at :data:`SR` (the project's
20 kHz, ``data.audio.SAMPLE_RATE``). Filters are RBJ-cookbook biquads run with ``lfilter``
because scipy's ``butter()`` costs ~1 ms per design, more than the filtering itself.
:func:`coloured_noise` is the project's one coloured-noise generator (also the stationary
backgrounds of the embedded corpus, :mod:`data.corpus`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import fftconvolve, lfilter

from data.audio import SAMPLE_RATE as SR
from data.audio import TARGET_RMS

__all__ = [
    "NYQ_SAFE",
    "band_pass",
    "biquad",
    "coloured_noise",
    "damped_modes",
    "decay_kernel",
    "filt",
    "finalize",
    "formants",
    "gate",
    "noise_burst",
    "peak_unit",
    "resonances",
    "rms",
    "room",
    "slow_curve",
    "smooth",
    "unit",
]

NYQ_SAFE = 0.45 * SR  # highest partial frequency rendered, to stay clear of aliasing
_PEAK_MAX = 0.9  # the limiter keeps peaks below this at RMS 0.1 (crest factor < 19 dB)


# ---------------------------------------------------------------------------- filters
def biquad(kind: str, f: float, q: float = 0.7071) -> tuple[np.ndarray, np.ndarray]:
    """RBJ-cookbook biquad ``(b [3], a [3])``: ``kind`` "low", "high" or anything else for a
    band-pass with 0 dB peak, at ``f`` Hz (clamped to 10 Hz .. 0.49 SR)."""
    f = min(max(f, 10.0), 0.49 * SR)
    w = 2.0 * math.pi * f / SR
    cw, alpha = math.cos(w), math.sin(w) / (2.0 * q)
    if kind == "low":
        b = np.array([(1 - cw) / 2, 1 - cw, (1 - cw) / 2])
    elif kind == "high":
        b = np.array([(1 + cw) / 2, -(1 + cw), (1 + cw) / 2])
    else:
        b = np.array([alpha, 0.0, -alpha])
    a = np.array([1 + alpha, -2 * cw, 1 - alpha])
    return b / a[0], a / a[0]


def filt(x: np.ndarray, kind: str, f: float, q: float = 0.7071, order: int = 2) -> np.ndarray:
    """Biquad filter (see :func:`biquad`) applied ``order // 2`` times (order 2, 4, ...)."""
    b, a = biquad(kind, f, q)
    for _ in range(max(1, order // 2)):
        x = lfilter(b, a, x)
    return x


def band_pass(x: np.ndarray, lo: float, hi: float, order: int = 2) -> np.ndarray:
    """Band-pass between ``lo`` and ``hi`` Hz (a high-pass and a low-pass)."""
    return filt(filt(x, "high", lo, order=order), "low", min(hi, 0.45 * SR), order=order)


def smooth(x: np.ndarray, tau: float) -> np.ndarray:
    """One-pole low-pass with time constant ``tau`` seconds (click-free envelopes)."""
    a = math.exp(-1.0 / max(tau * SR, 1e-9))
    return lfilter([1.0 - a], [1.0, -a], x)


def _pole_pair(f: float, bw: float) -> np.ndarray:
    """Denominator ``[3]`` of a two-pole resonance at ``f`` Hz with bandwidth ``bw`` Hz."""
    r = math.exp(-math.pi * bw / SR)
    return np.array([1.0, -2.0 * r * math.cos(2.0 * math.pi * min(f, 0.48 * SR) / SR), r * r])


def formants(x: np.ndarray, freqs: tuple[float, ...], bws: tuple[float, ...]) -> np.ndarray:
    """Cascade of two-pole resonators with unity DC gain each (Klatt-style vocal tract)."""
    a = np.array([1.0])
    gain = 1.0
    for f, bw in zip(freqs, bws):
        p = _pole_pair(f, bw)
        a = np.convolve(a, p)
        gain *= p.sum()
    return lfilter([gain], a, x)


def resonances(x: np.ndarray, freqs: np.ndarray, bws: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Parallel bank of two-pole resonators normalised to unit peak gain."""
    out = np.zeros_like(x)
    for f, bw, g in zip(freqs, bws, gains):
        p = _pole_pair(f, bw)
        out += g * lfilter([1.0 - p[2]], p, x)
    return out


# ---------------------------------------------------------------------------- noise and levels
def coloured_noise(
    rng: np.random.Generator, n: int, exponent: float, sample_rate: int = SR, zero_mean: bool = False
) -> np.ndarray:
    """Stationary Gaussian noise with power spectrum ``~ f ** -exponent`` (0 white, 1 pink,
    2 brown, -1 blue), unit RMS, float64 ``[n]``.

    Content below 20 Hz is removed so brown noise does not turn into a slow drift.
    ``zero_mean`` also subtracts the mean before the RMS normalisation (the corpus's
    stationary backgrounds); the synthesizer's noise floors and textures skip it. One-sample
    requests are cut from a two-sample rendering (an FFT needs two).
    """
    m = max(n, 2)
    spectrum = np.fft.rfft(rng.standard_normal(m))
    freqs = np.fft.rfftfreq(m, 1.0 / sample_rate)
    shaping = np.zeros_like(freqs)
    audible = freqs >= 20.0
    shaping[audible] = freqs[audible] ** (-exponent / 2.0)
    x = np.fft.irfft(spectrum * shaping, m)[:n]
    if zero_mean:
        x = x - x.mean()
    return x / max(float(np.sqrt(np.mean(x**2))), 1e-12)


def rms(x: np.ndarray) -> float:
    """Root mean square of ``x`` (0 for an empty array)."""
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def unit(x: np.ndarray) -> np.ndarray:
    """Scaled to unit RMS (unchanged if silent), so mixing gains are relative levels."""
    r = rms(x)
    return x / r if r > 1e-12 else x


def peak_unit(x: np.ndarray, crest: float) -> np.ndarray:
    """Unit RMS, but scaled down so that the peak is at most ``crest``: sparse impulsive
    layers (drops, crackles) then stay within the crest factor the limiter allows."""
    x = unit(x)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return x * min(1.0, crest / peak) if peak > 0 else x


def room(rng: np.random.Generator, x: np.ndarray, rt60: float, wet: float) -> np.ndarray:
    """Add a diffuse room tail (exponentially decaying low-passed noise impulse response,
    ``rt60`` s) at ``wet`` times the dry RMS; also softens the crest factor of impacts."""
    t = np.arange(int(min(rt60, 0.6) * SR)) / SR
    ir = filt(rng.standard_normal(t.size), "low", rng.uniform(2500, 6000)) * np.exp(-6.9 * t / rt60)
    ir[: int(0.004 * SR)] = 0.0  # first reflections arrive a few ms after the direct sound
    return x + wet * rms(x) * unit(fftconvolve(x, ir)[: x.size])


# ---------------------------------------------------------------------------- envelopes
def slow_curve(rng: np.random.Generator, n: int, rate: float, lo: float, hi: float, fs: float = SR) -> np.ndarray:
    """Smooth random curve ``[n]`` (sampled at ``fs``) in [lo, hi]: uniform random knots
    ``rate`` per second, cosine-interpolated."""
    k = int(n / fs * rate) + 3
    knots = rng.uniform(lo, hi, k)
    pos = np.arange(n) / fs * rate + rng.uniform(0, 1)
    i = np.minimum(pos.astype(int), k - 2)
    frac = 0.5 - 0.5 * np.cos(np.pi * (pos - i))
    return knots[i] + (knots[i + 1] - knots[i]) * frac


def gate(since: np.ndarray, start: np.ndarray | float, stop: np.ndarray | float, tau: float) -> np.ndarray:
    """Smoothed 0/1 window ``start <= since < stop`` (samples), ``tau`` s edges."""
    return smooth(((since >= start) & (since < stop)).astype(float), tau)


# ---------------------------------------------------------------------------- impact kernels
def decay_kernel(t_len: float, tau: float) -> np.ndarray:
    """Exponential decay ``exp(-t / tau)`` over ``t_len`` s, float64 ``[t_len * SR]``."""
    t = np.arange(int(t_len * SR)) / SR
    return np.exp(-t / tau)


def damped_modes(rng: np.random.Generator, freqs, taus, gains, length: float) -> np.ndarray:
    """Sum of exponentially damped sinusoids (resonant impact), float64 [length*SR]."""
    t = np.arange(int(length * SR)) / SR
    out = np.zeros_like(t)
    for f, tau, g in zip(freqs, taus, gains):
        if f < NYQ_SAFE:
            out += g * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) * np.exp(-t / tau)
    return out


def noise_burst(rng: np.random.Generator, length: float, tau: float, lo: float, hi: float) -> np.ndarray:
    """Band-passed (``lo``..``hi`` Hz) noise decaying with ``tau`` s, float64 ``[length * SR]``."""
    k = band_pass(rng.standard_normal(int(length * SR)), lo, hi)
    return k * decay_kernel(length, tau)


# ---------------------------------------------------------------------------- finishing
def finalize(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Finish a generator's float64 ``[n]`` output into float32 ``[n]``: a pink noise floor
    45 dB below the sound (so that no sound is ever silent), 5 ms raised-cosine fades,
    demeaning, a soft-knee (tanh) limiter only where the crest factor would push the peak
    above 0.9, and RMS normalisation to ``TARGET_RMS`` (0.1)."""
    x = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    n = x.size
    x = x + max(rms(x), 1e-6) * 10 ** (-45 / 20) * coloured_noise(rng, n, 1.0)
    fade = min(int(0.005 * SR), n // 4)
    if fade > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
        x[:fade] *= ramp
        x[n - fade :] *= ramp[::-1]
    for _ in range(20):
        x = x - x.mean()
        x = x * (TARGET_RMS / rms(x))
        if np.max(np.abs(x)) <= _PEAK_MAX:
            break
        # Impulsive sound: soft-clip only what exceeds the knee; the rest stays linear.
        knee, ceiling = 0.6, 0.85
        mag = np.abs(x)
        over = mag > knee
        x[over] = np.sign(x[over]) * (knee + (ceiling - knee) * np.tanh((mag[over] - knee) / (ceiling - knee)))
    x = x - x.mean()
    return (x * (TARGET_RMS / rms(x))).astype(np.float32)

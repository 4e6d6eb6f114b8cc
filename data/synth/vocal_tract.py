"""Voice primitives of the stimulus synthesizer: a glottal-like source, aspiration noise and
formant (vowel) filters, shared by song, human and animal vocalisations and crowd babble."""

from __future__ import annotations

import numpy as np

from data.synth.dsp import filt, formants, smooth, unit
from data.synth.oscillator import glottal_amps, osc

__all__ = ["VOWELS", "aspiration", "voice_source", "vowel_filter", "vowel_mix"]

# Adult male formants F1-F4 (Hz, after Peterson & Barney); scaled per voice.
VOWELS = {
    "a": (730, 1090, 2440, 3400),
    "ae": (660, 1720, 2410, 3400),
    "e": (530, 1840, 2480, 3500),
    "i": (270, 2290, 3010, 3700),
    "o": (570, 840, 2410, 3300),
    "u": (300, 870, 2240, 3300),
    "er": (490, 1350, 1690, 3300),
}
_BW = (80.0, 100.0, 140.0, 220.0)  # formant bandwidths (Hz)


def vowel_filter(x: np.ndarray, vowel: str, scale: float, bw_scale: float = 1.0) -> np.ndarray:
    """``x`` through the formants of ``vowel`` (a key of :data:`VOWELS`), frequencies times
    ``scale`` (vocal-tract size) and bandwidths times ``bw_scale``."""
    return formants(x, tuple(f * scale for f in VOWELS[vowel]), tuple(b * bw_scale for b in _BW))


def vowel_mix(x: np.ndarray, vowels: list[str], weights: np.ndarray, scale: float, bw_scale: float = 1.0):
    """Time-varying vowel: each vowel's filter output weighted by ``weights[v]`` ([V, n],
    smooth), so vowel changes are cross-fades without filter-state clicks."""
    out = np.zeros_like(x)
    for v, w in zip(vowels, weights):
        if np.any(w > 1e-4):
            out += w * vowel_filter(x, v, scale, bw_scale)
    return out


def voice_source(rng: np.random.Generator, f0: np.ndarray, tilt: float, jitter: float = 0.0) -> np.ndarray:
    """Glottal-like harmonic source following ``f0`` with optional f0 jitter (fraction)."""
    if jitter > 0:
        f0 = f0 * (1.0 + jitter * smooth(rng.standard_normal(f0.size), 0.004) * 8.0)
    pos = f0[f0 > 0]
    return osc(np.maximum(f0, 0.0), glottal_amps(float(pos.min()) if pos.size else 100.0, tilt, rng))


def aspiration(rng: np.random.Generator, n: int) -> np.ndarray:
    """Breath noise: white noise high-passed at 800 Hz, unit RMS, float64 ``[n]``."""
    return unit(filt(rng.standard_normal(n), "high", 800.0))

"""Band-limited wavetable oscillators and control-rate tracks of the stimulus synthesizer.

A periodic sound is one period of a harmonic spectrum (a 4096-point wavetable) read at a
per-sample f0 track with linear interpolation, which is ~10x cheaper than summing
sinusoids; harmonics above :data:`data.synth.dsp.NYQ_SAFE` at the highest f0 are left out.
"""

from __future__ import annotations

import numpy as np

from data.audio import SAMPLE_RATE as SR
from data.synth.dsp import NYQ_SAFE

__all__ = ["DEC", "glottal_amps", "n_harmonics", "osc", "table_lookup", "table_phase", "to_audio_rate", "wavetable"]

_TABLE = 4096
DEC = 8  # control-rate decimation for envelopes and f0 tracks (0.4 ms steps, smoothed later)


def wavetable(amps: np.ndarray, f0_max: float, phases: np.ndarray | None = None) -> np.ndarray:
    """One period (4096 points + wrap-around point) with harmonic k at amplitude
    ``amps[k-1]`` (sine phase by default); harmonics that would pass 0.45 * SR at
    ``f0_max`` are dropped so the oscillator stays band-limited."""
    k = np.arange(1, len(amps) + 1)
    keep = k * max(f0_max, 1.0) < NYQ_SAFE
    ph = np.full(len(amps), -np.pi / 2) if phases is None else phases
    spec = np.zeros(_TABLE // 2 + 1, dtype=complex)
    spec[1 : len(amps) + 1] = np.where(keep, amps, 0.0) * np.exp(1j * ph)
    table = np.fft.irfft(spec, _TABLE) * (_TABLE / 2)
    return np.append(table, table[0])


def table_phase(f0: np.ndarray, phase0: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Wavetable read position (integer part, fraction) for an f0 track in Hz ``[n]``."""
    cyc = np.cumsum(f0) / SR + phase0
    pos = (cyc - np.floor(cyc)) * _TABLE
    i = pos.astype(np.int64)
    return i, pos - i


def table_lookup(table: np.ndarray, i: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """Linear interpolation in ``table`` at positions ``i + frac`` (both ``[n]``)."""
    lo = table[i]
    return lo + frac * (table[i + 1] - lo)


def osc(f0: np.ndarray, amps: np.ndarray, phases: np.ndarray | None = None, phase0: float = 0.0) -> np.ndarray:
    """Band-limited periodic waveform ``[n]`` following ``f0`` (Hz, ``[n]``); harmonic k
    has amplitude ``amps[k-1]``."""
    f0 = np.asarray(f0, dtype=float)
    return table_lookup(wavetable(amps, float(f0.max()), phases), *table_phase(f0, phase0))


def to_audio_rate(x: np.ndarray, n: int) -> np.ndarray:
    """Control-rate signal (SR / DEC) back to the audio rate ``[n]`` (sample-and-hold)."""
    return np.repeat(x, DEC)[:n]


def n_harmonics(f0_min: float) -> int:
    """How many harmonics of ``f0_min`` Hz stay below NYQ_SAFE (at most 400)."""
    return int(min(NYQ_SAFE / max(f0_min, 20.0), 400))


def glottal_amps(f0_min: float, tilt: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Harmonic amplitudes k**-tilt of a voice source (tilt 1 = -6 dB/octave after lip
    radiation), with slight random ripple so voices differ."""
    k = np.arange(1, n_harmonics(f0_min) + 1)
    amps = k ** (-tilt)
    if rng is not None:
        amps = amps * rng.uniform(0.8, 1.2, k.size)
    return amps

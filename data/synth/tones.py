"""Tonal signals of the stimulus synthesizer: sirens, alarms, an insect's buzz and a cricket.

Periodic sources (band-limited wavetable oscillators, :mod:`data.synth.oscillator`, or
sinusoids) with pitch contours and on/off patterns.
"""

from __future__ import annotations

import math

import numpy as np

from data.audio import SAMPLE_RATE as SR
from data.synth import dsp
from data.synth.oscillator import glottal_amps, osc
from data.synth.parts import Generator, Parts, f0_median
from data.synth.timing import burst_times, onset_rate, regular_times, segments

__all__ = ["GENERATORS"]


def _siren(rng: np.random.Generator, n: int) -> Parts:
    """A siren: wail (slow rise, faster fall), yelp (fast sweeps) or hi-lo (two alternating tones)."""
    t = np.arange(n) / SR
    kind = str(rng.choice(["wail", "yelp", "hilo"]))
    f_lo = rng.uniform(500, 800)
    if kind == "hilo":
        half = rng.uniform(0.4, 0.7)
        ph = rng.uniform(0, 1)
        hi = ((t / half + ph) % 2) >= 1
        f0 = dsp.smooth(np.where(hi, f_lo * rng.uniform(1.2, 1.4), f_lo), 0.01)
        events = (np.arange(0, n / SR / half + 2) - ph) * half
        rate = onset_rate(events, n)
    else:
        period = rng.uniform(3, 6) if kind == "wail" else rng.uniform(0.25, 0.4)
        span = rng.uniform(1.6, 2.2) if kind == "wail" else rng.uniform(1.4, 1.8)
        u = (t / period + rng.uniform(0, 1)) % 1.0
        if kind == "wail":  # slow rise, faster fall
            shape = np.where(u < 0.6, u / 0.6, 1 - (u - 0.6) / 0.4)
        else:
            shape = 0.5 - 0.5 * np.cos(2 * np.pi * u)
        f0 = f_lo * span**shape
        rate = 1.0 / period
    if rng.random() < 0.5:
        amps = np.array([1.0, 0.1, 0.05, 0.02])  # mechanical: nearly sinusoidal
    else:
        amps = np.array([1.0 / k if k % 2 else 0.0 for k in range(1, 12)])  # electronic square-ish
    out = osc(f0, amps) * dsp.slow_curve(rng, n, 0.5, 0.8, 1.0)
    return Parts(out, 1.0, float(np.median(f0)), 0.95, rate, {"variant": kind})


def _alarm(rng: np.random.Generator, n: int) -> Parts:
    """An alarm: beeps of one or two alternating tones (sine or square-ish), in groups."""
    f = math.exp(rng.uniform(math.log(500), math.log(3500)))
    on = burst_times(rng, n, (0.0, 0.1), (1, 4), (0.1, 0.4), (0.3, 1.0))
    idx, since = segments(n, (on * SR).astype(np.int64))
    length = rng.uniform(0.45, 0.75) * np.diff(np.append(on, on[-1] + 0.3)).min() * SR
    env = dsp.gate(since, 0, length, 0.002) * (idx >= 0)
    two = rng.random() < 0.25
    f0 = np.where(two & (np.maximum(idx, 0) % 2 == 1), f * 1.25, f)
    amps = np.array([1.0]) if rng.random() < 0.5 else np.array([1.0 / k if k % 2 else 0.0 for k in range(1, 10)])
    out = env * osc(f0 * np.ones(n), amps)
    return Parts(out, 1.0, f0_median(f0 * np.ones(n), env), 0.98, onset_rate(on, n), {})


def _insect_buzz(rng: np.random.Generator, n: int) -> Parts:
    """An insect's buzz: a harmonic tone (wing beat) with slow pitch and level drifts."""
    f_base = rng.uniform(150, 250) if rng.random() < 0.7 else rng.uniform(400, 650)
    f0 = f_base * dsp.slow_curve(rng, n, rng.uniform(1, 3), 0.94, 1.06)
    am = dsp.slow_curve(rng, n, rng.uniform(0.5, 2), 0.3, 1.0)
    buzz = osc(f0, glottal_amps(f0.min(), rng.uniform(0.9, 1.3), rng)[:30])
    out = am * (dsp.unit(buzz) + 0.1 * dsp.unit(rng.standard_normal(n)))
    return Parts(out, 1.0, float(np.median(f0)), 0.9, 0.0, {})


def _cricket(rng: np.random.Generator, n: int) -> Parts:
    """A cricket: pulses of a 3-5.5 kHz tone, as a continuous trill or in chirps of 3-6 pulses."""
    t = np.arange(n) / SR
    carrier = rng.uniform(3000, 5500)
    prate = rng.uniform(20, 40)
    trill = rng.random() < 0.3
    if trill:
        pulses = regular_times(rng, n, 1.0 / prate, 0.01, rng.uniform(0, 0.05))
    else:
        chirps = regular_times(rng, n, 1.0 / rng.uniform(1.5, 4), 0.05, rng.uniform(0, 0.2))
        k = int(rng.integers(3, 7))
        pulses = np.sort((chirps[:, None] + np.arange(k)[None, :] / prate).ravel())
    idx, since = segments(n, (pulses * SR).astype(np.int64))
    d = 0.5 / prate * SR
    env = np.where(since < d, np.sin(np.pi * np.clip(since / d, 0, 1)) ** 2, 0.0)
    f = carrier * (1 + 0.01 * np.sin(2 * np.pi * prate * t))
    cyc = 2 * np.pi * np.cumsum(f) / SR
    out = env * (np.sin(cyc) + 0.05 * np.sin(2 * cyc)) + 0.005 * dsp.coloured_noise(rng, n, 1.0)
    return Parts(out, 1.0, carrier, 0.95, onset_rate(pulses, n), {"pattern": "trill" if trill else "chirp"})


GENERATORS: dict[str, Generator] = {
    "siren": _siren,
    "alarm": _alarm,
    "insect_buzz": _insect_buzz,
    "cricket": _cricket,
}

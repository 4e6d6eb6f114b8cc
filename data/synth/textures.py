"""Textures of the stimulus synthesizer: rain, wind, streams, thunder, fire, waves, engines,
drills and traffic.

Coloured noise (:func:`data.synth.dsp.coloured_noise`) through resonant filters with slowly
varying gains, plus scattered grains (drops, bubbles, crackles) or harmonic motor tones.
"""

from __future__ import annotations

import math

import numpy as np

from data.audio import SAMPLE_RATE as SR
from data.synth import dsp
from data.synth.oscillator import glottal_amps, n_harmonics, osc
from data.synth.parts import Generator, Parts, f0_median
from data.synth.timing import burst_times, hits, onset_rate, poisson_times, segments

__all__ = ["GENERATORS"]


def _rain(rng: np.random.Generator, n: int) -> Parts:
    """Rain: a high-passed coloured-noise bed plus Poisson drops (damped sinusoids)."""
    rate = rng.uniform(80, 600)
    on = poisson_times(rng, n, rate)
    bed = dsp.filt(dsp.coloured_noise(rng, n, rng.uniform(0.5, 1.0)), "high", rng.uniform(200, 600))
    drops = np.zeros(n)
    groups = rng.integers(0, 6, on.size)
    for g in range(6):
        f = rng.uniform(1500, 6000)
        kern = dsp.damped_modes(rng, [f], [rng.uniform(0.001, 0.004)], [1.0], 0.02)
        kern[:40] += 0.3 * rng.standard_normal(40)
        sel = on[groups == g]
        drops += hits(n, (sel * SR).astype(np.int64), rng.lognormal(0, 0.8, sel.size), kern)
    out = dsp.unit(bed) * rng.uniform(0.5, 1.0) + dsp.peak_unit(drops, 5.0)
    return Parts(out, 0.0, 0.0, 0.0, onset_rate(on, n), {})


def _wind(rng: np.random.Generator, n: int) -> Parts:
    """Wind: pink noise through three resonant band-passes with slowly varying gains, and gusts."""
    t = np.arange(n) / SR
    noise = dsp.coloured_noise(rng, n, 1.0)
    out = np.zeros(n)
    for _ in range(3):
        fc = math.exp(rng.uniform(math.log(200), math.log(1500)))
        band = dsp.filt(noise, "band", fc, q=rng.uniform(0.7, 1.5))
        out += dsp.slow_curve(rng, n, rng.uniform(0.3, 1.0), 0.05, 1.0) * dsp.unit(band)
    gusts = poisson_times(rng, n, rng.uniform(0.3, 1.2), -0.5)
    width = rng.uniform(0.4, 1.2)
    env = 0.3 + sum(np.exp(-0.5 * ((t - g) / (width / 2.5)) ** 2) for g in gusts)
    return Parts(out * env, 0.0, 0.0, 0.0, onset_rate(gusts, n), {})


def _stream(rng: np.random.Generator, n: int) -> Parts:
    """A stream: Poisson bubbles (rising-pitch damped sinusoids) over a low-passed noise bed."""
    rate = rng.uniform(40, 200)
    on = poisson_times(rng, n, rate)
    m = on.size
    length = 0.05
    tt = np.arange(int(length * SR)) / SR
    f0 = np.exp(rng.uniform(math.log(400), math.log(2500), m))[:, None]
    tau = rng.uniform(0.003, 0.012, m)[:, None]
    rise = rng.uniform(0.1, 0.5, m)[:, None]
    f = f0 * (1 + rise * tt[None, :] / tau)
    grains = np.sin(2 * np.pi * np.cumsum(f, axis=1) / SR) * np.exp(-tt[None, :] / tau)
    grains *= rng.lognormal(0, 0.5, m)[:, None]
    bubbles = np.zeros(n + tt.size)
    for s, g in zip((on * SR).astype(np.int64), grains):
        bubbles[s : s + tt.size] += g
    bed = dsp.filt(rng.standard_normal(n), "low", rng.uniform(500, 1500))
    out = dsp.unit(bubbles[:n]) + rng.uniform(0.3, 0.8) * dsp.unit(bed)
    return Parts(out, 0.0, 0.0, 0.2, onset_rate(on, n), {})


def _thunder(rng: np.random.Generator, n: int) -> Parts:
    """Thunder: a low rumble swelling and rolling off, often after a crack."""
    t = np.arange(n) / SR
    crack = rng.random() < 0.7
    t0 = rng.uniform(0.0, 0.3) * n / SR
    rumble = dsp.filt(dsp.coloured_noise(rng, n, 2.0), "low", rng.uniform(80, 250), order=4)
    rolling = dsp.band_pass(rng.standard_normal(n), 200, 800) * dsp.slow_curve(rng, n, 6, 0.2, 1.0)
    swells = t0 + np.cumsum(rng.uniform(0.05, 0.6, 4))
    env = sum(rng.uniform(0.5, 1.0) * np.exp(-0.5 * ((t - s) / rng.uniform(0.15, 0.5)) ** 2) for s in swells)
    tail = np.exp(-np.maximum(t - t0, 0.0) / rng.uniform(1.0, 3.0)) * dsp.gate(t * SR, t0 * SR, n, 0.05)
    env = env + tail
    out = env * (dsp.unit(rumble) + 0.3 * dsp.unit(rolling))
    on = [t0]
    if crack:
        burst = dsp.noise_burst(rng, 0.4, rng.uniform(0.05, 0.15), 300, 8000)
        out += 1.5 * hits(n, [int(t0 * SR)], [1.0], burst / dsp.rms(burst) * 0.5)
    return Parts(out, 0.0, 0.0, 0.0, onset_rate(np.array(on), n), {"crack": str(crack)})


def _fire(rng: np.random.Generator, n: int) -> Parts:
    """Fire: a low roar and hiss with clusters of crackles."""
    rumble = dsp.filt(dsp.coloured_noise(rng, n, 2.0), "low", rng.uniform(300, 600)) * dsp.slow_curve(
        rng, n, 4, 0.4, 1.0
    )
    hiss = dsp.filt(rng.standard_normal(n), "high", 3000)
    clusters = poisson_times(rng, n, rng.uniform(2, 6))
    cl = np.concatenate([c + np.sort(rng.uniform(0, 0.03, rng.integers(1, 7))) for c in clusters] + [np.zeros(0)])
    on = np.sort(np.concatenate([cl, poisson_times(rng, n, rng.uniform(5, 20))]))
    kern = dsp.noise_burst(rng, 0.01, rng.uniform(0.0005, 0.002), rng.uniform(1000, 3000), 9000)
    kern += dsp.damped_modes(rng, [rng.uniform(2000, 5000)], [0.002], [0.5], 0.01)
    gains = np.minimum(rng.pareto(2.5, on.size) + 0.3, 3.0)
    crackles = hits(n, (on * SR).astype(np.int64), gains, kern)
    out = dsp.unit(rumble) + 0.05 * dsp.unit(hiss) + rng.uniform(0.6, 1.2) * dsp.peak_unit(crackles, 5.0)
    return Parts(out, 0.0, 0.0, 0.0, onset_rate(on, n), {})


def _waves(rng: np.random.Generator, n: int) -> Parts:
    """Sea waves: swells of dark noise with bright noise at each crash, every 5-10 s."""
    t = np.arange(n) / SR
    period = rng.uniform(5, 10)
    phase = rng.uniform(0, 1)
    u = (t / period + phase) % 1.0
    crash = 0.35
    swell = np.where(u < crash, (u / crash) ** 2, np.exp(-(u - crash) / 0.25))
    env = 0.2 + swell
    dark = dsp.filt(dsp.coloured_noise(rng, n, 1.5), "low", 500)
    bright = dsp.filt(rng.standard_normal(n), "high", 1500)
    out = env * dsp.unit(dark) + 0.6 * swell**2 * dsp.unit(bright)
    crashes = (np.arange(-1, n / SR / period + 2) + crash - phase) * period
    return Parts(out, 0.0, 0.0, 0.0, onset_rate(crashes, n), {})


def _engine(rng: np.random.Generator, n: int) -> Parts:
    """An idling or revving engine: a harmonic motor tone (firing rate) plus firing-modulated noise."""
    f_base = rng.uniform(20, 110)
    f0 = f_base * dsp.slow_curve(rng, n, rng.uniform(0.3, 1.0), 0.8, 1.25)
    k = np.arange(1, n_harmonics(f0.min()) + 1)
    amps = k ** -rng.uniform(0.6, 1.2) * rng.lognormal(0, 0.5, k.size)
    tone = osc(f0, amps)
    firing = 1 + 0.5 * np.sin(2 * np.pi * np.cumsum(f0) / SR)
    noise = dsp.filt(rng.standard_normal(n), "low", rng.uniform(500, 2000)) * firing
    g = rng.uniform(0.3, 0.6)
    out = dsp.unit(tone) + g * dsp.unit(noise)
    return Parts(out, 1.0, float(np.median(f0)), 1 / (1 + g**2), 0.0, {})


def _drill(rng: np.random.Generator, n: int) -> Parts:
    """A power drill: spin-up, gear-mesh whine and noise, in runs."""
    motor = rng.uniform(100, 300)
    length = rng.uniform(0.4, 1.5)
    runs = burst_times(rng, n, (0.0, 0.1), (1, 1), (0, 0), (length + 0.2, length + 0.5))
    idx, since = segments(n, (runs * SR).astype(np.int64))
    length *= SR
    spin = np.clip(since / (rng.uniform(0.1, 0.2) * SR), 0, 1) * (since < length)
    spin = dsp.smooth(spin * (idx >= 0), 0.08)
    load = dsp.slow_curve(rng, n, rng.uniform(2, 6), 0.85, 1.0)
    f0 = motor * (0.3 + 0.7 * spin) * load
    k = np.arange(1, n_harmonics(motor * 0.3) + 1)
    mesh = int(rng.integers(8, 20))
    amps = k**-0.7 + 2.0 * np.exp(-0.5 * ((k - mesh) / 0.7) ** 2)
    whine = osc(f0, amps[: n_harmonics(motor)])
    noise = dsp.band_pass(rng.standard_normal(n), 1000, 6000)
    g = rng.uniform(0.3, 0.6)
    out = spin * (dsp.unit(whine) + g * dsp.unit(noise))
    return Parts(out, 0.8, f0_median(f0, spin), 0.8 / (1 + g**2), onset_rate(runs, n), {})


def _traffic(rng: np.random.Generator, n: int) -> Parts:
    """Traffic: passing vehicles (engine tone with Doppler shift plus tyre noise) over a low rumble."""
    t = np.arange(n) / SR
    passes = poisson_times(rng, n, rng.uniform(0.5, 1.5), -0.5)
    passes = np.append(passes, rng.uniform(0, n / SR))  # at least one vehicle
    tyre = dsp.band_pass(rng.standard_normal(n + SR), 300, 2500)
    out = np.zeros(n)
    f0s = []
    for tc in passes:
        d, v = rng.uniform(3, 15), rng.uniform(8, 25)
        x = v * (t - tc)
        r = np.sqrt(d * d + x * x)
        doppler = 1.0 / (1.0 + v * x / r / 343.0)
        f0 = rng.uniform(25, 80)
        engine = osc(f0 * doppler, glottal_amps(f0 * 0.9, 1.0, rng)[:30])
        shift = int(rng.integers(0, SR))
        out += (d / r) * (0.5 * dsp.unit(engine) + dsp.unit(tyre[shift : shift + n]))
        f0s.append(f0)
    bed = dsp.filt(dsp.coloured_noise(rng, n, 2.0), "low", 400)
    out = out + 0.3 * dsp.unit(bed)
    return Parts(out, 0.3, float(np.median(f0s)), 0.3, onset_rate(passes, n), {"vehicles": str(passes.size)})


GENERATORS: dict[str, Generator] = {
    "rain": _rain,
    "wind": _wind,
    "stream": _stream,
    "thunder": _thunder,
    "fire": _fire,
    "waves": _waves,
    "engine": _engine,
    "drill": _drill,
    "traffic": _traffic,
}

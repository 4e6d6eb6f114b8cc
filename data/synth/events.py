"""Impact and contact sounds of the stimulus synthesizer: steps, claps, typing, knocks, wing
flaps, scratching, hooves, doors and bells.

Impulse schedules (:mod:`data.synth.timing`) are convolved with damped-resonance or
noise-burst kernels, or excite resonator banks; indoor ones get a short diffuse room tail
(:func:`data.synth.dsp.room`), which also softens their crest factor.
"""

from __future__ import annotations

import numpy as np

from data.audio import SAMPLE_RATE as SR
from data.synth import dsp
from data.synth.parts import Generator, Parts
from data.synth.timing import burst_times, hits, impulses, onset_rate, regular_times, segments

__all__ = ["GENERATORS"]


def _footsteps(rng: np.random.Generator, n: int) -> Parts:
    """Footsteps, walking or running: heel thump plus toe click per step, alternating feet, in a room."""
    run = rng.random() < 0.3
    on = regular_times(rng, n, rng.uniform(0.28, 0.38) if run else rng.uniform(0.45, 0.65), 0.04, rng.uniform(0, 0.2))
    hard = rng.uniform(0, 1)  # 0 soft/gravel, 1 hard floor
    out = np.zeros(n)
    for foot in (0, 1):
        heel = dsp.damped_modes(rng, [rng.uniform(60, 120)], [rng.uniform(0.015, 0.03)], [1.0], 0.15)
        heel += 0.6 * dsp.noise_burst(rng, 0.15, rng.uniform(0.01, 0.02), 60, rng.uniform(300, 800))
        click = dsp.noise_burst(rng, 0.1, 0.004 + 0.02 * (1 - hard), 1000, 6000)
        delay = int(rng.uniform(0.03, 0.08) * SR)
        kern = np.concatenate([heel, np.zeros(delay)])
        kern[delay : delay + click.size] += (0.3 + 0.3 * hard) * click[: kern.size - delay]
        mine = on[foot::2]
        out += hits(n, (mine * SR).astype(np.int64), rng.uniform(0.75, 1.0, mine.size), kern)
    out = dsp.room(rng, out, rng.uniform(0.2, 0.6), rng.uniform(0.2, 0.5))
    return Parts(out, 0.0, 0.0, 0.05, onset_rate(on, n), {"gait": "run" if run else "walk"})


def _clapping(rng: np.random.Generator, n: int) -> Parts:
    """Hand claps of 1-3 people, each at its own rate, in a room."""
    people = int(rng.choice([1, 1, 2, 3]))
    out, allon = np.zeros(n), []
    for _ in range(people):
        on = regular_times(rng, n, 1.0 / rng.uniform(2, 5), 0.05, rng.uniform(0, 0.2))
        fc = rng.uniform(800, 2500)
        kern = dsp.noise_burst(rng, 0.08, rng.uniform(0.008, 0.02), fc / 1.6, fc * 1.6)
        out += rng.uniform(0.6, 1.0) * hits(n, (on * SR).astype(np.int64), rng.uniform(0.7, 1.0, on.size), kern)
        allon.append(on)
    out = dsp.room(rng, out, rng.uniform(0.3, 1.0), rng.uniform(0.4, 0.8))
    return Parts(out, 0.0, 0.0, 0.0, onset_rate(np.concatenate(allon), n), {"people": str(people)})


def _typing(rng: np.random.Generator, n: int) -> Parts:
    """Typing: key clicks and releases at gamma-distributed intervals, the space bar lower, in a room."""
    mean = rng.uniform(0.1, 0.2)
    gaps = rng.gamma(2.0, mean / 2.0, int(n / SR / mean * 2) + 4)
    gaps = gaps + (rng.random(gaps.size) < 0.08) * rng.uniform(0.3, 0.6, gaps.size)
    on = rng.uniform(0, 0.1) + np.concatenate([[0.0], np.cumsum(gaps)])
    on = on[on < n / SR]
    space = rng.random(on.size) < 0.15
    out = np.zeros(n)
    for mask, lo, hi, g in ((~space, 2000, 6000, 1.0), (space, 500, 1500, 1.4)):
        freqs = rng.uniform(lo, hi, 3)
        kern = dsp.damped_modes(rng, freqs, rng.uniform(0.002, 0.006, 3), [1, 0.6, 0.4], 0.05)
        kern += 0.3 * dsp.noise_burst(rng, 0.05, 0.012, 300, 3000)  # plastic rattle
        t = on[mask]
        out += g * hits(n, (t * SR).astype(np.int64), rng.uniform(0.6, 1.0, t.size), kern)
        rel = t + rng.uniform(0.05, 0.1, t.size)  # key release
        out += 0.35 * g * hits(n, (rel * SR).astype(np.int64), rng.uniform(0.6, 1.0, t.size), kern)
    out = dsp.room(rng, out, rng.uniform(0.2, 0.5), rng.uniform(0.3, 0.6))
    return Parts(out, 0.0, 0.0, 0.05, onset_rate(on, n), {})


def _knocking(rng: np.random.Generator, n: int) -> Parts:
    """Knocks on a door: groups of 2-5 resonant wooden hits, in a room."""
    on = burst_times(rng, n, (0.0, 0.15), (2, 5), (0.12, 0.22), (0.6, 1.4))
    kern = dsp.damped_modes(rng, rng.uniform(80, 400, 4), rng.uniform(0.02, 0.06, 4), rng.uniform(0.3, 1.0, 4), 0.3)
    kern += dsp.damped_modes(rng, [rng.uniform(800, 1500)], [0.005], [0.5], 0.3)
    kern[:400] += 0.3 * dsp.noise_burst(rng, 0.02, 0.002, 1500, 8000)
    out = hits(n, (on * SR).astype(np.int64), rng.uniform(0.7, 1.0, on.size), kern)
    out = dsp.room(rng, out, rng.uniform(0.3, 0.8), rng.uniform(0.3, 0.6))
    return Parts(out, 0.0, 0.0, 0.2, onset_rate(on, n), {})


def _wing_flaps(rng: np.random.Generator, n: int) -> Parts:
    """Wing flaps: band-passed noise pulsed at the flap rate, in bouts."""
    rate = rng.uniform(5, 15)
    length = rng.uniform(0.4, 1.5)
    bouts = burst_times(rng, n, (0.0, 0.1), (1, 1), (0, 0), (length + 0.1, length + 0.5))
    idx, since = segments(n, (bouts * SR).astype(np.int64))
    active = dsp.gate(since, 0, length * SR, 0.03) * (idx >= 0)
    flap = np.abs(np.sin(np.pi * rate * since / SR)) ** rng.uniform(2, 4)
    noise = dsp.band_pass(rng.standard_normal(n), 150, rng.uniform(800, 3000))
    out = active * flap * noise
    flaps = np.concatenate([b + np.arange(int(length * rate)) / rate for b in bouts])
    return Parts(out, 0.0, 0.0, 0.0, onset_rate(flaps, n), {})


def _scratching(rng: np.random.Generator, n: int) -> Parts:
    """Scratching: rough high-passed noise strokes at 3-8 per second."""
    on = regular_times(rng, n, 1.0 / rng.uniform(3, 8), 0.2, rng.uniform(0, 0.1))
    idx, since = segments(n, (on * SR).astype(np.int64))
    d = rng.uniform(0.05, 0.2) * SR
    stroke = np.where(since < d, np.sin(np.pi * np.clip(since / d, 0, 1)), 0.0)
    stick = np.abs(dsp.filt(rng.standard_normal(n), "low", rng.uniform(100, 300)))
    out = stroke * dsp.unit(stick) * dsp.filt(rng.standard_normal(n), "high", rng.uniform(1500, 4000), order=4)
    return Parts(out, 0.0, 0.0, 0.0, onset_rate(on, n), {})


def _hooves(rng: np.random.Generator, n: int) -> Parts:
    """Hooves: gallop (three beats then a suspension) or trot (two beats) on a hard ground."""
    gallop = rng.random() < 0.6
    stride = rng.uniform(0.35, 0.55) if gallop else rng.uniform(0.5, 0.7)
    strides = regular_times(rng, n, stride, 0.03, rng.uniform(0, 0.15))
    if gallop:  # three beats close together, then the suspension
        offs = np.array([0.0, rng.uniform(0.07, 0.1), rng.uniform(0.14, 0.2)])
    else:
        offs = np.array([0.0, stride / 2])
    on = np.sort((strides[:, None] + offs[None, :]).ravel())
    kern = dsp.damped_modes(rng, [rng.uniform(80, 150)], [rng.uniform(0.015, 0.03)], [1.0], 0.12)
    kern += 0.5 * dsp.noise_burst(rng, 0.12, 0.003, 1000, 4000)
    out = hits(n, (on * SR).astype(np.int64), rng.uniform(0.6, 1.0, on.size), kern)
    return Parts(out, 0.0, 0.0, 0.1, onset_rate(on, n), {"gait": "gallop" if gallop else "trot"})


def _door(rng: np.random.Generator, n: int) -> Parts:
    """A door: usually a creak (a stick-slip pulse train through resonances), then a slam and the latch."""
    t = np.arange(n) / SR
    creak = rng.random() < 0.8
    t0 = rng.uniform(0.0, 0.15)
    out = np.zeros(n)
    events = [t0]
    f0_med, frac = 0.0, 0.0
    slam_t = t0
    if creak:
        length = rng.uniform(0.3, 1.0)
        rate_c = dsp.slow_curve(rng, n, rng.uniform(1, 4), 30, 200)
        cyc = np.cumsum(rate_c) / SR
        pulses = np.flatnonzero(np.diff(np.floor(cyc), prepend=0.0) > 0)
        env = dsp.gate(t * SR, t0 * SR, (t0 + length) * SR, 0.05)
        exc = impulses(n, pulses, rng.uniform(0.5, 1.0, pulses.size)) * env
        fr = rng.uniform(500, 2500, 3)
        out += dsp.unit(dsp.resonances(exc, fr, rng.uniform(50, 150, 3), np.array([1.0, 0.7, 0.5])))
        f0_med, frac = float(np.median(rate_c[env > 0.5])) if np.any(env > 0.5) else float(rate_c[0]), 0.8
        slam_t = t0 + length + rng.uniform(0.05, 0.3)
        events.append(slam_t)
    kern = dsp.damped_modes(rng, rng.uniform(60, 150, 2), rng.uniform(0.06, 0.15, 2), [1.0, 0.7], 0.6)
    kern += dsp.damped_modes(rng, rng.uniform(200, 600, 3), rng.uniform(0.02, 0.04, 3), [0.5, 0.4, 0.3], 0.6)
    kern[:300] += 0.3 * dsp.noise_burst(rng, 0.015, 0.002, 1000, 8000)
    latch = dsp.damped_modes(rng, rng.uniform(2000, 4000, 2), [0.004, 0.003], [1.0, 0.5], 0.03)
    slam_on = [int(slam_t * SR)]
    latch_on = [int((slam_t + rng.uniform(0.02, 0.05)) * SR)]
    out += 3.0 * hits(n, slam_on, [1.0], kern) + 0.6 * hits(n, latch_on, [1.0], latch)
    if not creak:
        events.append(slam_t + 0.03)
    out = dsp.room(rng, out, rng.uniform(0.3, 0.8), rng.uniform(0.2, 0.5))
    pitched = frac * length / (length + 0.3) if creak else 0.0
    return Parts(out, pitched, f0_med, 0.2, onset_rate(np.array(events), n), {"creak": str(creak)})


def _bells(rng: np.random.Generator, n: int) -> Parts:
    """Bells: a church bell or two (minor-third partials) or a two-note chime, struck repeatedly."""
    church = rng.random() < 0.6
    if church:
        bells = [rng.uniform(200, 500)] + ([rng.uniform(150, 400)] if rng.random() < 0.5 else [])
        ratios, decays = (0.5, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0), rng.uniform(1.0, 4.0)
    else:
        top = rng.uniform(600, 1000)
        bells = [top, top / rng.choice([1.26, 1.33, 1.5])]
        ratios, decays = (1.0, 2.76, 5.4), rng.uniform(0.6, 1.5)
    ioi = rng.uniform(0.4, 1.2)
    strikes = regular_times(rng, n, ioi, 0.03, rng.uniform(0, 0.1))
    out = np.zeros(n)
    for b, f in enumerate(bells):
        # Each partial is a resonator (damped sinusoid) excited by the strikes.
        taus = decays / (1 + 0.4 * np.arange(len(ratios)))
        amps = rng.uniform(0.4, 1.0, len(ratios)) / (1 + 0.2 * np.arange(len(ratios)))
        mine = strikes[b :: len(bells)]
        exc = impulses(n, (mine * SR).astype(np.int64), rng.uniform(0.8, 1.0, mine.size))
        freqs = np.array(ratios) * f
        keep = freqs < dsp.NYQ_SAFE
        out += dsp.resonances(exc, freqs[keep], 1.0 / (np.pi * taus[keep]), amps[keep])
    # Strike pitch: the prime (church bell) or the fundamental (chime), median over strikes.
    struck = [bells[i % len(bells)] for i in range(len(strikes))] or bells[:1]
    info = {"bell": "church" if church else "chime"}
    return Parts(out, 0.7, float(np.median(struck)), 0.4, onset_rate(strikes, n), info)


GENERATORS: dict[str, Generator] = {
    "footsteps": _footsteps,
    "clapping": _clapping,
    "typing": _typing,
    "knocking": _knocking,
    "wing_flaps": _wing_flaps,
    "scratching": _scratching,
    "hooves": _hooves,
    "door": _door,
    "bells": _bells,
}

"""Instrumental music of the stimulus synthesizer: melodic instruments and a drum kit.

A melodic instrument plays a random-walk melody in a random key and tempo (:func:`compose`),
optionally over a chord progression. Each line is a band-limited wavetable oscillator
(harmonic amplitudes per instrument) following a per-sample f0 track, with per-note
envelopes (plucked/struck: exponential decay, brighter layer decaying faster; sustained:
attack/release, vibrato). Mallets use inharmonic partials; drums are kick/snare/hi-hat
kernels on a 16-step grid. :func:`compose`, :func:`note_line` and :func:`onsets_of` also
serve the sung melodies of :mod:`data.synth.voices`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from data.audio import SAMPLE_RATE as SR
from data.synth import dsp
from data.synth.oscillator import DEC, table_lookup, table_phase, to_audio_rate, wavetable
from data.synth.parts import Generator, Parts, f0_median
from data.synth.timing import hits, onset_rate, segments

__all__ = ["GENERATORS", "Notes", "compose", "note_line", "onsets_of"]

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
# MIDI range of the melody per melodic instrument.
_RANGES = {
    "piano": (60, 84),
    "guitar": (50, 74),
    "mallet": (62, 88),
    "strings": (55, 84),
    "organ": (55, 79),
    "flute": (60, 91),
}


def _hz(midi: np.ndarray | float) -> np.ndarray | float:
    """Equal-tempered frequency (Hz) of a MIDI note number (69 = A4 = 440 Hz)."""
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=float) - 69.0) / 12.0)


@dataclass
class Notes:
    """A monophonic line: onsets and gate lengths (samples), f0 (Hz), velocity (0 = rest)."""

    onsets: np.ndarray
    gates: np.ndarray
    f0: np.ndarray
    vel: np.ndarray


def compose(
    rng: np.random.Generator, n: int, lo: int, hi: int, beat: float, beats: tuple[float, ...], rest: float
) -> tuple[Notes, list[Notes]]:
    """Random-walk melody in a random major/minor key within MIDI [lo, hi] (note lengths
    drawn from ``beats`` x ``beat`` s, rests with probability ``rest``), plus a chord
    progression (one triad per 4-beat bar). Returns (melody, the three chord-tone lines)."""
    tonic = int(rng.integers(0, 12))
    mode = _MAJOR if rng.random() < 0.6 else _MINOR
    scale = np.array([m for m in range(lo, hi + 1) if (m - tonic) % 12 in mode])
    pos = int(rng.integers(len(scale) // 4, max(3 * len(scale) // 4, len(scale) // 4 + 1)))
    total = n / SR
    t = rng.uniform(0.0, 0.15)
    on, dur, mid, vel = [], [], [], []
    while t < total:
        d = float(rng.choice(beats)) * beat
        pos = int(np.clip(pos + rng.choice([-3, -2, -1, -1, 0, 1, 1, 2, 3]), 0, len(scale) - 1))
        on.append(t)
        dur.append(d)
        mid.append(scale[pos])
        vel.append(0.0 if (rng.random() < rest and len(on) > 1) else rng.uniform(0.6, 1.0))
        t += d
    melody = Notes(
        (np.array(on) * SR).astype(np.int64),
        (np.array(dur) * SR).astype(np.int64),
        np.asarray(_hz(np.array(mid))),
        np.array(vel),
    )
    # Triads on scale degrees I, IV, V, vi (minor: i, iv, v, VI) in the octave below lo.
    degrees = rng.choice([0, 3, 4, 5, 0, 4], size=int(total / (4 * beat)) + 2)
    base = tonic + 12 * ((lo - 12 - tonic) // 12)
    bar_on = np.arange(len(degrees)) * 4 * beat + on[0]
    chord_lines = []
    for voice in range(3):
        deg = degrees + 2 * voice
        midis = base + np.array([mode[d % 7] + 12 * (d // 7) for d in deg])
        chord_lines.append(
            Notes(
                (bar_on * SR).astype(np.int64),
                np.full(len(deg), int(4 * beat * SR)),
                np.asarray(_hz(midis)),
                rng.uniform(0.4, 0.6, len(deg)),
            )
        )
    return melody, chord_lines


def _split(notes: Notes, voices: int) -> list[Notes]:
    """Round-robin the notes over ``voices`` lines so that decaying notes can ring on."""
    if voices <= 1:
        return [notes]
    out = []
    for v in range(voices):
        s = slice(v, None, voices)
        out.append(Notes(notes.onsets[s], notes.gates[s], notes.f0[s], notes.vel[s]))
    return out


def note_line(
    rng: np.random.Generator,
    n: int,
    notes: Notes,
    layers: list[tuple[np.ndarray, float]],
    attack: float,
    release: float,
    vibrato: tuple[float, float] = (0.0, 0.0),
    glide: float = 0.0,
    partials: list[tuple[float, float, float]] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render a monophonic note line.

    ``layers``: (harmonic amplitudes, decay time constant s; inf = sustained); or
    ``partials``: (frequency ratio, amplitude, decay s) for inharmonic instruments.
    ``vibrato``: (rate Hz, depth as a fraction of f0), fading in over 0.25 s.
    Envelopes and f0 are computed at the control rate (SR / 8) and smoothed.
    Returns (audio [n], f0 track [n] Hz, gate envelope [n])."""
    if notes.onsets.size == 0:  # e.g. the second voice of a one-note line
        return np.zeros(n), np.zeros(n), np.zeros(n)
    m = -(-n // DEC)
    idx, since = segments(m, notes.onsets // DEC)
    since = since * DEC
    j = np.maximum(idx, 0)
    f0 = notes.f0[j]
    if glide > 0:
        f0 = dsp.smooth(f0 - f0[0], glide / DEC) + f0[0]
    t_on = since / SR
    rate, depth = vibrato
    if depth > 0:
        t = np.arange(m) * (DEC / SR)
        f0 = f0 * (1.0 + depth * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)) * (1 - np.exp(-t_on / 0.25)))
    vel = np.where(idx >= 0, notes.vel[j], 0.0)
    over = np.maximum(since - notes.gates[j], 0) / (release * SR)
    base = vel * (1.0 - np.exp(-t_on / attack)) * np.exp(-over)
    f0_full = to_audio_rate(f0, n)
    out = np.zeros(n)
    if partials is None:
        i, frac = table_phase(f0_full)
        for amps, tau in layers:
            env = base if math.isinf(tau) else base * np.exp(-t_on / tau)
            out += table_lookup(wavetable(amps, float(f0.max())), i, frac) * dsp.smooth(to_audio_rate(env, n), 0.002)
    else:
        cyc = 2 * np.pi * np.cumsum(f0_full) / SR
        for ratio, amp, tau in partials:
            if ratio * float(f0.max()) < dsp.NYQ_SAFE:
                out += amp * np.sin(ratio * cyc) * dsp.smooth(to_audio_rate(base * np.exp(-t_on / tau), n), 0.001)
    return out, f0_full, to_audio_rate(base, n)


def onsets_of(lines: list[Notes], n: int) -> float:
    """The ``onset_rate`` latent of note lines: distinct sounding-note onsets per second."""
    times = np.unique(np.concatenate([ln.onsets[ln.vel > 0] for ln in lines])) / SR
    return onset_rate(times, n)


def _instrument(rng: np.random.Generator, n: int, sub: str) -> Parts:
    """One melodic instrument ``sub`` (a key of ``_RANGES``): melody, optional chords."""
    beat = 60.0 / rng.uniform(70, 150)
    lo, hi = _RANGES[sub]
    beats = (0.5, 0.5, 1.0) if sub in ("guitar", "mallet") else (0.5, 1.0, 1.0, 2.0)
    melody, chords = compose(rng, n, lo, hi, beat, beats, rest=0.0 if sub == "guitar" else 0.1)
    use_chords = sub in ("piano", "strings", "organ") and rng.random() < 0.75
    k = np.arange(1, 61)
    out = np.zeros(n)
    info: dict[str, str] = {}
    harm = 0.95
    if sub == "piano":
        tau = rng.uniform(0.6, 1.6)
        layers = [(k[:20] ** -1.3 * rng.uniform(0.7, 1.3, 20), tau * 0.25), (k[:8] ** -2.5, tau)]
        mel = [note_line(rng, n, ln, layers, 0.002, 0.08) for ln in _split(melody, 2)]
        harm = 0.9
    elif sub == "guitar":
        tau, beta = rng.uniform(0.4, 1.2), rng.uniform(0.1, 0.3)
        pluck = np.abs(np.sin(np.pi * k[:30] * beta)) / k[:30] ** 1.1
        layers = [(pluck, tau * 0.3), (k[:6] ** -2.0, tau)]
        mel = [note_line(rng, n, ln, layers, 0.001, 0.05) for ln in _split(melody, 3)]
        harm = 0.9
    elif sub == "mallet":
        kind = str(rng.choice(["marimba", "vibraphone", "glockenspiel"]))
        ratios = {"marimba": (1, 3.93, 9.54), "vibraphone": (1, 4.0, 10.0), "glockenspiel": (1, 2.76, 5.40, 8.93)}[kind]
        tau = rng.uniform(0.3, 1.2)
        partials = [(r, 1.0 / (1 + 1.5 * i), tau / (1 + 2 * i)) for i, r in enumerate(ratios)]
        mel = [note_line(rng, n, ln, [], 0.001, 0.1, partials=partials) for ln in _split(melody, 2)]
        info["instrument"] = kind
        harm = 0.5
    elif sub == "strings":
        layers = [(k[:40] ** -1.0 * rng.uniform(0.6, 1.4, 40), math.inf)]  # bowed: sawtooth-like
        vib = (rng.uniform(5.0, 6.5), rng.uniform(0.005, 0.015))
        mel = [note_line(rng, n, melody, layers, rng.uniform(0.05, 0.15), 0.15, vib, glide=0.02)]
    elif sub == "organ":
        stops = np.zeros(16)
        stops[[0, 1, 2, 3, 5, 7, 9, 11, 15]] = rng.uniform(0, 1, 9) ** 2
        stops[0] = 1.0
        layers = [(stops, math.inf)]
        mel = [note_line(rng, n, melody, layers, 0.01, 0.05)]
        harm = 1.0
    else:  # flute
        amps = np.array([1.0, *rng.uniform(0.1, 0.4, 1), *rng.uniform(0.03, 0.15, 2), 0.03, 0.02])
        vib = (rng.uniform(4.5, 6.0), rng.uniform(0.004, 0.012))
        mel = [note_line(rng, n, melody, [(amps, math.inf)], rng.uniform(0.03, 0.08), 0.08, vib, glide=0.015)]
    for wave, _, _ in mel:
        out += wave
    if sub == "flute":
        env = dsp.smooth(mel[0][2], 0.01)
        breath = rng.uniform(0.05, 0.15)
        out = dsp.unit(out) + breath * env * dsp.unit(dsp.band_pass(rng.standard_normal(n), 1000, 6000))
        harm = 1.0 / (1.0 + breath**2 * 3.0)
    lines = [melody]
    if use_chords:
        sustained = sub in ("strings", "organ")
        if sustained:
            clayers = layers
        else:
            clayers = [(k[:12] ** -1.6, rng.uniform(0.8, 2.0))]
        acc = sum(note_line(rng, n, c, clayers, 0.05 if sustained else 0.003, 0.15)[0] for c in chords)
        out = dsp.unit(out) + rng.uniform(0.3, 0.6) * dsp.unit(acc)
        lines += chords
    f0_track = np.concatenate([m[1] for m in mel])
    env = np.concatenate([m[2] for m in mel])
    info["chords"] = str(use_chords)
    return Parts(out, 1.0, f0_median(f0_track, env), harm, onsets_of(lines, n), info)


def _drums(rng: np.random.Generator, n: int) -> Parts:
    """A drum-kit pattern: kick, snare and hi-hat kernels on a 16-step grid."""
    step = 60.0 / rng.uniform(80, 150) / 4  # sixteenth notes
    steps = int(n / SR / step) + 1
    s = np.arange(steps)
    offset = rng.uniform(0, 0.1)
    kick = (s % 16 == 0) | (s % 16 == 8) | ((s % 2 == 0) & (rng.random(steps) < 0.12))
    snare = (s % 16 == 4) | (s % 16 == 12) | (rng.random(steps) < 0.04)
    hat = (s % 2 == 0) if rng.random() < 0.6 else np.ones(steps, bool)
    hat = hat & (rng.random(steps) < 0.95)
    t = np.arange(int(0.45 * SR)) / SR
    f_end = rng.uniform(45, 65)
    f_kick = f_end + rng.uniform(80, 150) * np.exp(-t / rng.uniform(0.02, 0.05))
    k_kick = np.sin(2 * np.pi * np.cumsum(f_kick) / SR) * np.exp(-t / rng.uniform(0.12, 0.3))
    k_snare = 0.8 * dsp.noise_burst(rng, 0.3, rng.uniform(0.06, 0.15), 800, 7000)
    k_snare += 0.4 * np.sin(2 * np.pi * rng.uniform(170, 230) * t[: k_snare.size]) * dsp.decay_kernel(0.3, 0.05)
    k_hat = 0.5 * dsp.noise_burst(rng, 0.15, rng.uniform(0.015, 0.06), 6000, 9500)
    out = np.zeros(n)
    times = []
    for mask, kern, g in ((kick, k_kick, 1.0), (snare, k_snare, 0.8), (hat, k_hat, 0.35)):
        on = offset + s[mask] * step
        times.append(on)
        out += hits(n, (on * SR).astype(np.int64), g * rng.uniform(0.7, 1.0, on.size), kern)
    times_all = np.unique(np.round(np.concatenate(times), 4))
    return Parts(out, 0.0, 0.0, 0.15, onset_rate(times_all, n))


GENERATORS: dict[str, Generator] = {
    **{sub: functools.partial(_instrument, sub=sub) for sub in _RANGES},
    "drums": _drums,
}

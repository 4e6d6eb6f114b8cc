"""Voices of the stimulus synthesizer: song, human and animal vocalisations, crowd babble.

A glottal-like harmonic source (spectral tilt, jitter, vibrato) plus aspiration noise is
filtered by cascaded formant resonators (F1-F4, :mod:`data.synth.vocal_tract`); vowel
changes are cross-fades between vowel filters. Sung melodies come from
:func:`data.synth.music.compose`.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.signal import lfilter

from data.audio import SAMPLE_RATE as SR
from data.synth import dsp
from data.synth.music import Notes, compose, note_line, onsets_of
from data.synth.parts import Generator, Parts, f0_median
from data.synth.timing import burst_times, hits, onset_rate, regular_times, segments
from data.synth.vocal_tract import VOWELS, aspiration, voice_source, vowel_filter, vowel_mix

__all__ = ["GENERATORS"]


# ---------------------------------------------------------------------------- song
def _song(rng: np.random.Generator, n: int, accompanied: bool) -> Parts:
    """A sung melody (female or male voice, three vowels, consonant bursts at some onsets),
    ``accompanied`` by sparse plucked chords or solo."""
    female = rng.random() < 0.5
    lo, hi = (57, 74) if female else (45, 62)
    beat = 60.0 / rng.uniform(70, 140)
    melody, chords = compose(rng, n, lo, hi, beat, (0.5, 1.0, 1.0, 1.5), rest=0.08)
    melody.gates = (melody.gates * rng.uniform(0.85, 1.0, melody.gates.size)).astype(np.int64)
    vib = (rng.uniform(4.8, 6.5), rng.uniform(0.01, 0.025))
    idx, _ = segments(n, melody.onsets)
    _, f0, env = note_line(rng, n, melody, [], rng.uniform(0.03, 0.07), 0.08, vib, glide=rng.uniform(0.02, 0.05))
    env = dsp.smooth(env, 0.005)
    source = voice_source(rng, f0, rng.uniform(0.9, 1.4), jitter=0.003)
    breath = rng.uniform(0.03, 0.12)
    x = env * (dsp.unit(source) + breath * aspiration(rng, n))
    vowels = [str(v) for v in rng.choice(list(VOWELS), size=3, replace=False)]
    choice = rng.integers(0, 3, melody.onsets.size)
    weights = np.stack([dsp.smooth((choice[np.maximum(idx, 0)] == v).astype(float), 0.03) for v in range(3)])
    scale = rng.uniform(1.1, 1.25) if female else rng.uniform(0.95, 1.1)
    voice = vowel_mix(x, vowels, weights, scale)
    # Consonants: short fricative or plosive bursts at some note onsets.
    cons_on = melody.onsets[(melody.vel > 0) & (rng.random(melody.onsets.size) < 0.5)]
    kern = dsp.noise_burst(rng, 0.06, rng.uniform(0.008, 0.025), 2500, 8000)
    voice = dsp.unit(voice) + 0.5 * hits(
        n, cons_on, rng.uniform(0.5, 1.0, cons_on.size), kern / max(dsp.rms(kern), 1e-9)
    )
    out = dsp.unit(voice)
    lines = [melody]
    harm = 1.0 / (1.0 + breath**2 + 0.05)
    if accompanied:
        k = np.arange(1, 13)
        acc_lines = []
        for c in chords:  # sparse plucked/piano chords on the first and third beats
            sub_on = np.concatenate([c.onsets, c.onsets + int(2 * beat * SR)])
            order = np.argsort(sub_on)
            acc_lines.append(
                Notes(
                    sub_on[order],
                    np.full(sub_on.size, int(beat * SR)),
                    np.tile(c.f0, 2)[order],
                    np.tile(c.vel, 2)[order],
                )
            )
        acc = sum(note_line(rng, n, c, [(k**-1.5, rng.uniform(0.5, 1.2))], 0.002, 0.1)[0] for c in acc_lines)
        out = out + 10 ** (-rng.uniform(6, 12) / 20) * dsp.unit(acc)
        lines += acc_lines
        harm *= 0.95
    info = {"voice": "female" if female else "male", "vowels": ",".join(vowels)}
    return Parts(out, 1.0, f0_median(f0, env), harm, onsets_of(lines, n), info)


# ---------------------------------------------------------------------------- human vocalisations
def _talker(rng: np.random.Generator) -> tuple[float, float, dict[str, str]]:
    """The human vocaliser, drawn first by every human vocalisation: female or male at even
    odds; returns (formant scale, base f0 Hz, ``{"voice": "female" | "male"}``)."""
    female = rng.random() < 0.5
    scale = rng.uniform(1.1, 1.25) if female else rng.uniform(0.95, 1.1)
    base_f0 = rng.uniform(190, 300) if female else rng.uniform(100, 160)
    return scale, base_f0, {"voice": "female" if female else "male"}


def _laugh(rng: np.random.Generator, n: int) -> Parts:
    """Laughter: bursts of breathy then voiced 'ha' syllables with falling pitch, in groups."""
    scale, base_f0, info = _talker(rng)
    on = burst_times(rng, n, (0.0, 0.1), (4, 9), (0.13, 0.2), (0.4, 0.8))
    idx, since = segments(n, (on * SR).astype(np.int64))
    j = np.maximum(idx, 0)
    h = rng.uniform(0.015, 0.04, on.size + 1)[j] * SR
    v = rng.uniform(0.05, 0.09, on.size + 1)[j] * SR
    amp = rng.uniform(0.6, 1.0, on.size + 1)[j]
    f0 = base_f0 * 1.6 * (1.0 - 0.3 * np.minimum(since / SR / 0.12, 1)) * rng.uniform(0.9, 1.1, on.size + 1)[j]
    f0 = np.where(idx >= 0, f0, base_f0)
    voiced = amp * dsp.gate(since, h, h + v, 0.006)
    breathy = amp * dsp.gate(since, 0, h + v, 0.004) * np.where(since < h, 1.0, 0.3)
    x = voiced * dsp.unit(voice_source(rng, f0, 1.1, 0.01)) + 0.6 * breathy * aspiration(rng, n)
    out = vowel_filter(x, str(rng.choice(["a", "ae", "e"])), scale)
    frac = float(np.mean(v / (h + v)))
    return Parts(out, frac, f0_median(f0, voiced), 0.8 * frac, onset_rate(on, n), info)


def _wail(rng: np.random.Generator, n: int, cry: bool) -> Parts:
    """A child's cry (``cry``) or an adult's scream: long voiced phrases with an arched pitch
    contour, rough (irregular) voicing and breathy inhalations in the gaps."""
    scale, _, info = _talker(rng)
    phrase = (0.4, 1.2) if cry else (0.6, 1.4)
    gap = (0.1, 0.35) if cry else (0.2, 0.5)
    t, times, lens = rng.uniform(0.0, 0.1), [], []
    while t < n / SR:
        d = rng.uniform(*phrase)
        times.append(t)
        lens.append(d)
        t += d + rng.uniform(*gap)
    on = np.array(times)
    idx, since = segments(n, (on * SR).astype(np.int64))
    j = np.maximum(idx, 0)
    length = np.array(lens)[j] * SR
    u = np.clip(since / length, 0, 1)
    f_lo = rng.uniform(300, 500) if cry else rng.uniform(500, 900)
    peak = rng.uniform(1.2, 1.5, on.size)[j]
    f0 = f_lo * (1 + (peak - 1) * np.sin(np.pi * u) ** 0.7)
    env = dsp.gate(since, 0, length, 0.03)
    rough = 1.0 + rng.uniform(0.1, 0.35) * dsp.slow_curve(rng, n, rng.uniform(30, 70), -1, 1)
    src = voice_source(rng, f0, rng.uniform(0.7, 0.95), jitter=0.01 if cry else 0.02)
    gap_env = dsp.gate(since, length, length + 0.25 * SR, 0.03) * (idx >= 0)
    inhale = 0.15 * gap_env * aspiration(rng, n)
    x = env * rough * dsp.unit(src) + inhale
    vscale = rng.uniform(1.3, 1.5) if cry else scale * rng.uniform(1.05, 1.15)
    out = vowel_filter(x, str(rng.choice(["ae", "a"])), vscale, bw_scale=1.3)
    info["voice"] = "child" if cry else info["voice"]
    # Voiced phrases alternate with breathy inhalations (up to 0.25 s of each gap).
    frac = float(np.mean(lens) / (np.mean(lens) + min(0.25, float(np.mean(gap)))))
    return Parts(out, frac, f0_median(f0, env), 0.85 * frac, onset_rate(on, n), info)


def _cough(rng: np.random.Generator, n: int) -> Parts:
    """Coughs: noisy bursts with a little voicing and a decaying tail, in groups of 1-4."""
    scale, base_f0, info = _talker(rng)
    on = burst_times(rng, n, (0.0, 0.15), (1, 4), (0.28, 0.5), (0.7, 1.3))
    idx, since = segments(n, (on * SR).astype(np.int64))
    tail = rng.uniform(0.1, 0.25) * SR
    voiced_share = rng.uniform(0.15, 0.4)
    env = np.where(idx >= 0, np.exp(-since / tail), 0.0) * dsp.gate(since, 0, 2 * tail, 0.001)
    f0 = np.full(n, base_f0 * rng.uniform(0.8, 1.1))
    x = env * (voiced_share * dsp.unit(voice_source(rng, f0, 1.3, 0.05)) + dsp.unit(rng.standard_normal(n)))
    out = vowel_filter(x, str(rng.choice(["a", "e", "er"])), scale, bw_scale=1.5)
    burst = dsp.noise_burst(rng, 0.04, 0.01, 300, 8000)
    out = dsp.unit(out) + 0.8 * hits(n, (on * SR).astype(np.int64), np.ones(on.size), burst / dsp.rms(burst))
    harm = voiced_share**2 / (1 + voiced_share**2)
    return Parts(out, voiced_share, float(f0[0]), harm, onset_rate(on, n), info)


def _sneeze(rng: np.random.Generator, n: int) -> Parts:
    """A sneeze (sometimes two): a rising voiced 'ah' inhalation, then a fricative 'choo'."""
    scale, base_f0, info = _talker(rng)
    t0 = rng.uniform(0.0, 0.1)
    ah = rng.uniform(0.2, 0.45)
    choo_t = t0 + ah + rng.uniform(0.02, 0.08)
    on = np.array([t0, choo_t])
    if rng.random() < 0.5:
        second = choo_t + rng.uniform(0.8, 1.3)
        on = np.append(on, [second - ah, second])
    idx, since = segments(n, (on * SR).astype(np.int64))
    inhale = (idx >= 0) & (idx % 2 == 0)
    u = np.clip(since / (ah * SR), 0, 1)
    f0 = base_f0 * (1.0 + 0.6 * u)
    env_ah = np.where(inhale, u**1.5, 0.0) * dsp.gate(since, 0, ah * SR, 0.01)
    choo_tau = rng.uniform(0.08, 0.16) * SR
    env_choo = np.where((idx >= 0) & ~inhale, np.exp(-since / choo_tau), 0.0)
    env_choo = dsp.smooth(env_choo, 0.002)
    ah_sound = vowel_filter(env_ah * (dsp.unit(voice_source(rng, f0, 1.1)) + 0.5 * aspiration(rng, n)), "a", scale)
    choo = env_choo * dsp.unit(dsp.band_pass(rng.standard_normal(n), 1500, 8500, order=4))
    choo_v = vowel_filter(env_choo * dsp.unit(voice_source(rng, f0 * 0.9, 1.0)), "u", scale)
    out = 0.5 * dsp.unit(ah_sound) + 1.5 * choo + 0.3 * dsp.unit(choo_v)
    return Parts(out, 0.4, f0_median(f0, env_ah), 0.3, onset_rate(on, n), info)


# ---------------------------------------------------------------------------- animal vocalisations
def _dog_bark(rng: np.random.Generator, n: int) -> Parts:
    """Barks of a small to big dog: short harsh voiced bursts with falling pitch, in groups."""
    size = rng.uniform(0, 1)  # 0 small dog, 1 big dog
    on = burst_times(rng, n, (0.0, 0.15), (1, 3), (0.18, 0.3), (0.45, 1.0))
    idx, since = segments(n, (on * SR).astype(np.int64))
    f_start = 700 - 400 * size
    f0 = f_start * rng.uniform(0.9, 1.1) * (1 - 0.35 * np.minimum(since / SR / 0.15, 1))
    f0 = np.where(idx >= 0, f0, f_start)
    tau = (0.04 + 0.05 * size) * SR
    env = dsp.smooth(np.where(idx >= 0, np.exp(-since / tau), 0.0) * (since < 5 * tau), 0.004)
    noise_share = rng.uniform(0.3, 0.7)
    x = env * ((1 - noise_share) * dsp.unit(voice_source(rng, f0, 1.0, 0.02)) + noise_share * aspiration(rng, n))
    out = vowel_filter(x, "a", 1.3 - 0.4 * size, bw_scale=1.5)
    harm = (1 - noise_share) ** 2 / ((1 - noise_share) ** 2 + noise_share**2)
    return Parts(out, 1 - noise_share, f0_median(f0, env), harm, onset_rate(on, n), {})


def _bird_chirp(rng: np.random.Generator, n: int) -> Parts:
    """Bird chirps: pure-tone frequency sweeps in trills of 3-10."""
    on = burst_times(rng, n, (0.0, 0.15), (3, 10), (0.05, 0.12), (0.25, 0.7))
    idx, since = segments(n, (on * SR).astype(np.int64))
    j = np.maximum(idx, 0)
    d = rng.uniform(0.6, 0.9) * rng.uniform(0.04, 0.1) * SR
    f_a = rng.uniform(2000, 6000)
    ratio = rng.choice([0.5, 0.7, 1.4, 1.8])
    fa = f_a * rng.uniform(0.9, 1.1, on.size + 1)[j]
    f = fa * ratio ** np.clip(since / d, 0, 1)
    f = np.where(idx >= 0, np.minimum(f, 8000), f_a)
    env = np.where(since < d, np.sin(np.pi * np.clip(since / d, 0, 1)) ** 2, 0.0)
    env = env * rng.uniform(0.5, 1.0, on.size + 1)[j]
    cyc = 2 * np.pi * np.cumsum(f) / SR
    tone = np.sin(cyc) + 0.15 * np.where(2 * f < dsp.NYQ_SAFE, np.sin(2 * cyc), 0.0)
    out = env * tone + 0.01 * dsp.coloured_noise(rng, n, 1.0)
    return Parts(out, 1.0, f0_median(f, env), 0.9, onset_rate(on, n), {})


def _meow_or_moo(rng: np.random.Generator, n: int, cat: bool) -> Parts:
    """A cat's meow (``cat``: high, i-a-u) or a cow's moo (low, long, u-o-a): one voiced call
    with a rising-falling pitch and gliding vowels, repeated."""
    length = rng.uniform(0.4, 1.0) if cat else rng.uniform(1.0, 2.0)
    on = burst_times(rng, n, (0.0, 0.1), (1, 1), (0, 0), (length + 0.3, length + 0.8))
    idx, since = segments(n, (on * SR).astype(np.int64))
    u = np.clip(since / (length * SR), 0, 1)
    f_base = rng.uniform(450, 800) if cat else rng.uniform(90, 160)
    f0 = f_base * (1 + rng.uniform(0.2, 0.5) * np.sin(np.pi * u**0.7))
    env = dsp.gate(since, 0, length * SR, 0.04 if cat else 0.12) * (idx >= 0)
    src = dsp.unit(voice_source(rng, f0, 1.1 if cat else 1.3, 0.01)) + 0.08 * aspiration(rng, n)
    vowels = ["i", "a", "u"] if cat else ["u", "o", "a"]
    centres = (0.1, 0.45, 0.9) if cat else (0.0, 0.4, 0.8)
    weights = np.stack([np.exp(-0.5 * ((u - c) / 0.2) ** 2) for c in centres])
    weights /= weights.sum(0, keepdims=True)
    vscale = rng.uniform(1.3, 1.5) if cat else rng.uniform(0.75, 0.9)
    out = vowel_mix(env * src, vowels, weights, vscale)
    return Parts(out, 0.95, f0_median(f0, env), 0.9, onset_rate(on, n), {})


def _frog_croak(rng: np.random.Generator, n: int) -> Parts:
    """Frog croaks: pulsed voicing through two vocal-sac resonances, at a steady rate."""
    length = rng.uniform(0.08, 0.3)
    on = regular_times(rng, n, rng.uniform(0.3, 0.8), 0.1, rng.uniform(0, 0.1))
    idx, since = segments(n, (on * SR).astype(np.int64))
    f0 = np.full(n, rng.uniform(150, 500))
    pulse = 0.5 - 0.5 * np.cos(2 * np.pi * rng.uniform(15, 40) * since / SR)
    env = dsp.gate(since, 0, length * SR, 0.005) * (idx >= 0) * pulse
    x = env * dsp.unit(voice_source(rng, f0, 1.0, 0.01))
    freqs = np.array([rng.uniform(500, 1200), rng.uniform(1500, 2500)])  # vocal-sac resonances
    out = dsp.resonances(x, freqs, np.array([150.0, 250.0]), np.array([1.0, 0.5]))
    return Parts(out, 0.7, float(f0[0]), 0.7, onset_rate(on, n), {})


# ---------------------------------------------------------------------------- crowd
def _crowd(rng: np.random.Generator, n: int) -> Parts:
    """Crowd babble: 6-19 talkers' syllables over a low murmur."""
    talkers = int(rng.integers(6, 20))
    vowels = ["a", "e", "i", "o", "u"]
    exc = np.zeros((len(vowels), n))
    step = 0.01
    tc = np.arange(int(n / SR / step) + 2) * step
    f0s, syll = [], []
    for _ in range(talkers):
        female = rng.random() < 0.5
        f0m = rng.uniform(180, 260) if female else rng.uniform(95, 150)
        curve = f0m * dsp.slow_curve(rng, tc.size, 3, 0.85, 1.15, fs=1 / step)
        cyc = np.concatenate([[0.0], np.cumsum(curve[:-1]) * step]) + rng.uniform(0, 1)
        pulse_t = np.interp(np.arange(np.ceil(cyc[0]), cyc[-1]), cyc, tc)
        pulse_t = pulse_t[pulse_t < n / SR]
        on = regular_times(rng, n, 1.0 / rng.uniform(3, 6), 0.3, rng.uniform(-0.2, 0.2))
        idx = np.searchsorted(on, pulse_t, side="right") - 1
        since = pulse_t - on[np.maximum(idx, 0)]
        d = rng.uniform(0.1, 0.25)
        env = np.where((idx >= 0) & (since < d), np.sin(np.pi * np.clip(since / d, 0, 1)), 0.0)
        vow = rng.integers(0, len(vowels), on.size)[np.maximum(idx, 0)]
        np.add.at(exc, (vow, (pulse_t * SR).astype(np.int64)), env * rng.uniform(0.5, 1.0))
        f0s.append(f0m)
        syll.append(on)
    b, a = dsp.biquad("low", 400.0)
    glottal = np.diff(lfilter(b, a, exc, axis=1), axis=1, prepend=0.0)  # pulse shape + lip radiation
    out = sum(vowel_filter(glottal[v], vowels[v], 1.1) for v in range(len(vowels)))
    murmur = dsp.filt(dsp.coloured_noise(rng, n, 1.0), "low", 1000)
    out = dsp.unit(out) + 0.25 * dsp.unit(murmur)
    pitched = 0.7 * min(1.0, 2.0 / talkers)
    info = {"talkers": str(talkers)}
    return Parts(out, pitched, float(np.median(f0s)), 0.5, onset_rate(np.concatenate(syll), n), info)


GENERATORS: dict[str, Generator] = {
    "solo_voice": functools.partial(_song, accompanied=False),
    "voice_with_accompaniment": functools.partial(_song, accompanied=True),
    "laugh": _laugh,
    "cry": functools.partial(_wail, cry=True),
    "cough": _cough,
    "sneeze": _sneeze,
    "scream": functools.partial(_wail, cry=False),
    "dog_bark": _dog_bark,
    "bird_chirp": _bird_chirp,
    "cat_meow": functools.partial(_meow_or_moo, cat=True),
    "cow_moo": functools.partial(_meow_or_moo, cat=False),
    "frog_croak": _frog_croak,
    "crowd": _crowd,
}

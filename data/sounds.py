"""Procedural synthesizer of natural-sound-like stimuli with known latent labels.

Every sound belongs to one of the 11 categories of Norman-Haignere et al. (2015)
(:data:`CATEGORIES`) and to one of its subtypes (:data:`SUBTYPES`); the non-speech
subtypes are the audio-event classes (:data:`EVENT_CLASSES`). A sound is rendered from
``(category, subtype, seed)`` with vectorised numpy/scipy only; everything random is
drawn from ``np.random.default_rng`` seeded with a SHA-256 hash of
``"category|subtype|seed"``, so the same arguments always give bit-identical audio.

Example::

    s = synthesize("Music", seed=3, subtype="flute")
    s.waveform          # float32 [40000], 20 kHz, demeaned, RMS 0.1, peak < 1
    s.latents["f0"]     # median fundamental frequency of the melody, Hz
    synthesize_event("dog_bark", seed=0)

Generators (each draws pitch, rhythm, timbre, timing and levels from the seed)
------------------------------------------------------------------------------
* Melodic instruments: a random-walk melody in a random key and tempo, optionally over
  a chord progression. Each line is a band-limited wavetable oscillator (harmonic
  amplitudes per instrument) following a per-sample f0 track, with per-note envelopes
  (plucked/struck: exponential decay, brighter layer decaying faster; sustained:
  attack/release, vibrato). Mallets use inharmonic partials; drums are kick/snare/
  hi-hat kernels on a 16-step grid.
* Voices (song, laughs, cries, screams, coughs, sneezes, animal calls, crowd babble):
  a glottal-like harmonic source (spectral tilt, jitter, vibrato) plus aspiration noise,
  filtered by cascaded formant resonators (F1-F4); vowel changes are cross-fades
  between vowel filters.
* Impacts (footsteps, claps, typing, knocks, hooves, drums, rain drops, fire crackles,
  door slams, bells): impulse schedules convolved with damped-resonance / noise-burst
  kernels or exciting resonator banks; indoor ones get a short diffuse room tail.
* Textures (wind, rain, streams, waves, thunder, fire, engines, traffic): coloured
  noise through resonant filters with slowly varying gains, plus scattered grains
  (bubbles, drops, crackles) or harmonic motor tones.
* Speech: ``data.tts`` (espeak-ng). EngSpeech: English accents speaking random
  sentences made of the words in ``data/resources/*.txt``; ForSpeech: non-English
  espeak voices speaking hard-coded sentences of their language. Voice variant, pitch,
  rate and pitch range are random; sentences are concatenated and cut to length.

Every waveform finally gets a faint pink noise floor (45 dB below the sound, so that
no sound is ever silent), 5 ms fades, demeaning, a soft-knee (tanh) limiter only where
the crest factor would push the peak above 0.9 at RMS 0.1, and RMS normalisation to 0.1.
``SynthSound.info`` holds descriptive strings (e.g. the espeak voice and text of speech,
the siren pattern, the instrument of a mallet line).

Latents (floats, from the generator's own parameters)
-----------------------------------------------------
``speech``, ``english``, ``music``, ``song``, ``voice`` (a human voice is present:
speech, song, HumVoc, crowd), ``animal``, ``vocalisation`` (HumVoc, AniVoc, speech,
song): 0/1 flags. ``pitched``: fraction (0..1) of the sounding time with a clear
periodic pitch. ``f0``: median fundamental frequency (Hz) of the pitched part over the
time it sounds, 0 iff ``pitched == 0`` (for mixtures, the melody / typical voice or
motor f0). ``harmonicity``: 0..1, the harmonic share of the generator's power.
``onset_rate``: scheduled events (notes, syllables, steps, hits, drops, beeps...)
starting inside the clip, per second (0 for continuous sounds such as an engine).

Speech is the exception: espeak is a black box, so its ``f0`` and ``pitched`` (voiced
fraction of the frames within 35 dB of the loudest) come from an autocorrelation pitch
tracker run on espeak's output, and ``onset_rate`` counts the syllables of the words
espeak reports inside the clip (vowel groups; one per Han character, kana or Devanagari
akshara).
"""

from __future__ import annotations

import functools
import hashlib
import math
import numbers
import operator
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.signal import fftconvolve, lfilter

__all__ = [
    "CATEGORIES",
    "EVENT_CLASSES",
    "LATENT_KEYS",
    "MIN_DURATION",
    "SAMPLE_RATE",
    "SUBTYPES",
    "SynthSound",
    "synthesize",
    "synthesize_event",
]

SAMPLE_RATE = 20000
MIN_DURATION = 0.01  # seconds; shorter clips cannot hold even one 5 ms fade in and out
_MIN_RENDER = 0.5  # seconds; shorter clips are cut from a rendering this long (first events start <= 0.2 s)
_SR = SAMPLE_RATE
_TARGET_RMS = 0.1
_PEAK_MAX = 0.9  # the limiter keeps peaks below this at RMS 0.1 (crest factor < 19 dB)
_NYQ_SAFE = 0.45 * _SR  # highest partial frequency rendered, to stay clear of aliasing

CATEGORIES = (
    "Music",
    "Song",
    "EngSpeech",
    "ForSpeech",
    "HumVoc",
    "AniVoc",
    "HumNonVoc",
    "AniNonVoc",
    "Nature",
    "Mechanical",
    "EnvSound",
)

# Non-English espeak voice and five everyday sentences per language.
_FOREIGN: dict[str, tuple[str, tuple[str, ...]]] = {
    "german": (
        "de",
        (
            "Der Hund spielt im Garten mit dem roten Ball.",
            "Morgen fahren wir mit dem Zug nach Hamburg.",
            "Meine Schwester trinkt jeden Morgen einen Kaffee.",
            "Das Wetter ist heute wirklich schön.",
            "Kannst du mir bitte das Buch geben?",
        ),
    ),
    "french": (
        "fr",
        (
            "Le petit chat dort sur la chaise près de la fenêtre.",
            "Nous allons au marché tous les samedis matin.",
            "Il fait très beau aujourd'hui dans le jardin.",
            "Mon frère travaille dans une grande ville.",
            "Est-ce que tu veux du pain avec ton fromage?",
        ),
    ),
    "spanish": (
        "es",
        (
            "El perro corre por la playa todas las mañanas.",
            "Mañana vamos a visitar a mis abuelos.",
            "La casa de mi amigo tiene un jardín muy grande.",
            "Me gusta leer un libro antes de dormir.",
            "¿Dónde está la estación de tren?",
        ),
    ),
    "italian": (
        "it",
        (
            "Il gatto dorme sul divano tutto il giorno.",
            "Domani andiamo al mare con i bambini.",
            "La pizza di questo ristorante è buonissima.",
            "Mia madre lavora in una piccola libreria.",
            "Che ore sono adesso, per favore?",
        ),
    ),
    "portuguese": (
        "pt",
        (
            "O menino joga futebol no parque todos os dias.",
            "Amanhã vamos viajar para a praia.",
            "A minha avó faz um bolo muito gostoso.",
            "Eu gosto de ouvir música à noite.",
            "Onde fica a padaria mais próxima?",
        ),
    ),
    "dutch": (
        "nl",
        (
            "De kinderen spelen buiten in de tuin.",
            "Morgen gaan we met de fiets naar de stad.",
            "Mijn vader drinkt elke ochtend een kopje thee.",
            "Het regent vandaag de hele dag.",
            "Waar is het station, alstublieft?",
        ),
    ),
    "russian": (
        "ru",
        (
            "Мы гуляли в парке весь вечер.",
            "Завтра я поеду к бабушке в деревню.",
            "Моя сестра любит читать интересные книги.",
            "Сегодня на улице очень холодно.",
            "Где находится ближайшая станция метро?",
        ),
    ),
    "polish": (
        "pl",
        (
            "Dzisiaj rano padał deszcz.",
            "Mój brat mieszka w dużym mieście nad rzeką.",
            "Jutro pojedziemy pociągiem do Krakowa.",
            "Lubię pić herbatę z cytryną wieczorem.",
            "Gdzie jest najbliższy sklep?",
        ),
    ),
    "mandarin": (
        "cmn",
        (
            "今天天气很好，我们去公园散步吧。",
            "我的朋友明天要去北京。",
            "这本书非常有意思。",
            "妈妈在厨房里做饭。",
            "请问火车站在哪里？",
        ),
    ),
    "hindi": (
        "hi",
        (
            "मैं हर सुबह बाजार जाता हूँ।",
            "आज मौसम बहुत अच्छा है।",
            "मेरी बहन स्कूल में पढ़ाती है।",
            "कल हम दिल्ली जाएंगे।",
            "क्या आप मेरी मदद कर सकते हैं?",
        ),
    ),
}

SUBTYPES: dict[str, tuple[str, ...]] = {
    "Music": ("piano", "guitar", "mallet", "strings", "organ", "flute", "drums"),
    "Song": ("solo_voice", "voice_with_accompaniment"),
    "EngSpeech": ("english",),
    "ForSpeech": tuple(_FOREIGN),
    "HumVoc": ("laugh", "cry", "cough", "sneeze", "scream"),
    "AniVoc": ("dog_bark", "bird_chirp", "cat_meow", "cow_moo", "frog_croak"),
    "HumNonVoc": ("footsteps", "clapping", "typing", "knocking"),
    "AniNonVoc": ("wing_flaps", "scratching", "hooves", "insect_buzz", "cricket"),
    "Nature": ("rain", "wind", "stream", "thunder", "fire", "waves"),
    "Mechanical": ("engine", "siren", "alarm", "drill"),
    "EnvSound": ("crowd", "traffic", "door", "bells"),
}
_SPEECH_CATEGORIES = ("EngSpeech", "ForSpeech")
EVENT_CLASSES: tuple[str, ...] = tuple(s for c in CATEGORIES if c not in _SPEECH_CATEGORIES for s in SUBTYPES[c])
_CATEGORY_OF = {s: c for c, subs in SUBTYPES.items() for s in subs}

# Category-level 0/1 latents: speech, english, music, song, voice, animal, vocalisation.
_FLAG_KEYS = ("speech", "english", "music", "song", "voice", "animal", "vocalisation")
_FLAGS: dict[str, tuple[int, ...]] = {
    "Music": (0, 0, 1, 0, 0, 0, 0),
    "Song": (0, 0, 1, 1, 1, 0, 1),
    "EngSpeech": (1, 1, 0, 0, 1, 0, 1),
    "ForSpeech": (1, 0, 0, 0, 1, 0, 1),
    "HumVoc": (0, 0, 0, 0, 1, 0, 1),
    "AniVoc": (0, 0, 0, 0, 0, 1, 1),
    "HumNonVoc": (0, 0, 0, 0, 0, 0, 0),
    "AniNonVoc": (0, 0, 0, 0, 0, 1, 0),
    "Nature": (0, 0, 0, 0, 0, 0, 0),
    "Mechanical": (0, 0, 0, 0, 0, 0, 0),
    "EnvSound": (0, 0, 0, 0, 0, 0, 0),
}
_FLAG_OVERRIDES = {"crowd": {"voice": 1.0}}  # babble is made of voices

LATENT_KEYS = _FLAG_KEYS + ("pitched", "f0", "harmonicity", "onset_rate")


@dataclass(frozen=True, eq=False)
class SynthSound:
    """One synthesized sound.

    Attributes:
        waveform: float32 ``[n_samples]`` at :data:`SAMPLE_RATE` Hz, demeaned, RMS 0.1,
            peak < 1.
        category: one of :data:`CATEGORIES`.
        subtype: one of ``SUBTYPES[category]`` (the language for speech).
        latents: float labels (see the module docstring for the keys).
        info: free-form strings, e.g. ``{"voice": "en-us+m3", "text": "..."}`` for
            speech, ``{"variant": "wail"}`` for a siren.
    """

    waveform: np.ndarray
    category: str
    subtype: str
    latents: dict[str, float]
    info: dict[str, str] = field(default_factory=dict)


@dataclass
class _Parts:
    """What a generator returns: float64 ``[n]`` audio and its parameter-derived latents."""

    wave: np.ndarray
    pitched: float
    f0: float
    harmonicity: float
    onset_rate: float
    info: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------
# Small DSP helpers (all vectorised; lfilter biquads because scipy's butter() costs
# ~1 ms per design, more than the filtering itself)
# ---------------------------------------------------------------------------
def _hz(midi: np.ndarray | float) -> np.ndarray | float:
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=float) - 69.0) / 12.0)


def _biquad(kind: str, f: float, q: float = 0.7071) -> tuple[np.ndarray, np.ndarray]:
    """RBJ-cookbook biquad (lowpass/highpass/bandpass with 0 dB peak)."""
    f = min(max(f, 10.0), 0.49 * _SR)
    w = 2.0 * math.pi * f / _SR
    cw, alpha = math.cos(w), math.sin(w) / (2.0 * q)
    if kind == "low":
        b = np.array([(1 - cw) / 2, 1 - cw, (1 - cw) / 2])
    elif kind == "high":
        b = np.array([(1 + cw) / 2, -(1 + cw), (1 + cw) / 2])
    else:
        b = np.array([alpha, 0.0, -alpha])
    a = np.array([1 + alpha, -2 * cw, 1 - alpha])
    return b / a[0], a / a[0]


def _filt(x: np.ndarray, kind: str, f: float, q: float = 0.7071, order: int = 2) -> np.ndarray:
    """Biquad filter applied ``order // 2`` times (order 2, 4, ...)."""
    b, a = _biquad(kind, f, q)
    for _ in range(max(1, order // 2)):
        x = lfilter(b, a, x)
    return x


def _band(x: np.ndarray, lo: float, hi: float, order: int = 2) -> np.ndarray:
    """Band-pass between ``lo`` and ``hi`` Hz (a high-pass and a low-pass)."""
    return _filt(_filt(x, "high", lo, order=order), "low", min(hi, 0.45 * _SR), order=order)


def _smooth(x: np.ndarray, tau: float) -> np.ndarray:
    """One-pole low-pass with time constant ``tau`` seconds (click-free envelopes)."""
    a = math.exp(-1.0 / max(tau * _SR, 1e-9))
    return lfilter([1.0 - a], [1.0, -a], x)


def _pole_pair(f: float, bw: float) -> np.ndarray:
    r = math.exp(-math.pi * bw / _SR)
    return np.array([1.0, -2.0 * r * math.cos(2.0 * math.pi * min(f, 0.48 * _SR) / _SR), r * r])


def _formants(x: np.ndarray, freqs: tuple[float, ...], bws: tuple[float, ...]) -> np.ndarray:
    """Cascade of two-pole resonators with unity DC gain each (Klatt-style vocal tract)."""
    a = np.array([1.0])
    gain = 1.0
    for f, bw in zip(freqs, bws):
        p = _pole_pair(f, bw)
        a = np.convolve(a, p)
        gain *= p.sum()
    return lfilter([gain], a, x)


def _resonances(x: np.ndarray, freqs: np.ndarray, bws: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Parallel bank of two-pole resonators normalised to unit peak gain."""
    out = np.zeros_like(x)
    for f, bw, g in zip(freqs, bws, gains):
        p = _pole_pair(f, bw)
        out += g * lfilter([1.0 - p[2]], p, x)
    return out


def _coloured(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Gaussian noise with power ~ f**-exponent above 20 Hz, unit RMS, float64 [n]."""
    m = max(n, 2)
    spec = np.fft.rfft(rng.standard_normal(m))
    f = np.fft.rfftfreq(m, 1.0 / _SR)
    shape = np.zeros_like(f)
    shape[f >= 20.0] = f[f >= 20.0] ** (-exponent / 2.0)
    x = np.fft.irfft(spec * shape, m)[:n]
    return x / max(float(np.sqrt(np.mean(x**2))), 1e-12)


def _peak_unit(x: np.ndarray, crest: float) -> np.ndarray:
    """Unit RMS, but scaled down so that the peak is at most ``crest``: sparse impulsive
    layers (drops, crackles) then stay within the crest factor the limiter allows."""
    x = _unit(x)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return x * min(1.0, crest / peak) if peak > 0 else x


def _room(rng: np.random.Generator, x: np.ndarray, rt60: float, wet: float) -> np.ndarray:
    """Add a diffuse room tail (exponentially decaying low-passed noise impulse response,
    ``rt60`` s) at ``wet`` times the dry RMS; also softens the crest factor of impacts."""
    t = np.arange(int(min(rt60, 0.6) * _SR)) / _SR
    ir = _filt(rng.standard_normal(t.size), "low", rng.uniform(2500, 6000)) * np.exp(-6.9 * t / rt60)
    ir[: int(0.004 * _SR)] = 0.0  # first reflections arrive a few ms after the direct sound
    return x + wet * _rms(x) * _unit(fftconvolve(x, ir)[: x.size])


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def _unit(x: np.ndarray) -> np.ndarray:
    """Scaled to unit RMS (unchanged if silent), so mixing gains are relative levels."""
    r = _rms(x)
    return x / r if r > 1e-12 else x


def _slow_curve(rng: np.random.Generator, n: int, rate: float, lo: float, hi: float, fs: float = _SR) -> np.ndarray:
    """Smooth random curve ``[n]`` (sampled at ``fs``) in [lo, hi]: uniform random knots
    ``rate`` per second, cosine-interpolated."""
    k = int(n / fs * rate) + 3
    knots = rng.uniform(lo, hi, k)
    pos = np.arange(n) / fs * rate + rng.uniform(0, 1)
    i = np.minimum(pos.astype(int), k - 2)
    frac = 0.5 - 0.5 * np.cos(np.pi * (pos - i))
    return knots[i] + (knots[i + 1] - knots[i]) * frac


_TABLE = 4096
_DEC = 8  # control-rate decimation for envelopes and f0 tracks (0.4 ms steps, smoothed later)


def _table(amps: np.ndarray, f0_max: float, phases: np.ndarray | None = None) -> np.ndarray:
    """One period (4096 points + wrap-around point) with harmonic k at amplitude
    ``amps[k-1]`` (sine phase by default); harmonics that would pass 0.45 * SR at
    ``f0_max`` are dropped so the oscillator stays band-limited."""
    k = np.arange(1, len(amps) + 1)
    keep = k * max(f0_max, 1.0) < _NYQ_SAFE
    ph = np.full(len(amps), -np.pi / 2) if phases is None else phases
    spec = np.zeros(_TABLE // 2 + 1, dtype=complex)
    spec[1 : len(amps) + 1] = np.where(keep, amps, 0.0) * np.exp(1j * ph)
    table = np.fft.irfft(spec, _TABLE) * (_TABLE / 2)
    return np.append(table, table[0])


def _phase(f0: np.ndarray, phase0: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Wavetable read position (integer part, fraction) for an f0 track in Hz ``[n]``."""
    cyc = np.cumsum(f0) / _SR + phase0
    pos = (cyc - np.floor(cyc)) * _TABLE
    i = pos.astype(np.int64)
    return i, pos - i


def _lookup(table: np.ndarray, i: np.ndarray, frac: np.ndarray) -> np.ndarray:
    lo = table[i]
    return lo + frac * (table[i + 1] - lo)


def _osc(f0: np.ndarray, amps: np.ndarray, phases: np.ndarray | None = None, phase0: float = 0.0) -> np.ndarray:
    """Band-limited periodic waveform ``[n]`` following ``f0`` (Hz, ``[n]``); harmonic k
    has amplitude ``amps[k-1]``. Linear interpolation in a 4096-point wavetable is ~10x
    cheaper than summing sinusoids."""
    f0 = np.asarray(f0, dtype=float)
    return _lookup(_table(amps, float(f0.max()), phases), *_phase(f0, phase0))


def _up(x: np.ndarray, n: int) -> np.ndarray:
    """Control-rate signal back to the audio rate (sample-and-hold)."""
    return np.repeat(x, _DEC)[:n]


def _n_harm(f0_min: float) -> int:
    return int(min(_NYQ_SAFE / max(f0_min, 20.0), 400))


def _glottal_amps(f0_min: float, tilt: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Harmonic amplitudes k**-tilt of a voice source (tilt 1 = -6 dB/octave after lip
    radiation), with slight random ripple so voices differ."""
    k = np.arange(1, _n_harm(f0_min) + 1)
    amps = k ** (-tilt)
    if rng is not None:
        amps = amps * rng.uniform(0.8, 1.2, k.size)
    return amps


def _segments(n: int, onsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sorted onsets (samples): the index of the latest onset at or before each
    sample (-1 before the first) and the samples elapsed since it (a large value
    before the first, so that envelopes are 0 there)."""
    onsets = np.asarray(onsets, dtype=np.int64)
    t = np.arange(n)
    if onsets.size == 0:
        return np.full(n, -1), np.full(n, 10**9)
    idx = np.searchsorted(onsets, t, side="right") - 1
    since = np.where(idx >= 0, t - onsets[np.maximum(idx, 0)], 10**9)
    return idx, since


def _impulses(n: int, onsets: np.ndarray, gains: np.ndarray) -> np.ndarray:
    exc = np.zeros(n)
    on = np.asarray(onsets, dtype=np.int64)
    ok = (on >= 0) & (on < n)
    np.add.at(exc, on[ok], np.asarray(gains, dtype=float)[ok])
    return exc


def _hits(n: int, onsets: np.ndarray, gains: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Kernel copies at the onsets (samples), scaled by gains; float64 [n]."""
    if len(onsets) == 0:
        return np.zeros(n)
    return fftconvolve(_impulses(n, onsets, gains), kernel)[:n]


def _times(rng: np.random.Generator, n: int, mean: float, jitter: float, start: float = 0.0) -> np.ndarray:
    """Event times (s) from ``start`` until the clip ends, with inter-onset intervals
    ``mean * (1 + jitter * N(0,1))`` (at least 20 % of the mean)."""
    total = n / _SR
    k = int(total / mean) + 3
    ioi = mean * np.maximum(1.0 + jitter * rng.standard_normal(k), 0.2)
    t = start + np.concatenate([[0.0], np.cumsum(ioi[:-1])])
    while t[-1] < total:  # rare: many short intervals in a long clip
        t = np.append(t, t[-1] + mean)
    return t[t < total]


def _poisson(rng: np.random.Generator, n: int, rate: float, start: float = 0.0) -> np.ndarray:
    """Poisson event times (s) at ``rate`` per second in [start, clip end)."""
    total = n / _SR
    k = rng.poisson(rate * max(total - start, 0.0))
    return np.sort(rng.uniform(start, total, k)) if total > start else np.zeros(0)


def _rate(times_s: np.ndarray, n: int) -> float:
    """Events starting inside the clip, per second."""
    t = np.asarray(times_s, dtype=float)
    return float(np.count_nonzero((t >= 0) & (t < n / _SR)) / (n / _SR))


def _decay_kernel(t_len: float, tau: float) -> np.ndarray:
    t = np.arange(int(t_len * _SR)) / _SR
    return np.exp(-t / tau)


def _damped_modes(rng: np.random.Generator, freqs, taus, gains, length: float) -> np.ndarray:
    """Sum of exponentially damped sinusoids (resonant impact), float64 [length*SR]."""
    t = np.arange(int(length * _SR)) / _SR
    out = np.zeros_like(t)
    for f, tau, g in zip(freqs, taus, gains):
        if f < _NYQ_SAFE:
            out += g * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) * np.exp(-t / tau)
    return out


def _noise_burst(rng: np.random.Generator, length: float, tau: float, lo: float, hi: float) -> np.ndarray:
    k = _band(rng.standard_normal(int(length * _SR)), lo, hi)
    return k * _decay_kernel(length, tau)


def _f0_median(f0: np.ndarray, env: np.ndarray) -> float:
    """Median f0 over the samples where the envelope is above 10 % of its maximum."""
    m = env > 0.1 * float(env.max()) if env.size and env.max() > 0 else np.zeros(env.shape, bool)
    return float(np.median(f0[m])) if m.any() else 0.0


# ---------------------------------------------------------------------------
# Vowels and voice
# ---------------------------------------------------------------------------
# Adult male formants F1-F4 (Hz, after Peterson & Barney); scaled per voice.
_VOWELS = {
    "a": (730, 1090, 2440, 3400),
    "ae": (660, 1720, 2410, 3400),
    "e": (530, 1840, 2480, 3500),
    "i": (270, 2290, 3010, 3700),
    "o": (570, 840, 2410, 3300),
    "u": (300, 870, 2240, 3300),
    "er": (490, 1350, 1690, 3300),
}
_BW = (80.0, 100.0, 140.0, 220.0)


def _vowel_filter(x: np.ndarray, vowel: str, scale: float, bw_scale: float = 1.0) -> np.ndarray:
    return _formants(x, tuple(f * scale for f in _VOWELS[vowel]), tuple(b * bw_scale for b in _BW))


def _vowel_mix(x: np.ndarray, vowels: list[str], weights: np.ndarray, scale: float, bw_scale: float = 1.0):
    """Time-varying vowel: each vowel's filter output weighted by ``weights[v]`` ([V, n],
    smooth), so vowel changes are cross-fades without filter-state clicks."""
    out = np.zeros_like(x)
    for v, w in zip(vowels, weights):
        if np.any(w > 1e-4):
            out += w * _vowel_filter(x, v, scale, bw_scale)
    return out


def _voice_source(rng: np.random.Generator, f0: np.ndarray, tilt: float, jitter: float = 0.0) -> np.ndarray:
    """Glottal-like harmonic source following ``f0`` with optional f0 jitter (fraction)."""
    if jitter > 0:
        f0 = f0 * (1.0 + jitter * _smooth(rng.standard_normal(f0.size), 0.004) * 8.0)
    pos = f0[f0 > 0]
    return _osc(np.maximum(f0, 0.0), _glottal_amps(float(pos.min()) if pos.size else 100.0, tilt, rng))


def _aspiration(rng: np.random.Generator, n: int) -> np.ndarray:
    return _unit(_filt(rng.standard_normal(n), "high", 800.0))


# ---------------------------------------------------------------------------
# Music
# ---------------------------------------------------------------------------
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)


@dataclass
class _Notes:
    """A monophonic line: onsets and gate lengths (samples), f0 (Hz), velocity (0 = rest)."""

    onsets: np.ndarray
    gates: np.ndarray
    f0: np.ndarray
    vel: np.ndarray


def _compose(
    rng: np.random.Generator, n: int, lo: int, hi: int, beat: float, beats: tuple[float, ...], rest: float
) -> tuple[_Notes, list[_Notes]]:
    """Random-walk melody in a random major/minor key within MIDI [lo, hi] (note lengths
    drawn from ``beats`` x ``beat`` s, rests with probability ``rest``), plus a chord
    progression (one triad per 4-beat bar). Returns (melody, the three chord-tone lines)."""
    tonic = int(rng.integers(0, 12))
    mode = _MAJOR if rng.random() < 0.6 else _MINOR
    scale = np.array([m for m in range(lo, hi + 1) if (m - tonic) % 12 in mode])
    pos = int(rng.integers(len(scale) // 4, max(3 * len(scale) // 4, len(scale) // 4 + 1)))
    total = n / _SR
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
    melody = _Notes(
        (np.array(on) * _SR).astype(np.int64),
        (np.array(dur) * _SR).astype(np.int64),
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
            _Notes(
                (bar_on * _SR).astype(np.int64),
                np.full(len(deg), int(4 * beat * _SR)),
                np.asarray(_hz(midis)),
                rng.uniform(0.4, 0.6, len(deg)),
            )
        )
    return melody, chord_lines


def _split(notes: _Notes, voices: int) -> list[_Notes]:
    """Round-robin the notes over ``voices`` lines so that decaying notes can ring on."""
    if voices <= 1:
        return [notes]
    out = []
    for v in range(voices):
        s = slice(v, None, voices)
        out.append(_Notes(notes.onsets[s], notes.gates[s], notes.f0[s], notes.vel[s]))
    return out


def _line(
    rng: np.random.Generator,
    n: int,
    notes: _Notes,
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
    m = -(-n // _DEC)
    idx, since = _segments(m, notes.onsets // _DEC)
    since = since * _DEC
    j = np.maximum(idx, 0)
    f0 = notes.f0[j]
    if glide > 0:
        f0 = _smooth(f0 - f0[0], glide / _DEC) + f0[0]
    t_on = since / _SR
    rate, depth = vibrato
    if depth > 0:
        t = np.arange(m) * (_DEC / _SR)
        f0 = f0 * (1.0 + depth * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)) * (1 - np.exp(-t_on / 0.25)))
    vel = np.where(idx >= 0, notes.vel[j], 0.0)
    over = np.maximum(since - notes.gates[j], 0) / (release * _SR)
    base = vel * (1.0 - np.exp(-t_on / attack)) * np.exp(-over)
    f0_full = _up(f0, n)
    out = np.zeros(n)
    if partials is None:
        i, frac = _phase(f0_full)
        for amps, tau in layers:
            env = base if math.isinf(tau) else base * np.exp(-t_on / tau)
            out += _lookup(_table(amps, float(f0.max())), i, frac) * _smooth(_up(env, n), 0.002)
    else:
        cyc = 2 * np.pi * np.cumsum(f0_full) / _SR
        for ratio, amp, tau in partials:
            if ratio * float(f0.max()) < _NYQ_SAFE:
                out += amp * np.sin(ratio * cyc) * _smooth(_up(base * np.exp(-t_on / tau), n), 0.001)
    return out, f0_full, _up(base, n)


def _onsets_of(lines: list[_Notes], n: int) -> float:
    times = np.unique(np.concatenate([ln.onsets[ln.vel > 0] for ln in lines])) / _SR
    return _rate(times, n)


def _music(rng: np.random.Generator, n: int, sub: str) -> _Parts:
    if sub == "drums":
        return _drums(rng, n)
    beat = 60.0 / rng.uniform(70, 150)
    ranges = {"piano": (60, 84), "guitar": (50, 74), "mallet": (62, 88), "strings": (55, 84)}
    ranges |= {"organ": (55, 79), "flute": (60, 91)}
    lo, hi = ranges[sub]
    beats = (0.5, 0.5, 1.0) if sub in ("guitar", "mallet") else (0.5, 1.0, 1.0, 2.0)
    melody, chords = _compose(rng, n, lo, hi, beat, beats, rest=0.0 if sub == "guitar" else 0.1)
    use_chords = sub in ("piano", "strings", "organ") and rng.random() < 0.75
    k = np.arange(1, 61)
    out = np.zeros(n)
    info: dict[str, str] = {}
    harm = 0.95
    if sub == "piano":
        tau = rng.uniform(0.6, 1.6)
        layers = [(k[:20] ** -1.3 * rng.uniform(0.7, 1.3, 20), tau * 0.25), (k[:8] ** -2.5, tau)]
        mel = [_line(rng, n, ln, layers, 0.002, 0.08) for ln in _split(melody, 2)]
        harm = 0.9
    elif sub == "guitar":
        tau, beta = rng.uniform(0.4, 1.2), rng.uniform(0.1, 0.3)
        pluck = np.abs(np.sin(np.pi * k[:30] * beta)) / k[:30] ** 1.1
        layers = [(pluck, tau * 0.3), (k[:6] ** -2.0, tau)]
        mel = [_line(rng, n, ln, layers, 0.001, 0.05) for ln in _split(melody, 3)]
        harm = 0.9
    elif sub == "mallet":
        kind = str(rng.choice(["marimba", "vibraphone", "glockenspiel"]))
        ratios = {"marimba": (1, 3.93, 9.54), "vibraphone": (1, 4.0, 10.0), "glockenspiel": (1, 2.76, 5.40, 8.93)}[kind]
        tau = rng.uniform(0.3, 1.2)
        partials = [(r, 1.0 / (1 + 1.5 * i), tau / (1 + 2 * i)) for i, r in enumerate(ratios)]
        mel = [_line(rng, n, ln, [], 0.001, 0.1, partials=partials) for ln in _split(melody, 2)]
        info["instrument"] = kind
        harm = 0.5
    elif sub == "strings":
        layers = [(k[:40] ** -1.0 * rng.uniform(0.6, 1.4, 40), math.inf)]  # bowed: sawtooth-like
        vib = (rng.uniform(5.0, 6.5), rng.uniform(0.005, 0.015))
        mel = [_line(rng, n, melody, layers, rng.uniform(0.05, 0.15), 0.15, vib, glide=0.02)]
    elif sub == "organ":
        stops = np.zeros(16)
        stops[[0, 1, 2, 3, 5, 7, 9, 11, 15]] = rng.uniform(0, 1, 9) ** 2
        stops[0] = 1.0
        layers = [(stops, math.inf)]
        mel = [_line(rng, n, melody, layers, 0.01, 0.05)]
        harm = 1.0
    else:  # flute
        amps = np.array([1.0, *rng.uniform(0.1, 0.4, 1), *rng.uniform(0.03, 0.15, 2), 0.03, 0.02])
        vib = (rng.uniform(4.5, 6.0), rng.uniform(0.004, 0.012))
        mel = [_line(rng, n, melody, [(amps, math.inf)], rng.uniform(0.03, 0.08), 0.08, vib, glide=0.015)]
    for wave, _, _ in mel:
        out += wave
    if sub == "flute":
        env = _smooth(mel[0][2], 0.01)
        breath = rng.uniform(0.05, 0.15)
        out = _unit(out) + breath * env * _unit(_band(rng.standard_normal(n), 1000, 6000))
        harm = 1.0 / (1.0 + breath**2 * 3.0)
    lines = [melody]
    if use_chords:
        sustained = sub in ("strings", "organ")
        if sustained:
            clayers = layers
        else:
            clayers = [(k[:12] ** -1.6, rng.uniform(0.8, 2.0))]
        acc = sum(_line(rng, n, c, clayers, 0.05 if sustained else 0.003, 0.15)[0] for c in chords)
        out = _unit(out) + rng.uniform(0.3, 0.6) * _unit(acc)
        lines += chords
    f0_track = np.concatenate([m[1] for m in mel])
    env = np.concatenate([m[2] for m in mel])
    info["chords"] = str(use_chords)
    return _Parts(out, 1.0, _f0_median(f0_track, env), harm, _onsets_of(lines, n), info)


def _drums(rng: np.random.Generator, n: int) -> _Parts:
    step = 60.0 / rng.uniform(80, 150) / 4  # sixteenth notes
    steps = int(n / _SR / step) + 1
    s = np.arange(steps)
    offset = rng.uniform(0, 0.1)
    kick = (s % 16 == 0) | (s % 16 == 8) | ((s % 2 == 0) & (rng.random(steps) < 0.12))
    snare = (s % 16 == 4) | (s % 16 == 12) | (rng.random(steps) < 0.04)
    hat = (s % 2 == 0) if rng.random() < 0.6 else np.ones(steps, bool)
    hat = hat & (rng.random(steps) < 0.95)
    t = np.arange(int(0.45 * _SR)) / _SR
    f_end = rng.uniform(45, 65)
    f_kick = f_end + rng.uniform(80, 150) * np.exp(-t / rng.uniform(0.02, 0.05))
    k_kick = np.sin(2 * np.pi * np.cumsum(f_kick) / _SR) * np.exp(-t / rng.uniform(0.12, 0.3))
    k_snare = 0.8 * _noise_burst(rng, 0.3, rng.uniform(0.06, 0.15), 800, 7000)
    k_snare += 0.4 * np.sin(2 * np.pi * rng.uniform(170, 230) * t[: k_snare.size]) * _decay_kernel(0.3, 0.05)
    k_hat = 0.5 * _noise_burst(rng, 0.15, rng.uniform(0.015, 0.06), 6000, 9500)
    out = np.zeros(n)
    times = []
    for mask, kern, g in ((kick, k_kick, 1.0), (snare, k_snare, 0.8), (hat, k_hat, 0.35)):
        on = offset + s[mask] * step
        times.append(on)
        out += _hits(n, (on * _SR).astype(np.int64), g * rng.uniform(0.7, 1.0, on.size), kern)
    times_all = np.unique(np.round(np.concatenate(times), 4))
    return _Parts(out, 0.0, 0.0, 0.15, _rate(times_all, n))


# ---------------------------------------------------------------------------
# Song
# ---------------------------------------------------------------------------
def _song(rng: np.random.Generator, n: int, sub: str) -> _Parts:
    female = rng.random() < 0.5
    lo, hi = (57, 74) if female else (45, 62)
    beat = 60.0 / rng.uniform(70, 140)
    melody, chords = _compose(rng, n, lo, hi, beat, (0.5, 1.0, 1.0, 1.5), rest=0.08)
    melody.gates = (melody.gates * rng.uniform(0.85, 1.0, melody.gates.size)).astype(np.int64)
    vib = (rng.uniform(4.8, 6.5), rng.uniform(0.01, 0.025))
    idx, _ = _segments(n, melody.onsets)
    _, f0, env = _line(rng, n, melody, [], rng.uniform(0.03, 0.07), 0.08, vib, glide=rng.uniform(0.02, 0.05))
    env = _smooth(env, 0.005)
    source = _voice_source(rng, f0, rng.uniform(0.9, 1.4), jitter=0.003)
    breath = rng.uniform(0.03, 0.12)
    x = env * (_unit(source) + breath * _aspiration(rng, n))
    vowels = [str(v) for v in rng.choice(list(_VOWELS), size=3, replace=False)]
    choice = rng.integers(0, 3, melody.onsets.size)
    weights = np.stack([_smooth((choice[np.maximum(idx, 0)] == v).astype(float), 0.03) for v in range(3)])
    scale = rng.uniform(1.1, 1.25) if female else rng.uniform(0.95, 1.1)
    voice = _vowel_mix(x, vowels, weights, scale)
    # Consonants: short fricative or plosive bursts at some note onsets.
    cons_on = melody.onsets[(melody.vel > 0) & (rng.random(melody.onsets.size) < 0.5)]
    kern = _noise_burst(rng, 0.06, rng.uniform(0.008, 0.025), 2500, 8000)
    voice = _unit(voice) + 0.5 * _hits(n, cons_on, rng.uniform(0.5, 1.0, cons_on.size), kern / max(_rms(kern), 1e-9))
    out = _unit(voice)
    lines = [melody]
    harm = 1.0 / (1.0 + breath**2 + 0.05)
    if sub == "voice_with_accompaniment":
        k = np.arange(1, 13)
        acc_lines = []
        for c in chords:  # sparse plucked/piano chords on the first and third beats
            sub_on = np.concatenate([c.onsets, c.onsets + int(2 * beat * _SR)])
            order = np.argsort(sub_on)
            acc_lines.append(
                _Notes(
                    sub_on[order],
                    np.full(sub_on.size, int(beat * _SR)),
                    np.tile(c.f0, 2)[order],
                    np.tile(c.vel, 2)[order],
                )
            )
        acc = sum(_line(rng, n, c, [(k**-1.5, rng.uniform(0.5, 1.2))], 0.002, 0.1)[0] for c in acc_lines)
        out = out + 10 ** (-rng.uniform(6, 12) / 20) * _unit(acc)
        lines += acc_lines
        harm *= 0.95
    info = {"voice": "female" if female else "male", "vowels": ",".join(vowels)}
    return _Parts(out, 1.0, _f0_median(f0, env), harm, _onsets_of(lines, n), info)


# ---------------------------------------------------------------------------
# Human and animal vocalisations
# ---------------------------------------------------------------------------
def _gate(since: np.ndarray, start: np.ndarray | float, stop: np.ndarray | float, tau: float) -> np.ndarray:
    """Smoothed 0/1 window ``start <= since < stop`` (samples), ``tau`` s edges."""
    return _smooth(((since >= start) & (since < stop)).astype(float), tau)


def _bursts(
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
    total = n / _SR
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


def _humvoc(rng: np.random.Generator, n: int, sub: str) -> _Parts:
    female = rng.random() < 0.5
    scale = rng.uniform(1.1, 1.25) if female else rng.uniform(0.95, 1.1)
    base_f0 = rng.uniform(190, 300) if female else rng.uniform(100, 160)
    info = {"voice": "female" if female else "male"}
    if sub == "laugh":
        on = _bursts(rng, n, (0.0, 0.1), (4, 9), (0.13, 0.2), (0.4, 0.8))
        idx, since = _segments(n, (on * _SR).astype(np.int64))
        j = np.maximum(idx, 0)
        h = rng.uniform(0.015, 0.04, on.size + 1)[j] * _SR
        v = rng.uniform(0.05, 0.09, on.size + 1)[j] * _SR
        amp = rng.uniform(0.6, 1.0, on.size + 1)[j]
        f0 = base_f0 * 1.6 * (1.0 - 0.3 * np.minimum(since / _SR / 0.12, 1)) * rng.uniform(0.9, 1.1, on.size + 1)[j]
        f0 = np.where(idx >= 0, f0, base_f0)
        voiced = amp * _gate(since, h, h + v, 0.006)
        breathy = amp * _gate(since, 0, h + v, 0.004) * np.where(since < h, 1.0, 0.3)
        x = voiced * _unit(_voice_source(rng, f0, 1.1, 0.01)) + 0.6 * breathy * _aspiration(rng, n)
        out = _vowel_filter(x, str(rng.choice(["a", "ae", "e"])), scale)
        frac = float(np.mean(v / (h + v)))
        return _Parts(out, frac, _f0_median(f0, voiced), 0.8 * frac, _rate(on, n), info)
    if sub in ("cry", "scream"):
        cry = sub == "cry"
        phrase = (0.4, 1.2) if cry else (0.6, 1.4)
        gap = (0.1, 0.35) if cry else (0.2, 0.5)
        t, times, lens = rng.uniform(0.0, 0.1), [], []
        while t < n / _SR:
            d = rng.uniform(*phrase)
            times.append(t)
            lens.append(d)
            t += d + rng.uniform(*gap)
        on = np.array(times)
        idx, since = _segments(n, (on * _SR).astype(np.int64))
        j = np.maximum(idx, 0)
        length = np.array(lens)[j] * _SR
        u = np.clip(since / length, 0, 1)
        f_lo = rng.uniform(300, 500) if cry else rng.uniform(500, 900)
        peak = rng.uniform(1.2, 1.5, on.size)[j]
        f0 = f_lo * (1 + (peak - 1) * np.sin(np.pi * u) ** 0.7)
        env = _gate(since, 0, length, 0.03)
        rough = 1.0 + rng.uniform(0.1, 0.35) * _slow_curve(rng, n, rng.uniform(30, 70), -1, 1)
        src = _voice_source(rng, f0, rng.uniform(0.7, 0.95), jitter=0.01 if cry else 0.02)
        gap_env = _gate(since, length, length + 0.25 * _SR, 0.03) * (idx >= 0)
        inhale = 0.15 * gap_env * _aspiration(rng, n)
        x = env * rough * _unit(src) + inhale
        vscale = rng.uniform(1.3, 1.5) if cry else scale * rng.uniform(1.05, 1.15)
        out = _vowel_filter(x, str(rng.choice(["ae", "a"])), vscale, bw_scale=1.3)
        info["voice"] = "child" if cry else info["voice"]
        # Voiced phrases alternate with breathy inhalations (up to 0.25 s of each gap).
        frac = float(np.mean(lens) / (np.mean(lens) + min(0.25, float(np.mean(gap)))))
        return _Parts(out, frac, _f0_median(f0, env), 0.85 * frac, _rate(on, n), info)
    if sub == "cough":
        on = _bursts(rng, n, (0.0, 0.15), (1, 4), (0.28, 0.5), (0.7, 1.3))
        idx, since = _segments(n, (on * _SR).astype(np.int64))
        tail = rng.uniform(0.1, 0.25) * _SR
        voiced_share = rng.uniform(0.15, 0.4)
        env = np.where(idx >= 0, np.exp(-since / tail), 0.0) * _gate(since, 0, 2 * tail, 0.001)
        f0 = np.full(n, base_f0 * rng.uniform(0.8, 1.1))
        x = env * (voiced_share * _unit(_voice_source(rng, f0, 1.3, 0.05)) + _unit(rng.standard_normal(n)))
        out = _vowel_filter(x, str(rng.choice(["a", "e", "er"])), scale, bw_scale=1.5)
        burst = _noise_burst(rng, 0.04, 0.01, 300, 8000)
        out = _unit(out) + 0.8 * _hits(n, (on * _SR).astype(np.int64), np.ones(on.size), burst / _rms(burst))
        harm = voiced_share**2 / (1 + voiced_share**2)
        return _Parts(out, voiced_share, float(f0[0]), harm, _rate(on, n), info)
    if sub == "sneeze":
        t0 = rng.uniform(0.0, 0.1)
        ah = rng.uniform(0.2, 0.45)
        choo_t = t0 + ah + rng.uniform(0.02, 0.08)
        on = np.array([t0, choo_t])
        if rng.random() < 0.5:
            second = choo_t + rng.uniform(0.8, 1.3)
            on = np.append(on, [second - ah, second])
        idx, since = _segments(n, (on * _SR).astype(np.int64))
        inhale = (idx >= 0) & (idx % 2 == 0)
        u = np.clip(since / (ah * _SR), 0, 1)
        f0 = base_f0 * (1.0 + 0.6 * u)
        env_ah = np.where(inhale, u**1.5, 0.0) * _gate(since, 0, ah * _SR, 0.01)
        choo_tau = rng.uniform(0.08, 0.16) * _SR
        env_choo = np.where((idx >= 0) & ~inhale, np.exp(-since / choo_tau), 0.0)
        env_choo = _smooth(env_choo, 0.002)
        ah_sound = _vowel_filter(env_ah * (_unit(_voice_source(rng, f0, 1.1)) + 0.5 * _aspiration(rng, n)), "a", scale)
        choo = env_choo * _unit(_band(rng.standard_normal(n), 1500, 8500, order=4))
        choo_v = _vowel_filter(env_choo * _unit(_voice_source(rng, f0 * 0.9, 1.0)), "u", scale)
        out = 0.5 * _unit(ah_sound) + 1.5 * choo + 0.3 * _unit(choo_v)
        return _Parts(out, 0.4, _f0_median(f0, env_ah), 0.3, _rate(on, n), info)
    raise AssertionError(sub)


def _anivoc(rng: np.random.Generator, n: int, sub: str) -> _Parts:
    if sub == "dog_bark":
        size = rng.uniform(0, 1)  # 0 small dog, 1 big dog
        on = _bursts(rng, n, (0.0, 0.15), (1, 3), (0.18, 0.3), (0.45, 1.0))
        idx, since = _segments(n, (on * _SR).astype(np.int64))
        f_start = 700 - 400 * size
        f0 = f_start * rng.uniform(0.9, 1.1) * (1 - 0.35 * np.minimum(since / _SR / 0.15, 1))
        f0 = np.where(idx >= 0, f0, f_start)
        tau = (0.04 + 0.05 * size) * _SR
        env = _smooth(np.where(idx >= 0, np.exp(-since / tau), 0.0) * (since < 5 * tau), 0.004)
        noise_share = rng.uniform(0.3, 0.7)
        x = env * ((1 - noise_share) * _unit(_voice_source(rng, f0, 1.0, 0.02)) + noise_share * _aspiration(rng, n))
        out = _vowel_filter(x, "a", 1.3 - 0.4 * size, bw_scale=1.5)
        harm = (1 - noise_share) ** 2 / ((1 - noise_share) ** 2 + noise_share**2)
        return _Parts(out, 1 - noise_share, _f0_median(f0, env), harm, _rate(on, n), {})
    if sub == "bird_chirp":
        on = _bursts(rng, n, (0.0, 0.15), (3, 10), (0.05, 0.12), (0.25, 0.7))
        idx, since = _segments(n, (on * _SR).astype(np.int64))
        j = np.maximum(idx, 0)
        d = rng.uniform(0.6, 0.9) * rng.uniform(0.04, 0.1) * _SR
        f_a = rng.uniform(2000, 6000)
        ratio = rng.choice([0.5, 0.7, 1.4, 1.8])
        fa = f_a * rng.uniform(0.9, 1.1, on.size + 1)[j]
        f = fa * ratio ** np.clip(since / d, 0, 1)
        f = np.where(idx >= 0, np.minimum(f, 8000), f_a)
        env = np.where(since < d, np.sin(np.pi * np.clip(since / d, 0, 1)) ** 2, 0.0)
        env = env * rng.uniform(0.5, 1.0, on.size + 1)[j]
        cyc = 2 * np.pi * np.cumsum(f) / _SR
        tone = np.sin(cyc) + 0.15 * np.where(2 * f < _NYQ_SAFE, np.sin(2 * cyc), 0.0)
        out = env * tone + 0.01 * _coloured(rng, n, 1.0)
        return _Parts(out, 1.0, _f0_median(f, env), 0.9, _rate(on, n), {})
    if sub in ("cat_meow", "cow_moo"):
        cat = sub == "cat_meow"
        length = rng.uniform(0.4, 1.0) if cat else rng.uniform(1.0, 2.0)
        on = _bursts(rng, n, (0.0, 0.1), (1, 1), (0, 0), (length + 0.3, length + 0.8))
        idx, since = _segments(n, (on * _SR).astype(np.int64))
        u = np.clip(since / (length * _SR), 0, 1)
        f_base = rng.uniform(450, 800) if cat else rng.uniform(90, 160)
        f0 = f_base * (1 + rng.uniform(0.2, 0.5) * np.sin(np.pi * u**0.7))
        env = _gate(since, 0, length * _SR, 0.04 if cat else 0.12) * (idx >= 0)
        src = _unit(_voice_source(rng, f0, 1.1 if cat else 1.3, 0.01)) + 0.08 * _aspiration(rng, n)
        vowels = ["i", "a", "u"] if cat else ["u", "o", "a"]
        centres = (0.1, 0.45, 0.9) if cat else (0.0, 0.4, 0.8)
        weights = np.stack([np.exp(-0.5 * ((u - c) / 0.2) ** 2) for c in centres])
        weights /= weights.sum(0, keepdims=True)
        vscale = rng.uniform(1.3, 1.5) if cat else rng.uniform(0.75, 0.9)
        out = _vowel_mix(env * src, vowels, weights, vscale)
        return _Parts(out, 0.95, _f0_median(f0, env), 0.9, _rate(on, n), {})
    if sub == "frog_croak":
        length = rng.uniform(0.08, 0.3)
        on = _times(rng, n, rng.uniform(0.3, 0.8), 0.1, rng.uniform(0, 0.1))
        idx, since = _segments(n, (on * _SR).astype(np.int64))
        f0 = np.full(n, rng.uniform(150, 500))
        pulse = 0.5 - 0.5 * np.cos(2 * np.pi * rng.uniform(15, 40) * since / _SR)
        env = _gate(since, 0, length * _SR, 0.005) * (idx >= 0) * pulse
        x = env * _unit(_voice_source(rng, f0, 1.0, 0.01))
        freqs = np.array([rng.uniform(500, 1200), rng.uniform(1500, 2500)])  # vocal-sac resonances
        out = _resonances(x, freqs, np.array([150.0, 250.0]), np.array([1.0, 0.5]))
        return _Parts(out, 0.7, float(f0[0]), 0.7, _rate(on, n), {})
    raise AssertionError(sub)


# ---------------------------------------------------------------------------
# Human and animal non-vocal sounds
# ---------------------------------------------------------------------------
def _humnonvoc(rng: np.random.Generator, n: int, sub: str) -> _Parts:
    if sub == "footsteps":
        run = rng.random() < 0.3
        on = _times(rng, n, rng.uniform(0.28, 0.38) if run else rng.uniform(0.45, 0.65), 0.04, rng.uniform(0, 0.2))
        hard = rng.uniform(0, 1)  # 0 soft/gravel, 1 hard floor
        out = np.zeros(n)
        for foot in (0, 1):
            heel = _damped_modes(rng, [rng.uniform(60, 120)], [rng.uniform(0.015, 0.03)], [1.0], 0.15)
            heel += 0.6 * _noise_burst(rng, 0.15, rng.uniform(0.01, 0.02), 60, rng.uniform(300, 800))
            click = _noise_burst(rng, 0.1, 0.004 + 0.02 * (1 - hard), 1000, 6000)
            delay = int(rng.uniform(0.03, 0.08) * _SR)
            kern = np.concatenate([heel, np.zeros(delay)])
            kern[delay : delay + click.size] += (0.3 + 0.3 * hard) * click[: kern.size - delay]
            mine = on[foot::2]
            out += _hits(n, (mine * _SR).astype(np.int64), rng.uniform(0.75, 1.0, mine.size), kern)
        out = _room(rng, out, rng.uniform(0.2, 0.6), rng.uniform(0.2, 0.5))
        return _Parts(out, 0.0, 0.0, 0.05, _rate(on, n), {"gait": "run" if run else "walk"})
    if sub == "clapping":
        people = int(rng.choice([1, 1, 2, 3]))
        out, allon = np.zeros(n), []
        for _ in range(people):
            on = _times(rng, n, 1.0 / rng.uniform(2, 5), 0.05, rng.uniform(0, 0.2))
            fc = rng.uniform(800, 2500)
            kern = _noise_burst(rng, 0.08, rng.uniform(0.008, 0.02), fc / 1.6, fc * 1.6)
            out += rng.uniform(0.6, 1.0) * _hits(n, (on * _SR).astype(np.int64), rng.uniform(0.7, 1.0, on.size), kern)
            allon.append(on)
        out = _room(rng, out, rng.uniform(0.3, 1.0), rng.uniform(0.4, 0.8))
        return _Parts(out, 0.0, 0.0, 0.0, _rate(np.concatenate(allon), n), {"people": str(people)})
    if sub == "typing":
        mean = rng.uniform(0.1, 0.2)
        gaps = rng.gamma(2.0, mean / 2.0, int(n / _SR / mean * 2) + 4)
        gaps = gaps + (rng.random(gaps.size) < 0.08) * rng.uniform(0.3, 0.6, gaps.size)
        on = rng.uniform(0, 0.1) + np.concatenate([[0.0], np.cumsum(gaps)])
        on = on[on < n / _SR]
        space = rng.random(on.size) < 0.15
        out = np.zeros(n)
        for mask, lo, hi, g in ((~space, 2000, 6000, 1.0), (space, 500, 1500, 1.4)):
            freqs = rng.uniform(lo, hi, 3)
            kern = _damped_modes(rng, freqs, rng.uniform(0.002, 0.006, 3), [1, 0.6, 0.4], 0.05)
            kern += 0.3 * _noise_burst(rng, 0.05, 0.012, 300, 3000)  # plastic rattle
            t = on[mask]
            out += g * _hits(n, (t * _SR).astype(np.int64), rng.uniform(0.6, 1.0, t.size), kern)
            rel = t + rng.uniform(0.05, 0.1, t.size)  # key release
            out += 0.35 * g * _hits(n, (rel * _SR).astype(np.int64), rng.uniform(0.6, 1.0, t.size), kern)
        out = _room(rng, out, rng.uniform(0.2, 0.5), rng.uniform(0.3, 0.6))
        return _Parts(out, 0.0, 0.0, 0.05, _rate(on, n), {})
    if sub == "knocking":
        on = _bursts(rng, n, (0.0, 0.15), (2, 5), (0.12, 0.22), (0.6, 1.4))
        kern = _damped_modes(rng, rng.uniform(80, 400, 4), rng.uniform(0.02, 0.06, 4), rng.uniform(0.3, 1.0, 4), 0.3)
        kern += _damped_modes(rng, [rng.uniform(800, 1500)], [0.005], [0.5], 0.3)
        kern[:400] += 0.3 * _noise_burst(rng, 0.02, 0.002, 1500, 8000)
        out = _hits(n, (on * _SR).astype(np.int64), rng.uniform(0.7, 1.0, on.size), kern)
        out = _room(rng, out, rng.uniform(0.3, 0.8), rng.uniform(0.3, 0.6))
        return _Parts(out, 0.0, 0.0, 0.2, _rate(on, n), {})
    raise AssertionError(sub)


def _aninonvoc(rng: np.random.Generator, n: int, sub: str) -> _Parts:
    t = np.arange(n) / _SR
    if sub == "wing_flaps":
        rate = rng.uniform(5, 15)
        length = rng.uniform(0.4, 1.5)
        bouts = _bursts(rng, n, (0.0, 0.1), (1, 1), (0, 0), (length + 0.1, length + 0.5))
        idx, since = _segments(n, (bouts * _SR).astype(np.int64))
        active = _gate(since, 0, length * _SR, 0.03) * (idx >= 0)
        flap = np.abs(np.sin(np.pi * rate * since / _SR)) ** rng.uniform(2, 4)
        noise = _band(rng.standard_normal(n), 150, rng.uniform(800, 3000))
        out = active * flap * noise
        flaps = np.concatenate([b + np.arange(int(length * rate)) / rate for b in bouts])
        return _Parts(out, 0.0, 0.0, 0.0, _rate(flaps, n), {})
    if sub == "scratching":
        on = _times(rng, n, 1.0 / rng.uniform(3, 8), 0.2, rng.uniform(0, 0.1))
        idx, since = _segments(n, (on * _SR).astype(np.int64))
        d = rng.uniform(0.05, 0.2) * _SR
        stroke = np.where(since < d, np.sin(np.pi * np.clip(since / d, 0, 1)), 0.0)
        stick = np.abs(_filt(rng.standard_normal(n), "low", rng.uniform(100, 300)))
        out = stroke * _unit(stick) * _filt(rng.standard_normal(n), "high", rng.uniform(1500, 4000), order=4)
        return _Parts(out, 0.0, 0.0, 0.0, _rate(on, n), {})
    if sub == "hooves":
        gallop = rng.random() < 0.6
        stride = rng.uniform(0.35, 0.55) if gallop else rng.uniform(0.5, 0.7)
        strides = _times(rng, n, stride, 0.03, rng.uniform(0, 0.15))
        if gallop:  # three beats close together, then the suspension
            offs = np.array([0.0, rng.uniform(0.07, 0.1), rng.uniform(0.14, 0.2)])
        else:
            offs = np.array([0.0, stride / 2])
        on = np.sort((strides[:, None] + offs[None, :]).ravel())
        kern = _damped_modes(rng, [rng.uniform(80, 150)], [rng.uniform(0.015, 0.03)], [1.0], 0.12)
        kern += 0.5 * _noise_burst(rng, 0.12, 0.003, 1000, 4000)
        out = _hits(n, (on * _SR).astype(np.int64), rng.uniform(0.6, 1.0, on.size), kern)
        return _Parts(out, 0.0, 0.0, 0.1, _rate(on, n), {"gait": "gallop" if gallop else "trot"})
    if sub == "insect_buzz":
        f_base = rng.uniform(150, 250) if rng.random() < 0.7 else rng.uniform(400, 650)
        f0 = f_base * _slow_curve(rng, n, rng.uniform(1, 3), 0.94, 1.06)
        am = _slow_curve(rng, n, rng.uniform(0.5, 2), 0.3, 1.0)
        buzz = _osc(f0, _glottal_amps(f0.min(), rng.uniform(0.9, 1.3), rng)[:30])
        out = am * (_unit(buzz) + 0.1 * _unit(rng.standard_normal(n)))
        return _Parts(out, 1.0, float(np.median(f0)), 0.9, 0.0, {})
    if sub == "cricket":
        carrier = rng.uniform(3000, 5500)
        prate = rng.uniform(20, 40)
        trill = rng.random() < 0.3
        if trill:
            pulses = _times(rng, n, 1.0 / prate, 0.01, rng.uniform(0, 0.05))
        else:
            chirps = _times(rng, n, 1.0 / rng.uniform(1.5, 4), 0.05, rng.uniform(0, 0.2))
            k = int(rng.integers(3, 7))
            pulses = np.sort((chirps[:, None] + np.arange(k)[None, :] / prate).ravel())
        idx, since = _segments(n, (pulses * _SR).astype(np.int64))
        d = 0.5 / prate * _SR
        env = np.where(since < d, np.sin(np.pi * np.clip(since / d, 0, 1)) ** 2, 0.0)
        f = carrier * (1 + 0.01 * np.sin(2 * np.pi * prate * t))
        cyc = 2 * np.pi * np.cumsum(f) / _SR
        out = env * (np.sin(cyc) + 0.05 * np.sin(2 * cyc)) + 0.005 * _coloured(rng, n, 1.0)
        return _Parts(out, 1.0, carrier, 0.95, _rate(pulses, n), {"pattern": "trill" if trill else "chirp"})
    raise AssertionError(sub)


# ---------------------------------------------------------------------------
# Nature
# ---------------------------------------------------------------------------
def _nature(rng: np.random.Generator, n: int, sub: str) -> _Parts:
    t = np.arange(n) / _SR
    if sub == "rain":
        rate = rng.uniform(80, 600)
        on = _poisson(rng, n, rate)
        bed = _filt(_coloured(rng, n, rng.uniform(0.5, 1.0)), "high", rng.uniform(200, 600))
        drops = np.zeros(n)
        groups = rng.integers(0, 6, on.size)
        for g in range(6):
            f = rng.uniform(1500, 6000)
            kern = _damped_modes(rng, [f], [rng.uniform(0.001, 0.004)], [1.0], 0.02)
            kern[:40] += 0.3 * rng.standard_normal(40)
            sel = on[groups == g]
            drops += _hits(n, (sel * _SR).astype(np.int64), rng.lognormal(0, 0.8, sel.size), kern)
        out = _unit(bed) * rng.uniform(0.5, 1.0) + _peak_unit(drops, 5.0)
        return _Parts(out, 0.0, 0.0, 0.0, _rate(on, n), {})
    if sub == "wind":
        noise = _coloured(rng, n, 1.0)
        out = np.zeros(n)
        for _ in range(3):
            fc = math.exp(rng.uniform(math.log(200), math.log(1500)))
            band = _filt(noise, "band", fc, q=rng.uniform(0.7, 1.5))
            out += _slow_curve(rng, n, rng.uniform(0.3, 1.0), 0.05, 1.0) * _unit(band)
        gusts = _poisson(rng, n, rng.uniform(0.3, 1.2), -0.5)
        width = rng.uniform(0.4, 1.2)
        env = 0.3 + sum(np.exp(-0.5 * ((t - g) / (width / 2.5)) ** 2) for g in gusts)
        return _Parts(out * env, 0.0, 0.0, 0.0, _rate(gusts, n), {})
    if sub == "stream":
        rate = rng.uniform(40, 200)
        on = _poisson(rng, n, rate)
        m = on.size
        length = 0.05
        tt = np.arange(int(length * _SR)) / _SR
        f0 = np.exp(rng.uniform(math.log(400), math.log(2500), m))[:, None]
        tau = rng.uniform(0.003, 0.012, m)[:, None]
        rise = rng.uniform(0.1, 0.5, m)[:, None]
        f = f0 * (1 + rise * tt[None, :] / tau)
        grains = np.sin(2 * np.pi * np.cumsum(f, axis=1) / _SR) * np.exp(-tt[None, :] / tau)
        grains *= rng.lognormal(0, 0.5, m)[:, None]
        bubbles = np.zeros(n + tt.size)
        for s, g in zip((on * _SR).astype(np.int64), grains):
            bubbles[s : s + tt.size] += g
        bed = _filt(rng.standard_normal(n), "low", rng.uniform(500, 1500))
        out = _unit(bubbles[:n]) + rng.uniform(0.3, 0.8) * _unit(bed)
        return _Parts(out, 0.0, 0.0, 0.2, _rate(on, n), {})
    if sub == "thunder":
        crack = rng.random() < 0.7
        t0 = rng.uniform(0.0, 0.3) * n / _SR
        rumble = _filt(_coloured(rng, n, 2.0), "low", rng.uniform(80, 250), order=4)
        rolling = _band(rng.standard_normal(n), 200, 800) * _slow_curve(rng, n, 6, 0.2, 1.0)
        swells = t0 + np.cumsum(rng.uniform(0.05, 0.6, 4))
        env = sum(rng.uniform(0.5, 1.0) * np.exp(-0.5 * ((t - s) / rng.uniform(0.15, 0.5)) ** 2) for s in swells)
        tail = np.exp(-np.maximum(t - t0, 0.0) / rng.uniform(1.0, 3.0)) * _gate(t * _SR, t0 * _SR, n, 0.05)
        env = env + tail
        out = env * (_unit(rumble) + 0.3 * _unit(rolling))
        on = [t0]
        if crack:
            burst = _noise_burst(rng, 0.4, rng.uniform(0.05, 0.15), 300, 8000)
            out += 1.5 * _hits(n, [int(t0 * _SR)], [1.0], burst / _rms(burst) * 0.5)
        return _Parts(out, 0.0, 0.0, 0.0, _rate(np.array(on), n), {"crack": str(crack)})
    if sub == "fire":
        rumble = _filt(_coloured(rng, n, 2.0), "low", rng.uniform(300, 600)) * _slow_curve(rng, n, 4, 0.4, 1.0)
        hiss = _filt(rng.standard_normal(n), "high", 3000)
        clusters = _poisson(rng, n, rng.uniform(2, 6))
        cl = np.concatenate([c + np.sort(rng.uniform(0, 0.03, rng.integers(1, 7))) for c in clusters] + [np.zeros(0)])
        on = np.sort(np.concatenate([cl, _poisson(rng, n, rng.uniform(5, 20))]))
        kern = _noise_burst(rng, 0.01, rng.uniform(0.0005, 0.002), rng.uniform(1000, 3000), 9000)
        kern += _damped_modes(rng, [rng.uniform(2000, 5000)], [0.002], [0.5], 0.01)
        gains = np.minimum(rng.pareto(2.5, on.size) + 0.3, 3.0)
        crackles = _hits(n, (on * _SR).astype(np.int64), gains, kern)
        out = _unit(rumble) + 0.05 * _unit(hiss) + rng.uniform(0.6, 1.2) * _peak_unit(crackles, 5.0)
        return _Parts(out, 0.0, 0.0, 0.0, _rate(on, n), {})
    if sub == "waves":
        period = rng.uniform(5, 10)
        phase = rng.uniform(0, 1)
        u = (t / period + phase) % 1.0
        crash = 0.35
        swell = np.where(u < crash, (u / crash) ** 2, np.exp(-(u - crash) / 0.25))
        env = 0.2 + swell
        dark = _filt(_coloured(rng, n, 1.5), "low", 500)
        bright = _filt(rng.standard_normal(n), "high", 1500)
        out = env * _unit(dark) + 0.6 * swell**2 * _unit(bright)
        crashes = (np.arange(-1, n / _SR / period + 2) + crash - phase) * period
        return _Parts(out, 0.0, 0.0, 0.0, _rate(crashes, n), {})
    raise AssertionError(sub)


# ---------------------------------------------------------------------------
# Mechanical
# ---------------------------------------------------------------------------
def _mechanical(rng: np.random.Generator, n: int, sub: str) -> _Parts:
    t = np.arange(n) / _SR
    if sub == "engine":
        f_base = rng.uniform(20, 110)
        f0 = f_base * _slow_curve(rng, n, rng.uniform(0.3, 1.0), 0.8, 1.25)
        k = np.arange(1, _n_harm(f0.min()) + 1)
        amps = k ** -rng.uniform(0.6, 1.2) * rng.lognormal(0, 0.5, k.size)
        tone = _osc(f0, amps)
        firing = 1 + 0.5 * np.sin(2 * np.pi * np.cumsum(f0) / _SR)
        noise = _filt(rng.standard_normal(n), "low", rng.uniform(500, 2000)) * firing
        g = rng.uniform(0.3, 0.6)
        out = _unit(tone) + g * _unit(noise)
        return _Parts(out, 1.0, float(np.median(f0)), 1 / (1 + g**2), 0.0, {})
    if sub == "siren":
        kind = str(rng.choice(["wail", "yelp", "hilo"]))
        f_lo = rng.uniform(500, 800)
        if kind == "hilo":
            half = rng.uniform(0.4, 0.7)
            ph = rng.uniform(0, 1)
            hi = ((t / half + ph) % 2) >= 1
            f0 = _smooth(np.where(hi, f_lo * rng.uniform(1.2, 1.4), f_lo), 0.01)
            events = (np.arange(0, n / _SR / half + 2) - ph) * half
            rate = _rate(events, n)
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
        out = _osc(f0, amps) * _slow_curve(rng, n, 0.5, 0.8, 1.0)
        return _Parts(out, 1.0, float(np.median(f0)), 0.95, rate, {"variant": kind})
    if sub == "alarm":
        f = math.exp(rng.uniform(math.log(500), math.log(3500)))
        on = _bursts(rng, n, (0.0, 0.1), (1, 4), (0.1, 0.4), (0.3, 1.0))
        idx, since = _segments(n, (on * _SR).astype(np.int64))
        length = rng.uniform(0.45, 0.75) * np.diff(np.append(on, on[-1] + 0.3)).min() * _SR
        env = _gate(since, 0, length, 0.002) * (idx >= 0)
        two = rng.random() < 0.25
        f0 = np.where(two & (np.maximum(idx, 0) % 2 == 1), f * 1.25, f)
        amps = np.array([1.0]) if rng.random() < 0.5 else np.array([1.0 / k if k % 2 else 0.0 for k in range(1, 10)])
        out = env * _osc(f0 * np.ones(n), amps)
        return _Parts(out, 1.0, _f0_median(f0 * np.ones(n), env), 0.98, _rate(on, n), {})
    if sub == "drill":
        motor = rng.uniform(100, 300)
        length = rng.uniform(0.4, 1.5)
        runs = _bursts(rng, n, (0.0, 0.1), (1, 1), (0, 0), (length + 0.2, length + 0.5))
        idx, since = _segments(n, (runs * _SR).astype(np.int64))
        length *= _SR
        spin = np.clip(since / (rng.uniform(0.1, 0.2) * _SR), 0, 1) * (since < length)
        spin = _smooth(spin * (idx >= 0), 0.08)
        load = _slow_curve(rng, n, rng.uniform(2, 6), 0.85, 1.0)
        f0 = motor * (0.3 + 0.7 * spin) * load
        k = np.arange(1, _n_harm(motor * 0.3) + 1)
        mesh = int(rng.integers(8, 20))
        amps = k**-0.7 + 2.0 * np.exp(-0.5 * ((k - mesh) / 0.7) ** 2)
        whine = _osc(f0, amps[: _n_harm(motor)])
        noise = _band(rng.standard_normal(n), 1000, 6000)
        g = rng.uniform(0.3, 0.6)
        out = spin * (_unit(whine) + g * _unit(noise))
        return _Parts(out, 0.8, _f0_median(f0, spin), 0.8 / (1 + g**2), _rate(runs, n), {})
    raise AssertionError(sub)


# ---------------------------------------------------------------------------
# Environmental scenes
# ---------------------------------------------------------------------------
def _envsound(rng: np.random.Generator, n: int, sub: str) -> _Parts:
    t = np.arange(n) / _SR
    if sub == "crowd":
        # Babble: each talker is a glottal pulse train (pulse times from its f0 contour)
        # gated into syllables with random vowels; pulses are pooled per vowel so that
        # only one formant filter per vowel runs, whatever the number of talkers.
        talkers = int(rng.integers(6, 20))
        vowels = ["a", "e", "i", "o", "u"]
        exc = np.zeros((len(vowels), n))
        step = 0.01
        tc = np.arange(int(n / _SR / step) + 2) * step
        f0s, syll = [], []
        for _ in range(talkers):
            female = rng.random() < 0.5
            f0m = rng.uniform(180, 260) if female else rng.uniform(95, 150)
            curve = f0m * _slow_curve(rng, tc.size, 3, 0.85, 1.15, fs=1 / step)
            cyc = np.concatenate([[0.0], np.cumsum(curve[:-1]) * step]) + rng.uniform(0, 1)
            pulse_t = np.interp(np.arange(np.ceil(cyc[0]), cyc[-1]), cyc, tc)
            pulse_t = pulse_t[pulse_t < n / _SR]
            on = _times(rng, n, 1.0 / rng.uniform(3, 6), 0.3, rng.uniform(-0.2, 0.2))
            idx = np.searchsorted(on, pulse_t, side="right") - 1
            since = pulse_t - on[np.maximum(idx, 0)]
            d = rng.uniform(0.1, 0.25)
            env = np.where((idx >= 0) & (since < d), np.sin(np.pi * np.clip(since / d, 0, 1)), 0.0)
            vow = rng.integers(0, len(vowels), on.size)[np.maximum(idx, 0)]
            np.add.at(exc, (vow, (pulse_t * _SR).astype(np.int64)), env * rng.uniform(0.5, 1.0))
            f0s.append(f0m)
            syll.append(on)
        b, a = _biquad("low", 400.0)
        glottal = np.diff(lfilter(b, a, exc, axis=1), axis=1, prepend=0.0)  # pulse shape + lip radiation
        out = sum(_vowel_filter(glottal[v], vowels[v], 1.1) for v in range(len(vowels)))
        murmur = _filt(_coloured(rng, n, 1.0), "low", 1000)
        out = _unit(out) + 0.25 * _unit(murmur)
        pitched = 0.7 * min(1.0, 2.0 / talkers)
        info = {"talkers": str(talkers)}
        return _Parts(out, pitched, float(np.median(f0s)), 0.5, _rate(np.concatenate(syll), n), info)
    if sub == "traffic":
        passes = _poisson(rng, n, rng.uniform(0.5, 1.5), -0.5)
        passes = np.append(passes, rng.uniform(0, n / _SR))  # at least one vehicle
        tyre = _band(rng.standard_normal(n + _SR), 300, 2500)
        out = np.zeros(n)
        f0s = []
        for tc in passes:
            d, v = rng.uniform(3, 15), rng.uniform(8, 25)
            x = v * (t - tc)
            r = np.sqrt(d * d + x * x)
            doppler = 1.0 / (1.0 + v * x / r / 343.0)
            f0 = rng.uniform(25, 80)
            engine = _osc(f0 * doppler, _glottal_amps(f0 * 0.9, 1.0, rng)[:30])
            shift = int(rng.integers(0, _SR))
            out += (d / r) * (0.5 * _unit(engine) + _unit(tyre[shift : shift + n]))
            f0s.append(f0)
        bed = _filt(_coloured(rng, n, 2.0), "low", 400)
        out = out + 0.3 * _unit(bed)
        return _Parts(out, 0.3, float(np.median(f0s)), 0.3, _rate(passes, n), {"vehicles": str(passes.size)})
    if sub == "door":
        creak = rng.random() < 0.8
        t0 = rng.uniform(0.0, 0.15)
        out = np.zeros(n)
        events = [t0]
        f0_med, frac = 0.0, 0.0
        slam_t = t0
        if creak:
            length = rng.uniform(0.3, 1.0)
            rate_c = _slow_curve(rng, n, rng.uniform(1, 4), 30, 200)
            cyc = np.cumsum(rate_c) / _SR
            pulses = np.flatnonzero(np.diff(np.floor(cyc), prepend=0.0) > 0)
            env = _gate(t * _SR, t0 * _SR, (t0 + length) * _SR, 0.05)
            exc = _impulses(n, pulses, rng.uniform(0.5, 1.0, pulses.size)) * env
            fr = rng.uniform(500, 2500, 3)
            out += _unit(_resonances(exc, fr, rng.uniform(50, 150, 3), np.array([1.0, 0.7, 0.5])))
            f0_med, frac = float(np.median(rate_c[env > 0.5])) if np.any(env > 0.5) else float(rate_c[0]), 0.8
            slam_t = t0 + length + rng.uniform(0.05, 0.3)
            events.append(slam_t)
        kern = _damped_modes(rng, rng.uniform(60, 150, 2), rng.uniform(0.06, 0.15, 2), [1.0, 0.7], 0.6)
        kern += _damped_modes(rng, rng.uniform(200, 600, 3), rng.uniform(0.02, 0.04, 3), [0.5, 0.4, 0.3], 0.6)
        kern[:300] += 0.3 * _noise_burst(rng, 0.015, 0.002, 1000, 8000)
        latch = _damped_modes(rng, rng.uniform(2000, 4000, 2), [0.004, 0.003], [1.0, 0.5], 0.03)
        slam_on = [int(slam_t * _SR)]
        latch_on = [int((slam_t + rng.uniform(0.02, 0.05)) * _SR)]
        out += 3.0 * _hits(n, slam_on, [1.0], kern) + 0.6 * _hits(n, latch_on, [1.0], latch)
        if not creak:
            events.append(slam_t + 0.03)
        out = _room(rng, out, rng.uniform(0.3, 0.8), rng.uniform(0.2, 0.5))
        pitched = frac * length / (length + 0.3) if creak else 0.0
        return _Parts(out, pitched, f0_med, 0.2, _rate(np.array(events), n), {"creak": str(creak)})
    if sub == "bells":
        church = rng.random() < 0.6
        if church:
            bells = [rng.uniform(200, 500)] + ([rng.uniform(150, 400)] if rng.random() < 0.5 else [])
            ratios, decays = (0.5, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0), rng.uniform(1.0, 4.0)
        else:
            top = rng.uniform(600, 1000)
            bells = [top, top / rng.choice([1.26, 1.33, 1.5])]
            ratios, decays = (1.0, 2.76, 5.4), rng.uniform(0.6, 1.5)
        ioi = rng.uniform(0.4, 1.2)
        strikes = _times(rng, n, ioi, 0.03, rng.uniform(0, 0.1))
        out = np.zeros(n)
        for b, f in enumerate(bells):
            # Each partial is a resonator (damped sinusoid) excited by the strikes.
            taus = decays / (1 + 0.4 * np.arange(len(ratios)))
            amps = rng.uniform(0.4, 1.0, len(ratios)) / (1 + 0.2 * np.arange(len(ratios)))
            mine = strikes[b :: len(bells)]
            exc = _impulses(n, (mine * _SR).astype(np.int64), rng.uniform(0.8, 1.0, mine.size))
            freqs = np.array(ratios) * f
            keep = freqs < _NYQ_SAFE
            out += _resonances(exc, freqs[keep], 1.0 / (np.pi * taus[keep]), amps[keep])
        # Strike pitch: the prime (church bell) or the fundamental (chime), median over strikes.
        struck = [bells[i % len(bells)] for i in range(len(strikes))] or bells[:1]
        info = {"bell": "church" if church else "chime"}
        return _Parts(out, 0.7, float(np.median(struck)), 0.4, _rate(strikes, n), info)
    raise AssertionError(sub)


# ---------------------------------------------------------------------------
# Speech (espeak-ng)
# ---------------------------------------------------------------------------
# Variants that sound like a plain (voiced) human talker; whispers and robots are left out.
_SPEECH_VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
    "Andy", "Annie", "belinda", "david", "edward", "linda", "max", "steph", "victor",
)  # fmt: skip
_RESOURCES = Path(__file__).resolve().parent / "resources"


@functools.lru_cache(maxsize=1)
def _word_lists() -> tuple[tuple[str, ...], tuple[str, ...]]:
    def read(name: str) -> tuple[str, ...]:
        lines = (ln.strip() for ln in (_RESOURCES / name).read_text(encoding="utf-8").splitlines())
        return tuple(ln for ln in lines if ln and not ln.startswith("#"))

    return read("context_words.txt"), read("vocabulary.txt")


@functools.lru_cache(maxsize=1)
def _synth():
    from data.tts import EspeakSynthesizer

    return EspeakSynthesizer(sample_rate=_SR)


@functools.lru_cache(maxsize=1)
def _voice_names() -> tuple[tuple[str, ...], frozenset[str], tuple[str, ...]]:
    from data.tts import all_voices, english_voices, voice_variants

    variants = tuple(v for v in _SPEECH_VARIANTS if v in set(voice_variants()))
    return tuple(english_voices()), frozenset(all_voices()), variants


def _english_sentence(rng: np.random.Generator) -> str:
    context, vocab = _word_lists()
    words = []
    for _ in range(int(rng.integers(6, 11))):
        pool = vocab if rng.random() < 0.35 else context
        words.append(str(pool[int(rng.integers(len(pool)))]))
    return " ".join(words).capitalize() + "."


_VOWEL_RE = re.compile(
    r"[aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿœąęó\u0430\u0435\u0451\u0438\u043e\u0443\u044b\u044d\u044e\u044f]+"
)
_CJK_RE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
_DEVANAGARI_RE = re.compile(r"[\u0905-\u0914]|[\u0915-\u0939](?!\u094d)")


def _syllables(word: str, english: bool) -> int:
    """Approximate syllable count: Han/kana characters, Devanagari akshara, else vowel groups."""
    w = word.lower()
    cjk = len(_CJK_RE.findall(w))
    if cjk:
        return cjk
    dev = len(_DEVANAGARI_RE.findall(w))
    if dev:
        return dev
    if english and len(w) > 2 and w.endswith("e") and not w.endswith(("le", "ee")) and w[-2] not in "aeiouy":
        w = w[:-1]  # silent final e
    groups = _VOWEL_RE.findall(w.removeprefix("y"))
    return max(1, len(groups)) if any(c.isalpha() for c in w) else 0


def _track_f0(x: np.ndarray, fmin: float = 60.0, fmax: float = 500.0) -> tuple[float, float]:
    """(median f0 Hz of voiced frames, voiced fraction of the frames within 35 dB of the
    loudest) from the normalised autocorrelation of 40 ms frames every 10 ms. A frame is
    voiced if its highest autocorrelation peak between 1/fmax and 1/fmin exceeds 0.5;
    its period is the first peak within 10 % of that one (avoids period multiples)."""
    size, hop, nfft = int(0.04 * _SR), int(0.01 * _SR), 2048
    if x.size < size:
        return 0.0, 0.0
    frames = np.lib.stride_tricks.sliding_window_view(x, size)[::hop]
    frames = frames - frames.mean(1, keepdims=True)
    win = np.hanning(size)
    energy = np.sum((frames * win) ** 2, axis=1)
    active = energy > energy.max() * 10 ** (-3.5)
    ac = np.fft.irfft(np.abs(np.fft.rfft(frames * win, nfft)) ** 2, nfft)[:, :size]
    wac = np.fft.irfft(np.abs(np.fft.rfft(win, nfft)) ** 2, nfft)[:size]
    lo, hi = int(_SR / fmax) - 1, int(_SR / fmin) + 2
    r = ac[:, lo:hi] / np.maximum(ac[:, :1], 1e-12) / (wac[lo:hi] / wac[0])
    peak = np.zeros(r.shape, dtype=bool)
    peak[:, 1:-1] = (r[:, 1:-1] >= r[:, :-2]) & (r[:, 1:-1] > r[:, 2:])
    best = np.where(peak, r, -np.inf).max(1)
    first = np.argmax(peak & (r >= 0.9 * best[:, None]), axis=1)
    voiced = active & (best > 0.5)
    if not voiced.any():
        return 0.0, 0.0
    rows = np.arange(r.shape[0])
    a, b, c = r[rows, first - 1], r[rows, first], r[rows, np.minimum(first + 1, r.shape[1] - 1)]
    den = a - 2 * b + c
    delta = np.where(np.abs(den) > 1e-12, 0.5 * (a - c) / np.where(den == 0, 1, den), 0.0)
    lag = lo + first + np.clip(delta, -0.5, 0.5)
    return float(np.median(_SR / lag[voiced])), float(voiced.sum() / max(active.sum(), 1))


def _speech(rng: np.random.Generator, n: int, sub: str) -> _Parts:
    from data.tts import Voice

    english, available, variants = _voice_names()
    if sub == "english":
        lang = str(rng.choice(english))
        sentences = None
    else:
        lang, sentences = _FOREIGN[sub]
        if lang not in available:
            raise RuntimeError(f"espeak voice {lang!r} for {sub!r} is not installed")
    variant = str(rng.choice(variants)) if variants and rng.random() < 0.85 else None
    voice = Voice(
        lang,
        variant=variant,
        pitch=int(rng.integers(25, 76)),
        rate=int(rng.integers(130, 211)),
        pitch_range=int(rng.integers(30, 81)),
    )
    order = rng.permutation(len(sentences)) if sentences else None
    pieces, texts, syll_times = [], [], []
    total = 0
    for i in range(int(n / _SR / 1.0) + 3):
        text = _english_sentence(rng) if sentences is None else sentences[order[i % len(sentences)]]
        utt = _synth().synthesize(text, voice)
        for w in utt.words:  # syllables spread evenly over each word's audible part
            k = _syllables(w.text, sentences is None)
            syll_times.extend((total + w.start + (w.end - w.start) * np.arange(k) / max(k, 1)) / _SR)
        pieces.append(utt.waveform.astype(np.float64))
        texts.append(text)
        total += utt.waveform.size
        if total >= n:
            break
    wave = np.concatenate(pieces)
    if wave.size < n:  # loop if espeak was unusually fast
        wave = np.tile(wave, n // wave.size + 1)
    wave = wave[:n]
    f0, voiced = _track_f0(wave)
    info = {"voice": voice.name(), "language": lang, "text": " ".join(texts)}
    return _Parts(wave, voiced, f0, 0.85 * voiced, _rate(np.array(syll_times), n), info)


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------
_GENERATORS = {
    "Music": _music,
    "Song": _song,
    "EngSpeech": _speech,
    "ForSpeech": _speech,
    "HumVoc": _humvoc,
    "AniVoc": _anivoc,
    "HumNonVoc": _humnonvoc,
    "AniNonVoc": _aninonvoc,
    "Nature": _nature,
    "Mechanical": _mechanical,
    "EnvSound": _envsound,
}


def _rng(*parts: object) -> np.random.Generator:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _finalize(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Noise floor, fades, demeaning, soft limiting (only if needed) and RMS 0.1."""
    x = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    n = x.size
    x = x + max(_rms(x), 1e-6) * 10 ** (-45 / 20) * _coloured(rng, n, 1.0)
    fade = min(int(0.005 * _SR), n // 4)
    if fade > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
        x[:fade] *= ramp
        x[n - fade :] *= ramp[::-1]
    for _ in range(20):
        x = x - x.mean()
        x = x * (_TARGET_RMS / _rms(x))
        if np.max(np.abs(x)) <= _PEAK_MAX:
            break
        # Impulsive sound: soft-clip only what exceeds the knee; the rest stays linear.
        knee, ceiling = 0.6, 0.85
        mag = np.abs(x)
        over = mag > knee
        x[over] = np.sign(x[over]) * (knee + (ceiling - knee) * np.tanh((mag[over] - knee) / (ceiling - knee)))
    x = x - x.mean()
    return (x * (_TARGET_RMS / _rms(x))).astype(np.float32)


def _check_duration(duration: float) -> int:
    if isinstance(duration, bool) or not isinstance(duration, numbers.Real):
        raise TypeError(f"duration must be a number of seconds, got {duration!r}")
    d = float(duration)
    if not math.isfinite(d) or d <= 0:
        raise ValueError(f"duration must be a positive number of seconds, got {duration!r}")
    if d < MIN_DURATION:
        raise ValueError(f"duration must be at least {MIN_DURATION} s, got {duration!r}")
    return round(d * _SR)


def synthesize(category: str, seed: int, duration: float = 2.0, subtype: str | None = None) -> SynthSound:
    """Render one sound of ``category`` (one of :data:`CATEGORIES`).

    Args:
        category: NH2015 category name.
        seed: any integer; the same ``(category, subtype, seed)`` gives bit-identical
            audio, different seeds give different sounds.
        duration: length in seconds (>= :data:`MIN_DURATION`); the waveform has
            ``round(duration * 20000)`` samples. Clips shorter than 0.5 s are the start
            of a 0.5 s rendering (and carry its latents).
        subtype: one of ``SUBTYPES[category]``; ``None`` picks one from the seed
            (``synthesize(c, s)`` equals ``synthesize(c, s, subtype=<the picked one>)``).

    Returns:
        :class:`SynthSound` with a float32 ``[round(duration * 20000)]`` waveform at
        20 kHz (demeaned, RMS 0.1, peak < 1) and its latents.

    Raises:
        ValueError: unknown category or subtype (the message lists the valid ones), a
            subtype of another category, or a duration that is not a positive number of
            seconds >= MIN_DURATION.
    """
    if category not in SUBTYPES:
        raise ValueError(f"unknown category {category!r}; valid categories: {', '.join(CATEGORIES)}")
    seed = operator.index(seed)
    n = _check_duration(duration)
    valid = SUBTYPES[category]
    if subtype is None:
        subtype = valid[int(_rng(category, seed).integers(len(valid)))]
    elif subtype not in valid:
        raise ValueError(f"unknown subtype {subtype!r} for category {category!r}; valid subtypes: {', '.join(valid)}")
    rng = _rng(category, subtype, seed)
    parts = _GENERATORS[category](rng, max(n, int(_MIN_RENDER * _SR)), subtype)
    wave = _finalize(parts.wave[:n], rng)
    latents = {k: float(v) for k, v in zip(_FLAG_KEYS, _FLAGS[category])}
    latents.update(_FLAG_OVERRIDES.get(subtype, {}))
    pitched = float(np.clip(parts.pitched, 0.0, 1.0))
    latents.update(
        pitched=pitched,
        f0=float(parts.f0) if pitched > 0 else 0.0,
        harmonicity=float(np.clip(parts.harmonicity, 0.0, 1.0)),
        onset_rate=float(parts.onset_rate),
    )
    return SynthSound(wave, category, subtype, latents, dict(parts.info))


def synthesize_event(subtype: str, seed: int, duration: float = 2.0) -> SynthSound:
    """Render one sound of an event class (any name in :data:`EVENT_CLASSES`; the speech
    language subtypes are accepted too). Same as ``synthesize(<its category>, seed,
    duration, subtype)``: float32 ``[round(duration * 20000)]`` at 20 kHz, RMS 0.1.

    Raises:
        ValueError: unknown subtype (the message lists the event classes) or a bad
            duration.
    """
    if subtype not in _CATEGORY_OF:
        raise ValueError(f"unknown event class {subtype!r}; valid event classes: {', '.join(EVENT_CLASSES)}")
    return synthesize(_CATEGORY_OF[subtype], seed, duration, subtype)

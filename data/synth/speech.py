"""Speech of the stimulus synthesizer: English accents and foreign languages spoken by espeak-ng.

EngSpeech: English espeak accents speaking random sentences made of the words of
``data/resources/*.txt`` (:mod:`data.synth.texts`); ForSpeech: non-English espeak voices
speaking the everyday sentences of their language (:data:`data.synth.texts.FOREIGN`). Voice
variant, pitch, rate and pitch range are random; sentences are concatenated and cut to
length. The shared engine :func:`data.synth.espeak.espeak_engine` renders them.

espeak is a black box, so the latents come from its output: ``f0`` and ``pitched`` (voiced
fraction of the frames within 35 dB of the loudest) from an autocorrelation pitch tracker
(:func:`_track_f0`), and ``onset_rate`` counts the syllables of the words espeak reports
inside the clip (vowel groups; one per Han character, kana or Devanagari akshara).
"""

from __future__ import annotations

import functools
import re

import numpy as np

from data.audio import SAMPLE_RATE as SR
from data.synth.espeak import Voice, all_voices, english_voices, espeak_engine, voice_variants
from data.synth.parts import Generator, Parts
from data.synth.texts import FOREIGN, context_words, vocabulary_words
from data.synth.timing import onset_rate

__all__ = ["GENERATORS"]

# Variants that sound like a plain (voiced) human talker; whispers and robots are left out.
_SPEECH_VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
    "Andy", "Annie", "belinda", "david", "edward", "linda", "max", "steph", "victor",
)  # fmt: skip


@functools.lru_cache(maxsize=1)
def _english_words() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(context words, labelled words) of English sentences: every word of both resource
    lists, the corpus's validation context included."""
    train, val = context_words()
    return (*train, *val), tuple(vocabulary_words())


@functools.lru_cache(maxsize=1)
def _voice_names() -> tuple[tuple[str, ...], frozenset[str], tuple[str, ...]]:
    """(English accents, every installed voice, the installed :data:`_SPEECH_VARIANTS`)."""
    variants = tuple(v for v in _SPEECH_VARIANTS if v in set(voice_variants()))
    return tuple(english_voices()), frozenset(all_voices()), variants


def _english_sentence(rng: np.random.Generator) -> str:
    """A sentence of 6-10 random words, each a labelled-vocabulary word with probability 0.35."""
    context, vocab = _english_words()
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
    size, hop, nfft = int(0.04 * SR), int(0.01 * SR), 2048
    if x.size < size:
        return 0.0, 0.0
    frames = np.lib.stride_tricks.sliding_window_view(x, size)[::hop]
    frames = frames - frames.mean(1, keepdims=True)
    win = np.hanning(size)
    energy = np.sum((frames * win) ** 2, axis=1)
    active = energy > energy.max() * 10 ** (-3.5)
    ac = np.fft.irfft(np.abs(np.fft.rfft(frames * win, nfft)) ** 2, nfft)[:, :size]
    wac = np.fft.irfft(np.abs(np.fft.rfft(win, nfft)) ** 2, nfft)[:size]
    lo, hi = int(SR / fmax) - 1, int(SR / fmin) + 2
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
    return float(np.median(SR / lag[voiced])), float(voiced.sum() / max(active.sum(), 1))


def _speech(rng: np.random.Generator, n: int, sub: str) -> Parts:
    """Speech of subtype ``sub`` ("english", or a language key of :data:`FOREIGN`): sentences
    spoken by one random espeak voice, concatenated and cut to ``n`` samples."""
    english, available, variants = _voice_names()
    if sub == "english":
        lang = str(rng.choice(english))
        sentences = None
    else:
        lang, sentences = FOREIGN[sub]
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
    for i in range(int(n / SR / 1.0) + 3):
        text = _english_sentence(rng) if sentences is None else sentences[order[i % len(sentences)]]
        utt = espeak_engine(SR).synthesize(text, voice)
        for w in utt.words:  # syllables spread evenly over each word's audible part
            k = _syllables(w.text, sentences is None)
            syll_times.extend((total + w.start + (w.end - w.start) * np.arange(k) / max(k, 1)) / SR)
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
    return Parts(wave, voiced, f0, 0.85 * voiced, onset_rate(np.array(syll_times), n), info)


GENERATORS: dict[str, Generator] = {sub: functools.partial(_speech, sub=sub) for sub in ("english", *FOREIGN)}

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

:func:`word_clip` is English speech laid out like the embedded corpus's clips
(:mod:`data.corpus`): one given word with its midpoint at the clip's centre between context
words, by a random voice of the same distribution (the synthetic benchmark's English speech,
:mod:`evaluate.synthetic`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np

from data.audio import SAMPLE_RATE as SR
from data.synth.espeak import Voice, all_voices, english_voices, espeak_engine, voice_variants
from data.synth.parts import Generator, Parts
from data.synth.texts import FOREIGN, context_words, vocabulary_words
from data.synth.timing import onset_rate

__all__ = ["GENERATORS", "WORD_CONTEXT_WORDS", "word_clip"]

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


def _random_voice(rng: np.random.Generator, lang: str, variants: Sequence[str]) -> Voice:
    """A voice of ``lang``: a random plain variant (85 %), pitch 25-75, rate 130-210 words
    per minute, pitch range 30-80."""
    variant = str(rng.choice(variants)) if variants and rng.random() < 0.85 else None
    return Voice(
        lang,
        variant=variant,
        pitch=int(rng.integers(25, 76)),
        rate=int(rng.integers(130, 211)),
        pitch_range=int(rng.integers(30, 81)),
    )


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
    voice = _random_voice(rng, lang, variants)
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


WORD_CONTEXT_WORDS = (3, 6)  # [low, high) context words before and after the word, as data.corpus
_MAX_CONTEXT_DRAWS = 20


def _isolated(words: Sequence, token_index: int, expected: str):
    """The timing of whitespace token ``token_index`` if espeak spoke it as a word of its own."""
    seen = 0
    for timing in words:
        if seen == token_index:
            return timing if timing.text.lower() == expected.lower() else None
        seen += len(timing.text.split())
        if seen > token_index:
            return None
    return None


def word_clip(rng: np.random.Generator, n: int, word: str, context: Sequence[str] | None = None) -> Parts:
    """English speech of ``n`` samples saying ``word`` with its midpoint at sample ``n // 2``.

    One random English voice (accent and :func:`_random_voice`, as EngSpeech) says 3-5
    ``context`` words (default: the held-out validation context words of
    :func:`data.synth.texts.context_words`), ``word``, and 3-5 more, the layout of the
    embedded corpus's clips; silence pads a short utterance. A draw in which espeak does
    not give ``word`` its own word event is redrawn (up to 20 times). Latents as
    EngSpeech; ``info`` adds ``word``, ``word_start`` and ``word_end`` (samples in the clip).

    Raises:
        ValueError: ``word`` is not one non-empty token, ``n`` is shorter than 0.5 s, or
            espeak never isolates it.
    """
    if not isinstance(word, str) or len(word.split()) != 1:
        raise ValueError(f"word must be one whitespace-free token, got {word!r}")
    if n < SR // 2:
        raise ValueError(f"a word clip needs at least {SR // 2} samples (0.5 s), got n={n}")
    english, _, variants = _voice_names()
    pool = tuple(context) if context is not None else tuple(context_words()[1])
    if not pool:
        raise ValueError("context must hold at least one word")
    voice = _random_voice(rng, str(rng.choice(english)), variants)
    for _ in range(_MAX_CONTEXT_DRAWS):
        n_before, n_after = (int(v) for v in rng.integers(*WORD_CONTEXT_WORDS, size=2))
        before = [pool[int(i)] for i in rng.integers(len(pool), size=n_before)]
        after = [pool[int(i)] for i in rng.integers(len(pool), size=n_after)]
        text = " ".join([*before, word, *after])
        utt = espeak_engine(SR).synthesize(text, voice)
        target = _isolated(utt.words, n_before, word)
        if target is not None:
            break
    else:
        raise ValueError(f"espeak never isolated {word!r} ({voice.name()}) in {_MAX_CONTEXT_DRAWS} contexts")
    offset = n // 2 - (target.start + target.end) // 2  # clip sample = utterance sample + offset
    wave = np.zeros(n)
    lo, hi = max(0, offset), min(n, offset + utt.waveform.size)
    wave[lo:hi] = utt.waveform[lo - offset : hi - offset]
    syll_times = []
    for w in utt.words:  # syllables spread evenly over each word's audible part
        k = _syllables(w.text, True)
        syll_times.extend((offset + w.start + (w.end - w.start) * np.arange(k) / max(k, 1)) / SR)
    f0, voiced = _track_f0(wave)
    info = {
        "voice": voice.name(),
        "language": voice.language,
        "text": text,
        "word": word,
        "word_start": str(max(0, target.start + offset)),
        "word_end": str(min(n, target.end + offset)),
    }
    return Parts(wave, voiced, f0, 0.85 * voiced, onset_rate(np.array(syll_times), n), info)


GENERATORS: dict[str, Generator] = {sub: functools.partial(_speech, sub=sub) for sub in ("english", *FOREIGN)}

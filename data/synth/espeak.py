"""Deterministic speech synthesis with libespeak-ng: voices, utterances and the one engine.

Example::

    synth = espeak_engine(20000)  # the process's shared engine at 20 kHz
    utt = synth.synthesize("The quick brown fox.", Voice("en-us", variant="m3"))
    utt.waveform      # float32 [n_samples], 20 kHz, in [-1, 1)
    utt.words         # [WordTiming(text='The', start=0, end=...), ...] in samples

The same ``(text, voice)`` always gives bit-identical output, independent of earlier calls
(how: :mod:`data.synth.espeak_lib`); word timings come from :mod:`data.synth.alignment`.
Text is synthesised with ``espeakENDPAUSE``, so the waveform ends with espeak's natural
sentence-final pause (~0.3 s). espeak itself puts ~0-50 ms (typically 12 ms) of silence
before the first phoneme, and word starts include stop closures (the audible onset follows
the reported start by 0-50 ms, median 10 ms).
"""

from __future__ import annotations

import difflib
import operator
import os
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from data.audio import SAMPLE_RATE, resample
from data.synth.alignment import FRAME_SECONDS, align_words, strip_punctuation, word_ends
from data.synth.espeak_lib import Instance, VoiceInfo, get_process

__all__ = [
    "EspeakSynthesizer",
    "Utterance",
    "Voice",
    "WordTiming",
    "all_voices",
    "english_voices",
    "espeak_engine",
    "voice_variants",
]

PITCH_RANGE = (0, 100)  # espeak base pitch
RATE_RANGE = (80, 450)  # words per minute (espeakRATE_MINIMUM .. espeakRATE_MAXIMUM)
PITCH_RANGE_RANGE = (0, 100)  # espeak pitch range (0 = monotone, 50 = normal)
SAMPLE_RATE_RANGE = (1000, 192000)  # Hz, accepted output sample rates

# English voices that are not accents: en-Shaw is British English for text written
# in the Shavian alphabet; on Latin-script text it is bit-identical to "en".
_NON_ACCENT_ENGLISH = frozenset({"en-shaw"})


# ---------------------------------------------------------------------------
# Public data types
# ---------------------------------------------------------------------------
def _check_int(field: str, value: object, lo: int, hi: int, what: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"Voice.{field} must be an integer ({what}), got {value!r}")
    try:
        ivalue = operator.index(value)  # int, numpy integers, ...
    except TypeError:
        raise TypeError(f"Voice.{field} must be an integer ({what}), got {value!r}") from None
    if not lo <= ivalue <= hi:
        raise ValueError(f"Voice.{field} must be in the range {lo}..{hi} ({what}), got {ivalue}")
    return ivalue


@dataclass(frozen=True)
class Voice:
    """An espeak voice and its prosody settings.

    Attributes:
        language: espeak voice name, i.e. the voice file name, case-insensitive,
            e.g. ``"en-us"``, ``"en"``, ``"en-gb-scotland"``, ``"en-029"``, ``"de"``,
            ``"fr"`` (see :func:`english_voices`).
        variant: a file name in ``espeak-ng-data/voices/!v`` (case-sensitive), e.g.
            ``"m3"``, ``"f2"``, ``"klatt"``, or ``None`` for the plain voice
            (see :func:`voice_variants`).
        pitch: espeak base pitch, 0..100 (50 = normal).
        rate: speaking rate in words per minute, 80..450 (175 = normal).
        pitch_range: espeak pitch range, 0..100 (0 = monotone, 50 = normal).

    Ranges are checked on construction (``ValueError`` naming the field); whether
    ``language`` and ``variant`` exist is checked by
    :meth:`EspeakSynthesizer.synthesize`.
    """

    language: str
    variant: str | None = None
    pitch: int = 50
    rate: int = 175
    pitch_range: int = 50

    def __post_init__(self) -> None:
        if not isinstance(self.language, str) or not self.language.strip():
            raise ValueError(f"Voice.language must be a non-empty espeak voice name, got {self.language!r}")
        if "+" in self.language or any(c.isspace() for c in self.language):
            raise ValueError(
                f"Voice.language must be a bare espeak voice name such as 'en-us' "
                f"(give the variant separately: Voice('en-us', variant='m3')), got {self.language!r}"
            )
        if self.variant is not None:
            if (
                not isinstance(self.variant, str)
                or not self.variant
                or any(c in self.variant for c in "+/\\\0")
                or self.variant in (".", "..")
            ):
                raise ValueError(
                    f"Voice.variant must be None or a file name in espeak-ng-data/voices/!v "
                    f"such as 'm3', got {self.variant!r}"
                )
        for field, lo_hi, what in (
            ("pitch", PITCH_RANGE, "espeak base pitch"),
            ("rate", RATE_RANGE, "words per minute"),
            ("pitch_range", PITCH_RANGE_RANGE, "espeak pitch range"),
        ):
            object.__setattr__(self, field, _check_int(field, getattr(self, field), *lo_hi, what))

    def name(self) -> str:
        """The name passed to ``espeak_SetVoiceByName``, e.g. ``"en-us+m3"``."""
        return self.language if self.variant is None else f"{self.language}+{self.variant}"


@dataclass(frozen=True)
class WordTiming:
    """Where one word of the input text is in the waveform.

    Attributes:
        text: the word as it appears in the input text (a whitespace-delimited
            token with leading/trailing punctuation removed; tokens that espeak
            speaks without a word event of their own are joined to the previous
            word, e.g. ``"U.S.A. e-mail"``).
        start: first sample of the word, at the output sample rate.
        end: one past the last sample of the word (end of its audible part), at
            the output sample rate.
    """

    text: str
    start: int
    end: int


@dataclass
class Utterance:
    """Synthesised speech.

    Attributes:
        waveform: float32 ``[n_samples]`` at ``sample_rate``; espeak's int16 samples
            scaled by 1/32768 (after resampling, clipped to ``[-1, 32767/32768]``).
        sample_rate: samples per second (Hz).
        words: the spoken words in order, with timings in samples.
    """

    waveform: np.ndarray
    sample_rate: int
    words: list[WordTiming]

    @property
    def duration(self) -> float:
        """Length of the waveform in seconds."""
        return len(self.waveform) / self.sample_rate


# ---------------------------------------------------------------------------
# Voice lists and validation
# ---------------------------------------------------------------------------
def _voices() -> dict[str, VoiceInfo]:
    voices = get_process().voices
    assert voices is not None
    return voices


def english_voices() -> list[str]:
    """English espeak voice names (accents) in the bundled data, sorted, e.g.
    ``["en", "en-029", "en-gb-scotland", ..., "en-us", "en-us-nyc"]``.

    ``"en"`` is British English. ``"en-shaw"`` (Shavian alphabet) is left out: it is
    not an accent and speaks Latin-script text exactly like ``"en"``."""
    out = []
    for key, info in _voices().items():
        primary = info.languages[0].lower() if info.languages else key
        if (primary == "en" or primary.startswith("en-")) and key not in _NON_ACCENT_ENGLISH:
            out.append(key)
    return sorted(out)


def all_voices() -> list[str]:
    """All espeak voice names (any language) in the bundled data, sorted."""
    return sorted(_voices())


def voice_variants() -> list[str]:
    """Variant names (file names in ``espeak-ng-data/voices/!v``), sorted."""
    proc = get_process()
    if proc.variants is None:
        folder = os.path.join(proc.data_path, "voices", "!v")
        proc.variants = sorted(f for f in os.listdir(folder) if os.path.isfile(os.path.join(folder, f)))
    return list(proc.variants)


def _suggest(wanted: str, names: list[str], preferred: list[str], n: int = 8) -> str:
    close = difflib.get_close_matches(wanted, names, n=4, cutoff=0.5)
    shown = list(dict.fromkeys(close + [p for p in preferred if p in names] + names))[:n]
    return ", ".join(repr(s) for s in shown) + f" ({len(names)} in total)"


def _validate_voice(voice: Voice) -> None:
    if not isinstance(voice, Voice):
        raise TypeError(f"voice must be a Voice, got {type(voice).__name__}")
    voices = _voices()
    key = voice.language.lower()
    known = key in voices or any(info.identifier.lower() == key for info in voices.values())
    if not known:
        names = sorted(voices)
        raise ValueError(
            f"unknown espeak voice {voice.name()!r}: language {voice.language!r} is not available; "
            f"available voices include {_suggest(key, names, ['en', 'en-us', 'en-gb-scotland', 'de', 'fr'])}"
        )
    if voice.variant is not None:
        variants = voice_variants()
        if voice.variant not in variants:
            raise ValueError(
                f"unknown espeak voice {voice.name()!r}: variant {voice.variant!r} is not in voices/!v; "
                f"available variants include {_suggest(voice.variant, variants, ['m1', 'm3', 'f2', 'klatt'])}"
            )


# ---------------------------------------------------------------------------
# Synthesizer
# ---------------------------------------------------------------------------
def _check_sample_rate(sample_rate: object) -> int:
    """``sample_rate`` as an int in SAMPLE_RATE_RANGE Hz (TypeError / ValueError otherwise)."""
    if isinstance(sample_rate, bool):
        raise TypeError(f"sample_rate must be an integer number of Hz, got {sample_rate!r}")
    try:
        sr = operator.index(sample_rate)
    except TypeError:
        raise TypeError(f"sample_rate must be an integer number of Hz, got {sample_rate!r}") from None
    lo, hi = SAMPLE_RATE_RANGE
    if not lo <= sr <= hi:
        raise ValueError(f"sample_rate must be in the range {lo}..{hi} Hz, got {sr}")
    return sr


class EspeakSynthesizer:
    """Text-to-speech with libespeak-ng (see the module docstring).

    Instances are cheap, hold only the output sample rate, are picklable, and can
    be shared between threads (calls are serialised) and sent to worker processes.
    """

    def __init__(self, sample_rate: int = 20000) -> None:
        """``sample_rate``: output sample rate in Hz (1000..192000). espeak renders at
        its native rate (22050 Hz) and the result is resampled with
        :func:`data.audio.resample` (polyphase, by the reduced ratio; 20 kHz: up 400, down 441).

        Raises ``RuntimeError`` if libespeak-ng or its data cannot be loaded."""
        self.sample_rate = _check_sample_rate(sample_rate)
        get_process()  # load now, so that a broken installation fails here

    @property
    def native_sample_rate(self) -> int:
        """espeak's own output rate in Hz (from ``espeak_Initialize``), 22050."""
        rate = get_process().native_rate
        assert rate is not None
        return rate

    def __repr__(self) -> str:
        return f"EspeakSynthesizer(sample_rate={self.sample_rate})"

    def synthesize(self, text: str, voice: Voice) -> Utterance:
        """Speak ``text`` with ``voice``.

        Returns an :class:`Utterance` with the float32 waveform at
        ``self.sample_rate`` and one :class:`WordTiming` per spoken word (samples at
        ``self.sample_rate``). The same ``(text, voice)`` always gives bit-identical
        output, independent of earlier calls.

        Raises:
            ValueError: empty/blank text, text without anything speakable, text with
                NUL characters or invalid Unicode, or an unknown voice
                language/variant (the message names the voice and lists available
                names).
            TypeError: ``text`` is not a ``str`` or ``voice`` is not a :class:`Voice`.
            RuntimeError: the library cannot be loaded or fails.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text.strip():
            raise ValueError("text is empty: nothing to synthesize")
        if "\0" in text:
            raise ValueError("text must not contain NUL characters")
        try:
            encoded = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"text is not valid Unicode: {exc}") from exc
        _validate_voice(voice)

        proc = get_process()
        with proc.lock, Instance(proc) as inst:
            collector = inst.synthesize(encoded, voice.name(), voice.rate, voice.pitch, voice.pitch_range)
            native = inst.native_rate

        samples = np.concatenate(collector.chunks) if collector.chunks else np.zeros(0, np.int16)
        words = align_words(text, collector.words, native)
        if samples.size == 0 or not words:
            raise ValueError(f"text {text[:60]!r} contains nothing speakable for voice {voice.name()!r}")

        # Resample to the output rate; word starts move by the same reduced ratio.
        ratio = Fraction(self.sample_rate, native)
        up, down = ratio.numerator, ratio.denominator
        wave = resample(samples.astype(np.float64) / 32768.0, native, self.sample_rate)
        wave = np.clip(wave, -1.0, 32767.0 / 32768.0).astype(np.float32)
        n = len(wave)

        # Word starts at the output rate; words whose start coincides are merged.
        merged: list[list[int]] = []
        for a, b, s in words:
            start = min((s * up + down // 2) // down, n - 1)
            if merged and start <= merged[-1][2]:
                merged[-1][1] = b
            else:
                merged.append([a, b, start])
        starts = [m[2] for m in merged]
        ends = word_ends(wave, starts, max(1, int(round(FRAME_SECONDS * self.sample_rate))))
        timings = [WordTiming(strip_punctuation(text[a:b]), start, end) for (a, b, start), end in zip(merged, ends)]
        return Utterance(waveform=wave, sample_rate=self.sample_rate, words=timings)


_ENGINES: dict[int, EspeakSynthesizer] = {}


def espeak_engine(sample_rate: int = SAMPLE_RATE) -> EspeakSynthesizer:
    """The process's one :class:`EspeakSynthesizer` at ``sample_rate`` Hz (default 20 kHz):
    every caller (the corpus's clips and babble, the synthesizer's speech) shares it, so the
    library is checked and loaded once. Raises like :class:`EspeakSynthesizer`."""
    rate = _check_sample_rate(sample_rate)
    engine = _ENGINES.get(rate)
    if engine is None:
        engine = _ENGINES.setdefault(rate, EspeakSynthesizer(rate))
    return engine

"""Procedural synthesizer of natural-sound-like stimuli with known latent labels.

A sound is rendered from ``(category, subtype, seed)`` (the names of
:mod:`data.synth.catalog`) with vectorised numpy/scipy only; everything random is drawn from
``np.random.default_rng`` seeded with a SHA-256 hash of ``"category|subtype|seed"``, so the
same arguments always give bit-identical audio.

Example::

    s = synthesize("Music", seed=3, subtype="flute")
    s.waveform          # float32 [40000], 20 kHz, demeaned, RMS 0.1, peak < 1
    s.latents["f0"]     # median fundamental frequency of the melody, Hz
    synthesize_event("dog_bark", seed=0)
    synthesize_word("apple", seed=0)  # English speech with "apple" centred in the clip

Each subtype has one generator (pitch, rhythm, timbre, timing and levels drawn from the
seed), by what it makes: :mod:`~data.synth.music` (melodic instruments, drums),
:mod:`~data.synth.voices` (song, human and animal vocalisations, crowd babble),
:mod:`~data.synth.events` (impacts and contact sounds), :mod:`~data.synth.tones` (sirens,
alarms, insects), :mod:`~data.synth.textures` (noise textures, engines, traffic) and
:mod:`~data.synth.speech` (espeak-ng). Every waveform is finished by
:func:`data.synth.dsp.finalize` (noise floor, fades, limiter, RMS 0.1).
``SynthSound.info`` holds descriptive strings (e.g. the espeak voice and text of speech,
the siren pattern, the instrument of a mallet line).
"""

from __future__ import annotations

import hashlib
import math
import numbers
import operator
from dataclasses import dataclass, field

import numpy as np

from data.audio import SAMPLE_RATE as SR
from data.synth import events, music, speech, textures, tones, voices
from data.synth.catalog import CATEGORIES, CATEGORY_OF, EVENT_CLASSES, FLAG_KEYS, FLAG_OVERRIDES, FLAGS, SUBTYPES
from data.synth.dsp import finalize
from data.synth.parts import Generator, Parts

__all__ = ["GENERATORS", "MIN_DURATION", "SynthSound", "synthesize", "synthesize_event", "synthesize_word"]

MIN_DURATION = 0.01  # seconds; shorter clips cannot hold even one 5 ms fade in and out
_MIN_RENDER = 0.5  # seconds; shorter clips are cut from a rendering this long (first events start <= 0.2 s)

# Subtype -> its generator (subtype names are unique across categories).
GENERATORS: dict[str, Generator] = {
    **music.GENERATORS,
    **voices.GENERATORS,
    **events.GENERATORS,
    **tones.GENERATORS,
    **textures.GENERATORS,
    **speech.GENERATORS,
}


@dataclass(frozen=True, eq=False)
class SynthSound:
    """One synthesized sound.

    Attributes:
        waveform: float32 ``[n_samples]`` at ``data.audio.SAMPLE_RATE`` (20 kHz), demeaned, RMS 0.1,
            peak < 1.
        category: one of :data:`CATEGORIES`.
        subtype: one of ``SUBTYPES[category]`` (the language for speech).
        latents: float labels, keys :data:`data.synth.catalog.LATENT_KEYS`.
        info: free-form strings, e.g. ``{"voice": "en-us+m3", "text": "..."}`` for
            speech, ``{"variant": "wail"}`` for a siren.
    """

    waveform: np.ndarray
    category: str
    subtype: str
    latents: dict[str, float]
    info: dict[str, str] = field(default_factory=dict)


def _rng(*parts: object) -> np.random.Generator:
    """The generator seeded with the SHA-256 hash of ``"|".join(parts)``."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _check_duration(duration: float) -> int:
    """Samples of a ``duration`` s clip (TypeError / ValueError naming the argument)."""
    if isinstance(duration, bool) or not isinstance(duration, numbers.Real):
        raise TypeError(f"duration must be a number of seconds, got {duration!r}")
    d = float(duration)
    if not math.isfinite(d) or d <= 0:
        raise ValueError(f"duration must be a positive number of seconds, got {duration!r}")
    if d < MIN_DURATION:
        raise ValueError(f"duration must be at least {MIN_DURATION} s, got {duration!r}")
    return round(d * SR)


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
    parts = GENERATORS[subtype](rng, max(n, int(_MIN_RENDER * SR)))
    return _finish(parts, category, subtype, n, rng)


def _finish(parts: Parts, category: str, subtype: str, n: int, rng: np.random.Generator) -> SynthSound:
    """The :class:`SynthSound` of a generator's output: the first ``n`` samples finalised,
    the category's flags and the generator's latents."""
    wave = finalize(parts.wave[:n], rng)
    latents = {k: float(v) for k, v in zip(FLAG_KEYS, FLAGS[category])}
    latents.update(FLAG_OVERRIDES.get(subtype, {}))
    pitched = float(np.clip(parts.pitched, 0.0, 1.0))
    latents.update(
        pitched=pitched,
        f0=float(parts.f0) if pitched > 0 else 0.0,
        harmonicity=float(np.clip(parts.harmonicity, 0.0, 1.0)),
        onset_rate=float(parts.onset_rate),
    )
    return SynthSound(wave, category, subtype, latents, dict(parts.info))


def synthesize_word(word: str, seed: int, duration: float = 2.0) -> SynthSound:
    """Render an EngSpeech sound (subtype ``"english"``) in which a random English voice says
    ``word`` with its midpoint at the clip's centre, between context words: the layout of
    the embedded corpus's clips (:func:`data.synth.speech.word_clip`). The same
    ``(word, seed, duration)`` gives bit-identical audio. ``info`` holds ``word``,
    ``word_start`` and ``word_end`` (samples).

    Raises:
        ValueError: ``word`` is not one token, or ``duration`` is not a number of seconds
            >= 0.5.
    """
    seed = operator.index(seed)
    n = _check_duration(duration)
    if n < int(_MIN_RENDER * SR):
        raise ValueError(f"duration must be at least {_MIN_RENDER} s for a word clip, got {duration!r}")
    rng = _rng("EngSpeech", "english", "word", word, seed)
    return _finish(speech.word_clip(rng, n, word), "EngSpeech", "english", n, rng)


def synthesize_event(subtype: str, seed: int, duration: float = 2.0) -> SynthSound:
    """Render one sound of an event class (any name in :data:`EVENT_CLASSES`; the speech
    language subtypes are accepted too). Same as ``synthesize(<its category>, seed,
    duration, subtype)``: float32 ``[round(duration * 20000)]`` at 20 kHz, RMS 0.1.

    Raises:
        ValueError: unknown subtype (the message lists the event classes) or a bad
            duration.
    """
    if subtype not in CATEGORY_OF:
        raise ValueError(f"unknown event class {subtype!r}; valid event classes: {', '.join(EVENT_CLASSES)}")
    return synthesize(CATEGORY_OF[subtype], seed, duration, subtype)

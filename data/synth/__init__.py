"""Stimulus synthesis: procedural natural-sound-like stimuli and espeak-ng speech.

The public face of the sub-package; the modules say how. :func:`synthesize` /
:func:`synthesize_event` render one labelled sound (:mod:`data.synth.render`) of the
categories and event classes of :mod:`data.synth.catalog` (:func:`synthesize_word`: English
speech saying a given word); :func:`espeak_engine` is the
process's one text-to-speech engine (:mod:`data.synth.espeak`); :func:`coloured_noise` is
the one coloured-noise generator (:mod:`data.synth.dsp`); :func:`vocabulary_words` and
:func:`context_words` read the word lists (:mod:`data.synth.texts`).
"""

from data.synth.catalog import CATEGORIES, EVENT_CLASSES, LATENT_KEYS, SUBTYPES
from data.synth.dsp import coloured_noise
from data.synth.espeak import (
    EspeakSynthesizer,
    Utterance,
    Voice,
    WordTiming,
    all_voices,
    english_voices,
    espeak_engine,
    voice_variants,
)
from data.synth.render import MIN_DURATION, SynthSound, synthesize, synthesize_event, synthesize_word
from data.synth.texts import context_words, vocabulary_words

__all__ = [
    "CATEGORIES",
    "EVENT_CLASSES",
    "LATENT_KEYS",
    "MIN_DURATION",
    "SUBTYPES",
    "EspeakSynthesizer",
    "SynthSound",
    "Utterance",
    "Voice",
    "WordTiming",
    "all_voices",
    "coloured_noise",
    "context_words",
    "english_voices",
    "espeak_engine",
    "synthesize",
    "synthesize_event",
    "synthesize_word",
    "vocabulary_words",
    "voice_variants",
]

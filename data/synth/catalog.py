"""What the stimulus synthesizer can make: categories, subtypes, event classes and latent labels.

Every sound belongs to one of the 11 categories of Norman-Haignere et al. (2015)
(:data:`CATEGORIES`, docs/reference.md section 5) and to one of its subtypes
(:data:`SUBTYPES`; subtype names are unique across categories); the non-speech subtypes are
the audio-event classes (:data:`EVENT_CLASSES`) of the embedded corpus's backgrounds.

Latents (floats; :data:`LATENT_KEYS`): the 0/1 category flags :data:`FLAG_KEYS`
(``speech``, ``english``, ``music``, ``song``, ``voice`` -- a human voice is present: speech,
song, HumVoc, crowd --, ``animal``, ``vocalisation`` -- HumVoc, AniVoc, speech, song), then
``pitched`` (fraction 0..1 of the sounding time with a clear periodic pitch), ``f0``
(median fundamental frequency in Hz of the pitched part over the time it sounds, 0 iff
``pitched == 0``; for mixtures the melody / typical voice or motor f0), ``harmonicity``
(0..1, the harmonic share of the generator's power) and ``onset_rate`` (scheduled events --
notes, syllables, steps, hits, drops, beeps... -- starting inside the clip, per second; 0
for continuous sounds such as an engine). They come from the generators' own parameters,
except for speech (see :mod:`data.synth.speech`).
"""

from __future__ import annotations

from data.synth.texts import FOREIGN

__all__ = [
    "CATEGORIES",
    "CATEGORY_OF",
    "EVENT_CLASSES",
    "FLAGS",
    "FLAG_KEYS",
    "FLAG_OVERRIDES",
    "LATENT_KEYS",
    "SPEECH_CATEGORIES",
    "SUBTYPES",
]

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

SUBTYPES: dict[str, tuple[str, ...]] = {
    "Music": ("piano", "guitar", "mallet", "strings", "organ", "flute", "drums"),
    "Song": ("solo_voice", "voice_with_accompaniment"),
    "EngSpeech": ("english",),
    "ForSpeech": tuple(FOREIGN),
    "HumVoc": ("laugh", "cry", "cough", "sneeze", "scream"),
    "AniVoc": ("dog_bark", "bird_chirp", "cat_meow", "cow_moo", "frog_croak"),
    "HumNonVoc": ("footsteps", "clapping", "typing", "knocking"),
    "AniNonVoc": ("wing_flaps", "scratching", "hooves", "insect_buzz", "cricket"),
    "Nature": ("rain", "wind", "stream", "thunder", "fire", "waves"),
    "Mechanical": ("engine", "siren", "alarm", "drill"),
    "EnvSound": ("crowd", "traffic", "door", "bells"),
}
SPEECH_CATEGORIES = ("EngSpeech", "ForSpeech")
EVENT_CLASSES: tuple[str, ...] = tuple(s for c in CATEGORIES if c not in SPEECH_CATEGORIES for s in SUBTYPES[c])
CATEGORY_OF = {s: c for c, subs in SUBTYPES.items() for s in subs}

# Category-level 0/1 latents: speech, english, music, song, voice, animal, vocalisation.
FLAG_KEYS = ("speech", "english", "music", "song", "voice", "animal", "vocalisation")
FLAGS: dict[str, tuple[int, ...]] = {
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
FLAG_OVERRIDES = {"crowd": {"voice": 1.0}}  # babble is made of voices

LATENT_KEYS = FLAG_KEYS + ("pitched", "f0", "harmonicity", "onset_rate")

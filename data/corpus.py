"""The embedded speech corpus: word-in-context clips synthesised with espeak-ng.

Each clip is 2 s at 20 kHz with a labelled word centred at 1 s inside context words
spoken by the same voice, like the Word-Speaker-Noise (WSN) excerpts of the reference
(docs/reference.md section 4). Speakers are distinct espeak voice settings (accent x voice
variant x pitch x rate). Backgrounds for the noisy condition are stationary coloured
noise and multi-talker babble. Validation clips use held-out context words and their
own backgrounds.

The corpus is rendered once into the user cache directory (see :mod:`data.cache`),
deterministically from :class:`CorpusSpec`, and memory-mapped by later runs. Audio is
stored as int16 with a float32 scale per clip.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import multiprocessing as mp
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from data.audio import SAMPLE_RATE
from data.backgrounds import babble
from data.cache import cache_root, get_or_build
from data.synth import (
    EVENT_CLASSES,
    Voice,
    WordTiming,
    coloured_noise,
    context_words,
    english_voices,
    espeak_engine,
    synthesize_event,
    vocabulary_words,
    voice_variants,
)

log = logging.getLogger(__name__)

CORPUS_FORMAT = 2  # bump when the rendering changes, so old caches are not reused
SPLITS = ("train", "val")
# Voice variants that sound like distinct people (others in espeak's list are effects).
SPEAKER_VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4", "Alex", "Andy", "Annie", "adam",
    "anika", "aunty", "boris", "caleb",
)  # fmt: skip
SPEAKER_PITCHES = (30, 45, 60, 75)
SPEAKER_RATES = (140, 165, 190, 215)
CONTEXT_WORDS_PER_SIDE = (3, 6)  # [low, high) context words before and after the target
BABBLE_TALKERS = (3, 9)  # [low, high) talkers per babble clip
NOISE_EXPONENTS = (-1.0, 2.0)  # spectral slope range of coloured noise (blue .. brown)
EVENTS_PER_BACKGROUND = (1, 4)  # [low, high) sound events mixed into one background
EVENT_LEVELS_DB = (-9.0, 0.0)  # relative level of each event in a background


@functools.lru_cache(maxsize=1)
def event_vocabulary() -> tuple[str, ...]:
    """Audio-event classes of the embedded corpus's backgrounds: stationary coloured noise,
    multi-talker babble, and every event class of the procedural synthesizer."""
    return ("stationary_noise", "babble", *EVENT_CLASSES)


@dataclass(frozen=True)
class CorpusSpec:
    """Everything that determines a rendered corpus (and its cache key).

    Attributes:
        vocabulary_size: number of labelled words (the first N of ``vocabulary.txt``).
        n_speakers: number of labelled voices.
        train_clips_per_word, val_clips_per_word: clips per word and split.
        n_train_backgrounds, n_val_backgrounds: background clips per split, each a
            mixture of 1-3 sound events (coloured noise, babble, synthesised events;
            multi-hot labels over :func:`event_vocabulary`).
        seed: every random choice derives from it.
        sample_rate: Hz. clip_seconds: clip length in seconds.
    """

    vocabulary_size: int = 200
    n_speakers: int = 50
    train_clips_per_word: int = 100
    val_clips_per_word: int = 10
    n_train_backgrounds: int = 400
    n_val_backgrounds: int = 100
    seed: int = 0
    sample_rate: int = 20000
    clip_seconds: float = 2.0

    def __post_init__(self) -> None:
        n_vocab = len(vocabulary_words())
        checks = {
            "vocabulary_size": (1, n_vocab),
            "n_speakers": (1, len(SPEAKER_VARIANTS) * len(SPEAKER_PITCHES) * len(SPEAKER_RATES)),
            "train_clips_per_word": (1, None),
            "val_clips_per_word": (1, None),
            "n_train_backgrounds": (1, None),
            "n_val_backgrounds": (1, None),
            "sample_rate": (8000, 96000),
        }
        for name, (lo, hi) in checks.items():
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < lo or (hi is not None and value > hi):
                bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
                raise ValueError(f"CorpusSpec.{name} must be an integer in {bound}, got {value!r}")
        if not 0.5 <= self.clip_seconds <= 10:
            raise ValueError(f"CorpusSpec.clip_seconds must be in 0.5..10 s, got {self.clip_seconds!r}")

    @property
    def clip_samples(self) -> int:
        return int(round(self.sample_rate * self.clip_seconds))

    def key(self) -> str:
        """Cache directory name: format version + hash of the spec."""
        blob = json.dumps({**asdict(self), "format": CORPUS_FORMAT}, sort_keys=True)
        return f"speech-corpus-v{CORPUS_FORMAT}-{hashlib.sha1(blob.encode()).hexdigest()[:12]}"


def speaker_voices(n_speakers: int, seed: int, n_extra: int = 0) -> list[Voice]:
    """``n_speakers`` distinct voices (accent x variant x pitch x rate), drawn without
    replacement with ``seed``, followed by ``n_extra`` further distinct voices (used for
    babble so background talkers are never labelled speakers)."""
    available = set(voice_variants())
    variants = [v for v in SPEAKER_VARIANTS if v in available]
    combos = [
        Voice(accent, variant, pitch, rate)
        for accent in english_voices()
        for variant in variants
        for pitch in SPEAKER_PITCHES
        for rate in SPEAKER_RATES
    ]
    if n_speakers + n_extra > len(combos):
        raise ValueError(f"only {len(combos)} distinct voices are available, asked for {n_speakers + n_extra}")
    order = np.random.default_rng([seed, 1]).permutation(len(combos))
    return [combos[i] for i in order[: n_speakers + n_extra]]


@dataclass(frozen=True)
class ClipJob:
    """One labelled clip to render: ``target`` said by ``speaker`` inside context words
    that :func:`render_clip` draws with ``seed`` from the split's context list."""

    split: str
    index: int
    word: int
    speaker: int
    target: str
    seed: tuple[int, ...]


@dataclass(frozen=True)
class BackgroundJob:
    """One background clip to render: a mixture of sound events (their labels).

    ``events`` are names from :func:`event_vocabulary`; ``stationary_noise`` uses
    ``exponent`` (spectral slope), ``babble`` uses ``talkers`` (voice, text) pairs.
    """

    split: str
    index: int
    seed: tuple[int, ...]
    events: tuple[str, ...] = ("stationary_noise",)
    exponent: float = 0.0
    talkers: tuple[tuple[Voice, str], ...] = field(default_factory=tuple)

    @property
    def kind(self) -> str:
        return "+".join(self.events)


def plan_jobs(spec: CorpusSpec) -> tuple[list[ClipJob], list[BackgroundJob]]:
    """All rendering jobs of a corpus, fully determined by ``spec``."""
    words = vocabulary_words()[: spec.vocabulary_size]
    contexts = dict(zip(SPLITS, context_words()))
    n_babble_voices = 40
    voices = speaker_voices(spec.n_speakers, spec.seed, n_extra=n_babble_voices)
    babble_voices = voices[spec.n_speakers :]
    clips: list[ClipJob] = []
    backgrounds: list[BackgroundJob] = []
    for split_id, split in enumerate(SPLITS):
        rng = np.random.default_rng([spec.seed, 2, split_id])
        per_word = spec.train_clips_per_word if split == "train" else spec.val_clips_per_word
        context = contexts[split]
        index = 0
        for word_id, word in enumerate(words):
            for _ in range(per_word):
                speaker = int(rng.integers(spec.n_speakers))
                clips.append(ClipJob(split, index, word_id, speaker, word, (spec.seed, 4, split_id, index)))
                index += 1
        n_bg = spec.n_train_backgrounds if split == "train" else spec.n_val_backgrounds
        vocabulary = event_vocabulary()
        for b in range(n_bg):
            seed = (spec.seed, 3, split_id, b)
            # Every class appears as the first event of some background (round robin);
            # the others are drawn at random.
            first = vocabulary[b % len(vocabulary)]
            others = rng.choice(len(vocabulary), int(rng.integers(*EVENTS_PER_BACKGROUND)) - 1, replace=False)
            events = tuple(dict.fromkeys([first, *(vocabulary[i] for i in others)]))
            talkers: tuple = ()
            if "babble" in events:
                talkers = tuple(
                    (babble_voices[int(rng.integers(len(babble_voices)))], " ".join(rng.choice(context, 10)))
                    for _ in range(int(rng.integers(*BABBLE_TALKERS)))
                )
            exponent = float(rng.uniform(*NOISE_EXPONENTS))
            backgrounds.append(BackgroundJob(split, b, seed, events=events, exponent=exponent, talkers=talkers))
    return clips, backgrounds


def render_clip(job: ClipJob, voice: Voice, sample_rate: int, n_samples: int) -> tuple[np.ndarray, int, int, str]:
    """Render one labelled clip: ``(waveform float32 [n_samples], target_start, target_end,
    text)`` with the target word's midpoint at sample ``n_samples // 2``.

    Context words are drawn from ``job.seed``; a draw in which espeak does not give the
    target word its own word event (it sometimes merges neighbours) is redrawn, so the
    label's time span is always known exactly.
    """
    context = dict(zip(SPLITS, context_words()))[job.split]
    rng = np.random.default_rng(list(job.seed))
    for _ in range(_MAX_CONTEXT_DRAWS):
        n_before, n_after = (int(v) for v in rng.integers(*CONTEXT_WORDS_PER_SIDE, size=2))
        before, after = list(rng.choice(context, n_before)), list(rng.choice(context, n_after))
        text = " ".join([*before, job.target, *after])
        utt = espeak_engine(sample_rate).synthesize(text, voice)
        word = _find_token(utt.words, n_before, job.target)
        if word is not None:
            break
    else:
        raise RuntimeError(f"espeak never isolated {job.target!r} ({voice.name()}) in {_MAX_CONTEXT_DRAWS} contexts")
    offset = n_samples // 2 - (word.start + word.end) // 2
    clip = np.zeros(n_samples, dtype=np.float32)
    lo, hi = max(0, offset), min(n_samples, offset + len(utt.waveform))
    clip[lo:hi] = utt.waveform[lo - offset : hi - offset]
    start, end = max(0, word.start + offset), min(n_samples, word.end + offset)
    return clip, start, end, text


_MAX_CONTEXT_DRAWS = 20


def _find_token(words: Sequence[WordTiming], token_index: int, expected: str) -> WordTiming | None:
    """The timing of whitespace token ``token_index`` if espeak spoke it as a word of its own."""
    seen = 0
    for timing in words:
        n_tokens = len(timing.text.split())
        if seen == token_index:
            return timing if timing.text.lower() == expected.lower() else None
        seen += n_tokens
        if seen > token_index:
            return None
    return None


def render_background(job: BackgroundJob, sample_rate: int, n_samples: int) -> np.ndarray:
    """Render one background clip: its events, each at unit RMS times a random level in
    :data:`EVENT_LEVELS_DB`, summed and normalised to unit RMS; float32 ``[n_samples]``."""
    rng = np.random.default_rng(list(job.seed))
    total = np.zeros(n_samples, dtype=np.float64)
    for k, event in enumerate(job.events):
        if event == "stationary_noise":
            part = coloured_noise(rng, n_samples, job.exponent, sample_rate, zero_mean=True).astype(np.float32)
        elif event == "babble":
            part = babble(espeak_engine(sample_rate), job.talkers, n_samples, rng)
        else:
            if sample_rate != SAMPLE_RATE:
                raise ValueError(f"sound events are synthesised at {SAMPLE_RATE} Hz, the corpus is at {sample_rate} Hz")
            seed = int(np.random.default_rng([*job.seed, k]).integers(2**31))
            part = synthesize_event(event, seed, duration=n_samples / sample_rate).waveform[:n_samples]
        level = np.sqrt(np.mean(np.square(part, dtype=np.float64)))
        if level > 0:
            total += part / level * 10 ** (rng.uniform(*EVENT_LEVELS_DB) / 20)
    level = np.sqrt(np.mean(total**2))
    return (total / level if level > 0 else total).astype(np.float32)


def _render(args: tuple) -> tuple:
    job, voice, sample_rate, n_samples = args
    if isinstance(job, ClipJob):
        return ("clip", job.split, job.index, *render_clip(job, voice, sample_rate, n_samples))
    return ("background", job.split, job.index, render_background(job, sample_rate, n_samples), 0, 0, "")


def _to_int16(x: np.ndarray) -> tuple[np.ndarray, float]:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    scale = peak / 32767.0 if peak > 0 else 1.0
    return np.round(x / scale).astype(np.int16), scale


def build_corpus(spec: CorpusSpec, out_dir: Path, workers: int | None = None, progress: bool = True) -> dict:
    """Render the corpus of ``spec`` into ``out_dir``; returns the manifest fields."""
    clips, backgrounds = plan_jobs(spec)
    voices = speaker_voices(spec.n_speakers, spec.seed)
    n = spec.clip_samples
    arrays: dict[str, dict[str, np.ndarray]] = {}
    for split in SPLITS:
        n_clips = sum(1 for c in clips if c.split == split)
        n_bg = sum(1 for b in backgrounds if b.split == split)
        arrays[split] = {
            "speech": np.lib.format.open_memmap(out_dir / f"{split}_speech.npy", "w+", np.int16, (n_clips, n)),
            "backgrounds": np.lib.format.open_memmap(out_dir / f"{split}_backgrounds.npy", "w+", np.int16, (n_bg, n)),
            "speech_scale": np.zeros(n_clips, np.float32),
            "background_scale": np.zeros(n_bg, np.float32),
            "word": np.zeros(n_clips, np.int32),
            "speaker": np.zeros(n_clips, np.int32),
            "target_start": np.zeros(n_clips, np.int32),
            "target_end": np.zeros(n_clips, np.int32),
            "background_events": np.zeros((n_bg, len(event_vocabulary())), np.uint8),
        }
    texts: dict[str, list[str]] = {s: [""] * len(arrays[s]["word"]) for s in SPLITS}
    for job in clips:
        a = arrays[job.split]
        a["word"][job.index], a["speaker"][job.index] = job.word, job.speaker
    event_index = {name: i for i, name in enumerate(event_vocabulary())}
    for job in backgrounds:
        arrays[job.split]["background_events"][job.index, [event_index[e] for e in job.events]] = 1

    tasks = [(job, voices[job.speaker], spec.sample_rate, n) for job in clips]
    tasks += [(job, None, spec.sample_rate, n) for job in backgrounds]
    workers = min(workers or os.cpu_count() or 1, len(tasks))
    bar = tqdm(total=len(tasks), desc="Rendering speech corpus", unit="clip", disable=not progress)
    if workers > 1:
        pool = mp.get_context("fork").Pool(workers)
        results = pool.imap(_render, tasks, chunksize=8)
    else:
        pool, results = None, map(_render, tasks)
    try:
        for kind, split, index, audio, start, end, text in results:
            a = arrays[split]
            if kind == "clip":
                a["speech"][index], a["speech_scale"][index] = _to_int16(audio)
                a["target_start"][index], a["target_end"][index] = start, end
                texts[split][index] = text
            else:
                a["backgrounds"][index], a["background_scale"][index] = _to_int16(audio)
            bar.update()
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
    for split in SPLITS:
        a = arrays[split]
        a["speech"].flush()
        a["backgrounds"].flush()
        np.savez(
            out_dir / f"{split}_labels.npz",
            **{k: v for k, v in a.items() if k not in ("speech", "backgrounds")},
            background_kind=np.array([b.kind for b in backgrounds if b.split == split]),
        )
        (out_dir / f"{split}_text.json").write_text(json.dumps(texts[split]))
    return {
        "spec": asdict(spec),
        "format": CORPUS_FORMAT,
        "vocabulary": vocabulary_words()[: spec.vocabulary_size],
        "speakers": [v.name() + f"/p{v.pitch}/r{v.rate}" for v in voices],
        "speaker_voices": [asdict(v) for v in voices],
        "events": list(event_vocabulary()),
    }


@dataclass
class SplitArrays:
    """Memory-mapped arrays of one split. Audio: ``int16 [n, samples] * scale[n]``."""

    speech: np.ndarray
    speech_scale: np.ndarray
    backgrounds: np.ndarray
    background_scale: np.ndarray
    background_kind: np.ndarray
    word: np.ndarray
    speaker: np.ndarray
    target_start: np.ndarray
    target_end: np.ndarray
    background_events: np.ndarray  # uint8 [n_backgrounds, n_event_classes] multi-hot
    text: list[str]

    def __len__(self) -> int:
        return len(self.word)

    def speech_clip(self, i: int) -> np.ndarray:
        """Clip ``i`` as float32 ``[samples]``."""
        return self.speech[i].astype(np.float32) * self.speech_scale[i]

    def background_clip(self, i: int) -> np.ndarray:
        """Background ``i`` as float32 ``[samples]`` (unit RMS up to int16 rounding)."""
        return self.backgrounds[i].astype(np.float32) * self.background_scale[i]


class SpeechCorpus:
    """A rendered corpus on disk (see :func:`load_corpus`)."""

    def __init__(self, root: Path, manifest: dict) -> None:
        self.root = Path(root)
        self.manifest = manifest
        self.spec = CorpusSpec(**manifest["spec"])
        self.vocabulary: list[str] = list(manifest["vocabulary"])
        self.speakers: list[str] = list(manifest["speakers"])
        self.events: list[str] = list(manifest["events"])

    @cached_property
    def splits(self) -> dict[str, SplitArrays]:
        out = {}
        for split in SPLITS:
            labels = np.load(self.root / f"{split}_labels.npz")
            out[split] = SplitArrays(
                speech=np.load(self.root / f"{split}_speech.npy", mmap_mode="r"),
                backgrounds=np.load(self.root / f"{split}_backgrounds.npy", mmap_mode="r"),
                text=json.loads((self.root / f"{split}_text.json").read_text()),
                **{k: labels[k] for k in labels.files},
            )
        return out

    def __getitem__(self, split: str) -> SplitArrays:
        if split not in SPLITS:
            raise KeyError(f"unknown split {split!r}; the corpus has {list(SPLITS)}")
        return self.splits[split]

    def __getstate__(self) -> dict:  # memmaps are reopened in DataLoader workers
        state = dict(self.__dict__)
        state.pop("splits", None)
        return state


def load_corpus(
    spec: CorpusSpec,
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> SpeechCorpus:
    """Load the corpus of ``spec`` from the cache, rendering it first if it is missing or
    corrupt (a corrupt entry is reported and rebuilt)."""
    entry = cache_root(cache_dir) / "corpus" / spec.key()
    manifest = get_or_build(entry, lambda tmp: build_corpus(spec, tmp, workers, progress))
    return SpeechCorpus(entry, manifest)


def describe(corpus: SpeechCorpus) -> str:
    """One-line summary for logs."""
    s = corpus.spec
    return (
        f"speech corpus {corpus.root.name}: {s.vocabulary_size} words x {s.n_speakers} speakers, "
        f"{len(corpus['train'])} train / {len(corpus['val'])} val clips, "
        f"{len(corpus['train'].backgrounds)} / {len(corpus['val'].backgrounds)} backgrounds"
    )


__all__: Sequence[str] = ["CorpusSpec", "SpeechCorpus", "load_corpus", "plan_jobs", "speaker_voices"]

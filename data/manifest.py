"""A user's own corpus, listed in a manifest, as training data in the :mod:`data.base` contract.

Manifest: a CSV file with a header (``.csv``) or JSON lines (``.jsonl``/``.ndjson``), one clip
per row, with fields

* ``path`` (required): an audio file; relative paths are resolved against the manifest's folder;
* ``word``, ``speaker`` (optional): class names;
* ``events`` (optional): event class names of the clip itself, ``;``-separated in CSV, a list
  in JSONL (a CSV column that is present but empty means "no events"; a JSONL row without
  the key means "unknown");
* ``word_start``, ``word_end`` (optional, seconds from the file start): where the word is.
  The 2-s window is cut around it (time-jitter crop in training), else around the file centre.

Audio of any sample rate and channel count is read with soundfile, averaged to mono and
resampled to 20 kHz. Every file is checked at setup with ``soundfile.info`` (header only):
unreadable or empty files are dropped with one warning and counted. A file that still fails
to decode when an item is read is replaced by the next readable item, warned about once per
process and counted (:attr:`ManifestDataModule.n_skipped`); training never stops for it.

Backgrounds (noisy condition): every audio file under ``background_dir`` (recursive); an item
gets a random file and a random 2-s window of it (looped if the file is shorter). Their event
labels come from an optional ``background_labels`` CSV (``path,events``).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import multiprocessing
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.context import get_spawning_popen
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset

from data.audio import CLIP_SAMPLES, SAMPLE_RATE, resample
from data.base import MISSING, MixingDataModule
from data.condition import (
    MANIFEST_DRAWS,
    ConditionDraws,
    ConditionOptions,
    Mixture,
    background_heard,
    clean_item,
    event_mask,
    jitter_crop,
)
from data.wsn import read_vocabulary

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga") + ((".mp3",) if "MP3" in sf.available_formats() else ())
LABELS = ("word", "speaker", "audioset")
_MAX_REPLACEMENTS = 1000  # consecutive unreadable items tolerated before giving up
_PROBE_THREADS = 8  # soundfile.info is I/O bound (and releases the GIL)


class AudioDecodeError(RuntimeError):
    """An audio file could not be decoded into finite, non-empty samples."""


@dataclass
class ManifestRow:
    """One manifest entry; ``line`` is its 1-based line number in the manifest file."""

    path: Path
    line: int
    word: str | None = None
    speaker: str | None = None
    events: list[str] | None = None  # None: unknown; []: known to have no events
    word_start: float | None = None  # seconds
    word_end: float | None = None


@dataclass
class Manifest:
    """A parsed manifest file."""

    source: Path
    rows: list[ManifestRow] = field(default_factory=list)

    def labels(self, name: str) -> set[str]:
        """The class names of label ``name`` (``word``, ``speaker`` or ``audioset``) used in it."""
        if name == "audioset":
            return {e for row in self.rows for e in (row.events or [])}
        return {getattr(row, name) for row in self.rows if getattr(row, name) is not None}


def _text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _seconds(value, source: Path, line: int, key: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{source}:{line}: {key} = {value!r} is not a number (expected seconds)") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{source}:{line}: {key} = {value!r} must be a finite number of seconds >= 0")
    return seconds


def _make_row(record: Mapping, source: Path, line: int, events) -> ManifestRow:
    raw_path = _text(record.get("path"))
    if raw_path is None:
        raise ValueError(f"{source}:{line}: empty 'path' (every row needs an audio file)")
    path = Path(raw_path).expanduser()
    if not path.is_absolute():
        path = source.parent / path
    start = _seconds(record.get("word_start"), source, line, "word_start")
    end = _seconds(record.get("word_end"), source, line, "word_end")
    if (start is None) != (end is None):
        raise ValueError(f"{source}:{line}: word_start and word_end must be given together (seconds)")
    if start is not None and end < start:
        raise ValueError(f"{source}:{line}: word_end {end} s is before word_start {start} s")
    return ManifestRow(path, line, _text(record.get("word")), _text(record.get("speaker")), events, start, end)


def read_manifest(path: str | os.PathLike) -> Manifest:
    """Parse a CSV (with header) or JSONL manifest; ValueError naming the file and line on bad rows."""
    source = Path(path).expanduser()
    if not source.is_file():
        raise ValueError(f"manifest {source} does not exist")
    manifest = Manifest(source)
    suffix = source.suffix.lower()
    if suffix == ".csv":
        with open(source, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh, skipinitialspace=True)
            columns = [c.strip() for c in reader.fieldnames or []]
            if "path" not in columns:
                raise ValueError(f"{source}: the CSV header {columns} has no 'path' column")
            reader.fieldnames = columns
            for record in reader:
                raw = record.get("events")
                events = None
                if "events" in columns:  # the column exists: an empty cell means "no events"
                    events = [e.strip() for e in (raw or "").split(";") if e.strip()]
                manifest.rows.append(_make_row(record, source, reader.line_num, events))
    elif suffix in (".jsonl", ".ndjson"):
        with open(source, encoding="utf-8") as fh:
            for line, text in enumerate(fh, start=1):
                if not text.strip():
                    continue
                try:
                    record = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{source}:{line}: not valid JSON ({exc.msg})") from None
                if not isinstance(record, dict):
                    raise ValueError(f"{source}:{line}: expected a JSON object with a 'path' key")  # noqa: TRY004
                raw = record.get("events")
                if raw is None:
                    events = None
                elif isinstance(raw, str):
                    events = [e.strip() for e in raw.split(";") if e.strip()]
                elif isinstance(raw, list):
                    events = [str(e).strip() for e in raw if str(e).strip()]
                else:
                    raise ValueError(f"{source}:{line}: 'events' must be a list of class names, got {raw!r}")
                manifest.rows.append(_make_row(record, source, line, events))
    else:
        raise ValueError(f"manifest {source}: unknown format {suffix!r} (expected .csv, .jsonl or .ndjson)")
    if not manifest.rows:
        raise ValueError(f"manifest {source} lists no clips")
    return manifest


def _probe_one(path: Path) -> tuple[int, int, str | None]:
    try:
        info = sf.info(str(path))
    except Exception as exc:  # noqa: BLE001 -- any failure means "unreadable": the file is skipped
        return 0, 0, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if info.frames <= 0 or info.samplerate <= 0:
        return 0, 0, "no audio frames"
    return int(info.frames), int(info.samplerate), None


def probe_audio(paths: Sequence[Path], what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Header check of ``paths`` with ``soundfile.info``.

    Returns ``frames`` and ``samplerate`` (int64 ``[n]``) and a boolean ``ok`` mask; logs one
    warning (naming ``what``) with the count and the first few unreadable or empty files.
    """
    with ThreadPoolExecutor(_PROBE_THREADS) as pool:
        results = list(pool.map(_probe_one, paths))
    frames = np.array([r[0] for r in results], dtype=np.int64)
    rates = np.array([r[1] for r in results], dtype=np.int64)
    bad = [(p, r[2]) for p, r in zip(paths, results, strict=True) if r[2] is not None]
    if bad:
        first = "; ".join(f"{p} ({reason})" for p, reason in bad[:5])
        log.warning(
            "%s: skipping %d of %d audio files that are unreadable, empty or unsupported: %s%s",
            what,
            len(bad),
            len(paths),
            first,
            " ..." if len(bad) > 5 else "",
        )
    return frames, rates, np.array([r[2] is None for r in results], dtype=bool)


def resample_to(audio: np.ndarray, rate: int) -> np.ndarray:
    """``audio`` ``[samples]`` at ``rate`` -> float32 at 20 kHz (:func:`data.audio.resample`)."""
    return resample(audio, rate).astype(np.float32, copy=False)


def read_mono(path: Path, start: int, stop: int) -> tuple[np.ndarray, int]:
    """Frames ``[start, stop)`` of ``path`` averaged over channels (float32), and the file's rate.

    Raises :class:`AudioDecodeError` if the file cannot be decoded or gives no finite samples.
    """
    try:
        data, rate = sf.read(str(path), start=int(start), stop=int(stop), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile's errors vary by format; all mean "unreadable"
        raise AudioDecodeError(f"{path}: {exc}") from exc
    if data.size == 0:
        raise AudioDecodeError(f"{path}: no samples in frames {start}..{stop}")
    mono = data.mean(axis=1)
    if not np.isfinite(mono).all():
        raise AudioDecodeError(f"{path}: non-finite samples")
    return mono, int(rate)


def _encode(name: str, label: str | None, index: Mapping[str, int] | None, source: Path, line: int, origin: str) -> int:
    if label is None:
        return MISSING
    if index is None or label not in index:
        raise ValueError(f"{source}:{line}: {name} {label!r} is not in the {name} vocabulary ({origin})")
    return index[label]


def _encode_events(
    events: list[str] | None, index: Mapping[str, int] | None, source: Path, line: int, origins: Mapping[str, str]
) -> np.ndarray | None:
    """Event class indices (int64 ``[k]``) of one row; None when its events are unknown."""
    if events is None:
        return None
    origin = origins.get("audioset", "")
    return np.array([_encode("event", e, index, source, line, origin) for e in events], dtype=np.int64)


class BackgroundSet:
    """The readable audio files under a folder, with optional event labels.

    Args:
        folder: searched recursively for ``.wav``, ``.flac``, ``.ogg`` (and ``.mp3`` where
            soundfile reads it).
        labels: optional CSV with ``path`` and ``events`` (``;``-separated) columns; relative
            paths resolved against the CSV's folder. Files not listed have unknown events.
        event_index: event class name -> index (labels outside it are a ``ValueError``).
        event_origin: where the event vocabulary came from (for error messages).
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        labels: str | os.PathLike | None,
        event_index: Mapping[str, int] | None,
        event_origin: str = "",
    ) -> None:
        root = Path(folder).expanduser()
        if not root.is_dir():
            raise ValueError(f"background folder {root} does not exist")
        paths = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        if not paths:
            raise ValueError(f"background folder {root} holds no audio files ({', '.join(AUDIO_SUFFIXES)})")
        frames, rates, ok = probe_audio(paths, f"background folder {root}")
        self.root, self.n_skipped = root, int((~ok).sum())
        self.paths = [p for p, good in zip(paths, ok, strict=True) if good]
        if not self.paths:
            raise ValueError(f"background folder {root}: none of its {len(paths)} audio files is readable")
        self.frames, self.rates = frames[ok], rates[ok]
        self.events: list[np.ndarray | None] = [None] * len(self.paths)
        if labels is not None:
            by_path = {p.resolve(): k for k, p in enumerate(self.paths)}
            table = read_manifest(labels)
            if table.source.suffix.lower() != ".csv":
                raise ValueError(f"background_labels {table.source} must be a CSV with columns path,events")
            for row in table.rows:
                k = by_path.get(row.path.resolve())
                if k is None or row.events is None:
                    continue  # a file that is not (or no longer) a readable background, or no events column
                origins = {"audioset": event_origin}
                self.events[k] = _encode_events(row.events, event_index, table.source, row.line, origins)
        n_labelled = sum(e is not None for e in self.events)
        log.info("Backgrounds %s: %d files, %d with event labels", root, len(self.paths), n_labelled)

    def __len__(self) -> int:
        return len(self.paths)


class ManifestDataset(Dataset):
    """Items (see :mod:`data.base`) of one manifest.

    ``speech`` float32 ``[clip_samples]`` at 20 kHz: the window around the word; ``background``
    a window of a background file (noisy condition; zeros when clean); ``snr_db`` in dB;
    ``word``/``speaker`` int64 (:data:`MISSING` where the row has none). Each clip's condition
    comes from :class:`data.condition.ConditionDraws` (scheme
    :data:`data.condition.MANIFEST_DRAWS`): in training a random time-jitter crop (with
    ``jitter``; otherwise centred) and a background file, window and SNR drawn afresh per item;
    in validation the centred window and a background, window and SNR fixed per index from
    ``seed``.

    ``audioset`` float32 ``[n_events]`` is the union of the events of the sources heard in the
    clip: the clip's own ``events`` (when the manifest gives them) and the background's
    (when its window is not silent). ``audioset_mask`` is 1 when at least one such source is
    present and every present source's events are known, else 0 (clean condition without
    clip events, or an unlabelled background).

    Rows whose audio fails the header check are dropped here (:attr:`n_skipped`); rows that
    fail to decode later are replaced by the next readable row and counted in ``counter``
    (a shared ``multiprocessing.Value`` so DataLoader workers' counts add up) or locally.

    Args:
        manifest: a manifest file, or one parsed with :func:`read_manifest`.
        vocabularies: label name -> class names (labels absent from it must not occur).
        split, condition, train, seed: as in :class:`data.wsn.WSNDataset`.
        backgrounds: the background files (required for a noisy ``condition``).
        origins: label name -> where its vocabulary came from (for error messages).
        counter: shared count of files that failed at decode time.
        clip_samples: window length in samples at 20 kHz.
    """

    def __init__(
        self,
        manifest: Manifest | str | os.PathLike,
        vocabularies: Mapping[str, Sequence[str]],
        split: str,
        condition: ConditionOptions = ConditionOptions(),
        train: bool = True,
        seed: int = 0,
        backgrounds: BackgroundSet | None = None,
        origins: Mapping[str, str] | None = None,
        counter=None,
        clip_samples: int = CLIP_SAMPLES,
    ) -> None:
        if condition.noisy and backgrounds is None:
            raise ValueError(f"{split}: the noisy condition needs background files (data.background_dir)")
        manifest = manifest if isinstance(manifest, Manifest) else read_manifest(manifest)
        self.source, self.split = manifest.source, split
        self.backgrounds = backgrounds if condition.noisy else None
        self.clip_samples = clip_samples
        self.n_events = len(vocabularies.get("audioset", ()))
        origins = origins or {}
        index = {name: {c: k for k, c in enumerate(classes)} for name, classes in vocabularies.items()}
        word, speaker, events = [], [], []
        for row in manifest.rows:  # label errors first: they are the user's to fix, whatever the audio
            word.append(_encode("word", row.word, index.get("word"), self.source, row.line, origins.get("word", "")))
            speaker.append(
                _encode("speaker", row.speaker, index.get("speaker"), self.source, row.line, origins.get("speaker", ""))
            )
            events.append(_encode_events(row.events, index.get("audioset"), self.source, row.line, origins))
        frames, rates, ok = probe_audio([row.path for row in manifest.rows], f"{split} manifest {self.source}")
        self.n_skipped = int((~ok).sum())
        keep = np.flatnonzero(ok)
        if not len(keep):
            raise ValueError(f"{self.source}: none of its {len(manifest.rows)} audio files is readable")
        rows = [manifest.rows[k] for k in keep]
        self.paths = [row.path for row in rows]
        self.lines = np.array([row.line for row in rows], dtype=np.int64)
        self.frames, self.rates = frames[keep], rates[keep]
        self.word = np.array(word, dtype=np.int64)[keep]
        self.speaker = np.array(speaker, dtype=np.int64)[keep]
        self.events = [events[k] for k in keep]
        # Word span in seconds, NaN where unknown (the window is then centred on the file).
        self.span = np.array(
            [(r.word_start, r.word_end) if r.word_start is not None else (np.nan, np.nan) for r in rows],
            dtype=np.float64,
        )
        duration = self.frames / self.rates
        late = np.flatnonzero(self.span[:, 0] >= duration)
        if len(late):
            k = int(late[0])
            raise ValueError(
                f"{self.source}:{self.lines[k]}: word_start {self.span[k, 0]} s is at or after the end of "
                f"{self.paths[k]} ({duration[k]:.3f} s long)"
            )
        n_bg = len(self.backgrounds) if self.backgrounds is not None else None
        self.conditions = ConditionDraws(condition, MANIFEST_DRAWS, len(self.paths), split, train, seed, n_bg)
        self.counter = counter
        self.n_failed_here = 0  # decode failures seen in this process
        self._bad_items: set[int] = set()
        self._bad_backgrounds: set[int] = set()

    def __len__(self) -> int:
        return len(self.paths)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        if get_spawning_popen() is None:  # a shared Value only travels to processes being started
            state["counter"] = None
        return state

    def _failed(self, path: Path, exc: Exception) -> None:
        self.n_failed_here += 1
        total = self.n_failed_here
        if self.counter is not None:
            with self.counter.get_lock():
                self.counter.value += 1
                total = self.counter.value
        log.warning(
            "Skipping audio file that failed to decode: %s (%s); %d file(s) skipped at decode time so far",
            path,
            exc,
            total,
        )

    def _speech(self, i: int, crop_seed: int | None) -> np.ndarray:
        """The 2-s window of item ``i`` around its word (or the file centre)."""
        rate, frames = int(self.rates[i]), int(self.frames[i])
        start_s, end_s = self.span[i]
        if np.isnan(start_s):
            start_s = end_s = frames / rate / 2
        # Read only what any crop can reach: the word plus the window length on each side.
        margin = self.clip_samples / SAMPLE_RATE
        first = max(0, math.floor((start_s - margin) * rate))
        last = min(frames, math.ceil((end_s + margin) * rate) + 1)
        audio, rate = read_mono(self.paths[i], first, last)
        audio = resample_to(audio, rate)
        t0 = first / rate
        lo = round((start_s - t0) * SAMPLE_RATE)
        hi = max(round((end_s - t0) * SAMPLE_RATE), lo + 1)
        return jitter_crop(audio, self.clip_samples, (lo, hi), crop_seed)

    def _background(self, k: int, offset: float) -> np.ndarray:
        """A ``clip_samples`` window of background ``k`` starting at ``offset`` (fraction of the
        file), looped if the file is shorter than the window."""
        bg = self.backgrounds
        rate, frames = int(bg.rates[k]), int(bg.frames[k])
        need = math.ceil(self.clip_samples / SAMPLE_RATE * rate) + 1
        if frames >= need:
            start = int(offset * (frames - need + 1))
            audio, rate = read_mono(bg.paths[k], start, start + need)
            audio = resample_to(audio, rate)
            if len(audio) < self.clip_samples:  # a file shorter than its header said
                audio = np.tile(audio, math.ceil(self.clip_samples / len(audio)))
            return audio[: self.clip_samples]
        audio, rate = read_mono(bg.paths[k], 0, frames)
        audio = resample_to(audio, rate)
        looped = np.tile(audio, math.ceil(self.clip_samples / len(audio)) + 1)
        start = int(offset * len(audio))
        return looped[start : start + self.clip_samples]

    def _read_background(self, mixture: Mixture) -> tuple[int, np.ndarray]:
        """The background index and window of ``mixture``; a file that fails to decode is
        replaced by the next one (same window offset)."""
        n = len(self.backgrounds)
        for step in range(n):
            k = (mixture.background + step) % n
            if k in self._bad_backgrounds:
                continue
            try:
                return k, self._background(k, mixture.offset)
            except AudioDecodeError as exc:
                self._bad_backgrounds.add(k)
                self._failed(self.backgrounds.paths[k], exc)
        raise RuntimeError(f"no background file under {self.backgrounds.root} can be decoded")

    def _item(self, i: int) -> dict[str, torch.Tensor]:
        # The crop seed is drawn before the speech is read, the mixture only once it decoded: a
        # row that fails to decode takes one draw from the training stream (as in earlier runs).
        speech = self._speech(i, self.conditions.crop_seed(i))
        item = {
            "speech": torch.from_numpy(speech),
            "word": torch.tensor(int(self.word[i])),
            "speaker": torch.tensor(int(self.speaker[i])),
        }
        clip_events = self.events[i]
        heard = [] if clip_events is None else [clip_events]  # event labels of the sources heard
        mixture = self.conditions.mixture(i)
        if mixture is None:
            clean_item(item, self.n_events)
        else:
            k, background = self._read_background(mixture)
            item["background"] = torch.from_numpy(np.ascontiguousarray(background, dtype=np.float32))
            item["snr_db"] = torch.tensor(mixture.snr_db, dtype=torch.float32)
            if background_heard(background):
                heard.append(self.backgrounds.events[k])
        audioset = np.zeros(self.n_events, dtype=np.float32)
        mask = event_mask(heard)
        if mask.item() == 1.0:
            for labels in heard:
                audioset[labels] = 1.0
        item["audioset"] = torch.from_numpy(audioset)
        item["audioset_mask"] = mask
        return item

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        n = len(self)
        for step in range(min(n, _MAX_REPLACEMENTS)):
            j = (int(i) + step) % n
            if j in self._bad_items:
                continue
            try:
                return self._item(j)
            except AudioDecodeError as exc:  # replaced by the next row, never stopping training
                self._bad_items.add(j)
                self._failed(self.paths[j], exc)
        raise RuntimeError(
            f"{self.source}: {min(n, _MAX_REPLACEMENTS)} consecutive audio files from row index {i} failed to decode"
        )


class ManifestDataModule(MixingDataModule):
    """A corpus listed in train/val manifests as dataloaders (see :class:`data.base.MixingDataModule`).

    Args:
        train_manifest, val_manifest: CSV or JSONL manifests (see :mod:`data.manifest`).
        background_dir: folder of background audio files (searched recursively); required
            for ``noise="noisy"``.
        background_labels: optional CSV ``path,events`` of the backgrounds' event labels.
        val_background_dir: backgrounds of the validation set (default: ``background_dir``).
        word_vocab, speaker_vocab, event_vocab: optional text files, one class name per line;
            otherwise the sorted names used in the training manifest (events: and in
            ``background_labels``). A label missing from its vocabulary is a ``ValueError``.
        **options: the options every training DataModule shares, by name (``noise``,
            ``snr_db``, ``jitter``, ``seed``, ``batch_size``, ``num_workers``,
            ``pin_memory``; see :class:`data.base.MixingDataModule`).

    Labels that neither a vocabulary file nor the training manifest provides are left out of
    :attr:`vocabularies` (their items carry :data:`MISSING` / an empty event vector).
    """

    def __init__(
        self,
        train_manifest: str,
        val_manifest: str,
        background_dir: str | None = None,
        background_labels: str | None = None,
        val_background_dir: str | None = None,
        word_vocab: str | None = None,
        speaker_vocab: str | None = None,
        event_vocab: str | None = None,
        **options,
    ) -> None:
        super().__init__(**options)
        if self.condition.noisy and not background_dir:
            raise ValueError("data.background_dir is required for noise=noisy (a folder of background audio files)")
        self.train_manifest, self.val_manifest = train_manifest, val_manifest
        self.background_dir, self.background_labels = background_dir, background_labels
        self.val_background_dir = val_background_dir
        self.vocab_files = {"word": word_vocab, "speaker": speaker_vocab, "audioset": event_vocab}
        self._train: Manifest | None = None
        self._vocabularies: dict[str, list[str]] | None = None
        self._origins: dict[str, str] = {}
        self._backgrounds: list[BackgroundSet] = []
        # Decode-time failures of all DataLoader workers (shared memory, inherited by workers).
        self._decode_failures = multiprocessing.Value("q", 0)

    def _train_rows(self) -> Manifest:
        if self._train is None:
            self._train = read_manifest(self.train_manifest)
        return self._train

    @property
    def vocabularies(self) -> dict[str, list[str]]:
        """Class names of each label the data provides (``word``, ``speaker``, ``audioset``)."""
        if self._vocabularies is None:
            vocabularies, origins = {}, {}
            train = self._train_rows()
            for name in LABELS:
                path = self.vocab_files[name]
                if path:
                    vocabularies[name] = read_vocabulary(path, name)
                    origins[name] = f"vocabulary file {path}"
                    continue
                names = train.labels(name)
                origin = f"labels of the training manifest {train.source}"
                if name == "audioset" and self.background_labels and self.condition.noisy:
                    names |= read_manifest(self.background_labels).labels("audioset")
                    origin += f" and of {self.background_labels}"
                if names:
                    vocabularies[name] = sorted(names)
                origins[name] = origin if names else f"no {name} labels in the training manifest {train.source}"
            self._vocabularies, self._origins = vocabularies, origins
        return self._vocabularies

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        vocabularies = self.vocabularies
        train_bg = val_bg = None
        if self.condition.noisy:
            event_index = {c: k for k, c in enumerate(vocabularies.get("audioset", []))}
            origin = self._origins.get("audioset", "")
            train_bg = BackgroundSet(self.background_dir, self.background_labels, event_index, origin)
            val_bg = train_bg
            if self.val_background_dir:
                val_bg = BackgroundSet(self.val_background_dir, self.background_labels, event_index, origin)
            self._backgrounds = list({id(b): b for b in (train_bg, val_bg)}.values())
        common = {
            "vocabularies": vocabularies,
            "condition": self.condition,
            "seed": self.seed,
            "origins": self._origins,
            "counter": self._decode_failures,
        }
        train_set = ManifestDataset(self._train_rows(), split="train", train=True, backgrounds=train_bg, **common)
        val_set = ManifestDataset(self.val_manifest, split="val", train=False, backgrounds=val_bg, **common)
        self.train_set, self.val_set = train_set, val_set
        log.info(
            "Manifest corpus: %d training clips, %d validation clips (%s); %d unreadable files skipped",
            len(train_set),
            len(val_set),
            self.condition.noise,
            self.n_skipped,
        )

    @property
    def n_skipped(self) -> int:
        """Audio files skipped so far: dropped at setup (manifests and backgrounds) plus those
        that failed to decode in any DataLoader worker."""
        at_setup = sum(d.n_skipped for d in (self.train_set, self.val_set) if d is not None)
        at_setup += sum(b.n_skipped for b in self._backgrounds)
        return at_setup + (int(self._decode_failures.value) if self._decode_failures is not None else 0)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        if get_spawning_popen() is None:  # a shared Value only travels to processes being started
            state["_decode_failures"] = None
        return state

    def teardown(self, stage: str | None = None) -> None:
        if self.train_set is not None and self.n_skipped:
            log.warning("%d unreadable audio files were skipped", self.n_skipped)

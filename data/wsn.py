"""The Word-Speaker-Noise (WSN) corpus from its HDF5 release files (docs/reference.md section 4).

Each file holds ``N`` examples under these keys:

* ``sources/signal/signal`` ``[N, samples]`` float: the speech, 20 kHz (40,000 samples or more);
* ``sources/noise/signal`` ``[N, samples]`` float: the background (AudioSet clip), 20 kHz;
* ``sources/signal/word_int``, ``sources/signal/speaker_int`` ``[N]`` int: class indices
  (-1, :data:`data.base.MISSING`, marks a clip without that label);
* ``sources/noise/labels_binary_via_int`` ``[N, 517]`` 0/1: the background's AudioSet labels;
* optionally ``sources/signal/onset`` and ``sources/signal/offset`` ``[N]`` float: the
  labelled word's start and end in seconds from the clip start. Without them the word is
  taken to be centred in the clip, as in the release.

h5py file handles cannot be pickled or shared across ``fork``, so :class:`WSNDataset`
opens its files lazily, once in each process that reads items (each DataLoader worker).
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from data.audio import CLIP_SAMPLES, SAMPLE_RATE
from data.base import MISSING, MixingDataModule
from data.condition import (
    WSN_DRAWS,
    ConditionDraws,
    ConditionOptions,
    background_heard,
    clean_item,
    event_mask,
    jitter_crop,
)

log = logging.getLogger(__name__)

SPEECH_KEY = "sources/signal/signal"
NOISE_KEY = "sources/noise/signal"
WORD_KEY = "sources/signal/word_int"
SPEAKER_KEY = "sources/signal/speaker_int"
EVENTS_KEY = "sources/noise/labels_binary_via_int"
ONSET_KEY = "sources/signal/onset"
OFFSET_KEY = "sources/signal/offset"

N_WORD, N_SPEAKER, N_EVENTS = 794, 433, 517  # head sizes of the reference networks


def read_vocabulary(path: str | os.PathLike, what: str) -> list[str]:
    """Class names from a text file, one per line in label-index order (blank lines skipped).

    Raises ``ValueError`` naming the file for a missing/empty file or a duplicated name.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"{what} vocabulary file {path} does not exist")
    names: list[str] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        name = line.strip()
        if not name:
            continue
        if name in seen:
            raise ValueError(f"{path}:{lineno}: class name {name!r} already on line {seen[name]} ({what} vocabulary)")
        seen[name] = lineno
        names.append(name)
    if not names:
        raise ValueError(f"{what} vocabulary file {path} holds no class names (expected one per line)")
    return names


def expand_glob(pattern: str, what: str) -> list[Path]:
    """The files matching ``pattern`` (``~`` expanded, ``**`` recursive), sorted; ValueError if none."""
    files = sorted(Path(p) for p in glob.glob(os.path.expanduser(str(pattern)), recursive=True))
    files = [f for f in files if f.is_file()]
    if not files:
        raise ValueError(f"{what} {pattern!r} matches no files")
    return files


def _required_keys(noise: str) -> list[str]:
    keys = [SPEECH_KEY, WORD_KEY, SPEAKER_KEY]
    if noise == "noisy":  # clean training never reads the background or its labels
        keys += [NOISE_KEY, EVENTS_KEY]
    return keys


def _check_labels(values: np.ndarray, n: int, file: Path, key: str) -> None:
    """Every value must be a class index in ``[0, n)`` or MISSING (-1)."""
    bad = np.flatnonzero(((values < 0) | (values >= n)) & (values != MISSING))
    if len(bad):
        row = int(bad[0])
        raise ValueError(
            f"{file}: {key}[{row}] = {int(values[row])} is outside the vocabulary of {n} classes "
            f"(expected 0..{n - 1}, or {MISSING} for a missing label; {len(bad)} such rows in this file)"
        )


class WSNDataset(Dataset):
    """Items (see :mod:`data.base`) of a set of WSN HDF5 files.

    ``speech``/``background`` float32 ``[clip_samples]`` at 20 kHz, cut from the stored clips
    by one window (so the stored pairing is kept). Each clip's condition comes from
    :class:`data.condition.ConditionDraws` (scheme :data:`data.condition.WSN_DRAWS`): in
    training with ``jitter`` a random time-jitter crop that keeps the word over the window's
    centre (otherwise the centred crop) and, when noisy, an SNR drawn uniformly from
    ``snr_db`` afresh per item; in validation the centred crop and an SNR fixed per index from
    ``seed``; +inf in the clean condition. ``audioset`` float32 ``[n_events]`` (the stored
    labels) with ``audioset_mask`` 1 when the window holds a background, else 0.

    Opening the dataset reads every file's keys, shapes and integer labels (small) and
    raises ``ValueError`` naming the file and key or row that is wrong.

    Args:
        files: HDF5 files in the WSN layout.
        split: name used in messages and to decorrelate the fixed validation draws.
        condition: noise, SNR range and jitter.
        train: conditions drawn afresh per item (else fixed ones).
        seed: seed of the fixed (validation) SNRs.
        n_word, n_speaker, n_events: vocabulary sizes the labels are checked against.
        clip_samples: window length in samples (2 s at 20 kHz).
    """

    def __init__(
        self,
        files: Sequence[str | os.PathLike],
        split: str,
        condition: ConditionOptions = ConditionOptions(),
        train: bool = True,
        seed: int = 0,
        n_word: int = N_WORD,
        n_speaker: int = N_SPEAKER,
        n_events: int = N_EVENTS,
        clip_samples: int = CLIP_SAMPLES,
    ) -> None:
        self.files = [Path(f) for f in files]
        if not self.files:
            raise ValueError(f"WSN {split} split has no files")
        self.split, self.noise = split, condition.noise
        self.n_events, self.clip_samples = n_events, clip_samples
        file_index, rows, words, speakers, spans = [], [], [], [], []
        for k, path in enumerate(self.files):
            n, word, speaker, span = self._scan(path, n_word, n_speaker, n_events)
            file_index.append(np.full(n, k, dtype=np.int32))
            rows.append(np.arange(n, dtype=np.int64))
            words.append(word)
            speakers.append(speaker)
            spans.append(span if span is not None else np.full((n, 2), -1, dtype=np.int64))
        # Flat (file, row) index and the small label arrays, kept in memory: workers share
        # them copy-on-write and only read audio and event labels from the files.
        self.file_index = np.concatenate(file_index)
        self.rows = np.concatenate(rows)
        self.word = np.concatenate(words)
        self.speaker = np.concatenate(speakers)
        self.word_span = np.concatenate(spans)  # [n, 2] samples; -1: unknown (word centred)
        self.conditions = ConditionDraws(condition, WSN_DRAWS, len(self.rows), split, train, seed)
        self._handles: dict[int, h5py.File] = {}
        self._pid: int | None = None

    def _scan(
        self, path: Path, n_word: int, n_speaker: int, n_events: int
    ) -> tuple[int, np.ndarray, np.ndarray, np.ndarray | None]:
        """Check one file's keys and shapes; returns its row count, labels and word spans."""
        try:
            f = h5py.File(path, "r")
        except OSError as exc:
            raise ValueError(f"{path} is not a readable HDF5 file: {exc}") from exc
        with f:
            for key in _required_keys(self.noise):
                if key not in f:
                    raise ValueError(f"{path} has no dataset {key!r} (WSN files need {_required_keys(self.noise)})")
            speech = f[SPEECH_KEY]
            if speech.ndim != 2:
                raise ValueError(f"{path}: {SPEECH_KEY} has shape {speech.shape}, expected [N, samples]")
            n = speech.shape[0]
            for key in _required_keys(self.noise)[1:]:
                if f[key].shape[0] != n:
                    raise ValueError(f"{path}: {key} has {f[key].shape[0]} rows but {SPEECH_KEY} has {n}")
            if self.noise == "noisy":
                if f[NOISE_KEY].ndim != 2:
                    raise ValueError(f"{path}: {NOISE_KEY} has shape {f[NOISE_KEY].shape}, expected [N, samples]")
                if f[EVENTS_KEY].shape[1:] != (n_events,):
                    raise ValueError(
                        f"{path}: {EVENTS_KEY} has shape {f[EVENTS_KEY].shape}, expected [{n}, {n_events}] "
                        f"(one column per AudioSet class of the event vocabulary)"
                    )
            word = np.asarray(f[WORD_KEY][:]).astype(np.int64).reshape(n)
            speaker = np.asarray(f[SPEAKER_KEY][:]).astype(np.int64).reshape(n)
            _check_labels(word, n_word, path, WORD_KEY)
            _check_labels(speaker, n_speaker, path, SPEAKER_KEY)
            span = None
            if (ONSET_KEY in f) != (OFFSET_KEY in f):
                have = ONSET_KEY if ONSET_KEY in f else OFFSET_KEY
                raise ValueError(f"{path} has {have!r} but not its pair (word timing needs both {ONSET_KEY!r} "
                                 f"and {OFFSET_KEY!r}, in seconds)")  # fmt: skip
            if ONSET_KEY in f:
                onset = np.asarray(f[ONSET_KEY][:], dtype=np.float64).reshape(n)
                offset = np.asarray(f[OFFSET_KEY][:], dtype=np.float64).reshape(n)
                bad = np.flatnonzero(~(np.isfinite(onset) & np.isfinite(offset) & (onset >= 0) & (offset >= onset)))
                if len(bad):
                    r = int(bad[0])
                    raise ValueError(
                        f"{path}: row {r} has word onset {onset[r]} s and offset {offset[r]} s "
                        f"(expected 0 <= onset <= offset, in seconds)"
                    )
                start = np.floor(onset * SAMPLE_RATE).astype(np.int64)
                span = np.stack([start, np.maximum(np.ceil(offset * SAMPLE_RATE).astype(np.int64), start + 1)], 1)
        return n, word, speaker, span

    def __len__(self) -> int:
        return len(self.rows)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_handles"], state["_pid"] = {}, None  # h5py handles never cross processes
        return state

    def _file(self, k: int) -> h5py.File:
        """File ``k``, opened on first use in this process."""
        if self._pid != os.getpid():  # a forked worker must not reuse its parent's handles
            self._handles, self._pid = {}, os.getpid()
        handle = self._handles.get(k)
        if handle is None:
            handle = self._handles[k] = h5py.File(self.files[k], "r")
        return handle

    def close(self) -> None:
        """Close the files this process opened."""
        if self._pid == os.getpid():
            for handle in self._handles.values():
                handle.close()
        self._handles, self._pid = {}, None

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        f, row = self._file(int(self.file_index[i])), int(self.rows[i])
        span = self.word_span[i]
        target = (int(span[0]), int(span[1])) if span[0] >= 0 else None
        condition = self.conditions.draw(i)

        def crop(audio: np.ndarray) -> np.ndarray:  # one window for the speech and its background
            return jitter_crop(np.asarray(audio, dtype=np.float32), self.clip_samples, target, condition.crop_seed)

        item = {
            "speech": torch.from_numpy(crop(f[SPEECH_KEY][row])),
            "word": torch.tensor(int(self.word[i])),
            "speaker": torch.tensor(int(self.speaker[i])),
        }
        if condition.mixture is None:
            return clean_item(item, self.n_events)
        background = crop(f[NOISE_KEY][row])
        events = np.asarray(f[EVENTS_KEY][row], dtype=np.float32)
        item["background"] = torch.from_numpy(background)
        item["snr_db"] = torch.tensor(condition.mixture.snr_db, dtype=torch.float32)
        item["audioset"] = torch.from_numpy(events)
        item["audioset_mask"] = event_mask([events] if background_heard(background) else [])
        return item


class WSNDataModule(MixingDataModule):
    """The WSN corpus as train/val dataloaders (see :class:`data.base.MixingDataModule`).

    Args:
        train_glob, val_glob: glob patterns of the HDF5 files, e.g.
            ``/data/wsn/train_*/JSIN_all__run_*.h5`` and ``/data/wsn/valid_*/JSIN_all__run_*.h5``.
        word_vocab, speaker_vocab, event_vocab: optional text files, one class name per line
            in label-index order; default names ``word_0`` .. (794 / 433 / 517 classes).
        **options: the options every training DataModule shares, by name (``noise``,
            ``snr_db``, ``jitter``, ``seed``, ``batch_size``, ``num_workers``,
            ``pin_memory``; see :class:`data.base.MixingDataModule`).
    """

    def __init__(
        self,
        train_glob: str,
        val_glob: str,
        word_vocab: str | None = None,
        speaker_vocab: str | None = None,
        event_vocab: str | None = None,
        **options,
    ) -> None:
        super().__init__(**options)
        self.train_glob, self.val_glob = train_glob, val_glob
        self.vocab_files = {"word": word_vocab, "speaker": speaker_vocab, "audioset": event_vocab}
        self._vocabularies: dict[str, list[str]] | None = None

    @property
    def vocabularies(self) -> dict[str, list[str]]:
        """Class names of ``word``, ``speaker`` and ``audioset``, in label-index order."""
        if self._vocabularies is None:
            defaults = {"word": N_WORD, "speaker": N_SPEAKER, "audioset": N_EVENTS}
            prefixes = {"word": "word", "speaker": "speaker", "audioset": "event"}
            self._vocabularies = {
                name: read_vocabulary(path, name) if path else [f"{prefixes[name]}_{i}" for i in range(defaults[name])]
                for name, path in self.vocab_files.items()
            }
        return self._vocabularies

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        sizes = self.label_sizes
        common = {
            "condition": self.condition,
            "seed": self.seed,
            "n_word": sizes["word"],
            "n_speaker": sizes["speaker"],
            "n_events": sizes["audioset"],
        }
        train_files = expand_glob(self.train_glob, "data.train_glob")
        val_files = expand_glob(self.val_glob, "data.val_glob")
        self.train_set = WSNDataset(train_files, "train", train=True, **common)
        self.val_set = WSNDataset(val_files, "val", train=False, **common)
        log.info(
            "WSN: %d training clips in %d files, %d validation clips in %d files (%s)",
            len(self.train_set),
            len(train_files),
            len(self.val_set),
            len(val_files),
            self.condition.noise,
        )

    def teardown(self, stage: str | None = None) -> None:
        for dataset in (self.train_set, self.val_set):
            if dataset is not None:
                dataset.close()

"""Lightning DataModule for the embedded speech-in-noise corpus.

Workers only read int16 audio from memory-mapped files; mixing at the drawn SNR and RMS
normalisation happen on the model's device (:class:`data.base.MixingDataModule`).
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch.utils.data import Dataset

from data.base import MixingDataModule
from data.condition import (
    EMBEDDED_DRAWS,
    ConditionDraws,
    ConditionOptions,
    background_heard,
    clean_item,
    event_mask,
    jitter_crop,
)
from data.corpus import CorpusSpec, SpeechCorpus, describe, load_corpus

log = logging.getLogger(__name__)


class SpeechInNoiseDataset(Dataset):
    """Items of one corpus split in the contract of :mod:`data.base`.

    Each clip's condition comes from :class:`data.condition.ConditionDraws` (scheme
    :data:`data.condition.EMBEDDED_DRAWS`): in training a background and an SNR drawn
    uniformly from ``snr_db`` afresh every time, and with ``jitter`` a random shift as far as
    the word still overlaps the centre; in validation a fixed background and SNR per clip,
    drawn once from ``seed``, and the stored (centred) clip. Event labels (``audioset``) are
    those of the background; masked in the clean condition (and for a silent background).
    """

    def __init__(
        self,
        corpus: SpeechCorpus,
        split: str,
        condition: ConditionOptions = ConditionOptions(),
        train: bool = True,
        seed: int = 0,
    ) -> None:
        self.corpus, self.split = corpus, split
        arrays = corpus[split]
        n_bg = len(arrays.backgrounds)
        self.conditions = ConditionDraws(condition, EMBEDDED_DRAWS, len(arrays), split, train, seed, n_bg)
        self.n_events = len(corpus.events)
        # Rendered backgrounds are whole windows: whether each is heard is known up front.
        scales = arrays.background_scale
        self.heard = [background_heard(arrays.backgrounds[b], float(scales[b])) for b in range(n_bg)] if condition.noisy else []

    def __len__(self) -> int:
        return len(self.corpus[self.split])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        arrays = self.corpus[self.split]
        condition = self.conditions.draw(i)
        speech = np.asarray(arrays.speech[i])  # int16, scaled on the device (see data.base)
        if condition.crop_seed is not None:
            target = (int(arrays.target_start[i]), int(arrays.target_end[i]))
            speech = jitter_crop(speech, len(speech), target, condition.crop_seed, dtype=np.int16)
        item = {
            "speech": torch.from_numpy(np.array(speech)),
            "speech_scale": torch.tensor(float(arrays.speech_scale[i])),
            "word": torch.tensor(int(arrays.word[i])),
            "speaker": torch.tensor(int(arrays.speaker[i])),
        }
        mixture = condition.mixture
        if mixture is None:
            return clean_item(item, self.n_events)
        b = mixture.background
        events = arrays.background_events[b]
        item["background"] = torch.from_numpy(np.array(arrays.backgrounds[b]))
        item["background_scale"] = torch.tensor(float(arrays.background_scale[b]))
        item["snr_db"] = torch.tensor(mixture.snr_db, dtype=torch.float32)
        item["audioset"] = torch.from_numpy(events.astype(np.float32))
        item["audioset_mask"] = event_mask([events] if self.heard[b] else [])
        return item


class EmbeddedSpeechDataModule(MixingDataModule):
    """The synthesised Word-Speaker-Noise-style corpus as train/val dataloaders.

    Batches are dicts with ``waveform`` ``[batch, samples]`` (mixed and RMS 0.1, on the
    model's device), ``word``, ``speaker`` and ``audioset`` (multi-hot events of the
    background) labels, plus the unmixed parts.

    Args:
        corpus: what to render (see :class:`data.corpus.CorpusSpec`).
        cache_dir: where rendered corpora live (default: the user cache directory).
        render_workers: processes for the one-time rendering (default: all cores).
        **options: the options every training DataModule shares, by name (``noise``,
            ``snr_db``, ``jitter``, ``seed``, ``batch_size``, ``num_workers``,
            ``pin_memory``; see :class:`data.base.MixingDataModule`).
    """

    def __init__(
        self, corpus: CorpusSpec, cache_dir: str | None = None, render_workers: int | None = None, **options
    ) -> None:
        super().__init__(**options)
        self.spec = corpus
        self.cache_dir, self.render_workers = cache_dir, render_workers
        self.corpus: SpeechCorpus | None = None

    def load(self) -> SpeechCorpus:
        """Render (first time only) and open the corpus."""
        if self.corpus is None:
            self.corpus = load_corpus(self.spec, self.cache_dir, self.render_workers)
            log.info("%s", describe(self.corpus))
        return self.corpus

    def prepare_data(self) -> None:
        self.load()

    def setup(self, stage: str | None = None) -> None:
        corpus = self.load()
        if self.train_set is None:
            self.train_set = SpeechInNoiseDataset(corpus, "train", self.condition, True, self.seed)
            self.val_set = SpeechInNoiseDataset(corpus, "val", self.condition, False, self.seed)

    @property
    def vocabularies(self) -> dict[str, list[str]]:
        """Class names of every label, in label-index order."""
        corpus = self.load()
        return {"word": list(corpus.vocabulary), "speaker": list(corpus.speakers), "audioset": list(corpus.events)}

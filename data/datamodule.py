"""Lightning DataModule for the embedded speech-in-noise corpus.

Workers only read int16 audio from memory-mapped files; mixing at the drawn SNR and RMS
normalisation happen on the model's device (:class:`data.base.MixingDataModule`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from data.base import MixingDataModule, check_noise, clean_item, jitter_crop
from data.corpus import CorpusSpec, SpeechCorpus, describe, load_corpus

log = logging.getLogger(__name__)


class SpeechInNoiseDataset(Dataset):
    """Items of one corpus split in the contract of :mod:`data.base`.

    Training items draw a background and an SNR uniformly from ``snr_db`` afresh every
    time, and shift the clip at random as far as the word still overlaps the centre
    (``jitter``), all from torch's RNG (which Lightning seeds per worker); validation items
    use a fixed background and SNR per clip, drawn once from ``seed``, and no shift.
    Event labels (``audioset``) are those of the background; masked in the clean condition.
    """

    def __init__(
        self,
        corpus: SpeechCorpus,
        split: str,
        noise: str = "noisy",
        snr_db: Sequence[float] = (-10.0, 10.0),
        train: bool = True,
        seed: int = 0,
        jitter: bool = True,
    ) -> None:
        self.snr_low, self.snr_high = check_noise(noise, snr_db)
        self.corpus, self.split, self.noise, self.train = corpus, split, noise, train
        self.jitter = jitter and train
        n = len(corpus[split])
        n_bg = len(corpus[split].backgrounds)
        rng = np.random.default_rng([seed, 5, 0 if split == "train" else 1])
        self.fixed_background = rng.integers(n_bg, size=n)
        self.fixed_snr = rng.uniform(self.snr_low, self.snr_high, size=n).astype(np.float32)
        self.n_events = len(corpus.events)

    def __len__(self) -> int:
        return len(self.corpus[self.split])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        arrays = self.corpus[self.split]
        speech = np.asarray(arrays.speech[i])  # int16, scaled on the device (see data.base)
        if self.jitter:
            rng = np.random.default_rng(int(torch.randint(2**62, ()).item()))
            target = (int(arrays.target_start[i]), int(arrays.target_end[i]))
            speech = jitter_crop(speech, len(speech), target, rng, dtype=np.int16)
        item = {
            "speech": torch.from_numpy(np.array(speech)),
            "speech_scale": torch.tensor(float(arrays.speech_scale[i])),
            "word": torch.tensor(int(arrays.word[i])),
            "speaker": torch.tensor(int(arrays.speaker[i])),
        }
        if self.noise == "clean":
            return clean_item(item, self.n_events)
        if self.train:
            b = int(torch.randint(len(arrays.backgrounds), ()).item())
            snr = self.snr_low + (self.snr_high - self.snr_low) * float(torch.rand(()).item())
        else:
            b, snr = int(self.fixed_background[i]), float(self.fixed_snr[i])
        item["background"] = torch.from_numpy(np.array(arrays.backgrounds[b]))
        item["background_scale"] = torch.tensor(float(arrays.background_scale[b]))
        item["snr_db"] = torch.tensor(snr, dtype=torch.float32)
        item["audioset"] = torch.from_numpy(arrays.background_events[b].astype(np.float32))
        item["audioset_mask"] = torch.tensor(1.0)
        return item


class EmbeddedSpeechDataModule(MixingDataModule):
    """The synthesised Word-Speaker-Noise-style corpus as train/val dataloaders.

    Batches are dicts with ``waveform`` ``[batch, samples]`` (mixed and RMS 0.1, on the
    model's device), ``word``, ``speaker`` and ``audioset`` (multi-hot events of the
    background) labels, plus the unmixed parts.

    Args:
        corpus: what to render (see :class:`data.corpus.CorpusSpec`).
        noise: ``"noisy"`` (speech + background at an SNR drawn from ``snr_db``) or ``"clean"``.
        snr_db: ``[low, high]`` in dB.
        batch_size: clips per batch (per device).
        num_workers: DataLoader worker processes.
        cache_dir: where rendered corpora live (default: the user cache directory).
        render_workers: processes for the one-time rendering (default: all cores).
        seed: seed of the validation backgrounds and SNRs.
        jitter: random time shift of training clips that keeps the word over the centre.
    """

    def __init__(
        self,
        corpus: CorpusSpec,
        noise: str = "noisy",
        snr_db: Sequence[float] = (-10.0, 10.0),
        batch_size: int = 128,
        num_workers: int = 2,
        cache_dir: str | None = None,
        render_workers: int | None = None,
        seed: int = 0,
        pin_memory: bool = False,
        jitter: bool = True,
    ) -> None:
        super().__init__(noise, snr_db, batch_size, num_workers, seed, pin_memory)
        self.spec = corpus
        self.cache_dir, self.render_workers, self.jitter = cache_dir, render_workers, jitter
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
            args = (self.noise, self.snr_db)
            self.train_set = SpeechInNoiseDataset(corpus, "train", *args, True, self.seed, self.jitter)
            self.val_set = SpeechInNoiseDataset(corpus, "val", *args, False, self.seed, False)

    @property
    def vocabularies(self) -> dict[str, list[str]]:
        """Class names of every label, in label-index order."""
        corpus = self.load()
        return {"word": list(corpus.vocabulary), "speaker": list(corpus.speakers), "audioset": list(corpus.events)}

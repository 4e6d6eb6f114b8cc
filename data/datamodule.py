"""Lightning DataModule for the embedded speech-in-noise corpus.

Workers only read int16 audio from memory-mapped files; mixing at the drawn SNR and RMS
normalisation happen on the model's device in :meth:`on_after_batch_transfer`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from data.corpus import CorpusSpec, SpeechCorpus, describe, load_corpus
from data.mixing import mix_at_snr

log = logging.getLogger(__name__)

NOISE_CONDITIONS = ("clean", "noisy")


class SpeechInNoiseDataset(Dataset):
    """Items of one corpus split: ``speech`` and ``background`` float32 ``[samples]``,
    ``snr_db`` (float, +inf for clean speech), ``word`` and ``speaker`` (int64).

    Training items draw a background and an SNR uniformly from ``snr_db`` afresh every
    time (from torch's RNG, which Lightning seeds per worker); validation items use a
    fixed background and SNR per clip, drawn once from ``seed``.
    """

    def __init__(
        self,
        corpus: SpeechCorpus,
        split: str,
        noise: str = "noisy",
        snr_db: Sequence[float] = (-10.0, 10.0),
        train: bool = True,
        seed: int = 0,
    ) -> None:
        if noise not in NOISE_CONDITIONS:
            raise ValueError(f"noise must be one of {NOISE_CONDITIONS}, got {noise!r}")
        low, high = (float(v) for v in snr_db)
        if not low <= high:
            raise ValueError(f"snr_db must be [low, high] with low <= high, got {list(snr_db)}")
        self.corpus, self.split, self.noise, self.train = corpus, split, noise, train
        self.snr_low, self.snr_high = low, high
        n = len(corpus[split])
        n_bg = len(corpus[split].backgrounds)
        rng = np.random.default_rng([seed, 5, 0 if split == "train" else 1])
        self.fixed_background = rng.integers(n_bg, size=n)
        self.fixed_snr = rng.uniform(low, high, size=n).astype(np.float32)

    def __len__(self) -> int:
        return len(self.corpus[self.split])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        arrays = self.corpus[self.split]
        item = {
            "speech": torch.from_numpy(arrays.speech_clip(i)),
            "word": torch.tensor(int(arrays.word[i])),
            "speaker": torch.tensor(int(arrays.speaker[i])),
        }
        if self.noise == "clean":
            item["background"] = torch.zeros_like(item["speech"])
            item["snr_db"] = torch.tensor(math.inf)
            return item
        if self.train:
            b = int(torch.randint(len(arrays.backgrounds), ()).item())
            snr = self.snr_low + (self.snr_high - self.snr_low) * float(torch.rand(()).item())
        else:
            b, snr = int(self.fixed_background[i]), float(self.fixed_snr[i])
        item["background"] = torch.from_numpy(arrays.background_clip(b))
        item["snr_db"] = torch.tensor(snr, dtype=torch.float32)
        return item


class EmbeddedSpeechDataModule(pl.LightningDataModule):
    """The synthesised Word-Speaker-Noise-style corpus as train/val dataloaders.

    Batches are dicts with ``waveform`` ``[batch, samples]`` (mixed and RMS 0.1, on the
    model's device), ``word`` and ``speaker`` labels, plus the unmixed parts.

    Args:
        corpus: what to render (see :class:`data.corpus.CorpusSpec`).
        noise: ``"noisy"`` (speech + background at an SNR drawn from ``snr_db``) or ``"clean"``.
        snr_db: ``[low, high]`` in dB.
        batch_size: clips per batch (per device).
        num_workers: DataLoader worker processes.
        cache_dir: where rendered corpora live (default: the user cache directory).
        render_workers: processes for the one-time rendering (default: all cores).
        seed: seed of the validation backgrounds and SNRs.
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
    ) -> None:
        super().__init__()
        if noise not in NOISE_CONDITIONS:
            raise ValueError(f"data.noise must be one of {NOISE_CONDITIONS}, got {noise!r}")
        if batch_size < 1:
            raise ValueError(f"data.batch_size must be >= 1, got {batch_size}")
        self.spec = corpus
        self.noise, self.snr_db = noise, tuple(float(v) for v in snr_db)
        self.batch_size, self.num_workers = batch_size, num_workers
        self.cache_dir, self.render_workers, self.seed = cache_dir, render_workers, seed
        self.pin_memory = pin_memory
        self.corpus: SpeechCorpus | None = None
        self.train_set: SpeechInNoiseDataset | None = None
        self.val_set: SpeechInNoiseDataset | None = None

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
            self.train_set = SpeechInNoiseDataset(corpus, "train", self.noise, self.snr_db, True, self.seed)
            self.val_set = SpeechInNoiseDataset(corpus, "val", self.noise, self.snr_db, False, self.seed)

    @property
    def label_sizes(self) -> dict[str, int]:
        """Number of classes of every label the batches carry."""
        corpus = self.load()
        return {"word": len(corpus.vocabulary), "speaker": len(corpus.speakers)}

    @property
    def vocabularies(self) -> dict[str, list[str]]:
        """Class names of every label, in label-index order."""
        corpus = self.load()
        return {"word": list(corpus.vocabulary), "speaker": list(corpus.speakers)}

    def _loader(self, dataset: Dataset, shuffle: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=self.pin_memory,
            drop_last=shuffle and len(dataset) >= self.batch_size,
        )

    def train_dataloader(self) -> DataLoader:
        self.setup("fit")
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        self.setup("fit")
        return self._loader(self.val_set, shuffle=False)

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        batch["waveform"] = mix_at_snr(batch["speech"], batch["background"], batch["snr_db"])
        return batch


"""What every training DataModule delivers, and the mixing they share.

Dataset items (before batching) are dicts:

* ``speech``: float32 ``[samples]`` at 20 kHz (2 s = 40,000 samples), or int16 with a
  float32 ``speech_scale`` (half the bytes between worker processes; converted on the device);
* ``background``: float32 ``[samples]`` (zeros when there is none), or int16 with
  ``background_scale``;
* ``snr_db``: float32 scalar, dB (``+inf``: speech alone; ``-inf``: background alone);
* ``word``, ``speaker``: int64 scalars, :data:`MISSING` (-1) when the clip has no such label;
* ``audioset``: float32 ``[n_event_classes]`` multi-hot labels of the background's events;
* ``audioset_mask``: float32 scalar, 1 when the event labels are valid (0 in the clean
  condition, where there is no background, or when a source has no event labels).

Workers only read and slice audio; :meth:`MixingDataModule.on_after_batch_transfer` mixes
speech and background at the drawn SNR and RMS-normalises to 0.1 on the model's device,
adding ``waveform`` ``[batch, samples]`` to the batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from data.mixing import mix_at_snr
from data.sampler import EpochShuffleSampler

NOISE_CONDITIONS = ("clean", "noisy")
MISSING = -1  # label index of a clip without that label (ignored by the losses)


def check_noise(noise: str, snr_db) -> tuple[float, float]:
    """Validate the noise condition and SNR range; returns ``(low, high)`` in dB."""
    if noise not in NOISE_CONDITIONS:
        raise ValueError(f"data.noise must be one of {NOISE_CONDITIONS}, got {noise!r}")
    low, high = (float(v) for v in snr_db)
    if not low <= high:
        raise ValueError(f"data.snr_db must be [low, high] with low <= high, got {list(snr_db)}")
    return low, high


def jitter_crop(
    audio: np.ndarray,
    length: int,
    target: tuple[int, int] | None,
    rng: np.random.Generator | None,
    dtype: np.dtype | type = np.float32,
) -> np.ndarray:
    """A ``length``-sample window of ``audio`` (zero-padded if shorter), as ``dtype``
    (``np.int16`` keeps stored int16 audio compact until it reaches the device).

    Without ``rng`` the window is centred on ``target`` (start, end samples of the labelled
    word) or on the clip. With ``rng`` it is shifted at random as far as the word still
    overlaps the window's centre (the reference's time-jitter crop).
    """
    n = len(audio)
    mid = (target[0] + target[1]) // 2 if target is not None else n // 2
    start = mid - length // 2
    if rng is not None:
        lo, hi = (target[0], target[1]) if target is not None else (mid, mid + 1)
        # The centre sample (start + length // 2) must land inside [lo, hi).
        start = int(rng.integers(lo, max(hi, lo + 1))) - length // 2
    out = np.zeros(length, dtype=dtype)
    src0, src1 = max(start, 0), min(start + length, n)
    if src1 > src0:
        out[src0 - start : src1 - start] = audio[src0:src1]
    return out


def empty_events(n_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Event labels of a clip without events: zeros and mask 0."""
    return torch.zeros(n_classes, dtype=torch.float32), torch.tensor(0.0)


def clean_item(item: dict, n_event_classes: int) -> dict:
    """Make ``item`` a clean-speech item: no background, event labels masked."""
    item["background"] = torch.zeros(item["speech"].shape, dtype=torch.float32)
    item["snr_db"] = torch.tensor(math.inf)
    item["audioset"], item["audioset_mask"] = empty_events(n_event_classes)
    return item


def _resume_position(fit_loop) -> tuple[int, int]:
    """``(epoch, batches already done in it)`` for the training iterator Lightning is about to
    create. A checkpoint written inside an epoch (step checkpoints, SIGTERM, or the end of a
    ``max_steps`` run) is continued in that epoch after the batches it had done; Lightning's
    own ``set_epoch`` call comes only after this first iterator is made."""
    batches = fit_loop.epoch_loop.batch_progress
    epochs = fit_loop.epoch_progress.current
    if batches.current.ready > 0 and not batches.is_last_batch:
        return epochs.completed, batches.current.ready
    return epochs.processed, 0


class MixingDataModule(pl.LightningDataModule):
    """Base of the training DataModules: loaders, and mixing on the model's device.

    It validates and keeps the noise condition (``noise``, ``snr_db`` in dB, ``seed`` of the
    fixed validation draws). Subclasses set ``self.train_set`` / ``self.val_set`` in :meth:`setup` and provide
    :attr:`label_sizes` and :attr:`vocabularies` (class names per label; saved with
    checkpoints so a trained network's outputs can be read).
    """

    def __init__(
        self,
        noise: str,
        snr_db: Sequence[float],
        batch_size: int,
        num_workers: int,
        seed: int = 0,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"data.batch_size must be >= 1, got {batch_size}")
        check_noise(noise, snr_db)
        self.noise, self.snr_db, self.seed = noise, tuple(float(v) for v in snr_db), seed
        self.batch_size, self.num_workers, self.pin_memory = batch_size, num_workers, pin_memory
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None

    @property
    def label_sizes(self) -> dict[str, int]:
        return {name: len(classes) for name, classes in self.vocabularies.items()}

    @property
    def vocabularies(self) -> dict[str, list[str]]:
        raise NotImplementedError

    def _ranks(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def _loader(self, dataset: Dataset, sampler, drop_last: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=self.pin_memory,
            drop_last=drop_last,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled by (seed, epoch) and sharded across DDP ranks here (the trainer configs set
        ``use_distributed_sampler: false``); after a mid-epoch resume it continues the
        interrupted epoch's order after the batches already trained on."""
        self.setup("fit")
        rank, world = self._ranks()
        sampler = EpochShuffleSampler(len(self.train_set), seed=self.seed, rank=rank, world_size=world)
        trainer = self.trainer
        if trainer is not None:
            epoch, done = _resume_position(trainer.fit_loop)
            sampler.resume(epoch, min(done * self.batch_size, len(sampler)))
        return self._loader(self.train_set, sampler, drop_last=len(sampler) >= self.batch_size)

    def val_dataloader(self) -> DataLoader:
        self.setup("fit")
        rank, world = self._ranks()
        sampler = DistributedSampler(self.val_set, world, rank, shuffle=False) if world > 1 else None
        return self._loader(self.val_set, sampler, drop_last=False)

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        for key in ("speech", "background"):
            scale = batch.pop(f"{key}_scale", None)
            if scale is not None:  # int16 audio from the workers
                # int16 x float32 promotes to float32: conversion and scaling in one pass
                batch[key] = torch.mul(batch[key], scale.to(torch.float32).unsqueeze(-1))
        batch["waveform"] = mix_at_snr(batch["speech"], batch["background"], batch["snr_db"])
        return batch

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
  condition, where the background window is silent, or when a source has no event labels;
  :func:`data.condition.event_mask`).

Workers only read and slice audio; :meth:`MixingDataModule.on_after_batch_transfer` mixes
speech and background at the drawn SNR and RMS-normalises to 0.1 on the model's device,
adding ``waveform`` ``[batch, samples]`` to the batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from data.condition import ConditionOptions
from data.mixing import mix_at_snr
from data.sampler import EpochShuffleSampler

MISSING = -1  # label index of a clip without that label (ignored by the losses)


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
    """Base of the training DataModules: the options they all share, loaders, and mixing on
    the model's device.

    Subclasses take their source's own arguments and pass these on by name (the same names
    in every ``conf/data/*.yaml``); they set ``self.train_set`` / ``self.val_set`` in
    :meth:`setup`, drawing each clip's condition with :class:`data.condition.ConditionDraws`
    from :attr:`condition`, and provide :attr:`vocabularies` (class names per label; saved
    with checkpoints so a trained network's outputs can be read).

    Args:
        noise: ``"noisy"`` (speech + background at an SNR drawn from ``snr_db``) or ``"clean"``.
        snr_db: ``[low, high]`` in dB of the noisy condition.
        jitter: random time shift of training clips that keeps the word over the centre.
        seed: seed of the training order and of the fixed validation draws.
        batch_size: clips per batch (per device).
        num_workers: DataLoader worker processes.
        pin_memory: DataLoader ``pin_memory``.
    """

    def __init__(
        self,
        *,
        noise: str = "noisy",
        snr_db: Sequence[float] = (-10.0, 10.0),
        jitter: bool = True,
        seed: int = 0,
        batch_size: int = 128,
        num_workers: int = 2,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"data.batch_size must be >= 1, got {batch_size}")
        self.condition = ConditionOptions(noise, snr_db, jitter)
        self.seed = seed
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

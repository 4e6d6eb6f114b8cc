"""The training order: a shuffle fixed by (seed, epoch), sharded across DDP ranks, that can
resume in the middle of an epoch.

Lightning restores a mid-epoch checkpoint's step counters but restarts the dataloader from
the top of its sampler, so a resumed epoch would replay the batches it had already trained
on and never see the rest. :class:`EpochShuffleSampler` draws the same order the
interrupted epoch drew and starts after the batches already done.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class EpochShuffleSampler(Sampler[int]):
    """Indices ``0 .. n_items - 1`` in an order fixed by ``(seed, epoch)``; this rank's share.

    As :class:`torch.utils.data.DistributedSampler` (``drop_last=False``), the permutation is
    padded by wrapping around to a multiple of ``world_size`` and rank ``r`` takes every
    ``world_size``-th index from position ``r``, so ranks never share an index within an epoch
    (unless padded). :meth:`set_epoch` picks the epoch; :meth:`resume` skips the first
    ``n`` indices of this rank's share, once, for the next iteration only.
    """

    def __init__(self, n_items: int, seed: int = 0, rank: int = 0, world_size: int = 1) -> None:
        if n_items < 1:
            raise ValueError(f"EpochShuffleSampler needs at least one item, got n_items={n_items}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size), got rank={rank}, world_size={world_size}")
        self.n_items, self.seed, self.rank, self.world_size = n_items, seed, rank, world_size
        self.epoch = 0
        self._resume: tuple[int, int] | None = None
        self.per_rank = math.ceil(n_items / world_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def resume(self, epoch: int, items_done: int) -> None:
        """Make the next iteration continue ``epoch`` after its first ``items_done`` indices."""
        if not 0 <= items_done <= self.per_rank:
            raise ValueError(f"items_done must be in [0, {self.per_rank}], got {items_done}")
        # Pinned: Lightning may call set_epoch before a lazy DataLoader first draws indices.
        self._resume = (epoch, items_done)

    def order(self, epoch: int) -> list[int]:
        """This rank's full index order for ``epoch`` (before any resume skip)."""
        gen = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        perm = torch.randperm(self.n_items, generator=gen).tolist()
        total = self.per_rank * self.world_size
        perm += (perm * math.ceil(total / self.n_items))[: total - self.n_items]  # wrap-around padding
        return perm[self.rank : total : self.world_size]

    def __iter__(self) -> Iterator[int]:
        if self._resume is not None:
            (epoch, skip), self._resume = self._resume, None
            return iter(self.order(epoch)[skip:])
        return iter(self.order(self.epoch))

    def __len__(self) -> int:
        # The full epoch, also when resuming: Lightning counts the skipped batches as done.
        return self.per_rank

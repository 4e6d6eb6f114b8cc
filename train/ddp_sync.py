"""Work-around for a DDP deadlock in Lightning 2.6's progress bars (Lightning issue #21264).

At the end of a training epoch the progress bar, on rank zero only, asks for the epoch's
metrics; metrics logged with ``sync_dist=True`` then all-reduce across ranks while the other
ranks have moved on to a different collective, and the run hangs. Asking for them on every
rank first (the result is cached) keeps the collectives in step.
"""

from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback


class SyncEpochMetrics(Callback):
    """Computes the epoch metrics on every rank before rank-zero-only readers do.
    Must come before the progress bar in the callback list (Lightning appends it last)."""

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.world_size > 1:
            _ = trainer.callback_metrics

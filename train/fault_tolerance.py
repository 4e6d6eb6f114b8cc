"""A checkpoint before the run stops: on SIGTERM, Ctrl+C, or a cluster's preemption signal.

Lightning turns SIGTERM into a :class:`SIGTERMException` raised between training steps
(after rank zero's flag is broadcast to every DDP rank); :class:`InterruptCheckpoint` writes
``interrupted.ckpt`` there, so the resumed run continues from the exact step.

Other signals are made to take the same safe path instead of stopping the process where
it stands: Ctrl+C (SIGINT; a second Ctrl+C aborts at once) and the signal submitit/SLURM
send before a time limit (SIGUSR2 with ``hydra/launcher=slurm``). Their original handler
(submitit's, which requeues the job) is called after the checkpoint is written, from
:meth:`InterruptCheckpoint.hand_over`.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Checkpoint
from pytorch_lightning.trainer.states import TrainerFn
from pytorch_lightning.utilities.exceptions import SIGTERMException

from train.loggers import LogsEachValueOnce

log = logging.getLogger(__name__)


class InterruptCheckpoint(Checkpoint):
    """Writes ``<dirpath>/<filename>.ckpt`` when training is stopped by a signal.

    ``signals``: names of signals (besides SIGTERM, which Lightning handles) that stop
    training after the current step instead of at once. Whenever any checkpoint is written,
    the metrics it covers (the batches' step metrics, a finished epoch's aggregates) are
    logged and flushed first, so they are on disk before it is.
    """

    FILE_EXTENSION = ".ckpt"

    def __init__(self, dirpath: str, filename: str = "interrupted", signals: tuple[str, ...] = ("SIGINT", "SIGUSR2")):
        super().__init__()
        self.dirpath, self.filename = Path(dirpath), filename
        try:
            self.signals = [signal.Signals[name] for name in signals]
        except KeyError as exc:
            raise ValueError(f"callbacks.interrupt_checkpoint.signals: unknown signal {exc}") from None
        self.saved_path: Path | None = None
        self.received: signal.Signals | None = None
        self._previous: dict[signal.Signals, Any] = {}

    @property
    def ckpt_path(self) -> Path:
        return self.dirpath / f"{self.filename}{self.FILE_EXTENSION}"

    # ------------------------------------------------------------------ signals
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Lightning registers its SIGTERM handler just before this hook and restores every
        # handler (removing these) at teardown.
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in self.signals:
            self._previous[sig] = signal.getsignal(sig)
            signal.signal(sig, self._defer)

    def _defer(self, signum: int, frame: FrameType | None) -> None:
        sig = signal.Signals(signum)
        if self.received is not None:  # asked twice: stop now, the original way
            self._call_previous(sig, frame)
            return
        self.received = sig
        log.warning("Received %s: stopping after this training step and writing a checkpoint%s", sig.name,
                    " (Ctrl+C again to abort at once)" if sig == signal.SIGINT else "")  # fmt: skip
        # Lightning's SIGTERM handler sets the flag its loops check between steps (and
        # forwards the signal to DDP processes it launched).
        handler = signal.getsignal(signal.SIGTERM)
        if callable(handler):
            handler(signal.SIGTERM, frame)

    def _call_previous(self, sig: signal.Signals, frame: FrameType | None) -> None:
        previous = self._previous.get(sig)
        if callable(previous):
            previous(int(sig), frame)
        elif previous in (signal.SIG_DFL, None):
            signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(sig)

    def hand_over(self) -> None:
        """After the checkpoint: let a deferred cluster signal's original handler act
        (submitit's requeues the job and exits)."""
        if self.received not in (None, signal.SIGTERM, signal.SIGINT):
            self._call_previous(self.received, None)

    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        # Lightning writes a checkpoint before it logs what the checkpoint covers: at the end
        # of a training batch (ModelCheckpoint's every_n_train_steps / train_time_interval)
        # before that batch's step metrics, and at the end of an epoch (in on_train_epoch_end,
        # or in on_validation_end with check_val_every_n_epoch > 1) before the epoch's
        # aggregates. A run killed right after the checkpoint resumes behind them and would
        # never log them, so they are logged here first; the loggers drop the repeat Lightning
        # sends afterwards (only done when every logger does).
        if trainer.state.fn == TrainerFn.FITTING and trainer.loggers and all(
            isinstance(lg, LogsEachValueOnce) for lg in trainer.loggers
        ):
            epoch_loop = trainer.fit_loop.epoch_loop
            batch, epoch = epoch_loop.batch_progress.current, trainer.fit_loop.epoch_progress.current
            connector = trainer._logger_connector
            if trainer.training and batch.completed < batch.processed:  # on_train_batch_end
                connector.update_train_step_metrics()
            elif trainer.training and epoch.completed < epoch.processed:  # on_train_epoch_end
                # as Lightning's _FitLoop.on_advance_end does: epoch metrics at the epoch's last step
                epoch_loop._batches_that_stepped -= 1
                try:
                    connector.log_metrics(connector.metrics["log"])
                finally:
                    epoch_loop._batches_that_stepped += 1
            elif trainer.validating and epoch_loop.batch_progress.is_last_batch and epoch_loop._results is not None:
                # validation at the end of the epoch (its last batch done; the step counter not
                # yet advanced): the training epoch's aggregates are final
                connector.log_metrics(epoch_loop._results.metrics(False)["log"])
        for logger in trainer.loggers:
            logger.save()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        # Only at Lightning's safe point between steps: other exceptions can leave the
        # weights half-updated, and the run then resumes from its last regular checkpoint.
        if not isinstance(exception, SIGTERMException):
            return
        if self.received is None:
            self.received = signal.SIGTERM
        trainer.save_checkpoint(self.ckpt_path)
        self.saved_path = self.ckpt_path
        log.warning("Training stopped by %s at step %d; checkpoint written: %s", self.received.name,
                    trainer.global_step, self.ckpt_path)  # fmt: skip

    def state_dict(self) -> dict:
        return {}

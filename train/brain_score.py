"""Score the network against brain benchmarks while it trains (a Lightning callback).

Every ``every_n_epochs`` epochs (or ``every_n_steps`` steps) and at the end of training the
callback extracts the model's scored layers on each benchmark's stimuli (eval mode, no
gradients, on the model's device) and scores them with :func:`evaluate.score`, exactly as
``python -m evaluate`` would score the checkpoint of that step. Under DDP rank zero does
the work while the other ranks wait in the broadcast of its results, so every rank leaves
the evaluation together and every metric is logged once.

Logged against the global step, per benchmark ``<b>``:

* ``brain/<b>/score`` and ``brain/<b>/score_sem``: cross-validated best-layer score;
* ``brain/<b>/<roi>/score`` and ``brain/<b>/<roi>/best_rel_layer`` per ROI;
* ``brain/<b>/layer/<layer>``: the per-layer median curve;
* ``brain/<b>/rsa`` (voxel benchmarks) and ``brain/<b>/seconds`` (time of the evaluation).

W&B runs also get a per-layer table, a layer x ROI figure and ``brain/<b>/best_score`` in
the run summary. Every evaluation is saved under ``<output_dir>/brain_scores/<b>/step<N>/``
(:meth:`evaluate.Score.save`) and appended to ``<output_dir>/brain_scores/history.json``.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import nn

from evaluate.activations import check_layers, extract_activations, frontend_outputs, module_device
from evaluate.figures import close_figure, layer_roi_figure
from evaluate.registry import benchmark_entry, load_benchmark
from evaluate.results import Score
from evaluate.rundir import brain_score_dir, write_history
from evaluate.scoring import score
from models.contract import returned_layers, scored_layers

log = logging.getLogger(__name__)


class BrainScoreCallback(pl.Callback):
    """Brain scores during training (see the module docstring).

    Args:
        benchmarks: names for :func:`evaluate.load_benchmark` (``synthetic``, ``nh2015`` ...).
        every_n_epochs: evaluate after every N-th training epoch (0: never by epoch).
        every_n_steps: evaluate every N optimizer steps instead (0 or None: by epoch).
        at_start: also evaluate the untrained network before the first step.
        at_end: evaluate when training ends (unless this step was just evaluated).
        layers: scored layers (default: the network's ``SCORED_LAYERS``).
        output_dir: where the JSON/CSV results go (the run directory).
        batch_size: sounds per forward pass during extraction.
        fmri_root: root of the authors' fMRI release (real benchmarks).
        benchmark_kwargs: per-benchmark keyword arguments, e.g.
            ``{"synthetic": {"voxels_per_participant": 100}}``.
        rsa: also compute RSA.
        cache_dir: cache of benchmarks and the stimuli's cochleagrams (default: the user cache).
    """

    def __init__(
        self,
        benchmarks: Sequence[str] = ("synthetic",),
        every_n_epochs: int = 1,
        every_n_steps: int | None = None,
        at_start: bool = False,
        at_end: bool = True,
        layers: Sequence[str] | None = None,
        output_dir: str | os.PathLike | None = None,
        batch_size: int = 16,
        fmri_root: str | os.PathLike | None = None,
        benchmark_kwargs: dict | None = None,
        rsa: bool = True,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        super().__init__()
        if isinstance(benchmarks, str):
            benchmarks = [benchmarks]
        if not benchmarks:
            raise ValueError("callbacks.brain_score.benchmarks is empty; list at least one benchmark or disable it")
        self.benchmark_names = [str(b) for b in benchmarks]
        self.every_n_epochs, self.every_n_steps = int(every_n_epochs or 0), int(every_n_steps or 0)
        self.at_start, self.at_end = at_start, at_end
        self.layers = list(layers) if layers else None
        self.output_dir = Path(output_dir) if output_dir else None
        self.batch_size, self.fmri_root, self.rsa, self.cache_dir = batch_size, fmri_root, rsa, cache_dir
        self.benchmark_kwargs = {k: dict(v) for k, v in (benchmark_kwargs or {}).items()}
        self.benchmarks: dict = {}
        self.history: list[dict] = []
        self.best: dict[str, float] = {}
        self._last_step: int | None = None
        self._frontends: dict[str, torch.Tensor | None] = {}

    # ------------------------------------------------------------------ setup: fail early
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit" or self.benchmarks:
            return
        net = self._net(pl_module)
        self.layers = self.layers or scored_layers(net)
        check_layers(net, self.layers)  # a layer the model lacks stops the run here
        entries = {}
        for name in self.benchmark_names:
            try:
                entries[name] = benchmark_entry(name)
            except ValueError as exc:
                raise ValueError(f"brain-score callback, benchmarks: {exc}") from exc
        for name, entry in entries.items():
            kwargs = dict(self.benchmark_kwargs.get(name, {}))
            defaults = {"root": self.fmri_root, "cache_dir": self.cache_dir, "progress": trainer.is_global_zero}
            for option, value in defaults.items():
                if option in entry.options:
                    kwargs.setdefault(option, value)
            try:
                bench = load_benchmark(name, **kwargs)
            except (FileNotFoundError, ValueError) as exc:
                raise type(exc)(f"brain-score callback: benchmark {name!r} could not be loaded: {exc}") from exc
            if bench.waveforms is None:
                raise ValueError(f"brain-score callback: benchmark {name!r} has no stimulus waveforms")
            self.benchmarks[name] = bench
        if self.output_dir is None:
            self.output_dir = Path(trainer.default_root_dir)

    @staticmethod
    def _net(pl_module: pl.LightningModule) -> nn.Module:
        """The network being trained (``TaskModule.net``; a bare network module is its own)."""
        net = getattr(pl_module, "net", None)
        return net if isinstance(net, nn.Module) else pl_module

    # ------------------------------------------------------------------ when
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.at_start and trainer.global_step == 0:
            self.evaluate(trainer, pl_module)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args) -> None:
        step = trainer.global_step
        # (with gradient accumulation several batches end at the same optimizer step)
        if self.every_n_steps and step > 0 and step % self.every_n_steps == 0 and step != self._last_step:
            self.evaluate(trainer, pl_module)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        by_epoch = not self.every_n_steps and self.every_n_epochs
        if (
            by_epoch
            and (trainer.current_epoch + 1) % self.every_n_epochs == 0
            and trainer.global_step != self._last_step
        ):
            self.evaluate(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.at_end and self._last_step != trainer.global_step:
            self.evaluate(trainer, pl_module)

    # ------------------------------------------------------------------ what
    def evaluate(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict:
        """Score the current network on every benchmark; returns the logged metrics."""
        step = trainer.global_step
        self._last_step = step
        metrics: dict[str, float] = {}
        results = {}
        if trainer.is_global_zero:
            for name, bench in self.benchmarks.items():
                t0 = time.perf_counter()
                result = self._score(pl_module, name, bench, step)
                seconds = time.perf_counter() - t0
                results[name] = result
                metrics.update(self._metrics(name, result, seconds))
                log.info("Brain score at step %d: %s = %.4f +- %.4f (%.1f s)", step, name, result.value, result.sem,
                         seconds)  # fmt: skip
        # Everyone waits here for rank zero's numbers: symmetric, no deadlock.
        metrics = trainer.strategy.broadcast(metrics, src=0)
        for key, value in metrics.items():
            trainer.callback_metrics[key] = torch.tensor(value)
        if trainer.is_global_zero:
            self._record(trainer, step, metrics, results)
        return metrics

    def _score(self, pl_module: pl.LightningModule, name: str, bench, step: int) -> Score:
        net = self._net(pl_module)
        if name not in self._frontends:  # the cochleagram never changes while the network trains
            # (layers a model returns itself come from model.activations(waveform), never from the front end)
            reusable = not any(layer in returned_layers(net) for layer in self.layers)
            self._frontends[name] = frontend_outputs(net, bench.waveforms, batch_size=self.batch_size,
                                                     cache_dir=self.cache_dir) if reusable else None  # fmt: skip
        acts = extract_activations(net, bench.waveforms, self.layers, batch_size=self.batch_size, cache=False,
                                   progress=False, frontend_outputs=self._frontends[name])  # fmt: skip
        model_id = f"{type(net).__name__}:step{step}"
        return score(acts, bench, model_id, rsa=self.rsa, device=module_device(net), progress=False)

    @staticmethod
    def _metrics(name: str, result, seconds: float) -> dict[str, float]:
        m = {f"brain/{name}/score": result.value, f"brain/{name}/score_sem": result.sem,
             f"brain/{name}/seconds": seconds}  # fmt: skip
        for row in result.per_roi.itertuples():
            if row.roi and row.roi != "all":
                m[f"brain/{name}/{row.roi}/score"] = row.value
                m[f"brain/{name}/{row.roi}/best_rel_layer"] = row.best_relative_layer
        m[f"brain/{name}/best_rel_layer"] = float(result.per_roi.set_index("roi").loc["all", "best_relative_layer"])
        for row in result.per_layer.itertuples():
            m[f"brain/{name}/layer/{row.layer}"] = row.value
        if result.rsa:
            m[f"brain/{name}/rsa"] = result.rsa["value"]
        return {k: float(v) for k, v in m.items() if v is not None and math.isfinite(float(v))}

    # ------------------------------------------------------------------ where
    def _record(self, trainer: pl.Trainer, step: int, metrics: dict, results: dict) -> None:
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=step)
        for name, result in results.items():
            result.info["global_step"], result.info["epoch"] = step, trainer.current_epoch
            result.save(brain_score_dir(self.output_dir, name, step))
            self.best[name] = max(self.best.get(name, -math.inf), result.value)
        self.history.append({"step": step, "epoch": trainer.current_epoch, **metrics})
        write_history(self.output_dir, self.best, self.history)
        for logger in trainer.loggers:
            if isinstance(logger, pl.loggers.WandbLogger):
                self._wandb_extras(logger, step, results)

    def _wandb_extras(self, logger, step: int, results: dict) -> None:
        for name, result in results.items():
            logger.log_table(f"brain/{name}/per_layer", dataframe=result.per_layer.assign(step=step), step=step)
            fig = layer_roi_figure(result)
            logger.log_image(f"brain/{name}/layer_x_roi", [fig], step=step)
            close_figure(fig)
            logger.experiment.summary[f"brain/{name}/best_score"] = self.best[name]

    def state_dict(self) -> dict:
        return {"history": self.history, "best": self.best}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history = list(state_dict.get("history", []))
        self.best = dict(state_dict.get("best", {}))

    def __repr__(self) -> str:
        return f"BrainScoreCallback(benchmarks={self.benchmark_names}, every_n_epochs={self.every_n_epochs})"


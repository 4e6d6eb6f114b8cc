"""``python -m train``: build everything from the Hydra config and fit."""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

import train.resolvers  # noqa: F401  (registers ${run_id:})
from train.module import TaskModule

log = logging.getLogger(__name__)


def build_module(cfg: DictConfig, datamodule: pl.LightningDataModule) -> TaskModule:
    """The LightningModule for ``cfg``: heads sized from the data's label vocabularies."""
    label_sizes = datamodule.label_sizes
    heads = {name: instantiate(spec) for name, spec in cfg.task.heads.items()}
    unknown = sorted(set(heads) - set(label_sizes))
    if unknown:
        raise ValueError(
            f"task {cfg.task.name!r} needs labels {unknown} that data {type(datamodule).__name__} "
            f"does not provide (it has {sorted(label_sizes)})"
        )
    sizes = {name: label_sizes[name] for name in heads}
    net = instantiate(cfg.model, heads=sizes)
    return TaskModule(
        net=net,
        heads=heads,
        label_sizes=sizes,
        optimizer=instantiate(cfg.optimizer),
        scheduler=instantiate(cfg.scheduler) if cfg.get("scheduler") else None,
        model_config=OmegaConf.to_container(cfg.model, resolve=True),
        vocabularies={name: datamodule.vocabularies[name] for name in heads},
        run_config=OmegaConf.to_container(cfg, resolve=True),
    )


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit the configured model; returns the final logged metrics."""
    pl.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    module = build_module(cfg, datamodule)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c is not None]
    if not loggers:  # nothing to log learning rates to
        callbacks = [c for c in callbacks if not isinstance(c, pl.callbacks.LearningRateMonitor)]
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    _report(trainer, Path(cfg.paths.output_dir))
    if any(isinstance(lg, pl.loggers.WandbLogger) for lg in loggers):
        import wandb

        # Close this job's run: in a multirun the next job (same process) must start its own,
        # not be appended to this one.
        wandb.finish()
    return {k: float(v) for k, v in trainer.callback_metrics.items()}


def _report(trainer: pl.Trainer, output_dir: Path) -> None:
    lines = [f"Run directory: {output_dir}"]
    for ckpt in trainer.checkpoint_callbacks:
        if ckpt.monitor is None and getattr(ckpt, "best_model_path", ""):
            lines.append(f"Last checkpoint: {ckpt.best_model_path}")
        elif getattr(ckpt, "best_model_path", ""):
            lines.append(f"Best checkpoint: {ckpt.best_model_path} ({ckpt.monitor} = {ckpt.best_model_score})")
    for callback in trainer.callbacks:
        best = getattr(callback, "best", None)
        if isinstance(best, dict) and best:
            lines.append("Best brain scores: " + ", ".join(f"{k} {v:.4f}" for k, v in best.items())
                         + f" (history: {output_dir / 'brain_scores' / 'history.json'})")  # fmt: skip
    for logger in trainer.loggers:
        if isinstance(logger, pl.loggers.WandbLogger):
            run_dir = Path(logger.experiment.dir).parent
            lines.append(f"W&B run (offline): {run_dir}  -> upload with: wandb sync {run_dir}")
        elif isinstance(logger, pl.loggers.CSVLogger):
            lines.append(f"CSV metrics: {Path(logger.log_dir) / 'metrics.csv'}")
    metrics = {k: f"{float(v):.4f}" for k, v in sorted(trainer.callback_metrics.items()) if k.startswith("val/")}
    if metrics:
        lines.append("Final validation metrics: " + ", ".join(f"{k}={v}" for k, v in metrics.items()))
    for line in lines:
        log.info(line)


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> None:
    train(cfg)

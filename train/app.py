"""``python -m train``: build everything from the Hydra config and fit."""

from __future__ import annotations

import inspect
import logging
import signal
import time
import warnings
from pathlib import Path

import hydra
import pytorch_lightning as pl
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from pytorch_lightning.utilities import rank_zero_only
from pytorch_lightning.utilities.exceptions import SIGTERMException

import conf.resolvers  # noqa: F401  (registers ${run_id:})
from evaluate.rundir import history_path
from train.fault_tolerance import InterruptCheckpoint
from train.init_from import initialise_from
from train.module import TaskModule
from train.resume import latest_checkpoint, new_attempt, read_record, resolve_resume, write_record

log = logging.getLogger(__name__)

# Our DataModules resume mid-epoch through their sampler (data/sampler.py), which Lightning's
# check for a stateful dataloader does not see.
warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")


def build_module(cfg: DictConfig, datamodule: pl.LightningDataModule) -> TaskModule:
    """The LightningModule for ``cfg``: one head per objective, sized from the data's label vocabularies."""
    label_sizes = datamodule.label_sizes
    if "objectives" not in cfg.task:  # a task config of an earlier version names them heads:
        raise ValueError(f"task {cfg.task.get('name')!r} has no objectives: (readout name -> objective); "
                         f"it has keys {sorted(cfg.task)} (a task config's heads: is now objectives:)")  # fmt: skip
    objectives = {name: instantiate(spec) for name, spec in cfg.task.objectives.items()}
    unknown = sorted(set(objectives) - set(label_sizes))
    if unknown:
        raise ValueError(
            f"task {cfg.task.name!r} needs labels {unknown} that data {type(datamodule).__name__} "
            f"does not provide (it has {sorted(label_sizes)})"
        )
    sizes = {name: label_sizes[name] for name in objectives}
    if "heads" not in inspect.signature(get_object(cfg.model._target_)).parameters:
        raise ValueError(f"model {cfg.model._target_} has no heads to train (it is scored, not trained: "
                         "python -m evaluate model=<it>)")  # fmt: skip
    net = instantiate(cfg.model, heads=sizes)
    if cfg.get("init_from"):
        try:
            report = initialise_from(net, cfg.init_from)
        except (FileNotFoundError, ValueError) as exc:
            raise type(exc)(f"init_from={cfg.init_from}: {exc}") from exc
        for line in report.lines():
            log.info(line)
    return TaskModule(
        net=net,
        objectives=objectives,
        label_sizes=sizes,
        optimizer=instantiate(cfg.optimizer),
        scheduler=instantiate(cfg.scheduler) if cfg.get("scheduler") else None,
        model_config=OmegaConf.to_container(cfg.model, resolve=True),
        vocabularies={name: datamodule.vocabularies[name] for name in objectives},
        run_config=OmegaConf.to_container(cfg, resolve=True),
        compile=bool(cfg.get("compile", False)),
    )


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit the configured model; returns the final logged metrics.

    Resumes an interrupted run as ``cfg.resume`` says (:mod:`train.resume`); a run stopped by
    SIGTERM / Ctrl+C / a preemption signal writes a checkpoint and exits with 128 + signal.
    """
    hydra_dir = Path(cfg.paths.output_dir)
    if cfg.get("ckpt_path") and cfg.get("resume"):
        raise ValueError("give either ckpt_path= (start a new run from a checkpoint) or resume= (continue a run)")
    if cfg.get("init_from") and cfg.get("ckpt_path"):
        raise ValueError("give either init_from= (a new run starting from a checkpoint's weights) or ckpt_path= "
                         "(a new run continuing a checkpoint's training state)")  # fmt: skip
    point, run_dir = resolve_resume(cfg.get("resume"), hydra_dir, cfg.paths.log_dir, cfg.run_name,
                                    cfg.get("sweep_name"))  # fmt: skip
    record = read_record(run_dir)
    if point is None and record and record.get("status") == "finished" and run_dir != hydra_dir:
        log.info("resume=auto: run %s already finished (%s); nothing to do", cfg.run_name, run_dir)
        return dict(record.get("metrics", {}))
    if run_dir != hydra_dir:
        with open_dict(cfg):
            cfg.paths.output_dir = str(run_dir)
        log.info("Continuing run %s (this attempt's Hydra logs: %s)", run_dir, hydra_dir)
    if point is not None:
        log.info("Resuming from %s (step %d)", point.ckpt_path, point.global_step)
    tags = {"model": str(cfg.model._target_).rsplit(".", 1)[-1], "task": cfg.task.name, "noise": cfg.data.noise,
            "seed": int(cfg.seed)}  # fmt: skip
    record = new_attempt(record, cfg.run_name, cfg.get("sweep_name"), hydra_dir, point, tags)
    if rank_zero_only.rank == 0:
        write_record(run_dir, record)
    if cfg.get("logger") and cfg.logger.get("wandb"):
        with open_dict(cfg):  # the same W&B run across attempts
            cfg.logger.wandb.id, cfg.logger.wandb.resume = record["wandb_id"], "allow"

    pl.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    module = build_module(cfg, datamodule)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c is not None]
    if not loggers:  # nothing to log learning rates to
        callbacks = [c for c in callbacks if not isinstance(c, pl.callbacks.LearningRateMonitor)]
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    ckpt_path = str(point.ckpt_path) if point is not None else cfg.get("ckpt_path")
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    except SIGTERMException:
        _stopped(trainer, run_dir, record)
    _report(trainer, run_dir)
    _close_wandb(loggers)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    if rank_zero_only.rank == 0:
        # (after ddp_spawn the main process's trainer does not know the step; its checkpoints do)
        final = latest_checkpoint(run_dir)
        step = max(trainer.global_step, final.global_step if final else 0)
        write_record(run_dir, {**record, "status": "finished", "updated": time.time(), "metrics": metrics,
                               "global_step": step})  # fmt: skip
    return metrics


def _close_wandb(loggers: list) -> None:
    if any(isinstance(lg, pl.loggers.WandbLogger) for lg in loggers):
        import wandb

        # Close this job's run: in a multirun the next job (same process) must start its own,
        # not be appended to this one.
        wandb.finish()


def _stopped(trainer: pl.Trainer, run_dir: Path, record: dict) -> None:
    """Training was stopped by a signal (the checkpoint is written): record it, let a cluster
    signal's own handler requeue the job, else exit with 128 + the signal number."""
    stopper = next((c for c in trainer.callbacks if isinstance(c, InterruptCheckpoint)), None)
    received = stopper.received if stopper and stopper.received else signal.SIGTERM
    _close_wandb(trainer.loggers)
    if rank_zero_only.rank == 0:
        write_record(run_dir, {**record, "status": "interrupted", "updated": time.time(),
                               "global_step": trainer.global_step})  # fmt: skip
    log.warning("Run stopped by %s at step %d. Continue it with: python -m train <same overrides> resume=%s",
                received.name, trainer.global_step, run_dir)  # fmt: skip
    if stopper is not None:
        stopper.hand_over()
    raise SystemExit(128 + int(received))


def _report(trainer: pl.Trainer, output_dir: Path) -> None:
    lines = [f"Run directory: {output_dir}"]
    for ckpt in trainer.checkpoint_callbacks:
        if not isinstance(ckpt, pl.callbacks.ModelCheckpoint) or not ckpt.best_model_path:
            continue
        if ckpt.monitor is None:
            lines.append(f"Checkpoint ({Path(ckpt.best_model_path).stem}): {ckpt.best_model_path}")
        else:
            lines.append(f"Best checkpoint: {ckpt.best_model_path} ({ckpt.monitor} = {ckpt.best_model_score})")
    for callback in trainer.callbacks:
        best = getattr(callback, "best", None)
        if isinstance(best, dict) and best:
            lines.append("Best brain scores: " + ", ".join(f"{k} {v:.4f}" for k, v in best.items())
                         + f" (history: {history_path(output_dir)})")  # fmt: skip
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
def main(cfg: DictConfig) -> float | None:
    metrics = train(cfg)
    name = cfg.get("optimized_metric")
    if not name:
        return None
    if name not in metrics:  # the sweeper (e.g. Optuna) maximises what main returns
        raise KeyError(f"optimized_metric={name!r} was not logged; logged metrics: {sorted(metrics)}")
    return metrics[name]

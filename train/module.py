"""LightningModule that trains any waveform network on one or more objectives (one per head)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from models.checkpoint import CHECKPOINT_KEY, CHECKPOINT_LAYOUT, check_layout


class TaskModule(pl.LightningModule):
    """Trains ``net`` (waveform ``[batch, samples]`` -> ``{head: logits}``) on ``objectives``.

    Args:
        net: the network, already built with one output per head.
        objectives: head name -> the objective its logits are trained on (see :mod:`train.objectives`).
        label_sizes: head name -> number of classes.
        optimizer: ``params -> torch.optim.Optimizer`` (a Hydra partial).
        scheduler: optional ``optimizer -> LR scheduler`` (a Hydra partial), stepped per epoch.
        model_config: the network's config (``_target_`` + arguments), stored in
            checkpoints so :func:`models.load_network` can rebuild the network.
        vocabularies: class names per label, stored in checkpoints.
        run_config: the full resolved run config, stored in checkpoints.
        compile: run the training and validation forward passes through ``torch.compile(net)``
            (same parameters; checkpoints, brain scoring and hooks use the plain ``net``).
    """

    def __init__(
        self,
        net: nn.Module,
        objectives: Mapping[str, Any],
        label_sizes: Mapping[str, int],
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        model_config: Mapping | None = None,
        vocabularies: Mapping[str, list[str]] | None = None,
        run_config: Mapping | None = None,
        compile: bool = False,
    ) -> None:
        super().__init__()
        self.net = net
        self.compile_net = compile
        # Kept out of the module tree: state_dict and checkpoints hold the plain net only.
        self.__dict__["_compiled_net"] = None
        self.objectives = dict(objectives)
        self.label_sizes = {name: int(label_sizes[name]) for name in self.objectives}
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.model_config = dict(model_config or {})
        self.vocabularies = dict(vocabularies or {})
        self.run_config = dict(run_config or {})
        self.metrics = nn.ModuleDict(
            {
                f"{stage}_{name}": objective.make_metrics(self.label_sizes[name])
                for stage in ("train", "val")
                for name, objective in self.objectives.items()
            }
        )

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net(waveform)

    def _train_net(self) -> nn.Module:
        if not self.compile_net:
            return self.net
        if self._compiled_net is None:
            self.__dict__["_compiled_net"] = torch.compile(self.net)
        return self._compiled_net

    def _step(self, batch: dict, stage: str) -> torch.Tensor:
        outputs = self._train_net()(batch["waveform"])
        total = torch.zeros((), device=batch["waveform"].device)
        batch_size = batch["waveform"].shape[0]
        for name, objective in self.objectives.items():
            loss = objective.loss(outputs[name], batch)
            total = total + objective.loss_weight * loss
            on_step = stage == "train"
            self.log(
                f"{stage}/{name}/loss", loss, on_step=on_step, on_epoch=True, batch_size=batch_size, sync_dist=True
            )
            metrics = self.metrics[f"{stage}_{name}"]
            inputs = objective.metric_inputs(outputs[name].detach(), batch)
            if inputs is None:  # no clip in this batch carries the label (e.g. clean speech)
                continue
            if on_step and objective.step_metrics:
                for key, value in metrics(*inputs).items():
                    self.log(f"{stage}/{name}/{key}_step", value, on_step=True, on_epoch=False, prog_bar=True,
                             batch_size=batch_size)  # fmt: skip
            else:
                metrics.update(*inputs)
        self.log(f"{stage}/loss", total, on_step=stage == "train", on_epoch=True, batch_size=batch_size, sync_dist=True)
        return total

    def _log_epoch_metrics(self, stage: str) -> None:
        for name in self.objectives:
            metrics = self.metrics[f"{stage}_{name}"]
            if not any(m.update_count for m in metrics.values()):
                continue  # the label never occurred this epoch (e.g. events in clean speech)
            for key, value in metrics.compute().items():
                self.log(f"{stage}/{name}/{key}", value, prog_bar=stage == "val", sync_dist=True)
            metrics.reset()

    def on_train_epoch_end(self) -> None:
        self._log_epoch_metrics("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_metrics("val")

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._step(batch, "val")

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer), "interval": "epoch"},
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # Before Lightning loads the weights (resume=, ckpt_path=): refuse an old CochCNN9 layout.
        check_layout("being resumed", checkpoint.get(CHECKPOINT_KEY, {}))

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint[CHECKPOINT_KEY] = {
            "layout": CHECKPOINT_LAYOUT,
            "model_config": self.model_config,
            "label_sizes": self.label_sizes,
            "vocabularies": self.vocabularies,
            "run_config": self.run_config,
        }

"""Training objectives: what each readout (head) of the network is trained to predict and how
it is scored.

An objective reads its labels from the batch (see :mod:`data.base` for the batch contract),
computes its loss over the clips that carry the label, and updates its metrics with them.
The networks' heads (:mod:`models`) are the linear readouts; an objective is paired with the
head of the same name (``conf/task/*.yaml``: ``objectives:``).
"""

from __future__ import annotations

import torch
import torchmetrics
from torch.nn import functional as F

from data.base import MISSING
from train.metrics import MultilabelMacroAUROC, MultilabelMeanAveragePrecision


class ClassificationObjective:
    """Single-label classification of batch key ``label``: cross-entropy loss and top-1
    accuracy over the clips whose label is not :data:`data.base.MISSING`.

    Args:
        label: batch key of the integer targets (e.g. ``"word"``).
        loss_weight: weight of this objective's loss in the total loss.
    """

    step_metrics = True  # cheap enough to log every training step

    def __init__(self, label: str, loss_weight: float = 1.0) -> None:
        self.label = label
        self.loss_weight = float(loss_weight)

    def _valid(self, batch: dict) -> torch.Tensor:
        return batch[self.label] != MISSING

    def loss(self, logits: torch.Tensor, batch: dict) -> torch.Tensor:
        """Mean cross-entropy of ``logits [batch, classes]`` over labelled clips (0 if none)."""
        valid = self._valid(batch)
        if not bool(valid.any()):
            return logits.sum() * 0.0  # keeps the graph; no NaN from an empty mean
        return F.cross_entropy(logits[valid], batch[self.label][valid])

    def make_metrics(self, n_classes: int) -> torchmetrics.MetricCollection:
        """Metrics keyed by name; updated with ``(logits, targets)``."""
        return torchmetrics.MetricCollection(
            {"acc": torchmetrics.classification.MulticlassAccuracy(n_classes, top_k=1, average="micro")}
        )

    def metric_inputs(self, logits: torch.Tensor, batch: dict) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(predictions, targets)`` of the labelled clips, or None when there are none."""
        valid = self._valid(batch)
        if not bool(valid.any()):
            return None
        return logits[valid], batch[self.label][valid]

    def __repr__(self) -> str:
        return f"ClassificationObjective(label={self.label!r}, loss_weight={self.loss_weight})"


class MultiLabelObjective:
    """Multi-label event tagging of batch key ``label`` (multi-hot ``[batch, classes]``):
    binary cross-entropy with logits (mean over clips and classes) over the clips whose
    ``<label>_mask`` is 1, scaled by ``loss_weight`` (the reference uses 300); mean average
    precision and macro ROC-AUC over the classes present in the epoch (:mod:`train.metrics`).
    """

    step_metrics = False  # ranking metrics need the whole epoch

    def __init__(self, label: str = "audioset", loss_weight: float = 300.0) -> None:
        self.label = label
        self.loss_weight = float(loss_weight)

    def _valid(self, batch: dict) -> torch.Tensor:
        mask = batch.get(f"{self.label}_mask")
        if mask is None:
            return torch.ones(batch[self.label].shape[0], dtype=torch.bool, device=batch[self.label].device)
        return mask > 0

    def loss(self, logits: torch.Tensor, batch: dict) -> torch.Tensor:
        valid = self._valid(batch)
        if not bool(valid.any()):
            return logits.sum() * 0.0
        return F.binary_cross_entropy_with_logits(logits[valid], batch[self.label][valid].to(logits.dtype))

    def make_metrics(self, n_classes: int) -> torchmetrics.MetricCollection:
        return torchmetrics.MetricCollection(
            {"mAP": MultilabelMeanAveragePrecision(n_classes), "auc": MultilabelMacroAUROC(n_classes)}
        )

    def metric_inputs(self, logits: torch.Tensor, batch: dict) -> tuple[torch.Tensor, torch.Tensor] | None:
        valid = self._valid(batch)
        if not bool(valid.any()):
            return None
        return logits[valid], batch[self.label][valid].long()

    def __repr__(self) -> str:
        return f"MultiLabelObjective(label={self.label!r}, loss_weight={self.loss_weight})"

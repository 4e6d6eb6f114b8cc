"""Task heads: what each output of the network is trained to predict and how it is scored."""

from __future__ import annotations

import torch
import torchmetrics
from torch.nn import functional as F


class ClassificationHead:
    """Single-label classification of batch key ``label``: cross-entropy loss and top-1
    accuracy.

    Args:
        label: batch key of the integer targets (e.g. ``"word"``); also the head's name
            in the network unless ``name`` is given.
        loss_weight: weight of this head's loss in the total loss.
    """

    def __init__(self, label: str, loss_weight: float = 1.0) -> None:
        self.label = label
        self.loss_weight = float(loss_weight)

    def loss(self, logits: torch.Tensor, batch: dict) -> torch.Tensor:
        """Mean cross-entropy of ``logits [batch, classes]`` against ``batch[label]``."""
        return F.cross_entropy(logits, batch[self.label])

    def make_metrics(self, n_classes: int) -> torchmetrics.MetricCollection:
        """Metrics keyed by name; updated with ``(logits, targets)``."""
        return torchmetrics.MetricCollection(
            {"acc": torchmetrics.classification.MulticlassAccuracy(n_classes, top_k=1, average="micro")}
        )

    def targets(self, batch: dict) -> torch.Tensor:
        return batch[self.label]

    def __repr__(self) -> str:
        return f"ClassificationHead(label={self.label!r}, loss_weight={self.loss_weight})"

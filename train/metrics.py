"""Epoch-level multi-label ranking metrics, averaged over the classes that can be scored.

torchmetrics' macro averages count a class without positives (or without negatives) in a
validation epoch as 0 or NaN; with hundreds of event classes and small validation sets
that makes the number meaningless. Here such classes are left out of the average, as
scikit-learn's per-class scores would have to be.
"""

from __future__ import annotations

import numpy as np
import torch
import torchmetrics
from scipy.stats import rankdata
from torchmetrics.utilities import dim_zero_cat


class _MultilabelRanking(torchmetrics.Metric):
    full_state_update = False
    higher_is_better = True

    def __init__(self, num_labels: int) -> None:
        super().__init__()
        self.num_labels = int(num_labels)
        self.add_state("preds", default=[], dist_reduce_fx="cat")
        self.add_state("target", default=[], dist_reduce_fx="cat")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        """``preds`` scores/logits ``[batch, labels]``; ``target`` 0/1 ``[batch, labels]``."""
        if preds.shape != target.shape or preds.shape[-1] != self.num_labels:
            raise ValueError(f"expected preds and target [batch, {self.num_labels}], got {list(preds.shape)} and "
                             f"{list(target.shape)}")  # fmt: skip
        self.preds.append(preds.detach().float())
        self.target.append(target.detach().to(torch.uint8))

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scores = dim_zero_cat(self.preds).cpu().double().numpy()
        labels = dim_zero_cat(self.target).cpu().numpy().astype(bool)
        positives = labels.sum(axis=0)
        scorable = (positives > 0) & (positives < len(labels))
        return scores[:, scorable], labels[:, scorable], positives[scorable]


class MultilabelMeanAveragePrecision(_MultilabelRanking):
    """Mean over scorable classes of the average precision (area under precision-recall)."""

    def compute(self) -> torch.Tensor:
        scores, labels, positives = self._arrays()
        if scores.shape[1] == 0:
            return torch.tensor(float("nan"))
        order = np.argsort(-scores, axis=0, kind="stable")
        hits = np.take_along_axis(labels, order, axis=0)
        precision = np.cumsum(hits, axis=0) / np.arange(1, len(hits) + 1)[:, None]
        ap = (precision * hits).sum(axis=0) / positives
        return torch.tensor(float(ap.mean()))


class MultilabelMacroAUROC(_MultilabelRanking):
    """Mean over scorable classes of the area under the ROC curve (ties count half)."""

    def compute(self) -> torch.Tensor:
        scores, labels, positives = self._arrays()
        if scores.shape[1] == 0:
            return torch.tensor(float("nan"))
        ranks = rankdata(scores, axis=0)
        negatives = len(labels) - positives
        auc = ((ranks * labels).sum(axis=0) - positives * (positives + 1) / 2) / (positives * negatives)
        return torch.tensor(float(auc.mean()))

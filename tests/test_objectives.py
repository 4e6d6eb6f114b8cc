"""Training objectives and their metrics: masked losses, multi-label ranking metrics vs scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from data.base import MISSING
from train.metrics import MultilabelMacroAUROC, MultilabelMeanAveragePrecision
from train.objectives import ClassificationObjective, MultiLabelObjective


def test_multilabel_metrics_equal_sklearn_over_scorable_classes():
    rng = np.random.default_rng(0)
    labels = (rng.random((60, 12)) < 0.2).astype(int)
    labels[:, 3] = 0  # no positives: not scorable
    labels[:, 5] = 1  # no negatives: not scorable
    scores = labels * 0.8 + rng.standard_normal((60, 12))
    scores[:, 7] = np.round(scores[:, 7])  # ties
    ap, auc = MultilabelMeanAveragePrecision(12), MultilabelMacroAUROC(12)
    for chunk in np.array_split(np.arange(60), 3):  # accumulated over batches
        ap.update(torch.tensor(scores[chunk]), torch.tensor(labels[chunk]))
        auc.update(torch.tensor(scores[chunk]), torch.tensor(labels[chunk]))
    keep = [c for c in range(12) if c not in (3, 5)]
    expected_auc = np.mean([roc_auc_score(labels[:, c], scores[:, c]) for c in keep])
    assert float(auc.compute()) == pytest.approx(expected_auc, rel=1e-6)
    no_ties = [c for c in keep if c != 7]  # AP with ties depends on the tie order
    ap_no_ties = MultilabelMeanAveragePrecision(len(no_ties))
    ap_no_ties.update(torch.tensor(scores[:, no_ties]), torch.tensor(labels[:, no_ties]))
    expected_ap = np.mean([average_precision_score(labels[:, c], scores[:, c]) for c in no_ties])
    assert float(ap_no_ties.compute()) == pytest.approx(expected_ap, rel=1e-6)
    assert 0 < float(ap.compute()) < 1


def test_classification_objective_ignores_missing_labels():
    objective = ClassificationObjective("word")
    logits = torch.randn(4, 5, requires_grad=True)
    batch = {"word": torch.tensor([1, MISSING, 3, MISSING])}
    expected = torch.nn.functional.cross_entropy(logits[[0, 2]], torch.tensor([1, 3]))
    assert torch.allclose(objective.loss(logits, batch), expected)
    _, targets = objective.metric_inputs(logits, batch)
    assert targets.tolist() == [1, 3]
    none = {"word": torch.full((4,), MISSING)}
    loss = objective.loss(logits, none)
    assert loss.item() == 0 and objective.metric_inputs(logits, none) is None
    loss.backward()  # still part of the graph
    assert logits.grad is not None


def test_multilabel_objective_masks_clean_clips_and_scales():
    objective = MultiLabelObjective("audioset", loss_weight=300)
    logits = torch.randn(3, 4)
    target = torch.tensor([[1.0, 0, 0, 1], [0, 0, 0, 0], [0, 1, 0, 0]])
    batch = {"audioset": target, "audioset_mask": torch.tensor([1.0, 0.0, 1.0])}
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits[[0, 2]], target[[0, 2]])
    assert torch.allclose(objective.loss(logits, batch), expected) and objective.loss_weight == 300
    assert objective.metric_inputs(logits, {"audioset": target, "audioset_mask": torch.zeros(3)}) is None

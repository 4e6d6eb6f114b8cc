"""Training: the Lightning task module, the objectives, the brain-score callback, and the ``python -m train`` app."""

from train.brain_score import BrainScoreCallback
from train.module import TaskModule
from train.objectives import ClassificationObjective, MultiLabelObjective

__all__ = ["BrainScoreCallback", "ClassificationObjective", "MultiLabelObjective", "TaskModule"]

"""Training: the Lightning task module, task heads, the brain-score callback, and the ``python -m train`` app."""

from train.brain_score import BrainScoreCallback
from train.checkpoint import TrainedNetwork, load_network
from train.heads import ClassificationHead, MultiLabelHead
from train.module import TaskModule

__all__ = ["BrainScoreCallback", "ClassificationHead", "MultiLabelHead", "TaskModule", "TrainedNetwork", "load_network"]

"""Training: the Lightning task module, task heads, and the ``python -m train`` app."""

from train.checkpoint import TrainedNetwork, load_network
from train.heads import ClassificationHead
from train.module import TaskModule

__all__ = ["ClassificationHead", "TaskModule", "TrainedNetwork", "load_network"]

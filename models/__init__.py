"""Models: the cochleagram front end and the in-house cochleagram networks."""

from models.cochcnn9 import CochCNN9
from models.cochleagram import Cochleagram
from models.cochresnet50 import CochResNet50

__all__ = ["CochCNN9", "CochResNet50", "Cochleagram"]

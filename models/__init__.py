"""Models: the cochleagram front end and the in-house cochleagram networks."""

from models.cochcnn9 import CochCNN9
from models.cochleagram import Cochleagram

__all__ = ["Cochleagram", "CochCNN9"]

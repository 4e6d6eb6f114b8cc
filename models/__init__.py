"""Models: the cochleagram front end, the in-house cochleagram networks and the authors'
released checkpoints of them, and the checkpoints our training writes. The public networks of
the zoo (``models.zoo.<name>``, needing the ``zoo`` extra) are imported where they are used."""

from models.checkpoint import TrainedNetwork, load_network
from models.cochcnn9 import CochCNN9
from models.cochleagram import Cochleagram
from models.cochresnet50 import CochResNet50
from models.reference import ReferenceCheckpointError, load_reference_checkpoint, reference_vocabularies
from models.spectrotemporal import SpectroTemporal
from models.wav2vec2 import Wav2Vec2Adapter

__all__ = [
    "CochCNN9",
    "CochResNet50",
    "Cochleagram",
    "ReferenceCheckpointError",
    "SpectroTemporal",
    "TrainedNetwork",
    "Wav2Vec2Adapter",
    "load_network",
    "load_reference_checkpoint",
    "reference_vocabularies",
]

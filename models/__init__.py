"""Models: the cochleagram front end and the in-house cochleagram networks."""

from models.cochcnn9 import CochCNN9
from models.cochleagram import Cochleagram
from models.cochresnet50 import CochResNet50
from models.spectrotemporal import SpectroTemporal
from models.wav2vec2 import Wav2Vec2Adapter

__all__ = ["CochCNN9", "CochResNet50", "Cochleagram", "SpectroTemporal", "Wav2Vec2Adapter"]

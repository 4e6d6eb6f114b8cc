"""External models run at their own sample rate: resample the benchmark's 20 kHz stimuli for them.

A model declares its input rate in the model contract (``sample_rate``, e.g. 16000 for wav2vec2
and HuBERT, :class:`models.Wav2Vec2Adapter`; :func:`models.contract.input_rate`); the in-house
networks take 20 kHz and get the stimuli unchanged. ``python -m evaluate sample_rate=<Hz>``
overrides the declaration.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn

from data.audio import SAMPLE_RATE, resample_torch
from models.contract import input_rate

log = logging.getLogger(__name__)


def resample_for_model(
    model: nn.Module, waveforms: np.ndarray | torch.Tensor, sample_rate: int | None = None
) -> np.ndarray | torch.Tensor:
    """``[n_sounds, samples]`` stimuli at 20 kHz -> the same at the model's rate (see
    :func:`models.contract.input_rate`); returned unchanged (the same object) when the rates agree."""
    rate = input_rate(model, sample_rate)
    if rate == SAMPLE_RATE:
        return waveforms
    wav = waveforms if isinstance(waveforms, torch.Tensor) else torch.from_numpy(np.asarray(waveforms, np.float32))
    out = resample_torch(wav, SAMPLE_RATE, rate)
    log.info("Resampled the stimuli %d Hz -> %d Hz for %s", SAMPLE_RATE, rate, type(model).__name__)
    return out if isinstance(waveforms, torch.Tensor) else out.numpy()

"""External models run at their own sample rate: resample the benchmark's 20 kHz stimuli for them.

A model declares its input rate with a ``sample_rate`` attribute (e.g. 16000 for wav2vec2 and
HuBERT, :class:`models.Wav2Vec2Adapter`); models without one (the in-house networks) get the
stimuli unchanged. ``python -m evaluate sample_rate=<Hz>`` overrides the attribute.
"""

from __future__ import annotations

import logging
import math
import numbers

import numpy as np
import torch
from torch import nn

from data.audio import SAMPLE_RATE, resample_torch

log = logging.getLogger(__name__)


def model_sample_rate(model: nn.Module, override: int | None = None) -> int:
    """The rate ``model`` expects: ``override``, else ``model.sample_rate``, else the stimuli's 20 kHz."""
    rate, source = (override, "sample_rate") if override is not None else (
        getattr(model, "sample_rate", SAMPLE_RATE), f"{type(model).__name__}.sample_rate")  # fmt: skip
    valid = isinstance(rate, numbers.Real) and not isinstance(rate, bool) and math.isfinite(rate)
    if not valid or rate != int(rate) or rate <= 0:
        raise ValueError(f"{source} must be a positive whole number of Hz, got {rate!r}")
    return int(rate)


def resample_for_model(
    model: nn.Module, waveforms: np.ndarray | torch.Tensor, sample_rate: int | None = None
) -> np.ndarray | torch.Tensor:
    """``[n_sounds, samples]`` stimuli at 20 kHz -> the same at the model's rate (see
    :func:`model_sample_rate`); returned unchanged (the same object) when the rates agree."""
    rate = model_sample_rate(model, sample_rate)
    if rate == SAMPLE_RATE:
        return waveforms
    wav = waveforms if isinstance(waveforms, torch.Tensor) else torch.from_numpy(np.asarray(waveforms, np.float32))
    out = resample_torch(wav, SAMPLE_RATE, rate)
    log.info("Resampled the stimuli %d Hz -> %d Hz for %s", SAMPLE_RATE, rate, type(model).__name__)
    return out if isinstance(waveforms, torch.Tensor) else out.numpy()

"""The audio facts every layer shares, and the one resampler.

Everything the networks hear and every benchmark stimulus is a 2-s clip at 20 kHz,
RMS-normalised to 0.1 (docs/reference.md section 1). These constants are defined here and
only here; ``models/``, ``data/``, ``evaluate/`` and ``train/`` import them.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torchaudio.functional
from scipy.signal import resample_poly

SAMPLE_RATE = 20000  # Hz, the cochleagram networks' input rate
CLIP_SECONDS = 2.0  # every training clip and the first 2 s of every benchmark stimulus
CLIP_SAMPLES = round(SAMPLE_RATE * CLIP_SECONDS)  # 40,000
TARGET_RMS = 0.1  # every clip the networks see is RMS-normalised to this level

__all__ = ["CLIP_SAMPLES", "CLIP_SECONDS", "SAMPLE_RATE", "TARGET_RMS", "resample", "resample_torch"]


def resample(audio: np.ndarray, rate: int, target: int = SAMPLE_RATE, axis: int = -1) -> np.ndarray:
    """Polyphase resampling of ``audio`` from ``rate`` to ``target`` Hz along ``axis``.

    Uses :func:`scipy.signal.resample_poly` with the reduced integer ratio
    ``target/gcd : rate/gcd`` (for 44.1 -> 20 kHz: up 200, down 441). The dtype follows
    scipy's (float32 in, float32 out; float64 otherwise); with equal rates ``audio`` is
    returned as it is (the same object). The output has ``ceil(n * target / rate)`` samples.
    """
    rate, target = int(rate), int(target)
    if rate <= 0 or target <= 0:
        raise ValueError(f"resample: rate and target must be positive Hz, got rate={rate}, target={target}")
    if rate == target:
        return audio
    g = math.gcd(rate, target)
    return resample_poly(audio, target // g, rate // g, axis=axis)


def resample_torch(waveforms: torch.Tensor, rate: int, target: int) -> torch.Tensor:
    """Band-limited sinc resampling of ``[..., samples]`` float tensors (torchaudio's), for
    models that run at their own rate; returned unchanged when the rates agree."""
    if int(rate) == int(target):
        return waveforms
    return torchaudio.functional.resample(waveforms.float(), int(rate), int(target))

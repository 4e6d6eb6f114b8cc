"""What a generator of the stimulus synthesizer returns: its audio and parameter-derived latents."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Generator", "Parts", "f0_median"]


@dataclass
class Parts:
    """A generator's float64 ``[n]`` audio (before :func:`data.synth.dsp.finalize`) and its
    latents: ``pitched`` (0..1), ``f0`` (Hz), ``harmonicity`` (0..1), ``onset_rate`` (/s),
    and descriptive ``info`` strings (see :mod:`data.synth.render`)."""

    wave: np.ndarray
    pitched: float
    f0: float
    harmonicity: float
    onset_rate: float
    info: dict[str, str] = field(default_factory=dict)


# A generator renders one subtype: (rng, n_samples) -> Parts; every random draw comes from rng.
Generator = Callable[[np.random.Generator, int], Parts]


def f0_median(f0: np.ndarray, env: np.ndarray) -> float:
    """Median f0 over the samples where the envelope is above 10 % of its maximum."""
    m = env > 0.1 * float(env.max()) if env.size and env.max() > 0 else np.zeros(env.shape, bool)
    return float(np.median(f0[m])) if m.any() else 0.0

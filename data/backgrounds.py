"""Background sounds for the noisy condition: multi-talker babble (stationary coloured noise is
:func:`data.synth.coloured_noise`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from data.synth import EspeakSynthesizer, Voice


def babble(
    synth: EspeakSynthesizer,
    talkers: Sequence[tuple[Voice, str]],
    n_samples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Multi-talker babble: each ``(voice, text)`` talker is rendered, looped to fill the
    clip from a random start and added at a random level within +-6 dB. Unit RMS,
    float32 ``[n_samples]``."""
    out = np.zeros(n_samples, dtype=np.float64)
    for voice, text in talkers:
        speech = synth.synthesize(text, voice).waveform.astype(np.float64)
        level = np.sqrt(np.mean(speech**2))
        if level == 0:
            continue
        reps = int(np.ceil((n_samples + len(speech)) / len(speech)))
        looped = np.tile(speech, reps)
        start = int(rng.integers(0, len(speech)))
        out += looped[start : start + n_samples] / level * 10 ** (rng.uniform(-6, 6) / 20)
    out -= out.mean()
    level = np.sqrt(np.mean(out**2))
    return (out / level if level > 0 else out).astype(np.float32)

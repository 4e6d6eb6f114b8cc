"""Background sounds for the noisy condition: stationary coloured noise and multi-talker babble."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from data.tts import EspeakSynthesizer, Voice


def coloured_noise(n_samples: int, exponent: float, rng: np.random.Generator, sample_rate: int = 20000) -> np.ndarray:
    """Stationary Gaussian noise with power spectrum ``~ f ** -exponent`` (0 white, 1 pink,
    2 brown, -1 blue), unit RMS, float32 ``[n_samples]``. Content below 20 Hz is removed so
    brown noise does not turn into a slow drift."""
    spectrum = np.fft.rfft(rng.standard_normal(n_samples))
    freqs = np.fft.rfftfreq(n_samples, 1.0 / sample_rate)
    shaping = np.zeros_like(freqs)
    audible = freqs >= 20.0
    shaping[audible] = freqs[audible] ** (-exponent / 2.0)
    noise = np.fft.irfft(spectrum * shaping, n_samples)
    noise -= noise.mean()
    return (noise / np.sqrt(np.mean(noise**2))).astype(np.float32)


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

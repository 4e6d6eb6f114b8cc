"""WSN-layout HDF5 files for the reader tests: faint speech with a loud word burst, noise
backgrounds and random labels."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from data.audio import CLIP_SAMPLES, SAMPLE_RATE
from data.wsn import EVENTS_KEY, NOISE_KEY, OFFSET_KEY, ONSET_KEY, SPEAKER_KEY, SPEECH_KEY, WORD_KEY

N_ROWS = 6
BURST = 1.0  # amplitude of the "word"; the rest of the speech is a faint floor
FLOOR = 1e-3


def write_wsn(
    path: Path,
    samples: int = CLIP_SAMPLES,
    seed: int = 0,
    timing: tuple[float, float] | None = None,
    drop: str | None = None,
    word: np.ndarray | None = None,
    silent_background_rows: tuple[int, ...] = (),
) -> Path:
    """A WSN-layout file of N_ROWS clips: faint speech with a loud word burst (centred, or at
    ``timing`` seconds, stored as onset/offset), noise backgrounds and random labels."""
    rng = np.random.default_rng(seed)
    speech = (FLOOR * rng.standard_normal((N_ROWS, samples))).astype(np.float32)
    t = np.arange(samples) / SAMPLE_RATE
    if timing is None:
        lo, hi = samples // 2 - 2000, samples // 2 + 2000
    else:
        lo, hi = int(timing[0] * SAMPLE_RATE), int(timing[1] * SAMPLE_RATE)
    speech[:, lo:hi] += BURST * np.sin(2 * np.pi * 300 * t[lo:hi])
    noise = (0.2 * rng.standard_normal((N_ROWS, samples))).astype(np.float32)
    noise[list(silent_background_rows)] = 0.0
    events = (rng.random((N_ROWS, 517)) < 0.01).astype(np.uint8)
    events[:, 0] = 1  # every background has at least one event
    data = {
        SPEECH_KEY: speech,
        NOISE_KEY: noise,
        WORD_KEY: word if word is not None else rng.integers(0, 794, N_ROWS),
        SPEAKER_KEY: rng.integers(0, 433, N_ROWS),
        EVENTS_KEY: events,
    }
    if timing is not None:
        data[ONSET_KEY] = np.full(N_ROWS, timing[0])
        data[OFFSET_KEY] = np.full(N_ROWS, timing[1])
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for key, value in data.items():
            if key != drop:
                f.create_dataset(key, data=value)
    return path

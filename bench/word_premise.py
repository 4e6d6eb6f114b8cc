"""Premise check of the synthetic benchmark's word channels: can a model's linear readout
recover them, with 5 or with 15 clips per spoken word?

    python bench/word_premise.py <checkpoint.ckpt or run directory> [...]

This is how the benchmark's version 3 fixed its number of English-speech word clips (README,
"Why 45 English-speech sounds"), on networks kept out of the positive control (the 10-epoch
quickstart word networks of seed 2). For each given network, its permuted control and the
SpectroTemporal baseline it prints the cross-validated R2 with which the model's best layer
recovers each word channel (:func:`evaluate.analyses.channel_recovery`, the scoring's ridge and
reference splits), on two stimulus sets built from the benchmark's own sounds:

* ``5 per word``: the 165 sounds of version 2 (the first 5 clips of each word, NH2015's layout);
* ``15 per word``: the 195 sounds of version 3.

The channels are recomputed on each set (they are z-scored over its sounds). 43 s for two
networks on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from evaluate import synthetic  # noqa: E402
from evaluate.activations import extract_activations  # noqa: E402
from evaluate.analyses import best_channel_recovery, channel_recovery  # noqa: E402
from evaluate.controls import permuted_copy  # noqa: E402
from evaluate.paper_sources import run_checkpoint  # noqa: E402
from evaluate.splits import reference_splits  # noqa: E402
from models.checkpoint import load_network  # noqa: E402
from models.spectrotemporal import SpectroTemporal  # noqa: E402


def word_sets(seed: int = 0) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, pd.DataFrame]]]:
    """(waveforms [195, samples], {set name: (row indices, channels [rows, 19])})."""
    waveforms, _, categories, latents = synthetic.stimulus_set(seed, progress=False)
    eng = np.flatnonzero(np.asarray(categories) == "EngSpeech")
    first = eng[: 5 * len(synthetic.SPOKEN_WORDS)]  # the first 5 clips of each word (k % 3 = word)
    rows = {"5 per word": np.sort(np.concatenate([np.flatnonzero(np.asarray(categories) != "EngSpeech"), first])),
            "15 per word": np.arange(len(waveforms))}  # fmt: skip
    low = synthetic.cochleagram_drives(waveforms, progress=False)  # per sound: computed once for both sets
    sets = {name: (idx, synthetic.stimulus_channels({k: v[idx] for k, v in low.items()},
                                                    latents.iloc[idx].reset_index(drop=True)))
            for name, idx in rows.items()}  # fmt: skip
    return waveforms, sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("networks", nargs="+", type=Path, help="word-trained checkpoints or run directories")
    args = parser.parse_args()
    models = {}
    for path in args.networks:
        ckpt = run_checkpoint(path) if path.is_dir() else path
        if ckpt is None:
            parser.error(f"{path}: no checkpoint (expected a .ckpt or a run directory with checkpoints/)")
        trained = load_network(ckpt)
        label = ckpt.parent.parent.name if path.is_dir() else ckpt.stem
        models[label] = trained.net.eval()
        models[f"{label} permuted"] = permuted_copy(trained.net, seed=0).eval()
    models["SpectroTemporal"] = SpectroTemporal().eval()
    waveforms, sets = word_sets()
    rows = []
    for name, net in models.items():
        acts = extract_activations(net, torch.from_numpy(waveforms), cache=False, progress=False)
        for set_name, (idx, channels) in sets.items():
            words = channels[list(synthetic.WORD_CHANNELS)]
            table = best_channel_recovery(channel_recovery({k: v[idx] for k, v in acts.items()}, words,
                                                           reference_splits(len(idx))))  # fmt: skip
            rows.append({"model": name, "set": set_name, **dict(zip(table["channel"], table["r2"])),
                         "mean": table["r2"].mean()})  # fmt: skip
        print(f"{name}: done", flush=True)
    out = pd.DataFrame(rows)
    print(out.pivot_table(index="model", columns="set", values="mean", sort=False).round(3).to_string())


if __name__ == "__main__":
    main()

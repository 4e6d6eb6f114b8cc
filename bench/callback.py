"""Overhead of the brain-score callback: its share of training wall time at the default cadence.

    python bench/callback.py [--paper]

Measured in one run: (1) the quickstart model's training step (CochCNN9 width 1/8, batch 16,
AdamW, noisy embedded corpus) and validation forward pass, from which the epoch time of the
quickstart run follows (2,000 training and 200 validation clips); (2) one evaluation of the
callback as ``conf/callbacks/default.yaml`` builds it (the synthetic benchmark, 8
participants x 60 voxels, every scored layer, RSA), first with the cochleagram of the stimuli not yet cached and then in
steady state. The share is evaluation / (epoch + evaluation) with one evaluation per epoch
(the default cadence). ``--paper`` also measures a full-width CochCNN9 training step and
evaluation and estimates the share for the paper recipe (20,000 clips per epoch on the
embedded corpus; the WSN epochs are far longer) on this machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.timing import training_step_rate  # noqa: E402
from data import CorpusSpec, EmbeddedSpeechDataModule  # noqa: E402
from models import CochCNN9  # noqa: E402
from train.brain_score import BrainScoreCallback  # noqa: E402


def step_rate(net: torch.nn.Module, batch: dict, steps: int) -> tuple[float, float]:
    """(training clips/s, validation clips/s) on ``batch``."""
    wave, target = batch["waveform"], batch["word"]
    train_rate = training_step_rate(net, torch.optim.AdamW(net.parameters(), lr=3e-4), wave, target, steps)
    net.eval()
    t = time.perf_counter()
    with torch.inference_mode():
        for _ in range(steps):
            net(wave)
    val = len(wave) * steps / (time.perf_counter() - t)
    net.train()
    return train_rate, val


def evaluation_seconds(net: torch.nn.Module) -> tuple[float, float]:
    """(first evaluation, steady-state evaluation) seconds of the default callback."""
    spec = OmegaConf.load(Path(__file__).resolve().parents[1] / "conf" / "callbacks" / "default.yaml").brain_score
    spec.output_dir, spec.cache_dir = ".", None  # run-directory interpolations: not needed here
    cb = instantiate(spec)  # the callback exactly as the default config builds it
    assert isinstance(cb, BrainScoreCallback)

    class _Trainer:  # what setup() needs
        is_global_zero = True
        default_root_dir = "."

    cb.setup(_Trainer(), net, "fit")
    times = []
    for _ in range(2):
        t = time.perf_counter()
        cb._score(net, "synthetic", cb.benchmarks["synthetic"], 0)
        times.append(time.perf_counter() - t)
    return times[0], times[1]


def report(
    name: str, train_rate: float, val_rate: float, n_train: int, n_val: int, first: float, steady: float
) -> None:
    epoch = n_train / train_rate + n_val / val_rate
    print(f"{name}: training {train_rate:.1f} clips/s, validation {val_rate:.1f} clips/s -> epoch {epoch:.0f} s "
          f"({n_train} + {n_val} clips)")  # fmt: skip
    print(f"  callback evaluation: {steady:.1f} s (first one {first:.1f} s: stimulus cochleagrams computed or read)")
    print(f"  share of training wall time at one evaluation per epoch: {100 * steady / (epoch + steady):.1f} %"
          f" (first epoch {100 * first / (epoch + first):.1f} %)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paper", action="store_true", help="also the full-width CochCNN9 (slow on a CPU)")
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    spec = CorpusSpec(vocabulary_size=20, n_speakers=20, train_clips_per_word=100, val_clips_per_word=10)
    dm = EmbeddedSpeechDataModule(spec, batch_size=16, num_workers=0)
    dm.setup("fit")
    batch = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    torch.manual_seed(0)
    net = CochCNN9(heads={"word": 20}, width=0.125, dropout=0.0)
    rates = step_rate(net, batch, args.steps)
    report("quickstart (CochCNN9 width 1/8, batch 16)", *rates, 2000, 200, *evaluation_seconds(net))
    if args.paper:
        net = CochCNN9(heads={"word": 200}, width=1.0)
        small = {k: v[:8] for k, v in batch.items()}
        rates = step_rate(net, small, 2)
        report("paper recipe (CochCNN9 full width; embedded corpus epoch)", *rates, 20000, 2000,
               *evaluation_seconds(net))  # fmt: skip


if __name__ == "__main__":
    main()

"""Data-pipeline throughput: clips/s the DataModule delivers vs clips/s of a training step.

    python bench/data.py [--workers 2] [--batch-size 128] [--batches 30] [--width 1.0]

Measured in one run on the quickstart-sized embedded corpus (20 words x 20 voices, rendered
into the cache the first time): (1) the training DataLoader with ``--workers`` processes
(int16 memory-mapped audio, random background, SNR and time-jitter crop per clip) followed
by mixing and RMS normalisation in torch (``on_after_batch_transfer``), and (2) forward +
backward + SGD step of CochCNN9 (``--width``, 1.0 = the reference network) on the same
batches. Prints both rates and their ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.timing import training_step_rate  # noqa: E402
from data import CorpusSpec, EmbeddedSpeechDataModule  # noqa: E402
from models import CochCNN9  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--batches", type=int, default=30, help="timed batches (after 3 warm-up batches)")
    parser.add_argument("--width", type=float, default=1.0, help="CochCNN9 width for the training step")
    parser.add_argument("--train-batch", type=int, default=8, help="batch size of the timed training steps")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps (after 1 warm-up)")
    args = parser.parse_args()

    spec = CorpusSpec(vocabulary_size=20, n_speakers=20, train_clips_per_word=100, val_clips_per_word=10,
                      n_train_backgrounds=200, n_val_backgrounds=50)  # fmt: skip
    dm = EmbeddedSpeechDataModule(spec, noise="noisy", batch_size=args.batch_size, num_workers=args.workers)
    dm.setup("fit")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {len(dm.train_set)} training clips, "
          f"batch {args.batch_size}, {args.workers} workers")  # fmt: skip

    loader = dm.train_dataloader()
    n_clips, t_mix = 0, 0.0
    while n_clips < (args.batches + 3) * args.batch_size:
        for i, batch in enumerate(loader):
            if i == 3 and n_clips == 3 * args.batch_size:
                t0, n_clips, t_mix = time.perf_counter(), 0, 0.0
            tm = time.perf_counter()
            batch = dm.on_after_batch_transfer(batch, 0)
            t_mix += time.perf_counter() - tm
            n_clips += len(batch["waveform"])
            if i >= 3 and n_clips >= args.batches * args.batch_size:
                break
        else:
            continue
        break
    elapsed = time.perf_counter() - t0
    if not torch.isfinite(batch["waveform"]).all():
        raise RuntimeError("the mixed waveforms contain NaN or inf")
    delivered = n_clips / elapsed
    print(f"DataModule: {delivered:,.0f} clips/s delivered ({n_clips} clips in {elapsed:.1f} s; "
          f"mixing + RMS on the device {1e3 * t_mix / max(n_clips // args.batch_size, 1):.0f} ms/batch)")  # fmt: skip

    torch.manual_seed(0)
    net = CochCNN9(heads={"word": 20}, width=args.width)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    wave = batch["waveform"][: args.train_batch]
    target = batch["word"][: args.train_batch]
    step_rate = training_step_rate(net, opt, wave, target, args.steps)
    print(f"CochCNN9 (width {args.width}) training step: {step_rate:,.1f} clips/s (batch {args.train_batch})")
    print(f"delivered / training = {delivered / step_rate:,.0f}x")


if __name__ == "__main__":
    main()

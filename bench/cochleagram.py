"""Cochleagram throughput: the banded front end vs the reference algorithm, side by side.

    python bench/cochleagram.py [--repeats 7] [--device cpu|cuda]

Both methods of :class:`models.Cochleagram` run interleaved in one process on the same
random clips: ``direct`` is the reference algorithm (full-rate complex subbands, separate
power and add passes for the magnitude, strided convolution), ``banded`` is the default.
Prints seconds per clip and clips/s (median over repeats) at batch 1 and 8, the speed-up
over ``direct`` measured here, the speed-up over the authors' implementation measured side
by side with it on this machine kind (about 0.2-0.3 s/clip at batch 8, close to ``direct``;
the 0.25 / 0.50 s/clip once quoted for batch 1 / 8 overstated it), and the largest
difference between the two outputs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.timing import machine_line, seconds  # noqa: E402
from models import Cochleagram  # noqa: E402

REFERENCE_S_PER_CLIP = {8: 0.25}  # the authors' implementation, middle of 0.2-0.3 s/clip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    device = torch.device(args.device)
    print(machine_line(device))
    modules = {m: Cochleagram(method=m).to(device) for m in ("direct", "banded")}
    g = torch.Generator().manual_seed(0)
    rows = []
    for batch in args.batches:
        x = (0.1 * torch.randn(batch, 40000, generator=g)).to(device)
        with torch.no_grad():
            outs = {m: mod(x) for m, mod in modules.items()}  # warm-up, and the output check
        diff = (outs["banded"] - outs["direct"]).abs().max().item()
        times: dict[str, list[float]] = {m: [] for m in modules}
        for _ in range(args.repeats):
            for m, mod in modules.items():
                times[m].append(seconds(lambda mod=mod: mod(x), device) / batch)
        med = {m: statistics.median(t) for m, t in times.items()}
        rows.append((batch, med, diff))
        for m in modules:
            print(f"batch {batch}: {m:7s} {med[m]:.4f} s/clip  {1 / med[m]:7.1f} clips/s  "
                  f"(min {min(times[m]):.4f})")  # fmt: skip
        print(f"batch {batch}: banded is {med['direct'] / med['banded']:.1f}x direct (same run); "
              f"{REFERENCE_S_PER_CLIP.get(batch, float('nan')) / med['banded']:.1f}x the reference figure "
              f"({REFERENCE_S_PER_CLIP.get(batch, float('nan'))} s/clip); max |banded - direct| = {diff:.2e}")  # fmt: skip


if __name__ == "__main__":
    main()

"""SpectroTemporal baseline: filter-bank build time, forward cost per sound, fixture differences.

    python bench/spectrotemporal.py [--repeats 5] [--device cpu|cuda] [--batches 1 8]

Prints

* the time to build the filter bank (:class:`models.spectrotemporal.ModulationFilterBank`)
  and the whole :class:`models.SpectroTemporal` (with its cochleagram), first and second
  construction in this process (the 1-D transfer functions are cached after the first);
* seconds per sound of the filter bank alone (cochleagram in) and of the whole model
  (waveform in), median and best over repeats, at each batch size;
* the differences from the authors' arrays in tests/fixtures/spectrotemporal_reference.npz:
  1-D transfer functions, the four 2-D filters, and the features of the three cochleagrams
  (worst over filters of max |difference| / the filter's largest feature; worst over all
  features / the largest; worst element-wise relative difference).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.timing import machine_line, seconds  # noqa: E402
from models import SpectroTemporal  # noqa: E402
from models.spectrotemporal import (  # noqa: E402
    ModulationFilterBank,
    spectrotemporal_filterbank,
    spectrotemporal_transfer_functions,
)

FIXTURE = ROOT / "tests" / "fixtures" / "spectrotemporal_reference.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    device = torch.device(args.device)
    print(machine_line(device))

    for label in ("first", "second"):
        t_bank = seconds(lambda: ModulationFilterBank().to(device), device)
        t_model = seconds(lambda: SpectroTemporal().to(device), device)
        print(f"build ({label}): filter bank {t_bank * 1e3:.1f} ms, SpectroTemporal {t_model * 1e3:.1f} ms")

    model = SpectroTemporal().to(device).eval()
    g = torch.Generator().manual_seed(0)
    for batch in args.batches:
        wave = (0.1 * torch.randn(batch, 40000, generator=g)).to(device)
        with torch.inference_mode():
            coch = model.cochleagram(wave)
            model(wave)  # warm-up
            bank = [seconds(lambda: model.filters(coch), device) for _ in range(args.repeats)]
            whole = [seconds(lambda: model(wave), device) for _ in range(args.repeats)]
        b, w = statistics.median(bank) / batch, statistics.median(whole) / batch
        print(f"batch {batch}: filter bank {b:.3f} s/sound (best {min(bank) / batch:.3f}), whole model "
              f"{w:.3f} s/sound (best {min(whole) / batch:.3f}; {1 / w:.1f} sounds/s)")  # fmt: skip

    if not FIXTURE.is_file():
        print(f"no fixture at {FIXTURE}: differences skipped")
        return
    with np.load(FIXTURE) as stored:
        ref = {name: stored[name] for name in stored.files}
    tf = spectrotemporal_transfer_functions()
    temporal = tf.temporal[tf.rate_index].astype(np.complex64)
    spectral = tf.spectral[tf.scale_index].astype(np.complex64)
    print(f"1-D functions vs fixture: temporal max |diff| {np.abs(temporal - ref['temporal']).max():.2e}, "
          f"spectral {np.abs(spectral - ref['spectral']).max():.2e}")  # fmt: skip
    filters = spectrotemporal_filterbank(filters=ref["filters_check_index"].tolist()).numpy()
    print(f"2-D filters {ref['filters_check_index'].tolist()} vs fixture: max |diff| "
          f"{np.abs(filters - ref['filters_check']).max():.2e}")  # fmt: skip
    with torch.inference_mode():
        ours = model.filters(torch.from_numpy(ref["cochleagram"]).to(device)).mean(-1).cpu().numpy()
    theirs = ref["features"]
    diff = np.abs(ours - theirs)
    print(f"features vs fixture: per filter {(diff.max(-1) / theirs.max(-1)).max():.2e}, "
          f"overall {diff.max() / theirs.max():.2e}, element-wise {(diff / theirs).max():.2e} "
          f"(element-wise where > 1e-3 x max: {(diff / theirs)[theirs > 1e-3 * theirs.max()].max():.2e})")  # fmt: skip


if __name__ == "__main__":
    main()

"""GPU check: train CochCNN9 and CochResNet50 for a short while and print clips/s and peak
memory, in float32 and bf16-mixed, with and without torch.compile; then score a network on
the synthetic benchmark on the GPU (the ridge engine's CUDA path), and check the
SpectroTemporal filter bank's batched device path against its CPU path and the authors'
features (tests/fixtures/spectrotemporal_reference.npz).

    python bench/gpu.py                       # on a GPU machine (what the README quotes)
    python bench/gpu.py --device cpu --batch 4 --steps 2 --width 0.125   # a smoke run anywhere

Training steps run on random 2-s waveforms already on the device (the data pipeline is
measured separately by bench/data.py), word head of 200 classes (the paper's word task
has 794), SGD as in the reference recipe. clips/s = batch x timed steps / their time
(after warm-up steps, which include compilation).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

# The repository root first: run as a script, this folder is sys.path[0] and its data.py
# would shadow the data package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from models import CochCNN9, CochResNet50  # noqa: E402

SAMPLES = 40_000  # 2 s at 20 kHz


def train_speed(name: str, width: float, batch: int, steps: int, warmup: int, device: torch.device,
                bf16: bool, compile_net: bool) -> dict:  # fmt: skip
    torch.manual_seed(0)
    cls = {"cochcnn9": CochCNN9, "cochresnet50": CochResNet50}[name]
    net = cls(width=width, heads={"word": 200}).to(device)
    forward = torch.compile(net) if compile_net else net
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(batch, SAMPLES, device=device) * 0.1
    y = torch.randint(0, 200, (batch,), device=device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = torch.nn.functional.cross_entropy(forward(x)["word"].float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def run(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - t0

    warm = run(warmup)
    seconds = run(steps)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    return {"clips_per_s": batch * steps / seconds, "peak_gib": peak, "warmup_s": warm}


def score_on_device(device: torch.device, width: float) -> tuple[float, float]:
    from evaluate import load_benchmark, score_model

    bench = load_benchmark("synthetic", voxels_per_participant=300)
    net = CochCNN9(width=width, heads={"word": 200}).to(device).eval()
    t0 = time.perf_counter()
    result = score_model(net, bench, progress=False)
    return result.value, time.perf_counter() - t0


def spectrotemporal_check(device: torch.device) -> tuple[float, float, float]:
    """(worst per-filter difference device vs CPU, worst per-filter difference of the device's
    features vs the authors', seconds per sound on the device) on the fixture's cochleagrams."""
    from pathlib import Path

    import numpy as np

    from models.spectrotemporal import ModulationFilterBank

    fixture = np.load(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "spectrotemporal_reference.npz")
    coch = torch.from_numpy(fixture["cochleagram"])

    def per_filter(a: np.ndarray, b: np.ndarray) -> float:
        """Worst over filters (axis 1) of max |a - b| / max |b|, maxima over every other axis
        (sounds, channels and, for the filter bank's output, frames: a per-frame maximum would
        divide by near-zero frames and report float32 round-off as a difference)."""
        axes = tuple(i for i in range(a.ndim) if i != 1)
        return float((np.abs(a - b).max(axis=axes) / np.abs(b).max(axis=axes)).max())

    with torch.inference_mode():
        cpu = ModulationFilterBank()(coch).numpy()
        bank = ModulationFilterBank().to(device)
        bank(coch.to(device))  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = bank(coch.to(device)).cpu().numpy()
        seconds = (time.perf_counter() - t0) / len(coch)
    return per_filter(out, cpu), per_filter(out.mean(-1), fixture["features"]), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", nargs="+", default=["cochcnn9", "cochresnet50"])
    parser.add_argument("--batch", type=int, default=None, help="default: 128 (CochCNN9), 64 (CochResNet50)")
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    parser.add_argument("--no-score", action="store_true", help="skip scoring on the device")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        print(f"device: {torch.cuda.get_device_name(device)}, torch {torch.__version__}")
    else:
        print(f"device: cpu ({torch.get_num_threads()} threads), torch {torch.__version__}")
    print(f"{'model':<13} {'batch':>5} {'precision':<10} {'compile':<7} {'clips/s':>9} {'peak GiB':>9} {'warm-up s':>9}")
    for name in args.models:
        batch = args.batch or (128 if name == "cochcnn9" else 64)
        for bf16 in (False, True):
            for compile_net in (False,) if args.no_compile else (False, True):
                r = train_speed(name, args.width, batch, args.steps, args.warmup, device, bf16, compile_net)
                print(f"{name:<13} {batch:>5} {'bf16-mixed' if bf16 else '32-true':<10} {str(compile_net):<7} "
                      f"{r['clips_per_s']:>9.1f} {r['peak_gib']:>9.2f} {r['warmup_s']:>9.1f}", flush=True)  # fmt: skip
    if not args.no_score:
        value, seconds = score_on_device(device, args.width)
        print(f"synthetic benchmark (8 x 300 voxels) scored on {device}: {value:.3f} in {seconds:.1f} s")
    vs_cpu, vs_authors, per_sound = spectrotemporal_check(device)
    print(f"SpectroTemporal filter bank on {device}: {per_sound:.3f} s/sound; per-filter difference vs CPU "
          f"{vs_cpu:.1e} (expect < 1e-5), vs the authors' features {vs_authors:.1e} (expect < 1e-4)")


if __name__ == "__main__":
    main()

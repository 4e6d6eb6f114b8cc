"""Every zoo adapter at its paper size, scored on the synthetic benchmark: parameters and time.

    python bench/zoo.py [--models wav2vec2,crepe,...] [--voxels 300] [--out bench/results/zoo.csv] [--force]

For each adapter (``conf/model/zoo/<name>.yaml``, built as ``python -m evaluate model=zoo/<name>``
builds it, without weights, so with a random initialisation at the default (paper) size; the
two whose real weights ship in their wheels -- CREPE and Resemblyzer -- also pretrained):
its parameter count, the time to build it, and the time to extract its layers on the 165
stimuli and score them (``evaluate.score_model``, activation cache off, RSA off) on the
synthetic benchmark (not brain data; 8 participants x ``--voxels``). One row per model is
written to ``--out`` as soon as it is measured (atomically), so a killed run resumes where it
stopped; ``--force`` measures again. Prints a Markdown table at the end.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from data.cache import atomic_file  # noqa: E402
from evaluate import score_model  # noqa: E402
from evaluate.registry import load_benchmark  # noqa: E402

# (row name, config name, overrides): random initialisation at the paper size unless it says pretrained.
MODELS = [
    ("wav2vec2", "wav2vec2", {}),
    ("hubert", "hubert", {}),
    ("wavlm", "wavlm", {}),
    ("data2vec_audio", "data2vec_audio", {}),
    ("whisper", "whisper", {}),
    ("ast", "ast", {}),
    ("s2t", "s2t", {}),
    ("clap", "clap", {}),
    ("deepspeech2", "deepspeech2", {}),
    ("metricgan", "metricgan", {}),
    ("sepformer", "sepformer", {}),
    ("vggish", "vggish", {"pretrained": False}),
    ("crepe (random)", "crepe", {"pretrained": False}),
    ("crepe (pretrained)", "crepe", {}),
    ("resemblyzer (random)", "resemblyzer", {"pretrained": False}),
    ("resemblyzer (pretrained)", "resemblyzer", {}),
]
FIELDS = ["model", "identifier", "parameters", "layers", "sample_rate", "build_s", "score_s", "score", "sem",
          "Primary", "Anterior", "Lateral", "Posterior"]  # fmt: skip


def build(config: str, overrides: dict) -> torch.nn.Module:
    cfg = OmegaConf.load(ROOT / "conf" / "model" / "zoo" / f"{config}.yaml")
    return instantiate(OmegaConf.merge(cfg, overrides))


def measure(name: str, config: str, overrides: dict, bench) -> dict:
    torch.manual_seed(0)
    t = time.perf_counter()
    net = build(config, overrides).eval()
    built = time.perf_counter() - t
    t = time.perf_counter()
    result = score_model(net, bench, cache=False, progress=True, rsa=False)
    scored = time.perf_counter() - t
    roi = dict(zip(result.per_roi["roi"], result.per_roi["value"]))
    return {
        "model": name, "identifier": result.model, "parameters": sum(p.numel() for p in net.parameters()),
        "layers": len(result.layers), "sample_rate": net.sample_rate, "build_s": f"{built:.1f}",
        "score_s": f"{scored:.1f}", "score": f"{result.value:.3f}", "sem": f"{result.sem:.3f}",
        **{k: f"{roi[k]:.3f}" for k in ("Primary", "Anterior", "Lateral", "Posterior") if k in roi},
    }  # fmt: skip


def read_rows(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    with open(path, newline="") as f:
        return {row["model"]: row for row in csv.DictReader(f)}


def write_rows(path: Path, rows: dict[str, dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows.values())
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as f:
        f.write(buf.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated row names or config names (default: all)")
    parser.add_argument("--voxels", type=int, default=300, help="synthetic voxels per participant")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "zoo.csv")
    parser.add_argument("--force", action="store_true", help="measure again the models already in --out")
    args = parser.parse_args()
    wanted = set(args.models.split(",")) if args.models else None
    chosen = [m for m in MODELS if wanted is None or m[0] in wanted or m[1] in wanted]
    if wanted and not chosen:
        parser.error(f"--models: none of {sorted(wanted)} is one of {[m[0] for m in MODELS]}")
    bench = load_benchmark("synthetic", voxels_per_participant=args.voxels)
    rows = {} if args.force else read_rows(args.out)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {bench.describe()}")
    for name, config, overrides in chosen:
        if name in rows:
            print(f"{name}: measured before ({args.out}); --force to measure again")
            continue
        rows[name] = measure(name, config, overrides, bench)
        write_rows(args.out, rows)
        print(", ".join(f"{k}={v}" for k, v in rows[name].items()), flush=True)
    print("\n| model | parameters | layers | rate (Hz) | score time (s) | score +- SEM |")
    print("|---|---:|---:|---:|---:|---|")
    for r in (rows[m[0]] for m in MODELS if m[0] in rows):
        print(f"| {r['model']} | {int(r['parameters']) / 1e6:.1f} M | {r['layers']} | {r['sample_rate']} | "
              f"{r['score_s']} | {r['score']} +- {r['sem']} |")  # fmt: skip


if __name__ == "__main__":
    main()

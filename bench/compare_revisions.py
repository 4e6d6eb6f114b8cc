"""Behaviour unchanged? Run the same CLI commands on two revisions and compare every number.

    python bench/compare_revisions.py --base d28d3bb [--head WORKTREE] [--keep DIR]

For a refactor that must not change behaviour. The base revision is checked out with
``git worktree`` into a temporary folder; both trees run, each in a fresh cache and log
folder, with this interpreter:

1. ``python -m train debug=fast logger=csv`` (corpus rendered, 8 training steps, validation,
   the brain-score callback on the synthetic benchmark, checkpoints);
2. ``python -m evaluate model=cochcnn9 benchmark=synthetic control=permuted`` (an untrained
   network and its permuted control, every scored layer, RSA);
3. ``python -m evaluate ckpt_path=<the base run's last.ckpt>`` in the head tree, and the same
   with the head run's checkpoint in the base tree: checkpoints read across revisions.

Then it compares, bit for bit: the checkpoints' network tensors, the brain-score history, the
CSV metrics, and every table of every saved score (score.json values, per-voxel, per-layer,
per-ROI ...). Prints one line per comparison and exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[1]
SMALL = ["benchmark.voxels_per_participant=20", "figures=false", "progress=false"]
TRAIN = ["debug=fast", "logger=csv", "seed=0"]


def run(tree: Path, work: Path, args: list[str], label: str) -> Path:
    """Run ``python -m <args>`` in ``tree`` with its own logs and cache; returns its run dir."""
    logs = work / "logs" / label
    done = {p.parent.parent for p in logs.rglob(".hydra/config.yaml")} if (logs / "DONE").is_file() else set()
    if len(done) == 1:  # --keep: a finished run of an earlier call
        print(f"  reused {label:<22} {done.pop()}", flush=True)
        return next(p.parent.parent for p in logs.rglob(".hydra/config.yaml"))
    env = {**os.environ, "AUDITORY_DNN_LOGS": str(logs), "AUDITORY_DNN_CACHE": str(work / "cache"),
           "WANDB_MODE": "disabled", "HYDRA_FULL_ERROR": "1", "PYTHONPATH": str(tree)}  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", *args], cwd=tree, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{label} failed in {tree}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    (run_dir,) = {p.parent.parent for p in logs.rglob(".hydra/config.yaml")}
    (logs / "DONE").touch()
    print(f"  ran {label:<22} {time.perf_counter() - t0:6.1f} s  {run_dir}", flush=True)
    return run_dir


def _frames_equal(a: Path, b: Path, ignore: tuple[str, ...] = (), skip: tuple[str, ...] = ()) -> list[str]:
    """Differences between the score directories ``a`` and ``b`` (every file, every value;
    the ``info`` record of a score -- paths, timings -- and the keys in ``ignore`` aside)."""
    diffs = []
    names = sorted({p.relative_to(a) for p in a.rglob("*") if p.is_file()} |
                   {p.relative_to(b) for p in b.rglob("*") if p.is_file()})  # fmt: skip
    for rel in (n for n in names if n.name not in skip):
        fa, fb = a / rel, b / rel
        if not (fa.is_file() and fb.is_file()):
            diffs.append(f"{rel}: only in {'base' if fa.is_file() else 'head'}")
            continue
        if rel.suffix == ".json":
            ja, jb = json.loads(fa.read_text()), json.loads(fb.read_text())
            for volatile in ("info", *ignore):
                ja.pop(volatile, None), jb.pop(volatile, None)
            if json.dumps(ja, sort_keys=True) != json.dumps(jb, sort_keys=True):
                diffs.append(f"{rel}: differs")
        elif rel.suffix in (".parquet", ".csv"):
            read = pd.read_parquet if rel.suffix == ".parquet" else pd.read_csv
            da, db = read(fa), read(fb)
            if not da.equals(db):
                diffs.append(f"{rel}: table differs")
        elif fa.read_bytes() != fb.read_bytes():
            diffs.append(f"{rel}: bytes differ")
    return diffs


def _network(ckpt: Path) -> dict[str, torch.Tensor]:
    state = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
    return {k: v for k, v in state.items() if k.startswith("net.")}


def compare(label: str, diffs: list[str]) -> bool:
    print(f"  {'same' if not diffs else 'DIFFERENT':<9} {label}" + "".join(f"\n      {d}" for d in diffs[:10]))
    return not diffs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True, help="git revision to compare against")
    parser.add_argument("--head", default=str(REPO), help="the tree to check (default: this working tree)")
    parser.add_argument("--keep", help="keep the runs here instead of a temporary folder (and reuse finished ones)")
    parser.add_argument("--base-only", action="store_true", help="only run the base revision's commands (with --keep)")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="compare-revisions-"))
    base_tree = work / "base_tree"
    if not base_tree.exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(base_tree), args.base], check=True,
                       capture_output=True)  # fmt: skip
    head_tree = Path(args.head)
    print(f"base {args.base} ({base_tree}) vs head {head_tree}; runs in {work}")
    try:
        runs = {}
        for side, tree in (("base", base_tree), ("head", head_tree))[: 1 if args.base_only else 2]:
            runs[side, "train"] = run(tree, work / side, ["train", *TRAIN], f"{side}_train")
            runs[side, "eval"] = run(tree, work / side, ["evaluate", "model=cochcnn9", "benchmark=synthetic",
                                                         "control=permuted", *SMALL], f"{side}_evaluate")  # fmt: skip
        if args.base_only:
            return
        for side, tree, other in (("base", base_tree, "head"), ("head", head_tree, "base")):
            ckpt = runs[other, "train"] / "checkpoints" / "last.ckpt"
            runs[side, "ckpt"] = run(tree, work / side, ["evaluate", f"ckpt_path={ckpt}", "benchmark=synthetic",
                                                         *SMALL], f"{side}_scores_{other}_ckpt")  # fmt: skip
        ok = True
        a, b = (_network(runs[s, "train"] / "checkpoints" / "last.ckpt") for s in ("base", "head"))
        ok &= compare("checkpoint network tensors", [k for k in sorted(set(a) | set(b))
                                                     if k not in a or k not in b or not torch.equal(a[k], b[k])])
        ha, hb = (json.loads((runs[s, "train"] / "brain_scores" / "history.json").read_text()) for s in ("base", "head"))
        drop = ("seconds",)
        clean = [{k: v for k, v in e.items() if not k.endswith(drop)} for e in ha["evaluations"]], \
                [{k: v for k, v in e.items() if not k.endswith(drop)} for e in hb["evaluations"]]  # fmt: skip
        ok &= compare("brain-score history (every metric, every evaluation)",
                      [] if clean[0] == clean[1] and ha["best"] == hb["best"] else ["history.json differs"])
        ma, mb = (pd.read_csv(runs[s, "train"] / "csv" / "metrics.csv") for s in ("base", "head"))
        keep = [c for c in ma.columns if not c.endswith("seconds") and "time" not in c]
        ok &= compare("training metrics.csv", [] if ma[keep].equals(mb.reindex(columns=keep)) else ["metrics differ"])
        ok &= compare("brain scores saved while training",  # (history.json: compared above, without timings)
                      _frames_equal(runs["base", "train"] / "brain_scores", runs["head", "train"] / "brain_scores",
                                    skip=("history.json",)))
        for what in ("score", "control_permuted/score"):
            ok &= compare(f"python -m evaluate: {what}", _frames_equal(runs["base", "eval"] / what,
                                                                    runs["head", "eval"] / what))  # fmt: skip
        summaries = [(runs[s, "eval"] / "summary.txt").read_text() for s in ("base", "head")]
        ok &= compare("python -m evaluate: summary.txt", [] if summaries[0] == summaries[1] else ["summary differs"])
        # the identifiers name the run directory the checkpoint is in, which differs by design
        ok &= compare("checkpoints across revisions (each tree scores the other's)",
                      _frames_equal(runs["base", "ckpt"] / "score", runs["head", "ckpt"] / "score", ignore=("model",)))
    finally:
        if not args.keep:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base_tree)], capture_output=True)
            shutil.rmtree(work, ignore_errors=True)
    print("behaviour unchanged" if ok else "BEHAVIOUR CHANGED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()

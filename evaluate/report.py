"""``python -m evaluate.report``: compare models across evaluation and training runs.

    python -m evaluate.report logs/evaluate/runs/* logs/train/multiruns/<sweep> --out report/

Finds every saved score under the given directories: ``score/`` of a ``python -m evaluate``
run (and its ``control_permuted/score/``), and the latest ``brain_scores/<benchmark>/step<N>/``
of each training run. Scores of the same model label (architecture, task, noise condition,
control) are pooled over seeds by averaging each participant's value first. For each benchmark
it writes, as PNG + CSV:

* ``best_layer``: best-layer score per model with SEM over participants, the SpectroTemporal
  baseline as a horizontal line;
* ``layer_curves``: layer-wise curves per ROI (x = relative layer position, 0 = first scored
  layer, 1 = last, so networks of different depth share an axis);
* ``best_relative_layer``: best relative layer per ROI per model;
* ``noisy_vs_clean`` and ``tasks``: the same architecture and task trained on noisy vs clean
  speech, and the tasks side by side (when the runs include such pairs).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evaluate import stats
from evaluate.figures import ROI_COLOURS, _save
from evaluate.results import Score
from evaluate.rundir import SCORE_FILE, control_of, training_step_of

log = logging.getLogger(__name__)
ROIS = ("Primary", "Anterior", "Lateral", "Posterior")


@dataclass
class Entry:
    """One saved score and what it is a score of."""

    score: Score
    path: Path
    arch: str
    task: str = ""
    noise: str = ""
    seed: str = ""
    control: str = ""  # "permuted", or "" for the network itself
    tags: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        parts = [self.arch, self.task, self.noise, self.control]
        return " ".join(p for p in parts if p)


# ---------------------------------------------------------------------- discovery
def _run_tags(run_dir: Path) -> dict:
    """model/task/noise/seed of a training run directory (its run.json)."""
    try:
        record = json.loads((run_dir / "run.json").read_text())
    except (OSError, ValueError):
        return {}
    tags = dict(record.get("tags") or {})
    if not tags and record.get("run_name"):  # <model>_<task>_<noise>_seed<seed>
        m = re.fullmatch(r"(.+?)_(\w+?)_(clean|noisy)_seed(\d+)", record["run_name"])
        if m:
            tags = dict(zip(("model", "task", "noise", "seed"), m.groups()))
    return tags


def _entry(score: Score, path: Path, run_dir: Path | None, control: str) -> Entry:
    tags = _run_tags(run_dir) if run_dir else {}
    arch = tags.get("model") or re.split(r"[-@:]", score.model)[0]
    return Entry(score, path, str(arch), str(tags.get("task", "")), str(tags.get("noise", "")),
                 str(tags.get("seed", "")), control, tags)  # fmt: skip


def _training_run_of(score: Score) -> Path | None:
    ckpt = (score.info.get("model") or {}).get("ckpt_path") if isinstance(score.info.get("model"), dict) else None
    return Path(ckpt).parent.parent if ckpt else None


def find_scores(paths: list[str | Path]) -> list[Entry]:
    """Every score under ``paths`` (see the module docstring); unreadable ones are reported
    and skipped with a count."""
    entries, bad = [], 0
    for root in map(Path, paths):
        if not root.exists():
            raise FileNotFoundError(f"{root} does not exist")
        found = sorted(root.rglob(SCORE_FILE)) if root.is_dir() else [root]
        latest: dict[tuple[Path, str], tuple[int, Path]] = {}
        for path in found:
            in_training = training_step_of(path)
            if in_training is not None:  # training run: keep the latest step per benchmark
                run_dir, bench, step = in_training
                if step >= latest.get((run_dir, bench), (-1, path))[0]:
                    latest[(run_dir, bench)] = (step, path)
                continue
            try:
                score = Score.load(path.parent)
            except Exception as exc:  # noqa: BLE001  (a report over many runs skips what it cannot read)
                log.warning("Skipping %s: %s", path, exc)
                bad += 1
                continue
            control = control_of(path)
            entries.append(_entry(score, path, _training_run_of(score), control))
        for (run_dir, _bench), (_step, path) in sorted(latest.items()):
            try:
                entries.append(_entry(Score.load(path.parent), path, run_dir, ""))
            except Exception as exc:  # noqa: BLE001
                log.warning("Skipping %s: %s", path, exc)
                bad += 1
    if bad:
        log.warning("%d score(s) could not be read and were skipped", bad)
    return entries


# ---------------------------------------------------------------------- tables
def _pooled(entries: list[Entry]) -> tuple[float, float, int]:
    """Mean over participants of the per-participant values averaged over seeds, and its SEM."""
    per = pd.concat([e.score.per_participant[["participant", "value"]] for e in entries])
    values = per.groupby("participant")["value"].mean().to_numpy()
    return float(values.mean()), stats.sem(values), len(entries)


def best_layer_table(entries: list[Entry]) -> pd.DataFrame:
    rows = []
    for label, group in _groups(entries).items():
        value, sem, n = _pooled(group)
        first = group[0]
        rows.append({"label": label, "arch": first.arch, "task": first.task, "noise": first.noise,
                     "control": first.control, "value": value, "sem": sem, "n_runs": n,
                     "baseline": _is_baseline(first)})  # fmt: skip
    return pd.DataFrame(rows).sort_values("value", ascending=False, ignore_index=True)


def roi_tables(entries: list[Entry]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(layer curves per ROI at relative layer positions, best relative layer per ROI)."""
    curves, best = [], []
    for label, group in _groups(entries).items():
        layer_rows = []
        for e in group:
            n = len(e.score.layers)
            pos = {layer: (i / (n - 1) if n > 1 else 0.0) for i, layer in enumerate(e.score.layers)}
            t = e.score.per_roi_layer.assign(position=lambda d, pos=pos: d["layer"].map(pos))
            layer_rows.append(t)
        t = pd.concat(layer_rows).groupby(["roi", "layer", "position"], as_index=False)[["value", "sem"]].mean()
        curves.append(t.assign(label=label))
        r = pd.concat([e.score.per_roi for e in group]).groupby("roi", as_index=False)[
            ["best_relative_layer", "best_relative_layer_sem", "value"]].mean()  # fmt: skip
        best.append(r.assign(label=label))
    return (pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(),
            pd.concat(best, ignore_index=True) if best else pd.DataFrame())  # fmt: skip


def _groups(entries: list[Entry]) -> dict[str, list[Entry]]:
    out: dict[str, list[Entry]] = {}
    for e in entries:
        out.setdefault(e.label, []).append(e)
    return out


def _is_baseline(e: Entry) -> bool:
    return "spectrotemporal" in e.arch.lower() or "spectrotemporal" in e.score.model.lower()


# ---------------------------------------------------------------------- figures
def _bench_title(bench: str, what: str) -> str:
    where = f"{bench} (SYNTHETIC, not brain data)" if bench.startswith("synthetic") else bench
    return f"{what}\n{where}"


def best_layer_figure(table: pd.DataFrame, bench: str, path: Path, sem_kind: str = "SEM, participants",
                      title: str = "Best-layer prediction") -> Path:  # fmt: skip
    """Best-layer score per model (``table``: label, value, sem, control, baseline), the
    baselines as dashed lines; ``sem_kind`` names the error bars in the axis label."""
    models = table[~table["baseline"]]
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(models) + 2), 4))
    x = np.arange(len(models))
    colours = ["#bbbbbb" if c else "#4c72b0" for c in models["control"]]
    ax.bar(x, models["value"], yerr=models["sem"], color=colours, capsize=3)
    for _, row in table[table["baseline"]].iterrows():
        ax.axhline(row["value"], color="#d62728", linestyle="--", label=f"{row['label']} (baseline)")
    ax.set_xticks(x, models["label"], rotation=45, ha="right")
    ax.set_ylabel(f"best-layer score (+- {sem_kind})")
    ax.set_title(_bench_title(bench, title))
    if table["baseline"].any():
        ax.legend(fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def layer_curves_figure(curves: pd.DataFrame, bench: str, path: Path) -> Path:
    rois = [r for r in ROIS if r in set(curves["roi"])] or sorted(set(curves["roi"]))
    fig, axes = plt.subplots(1, len(rois), figsize=(4 * len(rois), 3.6), sharey=True, squeeze=False)
    for ax, roi in zip(axes[0], rois, strict=True):
        for label, rows in curves[curves["roi"] == roi].groupby("label", sort=False):
            rows = rows.sort_values("position")
            ax.plot(rows["position"], rows["value"], marker="o", markersize=3, label=label)
        ax.set_title(roi, color=ROI_COLOURS.get(roi))
        ax.set_xlabel("relative layer position")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("median score")
    axes[0][-1].legend(fontsize=7, frameon=False)
    fig.suptitle(_bench_title(bench, "Layer-wise prediction per ROI"))
    return _save(fig, path)


def best_relative_layer_figure(best: pd.DataFrame, bench: str, path: Path) -> Path:
    best = best[best["roi"].isin(ROIS)]
    labels = list(dict.fromkeys(best["label"]))
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(labels) + 2), 4))
    width = 0.8 / max(len(ROIS), 1)
    for i, roi in enumerate(ROIS):
        rows = best[best["roi"] == roi].set_index("label").reindex(labels)
        ax.bar(np.arange(len(labels)) + i * width, rows["best_relative_layer"], width,
               yerr=rows["best_relative_layer_sem"], color=ROI_COLOURS[roi], label=roi, capsize=2)  # fmt: skip
    ax.set_xticks(np.arange(len(labels)) + 1.5 * width, labels, rotation=45, ha="right")
    ax.set_ylabel("best relative layer (0 = first, 1 = last)")
    ax.set_title(_bench_title(bench, "Best relative layer per ROI"))
    ax.legend(fontsize=8, frameon=False)
    return _save(fig, path)


def paired_figure(table: pd.DataFrame, by: str, bench: str, path: Path) -> Path | None:
    """Grouped bars comparing the values of ``by`` (noise or task) within each architecture
    (and task, when comparing noise). None when no group has two values to compare."""
    t = table[(table["control"] == "") & ~table["baseline"] & (table[by] != "")]
    keys = ["arch", "task"] if by == "noise" else ["arch", "noise"]
    groups = [(k, g) for k, g in t.groupby(keys, sort=False) if g[by].nunique() > 1]
    if not groups:
        return None
    levels = sorted(set(t[by]))
    fig, ax = plt.subplots(figsize=(max(5, 1.5 * len(groups) + 2), 4))
    width = 0.8 / len(levels)
    for i, level in enumerate(levels):
        vals = [g.set_index(by)["value"].get(level, np.nan) for _, g in groups]
        sems = [g.set_index(by)["sem"].get(level, np.nan) for _, g in groups]
        ax.bar(np.arange(len(groups)) + i * width, vals, width, yerr=sems, capsize=2, label=level)
    ax.set_xticks(np.arange(len(groups)) + width * (len(levels) - 1) / 2, [" ".join(k) for k, _ in groups])
    ax.set_ylabel("best-layer score")
    ax.set_title(_bench_title(bench, f"By {by}"))
    ax.legend(fontsize=8, frameon=False)
    return _save(fig, path)


def write_report(paths: list[str | Path], out: str | Path) -> dict[str, list[Path]]:
    """Write the comparison figures and tables of every benchmark found; returns the files
    per benchmark."""
    out = Path(out)
    entries = find_scores(paths)
    if not entries:
        raise FileNotFoundError(f"no saved scores (score.json) under {', '.join(map(str, paths))}")
    written: dict[str, list[Path]] = {}
    for bench in sorted({e.score.benchmark for e in entries}):
        group = [e for e in entries if e.score.benchmark == bench]
        d = out / bench
        d.mkdir(parents=True, exist_ok=True)
        table = best_layer_table(group)
        curves, best = roi_tables(group)
        files = []
        for name, frame in (("best_layer", table), ("layer_curves", curves), ("best_relative_layer", best)):
            frame.to_csv(d / f"{name}.csv", index=False)
            files.append(d / f"{name}.csv")
        files.append(best_layer_figure(table, bench, d / "best_layer.png"))
        if not curves.empty:
            files.append(layer_curves_figure(curves, bench, d / "layer_curves.png"))
            files.append(best_relative_layer_figure(best, bench, d / "best_relative_layer.png"))
        for by, name in (("noise", "noisy_vs_clean"), ("task", "tasks")):
            fig = paired_figure(table, by, bench, d / f"{name}.png")
            if fig is not None:
                files.append(fig)
        written[bench] = files
        print(f"{bench}: {len(group)} score(s), {table['label'].nunique()} model(s)")
        print(table[["label", "value", "sem", "n_runs"]].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"Report: {out}")
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m evaluate.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("runs", nargs="+", help="evaluation/training run directories (or folders of them)")
    parser.add_argument("--out", default="report", help="output folder (default: ./report)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        write_report(args.runs, args.out)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

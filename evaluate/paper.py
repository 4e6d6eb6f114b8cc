"""``python -m evaluate.paper``: the paper's figures and statistics for a set of models, in one command.

    python -m evaluate.paper logs/train/multiruns/<sweep> --out paper/            # synthetic benchmarks
    python -m evaluate.paper <runs> --benchmarks nh2015,b2021,nh2015comp --fmri-root /data/fmri
    python -m evaluate.paper <released 5_checkpoint.pt files> --published <dir holding results/>
    python -m evaluate.paper <runs> --wandb                                       # + one W&B run

Scores what is not yet scored (:mod:`evaluate.paper_sources`: cached under ``<out>/cache``, so
a killed run reuses everything it finished), with each network's permuted control and the
SpectroTemporal baseline, then writes per benchmark, as PNG + CSV (``<out>/<benchmark>/``):

* ``fig2_best_layer``: best-layer score per model, within-subject SEM across the plotted models
  (components: SEM over the CV iterations), the SpectroTemporal baseline as a line;
* ``fig4_layer_curves``: layer-wise curves per ROI at relative layer positions;
* ``fig5_components`` (component benchmarks): per component and model, and the best network's
  cross-validated predictions against the measured responses, coloured by sound category;
* ``fig7_best_relative_layer``: best relative layer per ROI (the authors' method), with the
  Wilcoxon test of Primary vs each non-primary ROI across models;
* ``fig8_clean_vs_noisy`` and ``fig9_tasks`` where the set has such pairs;
* the analyses: effective dimensionality vs predictivity, regression vs RSA (and benchmark vs
  benchmark) consistency, seed-vs-seed scatters, the best network's per-voxel best-layer map
  (+ a surface CSV), per-layer diagnostics;
* ``roi_margins.csv``: per network and ROI, its margin over its permuted control and the
  baseline in SEMs of the per-participant differences (the synthetic benchmark's positive
  control);
* ``word_recognition.csv`` (``synthetic``): how often each word-trained network of ours names
  the benchmark's spoken words (:mod:`evaluate.recognition`), what that positive control needs;
* ``channel_recovery`` (benchmarks with a ground truth: ``synthetic``): per model run and
  ground-truth channel (tonotopic, modulation, category, word), the cross-validated R2 of its
  best layer's linear readout: which ingredients of the voxels' mixtures a model carries;
* ``comparisons.csv``: every statistic (subject bootstrap, 10,000 resamples, seed 0, vs the
  permuted control and the baseline, per ROI; clean vs noisy; permutation tests over CV
  iterations for components), p-values and effect sizes;

and ``<out>/summary.md`` with every number. docs/reference.md section 11 states the rules.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from data.cache import atomic_file
from evaluate import analyses, analysis_figures, report
from evaluate.benchmark import ROIS, Benchmark, BenchmarkError
from evaluate.diagnostics import layer_diagnostics
from evaluate.figures import _save
from evaluate.paper_sources import CONTROL, Scored, find_sources, published_name, score_sources
from evaluate.published import published_agreement
from evaluate.registry import benchmark_entry, load_benchmark
from evaluate.statistics import (
    ComparisonResult,
    bootstrap_compare,
    comparisons_to_csv,
    paired_compare,
    permutation_test,
    roi_table,
    wilcoxon_rois,
    within_subject_sem,
)
from evaluate.stats import sem
from evaluate.synthetic import channel_group
from evaluate.wandb_report import log_paper  # imports wandb itself only when called

log = logging.getLogger(__name__)

DEFAULT_BENCHMARKS = ("synthetic", "synthetic-comp")
SUMMARY_FILE = "summary.md"


@dataclass
class PaperOutput:
    """What :func:`write_paper` wrote: files per benchmark, the comparisons, the summary."""

    out: Path
    files: dict[str, list[Path]] = field(default_factory=dict)
    comparisons: list[tuple[str, ComparisonResult]] = field(default_factory=list)
    summary: str = ""
    problems: list[str] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


# ---------------------------------------------------------------------- per-model tables
def _units(s: Scored) -> pd.Series:
    """Per unit (participant, or component) best-layer value of one score."""
    t = s.score.per_participant
    return pd.Series(t["value"].to_numpy(), index=t.iloc[:, 0].astype(str).to_numpy())


def _groups(entries: Sequence[Scored]) -> dict[str, list[Scored]]:
    out: dict[str, list[Scored]] = {}
    for e in entries:
        out.setdefault(e.label, []).append(e)
    return out


def _pooled_units(group: Sequence[Scored], roi: str | None = None) -> pd.Series:
    """The units' values averaged over the group's seeds (within ``roi`` when given)."""
    series = []
    for e in group:
        if roi is None:
            series.append(_units(e))
        else:
            t = e.score.per_roi_participant
            if t.empty:
                continue
            t = t[t["roi"] == roi]
            series.append(pd.Series(t["value"].to_numpy(), index=t.iloc[:, 1].astype(str).to_numpy()))
    return pd.concat(series, axis=1).mean(axis=1) if series else pd.Series(dtype=float)


def model_table(entries: Sequence[Scored]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per model label, the units x labels matrix of seed-averaged values).

    Columns: label, arch, task, noise, control, baseline, n_seeds, value, sem (within-subject
    across the plotted labels for voxels; over CV iterations for components), sem_units (plain
    SEM over units), rsa.
    """
    groups = _groups(entries)
    matrix = pd.concat({label: _pooled_units(g) for label, g in groups.items()}, axis=1)
    components = entries[0].score.kind == "components"
    within = dict(zip(matrix.columns, within_subject_sem(matrix.dropna().to_numpy()))) if not components else {}
    rows = []
    for label, g in groups.items():
        first = g[0]
        iterations = np.mean([e.score.info.get("per_iteration", [np.nan]) for e in g], axis=0)
        rows.append({
            "label": label, "arch": first.source.arch, "task": first.source.task, "noise": first.source.noise,
            "control": first.control, "baseline": first.is_baseline, "n_seeds": len(g),
            "value": float(matrix[label].mean()),
            "sem": float(sem(iterations)) if components else float(within.get(label, np.nan)),
            "sem_units": float(sem(matrix[label].dropna().to_numpy())),
            "rsa": float(np.mean([e.score.rsa.get("value", np.nan) for e in g])) if not components else np.nan,
        })  # fmt: skip
    table = pd.DataFrame(rows).sort_values("value", ascending=False, ignore_index=True)
    return table, matrix


def roi_value_table(entries: Sequence[Scored]) -> pd.DataFrame:
    """label, roi, value, sem_units, margin columns: per ROI the seed-averaged values."""
    rows = []
    for label, g in _groups(entries).items():
        for roi in ROIS:
            units = _pooled_units(g, roi)
            if len(units):
                rows.append({"label": label, "roi": roi, "value": float(units.mean()),
                             "sem_units": float(sem(units.to_numpy())), "n": len(units)})  # fmt: skip
    return pd.DataFrame(rows, columns=["label", "roi", "value", "sem_units", "n"])


# ---------------------------------------------------------------------- statistics
def _network_labels(table: pd.DataFrame) -> list[str]:
    return list(table[(table["control"] == "") & ~table["baseline"]]["label"])


def _aligned(a: pd.Series, b: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    common = a.index.intersection(b.index)
    return a[common].to_numpy(), b[common].to_numpy()


@dataclass(frozen=True)
class Comparison:
    """One statistic of network ``label`` against ``versus`` on ``bench``: overall
    (``roi=None``) or within ``roi``; ``paired`` marks the paired t-test of a noisy/clean pair."""

    bench: str
    label: str
    versus: str
    roi: str | None
    result: ComparisonResult
    paired: bool = False

    @property
    def name(self) -> str:
        """The row's label in comparisons.csv and summary.md."""
        where = f"{self.bench} {self.roi}" if self.roi else self.bench
        return f"{where}: {self.label} vs {self.versus}" + (" (paired)" if self.paired else "")


def comparisons(entries: Sequence[Scored], table: pd.DataFrame, n_resamples: int) -> list[Comparison]:
    """Every network vs its permuted control and the baseline (overall and per ROI; the
    components by a permutation test over CV iterations), and noisy vs clean pairs."""
    groups = _groups(entries)
    components = entries[0].score.kind == "components"
    bench = entries[0].benchmark
    baseline = [label for label in table[table["baseline"]]["label"]]
    out: list[Comparison] = []

    def compare(label: str, versus: str) -> None:
        g1, g2 = groups[label], groups[versus]
        if components:
            it1 = np.mean([e.score.info.get("per_iteration", []) for e in g1], axis=0)
            it2 = np.mean([e.score.info.get("per_iteration", []) for e in g2], axis=0)
            if len(it1) >= 2 and len(it1) == len(it2):
                out.append(Comparison(bench, label, versus, None, permutation_test(it1, it2, n_permutations=n_resamples)))
            return
        a, b = _aligned(_pooled_units(g1), _pooled_units(g2))
        out.append(Comparison(bench, label, versus, None, bootstrap_compare(a, b, n_resamples=n_resamples)))
        for roi in ROIS:
            a, b = _aligned(_pooled_units(g1, roi), _pooled_units(g2, roi))
            if len(a) >= 2:
                out.append(Comparison(bench, label, versus, roi, bootstrap_compare(a, b, n_resamples=n_resamples)))

    for label in _network_labels(table):
        control = f"{label} {CONTROL}"
        if control in groups:
            compare(label, control)
        for base in baseline:
            compare(label, base)
    for noisy in _network_labels(table):
        if not noisy.endswith(" noisy"):
            continue
        clean = noisy[: -len("noisy")] + "clean"
        if clean in groups:
            compare(noisy, clean)
            if not components:
                a, b = _aligned(_pooled_units(groups[noisy]), _pooled_units(groups[clean]))
                out.append(Comparison(bench, noisy, clean, None, paired_compare(a, b), paired=True))
    return out


def roi_margins(comps: Sequence[Comparison], table: pd.DataFrame) -> pd.DataFrame:
    """Per network, ROI and reference (its permuted control, each baseline), from the
    per-ROI rows of :func:`comparisons`: how far the network is above it, in SEMs of the
    per-participant differences -- the synthetic benchmark's positive control reads the
    non-primary rows (README, "The synthetic benchmark").

    Columns: label, roi, versus, value, versus_value, difference, sem_difference,
    margin_in_sem, p_value (subject bootstrap), n (participants).
    """
    references = set(table[table["baseline"] | (table["control"] != "")]["label"])
    rows = [{"label": c.label, "roi": c.roi, "versus": c.versus, "value": c.result.mean_1,
             "versus_value": c.result.mean_2, "difference": c.result.mean_difference,
             "sem_difference": c.result.sem_difference, "margin_in_sem": c.result.margin_in_sem,
             "p_value": c.result.p_value, "n": c.result.n}
            for c in comps if c.roi is not None and c.versus in references]  # fmt: skip
    columns = ["label", "roi", "versus", "value", "versus_value", "difference", "sem_difference", "margin_in_sem",
               "p_value", "n"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def word_recognition_table(entries: Sequence[Scored]) -> pd.DataFrame:
    """Per network (and seed) that has one, its recognition of the synthetic benchmark's spoken
    words (:mod:`evaluate.recognition`). Columns: label, seed, n_clips, vocabulary_size, top1,
    top1_chance, among_spoken, among_spoken_chance."""
    columns = ["label", "seed", "n_clips", "vocabulary_size", "top1", "top1_chance", "among_spoken",
               "among_spoken_chance"]  # fmt: skip
    rows = [{"label": e.label, "seed": e.source.seed, **e.extra["word_recognition"]}
            for e in entries if not e.control and "word_recognition" in e.extra]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def channel_recovery_table(entries: Sequence[Scored]) -> pd.DataFrame:
    """Per model run (networks, their controls, the baseline) and ground-truth channel, the
    best layer's cross-validated R2 (:func:`evaluate.analyses.best_channel_recovery`).
    Columns: label, seed, channel, group, best_layer, r2; empty without a ground truth."""
    columns = ["label", "seed", "channel", "group", "best_layer", "r2"]
    frames = []
    for e in entries:
        if e.channel_recovery is None:
            continue
        best = analyses.best_channel_recovery(e.channel_recovery)
        frames.append(best.assign(label=e.label, seed=e.source.seed, group=best["channel"].map(_group)))
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def _group(channel: str) -> str:
    try:
        return channel_group(channel)
    except ValueError:
        return "other"  # a ground truth of a benchmark built from arrays


def roi_wilcoxon(entries: Sequence[Scored], table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(models x ROIs best relative layer of the networks, Wilcoxon results, a note): the
    Figure 7 test across models; the note says why no test was possible, if none was."""
    labels = _network_labels(table)
    groups = _groups(entries)
    tables = [roi_table({f"{label} {i}": e.score for i, e in enumerate(groups[label])}).mean().rename(label)
              for label in labels]  # seeds averaged per ROI  # fmt: skip
    rois = pd.DataFrame(tables) if tables else pd.DataFrame()
    if len(rois) < 2 or "Primary" not in rois:
        return (
            rois,
            pd.DataFrame(),
            f"the Wilcoxon test across models needs 2 or more networks with ROIs (have {len(rois)})",
        )
    try:
        return rois, wilcoxon_rois(rois), ""
    except ValueError as exc:
        return rois, pd.DataFrame(), f"no Wilcoxon test: {exc}"


# ---------------------------------------------------------------------- figures
def _title(bench: str, what: str) -> str:
    return report._bench_title(bench, what)


def best_layer_figure(table: pd.DataFrame, bench: str, path: Path) -> Path:
    """Figure 2: best-layer score per model (within-subject SEM; components: over CV
    iterations), the baseline as a line."""
    kind = "SEM over CV iterations" if table["rsa"].isna().all() else "within-subject SEM"
    return report.best_layer_figure(table, bench, path, sem_kind=kind,
                                    title="Best-layer prediction (grey: permuted controls)")


def components_figure(entries: Sequence[Scored], bench: str, path: Path) -> Path:
    """Figure 5 (bars): each component's best-layer value per model label."""
    rows = []
    for label, g in _groups(entries).items():
        for comp, value in _pooled_units(g).items():
            rows.append({"label": label, "component": comp, "value": value})
    t = pd.DataFrame(rows)
    comps = list(dict.fromkeys(t["component"]))
    labels = list(dict.fromkeys(t["label"]))
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(comps) + 2), 4))
    width = 0.8 / max(len(labels), 1)
    for i, label in enumerate(labels):
        rows_l = t[t["label"] == label].set_index("component").reindex(comps)
        ax.bar(np.arange(len(comps)) + i * width, rows_l["value"], width, label=label)
    ax.set_xticks(np.arange(len(comps)) + width * (len(labels) - 1) / 2, comps, rotation=30, ha="right")
    ax.set_ylabel("best-layer r2 (mean over CV iterations)")
    ax.set_title(_title(bench, "Components"))
    ax.legend(fontsize=7, frameon=False)
    return _save(fig, path)


def relative_layer_figure(best: pd.DataFrame, wilcoxon: pd.DataFrame, bench: str, path: Path) -> Path:
    """Figure 7: best relative layer per ROI per model, the Wilcoxon results in the title."""
    written = report.best_relative_layer_figure(best, bench, path)
    if wilcoxon.empty:
        return written
    fig = plt.figure(figsize=(6, 0.4 + 0.3 * len(wilcoxon)))
    fig.text(0.02, 0.5, "\n".join(
        f"Primary {r.primary_mean:.3f} vs {r.roi} {r.roi_mean:.3f}: W = {r.W:g}, p = {r.p_value:.3g} (n = {r.n_models})"
        for r in wilcoxon.itertuples()), fontsize=9, va="center")  # fmt: skip
    _save(fig, path.with_name(path.stem + "_tests.png"))
    return written


# ---------------------------------------------------------------------- one benchmark
def _best_network(entries: Sequence[Scored], table: pd.DataFrame) -> Scored | None:
    labels = _network_labels(table)
    if not labels:
        return None
    group = _groups(entries)[labels[0]]  # the table is sorted by value
    return min(group, key=lambda e: e.source.seed)


def write_benchmark(entries: Sequence[Scored], bench: Benchmark, d: Path, n_resamples: int) -> tuple[
        list[Path], list[tuple[str, ComparisonResult]], list[str], dict[str, pd.DataFrame]]:  # fmt: skip
    """Every figure and table of one benchmark into ``d``; returns (files, comparisons, summary
    lines, tables)."""
    d.mkdir(parents=True, exist_ok=True)
    name = bench.name
    files: list[Path] = []
    lines = [
        f"## {name}" + (" (SYNTHETIC: generated responses, not brain data)" if name.startswith("synthetic") else "")
    ]
    tables: dict[str, pd.DataFrame] = {}
    table, _ = model_table(entries)
    tables[f"{name}/models"] = table

    def csv(frame: pd.DataFrame, stem: str) -> None:
        with atomic_file(d / f"{stem}.csv", "w") as f:
            frame.to_csv(f, index=False)
        files.append(d / f"{stem}.csv")
        tables[f"{name}/{stem}"] = frame

    csv(table, "fig2_best_layer")
    files.append(best_layer_figure(table, name, d / "fig2_best_layer.png"))
    lines.append("")
    lines.append("| model | seeds | best-layer score | SEM | RSA |")
    lines.append("|---|---|---|---|---|")
    for r in table.itertuples():
        lines.append(f"| {r.label} | {r.n_seeds} | {r.value:.4f} | {r.sem:.4f} | {r.rsa:.4f} |")
    components = bench.kind == "components"
    comps = comparisons(entries, table, n_resamples)
    curves, best = report.roi_tables(entries)
    if not components:
        csv(curves, "fig4_layer_curves")
        files.append(report.layer_curves_figure(curves, name, d / "fig4_layer_curves.png"))
        rois = roi_value_table(entries)
        csv(rois, "roi_values")
        csv(best, "fig7_best_relative_layer")
        _, wilcoxon, note = roi_wilcoxon(entries, table)
        if not wilcoxon.empty:
            csv(wilcoxon, "fig7_wilcoxon")
        files.append(relative_layer_figure(best, wilcoxon, name, d / "fig7_best_relative_layer.png"))
        lines += ["", "Per ROI (value, SEM over participants):", "", "| model | " + " | ".join(ROIS) + " |",
                  "|---|" + "---|" * len(ROIS)]  # fmt: skip
        for label in table["label"]:
            cells = []
            for roi in ROIS:
                row = rois[(rois["label"] == label) & (rois["roi"] == roi)]
                cells.append(f"{row['value'].iloc[0]:.4f} +- {row['sem_units'].iloc[0]:.4f}" if len(row) else "")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        margins = roi_margins(comps, table)
        if not margins.empty:
            csv(margins, "roi_margins")
            lines += ["", "Margins per ROI (network minus reference, in SEMs of the per-participant differences; "
                      "p: subject bootstrap):", "", "| network | versus | " + " | ".join(ROIS) + " |",
                      "|---|---|" + "---|" * len(ROIS)]  # fmt: skip
            for (label, other), rows in margins.groupby(["label", "versus"], sort=False):
                by_roi = rows.set_index("roi")
                cells = [f"{by_roi.at[r, 'difference']:+.4f} ({by_roi.at[r, 'margin_in_sem']:.1f} SEM, "
                         f"p = {by_roi.at[r, 'p_value']:.3g})" if r in by_roi.index else "" for r in ROIS]  # fmt: skip
                lines.append(f"| {label} | {other} | " + " | ".join(cells) + " |")
        recognition = word_recognition_table(entries)
        if not recognition.empty:
            csv(recognition, "word_recognition")
            lines += ["", "Word recognition of the benchmark's spoken-word sounds (the word channels' positive control "
                      "needs the networks to name them; top-1 over the network's vocabulary, and among the spoken "
                      "words only):", "", "| network | seed | top-1 | chance | among spoken | chance |",
                      "|---|---|---|---|---|---|"]  # fmt: skip
            for r in recognition.itertuples():
                lines.append(f"| {r.label} | {r.seed} | {r.top1:.3f} | {r.top1_chance:.3f} | {r.among_spoken:.3f} | "
                             f"{r.among_spoken_chance:.3f} |")  # fmt: skip
        recovery = channel_recovery_table(entries)
        if not recovery.empty:
            csv(recovery, "channel_recovery")
            files.append(analysis_figures.channel_recovery_figure(recovery, d / "channel_recovery.png", benchmark=name))
            groups = list(dict.fromkeys(recovery["group"]))
            words = list(dict.fromkeys(recovery.loc[recovery["group"] == "word", "channel"]))
            lines += ["", "Ground-truth channels recovered by each model's best layer for them (cross-validated R2, "
                      "median over splits, mean over channels of a group and over seeds; what a voxel score's mixture "
                      "is made of):", "", "| model | " + " | ".join(groups + words) + " |",
                      "|---|" + "---|" * (len(groups) + len(words))]  # fmt: skip
            by_group = recovery.groupby(["label", "group"])["r2"].mean()
            by_channel = recovery.groupby(["label", "channel"])["r2"].mean()
            for label in dict.fromkeys(recovery["label"]):
                cells = [f"{by_group[(label, g)]:.3f}" for g in groups] + [f"{by_channel[(label, w)]:.3f}" for w in words]
                lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines += ["", "Best relative layer per ROI (the authors' method; 0 = first scored layer, 1 = last):", ""]
        for label, rows in best[best["roi"].isin(ROIS)].groupby("label", sort=False):
            lines.append(f"- {label}: " + ", ".join(
                f"{r.roi} {r.best_relative_layer:.3f}" for r in rows.itertuples()))  # fmt: skip
        if not wilcoxon.empty:
            for r in wilcoxon.itertuples():
                lines.append(f"- Wilcoxon across {r.n_models} networks, Primary {r.primary_mean:.3f} vs {r.roi} "
                             f"{r.roi_mean:.3f}: W = {r.W:g}, p = {r.p_value:.3g}")  # fmt: skip
        else:
            lines.append(f"- Figure 7 test: {note}")
    else:
        files.append(components_figure(entries, name, d / "fig5_components.png"))
        best_net = _best_network(entries, table)
        if best_net is not None and best_net.component_predictions is not None and bench.categories:
            measured = bench.responses.mean(axis=2) if bench.responses.ndim == 3 else bench.responses
            files.append(analysis_figures.component_scatter(
                best_net.component_predictions, measured, bench.categories, d / "fig5_component_predictions.png",
                benchmark=name, model=best_net.label, components=list(bench.targets["target"]),
                layer=best_net.best_layer))  # fmt: skip
    for by, stem in (("noise", "fig8_clean_vs_noisy"), ("task", "fig9_tasks")):
        fig = report.paired_figure(table, by, name, d / f"{stem}.png")
        if fig is not None:
            files.append(fig)
        else:
            lines.append(f"- {stem}: the set has no pair of models differing only in {by}")
    # Statistics
    intro = ("Comparisons (p: subject bootstrap, fraction of resampled means of model 2 above model 1; "
             "components: permutation test over CV iterations; d_z: Cohen's d of the paired differences):")  # fmt: skip
    lines += ["", intro, ""]
    for comp in comps:
        label, c = comp.name, comp.result
        extra = f", Wilcoxon p = {c.wilcoxon_p_value:.3g}" if np.isfinite(c.wilcoxon_p_value) else ""
        lines.append(f"- {label}: {c.mean_1:.4f} vs {c.mean_2:.4f} (difference {c.mean_difference:+.4f} = "
                     f"{c.margin_in_sem:.1f} x its SEM {c.sem_difference:.4f}), "
                     f"{c.method} p = {c.p_value:.4g}, {c.effect_size_kind} = {c.effect_size:.2f}{extra}")  # fmt: skip
    # Analyses
    lines += ["", "Analyses:", ""]
    ed_rows = [{"model": f"{e.label} seed{e.source.seed}", "layer": r.layer, "ed": e.ed[r.layer], "value": r.value}
               for e in entries if e.ed for r in e.score.per_layer.itertuples() if r.layer in e.ed]  # fmt: skip
    if ed_rows:
        ed = pd.DataFrame(ed_rows)
        csv(ed, "ed_vs_predictivity")
        try:
            stats = analyses.ed_vs_predictivity(ed)
            files.append(analysis_figures.ed_scatter(ed, d / "ed_vs_predictivity.png", benchmark=name))
            b, p = stats["best_layer"], stats["pooled"]
            lines.append(f"- Effective dimensionality vs predictivity: best layers rho = {b['spearman_rho']:.3f} "
                         f"(p = {b['spearman_p']:.3g}, n = {b['n']}); all layers rho = {p['spearman_rho']:.3f} "
                         f"(p = {p['spearman_p']:.3g}, n = {p['n']})")  # fmt: skip
        except ValueError as exc:
            lines.append(f"- Effective dimensionality vs predictivity: not computed ({exc})")
    if not components:
        values = table.set_index("label")["value"]
        rsa = table.set_index("label")["rsa"].dropna()
        try:
            stats = analyses.consistency(values[rsa.index], rsa)
            files.append(analysis_figures.consistency_scatter(
                values[rsa.index], rsa, d / "regression_vs_rsa.png", benchmark=name,
                x_label="regression (best-layer score)", y_label="RSA (best layer)", what="Regression vs RSA"))  # fmt: skip
            lines.append(f"- Regression vs RSA across models: r = {stats['pearson_r']:.3f} (p = {stats['pearson_p']:.3g}), "
                         f"rho = {stats['spearman_rho']:.3f}, n = {stats['n']}")  # fmt: skip
        except ValueError as exc:
            lines.append(f"- Regression vs RSA: not computed ({exc})")
        for label, g in _groups(entries).items():
            seeds = sorted(g, key=lambda e: e.source.seed)
            if len(seeds) < 2:
                continue
            pairs, stats = analyses.seed_consistency(seeds[0].score, seeds[1].score)
            slug = re.sub(r"\W+", "_", label).strip("_")
            files.append(analysis_figures.seed_scatter(pairs, stats, d / f"seeds_{slug}.png", benchmark=name))
            lines.append(f"- Seed {seeds[0].source.seed} vs seed {seeds[1].source.seed}, {label}, per voxel: "
                         f"r = {stats['pearson_r']:.3f} (n = {stats['n']})")  # fmt: skip
        best_net = _best_network(entries, table)
        if best_net is not None:
            try:
                vmap = analyses.voxel_best_layer_map(best_net.score, bench.targets)
                files.append(analyses.write_surface_csv(vmap, d / "voxel_best_layer_map.csv"))
                files.append(analysis_figures.voxel_map_figure(vmap, d / "voxel_best_layer_map.png", benchmark=name,
                                                               model=best_net.label))  # fmt: skip
                lines.append(f"- Per-voxel best-layer map of {best_net.label} (seed {best_net.source.seed}): "
                             "voxel_best_layer_map.png / .csv")  # fmt: skip
            except ValueError as exc:
                lines.append(f"- Per-voxel best-layer map: not drawn ({exc})")
    diag = pd.concat([layer_diagnostics(e.score).assign(model=e.label, seed=e.source.seed) for e in entries],
                     ignore_index=True)  # fmt: skip
    csv(diag, "diagnostics")
    return files, [(c.name, c.result) for c in comps], lines, tables


# ---------------------------------------------------------------------- everything
def _load_benchmarks(names: Sequence[str], fmri_root: str | None, progress: bool, extra: dict) -> list[Benchmark]:
    """The benchmarks by name; ``extra`` options go to every loader that takes them."""
    unused = set(extra)
    out = []
    for name in names:
        entry = benchmark_entry(name)
        options = {"progress": progress, **extra}
        unused -= set(entry.options)
        if entry.brain_data and fmri_root:
            options["root"] = fmri_root
        out.append(load_benchmark(entry.name, **{k: v for k, v in options.items() if k in entry.options}))
    if unused:
        raise ValueError(f"benchmark option(s) {sorted(unused)} are taken by none of the benchmarks {list(names)}")
    return out


def write_paper(
    inputs: Sequence[str | Path],
    out: str | Path,
    *,
    benchmarks: Sequence[str] = DEFAULT_BENCHMARKS,
    fmri_root: str | None = None,
    benchmark_options: dict | None = None,
    controls: bool = True,
    baseline: bool = True,
    cache_dir: str | Path | None = None,
    published: str | Path | None = None,
    published_as: dict[str, str] | None = None,
    n_resamples: int = 10_000,
    device: str = "cpu",
    batch_size: int = 16,
    progress: bool = True,
) -> PaperOutput:
    """Score, analyse and plot (see the module docstring); returns what was written."""
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sources, problems = find_sources(inputs, baseline=baseline)
    if not any(s.kind != "baseline" for s in sources):
        raise FileNotFoundError(
            "nothing to score under " + ", ".join(map(str, inputs)) + (": " + "; ".join(problems) if problems else "")
        )
    benches = _load_benchmarks(benchmarks, fmri_root, progress, dict(benchmark_options or {}))
    scored, more = score_sources(sources, benches, cache_dir or out / "cache", controls=controls, device=device,
                                 batch_size=batch_size, activation_cache=Path(cache_dir or out / "cache") / "activations",
                                 progress=progress)  # fmt: skip
    problems += more
    result = PaperOutput(out=out, problems=problems)
    n_cached = sum(e.cached for e in scored)
    head = (f"{len({(e.label, e.source.seed) for e in scored})} model runs, {len(scored)} scores "
            f"({n_cached} from the cache), benchmarks: {', '.join(b.name for b in benches)}.")  # fmt: skip
    lines = ["# The paper's analyses", "", head]
    if any(b.name.startswith("synthetic") for b in benches):
        lines.append("The synthetic benchmarks are generated by our encoding model: NOT brain data.")
    for bench in benches:
        entries = [e for e in scored if e.benchmark == bench.name]
        if not entries:
            problems.append(f"{bench.name}: no scores")
            continue
        files, comps, blines, tables = write_benchmark(entries, bench, out / bench.name, n_resamples)
        result.files[bench.name] = files
        result.comparisons += comps
        result.tables.update(tables)
        lines += ["", *blines]
    voxel_benches = [b.name for b in benches if b.kind == "voxels" and any(e.benchmark == b.name for e in scored)]
    for i, a in enumerate(voxel_benches):
        for b in voxel_benches[i + 1 :]:
            ta = result.tables[f"{a}/models"].set_index("label")["value"]
            tb = result.tables[f"{b}/models"].set_index("label")["value"]
            try:
                stats = analyses.consistency(ta, tb)
                path = analysis_figures.consistency_scatter(ta, tb, out / f"consistency_{a}_vs_{b}.png",
                                                            benchmark=(a, b), x_label=a, y_label=b,
                                                            what="Benchmark consistency")  # fmt: skip
                result.files.setdefault("consistency", []).append(path)
                lines.append(
                    f"- {a} vs {b} across models: r = {stats['pearson_r']:.3f}, rho = {stats['spearman_rho']:.3f}, n = {stats['n']}"
                )
            except ValueError as exc:
                lines.append(f"- {a} vs {b}: not computed ({exc})")
    if published:
        lines += ["", "## The authors' published results", ""]
        lines += _published_section(scored, Path(published), published_as or {}, out, result)
    if result.comparisons:
        comparisons_to_csv(result.comparisons, out / "comparisons.csv")
    if problems:
        lines += ["", "## Problems (left out, the rest reported)", ""] + [f"- {p}" for p in problems]
    lines += ["", f"Wall time: {time.perf_counter() - t0:.1f} s ({n_cached} of {len(scored)} scores from the cache)."]
    result.summary = "\n".join(lines) + "\n"
    with atomic_file(out / SUMMARY_FILE, "w") as f:
        f.write(result.summary)
    for p in problems:
        log.warning("%s", p)
    return result


def _published_section(scored: Sequence[Scored], root: Path, published_as: dict[str, str], out: Path,
                       result: PaperOutput) -> list[str]:  # fmt: skip
    lines = []
    rows = []
    for e in scored:
        if e.is_baseline or e.score.kind != "voxels" or e.score.benchmark.startswith("synthetic"):
            continue
        name = published_as.get(e.label) or published_name(e.source)
        if not name:
            continue
        try:
            table = published_agreement(e.score, root, name, randnetw=e.control == CONTROL)
        except (FileNotFoundError, ValueError) as exc:
            result.problems.append(f"--published {root}: {e.label} as {name}: {exc}")
            continue
        rows.append(table.assign(model=e.label, published_as=name, benchmark=e.benchmark))
        voxels = table[table["layer"] != "best_layer_cv"]
        lines.append(f"- {e.label} on {e.benchmark} as the authors' {name}: per-voxel r over layers "
                     f"{voxels['r'].min():.4f} .. {voxels['r'].max():.4f}, largest |difference| "
                     f"{voxels['max_abs_diff'].max():.3g}")  # fmt: skip
    if rows:
        table = pd.concat(rows, ignore_index=True)
        with atomic_file(out / "published_agreement.csv", "w") as f:
            table.to_csv(f, index=False)
        result.tables["published_agreement"] = table
    else:
        lines.append("- no scored model matched the published results (real-benchmark scores of released "
                     "checkpoints, or --published-as LABEL=MODEL)")  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m evaluate.paper", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("inputs", nargs="+", help="training runs, checkpoints, evaluation runs, or folders of them")
    parser.add_argument("--out", default="paper", help="output folder (default: ./paper)")
    parser.add_argument("--benchmarks", default=",".join(DEFAULT_BENCHMARKS), help="comma-separated benchmark names")
    parser.add_argument("--fmri-root", default=None, help="folder holding the authors' data/ (real benchmarks)")
    parser.add_argument(
        "--benchmark-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option for the benchmark loaders that take it (e.g. voxels_per_participant=60)",
    )
    parser.add_argument("--no-controls", action="store_true", help="do not score permuted controls")
    parser.add_argument("--no-baseline", action="store_true", help="do not score the SpectroTemporal baseline")
    parser.add_argument("--cache-dir", default=None, help="score cache (default: <out>/cache)")
    parser.add_argument("--published", default=None, help="folder holding the authors' results/ (results.tar)")
    parser.add_argument(
        "--published-as",
        action="append",
        default=[],
        metavar="LABEL=MODEL",
        help="compare our model LABEL with the authors' MODEL (e.g. 'CochCNN9 word noisy=Kell2018word')",
    )
    parser.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples / permutations")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--wandb", action="store_true", help="log tables and figures to one W&B run")
    parser.add_argument("--wandb-mode", default="offline", choices=("offline", "online", "disabled"))
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    mapping = {}
    for item in args.published_as:
        if "=" not in item:
            parser.error(f"--published-as {item!r}: expected LABEL=MODEL")
        label, model = item.rsplit("=", 1)
        mapping[label.strip()] = model.strip()
    options = {}
    for item in args.benchmark_option:
        if "=" not in item:
            parser.error(f"--benchmark-option {item!r}: expected KEY=VALUE")
        key, value = item.split("=", 1)
        try:
            options[key.strip()] = json.loads(value)
        except ValueError:
            options[key.strip()] = value
    try:
        result = write_paper(args.inputs, args.out, benchmark_options=options, benchmarks=[b for b in args.benchmarks.split(",") if b],
                             fmri_root=args.fmri_root, controls=not args.no_controls, baseline=not args.no_baseline,
                             cache_dir=args.cache_dir, published=args.published, published_as=mapping,
                             n_resamples=args.resamples, device=args.device, progress=not args.quiet)  # fmt: skip
    except (FileNotFoundError, BenchmarkError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    if args.wandb:
        figures = [p for files in result.files.values() for p in files if p.suffix == ".png"]
        run_dir = log_paper(result.out, result.tables, figures, result.summary, mode=args.wandb_mode,
                            name=f"paper-{result.out.name}")  # fmt: skip
        print(f"W&B run: {run_dir}")
    print(result.summary)
    print(f"Paper outputs: {result.out}")


if __name__ == "__main__":
    main()

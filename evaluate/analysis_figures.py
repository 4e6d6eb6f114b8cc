"""PNG figures of the paper's cross-model analyses (:mod:`evaluate.analyses`).

Each function draws one figure with matplotlib's Agg backend, writes it atomically as PNG,
closes it and returns the path. Titles name the benchmark; a benchmark whose name starts
with ``"synthetic"`` is labelled SYNTHETIC (not brain data).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evaluate.analyses import best_layer_rows, consistency, ed_vs_predictivity
from evaluate.figures import _save
from evaluate.release import CATEGORIES

# One colour per sound category (docs/reference.md section 5 order); tab20's darker half first.
_CATEGORY_PALETTE = [plt.get_cmap("tab20")(i) for i in (0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 1, 3, 5, 7, 9)]
HEMI_ORDER = ("lh", "rh")


def _where(benchmark: str | Sequence[str]) -> str:
    """The benchmark(s) for a title, each synthetic one labelled as such."""
    names = [benchmark] if isinstance(benchmark, str) else list(benchmark)
    return " vs ".join(f"{b} (SYNTHETIC, not brain data)" if str(b).startswith("synthetic") else str(b) for b in names)


def _stats_text(stats: dict) -> str:
    return (
        f"r = {stats['pearson_r']:.3f} (p = {stats['pearson_p']:.2g}), "
        f"rho = {stats['spearman_rho']:.3f} (p = {stats['spearman_p']:.2g}), n = {stats['n']}"
    )


def _identity_line(ax: plt.Axes, x: np.ndarray, y: np.ndarray) -> None:
    lo, hi = float(min(np.min(x), np.min(y))), float(max(np.max(x), np.max(y)))
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="#7f7f7f", linestyle="--", linewidth=1, label="y = x")


def consistency_scatter(
    a: pd.Series,
    b: pd.Series,
    path: str | os.PathLike,
    *,
    benchmark: str | Sequence[str],
    x_label: str,
    y_label: str,
    what: str = "consistency across models",
) -> Path:
    """One point per model (labelled) of ``a`` vs ``b`` (:func:`evaluate.analyses.consistency`
    aligns them), the identity line, r and rho in the title.

    ``benchmark``: the benchmark name, or the two names (NH2015 vs B2021) for the title.
    """
    stats = consistency(a, b)
    models = stats["models"]
    x, y = a.loc[models].to_numpy(dtype=float), b.loc[models].to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(6, 5.5))
    ax.scatter(x, y, color="#1f77b4", zorder=3)
    for label, xi, yi in zip(models, x, y):
        ax.annotate(label, (xi, yi), textcoords="offset points", xytext=(3, 3), fontsize=7)
    _identity_line(ax, x, y)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title(f"{_where(benchmark)}: {what}\n{_stats_text(stats)}", fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return _save(fig, Path(path))


def ed_scatter(table: pd.DataFrame, path: str | os.PathLike, *, benchmark: str, value_label: str = "score") -> Path:
    """Effective dimensionality vs predictivity: every model x layer (small grey points, pooled
    correlation) and each model's best layer (labelled points, best-layer correlation).

    ``table``: ``model, layer, ed, value`` as :func:`evaluate.analyses.ed_vs_predictivity`.
    """
    stats = ed_vs_predictivity(table)
    best = best_layer_rows(table)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    ax.scatter(table["ed"], table["value"], s=12, color="#bbbbbb", label="every layer", zorder=2)
    ax.scatter(best["ed"], best["value"], s=40, color="#d62728", label="best layer of each model", zorder=3)
    for row in best.itertuples():
        ax.annotate(str(row.model), (row.ed, row.value), textcoords="offset points", xytext=(3, 3), fontsize=7)
    ax.set_xlabel("effective dimensionality")
    ax.set_ylabel(value_label)
    ax.set_title(
        f"{_where(benchmark)}: effective dimensionality vs prediction\n"
        f"best layers: {_stats_text(stats['best_layer'])}\nall layers: {_stats_text(stats['pooled'])}",
        fontsize=9,
    )
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return _save(fig, Path(path))


def seed_scatter(
    pairs: pd.DataFrame,
    stats: dict,
    path: str | os.PathLike,
    *,
    benchmark: str,
    value_label: str = "best-layer score",
) -> Path:
    """Seed 1 vs seed 2 (``pairs`` and ``stats`` from :func:`evaluate.analyses.seed_consistency`),
    one point per voxel or participant, the identity line."""
    missing = [c for c in ("value_1", "value_2") if c not in pairs.columns]
    if missing:
        raise ValueError(f"pairs: missing columns {missing} (expected seed_consistency's table)")
    x, y = pairs["value_1"].to_numpy(dtype=float), pairs["value_2"].to_numpy(dtype=float)
    many = len(x) > 500  # voxels: small translucent points
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.scatter(x, y, s=2 if many else 20, alpha=0.3 if many else 0.9, color="#1f77b4", linewidths=0, zorder=3)
    _identity_line(ax, x, y)
    ax.set_xlabel(f"{stats.get('model_1', 'seed 1')}: {value_label}")
    ax.set_ylabel(f"{stats.get('model_2', 'seed 2')}: {value_label}")
    ax.set_title(f"{_where(benchmark)}: seed vs seed, per {stats.get('level', 'target')}\n{_stats_text(stats)}",
                 fontsize=9)  # fmt: skip
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(alpha=0.3)
    return _save(fig, Path(path))


def _category_colours(categories: Sequence[str]) -> dict[str, tuple]:
    names = [c for c in CATEGORIES if c in set(categories)] + sorted(set(categories) - set(CATEGORIES))
    if len(names) > len(_CATEGORY_PALETTE):
        raise ValueError(f"categories: at most {len(_CATEGORY_PALETTE)} distinct categories, got {len(names)}")
    return dict(zip(names, _CATEGORY_PALETTE))


def component_scatter(
    predicted: np.ndarray,
    measured: np.ndarray,
    categories: Sequence[str],
    path: str | os.PathLike,
    *,
    benchmark: str,
    model: str,
    components: Sequence[str] | None = None,
    layer: str = "",
) -> Path:
    """Predicted vs measured response of each component, one panel per component, points
    coloured by sound category (one legend), the identity line and r per panel.

    Args:
        predicted: ``[n_sounds, n_components]`` (:func:`evaluate.analyses.component_predictions`);
            NaN rows (sounds no split tests) are left out.
        measured: ``[n_sounds, n_components]``.
        categories: ``[n_sounds]`` the sounds' categories (``Benchmark.categories``).
        components: panel titles (default ``component 0`` ...).
    """
    p, m = np.asarray(predicted, dtype=float), np.asarray(measured, dtype=float)
    if p.ndim != 2 or p.shape != m.shape:
        raise ValueError(f"predicted, measured: expected the same [n_sounds, n_components] shape, "
                         f"got {list(p.shape)} and {list(m.shape)}")  # fmt: skip
    categories = [str(c) for c in categories]
    if len(categories) != len(p):
        raise ValueError(f"categories: {len(categories)} entries for {len(p)} sounds")
    names = [f"component {i}" for i in range(p.shape[1])] if components is None else [str(c) for c in components]
    if len(names) != p.shape[1]:
        raise ValueError(f"components: {len(names)} names for {p.shape[1]} components")
    colours = _category_colours(categories)
    cats = np.asarray(categories)
    ncols = min(3, p.shape[1])
    nrows = math.ceil(p.shape[1] / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols + 1.8, 3.4 * nrows), squeeze=False)
    for c, ax in enumerate(axes.ravel()):
        if c >= p.shape[1]:
            ax.axis("off")
            continue
        ok = np.isfinite(p[:, c]) & np.isfinite(m[:, c])
        for cat, colour in colours.items():
            sel = ok & (cats == cat)
            ax.scatter(m[sel, c], p[sel, c], s=14, color=colour, label=cat, zorder=3)
        _identity_line(ax, m[ok, c], p[ok, c])
        r = np.corrcoef(m[ok, c], p[ok, c])[0, 1] if ok.sum() > 2 else float("nan")
        ax.set_title(f"{names[c]} (r = {r:.2f})", fontsize=9)
        ax.set_xlabel("measured")
        ax.set_ylabel("predicted")
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=col, label=cat) for cat, col in colours.items()]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    where = f" ({layer})" if layer else ""
    fig.suptitle(f"{model}{where} on {_where(benchmark)}: component responses, cross-validated predictions")
    fig.tight_layout()
    return _save(fig, Path(path))


def voxel_map_figure(voxel_map: pd.DataFrame, path: str | os.PathLike, *, benchmark: str, model: str) -> Path:
    """The best relative layer of every voxel on the surface: one panel per participant x
    hemisphere (``x_ras`` vs ``y_ras``), one shared colour bar (0 = first layer, 1 = last).

    ``voxel_map``: :func:`evaluate.analyses.voxel_best_layer_map`.
    """
    missing = [c for c in ("participant", "hemi", "x_ras", "y_ras", "best_relative_layer") if c not in voxel_map]
    if missing:
        raise ValueError(f"voxel_map: missing columns {missing} (expected voxel_best_layer_map's table)")
    if voxel_map.empty:
        raise ValueError("voxel_map: no voxels")
    hemis = [h for h in HEMI_ORDER if h in set(voxel_map["hemi"])] + sorted(set(voxel_map["hemi"]) - set(HEMI_ORDER))
    panels = [(p, h) for p in sorted(voxel_map["participant"].unique()) for h in hemis]
    ncols = min(len(panels), 2 * len(hemis) if len(panels) > len(hemis) else len(hemis))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols + 1.2, 2.8 * nrows), squeeze=False,
                             layout="constrained")  # fmt: skip
    image = None
    for (participant, hemi), ax in zip(panels, axes.ravel()):
        rows = voxel_map[(voxel_map["participant"] == participant) & (voxel_map["hemi"] == hemi)]
        image = ax.scatter(rows["x_ras"], rows["y_ras"], c=rows["best_relative_layer"], cmap="viridis",
                           vmin=0.0, vmax=1.0, s=6, marker="s", linewidths=0)  # fmt: skip
        ax.set_title(f"participant {participant}, {hemi} ({len(rows)} voxels)", fontsize=8)
        ax.set_aspect("equal", adjustable="datalim")
        ax.tick_params(labelsize=6)
    for ax in axes.ravel()[len(panels) :]:
        ax.axis("off")
    fig.colorbar(image, ax=axes.ravel().tolist(), label="best relative layer (0 = first, 1 = last)", shrink=0.8)
    fig.suptitle(f"{model} on {_where(benchmark)}: best layer per voxel (x_ras vs y_ras)")
    return _save(fig, Path(path))


def channel_recovery_figure(table: pd.DataFrame, path: str | os.PathLike, *, benchmark: str) -> Path:
    """Grouped bars: per ground-truth channel (x, in the table's order), each model's
    cross-validated R2 at its best layer for that channel, mean over seeds.

    ``table``: ``label, channel, group, r2`` (one row per model run and channel, as
    :func:`evaluate.paper.channel_recovery_table`).
    """
    missing = {"label", "channel", "group", "r2"} - set(table.columns)
    if missing:
        raise ValueError(f"table: missing columns {sorted(missing)}")
    channels = list(dict.fromkeys(table["channel"]))
    labels = list(dict.fromkeys(table["label"]))
    means = table.groupby(["label", "channel"])["r2"].mean()
    width = 0.8 / max(len(labels), 1)
    fig, ax = plt.subplots(figsize=(max(8.0, 0.55 * len(channels) + 2), 4.5))
    x = np.arange(len(channels))
    for i, label in enumerate(labels):
        values = [means.get((label, c), np.nan) for c in channels]
        ax.bar(x + (i - (len(labels) - 1) / 2) * width, values, width, label=label)
    groups = table.drop_duplicates("channel").set_index("channel")["group"]
    for i in range(1, len(channels)):
        if groups[channels[i]] != groups[channels[i - 1]]:
            ax.axvline(i - 0.5, color="#7f7f7f", linewidth=0.8)
    ax.set_xticks(x, channels, rotation=60, ha="right", fontsize=8)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_ylim(min(-0.1, float(np.nanmin(table["r2"])) - 0.02), 1.0)
    ax.set_ylabel("cross-validated R2 at the best layer")
    ax.set_title(f"{_where(benchmark)}: ground-truth channels recovered by a linear readout", fontsize=9)
    ax.legend(fontsize=7, frameon=False, ncol=2)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, Path(path))


__all__ = [
    "channel_recovery_figure",
    "component_scatter",
    "consistency_scatter",
    "ed_scatter",
    "seed_scatter",
    "voxel_map_figure",
]

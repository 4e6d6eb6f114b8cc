"""PNG figures of a :class:`evaluate.Score`: layer-wise curves per ROI, best-layer bars, RSA."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from data.cache import atomic_file
from evaluate.results import Score

ROI_COLOURS = {
    "all": "#333333",
    "Primary": "#d62728",
    "Anterior": "#1f77b4",
    "Lateral": "#2ca02c",
    "Posterior": "#9467bd",
}


def close_figure(fig: plt.Figure) -> None:
    """Free a figure made here (after a logger has taken its image)."""
    plt.close(fig)


def _save(fig: plt.Figure, path: Path) -> Path:
    """Write ``fig`` to ``path`` as PNG, atomically, and close it."""
    try:
        with atomic_file(path, "wb") as f:
            fig.savefig(f, format="png", dpi=120, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def _title(result: Score, what: str) -> str:
    where = f"{result.benchmark} (SYNTHETIC, not brain data)" if result.is_synthetic else result.benchmark
    return f"{result.model} on {where}: {what}"


def layer_curves(result: Score, path: Path) -> Path:
    """Median score per layer (mean over participants +- within-participant SEM), one line per ROI;
    for component benchmarks one line per component."""
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(result.layers) + 2), 4))
    x = np.arange(len(result.layers))
    if result.kind == "components":
        for target, rows in result.per_voxel.groupby("component", sort=False):
            rows = rows.set_index("layer").reindex(result.layers)
            ax.plot(x, rows["r2"].to_numpy(), marker="o", label=str(target))
        ax.set_ylabel("median r$^2$ over splits")
    else:
        for roi, rows in result.per_roi_layer.groupby("roi", sort=False):
            rows = rows.set_index("layer").reindex(result.layers)
            colour = ROI_COLOURS.get(roi)
            ax.errorbar(x, rows["value"], yerr=rows["sem"], marker="o", capsize=2, label=str(roi), color=colour,
                        linewidth=2.5 if roi == "all" else 1.5)  # fmt: skip
        ax.set_ylabel("median noise-corrected r$^2$" if result.info.get("noise_corrected") else "median r$^2$")
    ax.set_xticks(x, result.layers, rotation=45, ha="right")
    ax.set_xlabel("layer")
    ax.set_title(_title(result, "layer-wise prediction"))
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def best_layer_bars(result: Score, path: Path) -> Path:
    """Cross-validated best-layer score per ROI (+- SEM) and the best relative layer per ROI."""
    table = result.per_roi
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    colours = [ROI_COLOURS.get(r, "#7f7f7f") for r in table["roi"]]
    labels = [str(r) if r else "all" for r in table["roi"]]
    left.bar(labels, table["value"], yerr=table["sem"], color=colours, capsize=4)
    left.set_ylabel("noise-corrected r$^2$" if result.info.get("noise_corrected") else "r$^2$")
    left.set_title("best layer (cross-validated)")
    right.bar(labels, table["best_relative_layer"], yerr=table["best_relative_layer_sem"], color=colours, capsize=4)
    right.set_ylim(0, 1)
    right.set_ylabel("best relative layer (0 = first, 1 = last)")
    right.set_title("where the best layer sits")
    for ax in (left, right):
        ax.tick_params(axis="x", rotation=30)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(_title(result, f"{result.value:.3f} +- {result.sem:.3f}"))
    return _save(fig, path)


def rsa_curve(result: Score, path: Path) -> Path | None:
    """Test-sound RSA per layer (+- SEM over participants) with the noise ceiling."""
    if not result.rsa or result.rsa_per_layer.empty:
        return None
    table = result.rsa_per_layer
    x = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(table) + 2), 4))
    ax.errorbar(x, table["value"], yerr=table["sem"], marker="o", capsize=2, color="#333333", label="model")
    ceiling = result.rsa.get("ceiling")
    if ceiling is not None and np.isfinite(ceiling):
        ax.axhline(ceiling, color="#7f7f7f", linestyle="--", label=f"noise ceiling {ceiling:.3f}")
    ax.axhline(
        result.rsa["value"],
        color="#d62728",
        linestyle=":",
        label=f"best layer (train-chosen) {result.rsa['value']:.3f}",
    )
    ax.set_xticks(x, table["layer"], rotation=45, ha="right")
    ax.set_ylabel("Spearman (model RSM vs participant RSM)")
    ax.set_title(_title(result, "representational similarity"))
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def layer_roi_figure(result: Score) -> plt.Figure:
    """Heat map of the median score per layer (columns) and ROI (rows); returns the figure."""
    table = result.per_roi_layer.pivot(index="roi", columns="layer", values="value")
    rows = [r for r in ROI_COLOURS if r in table.index] + [r for r in table.index if r not in ROI_COLOURS]
    table = table.reindex(index=rows, columns=result.layers)
    fig, ax = plt.subplots(figsize=(max(5, 0.7 * len(result.layers) + 2), 0.5 * len(rows) + 1.5))
    image = ax.imshow(table.to_numpy(), aspect="auto", cmap="viridis")
    ax.set_xticks(np.arange(len(result.layers)), result.layers, rotation=45, ha="right")
    ax.set_yticks(np.arange(len(rows)), [r or "all" for r in rows])
    for (i, j), v in np.ndenumerate(table.to_numpy()):
        if np.isfinite(v):
            ax.text(
                j,
                i,
                f"{v:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if v < np.nanmax(table.to_numpy()) * 0.6 else "black",
            )
    fig.colorbar(image, ax=ax, label="median score")
    ax.set_title(_title(result, "layer x ROI"))
    return fig


def write_figures(result: Score, directory: str | os.PathLike) -> list[Path]:
    """All figures for ``result`` into ``directory``; returns the written paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = [
        layer_curves(result, directory / "layer_curves.png"),
        best_layer_bars(result, directory / "best_layer.png"),
        _save(layer_roi_figure(result), directory / "layer_x_roi.png"),
    ]
    rsa = rsa_curve(result, directory / "rsa.png")
    if rsa is not None:
        paths.append(rsa)
    return paths

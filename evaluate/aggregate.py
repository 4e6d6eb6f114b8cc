"""From per-target scores to the tables of a :class:`evaluate.Score` (docs/reference.md section 6).

Voxel benchmarks: per participant the median over its voxels, then mean and SEM over
participants (layer curves with the reference's within-participant SEM). Component
benchmarks: each component is its own unit. The same within every ROI.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluate.benchmark import ROIS, Benchmark
from evaluate.bestlayer import BestLayerCV
from evaluate.ceiling import NoiseCeiling
from evaluate.fits import SplitFits
from evaluate.stats import nanmedian, sem, within_participant_sem


@dataclass(frozen=True, eq=False)  # numpy fields: compare arrays, not records
class GroupStats:
    """Statistics over the targets of one group: every target (``"all"``) or one ROI.

    Attributes:
        name: ``"all"`` or the ROI label.
        units: ``[units]`` the group's participants (voxels; sorted) or component ids.
        unit_value: ``[units]`` mean over iterations of the cross-validated best-layer value
            (voxels: of its median over the participant's voxels).
        unit_relative_layer: ``[units]`` the same of the relative best layer.
        layer_value: ``[layers]`` mean over units of the layer's median over splits (clipped
            at 1 when noise-corrected; voxels: median over the participant's voxels first).
        layer_sem: ``[layers]`` within-participant SEM (voxels) or SEM over components.
        value, sem: mean and SEM over units of ``unit_value`` (SEM ignores non-finite values).
        relative_layer, relative_layer_sem: the same of ``unit_relative_layer``.
        n_targets: targets in the group.
    """

    name: str
    units: np.ndarray
    unit_value: np.ndarray
    unit_relative_layer: np.ndarray
    layer_value: np.ndarray
    layer_sem: np.ndarray
    value: float
    sem: float
    relative_layer: float
    relative_layer_sem: float
    n_targets: int


@dataclass(frozen=True, eq=False)
class Aggregates:
    """Every group's statistics, and the Score tables made from them.

    Attributes:
        layers: scored layers in model order.
        unit_name: ``"participant"`` (voxels) or ``"component"``.
        groups: ``"all"`` first, then the reference ROIs present, then other labels sorted
            (targets labelled ``""`` count only in ``"all"``).
    """

    layers: tuple[str, ...]
    unit_name: str
    groups: tuple[GroupStats, ...]

    @property
    def everything(self) -> GroupStats:
        """The ``"all"`` group: the headline."""
        return self.groups[0]

    def per_participant(self) -> pd.DataFrame:
        """unit_name, value, best_relative_layer: one row per unit of ``"all"``."""
        g = self.everything
        return pd.DataFrame(
            {self.unit_name: g.units, "value": g.unit_value, "best_relative_layer": g.unit_relative_layer}
        )

    def per_roi(self) -> pd.DataFrame:
        """roi, value, sem, best_relative_layer, best_relative_layer_sem, n_targets: one row per group."""
        return pd.DataFrame(
            [
                {"roi": g.name, "value": g.value, "sem": g.sem, "best_relative_layer": g.relative_layer,
                 "best_relative_layer_sem": g.relative_layer_sem, "n_targets": g.n_targets}
                for g in self.groups
            ]
        )  # fmt: skip

    def per_roi_layer(self) -> pd.DataFrame:
        """roi, layer, value, sem: one row per group x layer."""
        return pd.DataFrame(
            [
                {"roi": g.name, "layer": layer, "value": float(v), "sem": float(e)}
                for g in self.groups
                for layer, v, e in zip(self.layers, g.layer_value, g.layer_sem)
            ]
        )

    def per_layer(self) -> pd.DataFrame:
        """layer, value, sem of ``"all"``."""
        table = self.per_roi_layer()
        return table[table["roi"] == "all"].drop(columns="roi").reset_index(drop=True)


def _group(
    name: str, mask: np.ndarray, benchmark: Benchmark, layers: list[str], layer_values: np.ndarray, best: BestLayerCV
) -> GroupStats:
    """Statistics over the targets in ``mask`` ``[targets]`` (see :class:`GroupStats`)."""
    participant = benchmark.participant
    if benchmark.kind == "components":
        units = np.flatnonzero(mask)  # each component is its own unit
        unit_value = best.value[:, units].mean(axis=0)
        unit_rel = best.relative[:, units].mean(axis=0)
        table = pd.DataFrame(layer_values[:, units].T, columns=layers)
        unit_ids = benchmark.targets["target"].to_numpy()[units]
        layer_sem = sem(table.to_numpy(), axis=0)
    else:
        frame = pd.DataFrame({"participant": participant[mask]})
        unit_ids = np.unique(participant[mask])
        vals, rels = [], []
        for it in range(best.value.shape[0]):
            frame["v"], frame["rel"] = best.value[it, mask], best.relative[it, mask]
            grouped = frame.groupby("participant")[["v", "rel"]].median()
            vals.append(grouped["v"].reindex(unit_ids).to_numpy())
            rels.append(grouped["rel"].reindex(unit_ids).to_numpy())
        unit_value, unit_rel = np.mean(vals, axis=0), np.mean(rels, axis=0)
        table = (
            pd.DataFrame(layer_values[:, mask].T, columns=layers).assign(participant=participant[mask])
            .groupby("participant")[layers].median().reindex(unit_ids)
        )  # fmt: skip
        layer_sem = within_participant_sem(table)
    return GroupStats(
        name=name,
        units=unit_ids,
        unit_value=unit_value,
        unit_relative_layer=unit_rel,
        layer_value=table.mean(axis=0).to_numpy(),
        layer_sem=layer_sem,
        value=float(np.mean(unit_value)),
        sem=sem(unit_value[np.isfinite(unit_value)]),
        relative_layer=float(np.mean(unit_rel)),
        relative_layer_sem=sem(unit_rel[np.isfinite(unit_rel)]),
        n_targets=int(mask.sum()),
    )


def aggregate(
    benchmark: Benchmark, layers: list[str] | tuple[str, ...], values: np.ndarray, best: BestLayerCV, clip: bool
) -> Aggregates:
    """Group statistics of ``values`` ``[layers, splits, targets]`` (the per-split scores the best
    layer was chosen from) and of ``best``, over every target and within each ROI.

    ``clip``: clip the layers' medians over splits at 1 (noise-corrected scores).
    """
    layers = list(layers)
    med_values = np.median(values, axis=1)  # [layers, targets], unclipped
    layer_values = np.minimum(med_values, 1.0) if clip else med_values
    roi = benchmark.targets["roi"].astype(str).to_numpy()
    names = [r for r in ROIS if (roi == r).any()] + sorted(set(roi) - set(ROIS) - {""})
    groups = [_group("all", np.ones(benchmark.n_targets, dtype=bool), benchmark, layers, layer_values, best)]
    groups += [_group(name, roi == name, benchmark, layers, layer_values, best) for name in names]
    unit_name = "participant" if benchmark.kind == "voxels" else "component"
    return Aggregates(layers=tuple(layers), unit_name=unit_name, groups=tuple(groups))


def per_voxel_table(benchmark: Benchmark, fits: SplitFits, ceiling: NoiseCeiling) -> pd.DataFrame:
    """One row per layer x target: layer, voxel (or component), participant, roi, and the medians
    over splits of r2_corrected (before clipping), r2, alpha and rv_hat (NaN columns without
    noise correction)."""
    targets, n_layers = benchmark.targets, len(fits.layers)
    corrected = ceiling.corrected
    return pd.DataFrame(
        {
            "layer": np.repeat(list(fits.layers), benchmark.n_targets),
            _target_column(benchmark): np.tile(targets["target"].to_numpy(), n_layers),
            "participant": np.tile(benchmark.participant, n_layers),
            "roi": np.tile(targets["roi"].astype(str).to_numpy(), n_layers),
            "r2_corrected": np.median(fits.corrected_r2(ceiling), axis=1).ravel() if corrected else np.nan,
            "r2": np.median(fits.r2, axis=1).ravel(),
            "alpha": np.median(fits.alpha, axis=1).ravel(),
            "rv_hat": nanmedian(np.moveaxis(fits.rv_hat, 1, 0)).ravel() if corrected else np.nan,
        }
    )


def ceiling_table(benchmark: Benchmark, ceiling: NoiseCeiling) -> pd.DataFrame:
    """One row per target: voxel (or component), participant, roi, rv (median over splits)."""
    targets = benchmark.targets
    return pd.DataFrame(
        {_target_column(benchmark): targets["target"].to_numpy(), "participant": benchmark.participant,
         "roi": targets["roi"].astype(str).to_numpy(), "rv": ceiling.per_target()}
    )  # fmt: skip


def _target_column(benchmark: Benchmark) -> str:
    return "voxel" if benchmark.kind == "voxels" else "component"


__all__ = ["Aggregates", "GroupStats", "aggregate", "ceiling_table", "per_voxel_table"]

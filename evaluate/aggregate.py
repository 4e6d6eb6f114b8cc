"""From per-target scores to the tables of a :class:`evaluate.Score` (docs/reference.md sections 6, 11).

Voxel benchmarks: per participant the median over its voxels, then mean and SEM over
participants (layer curves with the reference's within-participant SEM). Component
benchmarks: each component is its own unit. The same within every ROI.

The best relative layer per ROI (Figure 7) is, by default, the authors' (``"argmax"``): per
target the layer of the best median over splits (ties drawn as
:func:`evaluate.bestlayer.choose_layer`), its relative position, the median over each
participant's targets, the mean over participants, and across the four ROIs the
within-participant SEM. ``"cv"`` keeps the cross-validated variant: the relative position
of the cross-validated best layer, averaged over iterations, with the SEM over participants.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluate.benchmark import ROIS, Benchmark
from evaluate.bestlayer import BestLayerCV, argmax_layer, relative_position
from evaluate.ceiling import NoiseCeiling
from evaluate.fits import SplitFits
from evaluate.stats import nanmedian, sem, within_participant_sem

RELATIVE_LAYER_METHODS = ("argmax", "cv")  # the authors' Figure 7 method first: the default


@dataclass(frozen=True, eq=False)  # numpy fields: compare arrays, not records
class GroupStats:
    """Statistics over the targets of one group: every target (``"all"``) or one ROI.

    Attributes:
        name: ``"all"`` or the ROI label.
        units: ``[units]`` the group's participants (voxels; sorted) or component ids.
        unit_value: ``[units]`` mean over iterations of the cross-validated best-layer value
            (voxels: of its median over the participant's voxels).
        unit_relative_layer: ``[units]`` the best relative layer (see the module docstring).
        layer_value: ``[layers]`` mean over units of the layer's median over splits (clipped
            at 1 when noise-corrected; voxels: median over the participant's voxels first).
        layer_sem: ``[layers]`` within-participant SEM (voxels) or SEM over components.
        value, sem: mean and SEM over units of ``unit_value`` (SEM ignores non-finite values).
        relative_layer: mean over units of ``unit_relative_layer``.
        relative_layer_sem: its SEM over units; ``"argmax"`` method, voxel ROIs: the
            within-participant SEM across the ROIs.
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
    iteration_value: np.ndarray | None = None  # [iterations] mean over units per CV iteration


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

    def per_roi_participant(self) -> pd.DataFrame:
        """roi, unit_name, value, best_relative_layer: every group's units (what model
        comparisons within an ROI pair up)."""
        return pd.DataFrame(
            [
                {"roi": g.name, self.unit_name: u, "value": float(v), "best_relative_layer": float(r)}
                for g in self.groups
                for u, v, r in zip(g.units, g.unit_value, g.unit_relative_layer)
            ],
            columns=["roi", self.unit_name, "value", "best_relative_layer"],
        )

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
    name: str,
    mask: np.ndarray,
    benchmark: Benchmark,
    layers: list[str],
    layer_values: np.ndarray,
    best: BestLayerCV,
    target_relative: np.ndarray | None,
) -> GroupStats:
    """Statistics over the targets in ``mask`` ``[targets]`` (see :class:`GroupStats`);
    ``target_relative`` ``[targets]``: the argmax method's relative layer per target, or None
    for the cross-validated one."""
    participant = benchmark.participant
    if benchmark.kind == "components":
        units = np.flatnonzero(mask)  # each component is its own unit
        unit_value = best.value[:, units].mean(axis=0)
        unit_rel = best.relative[:, units].mean(axis=0) if target_relative is None else target_relative[units]
        iteration_value = best.value[:, units].mean(axis=1)
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
        iteration_value = np.array([np.mean(v) for v in vals])
        if target_relative is not None:
            frame["rel"] = target_relative[mask]
            unit_rel = frame.groupby("participant")["rel"].median().reindex(unit_ids).to_numpy()
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
        iteration_value=iteration_value,
    )


def aggregate(
    benchmark: Benchmark,
    layers: list[str] | tuple[str, ...],
    values: np.ndarray,
    best: BestLayerCV,
    clip: bool,
    relative_layer: str = "argmax",
) -> Aggregates:
    """Group statistics of ``values`` ``[layers, splits, targets]`` (the per-split scores the best
    layer was chosen from) and of ``best``, over every target and within each ROI.

    ``clip``: clip the layers' medians over splits at 1 (noise-corrected scores).
    ``relative_layer``: ``"argmax"`` (the authors' Figure 7 method) or ``"cv"`` (the
    cross-validated best layer's position); see the module docstring.
    """
    if relative_layer not in RELATIVE_LAYER_METHODS:
        raise ValueError(f"relative_layer must be one of {RELATIVE_LAYER_METHODS}, got {relative_layer!r}")
    layers = list(layers)
    med_values = np.median(values, axis=1)  # [layers, targets], unclipped
    layer_values = np.minimum(med_values, 1.0) if clip else med_values
    target_relative = (
        relative_position(argmax_layer(values, clip=clip), len(layers)) if relative_layer == "argmax" else None
    )
    roi = benchmark.targets["roi"].astype(str).to_numpy()
    names = [r for r in ROIS if (roi == r).any()] + sorted(set(roi) - set(ROIS) - {""})
    everything = np.ones(benchmark.n_targets, dtype=bool)
    groups = [_group("all", everything, benchmark, layers, layer_values, best, target_relative)]
    groups += [_group(name, roi == name, benchmark, layers, layer_values, best, target_relative) for name in names]
    if relative_layer == "argmax" and benchmark.kind == "voxels":
        groups = _roi_relative_sem(groups)
    unit_name = "participant" if benchmark.kind == "voxels" else "component"
    return Aggregates(layers=tuple(layers), unit_name=unit_name, groups=tuple(groups))


def _roi_relative_sem(groups: list[GroupStats]) -> list[GroupStats]:
    """The reference ROIs' best-relative-layer SEM as the authors' Figure 7: within participants
    across the ROIs (participants lacking one of them left out); the other groups keep theirs."""
    rois = [g for g in groups if g.name in ROIS]
    if len(rois) < 2:
        return groups
    table = pd.concat(
        [pd.Series(g.unit_relative_layer, index=g.units, name=g.name) for g in rois], axis=1
    ).dropna()  # fmt: skip
    within = dict(zip(table.columns, within_participant_sem(table)))
    return [dataclasses.replace(g, relative_layer_sem=float(within[g.name])) if g.name in within else g for g in groups]


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

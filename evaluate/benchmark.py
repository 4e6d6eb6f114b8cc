"""The one benchmark type: brain (or component) responses to a fixed stimulus set.

Release-layout loaders (NH2015, B2021, NH2015comp), the synthetic benchmark and users'
own arrays all produce a :class:`Benchmark`; the scoring engine only ever sees this type.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

ROIS = ("Primary", "Anterior", "Lateral", "Posterior")


class BenchmarkError(ValueError):
    """A benchmark's arrays or files are not what the scoring engine needs."""


@dataclass
class Benchmark:
    """Responses of ``n_targets`` voxels (or components) to ``n_stimuli`` sounds.

    Attributes:
        name: identifier used in results and reports (e.g. ``"nh2015"``).
        responses: ``[n_stimuli, n_targets, n_reps]`` float64. With ``n_reps >= 2`` scores
            are noise-corrected from the repetitions; with one repetition (components)
            they are not.
        targets: one row per target, in column order of ``responses``: ``target`` (id),
            ``participant``, ``roi`` (one of :data:`ROIS` or ``""``), plus any metadata
            columns (hemisphere, coordinates, functional masks ...).
        stimulus_ids: ``[n_stimuli]`` names, the order activations must follow.
        waveforms: optional ``[n_stimuli, 40000]`` float32 at 20 kHz (first 2 s, demeaned,
            RMS 0.1), needed to extract a network's activations.
        categories: optional ``[n_stimuli]`` stimulus categories.
        kind: ``"voxels"`` (noise-corrected, per-participant statistics) or
            ``"components"`` (plain r2 per component).
        excluded: targets dropped at construction (NaN or constant responses), with reasons.
        ground_truth: ``[n_stimuli, n_channels]`` the noise-free features the responses were
            generated from, one column per channel; only a synthetic benchmark knows them
            (None for brain data).
    """

    name: str
    responses: np.ndarray
    targets: pd.DataFrame
    stimulus_ids: list[str]
    waveforms: np.ndarray | None = None
    categories: list[str] | None = None
    kind: str = "voxels"
    excluded: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["target", "reason"]))
    ground_truth: pd.DataFrame | None = None

    @property
    def n_stimuli(self) -> int:
        return self.responses.shape[0]

    @property
    def n_targets(self) -> int:
        return self.responses.shape[1]

    @property
    def n_reps(self) -> int:
        return self.responses.shape[2]

    @property
    def participant(self) -> np.ndarray:
        return self.targets["participant"].to_numpy()

    @property
    def roi(self) -> np.ndarray:
        return self.targets["roi"].to_numpy()

    @property
    def noise_corrected(self) -> bool:
        return self.kind == "voxels" and self.n_reps >= 2

    def describe(self) -> str:
        n_part = len(np.unique(self.participant))
        text = (
            f"{self.name}: {self.n_stimuli} stimuli, {self.n_targets} {self.kind} in {n_part} "
            f"participant(s), {self.n_reps} repetition(s)"
        )
        if len(self.excluded):
            text += f"; {len(self.excluded)} excluded ({', '.join(sorted(set(self.excluded['reason'])))})"
        return text

    @classmethod
    def from_arrays(
        cls,
        responses: np.ndarray,
        participant: Sequence | np.ndarray,
        roi: Sequence | np.ndarray | None = None,
        stimulus_ids: Sequence[str] | None = None,
        waveforms: np.ndarray | None = None,
        name: str = "custom",
        target_ids: Sequence | None = None,
        categories: Sequence[str] | None = None,
        kind: str = "voxels",
        metadata: pd.DataFrame | None = None,
        ground_truth: pd.DataFrame | None = None,
    ) -> Benchmark:
        """Build a benchmark from arrays (users' own data, or any loader).

        Args:
            responses: ``[n_stimuli, n_targets, n_reps]`` (``[n_stimuli, n_targets]`` means
                one repetition).
            participant: ``[n_targets]`` participant of each target.
            roi: ``[n_targets]`` ROI labels (default: all ``""``).
            stimulus_ids: ``[n_stimuli]`` (default: ``"stim0"``, ``"stim1"`` ...).
            waveforms: optional ``[n_stimuli, samples]`` audio at 20 kHz.
            target_ids: ``[n_targets]`` ids (default: column index).
            kind: ``"voxels"`` or ``"components"``.
            metadata: optional extra per-target columns.
            ground_truth: optional ``[n_stimuli, n_channels]`` generating features (synthetic
                benchmarks).

        Targets whose responses contain NaN/inf or are constant across stimuli are
        reported (logged) and excluded.
        """
        responses = np.asarray(responses, dtype=np.float64)
        if responses.ndim == 2:
            responses = responses[:, :, None]
        if responses.ndim != 3:
            raise BenchmarkError(
                f"responses must be [n_stimuli, n_targets, n_reps] (or [n_stimuli, n_targets]), "
                f"got an array of shape {list(responses.shape)}"
            )
        n_stim, n_targets, _ = responses.shape
        if n_stim < 4 or n_targets < 1:
            raise BenchmarkError(f"responses need at least 4 stimuli and 1 target, got shape {list(responses.shape)}")
        if kind not in ("voxels", "components"):
            raise BenchmarkError(f"kind must be 'voxels' or 'components', got {kind!r}")

        def per_target(values, what: str, default) -> np.ndarray:
            arr = np.asarray(default if values is None else values)
            if arr.ndim != 1 or len(arr) != n_targets:
                raise BenchmarkError(
                    f"{what} must have one entry per target ({n_targets}), got shape {list(arr.shape)}"
                )
            return arr

        participant = per_target(participant, "participant", None)
        roi = per_target(roi, "roi", np.full(n_targets, "", dtype=object))
        target_ids = per_target(target_ids, "target_ids", np.arange(n_targets))
        if stimulus_ids is None:
            stimulus_ids = [f"stim{i}" for i in range(n_stim)]
        stimulus_ids = [str(s) for s in stimulus_ids]
        if len(stimulus_ids) != n_stim:
            raise BenchmarkError(f"stimulus_ids has {len(stimulus_ids)} entries, responses have {n_stim} stimuli")
        if len(set(stimulus_ids)) != n_stim:
            raise BenchmarkError("stimulus_ids must be unique")
        if categories is not None and len(categories) != n_stim:
            raise BenchmarkError(f"categories has {len(categories)} entries, responses have {n_stim} stimuli")
        if ground_truth is not None:
            gt = np.asarray(ground_truth, dtype=np.float64)
            if gt.ndim != 2 or len(gt) != n_stim or not np.all(np.isfinite(gt)):
                raise BenchmarkError(
                    f"ground_truth must be finite [n_stimuli={n_stim}, n_channels], got shape {list(gt.shape)}"
                )
            ground_truth = pd.DataFrame(ground_truth).reset_index(drop=True)
        if waveforms is not None:
            waveforms = np.asarray(waveforms, dtype=np.float32)
            if waveforms.ndim != 2 or waveforms.shape[0] != n_stim:
                raise BenchmarkError(
                    f"waveforms must be [n_stimuli={n_stim}, samples], got shape {list(waveforms.shape)}"
                )

        targets = pd.DataFrame({"target": target_ids, "participant": participant, "roi": roi})
        if metadata is not None:
            if len(metadata) != n_targets:
                raise BenchmarkError(f"metadata has {len(metadata)} rows, expected one per target ({n_targets})")
            extra = metadata.reset_index(drop=True).drop(columns=[c for c in targets if c in metadata], errors="ignore")
            targets = pd.concat([targets, extra], axis=1)

        finite = np.isfinite(responses).all(axis=(0, 2))
        constant = np.zeros(n_targets, dtype=bool)
        constant[finite] = (np.ptp(responses[:, finite].mean(axis=2), axis=0) == 0) | (
            np.ptp(responses[:, finite], axis=0) == 0
        ).any(axis=1)
        reasons = np.where(~finite, "NaN or inf responses", np.where(constant, "constant responses", ""))
        bad = reasons != ""
        excluded = pd.DataFrame({"target": target_ids[bad], "reason": reasons[bad]})
        if bad.any():
            log.warning(
                "Benchmark %s: excluding %d of %d targets (%s)",
                name,
                bad.sum(),
                n_targets,
                ", ".join(f"{n} {r}" for r, n in excluded["reason"].value_counts().items()),
            )
        if bad.all():
            raise BenchmarkError(f"benchmark {name}: every target has NaN/inf or constant responses")
        return cls(
            name=name,
            responses=np.ascontiguousarray(responses[:, ~bad]),
            targets=targets[~bad].reset_index(drop=True),
            stimulus_ids=stimulus_ids,
            waveforms=waveforms,
            categories=None if categories is None else [str(c) for c in categories],
            kind=kind,
            excluded=excluded,
            ground_truth=ground_truth,
        )

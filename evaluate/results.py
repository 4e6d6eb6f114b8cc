"""The score object returned by :func:`evaluate.score`, and its files on disk."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from data.cache import write_json_atomic

_TABLES = ("per_participant", "per_layer", "per_roi", "per_roi_layer", "per_voxel", "ceiling", "rsa_per_layer")


def _parquet_available() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Score:
    """Brain-prediction scores of one model on one benchmark.

    Attributes:
        benchmark, model: identifiers.
        kind: ``"voxels"`` (noise-corrected r2, per-participant statistics) or ``"components"``.
        metric: what ``value`` is.
        value, sem: the headline: mean over participants (components) of the cross-validated
            best-layer score, and its standard error over participants (components).
        layers: scored layers in model order.
        per_participant: participant, value, best_relative_layer (cross-validated best layer).
        per_layer: layer, value, sem (within-participant SEM across layers, as the reference).
        per_roi: roi, value, sem, best_relative_layer, best_relative_layer_sem, n_targets
            (``roi == "all"`` is every target).
        per_roi_layer: roi, layer, value, sem.
        per_voxel: one row per layer x target: layer, voxel (or component), participant, roi,
            r2_corrected (median over splits, before clipping), r2 (median uncorrected),
            alpha (median), rv_hat (median predicted-response reliability).
        ceiling: one row per target: voxel (or component), participant, roi, rv (median over splits of the
            Spearman-Brown corrected, floored split-half reliability).
        rsa: value, sem, ceiling, ceiling_sem (RSA of the best layer chosen on training
            sounds; ``{}`` when not computed).
        rsa_per_layer: layer, value, sem (test-sound RSA per layer).
        info: splits, alphas, timings, excluded targets, versions.
    """

    benchmark: str
    model: str
    kind: str
    metric: str
    value: float
    sem: float
    layers: list[str]
    per_participant: pd.DataFrame
    per_layer: pd.DataFrame
    per_roi: pd.DataFrame
    per_roi_layer: pd.DataFrame
    per_voxel: pd.DataFrame
    ceiling: pd.DataFrame
    rsa: dict = field(default_factory=dict)
    rsa_per_layer: pd.DataFrame = field(default_factory=pd.DataFrame)
    info: dict = field(default_factory=dict)

    @property
    def best_relative_layer(self) -> dict[str, float]:
        """ROI -> mean best relative layer (0 = first scored layer, 1 = last)."""
        return dict(zip(self.per_roi["roi"], self.per_roi["best_relative_layer"]))

    def summary(self) -> str:
        """A short text table for terminals and logs."""
        lines = [
            f"{self.model} on {self.benchmark}: {self.metric} = {self.value:.4f} +- {self.sem:.4f} (SEM)",
        ]
        if len(self.per_roi):
            lines.append(f"{'roi':<10} {'value':>8} {'sem':>8} {'best rel. layer':>16} {'n':>7}")
            for row in self.per_roi.itertuples():
                lines.append(
                    f"{row.roi:<10} {row.value:8.4f} {row.sem:8.4f} {row.best_relative_layer:16.3f} {row.n_targets:7d}"
                )
        lines.append("per layer: " + ", ".join(f"{r.layer} {r.value:.3f}" for r in self.per_layer.itertuples()))
        if self.rsa:
            lines.append(
                f"RSA (best layer, test sounds): {self.rsa['value']:.4f} +- {self.rsa['sem']:.4f}; "
                f"noise ceiling {self.rsa['ceiling']:.4f}"
            )
        return "\n".join(lines)

    # ------------------------------------------------------------------ files
    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``score.json`` (headline, small tables, info) and one CSV (or Parquet when
        pyarrow is installed) per table into ``directory``; every file is written atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        fmt = "parquet" if _parquet_available() else "csv"
        for name in _TABLES:
            table: pd.DataFrame = getattr(self, name)
            path = directory / f"{name}.{fmt}"
            tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            if fmt == "parquet":
                table.to_parquet(tmp, index=False)
            else:
                table.to_csv(tmp, index=False)
            os.replace(tmp, path)
        head = {
            "benchmark": self.benchmark,
            "model": self.model,
            "kind": self.kind,
            "metric": self.metric,
            "value": self.value,
            "sem": self.sem,
            "layers": self.layers,
            "rsa": self.rsa,
            "info": self.info,
            "tables": {name: f"{name}.{fmt}" for name in _TABLES},
            "per_roi": self.per_roi.to_dict(orient="records"),
            "per_layer": self.per_layer.to_dict(orient="records"),
        }
        write_json_atomic(directory / "score.json", _json_safe(head))
        return directory / "score.json"

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Score:
        """Read a score written by :meth:`save`."""
        directory = Path(directory)
        path = directory / "score.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist (not a saved score directory)")
        head = json.loads(path.read_text())
        tables = {}
        for name, file in head["tables"].items():
            table_path = directory / file
            if not table_path.is_file():
                raise FileNotFoundError(f"{table_path} listed in {path} is missing")
            if file.endswith(".parquet"):
                tables[name] = pd.read_parquet(table_path)
            else:
                tables[name] = (
                    pd.read_csv(table_path, keep_default_na=True) if table_path.stat().st_size > 1 else pd.DataFrame()
                )
        for table in tables.values():  # CSV turns the empty ROI label ("no ROI") into NaN
            if "roi" in table:
                table["roi"] = table["roi"].fillna("").astype(str)
        return cls(
            benchmark=head["benchmark"],
            model=head["model"],
            kind=head["kind"],
            metric=head["metric"],
            value=_nan(head["value"]),
            sem=_nan(head["sem"]),
            layers=list(head["layers"]),
            rsa={k: _nan(v) if not isinstance(v, (list, dict, str)) else v for k, v in head.get("rsa", {}).items()},
            info=head.get("info", {}),
            **tables,
        )


def _nan(v):
    return float("nan") if v is None else v


def _json_safe(obj):
    """NaN/inf -> null, numpy scalars -> Python, recursively."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj

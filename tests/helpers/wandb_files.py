"""Read logged values back from an offline W&B run (reader: train/wandb_offline.py)."""

from __future__ import annotations

import json
from pathlib import Path

from train.wandb_offline import history, records

__all__ = ["history", "records", "run_file", "summary"]


def run_file(run_dir: str | Path) -> Path:
    """The single ``run-*.wandb`` file under a training run directory."""
    files = sorted(Path(run_dir).rglob("run-*.wandb"))
    if len(files) != 1:
        raise AssertionError(f"expected one W&B run file under {run_dir}, found {files}")
    return files[0]


def summary(path: str | Path) -> dict:
    """The run summary as written by ``run.summary[...] = ...`` (latest value per key)."""
    out = {}
    for r in records(path):
        if r.WhichOneof("record_type") == "summary":
            for item in r.summary.update:
                out[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return out

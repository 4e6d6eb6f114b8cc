"""Read logged values back from an offline W&B run (reader: train/wandb_offline.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from train.wandb_offline import history, records

__all__ = ["artifacts", "history", "logged_objects", "records", "run_file", "run_record", "summary"]


def run_file(run_dir: str | Path, timeout: float = 30) -> Path:
    """The single ``run-*.wandb`` file under a run directory, once the run is finished.

    ``run.finish()`` returns before wandb-core has written the run file out (wandb 0.31
    offline: a finished run's file can hold only its header for a few milliseconds), so
    this waits, up to ``timeout`` s, for the file's exit record.
    """
    files = sorted(Path(run_dir).rglob("run-*.wandb"))
    if len(files) != 1:
        raise AssertionError(f"expected one W&B run file under {run_dir}, found {files}")
    deadline = time.monotonic() + timeout
    while not any(r.WhichOneof("record_type") == "exit" for r in records(files[0])):
        if time.monotonic() > deadline:
            raise AssertionError(f"{files[0]}: no exit record within {timeout} s (the run did not finish)")
        time.sleep(0.05)
    return files[0]


def summary(path: str | Path) -> dict:
    """The run summary as written by ``run.summary[...] = ...`` (latest value per key)."""
    out = {}
    for r in records(path):
        if r.WhichOneof("record_type") == "summary":
            for item in r.summary.update:
                out[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return out


def run_record(path: str | Path):
    """The run's ``RunRecord`` (id, project, group, tags, config, sweep id, ...)."""
    runs = [r.run for r in records(path) if r.WhichOneof("record_type") == "run"]
    if not runs:
        raise AssertionError(f"{path} has no run record")
    return runs[0]


def logged_objects(path: str | Path) -> dict[str, dict]:
    """The W&B media objects logged with ``wandb.log`` (``wandb.Table``, ``wandb.Image``,
    ``wandb.Html``, ...): key -> their stored fields (``_type``, ``path`` under the run's
    ``files/`` folder, ``nrows``, ...), latest value per key."""
    out: dict[str, dict] = {}
    for r in records(path):
        if r.WhichOneof("record_type") == "history":
            for item in r.history.item:
                if len(item.nested_key) >= 2:
                    key = "/".join(item.nested_key[:-1])
                    out.setdefault(key, {})[item.nested_key[-1]] = json.loads(item.value_json)
    return {key: fields for key, fields in out.items() if "_type" in fields}


def artifacts(path: str | Path) -> dict[str, dict]:
    """The artifacts the run logged: name -> ``{"type": ..., "files": [paths in the artifact]}``."""
    out = {}
    for r in records(path):
        if r.WhichOneof("record_type") == "artifact":
            out[r.artifact.name] = {"type": r.artifact.type, "files": [e.path for e in r.artifact.manifest.contents]}
    return out

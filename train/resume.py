"""Resuming interrupted runs: the run record, and which checkpoint a run continues from.

Every run directory holds ``run.json`` (the run's name, sweep, W&B run id, status and one
entry per attempt) and ``checkpoints/``, where three kinds of checkpoint can be written:
``last.ckpt`` (end of every epoch), ``steps.ckpt`` (inside epochs, every N steps or minutes)
and ``interrupted.ckpt`` (on SIGTERM, Ctrl+C or a SLURM/submitit preemption signal; see
:mod:`train.fault_tolerance`); Lightning's own SLURM auto-requeue writes ``hpc_ckpt_<n>.ckpt``
in the run directory. A run resumes from whichever is the furthest along.

``resume`` (``python -m train resume=...``):

* ``null`` (default): a new run; but a job whose own directory already has a checkpoint (a
  SLURM/submitit requeue re-runs the job in the same directory) continues from it.
* ``auto``: continue the newest run with the same ``run_name`` and ``sweep_name`` under
  ``paths.log_dir``; if it had finished, do nothing; if there is none, start a new run.
* a run directory or a ``.ckpt`` file: continue that run.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import string
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from data.cache import write_json_atomic

log = logging.getLogger(__name__)

RUN_RECORD = "run.json"
CHECKPOINT_DIR = "checkpoints"


@dataclass(frozen=True)
class ResumePoint:
    """Where a run continues: its directory and the checkpoint furthest along."""

    run_dir: Path
    ckpt_path: Path
    global_step: int


def checkpoint_step(path: str | os.PathLike) -> int:
    """The ``global_step`` stored in a Lightning checkpoint (memory-mapped, so cheap)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    if not isinstance(ckpt, dict) or "global_step" not in ckpt:
        raise ValueError(f"{path} is not a Lightning training checkpoint (no 'global_step')")
    return int(ckpt["global_step"])


def latest_checkpoint(run_dir: str | os.PathLike) -> ResumePoint | None:
    """The checkpoint of ``run_dir`` that is furthest along (highest global step, then newest);
    unreadable ones are reported and passed over. None when there is none."""
    run_dir = Path(run_dir)
    paths = sorted((run_dir / CHECKPOINT_DIR).glob("*.ckpt")) + sorted(run_dir.glob("hpc_ckpt_*.ckpt"))
    best: tuple[int, float, Path] | None = None
    for path in paths:
        try:
            key = (checkpoint_step(path), path.stat().st_mtime, path)
        except Exception as exc:  # truncated by a kill, or not a checkpoint
            log.warning("Skipping unreadable checkpoint %s: %s", path, exc)
            continue
        if best is None or key[:2] > best[:2]:
            best = key
    return None if best is None else ResumePoint(run_dir, best[2], best[0])


def read_record(run_dir: str | os.PathLike) -> dict | None:
    path = Path(run_dir) / RUN_RECORD
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("Ignoring unreadable run record %s: %s", path, exc)
        return None


def write_record(run_dir: str | os.PathLike, record: dict) -> None:
    write_json_atomic(Path(run_dir) / RUN_RECORD, record)


def find_previous_run(log_dir: str | os.PathLike, run_name: str, sweep_name: str | None) -> Path | None:
    """The newest run directory under ``log_dir`` with this ``run_name`` and ``sweep_name``."""
    found: list[tuple[float, Path]] = []
    for path in Path(log_dir).glob(f"train/**/{RUN_RECORD}"):
        record = read_record(path.parent)
        if record and record.get("run_name") == run_name and record.get("sweep_name") == sweep_name:
            found.append((float(record.get("updated", path.stat().st_mtime)), path.parent))
    return max(found)[1] if found else None


def resolve_resume(
    resume: str | None,
    output_dir: str | os.PathLike,
    log_dir: str | os.PathLike,
    run_name: str,
    sweep_name: str | None,
) -> tuple[ResumePoint | None, Path]:
    """Decide where this job trains: returns ``(point to resume or None, run directory)``.

    The run directory is ``output_dir`` (this job's own, made by Hydra) unless an earlier run
    is continued. Raises FileNotFoundError / ValueError for a ``resume`` path that does not
    exist or holds no checkpoint.
    """
    output_dir = Path(output_dir)
    own = latest_checkpoint(output_dir)
    if own is not None:  # a requeued job, back in its own directory
        return own, output_dir
    if resume in (None, "", "null", "none"):
        return None, output_dir
    if resume == "auto":
        previous = find_previous_run(log_dir, run_name, sweep_name)
        if previous is None:
            log.info("resume=auto: no earlier run named %r (sweep %r) under %s; starting a new run",
                     run_name, sweep_name, log_dir)  # fmt: skip
            return None, output_dir
        record = read_record(previous) or {}
        point = latest_checkpoint(previous)
        if point is None and record.get("status") != "finished":
            log.info("resume=auto: the earlier run %s has no checkpoint yet; starting a new run", previous)
            return None, output_dir
        return point, previous
    path = Path(resume)
    if not path.exists():
        raise FileNotFoundError(f"resume={resume}: no such run directory or checkpoint")
    if path.is_file():
        run_dir = path.parent.parent if path.parent.name == CHECKPOINT_DIR else path.parent
        return ResumePoint(run_dir, path, checkpoint_step(path)), run_dir
    point = latest_checkpoint(path)
    if point is None:
        raise FileNotFoundError(f"resume={resume}: the run directory has no checkpoint in {path / CHECKPOINT_DIR}")
    return point, path


def new_wandb_id() -> str:
    """The W&B run id of a new run: the one a ``wandb agent`` hands its run in ``WANDB_RUN_ID``
    (another id would detach the run from its sweep), else 8 new characters of a-z0-9, as W&B
    makes them."""
    if os.environ.get("WANDB_RUN_ID"):
        return os.environ["WANDB_RUN_ID"]
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(8))


def new_attempt(record: dict | None, run_name: str, sweep_name: str | None, hydra_dir: Path,
                point: ResumePoint | None, tags: dict | None = None) -> dict:  # fmt: skip
    """The run record with this attempt added (a new record for a new run). ``tags``: what
    the run trains (model, task, noise, seed), read by ``python -m evaluate.report``."""
    record = dict(record or {"run_name": run_name, "sweep_name": sweep_name, "wandb_id": new_wandb_id(),
                             "attempts": [], "tags": dict(tags or {})})  # fmt: skip
    record["status"] = "running"
    record["updated"] = time.time()
    record["attempts"] = [*record.get("attempts", []), {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "hydra_dir": str(hydra_dir),
        "resumed_from": str(point.ckpt_path) if point else None,
        "resumed_step": point.global_step if point else None,
    }]  # fmt: skip
    return record

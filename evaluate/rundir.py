"""What a run directory holds: the one description of the layout both CLIs write and the
reports read.

A ``python -m evaluate`` run directory::

    score/                 evaluate.Score.save (score.json + tables)
    figures/*.png          evaluate.figures.write_figures
    summary.txt            the printed summary
    diagnostics.csv        per-layer diagnostics of the score (evaluate.diagnostics)
    control_<name>/score/  the control network's score (control=permuted), and its figures/

A ``python -m train`` run directory (the brain-score callback)::

    brain_scores/<benchmark>/step<NNNNNNNN>/   evaluate.Score.save of each evaluation
    brain_scores/history.json                  {"best": {...}, "evaluations": [...]}
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from data.cache import write_json_atomic

SCORE_DIR = "score"
FIGURES_DIR = "figures"
SUMMARY_FILE = "summary.txt"
DIAGNOSTICS_FILE = "diagnostics.csv"
BRAIN_SCORES_DIR = "brain_scores"
HISTORY_FILE = "history.json"
SCORE_FILE = "score.json"  # inside every Score directory
CONTROL_PREFIX = "control_"  # control_<name>/ beside score/


def control_dir(run_dir: str | os.PathLike, control: str) -> Path:
    """Where ``python -m evaluate control=<control>`` writes the control's results."""
    return Path(run_dir) / f"{CONTROL_PREFIX}{control}"


def control_of(score_file: str | os.PathLike) -> str:
    """The control a ``score.json`` belongs to (``"permuted"``), or ``""`` for the network itself."""
    for part in Path(score_file).parts:
        if part.startswith(CONTROL_PREFIX):
            return part[len(CONTROL_PREFIX) :]
    return ""


def brain_score_dir(run_dir: str | os.PathLike, benchmark: str, step: int) -> Path:
    """Where the brain-score callback saves the evaluation of ``benchmark`` at ``step``."""
    return Path(run_dir) / BRAIN_SCORES_DIR / benchmark / f"step{int(step):08d}"


def history_path(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / BRAIN_SCORES_DIR / HISTORY_FILE


def write_history(run_dir: str | os.PathLike, best: dict, evaluations: list[dict]) -> None:
    """Write the callback's history (atomically: a reader sees the old file or the new one)."""
    write_json_atomic(history_path(run_dir), {"best": best, "evaluations": evaluations})


def read_history(run_dir: str | os.PathLike) -> dict:
    """The ``brain_scores/history.json`` of a training run directory."""
    path = history_path(run_dir)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: not a training run with brain scores")
    return json.loads(path.read_text())


def training_step_of(score_file: str | os.PathLike) -> tuple[Path, str, int] | None:
    """``(run_dir, benchmark, step)`` for a ``score.json`` the callback wrote, else None."""
    parts = Path(score_file).parts
    if BRAIN_SCORES_DIR not in parts:
        return None
    i = parts.index(BRAIN_SCORES_DIR)
    if len(parts) < i + 3:
        return None
    step = int(re.sub(r"\D", "", parts[i + 2]) or 0)
    return Path(*parts[:i]), parts[i + 1], step

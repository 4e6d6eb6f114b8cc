"""Lightning's W&B and CSV loggers, made safe to resume: a run that continues in the same
directory keeps logging into the same W&B run / metrics.csv and never logs a step twice.

A run killed by SIGKILL resumes from its last checkpoint, behind the last step it had
logged; the steps in between are trained again. Their metrics are dropped (the first
attempt's values stay), as W&B itself does for steps lower than a run's current one.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

from pytorch_lightning.loggers import CSVLogger as _CSVLogger
from pytorch_lightning.loggers import WandbLogger as _WandbLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.loggers.logger import rank_zero_experiment
from pytorch_lightning.utilities import rank_zero_only

from data.cache import atomic_file, write_json_atomic
from train.wandb_offline import run_history

log = logging.getLogger(__name__)


class LogsEachValueOnce:
    """Mixin for Lightning loggers: what :meth:`_to_log` passes on is logged exactly once.

    - A metric at a step <= its :attr:`resume_floors` entry (the last step an earlier
      attempt logged *that metric* at) is dropped; a call left with nothing is counted in
      :attr:`dropped_steps`. Per metric, because metrics logged at the same step number
      mean different moments: a brain score at step ``s`` (the network after ``s`` steps)
      is logged before Lightning's metrics of batch ``s``, so an attempt killed between the
      two must still log batch ``s`` when it resumes.
    - At the latest steps, values already logged there are dropped: the metrics a
      checkpoint covers are logged before the checkpoint is written
      (:class:`train.fault_tolerance.InterruptCheckpoint`), and Lightning then sends them
      again.
    """

    #: Keys Lightning adds to every call (not a metric of their own): kept with new values,
    #: never the reason to log a call.
    CONTEXT_KEYS = frozenset({"epoch"})

    #: metric -> the last step an earlier attempt logged it at
    resume_floors: Mapping[str, int] = {}
    #: for metrics not in :attr:`resume_floors` (an old record that kept one step for all)
    resume_floor_default: int = -1
    dropped_steps: int = 0
    #: how many of the latest steps' values are remembered, to drop repeats: a checkpoint's
    #: early log and Lightning's own can have another step's metrics (a brain score) between them
    RECENT_STEPS = 4

    def _to_log(self, metrics: Mapping[str, float], step: int | None) -> dict | None:
        """The part of ``metrics`` (at ``step``) to log, or None to log nothing."""
        if step is not None and (self.resume_floors or self.resume_floor_default >= 0):
            floors, default = self.resume_floors, self.resume_floor_default
            kept = {k: v for k, v in metrics.items() if k in self.CONTEXT_KEYS or step > floors.get(k, default)}
            if not set(kept) - self.CONTEXT_KEYS:
                if not self.dropped_steps:
                    log.info("%s: dropping metrics at step %d and others, already logged before the run was "
                             "interrupted", type(self).__name__, step)  # fmt: skip
                self.dropped_steps += 1
                return None
            metrics = kept
        if step is None:
            return dict(metrics)
        recent = self.__dict__.setdefault("_logged_recently", {})
        seen = recent.get(step)
        if seen is None:
            new = dict(metrics)
            seen = recent[step] = {}
            while len(recent) > self.RECENT_STEPS:
                del recent[next(iter(recent))]  # dicts keep insertion order: the oldest first
        else:
            new = {k: v for k, v in metrics.items() if not _same(seen.get(k, _MISSING), v)}
            if not set(new) - self.CONTEXT_KEYS:
                return None
            new.update({k: v for k, v in metrics.items() if k in self.CONTEXT_KEYS})
        seen.update(new)
        return new


_MISSING = object()


def _last_steps(rows: Iterable[Mapping[str, object]], step_key: str) -> dict[str, int]:
    """Per metric, the highest ``step_key`` of the rows it appears in (each row: the metrics
    logged in one call, with the step under ``step_key``); rows without a step are skipped."""
    out: dict[str, int] = {}
    for row in rows:
        if row.get(step_key) in (None, ""):
            continue
        step = int(float(row[step_key]))
        for key in row:
            if key != step_key and step > out.get(key, -1):
                out[key] = step
    return out


def _same(a: object, b: object) -> bool:
    # a NaN loss logged twice is the same value
    return a == b or (isinstance(a, float) and isinstance(b, float) and a != a and b != b)


class WandbLogger(LogsEachValueOnce, _WandbLogger):
    """:class:`pytorch_lightning.loggers.WandbLogger` that, given the run's ``id`` (and
    ``resume="allow"``), continues an interrupted run in the same W&B run and drops each
    metric at the steps it already holds: for an offline run, the last step of each metric
    found in its run files under ``<save_dir>/wandb`` (what reached the disk); online, the
    last steps this logger sent, recorded in ``<save_dir>/wandb/logged_step.json``."""

    STEP_FILE = "logged_step.json"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        wandb_dir = Path(self.save_dir or ".") / "wandb"
        self._step_file = wandb_dir / self.STEP_FILE
        run_id = self._wandb_init.get("id")
        self.resume_floors, self._sent = {}, {}
        if run_id and self._offline:
            # what reached the disk of the earlier attempts (W&B's own keys, _step ..., left out)
            rows = run_history(wandb_dir, run_id)
            self.resume_floors = _last_steps(({k: v for k, v in r.items() if not k.startswith("_")} for r in rows),
                                             step_key="trainer/global_step")  # fmt: skip
        elif run_id:
            try:
                record = json.loads(self._step_file.read_text())
            except (FileNotFoundError, ValueError):
                record = {}
            if record.get("run_id") == run_id:
                if isinstance(record.get("steps"), dict):
                    self.resume_floors = {k: int(v) for k, v in record["steps"].items()}
                    self._sent = dict(self.resume_floors)
                elif "step" in record:  # written before per-metric steps
                    self.resume_floor_default = int(record["step"])

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        metrics = self._to_log(metrics, step)
        if metrics is None:
            return
        super().log_metrics(metrics, step)
        if not self._offline and step is not None:
            newer = {k: step for k in metrics if k not in self.CONTEXT_KEYS and step > self._sent.get(k, -1)}
            if newer:
                self._sent.update(newer)
                write_json_atomic(self._step_file, {"steps": self._sent, "run_id": self.experiment.id})


class _AppendingWriter(ExperimentWriter):
    """Keeps an existing metrics.csv (Lightning's writer deletes it) and appends to it.

    A process killed while writing can leave the file with a torn last row (appending) or
    half rewritten (Lightning rewrites the whole file in place when a new column appears).
    The rewrite here goes through a temporary file and a rename, and a torn last row is
    cut off when the file is reopened.
    """

    def _check_log_dir_exists(self) -> None:
        self.last_steps: dict[str, int] = {}  # metric -> the last step it was logged at
        path = Path(self.metrics_file_path)
        if not path.is_file():
            return
        text = path.read_bytes()
        if text and not text.endswith(b"\n"):
            keep = text.rfind(b"\n") + 1
            log.warning("%s: its last row was cut short when the run was killed (%d bytes); removed it",
                        path, len(text) - keep)  # fmt: skip
            with open(path, "r+b") as f:
                f.truncate(keep)
            text = text[:keep]
        reader = csv.DictReader(io.StringIO(text.decode(), newline=""))
        self.metrics_keys = sorted(reader.fieldnames or [])
        # a row's metrics: its non-empty cells
        self.last_steps = _last_steps(({k: v for k, v in row.items() if v not in (None, "")} for row in reader),
                                      step_key="step")  # fmt: skip

    def save(self) -> None:
        keys = list(self.metrics_keys)
        try:
            super().save()
        except BaseException:
            # Lightning records the new columns before writing them: forget them, so that
            # the next save writes the header again instead of rows it does not match.
            self.metrics_keys = keys
            raise

    def _rewrite_with_new_header(self, fieldnames: list[str]) -> None:
        with open(self.metrics_file_path, newline="") as f:
            rows = list(csv.DictReader(f))
        with atomic_file(self.metrics_file_path, "w") as f:
            writer = csv.DictWriter(f, fieldnames=fieldnames)
            writer.writeheader()
            writer.writerows(rows)


class CSVLogger(LogsEachValueOnce, _CSVLogger):
    """:class:`pytorch_lightning.loggers.CSVLogger` that appends to an existing metrics.csv
    (a resumed run) and drops metrics at the steps it already holds."""

    @property
    @rank_zero_experiment
    def experiment(self) -> _AppendingWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
            self.resume_floors = self._experiment.last_steps
        return self._experiment

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self.experiment  # noqa: B018  (reads the existing file's last step)
        metrics = self._to_log(metrics, step)
        if metrics is not None:
            super().log_metrics(metrics, step)

"""Lightning's W&B and CSV loggers, made safe to resume: a run that continues in the same
directory keeps logging into the same W&B run / metrics.csv and never logs a step twice.

A run killed by SIGKILL resumes from its last checkpoint, behind the last step it had
logged; the steps in between are trained again. Their metrics are dropped (the first
attempt's values stay), as W&B itself does for steps lower than a run's current one.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Mapping
from pathlib import Path

from pytorch_lightning.loggers import CSVLogger as _CSVLogger
from pytorch_lightning.loggers import WandbLogger as _WandbLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.loggers.logger import rank_zero_experiment
from pytorch_lightning.utilities import rank_zero_only

from data.cache import write_json_atomic
from train.wandb_offline import last_step

log = logging.getLogger(__name__)


class _SkipsLoggedSteps:
    """Mixin: ``log_metrics`` at a step <= :attr:`resume_floor` (the last step an earlier
    attempt logged) is dropped and counted in :attr:`dropped_steps`."""

    resume_floor: int = -1
    dropped_steps: int = 0

    def _keep(self, step: int | None) -> bool:
        if step is not None and step <= self.resume_floor:
            if not self.dropped_steps:
                log.info("%s: dropping metrics up to step %d, already logged before the run was interrupted",
                         type(self).__name__, self.resume_floor)  # fmt: skip
            self.dropped_steps += 1
            return False
        return True


class WandbLogger(_SkipsLoggedSteps, _WandbLogger):
    """:class:`pytorch_lightning.loggers.WandbLogger` that, given the run's ``id`` (and
    ``resume="allow"``), continues an interrupted run in the same W&B run and drops metrics
    at the steps it already holds: for an offline run, the last step found in its run files
    under ``<save_dir>/wandb`` (what reached the disk); online, the last step this logger
    sent, recorded in ``<save_dir>/wandb/logged_step.json``."""

    STEP_FILE = "logged_step.json"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        wandb_dir = Path(self.save_dir or ".") / "wandb"
        self._step_file = wandb_dir / self.STEP_FILE
        run_id = self._wandb_init.get("id")
        self.resume_floor = -1
        if run_id and self._offline:
            self.resume_floor = last_step(wandb_dir, run_id)
        elif run_id:
            try:
                record = json.loads(self._step_file.read_text())
                if record.get("run_id") == run_id:
                    self.resume_floor = int(record["step"])
            except (FileNotFoundError, KeyError, ValueError):
                pass

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        if not self._keep(step):
            return
        super().log_metrics(metrics, step)
        if not self._offline and step is not None and step > getattr(self, "_last_written_step", -1):
            self._last_written_step = step
            write_json_atomic(self._step_file, {"step": step, "run_id": self.experiment.id})


class _AppendingWriter(ExperimentWriter):
    """Keeps an existing metrics.csv (Lightning's writer deletes it) and appends to it."""

    def _check_log_dir_exists(self) -> None:
        self.last_step = -1
        if not self._fs.isfile(self.metrics_file_path):
            return
        with self._fs.open(self.metrics_file_path, "r", newline="") as f:
            reader = csv.DictReader(f)
            self.metrics_keys = sorted(reader.fieldnames or [])
            steps = [int(float(row["step"])) for row in reader if row.get("step") not in (None, "")]
        self.last_step = max(steps, default=-1)


class CSVLogger(_SkipsLoggedSteps, _CSVLogger):
    """:class:`pytorch_lightning.loggers.CSVLogger` that appends to an existing metrics.csv
    (a resumed run) and drops metrics at the steps it already holds."""

    @property
    @rank_zero_experiment
    def experiment(self) -> _AppendingWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
            self.resume_floor = self._experiment.last_step
        return self._experiment

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self.experiment  # noqa: B018  (reads the existing file's last step)
        if self._keep(step):
            super().log_metrics(metrics, step)

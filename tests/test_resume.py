"""Killing a real `python -m train` process (SIGTERM, SIGKILL) and resuming it: the steps
continue, every step is logged exactly once (CSV and W&B), the W&B run id stays the same,
and the resumed epoch trains on the batches the killed one had not reached."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from data.corpus import CorpusSpec
from data.datamodule import EmbeddedSpeechDataModule
from data.sampler import EpochShuffleSampler
from tests.helpers import TINY_CORPUS
from tests.helpers.cli import run_cli, start_cli
from tests.helpers.configs import compose_config
from tests.helpers.wandb_files import history
from train.checkpoint_io import AtomicCheckpointIO
from train.resume import checkpoint_step, latest_checkpoint

# 18 training clips / batch 4 = 4 steps per epoch; a step checkpoint every 3 steps.
ARGS = [
    "debug=fast", "logger=[csv,wandb]", "trainer.max_epochs=1000",
    "callbacks.step_checkpoint.every_n_train_steps=3", "callbacks.step_checkpoint.train_time_interval=null",
    "sweep_name=killtest",
]  # fmt: skip


def _start(logs: Path, cache_dir: Path, args: list[str]) -> subprocess.Popen:
    return start_cli("train", [*ARGS, *args], cache_dir=cache_dir, logs=logs)


def _wait_for_step(proc: subprocess.Popen, logs: Path, step: int, timeout: float = 240) -> Path:
    """Wait until the run's step checkpoint has reached ``step``; returns the run directory."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        for ckpt in logs.glob("train/runs/*/checkpoints/steps.ckpt"):
            try:
                if checkpoint_step(ckpt) >= step:
                    return ckpt.parent.parent
            except Exception:  # being written
                pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"no step checkpoint at step {step} within {timeout} s")


def _csv_rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "csv" / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def _steps_of(rows: list[dict], key: str) -> list[int]:
    return [int(float(r["step"])) for r in rows if r.get(key) not in (None, "")]


def _wandb_history(run_dir: Path) -> tuple[set[str], list[dict]]:
    ids, rows = set(), []
    for path in sorted((run_dir / "wandb").glob("offline-run-*/run-*.wandb")):
        ids.add(path.stem.removeprefix("run-"))
        rows += history(path)
    return ids, rows


def _assert_logged_once(run_dir: Path, last_step: int, lost_before: int) -> None:
    rows = _csv_rows(run_dir)
    # every training step logged exactly once, from 0 to the end
    assert _steps_of(rows, "train/word/loss_step") == list(range(last_step + 1))
    for key in ("val/word/acc", "brain/synthetic/score", "train/word/loss_epoch"):
        steps = _steps_of(rows, key)
        assert steps and len(steps) == len(set(steps)), (key, steps)
    ids, wrows = _wandb_history(run_dir)
    record = json.loads((run_dir / "run.json").read_text())
    assert ids == {record["wandb_id"]}  # every attempt logged into the same W&B run
    for key in ("train/word/loss_step", "val/word/acc", "brain/synthetic/score"):
        steps = [r["trainer/global_step"] for r in wrows if key in r]
        duplicated = [s for s, n in Counter(steps).items() if n > 1]
        assert steps and not duplicated, (key, duplicated)
    train_steps = sorted(r["trainer/global_step"] for r in wrows if "train/word/loss_step" in r)
    missing = sorted(set(range(last_step + 1)) - set(train_steps))
    # W&B's offline writer loses what it had not flushed (<= 2 s) when the process is killed;
    # everything from the checkpoint on is logged again.
    assert all(step < lost_before for step in missing), (missing, lost_before)


# SIGTERM's checkpoint-at-the-step path is also tested in-process (test_scaling.py); the
# subprocess version runs with `make test-slow` to keep `make test` short.
@pytest.mark.parametrize("sig", [pytest.param(signal.SIGTERM, marks=pytest.mark.slow), signal.SIGKILL])
def test_killed_run_resumes_without_losing_or_repeating_steps(tmp_path, cache_dir, tiny_corpus, sig):
    logs = tmp_path / "logs"
    proc = _start(logs, cache_dir, ["trainer.max_steps=400"])
    run_dir = _wait_for_step(proc, logs, 6)  # mid-epoch 2 at the earliest
    proc.send_signal(sig)
    out = proc.communicate(timeout=120)[0]
    record = json.loads((run_dir / "run.json").read_text())
    point = latest_checkpoint(run_dir)
    if sig == signal.SIGTERM:
        assert proc.returncode == 128 + signal.SIGTERM, out[-3000:]
        assert "checkpoint written" in out
        assert point.ckpt_path.name == "interrupted.ckpt"
        assert record["status"] == "interrupted" and record["global_step"] == point.global_step
    else:
        assert proc.returncode == -signal.SIGKILL
        assert record["status"] == "running"  # it never knew
    stopped_at = point.global_step
    assert 6 <= stopped_at < 400

    # Same command, resume=auto, a few more steps (ending mid-epoch).
    end = stopped_at + 7
    run_cli("train", [*ARGS, f"trainer.max_steps={end}", "resume=auto"], cache_dir=cache_dir, logs=logs)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "finished" and record["global_step"] == end
    assert [a["resumed_step"] for a in record["attempts"]] == [None, stopped_at]
    hydra_dirs = [Path(a["hydra_dir"]) for a in record["attempts"]]
    assert hydra_dirs[0] == run_dir and hydra_dirs[1] != run_dir  # logs of the 2nd attempt elsewhere
    assert checkpoint_step(run_dir / "checkpoints" / "last.ckpt") >= end - 4
    # after SIGTERM the W&B run was closed properly: nothing may be missing
    _assert_logged_once(run_dir, end - 1, lost_before=0 if sig == signal.SIGTERM else stopped_at)


def test_resumed_epoch_trains_on_the_batches_not_yet_seen(tmp_path, cache_dir, tiny_corpus):
    """The sampler order of an epoch interrupted and resumed equals the uninterrupted one."""
    import pytorch_lightning as pl
    import torch

    seen: list[list[int]] = []

    class Record(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def training_step(self, batch, batch_idx):
            seen.append(batch["word"].tolist())
            return (self.w * batch["waveform"].mean()).sum()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    def fit(max_steps, ckpt=None):
        dm = EmbeddedSpeechDataModule(corpus=CorpusSpec(**TINY_CORPUS), batch_size=4, num_workers=0, cache_dir=str(cache_dir))
        step_ckpt = pl.callbacks.ModelCheckpoint(dirpath=tmp_path / "ck", filename="steps", every_n_train_steps=6,
                                                 monitor=None, enable_version_counter=False)  # fmt: skip
        trainer = pl.Trainer(max_steps=max_steps, max_epochs=10, logger=False, enable_progress_bar=False,
                             limit_val_batches=0, callbacks=[step_ckpt], use_distributed_sampler=False,
                             enable_model_summary=False)  # fmt: skip
        trainer.fit(Record(), datamodule=dm, ckpt_path=ckpt)

    fit(12)
    uninterrupted = list(seen)
    seen.clear()
    fit(7)  # a step checkpoint at step 6: mid-epoch 2 (4 steps per epoch)
    assert checkpoint_step(tmp_path / "ck" / "steps.ckpt") == 6
    seen.clear()
    fit(12, ckpt=str(tmp_path / "ck" / "steps.ckpt"))
    assert seen == uninterrupted[6:]


def test_sampler_shards_cover_the_epoch_once_and_resume_skips_what_was_done():
    n = 23
    shards = [EpochShuffleSampler(n, seed=3, rank=r, world_size=4) for r in range(4)]
    for s in shards:
        s.set_epoch(2)
    orders = [list(s) for s in shards]
    assert all(len(o) == len(shards[0]) == 6 for o in orders)  # ceil(23 / 4), padded by wrapping
    flat = sorted(i for o in orders for i in o)
    assert set(flat) == set(range(n)) and len(flat) == 24  # every index, one repeated as padding
    again = EpochShuffleSampler(n, seed=3, rank=1, world_size=4)
    again.set_epoch(2)
    assert list(again) == orders[1]  # fixed by (seed, epoch)
    again.set_epoch(3)
    epoch3 = list(again)
    assert epoch3 != orders[1]
    again.resume(2, 4)
    assert list(again) == orders[1][4:]  # once (whatever set_epoch said) ...
    assert list(again) == epoch3  # ... then whole epochs of the set epoch again
    with pytest.raises(ValueError, match="rank must be in"):
        EpochShuffleSampler(n, rank=4, world_size=4)
    with pytest.raises(ValueError, match="items_done"):
        again.resume(2, 7)


@pytest.mark.slow
def test_ddp_run_checkpoints_mid_epoch_and_resumes(tmp_path, cache_dir, tiny_corpus):
    """trainer=ddp_sim (2 processes): 18 clips -> 9 per rank -> 2 steps per epoch; a step
    checkpoint at step 3 (mid-epoch 2), resumed to step 6."""
    logs = tmp_path / "logs"
    args = ["debug=fast", "trainer=ddp_sim", "trainer.max_epochs=10", "logger=csv", "~callbacks.brain_score", "sweep_name=ddp",
            "callbacks.step_checkpoint.every_n_train_steps=3", "callbacks.step_checkpoint.train_time_interval=null"]
    for max_steps, resume in ((3, []), (6, ["resume=auto"])):
        run_cli("train", [*args, f"trainer.max_steps={max_steps}", *resume], cache_dir=cache_dir, logs=logs,
                timeout=900)
    (run_dir,) = (logs / "train" / "runs").glob("*/run.json")
    run_dir = run_dir.parent
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "finished" and record["global_step"] == 6
    assert [a["resumed_step"] for a in record["attempts"]] == [None, 3]
    rows = _csv_rows(run_dir)
    assert _steps_of(rows, "train/word/loss_step") == list(range(6))


def test_checkpoints_are_replaced_atomically(tmp_path):
    import pytorch_lightning as pl
    import torch
    from hydra.utils import instantiate

    io = AtomicCheckpointIO()
    path = tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"global_step": 1}, path)
    with pytest.raises(Exception):  # noqa: B017,PT011  (pickling fails half-way through the write)
        io.save_checkpoint({"global_step": 2, "bad": lambda: None}, path)
    assert torch.load(path, weights_only=False) == {"global_step": 1}  # the old one, whole
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no temporary left behind
    cfg = compose_config("train", ["paths.output_dir=" + str(tmp_path)])
    trainer: pl.Trainer = instantiate(cfg.trainer, logger=False, enable_progress_bar=False)
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)


def _loss_logging_net():
    """``(net, loader)``: a LightningModule that logs its loss at every step (and epoch) and a
    validation value, and 10 batches of data (imports kept local to the tests that train
    in-process, like the ones above)."""
    import pytorch_lightning as pl
    import torch

    class Net(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 1)

        def training_step(self, batch, batch_idx):
            loss = self.lin(batch[0]).pow(2).mean()
            self.log("loss", loss, on_step=True, on_epoch=True)
            return loss

        def validation_step(self, batch, batch_idx):
            self.log("val", self.lin(batch[0]).pow(2).mean())

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(40, 4)), batch_size=4)
    return Net(), loader


def test_a_checkpoint_is_written_after_the_metrics_it_covers(tmp_path):
    """A run SIGKILLed just after a checkpoint resumes from it: what it covers must already
    be in metrics.csv. Lightning logs a batch's metrics after a step checkpoint, and an
    epoch's aggregates after an end-of-epoch one."""
    import pytorch_lightning as pl

    from train.fault_tolerance import InterruptCheckpoint
    from train.loggers import CSVLogger

    on_disk_at_save: list[tuple[str, int, list[int], list[int]]] = []

    class Recording(AtomicCheckpointIO):
        def save_checkpoint(self, checkpoint, path, storage_options=None):
            csv_path = tmp_path / "csv" / "metrics.csv"
            rows = list(csv.DictReader(open(csv_path, newline=""))) if csv_path.is_file() else []
            on_disk_at_save.append((Path(path).stem, checkpoint["global_step"], _steps_of(rows, "loss_step"),
                                    _steps_of(rows, "loss_epoch")))  # fmt: skip
            super().save_checkpoint(checkpoint, path, storage_options)

    net, loader = _loss_logging_net()
    step_ckpt = pl.callbacks.ModelCheckpoint(dirpath=tmp_path / "ck", filename="steps", every_n_train_steps=3,
                                             monitor=None, enable_version_counter=False)  # fmt: skip
    last_ckpt = pl.callbacks.ModelCheckpoint(dirpath=tmp_path / "ck", filename="last", monitor=None,
                                             enable_version_counter=False)  # fmt: skip
    trainer = pl.Trainer(max_epochs=2, logger=CSVLogger(tmp_path, name="csv", version=""), log_every_n_steps=1,
                         callbacks=[step_ckpt, last_ckpt, InterruptCheckpoint(str(tmp_path / "ck"))],
                         plugins=[Recording()], enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    trainer.fit(net, loader)
    steps = [(step, logged) for name, step, logged, _ in on_disk_at_save if name == "steps"]
    assert [step for step, _ in steps] == [3, 6, 9, 12, 15, 18]  # 10 batches per epoch
    for step, logged in steps:
        assert logged == list(range(step)), step  # every batch the checkpoint covers, once
    epochs = [(step, logged, epoch_logged) for name, step, logged, epoch_logged in on_disk_at_save if name == "last"]
    assert epochs == [(10, list(range(10)), [9]), (20, list(range(20)), [9, 19])]
    # ... and Lightning's own log of them, after the checkpoint, added nothing twice
    rows = _csv_rows(tmp_path)
    assert _steps_of(rows, "loss_step") == list(range(20))
    assert _steps_of(rows, "loss_epoch") == [9, 19]
    assert [r["epoch"] for r in rows if r.get("loss_epoch")] == ["0", "1"]


# Lightning writes the end-of-epoch checkpoint in on_train_epoch_end (the default trainer),
# or after the epoch's validation (save_on_train_epoch_end=False, as with
# check_val_every_n_epoch > 1).
@pytest.mark.parametrize("after_validation", [False, True])
def test_a_run_killed_right_after_an_end_of_epoch_checkpoint_resumes_with_every_metric(tmp_path, after_validation):
    """The moment a kill can do most harm: the end-of-epoch checkpoint is on disk, nothing
    after it. A copy of the run directory taken then (checkpoint and metrics.csv) is resumed
    to the end: every batch, both epochs' aggregates and validations, and both epoch-end
    scores (logged at the global step, like the brain scores) are in metrics.csv once."""
    import shutil

    import pytorch_lightning as pl

    from train.fault_tolerance import InterruptCheckpoint
    from train.loggers import CSVLogger

    snapshot = tmp_path / "killed"

    class Snapshot(AtomicCheckpointIO):
        def save_checkpoint(self, checkpoint, path, storage_options=None):
            super().save_checkpoint(checkpoint, path, storage_options)
            if checkpoint["global_step"] == 10 and not snapshot.exists():  # the end of epoch 0
                shutil.copytree(tmp_path / "run", snapshot)

    class EpochScore(pl.Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            for logger in trainer.loggers:
                logger.log_metrics({"score": float(trainer.global_step)}, step=trainer.global_step)

    def fit(run_dir, io, ckpt=None):
        net, loader = _loss_logging_net()
        last = pl.callbacks.ModelCheckpoint(dirpath=run_dir / "ck", filename="last", monitor=None,
                                            enable_version_counter=False,
                                            save_on_train_epoch_end=False if after_validation else None)  # fmt: skip
        trainer = pl.Trainer(max_epochs=2, logger=CSVLogger(run_dir, name="csv", version=""), log_every_n_steps=1,
                             callbacks=[EpochScore(), last, InterruptCheckpoint(str(run_dir / "ck"))], plugins=[io],
                             enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
        trainer.fit(net, loader, loader, ckpt_path=ckpt)

    fit(tmp_path / "run", Snapshot())
    fit(snapshot, AtomicCheckpointIO(), ckpt=str(snapshot / "ck" / "last.ckpt"))
    # the run that was not killed logged everything once too (Lightning's repeat of what the
    # checkpoint logged early was dropped, with the epoch's score logged in between)
    for run_dir in (snapshot, tmp_path / "run"):
        rows = _csv_rows(run_dir)
        assert _steps_of(rows, "loss_step") == list(range(20)), run_dir
        assert _steps_of(rows, "loss_epoch") == [9, 19], run_dir
        assert _steps_of(rows, "val") == [9, 19], run_dir
        assert _steps_of(rows, "score") == [10, 20], run_dir


def test_a_row_torn_by_a_kill_is_cut_off_when_the_run_resumes(tmp_path, caplog):
    from train.loggers import CSVLogger

    path = tmp_path / "csv" / "metrics.csv"
    path.parent.mkdir()
    path.write_text("epoch,loss,step\n0,0.5,0\n0,0.25,1\n0,0.12")  # killed while appending step 2
    logger = CSVLogger(tmp_path, name="csv", version="")
    logger.log_metrics({"loss": 0.125, "epoch": 0}, step=2)
    logger.save()
    assert "cut short" in caplog.text and str(path) in caplog.text
    assert logger.resume_floors == {"epoch": 1, "loss": 1}
    assert [(r["loss"], r["step"]) for r in _csv_rows(tmp_path)] == [("0.5", "0"), ("0.25", "1"), ("0.125", "2")]


def test_a_new_column_rewrites_metrics_csv_atomically(tmp_path, monkeypatch):
    """Lightning rewrites the whole file in place when a column appears; a failure (or a kill)
    during that rewrite must leave the old file whole."""
    from train.loggers import CSVLogger

    logger = CSVLogger(tmp_path, name="csv", version="")
    logger.log_metrics({"loss": 0.5}, step=0)
    logger.save()
    path = tmp_path / "csv" / "metrics.csv"
    before = path.read_text()
    logger.log_metrics({"loss": 0.25, "acc": 0.75}, step=1)
    real = csv.DictWriter.writerows

    def fail_half_way(self, rows):
        real(self, list(rows)[:0])
        raise OSError("disk full")

    monkeypatch.setattr(csv.DictWriter, "writerows", fail_half_way)
    with pytest.raises(OSError, match="disk full"):
        logger.save()
    assert path.read_text() == before
    assert [p.name for p in path.parent.iterdir()] == ["metrics.csv"]  # no temporary left behind
    monkeypatch.undo()
    logger.save()
    assert [(r["acc"], r["loss"], r["step"]) for r in _csv_rows(tmp_path)] == [("", "0.5", "0"), ("0.75", "0.25", "1")]


def test_loggers_log_each_value_of_a_step_once():
    from train.loggers import LogsEachValueOnce

    class Sink(LogsEachValueOnce):
        def __init__(self):
            self.calls = []

        def log_metrics(self, metrics, step):
            if (metrics := self._to_log(metrics, step)) is not None:
                self.calls.append((step, metrics))

    sink = Sink()
    # an earlier attempt logged the loss up to step 1 and a brain score at step 2 (the
    # network after 2 steps), then was killed before it logged batch 2
    sink.resume_floors = {"loss": 1, "brain": 2}
    sink.log_metrics({"loss": 1.0}, 1)  # trained again after resuming: dropped
    sink.log_metrics({"brain": 0.3}, 2)  # scored again: dropped
    sink.log_metrics({"loss": 2.0, "epoch": 0}, 2)  # batch 2 was never logged: kept
    sink.log_metrics({"loss": 2.0, "epoch": 0}, 2)  # the repeat after a checkpoint: dropped
    sink.log_metrics({"loss": 2.0, "lr": 0.1, "epoch": 0}, 2)  # only what is new, with its context
    sink.log_metrics({"loss": float("nan"), "epoch": 0}, 3)
    sink.log_metrics({"loss": float("nan"), "epoch": 0}, 3)
    sink.log_metrics({"loss": 2.0, "brain": 0.4, "epoch": 1}, 4)  # a new step logs everything
    sink.log_metrics({"loss": float("nan"), "epoch": 0}, 3)  # a repeat with another step in between
    assert sink.dropped_steps == 2
    assert [(s, sorted(m)) for s, m in sink.calls] == [
        (2, ["epoch", "loss"]),
        (2, ["epoch", "lr"]),
        (3, ["epoch", "loss"]),
        (4, ["brain", "epoch", "loss"]),
    ]

    old_record = Sink()
    old_record.resume_floor_default = 3  # one step for every metric
    old_record.log_metrics({"loss": 1.0}, 3)
    old_record.log_metrics({"loss": 1.0}, 4)
    assert [s for s, _ in old_record.calls] == [4]


def test_csv_resume_drops_each_metric_up_to_its_own_last_step(tmp_path):
    """A brain score at step 10 reached metrics.csv; batch 10's loss had not when the run
    was killed: the resumed run logs the loss at 10, not the score again."""
    from train.loggers import CSVLogger

    path = tmp_path / "csv" / "metrics.csv"
    path.parent.mkdir()
    path.write_text("brain,epoch,loss,step\n,0,0.5,9\n0.3,0,,10\n")
    logger = CSVLogger(tmp_path, name="csv", version="")
    logger.log_metrics({"brain": 0.31}, step=10)
    logger.log_metrics({"loss": 0.25, "epoch": 1}, step=10)
    logger.save()
    rows = [(r["brain"], r["loss"], r["step"]) for r in _csv_rows(tmp_path)]
    assert rows == [("", "0.5", "9"), ("0.3", "", "10"), ("", "0.25", "10")]


def test_wandb_resume_reads_each_metrics_last_step(tmp_path, monkeypatch):
    """Offline: from the run files of earlier attempts. Online: from logged_step.json
    (this logger's own record; an older one-step record applies to every metric)."""
    from tests.helpers.wandb_files import run_file
    from train.loggers import WandbLogger

    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb_config"))
    first = WandbLogger(save_dir=str(tmp_path), id="abc123", offline=True, project="t", resume="allow")
    first.log_metrics({"loss": 0.5}, step=9)
    first.log_metrics({"brain": 0.3}, step=10)
    first.experiment.finish()
    run_file(tmp_path / "wandb")  # written out
    again = WandbLogger(save_dir=str(tmp_path), id="abc123", offline=True, project="t", resume="allow")
    assert again.resume_floors == {"loss": 9, "brain": 10}

    online = tmp_path / "online"
    (online / "wandb").mkdir(parents=True)
    step_file = online / "wandb" / WandbLogger.STEP_FILE
    step_file.write_text(json.dumps({"run_id": "xyz", "steps": {"loss": 9, "brain": 10}}))
    logger = WandbLogger(save_dir=str(online), id="xyz", offline=False, project="t", resume="allow")
    assert logger.resume_floors == {"loss": 9, "brain": 10} and logger.resume_floor_default == -1
    step_file.write_text(json.dumps({"run_id": "xyz", "step": 10}))
    logger = WandbLogger(save_dir=str(online), id="xyz", offline=False, project="t", resume="allow")
    assert logger.resume_floors == {} and logger.resume_floor_default == 10
    assert WandbLogger(save_dir=str(online), id="other", offline=False, project="t").resume_floor_default == -1

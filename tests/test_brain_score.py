"""The brain-score callback: logged to W&B (offline) and CSV, reproduced by python -m evaluate,
several benchmarks, DDP, and failing early."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest
import pytorch_lightning as pl

from evaluate import Score
from evaluate.rundir import read_history
from tests.helpers.cli import run_cli
from tests.helpers.wandb_files import history, run_file, summary
from train.brain_score import BrainScoreCallback

SMALL = "callbacks.brain_score.benchmark_kwargs={synthetic: {voxels_per_participant: 20}}"


def run(module: str, args: list[str], logs: Path, cache_dir: Path) -> subprocess.CompletedProcess:
    return run_cli(module, args, cache_dir=cache_dir, logs=logs, timeout=900)


def only(path: Path) -> Path:
    (item,) = path.iterdir()
    return item


@pytest.mark.slow  # trains and evaluates through the CLI (about a minute); make test runs the csv-logger run below
def test_wandb_run_holds_brain_scores_and_evaluate_reproduces_them(tmp_path, cache_dir, tiny_corpus):
    logs = tmp_path / "logs"
    run("train", ["debug=fast", "trainer.max_steps=-1", "trainer.max_epochs=2"], logs, cache_dir)
    run_dir = only(logs / "train" / "runs")
    rows = history(run_file(run_dir / "wandb"))
    brain = [r for r in rows if "brain/synthetic/score" in r]
    assert [r["trainer/global_step"] for r in brain] == [4, 8]  # once per epoch, against the global step
    for r in brain:
        assert 0 < r["brain/synthetic/score"] <= 1 and r["brain/synthetic/seconds"] > 0
        for roi in ("Primary", "Anterior", "Lateral", "Posterior"):
            assert f"brain/synthetic/{roi}/score" in r and 0 <= r[f"brain/synthetic/{roi}/best_rel_layer"] <= 1
        assert {f"brain/synthetic/layer/{layer}" for layer in ("relu0", "relu4", "relufc")} <= set(r)
        assert "brain/synthetic/rsa" in r
    keys = {k for r in rows for k in r}
    assert "brain/synthetic/per_layer/_type" in keys and "brain/synthetic/layer_x_roi/filenames" in keys
    pngs = list((run_dir / "wandb").rglob("layer_x_roi_*.png"))
    assert len(pngs) == 2 and all(p.read_bytes()[:4] == b"\x89PNG" for p in pngs)
    assert any("val/word/acc" in r for r in rows)  # beside the task metrics
    best = max(r["brain/synthetic/score"] for r in brain)
    assert summary(run_file(run_dir / "wandb"))["brain/synthetic/best_score"] == pytest.approx(best)

    hist = read_history(run_dir)
    assert [e["step"] for e in hist["evaluations"]] == [4, 8] and hist["best"]["synthetic"] == pytest.approx(best)
    step8 = Score.load(run_dir / "brain_scores" / "synthetic" / "step00000008")
    assert step8.value == pytest.approx(brain[-1]["brain/synthetic/score"], rel=1e-12)

    # python -m evaluate on the checkpoint of that step gives exactly the callback's numbers.
    run("evaluate", [f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}", "benchmark=synthetic",
                     "benchmark.voxels_per_participant=20", "progress=false"], logs, cache_dir)  # fmt: skip
    cli = Score.load(only(logs / "evaluate" / "runs") / "score")
    assert cli.value == step8.value and cli.sem == step8.sem
    assert cli.per_roi.equals(step8.per_roi) and cli.per_layer.equals(step8.per_layer)
    assert cli.per_voxel["r2_corrected"].equals(step8.per_voxel["r2_corrected"])


def csv_rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "csv" / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_csv_run_with_two_benchmarks(tmp_path, cache_dir, tiny_corpus):
    logs = tmp_path / "logs"
    run("train", ["debug=fast", "logger=csv", "trainer.max_steps=-1", "trainer.max_epochs=1",
                  "callbacks.brain_score.benchmarks=[synthetic,synthetic-comp]",
                  "callbacks.brain_score.layers=[relu1,relu3,relufc]"], logs, cache_dir)  # fmt: skip
    run_dir = only(logs / "train" / "runs")
    rows = [r for r in csv_rows(run_dir) if r.get("brain/synthetic/score")]
    assert len(rows) == 1 and rows[0]["step"] == "4"
    comp = [r for r in csv_rows(run_dir) if r.get("brain/synthetic-comp/score")]
    assert len(comp) == 1 and float(comp[0]["brain/synthetic-comp/score"]) > -1
    assert "brain/synthetic/layer/relu3" in rows[0] and "brain/synthetic/layer/relu0" not in rows[0]
    assert (run_dir / "brain_scores" / "synthetic-comp" / "step00000004" / "score.json").is_file()


def metric_rows(run_dir: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k.startswith("brain/") and v} for r in csv_rows(run_dir)]


@pytest.mark.slow
def test_ddp_spawn_logs_once_with_single_process_values(tmp_path, cache_dir, tiny_corpus):
    common = ["debug=fast", "logger=csv", "trainer.max_steps=-1", "trainer.max_epochs=1", "trainer.accelerator=cpu",
              "callbacks.brain_score.at_start=true", "callbacks.brain_score.at_end=false",
              "callbacks.brain_score.layers=[relu0,relufc]"]  # fmt: skip
    run("train", [*common, "trainer.devices=1"], tmp_path / "single", cache_dir)
    run("train", [*common, "trainer=ddp_sim"], tmp_path / "ddp", cache_dir)
    single = [r for r in metric_rows(only(tmp_path / "single" / "train" / "runs")) if r]
    ddp = [r for r in metric_rows(only(tmp_path / "ddp" / "train" / "runs")) if r]
    assert len(ddp) == 2 and len(single) == 2  # step 0 and the end of the epoch, each logged once
    # Step 0: the same initial weights, so the same numbers (the timing aside), up to the
    # summation order of 1 thread per DDP process vs 2 in the single process.
    drop = {"brain/synthetic/seconds"}
    assert set(ddp[0]) == set(single[0])
    for key in set(ddp[0]) - drop:
        assert float(ddp[0][key]) == pytest.approx(float(single[0][key]), rel=1e-6, abs=1e-9), key


def _trainer(tmp_path) -> pl.Trainer:
    return pl.Trainer(logger=False, enable_checkpointing=False, default_root_dir=tmp_path, accelerator="cpu")


def test_missing_benchmark_or_layer_stops_at_setup(tmp_path, cache_dir):
    from models import CochCNN9

    net = CochCNN9(heads={"word": 3}, width=1 / 16)
    bad = BrainScoreCallback(benchmarks=["nh2015"], fmri_root=tmp_path / "nowhere", cache_dir=cache_dir)
    with pytest.raises(
        FileNotFoundError, match="benchmark 'nh2015' could not be loaded: .*python -m evaluate.download"
    ):
        bad.setup(_trainer(tmp_path), net, "fit")
    with pytest.raises(ValueError, match=r"has no submodule\(s\) \['relu9'\]"):
        BrainScoreCallback(layers=["relu0", "relu9"], cache_dir=cache_dir).setup(_trainer(tmp_path), net, "fit")
    with pytest.raises(ValueError, match="benchmarks: unknown benchmark 'nh2016'; available: nh2015, b2021"):
        BrainScoreCallback(benchmarks=["nh2016"], cache_dir=cache_dir).setup(_trainer(tmp_path), net, "fit")


def test_a_failing_benchmark_stops_the_run_before_training(tmp_path, cache_dir, tiny_corpus):
    proc = run_cli("train", ["debug=fast", "logger=csv", "callbacks.brain_score.benchmarks=[synthetic,nh2015]",
                             f"callbacks.brain_score.fmri_root={tmp_path / 'nowhere'}"],
                   cache_dir=cache_dir, logs=tmp_path, check=False)  # fmt: skip
    assert proc.returncode != 0
    assert "benchmark 'nh2015' could not be loaded" in proc.stdout + proc.stderr
    run_dir = only(tmp_path / "train" / "runs")
    assert not (run_dir / "checkpoints").exists()  # not a single training step
    assert (
        not (run_dir / "csv" / "metrics.csv").exists() or "train/" not in (run_dir / "csv" / "metrics.csv").read_text()
    )


def test_history_json_is_written_atomically(tmp_path):
    cb = BrainScoreCallback()
    cb.load_state_dict({"history": [{"step": 3}], "best": {"synthetic": 0.5}})
    assert cb.state_dict() == {"history": [{"step": 3}], "best": {"synthetic": 0.5}}
    json.dumps(cb.state_dict())


def test_cadence_by_steps_epochs_and_end(monkeypatch):
    class Stub:
        global_step, current_epoch = 0, 0

    def fake_evaluate(self, trainer, pl_module):
        self._last_step = trainer.global_step
        calls.append(trainer.global_step)

    monkeypatch.setattr(BrainScoreCallback, "evaluate", fake_evaluate)
    calls: list[int] = []
    cb, t = BrainScoreCallback(every_n_steps=3, at_start=True), Stub()
    cb.on_train_start(t, None)
    for step in [1, 2, 3, 3, 3, 4, 5, 6]:  # repeated steps: gradient accumulation
        t.global_step = step
        cb.on_train_batch_end(t, None)
        cb.on_train_epoch_end(t, None)  # by steps: epochs do not trigger
    cb.on_train_end(t, None)  # step 6 was just scored: not again
    assert calls == [0, 3, 6]
    calls.clear()
    cb, t = BrainScoreCallback(every_n_epochs=2), Stub()
    for epoch, step in enumerate([4, 8, 12]):
        t.current_epoch, t.global_step = epoch, step
        cb.on_train_epoch_end(t, None)
    cb.on_train_end(t, None)
    assert calls == [8, 12]  # epochs 2 and the end of training (step 12)

"""End-to-end `python -m train` runs on the tiny corpus (debug=fast)."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest
import torch

from tests.helpers.cli import run_cli, run_dirs, start_cli
from tests.helpers.wandb_files import history, records, run_file

# The brain-score callback has its own tests (test_brain_score.py); these are about training.
NO_BRAIN_SCORE = "~callbacks.brain_score"


def run_train(args: list[str], logs: Path, cache_dir: Path) -> subprocess.CompletedProcess:
    return run_cli("train", ["debug=fast", NO_BRAIN_SCORE, *args], cache_dir=cache_dir, logs=logs)


def test_wandb_run_checkpoint_and_resume(tmp_path, cache_dir, tiny_corpus):
    logs = tmp_path / "logs"
    # One epoch of the tiny corpus (4 steps), then resume for a second one.
    run_train(["trainer.max_steps=-1", "trainer.max_epochs=1"], logs, cache_dir)
    (first,) = run_dirs(logs)
    last = first / "checkpoints" / "last.ckpt"
    assert last.is_file()
    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 4
    assert ckpt["auditory_dnn"]["vocabularies"]["word"] == tiny_corpus.vocabulary
    assert ckpt["auditory_dnn"]["label_sizes"] == {"word": 6}

    rows = history(run_file(first / "wandb"))
    steps = [r["trainer/global_step"] for r in rows if "train/word/loss_step" in r]
    assert steps == [0, 1, 2, 3]
    assert all(r["train/word/loss_step"] > 0 for r in rows if "train/word/loss_step" in r)

    run_train([f"ckpt_path={last}", "trainer.max_steps=-1", "trainer.max_epochs=2"], logs, cache_dir)
    second = next(d for d in run_dirs(logs) if d != first)
    resumed = torch.load(second / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert resumed["global_step"] == 8
    rows = history(run_file(second / "wandb"))
    steps = [r["trainer/global_step"] for r in rows if "train/word/loss_step" in r]
    assert steps == [4, 5, 6, 7]  # continues where the first run stopped; nothing re-logged
    val = [r["val/word/acc"] for r in rows if "val/word/acc" in r]
    assert val and all(0.0 <= v <= 1.0 for v in val)


def test_csv_logger_and_unique_run_dirs(tmp_path, cache_dir, tiny_corpus):
    logs = tmp_path / "logs"
    args = ["debug=fast", NO_BRAIN_SCORE, "logger=csv", "trainer.max_steps=4"]
    # started in the same second: their run directories must still differ
    procs = [start_cli("train", args, cache_dir=cache_dir, logs=logs) for _ in range(2)]
    for p in procs:
        out, _ = p.communicate(timeout=600)
        assert p.returncode == 0, out[-3000:]
    dirs = run_dirs(logs)
    assert len(dirs) == 2
    for d in dirs:
        with open(d / "csv" / "metrics.csv") as f:
            rows = list(csv.DictReader(f))
        assert any(r.get("val/word/acc") for r in rows)
        assert any(r.get("train/word/loss_step") for r in rows)
        assert (d / "checkpoints" / "last.ckpt").is_file()


def test_unknown_override_is_a_hydra_error(tmp_path, cache_dir):
    proc = run_cli("train", ["model=resnet9000"], cache_dir=cache_dir, logs=tmp_path, timeout=120, check=False)
    assert proc.returncode != 0
    assert "Could not find 'model/resnet9000'" in proc.stderr + proc.stdout


@pytest.mark.parametrize("noise", ["clean"])
def test_clean_condition_trains(tmp_path, cache_dir, tiny_corpus, noise):
    run_train([f"data.noise={noise}", "logger=none", "trainer.max_steps=2"], tmp_path / "logs", cache_dir)
    (run,) = run_dirs(tmp_path / "logs")
    assert "clean" in run.name and (run / "checkpoints" / "last.ckpt").is_file()


def test_multirun_sweep_one_job_per_combination_grouped_in_wandb(tmp_path, cache_dir, tiny_corpus):
    logs = tmp_path / "logs"
    run_cli("train", ["-m", "debug=fast", NO_BRAIN_SCORE, "task=word,speaker", "seed=0,1", "sweep_name=smoke",
                      "trainer.max_steps=2"], cache_dir=cache_dir, logs=logs)  # fmt: skip
    (sweep,) = (logs / "train" / "multiruns").iterdir()
    jobs = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert jobs == ["0_cochcnn9_word_noisy_seed0", "1_cochcnn9_word_noisy_seed1", "2_cochcnn9_speaker_noisy_seed0",
                    "3_cochcnn9_speaker_noisy_seed1"]  # fmt: skip
    runs = []
    for job in jobs:
        assert (sweep / job / "checkpoints" / "last.ckpt").is_file()
        (run,) = [r.run for r in records(run_file(sweep / job / "wandb")) if r.WhichOneof("record_type") == "run"]
        runs.append(run)
    assert {r.run_group for r in runs} == {"smoke"}
    assert len({r.run_id for r in runs}) == 4 and [r.display_name for r in runs] == [j.split("_", 1)[1] for j in jobs]

"""Released checkpoints wherever a network is accepted: python -m evaluate model=reference,
python -m train init_from=..., evaluate.score_model and the brain-score callback; and
checkpoints of earlier versions of our CochCNN9 refused with a clear message."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import evaluate
from models import CochCNN9, load_network, load_reference_checkpoint
from tests.helpers import our_layout
from tests.helpers.cli import only_run_dir, run_cli
from tests.helpers.reference_layout import write
from train.init_from import initialise_from


@pytest.mark.slow  # through the CLI (about a minute); make test scores a loaded release in-process (below)
def test_evaluate_cli_scores_a_released_checkpoint_and_its_permuted_control(tmp_path, cache_dir):
    path, _ = write(tmp_path, "CochCNN9", True, seed=1)
    logs = tmp_path / "logs"
    proc = run_cli("evaluate", ["model=reference", f"model.path={path}", "benchmark=synthetic",
                                "benchmark.voxels_per_participant=20", "layers=[relu2,relufc]", "control=permuted",
                                "figures=false", "progress=false"], cache_dir=cache_dir, logs=logs)  # fmt: skip
    run = only_run_dir(logs)
    score = json.loads((run / "score" / "score.json").read_text())
    assert score["model"] == "CochCNN9-reference@0b1e-uuid"
    weights = score["info"]["model"]["weights"]
    assert weights["architecture"] == "kell2018_multi_task" and len(weights["sha256"]) == 64
    assert weights["path"] == str(path.resolve())
    control = json.loads((run / "control_permuted" / "score" / "score.json").read_text())
    assert control["model"] == "CochCNN9-reference@0b1e-uuid:permuted-seed0"
    assert "BatchNorm statistics included" in proc.stdout


def test_score_model_and_the_brain_score_callback_accept_a_loaded_network(tmp_path, cache_dir):
    path, _ = write(tmp_path, "CochCNN9", False, seed=2)
    net = load_reference_checkpoint(path)
    layers = ["relu2", "relufc"]
    bench = evaluate.load_benchmark("synthetic", voxels_per_participant=20, cache_dir=cache_dir, progress=False)
    result = evaluate.score_model(net, bench, layers, cache=False, progress=False, rsa=False)
    assert result.model == net.identifier and "-reference@" in result.model and np.isfinite(result.value)

    import pytorch_lightning as pl

    from train import BrainScoreCallback
    from train.module import TaskModule
    from train.objectives import ClassificationObjective

    callback = BrainScoreCallback(benchmarks=["synthetic"], layers=layers, output_dir=tmp_path / "run", rsa=False,
                                  benchmark_kwargs={"synthetic": {"voxels_per_participant": 20}},
                                  cache_dir=cache_dir)  # fmt: skip
    module = TaskModule(net, {"word": ClassificationObjective("word")}, {"word": 794}, torch.optim.SGD)
    trainer = pl.Trainer(max_steps=0, logger=False, enable_checkpointing=False, callbacks=[callback],
                         enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    callback.setup(trainer, module, "fit")
    metrics = callback.evaluate(trainer, module)
    assert metrics["brain/synthetic/score"] == pytest.approx(result.value, rel=1e-9)


def test_init_from_a_released_checkpoint_loads_the_trunk_and_matching_heads(tmp_path):
    path, ckpt = write(tmp_path, "CochCNN9", True, seed=3)
    released = load_reference_checkpoint(path)
    torch.manual_seed(0)
    net = CochCNN9({"word": 794, "speaker": 20}, width=1 / 8)
    fresh_speaker = net.heads["speaker"].weight.clone()
    report = initialise_from(net, path)
    for key, value in released.state_dict().items():
        if not key.startswith("heads.speaker") and not key.startswith("heads.audioset"):
            assert torch.equal(net.state_dict()[key], value), key
    assert torch.equal(net.heads["speaker"].weight, fresh_speaker)  # 433 classes there, 20 here
    assert report.initialised == {"speaker": "the checkpoint's has 433 classes, this run's 20"}
    assert report.unused == ["heads.audioset", "heads.speaker"]
    lines = "\n".join(report.lines())
    assert "the authors' kell2018_multi_task" in lines and "trunk and heads word" in lines
    # Another width or architecture: an error naming the key.
    with pytest.raises(ValueError, match=r"'conv0.weight' is of shape \[12, 1, 7, 14\] in the checkpoint, but this "
                                         r"run's CochCNN9 has it with shape \[6, 1, 7, 14\]"):  # fmt: skip
        initialise_from(CochCNN9({"word": 5}, width=1 / 16), path)


@pytest.mark.slow  # trains through the CLI (about a minute); initialise_from itself is tested above
def test_init_from_our_own_checkpoint_and_the_train_cli(tmp_path, cache_dir, tiny_corpus):
    torch.manual_seed(4)
    source = CochCNN9({"word": 6, "speaker": 3}, width=0.125)
    ours = our_layout.write(tmp_path / "last.ckpt", source)
    torch.manual_seed(5)
    net = CochCNN9({"word": 6}, width=0.125)
    report = initialise_from(net, ours)
    assert all(torch.equal(v, source.state_dict()[k]) for k, v in net.state_dict().items())
    assert report.unused == ["heads.speaker"] and report.initialised == {}
    assert "python -m train, step 7" in report.source

    released, _ = write(tmp_path, "CochCNN9", False, seed=6)
    logs = tmp_path / "logs"
    proc = run_cli("train", ["debug=fast", f"init_from={released}", "logger=csv", "trainer.max_steps=2",
                             "trainer.max_epochs=1", "callbacks.brain_score.at_end=true"],
                   cache_dir=cache_dir, logs=logs)  # fmt: skip
    out = proc.stdout + proc.stderr
    assert "Initialised from" in out and "the authors' kell2018" in out
    assert "head 'word' newly initialised: the checkpoint's has 794 classes, this run's 6" in out
    run = only_run_dir(logs, "train")
    history = json.loads((run / "brain_scores" / "history.json").read_text())
    assert history["evaluations"] and np.isfinite(history["best"]["synthetic"])


def test_checkpoints_of_earlier_versions_are_refused_with_a_clear_message(tmp_path, cache_dir):
    torch.manual_seed(0)
    net = CochCNN9({"word": 6}, width=0.125)
    old = our_layout.write(tmp_path / "old.ckpt", net, layout=None)
    with pytest.raises(ValueError, match=r"old.ckpt was written by an earlier version of auditory-dnn .*convolution "
                                         r"biases.*git checkout 2c51014"):  # fmt: skip
        load_network(old)
    with pytest.raises(ValueError, match="earlier version of auditory-dnn"):
        initialise_from(CochCNN9({"word": 6}, width=0.125), old)
    assert load_network(our_layout.write(tmp_path / "last.ckpt", net)).net.conv0.bias is None  # today's layout loads
    proc = run_cli("evaluate", [f"ckpt_path={old}", "benchmark=synthetic", "benchmark.voxels_per_participant=20",
                                "progress=false"], cache_dir=cache_dir, logs=tmp_path / "logs", timeout=300,
                   check=False)  # fmt: skip
    assert proc.returncode == 1 and "earlier version of auditory-dnn" in proc.stderr
    assert "Traceback" not in proc.stderr
    # A released file passed as our checkpoint: pointed to model=reference.
    released, _ = write(tmp_path, "CochCNN9", False, seed=1)
    with pytest.raises(ValueError, match="model=reference model.path="):
        load_network(released)

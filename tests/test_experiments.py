"""Every paper experiment config composes and trains a few steps on the embedded corpus."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import open_dict

from tests.conftest import REPO
from tests.test_configs import _compose

EXPERIMENTS = sorted(p.stem for p in (REPO / "conf" / "experiment").glob("coch*.yaml"))
HEADS = {
    "word": {"word"},
    "speaker": {"speaker"},
    "audioset": {"audioset"},
    "multitask": {"word", "speaker", "audioset"},
}


def test_the_paper_grid_is_there():
    expected = {f"{m}_{t}" for m in ("cochcnn9", "cochresnet50") for t in ("word", "speaker", "audioset", "multitask")}
    assert expected | {"cochcnn9_word_clean", "cochresnet50_word_clean"} == set(EXPERIMENTS)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_trains_a_few_steps(name, tmp_path, cache_dir, tiny_corpus):
    from train.app import train

    model, task = name.split("_")[:2]
    full = _compose([f"experiment={name}"], tmp_path / "full")
    assert full.model._target_.endswith("CochCNN9" if model == "cochcnn9" else "CochResNet50")
    assert set(full.task.heads) == HEADS[task]
    assert full.data.noise == ("clean" if name.endswith("_clean") else "noisy")
    assert full.data.batch_size == (128 if model == "cochcnn9" else 256)
    if task == "audioset":
        assert (
            full.trainer.gradient_clip_val == 1.0 and full.scheduler.step_size == 14 and full.trainer.max_epochs == 42
        )
    else:
        assert full.scheduler.step_size == 50 and full.trainer.max_epochs == 150
    # The authors' trainer builds only SGD with momentum 0.9, AudioSet recipes included.
    assert full.optimizer._target_ == "torch.optim.SGD" and full.optimizer.momentum == 0.9
    if model == "cochcnn9":  # the multi-task architecture's batchnorm0 for speaker, audioset, multitask
        expected = None if task == "word" else [0.6180, -2.0971]
        assert (None if full.model.batchnorm0_init is None else list(full.model.batchnorm0_init)) == expected

    cfg = _compose([f"experiment={name}", "debug=fast", "~callbacks.brain_score", "logger=none", "trainer.max_steps=-1", "trainer.max_epochs=1",
                    "+trainer.limit_train_batches=2",
                    "+trainer.limit_val_batches=1", f"paths.cache_dir={cache_dir}"], tmp_path / "run")  # fmt: skip
    with open_dict(cfg):
        del cfg["hydra"]  # as in a real run: the task function never sees hydra's own node
    metrics = train(cfg)
    losses = {k: v for k, v in metrics.items() if k.endswith(("loss", "loss_epoch"))}
    assert losses and all(math.isfinite(v) for v in losses.values()), losses
    for head in HEADS[task]:
        assert f"val/{head}/loss" in metrics
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert set(ckpt["auditory_dnn"]["vocabularies"]) == HEADS[task]
    assert ckpt["global_step"] == 2


@pytest.mark.parametrize("model", ["cochcnn9", "cochresnet50"])
def test_bf16_mixed_precision_trains_on_cpu(model, tmp_path, cache_dir, tiny_corpus):
    from train.app import train

    cfg = _compose([f"model={model}", "debug=fast", "~callbacks.brain_score", "logger=none", "trainer.max_steps=-1",
                    "trainer.max_epochs=1", "+trainer.limit_train_batches=2", "+trainer.limit_val_batches=1",
                    "trainer.precision=bf16-mixed", f"paths.cache_dir={cache_dir}"], tmp_path)  # fmt: skip
    with open_dict(cfg):
        del cfg["hydra"]
    metrics = train(cfg)
    assert math.isfinite(metrics["val/word/loss"]) and math.isfinite(metrics["train/loss_epoch"])

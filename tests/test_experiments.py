"""The paper's recipes (conf/recipe/) are docs/reference.md section 4; every experiment preset is
model + task + noise + its recipe, composes, and trains a few steps on the embedded corpus."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf, open_dict

from tests.helpers import REPO
from tests.helpers.configs import compose_run


def _train_config(overrides: list[str], run_dir):
    return compose_run("train", overrides, run_dir)


RECIPES = sorted(p.stem for p in (REPO / "conf" / "recipe").glob("coch*.yaml"))  # the paper's (not quickstart)

EXPERIMENTS = sorted(p.stem for p in (REPO / "conf" / "experiment").glob("coch*.yaml"))
HEADS = {
    "word": {"word"},
    "speaker": {"speaker"},
    "audioset": {"audioset"},
    "multitask": {"word", "speaker", "audioset"},
}


# docs/reference.md section 4 (SGD, momentum 0.9 throughout; StepLR gamma 0.1): batch, lr,
# weight decay, StepLR step, epochs, gradient-norm clip, and batchnorm0 of the authors'
# multi-task CochCNN9 (None: the model's default).
_BN0 = [0.6180, -2.0971]
_KEYS = ("batch_size", "lr", "weight_decay", "step_size", "max_epochs", "gradient_clip_val", "batchnorm0_init")
RECIPE_TABLE = {
    name: dict(zip(_KEYS, row, strict=True))
    for name, row in {
        "cochcnn9_word": (128, 0.01, 1e-4, 50, 150, None, None),
        "cochcnn9_speaker": (128, 0.01, 1e-4, 50, 150, None, _BN0),
        "cochcnn9_audioset": (128, 1e-5, 0.0, 14, 42, 1.0, _BN0),
        "cochcnn9_multitask": (128, 0.01, 1e-4, 50, 150, 1.0, _BN0),  # ours: word + clip (README)
        "cochresnet50_word": (256, 0.1, 1e-4, 50, 150, None, None),
        "cochresnet50_speaker": (256, 0.1, 1e-4, 50, 150, None, None),
        "cochresnet50_audioset": (256, 1e-3, 1e-4, 14, 42, 1.0, None),
        "cochresnet50_multitask": (256, 0.1, 1e-4, 50, 150, 1.0, None),  # ours: word + clip (README)
    }.items()
}


def _job(cfg) -> dict:
    """The resolved config the task function sees (without Hydra's own node)."""
    with open_dict(cfg):
        del cfg["hydra"]
    return OmegaConf.to_container(cfg, resolve=True)


def test_every_recipe_is_in_the_table():
    assert set(RECIPES) == set(RECIPE_TABLE)


@pytest.mark.parametrize("recipe", RECIPES)
def test_recipe_is_the_reference_recipe(recipe, tmp_path):
    model = recipe.split("_")[0]
    cfg = _train_config([f"recipe={recipe}", f"model={model}"], tmp_path)  # composed directly, no experiment
    expected = RECIPE_TABLE[recipe]
    assert cfg.optimizer._target_ == "torch.optim.SGD" and cfg.optimizer.momentum == 0.9
    assert cfg.optimizer.lr == expected["lr"] and cfg.optimizer.weight_decay == expected["weight_decay"]
    assert cfg.scheduler._target_ == "torch.optim.lr_scheduler.StepLR"
    assert cfg.scheduler.step_size == expected["step_size"] and cfg.scheduler.gamma == 0.1
    assert cfg.trainer.max_epochs == expected["max_epochs"] and cfg.data.batch_size == expected["batch_size"]
    assert cfg.trainer.gradient_clip_val == expected["gradient_clip_val"]
    bn0 = cfg.model.get("batchnorm0_init")
    assert (None if bn0 is None else list(bn0)) == expected["batchnorm0_init"]
    assert cfg.task.name == "word" and cfg.data.noise == "noisy"  # a recipe leaves task and data alone


@pytest.mark.parametrize("recipe", ["cochcnn9_word", "cochresnet50_audioset"])
def test_a_recipe_does_not_undo_other_choices(recipe, tmp_path):
    """Optimiser settings given on the command line win over the recipe's, as with any Hydra group."""
    cfg = _train_config([f"recipe={recipe}", "optimizer.lr=0.5", "trainer.max_epochs=3", "task=speaker"], tmp_path)
    assert cfg.optimizer.lr == 0.5 and cfg.trainer.max_epochs == 3 and cfg.task.name == "speaker"
    assert cfg.optimizer.momentum == 0.9 and cfg.scheduler.step_size == RECIPE_TABLE[recipe]["step_size"]


def test_the_default_run_is_the_cochcnn9_word_recipe(tmp_path):
    assert _job(compose_run("train", [], tmp_path)) == _job(compose_run("train", ["recipe=cochcnn9_word"], tmp_path))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_is_its_recipe_model_task_and_noise(name, tmp_path):
    model, task = name.split("_")[:2]
    noise = "clean" if name.endswith("_clean") else "noisy"
    preset = compose_run("train", [f"experiment={name}"], tmp_path)
    assert preset.hydra.runtime.choices.recipe == f"{model}_{task}"
    spelled_out = [f"recipe={model}_{task}", f"model={model}", f"task={task}", f"data.noise={noise}"]
    assert _job(preset) == _job(compose_run("train", spelled_out, tmp_path))


def test_an_experiments_recipe_can_be_swapped(tmp_path):
    cfg = _train_config(["experiment=cochcnn9_word", "recipe=cochcnn9_audioset"], tmp_path)
    assert cfg.task.name == "word" and cfg.optimizer.lr == 1e-5 and cfg.trainer.max_epochs == 42


def test_quickstart_uses_adamw_without_a_schedule(tmp_path):
    cfg = compose_run("train", ["experiment=quickstart"], tmp_path)
    assert cfg.optimizer._target_ == "torch.optim.AdamW" and cfg.optimizer.lr == 3e-4 and cfg.scheduler is None
    assert cfg.data.batch_size == 16 and cfg.trainer.max_epochs == 4 and cfg.model.width == 0.125
    assert cfg.hydra.runtime.choices.optimizer == "adamw" and cfg.hydra.runtime.choices.recipe == "quickstart"
    # its recipe swapped for a paper one: a clean SGD recipe, not AdamW with SGD's momentum
    paper = _train_config(["experiment=quickstart", "recipe=cochcnn9_word"], tmp_path)
    assert _job(paper)["optimizer"] == _job(compose_run("train", [], tmp_path))["optimizer"]
    assert paper.scheduler.step_size == 50 and paper.model.width == 0.125


def test_the_paper_grid_is_there():
    expected = {f"{m}_{t}" for m in ("cochcnn9", "cochresnet50") for t in ("word", "speaker", "audioset", "multitask")}
    assert expected | {"cochcnn9_word_clean", "cochresnet50_word_clean"} == set(EXPERIMENTS)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_trains_a_few_steps(name, tmp_path, cache_dir, tiny_corpus):
    from train.app import train

    model, task = name.split("_")[:2]
    full = _train_config([f"experiment={name}"], tmp_path / "full")
    assert full.model._target_.endswith("CochCNN9" if model == "cochcnn9" else "CochResNet50")
    assert set(full.task.objectives) == HEADS[task]
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

    cfg = _train_config([f"experiment={name}", "debug=fast", "~callbacks.brain_score", "logger=none", "trainer.max_steps=-1", "trainer.max_epochs=1",
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

    cfg = _train_config([f"model={model}", "debug=fast", "~callbacks.brain_score", "logger=none", "trainer.max_steps=-1",
                    "trainer.max_epochs=1", "+trainer.limit_train_batches=2", "+trainer.limit_val_batches=1",
                    "trainer.precision=bf16-mixed", f"paths.cache_dir={cache_dir}"], tmp_path)  # fmt: skip
    with open_dict(cfg):
        del cfg["hydra"]
    metrics = train(cfg)
    assert math.isfinite(metrics["val/word/loss"]) and math.isfinite(metrics["train/loss_epoch"])

"""Every config option composes and builds; unknown options are Hydra's own errors."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from omegaconf import OmegaConf

import conf.resolvers  # noqa: F401  (registers ${run_id:})
from tests.helpers import REPO
from tests.helpers.configs import compose_run

GROUPS = ["model", "task", "data", "optimizer", "scheduler", "trainer", "logger", "callbacks", "paths", "experiment",
          "debug"]  # fmt: skip


# Options that need a user's data paths (their readers are tested on fixtures in test_wsn/test_manifest).
USER_PATHS = {
    ("data", "wsn"): ["data.train_glob=/data/wsn/train_*/JSIN_all__run_*.h5", "data.val_glob=/data/wsn/valid_*/*.h5"],
    ("data", "manifest"): ["data.train_manifest=/data/me/train.csv", "data.val_manifest=/data/me/val.csv"],
}


# For python -m evaluate only: a user's released checkpoint (tests/test_reference_usage.py scores one;
# python -m train takes it as init_from=).
EVALUATION_ONLY = {("model", "reference"), ("model", "spectrotemporal")}  # no heads to train


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (REPO / "conf" / group).glob("*.yaml"))


def _compose(overrides: list[str], tmp_path):
    return compose_run("train", overrides, tmp_path)


def test_every_group_has_options():
    for group in GROUPS:
        assert options(group), f"conf/{group} is empty"


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g) if (g, o) not in EVALUATION_ONLY])
def test_option_composes_and_builds(group, option, tmp_path):
    cfg = _compose([f"{group}={option}", *USER_PATHS.get((group, option), [])], tmp_path)
    for key in cfg:  # every interpolation resolves (hydra's own sweep keys need a job number)
        if key != "hydra" and OmegaConf.is_config(cfg[key]):
            OmegaConf.to_container(cfg[key], resolve=True)
    objectives = {name: instantiate(spec) for name, spec in cfg.task.objectives.items()}
    sizes = {name: 7 for name in objectives}
    net = instantiate(cfg.model, heads=sizes)
    optimizer = instantiate(cfg.optimizer)(net.parameters())
    if cfg.scheduler is not None:
        instantiate(cfg.scheduler)(optimizer)
    for spec in (cfg.callbacks or {}).values():
        instantiate(spec)
    if (group, option) not in USER_PATHS:  # real-data readers are built on fixture files in their own tests
        data = instantiate(cfg.data)  # builds the DataModule without rendering anything
        assert data.spec.vocabulary_size >= 1
    trainer = instantiate(cfg.trainer, logger=False, callbacks=[], enable_progress_bar=False)
    assert trainer.max_epochs >= 1


def test_default_is_the_paper_configuration(tmp_path):
    cfg = _compose([], tmp_path)
    assert cfg.model.width == 1.0
    assert cfg.data.batch_size == 128 and cfg.data.noise == "noisy" and list(cfg.data.snr_db) == [-10, 10]
    assert cfg.optimizer.lr == 0.01 and cfg.optimizer.momentum == 0.9 and cfg.optimizer.weight_decay == 1e-4
    assert cfg.scheduler.step_size == 50 and cfg.scheduler.gamma == 0.1
    assert cfg.trainer.max_epochs == 150 and cfg.trainer.accelerator == "auto"
    assert cfg.logger.wandb.offline is True


@pytest.mark.parametrize("override", ["model=cochcnn10", "task=dance", "data.nosie=clean", "logger=tensorboardx"])
def test_unknown_options_are_hydra_errors(override, tmp_path):
    with pytest.raises(ConfigCompositionException):
        _compose([override], tmp_path)

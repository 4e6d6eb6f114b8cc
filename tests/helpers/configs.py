"""The Hydra configs composed from ``conf/`` as the apps compose them, and ``python -m evaluate``
run in-process on one (no new interpreter: a few seconds instead of ten)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from hydra import compose, initialize_config_module
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict, read_write

from evaluate.app import evaluate  # (importing the app registers the ${run_id:} resolver)


def compose_config(config_name: str, overrides: Sequence[str] = (), *, return_hydra_config: bool = False) -> DictConfig:
    """``conf/<config_name>.yaml`` with the command-line ``overrides`` (``"key=value"`` strings)."""
    with initialize_config_module(config_module="conf", version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides), return_hydra_config=return_hydra_config)


def compose_run(config_name: str, overrides: Sequence[str], run_dir: str | os.PathLike) -> DictConfig:
    """The config a run in ``run_dir`` sees: with its ``hydra`` node, the runtime output
    directory and cwd set to ``run_dir`` and registered as the current Hydra config, so that
    ``${hydra:...}`` interpolations resolve as under ``@hydra.main``."""
    cfg = compose_config(config_name, [*overrides, f"hydra.run.dir={run_dir}"], return_hydra_config=True)
    with open_dict(cfg), read_write(cfg.hydra):
        cfg.hydra.runtime.output_dir = str(run_dir)
        cfg.hydra.runtime.cwd = str(run_dir)
    HydraConfig.instance().set_config(cfg)
    return cfg


def evaluate_in_process(overrides: Sequence[str], run_dir: str | os.PathLike):
    """``python -m evaluate overrides...`` without a new interpreter, writing into ``run_dir``;
    returns what the app returns (its exceptions propagate, where the CLI would exit 1)."""
    cfg = compose_run("evaluate", overrides, run_dir)
    with open_dict(cfg):
        del cfg["hydra"]
    return evaluate(cfg)

"""The W&B sweeps of conf/wandb/ (docs/sweeps.md), offline: each file's grid expanded as W&B's
grid search expands it, each run's command line built by the installed ``wandb agent`` code,
every command composed as a ``python -m train`` config, and one grid point trained for real.

The grid is expanded here, from W&B's own rules: the installed wandb computes grid points only
through the optional ``sweeps`` package (``wandb[sweeps]``, the local controller), which the
project does not install; the W&B server runs the same code (github.com/wandb/sweeps,
``grid_search.py``). The command line, though, comes from the installed agent itself
(:func:`agent_command` drives ``wandb.wandb_agent.Agent._command_run``).
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf, open_dict
from wandb import wandb_agent
from wandb.sdk.launch.sweeps.utils import load_sweep_config

from conf.wandb_project import WANDB_PROJECT
from train.resume import new_attempt, new_wandb_id
from tests.helpers import REPO
from tests.helpers.cli import cli_env, run_cli, run_dirs
from tests.helpers.configs import compose_run
from tests.helpers.wandb_files import run_file, run_record

SWEEP_DIR = REPO / "conf" / "wandb"
SWEEPS = sorted(p.stem for p in SWEEP_DIR.glob("*.yaml"))
PAPER_SWEEPS = ["paper_cochcnn9_clean", "paper_cochcnn9_noisy"]
# A sweep file's top-level keys, as W&B documents them (docs.wandb.ai, "Define a sweep configuration").
SWEEP_KEYS = {"program", "method", "parameters", "command", "name", "description", "project", "entity", "metric",
              "early_terminate", "run_cap", "controller"}  # fmt: skip
AGENT_PREFIX = ["/usr/bin/env", "python", "-m", "train"]  # ${env} ${interpreter} -m train (on Linux)
FAKE_SWEEP_ID = "sw33p1d0"

# docs/reference.md section 4: lr, weight decay, StepLR step, epochs, gradient-norm clip of the
# CochCNN9 recipes (multitask: the word recipe + a clip of 1.0, ours -- conf/recipe/cochcnn9_multitask.yaml).
PAPER_RECIPES = {
    "word": (0.01, 1e-4, 50, 150, None),
    "speaker": (0.01, 1e-4, 50, 150, None),
    "audioset": (1e-5, 0.0, 14, 42, 1.0),
    "multitask": (0.01, 1e-4, 50, 150, 1.0),
}
# docs/reference.md section 8: the released CochCNN9 models (noisy word/speaker/AudioSet/multitask,
# clean-speech word and speaker), here x seeds 0-2.
PAPER_MODELS = {(task, "noisy") for task in PAPER_RECIPES} | {("word", "clean"), ("speaker", "clean")}


def load_sweep(name: str) -> dict:
    """``conf/wandb/<name>.yaml`` read as ``wandb sweep`` reads it."""
    return load_sweep_config(str(SWEEP_DIR / f"{name}.yaml"))


def grid_points(sweep: dict) -> list[dict[str, dict]]:
    """The runs W&B's grid search makes of ``sweep``, in its order: the parameters sorted by
    name, one run per combination of the ``values`` lists (``itertools.product`` over them in
    that order, the last name varying fastest), each ``value`` constant in every run. Each run
    is its config as the agent receives it, ``{name: {"value": v}}``."""
    assert sweep["method"] == "grid"
    names = sorted(sweep["parameters"])
    for name in names:  # only the kinds used here (W&B also expands int_uniform / q_uniform)
        spec = sweep["parameters"][name]
        assert set(spec) in ({"value"}, {"values"}), f"parameter {name}: {spec}"
    choices = [sweep["parameters"][n].get("values", [sweep["parameters"][n].get("value")]) for n in names]
    return [{n: {"value": v} for n, v in zip(names, combo, strict=True)} for combo in itertools.product(*choices)]


class _RecordedProcess:
    """Stands in for the agent's child process: records what it would have run."""

    def __init__(self, command=None, env=None, **_):
        self.command, self.env = command, env


def agent_command(sweep: dict, run_config: dict, run_id: str, monkeypatch, wandb_dir: Path) -> tuple[list[str], dict]:
    """``(command line, environment)`` of the process ``wandb agent`` starts for one run of
    ``sweep``: the installed agent's own ``_command_run`` on the run command the server sends
    (``{"type": "run", "run_id", "program", "args"}``), with the process start recorded instead.
    It also writes the run's sweep parameters where the run's ``wandb.init`` reads them."""
    monkeypatch.setenv("WANDB_DIR", str(wandb_dir))
    monkeypatch.setenv("WANDB_SWEEP_ID", FAKE_SWEEP_ID)  # what `wandb agent <id>` sets
    monkeypatch.setenv("WANDB_PROJECT", sweep["project"])  # what `wandb agent <entity/project/id>` sets
    for var in ("WANDB_RUN_ID", "WANDB_SWEEP_PARAM_PATH"):  # set by _command_run; undone after the test
        monkeypatch.setenv(var, "")
    monkeypatch.setattr(wandb_agent, "AgentProcess", _RecordedProcess)
    agent = wandb_agent.Agent(api=None, queue=None, sweep_id=FAKE_SWEEP_ID)
    agent._sweep_command = list(sweep["command"])  # what Agent.run() takes from the sweep's config
    agent._command_run({"type": "run", "run_id": run_id, "program": sweep["program"], "args": run_config})
    process = agent._run_processes[run_id]
    return process.command, process.env


def _overrides(command: list[str]) -> list[str]:
    assert command[: len(AGENT_PREFIX)] == AGENT_PREFIX, command
    return command[len(AGENT_PREFIX) :]


def _job(cfg) -> dict:
    """The resolved config ``python -m train`` runs with (without Hydra's own node)."""
    with open_dict(cfg):
        del cfg["hydra"]
    return OmegaConf.to_container(cfg, resolve=True)


def test_the_sweep_files_are_there():
    # (a checkout without them -- e.g. .gitignore's `wandb/` catching conf/wandb/ -- fails here)
    assert SWEEPS == ["cpu_tryout", *PAPER_SWEEPS]


def test_grid_expansion_matches_a_hand_worked_grid():
    sweep = {"method": "grid", "parameters": {"b": {"values": [1, 2]}, "a": {"values": ["x", "y"]}, "c": {"value": 0}}}
    runs = [{k: v["value"] for k, v in run.items()} for run in grid_points(sweep)]
    assert runs == [{"a": "x", "b": 1, "c": 0}, {"a": "x", "b": 2, "c": 0}, {"a": "y", "b": 1, "c": 0},
                    {"a": "y", "b": 2, "c": 0}]  # fmt: skip
    # W&B's doctest (grid_search.py): the first run of a: [1, 2, 3] has a = 1
    assert grid_points({"method": "grid", "parameters": {"a": {"values": [1, 2, 3]}}})[0]["a"]["value"] == 1


def test_agent_substitutes_the_hydra_overrides(monkeypatch, tmp_path):
    sweep = {"program": "train/__main__.py", "project": WANDB_PROJECT,
             "command": ["${env}", "${interpreter}", "-m", "train", "${args_no_hyphens}"]}  # fmt: skip
    args = {"data.noise": {"value": "clean"}, "logger.wandb.offline": {"value": False}, "seed": {"value": 2}}
    command, env = agent_command(sweep, args, "run0001", monkeypatch, tmp_path)
    assert command == [*AGENT_PREFIX, "data.noise=clean", "logger.wandb.offline=False", "seed=2"]
    assert env["WANDB_RUN_ID"] == "run0001" and env["WANDB_SWEEP_ID"] == FAKE_SWEEP_ID
    params = Path(env["WANDB_SWEEP_PARAM_PATH"])  # the run's wandb.init reads its config from here
    assert params.is_relative_to(tmp_path) and OmegaConf.load(params)["seed"]["value"] == 2


@pytest.mark.parametrize("name", SWEEPS)
def test_sweep_file_is_a_grid_of_train_runs_in_the_training_project(name):
    sweep = load_sweep(name)
    assert set(sweep) <= SWEEP_KEYS, set(sweep) - SWEEP_KEYS
    assert sweep["method"] == "grid" and sweep["name"] == name
    assert sweep["project"] == WANDB_PROJECT == OmegaConf.load(REPO / "conf" / "logger" / "wandb.yaml").wandb.project
    assert sweep["command"] == ["${env}", "${interpreter}", "-m", "train", "${args_no_hyphens}"]
    assert (REPO / sweep["program"]).is_file()
    constants = {k: v["value"] for k, v in sweep["parameters"].items() if "value" in v}
    values = [v for spec in sweep["parameters"].values() for v in spec.get("values", [spec.get("value")])]
    assert None not in values  # the agent would pass the string "None" (Hydra's null is "null")
    # The runs log to W&B, online (an agent's runs report to the server), grouped by sweep_name.
    assert constants["logger"] == "wandb" and constants["logger.wandb.offline"] is False
    assert constants["sweep_name"]


def test_paper_sweeps_are_the_papers_cochcnn9_models_x_3_seeds(monkeypatch, tmp_path):
    seen = []
    for name in PAPER_SWEEPS:
        sweep = load_sweep(name)
        for i, run in enumerate(grid_points(sweep)):
            command, _ = agent_command(sweep, run, f"{name[-5:]}{i:03d}", monkeypatch, tmp_path / "agent")
            cfg = _job(compose_run("train", _overrides(command), tmp_path / name / str(i)))
            seen.append((cfg["task"]["name"], cfg["data"]["noise"], cfg["seed"]))
            assert cfg["model"]["_target_"].endswith("CochCNN9") and cfg["model"]["width"] == 1.0
            lr, weight_decay, step, epochs, clip = PAPER_RECIPES[cfg["task"]["name"]]
            assert (cfg["optimizer"]["lr"], cfg["optimizer"]["weight_decay"], cfg["scheduler"]["step_size"],
                    cfg["trainer"]["max_epochs"], cfg["trainer"]["gradient_clip_val"]) == (lr, weight_decay, step,
                                                                                           epochs, clip)  # fmt: skip
            assert cfg["data"]["batch_size"] == 128 and cfg["sweep_name"] == "paper_cochcnn9"
    assert len(seen) == len(set(seen)) == 18
    assert set(seen) == {(task, noise, seed) for task, noise in PAPER_MODELS for seed in (0, 1, 2)}


@pytest.mark.parametrize("name", SWEEPS)
def test_every_agent_command_composes_for_python_m_train(name, monkeypatch, tmp_path):
    sweep = load_sweep(name)
    runs = grid_points(sweep)
    run_names = set()
    for i, run in enumerate(runs):
        command, _ = agent_command(sweep, run, f"r{i:04d}", monkeypatch, tmp_path / "agent")
        overrides = _overrides(command)
        assert len(overrides) == len(run)  # one Hydra override per sweep parameter
        cfg = _job(compose_run("train", overrides, tmp_path / "run"))
        values = {k: v["value"] for k, v in run.items()}
        assert cfg["seed"] == values["seed"] and cfg["data"]["noise"] == values["data.noise"]
        assert cfg["task"]["name"] == values.get("task", cfg["task"]["name"])
        logger = cfg["logger"]["wandb"]
        assert logger["offline"] is False and logger["project"] == WANDB_PROJECT
        assert logger["group"] == values["sweep_name"] == cfg["sweep_name"]
        assert logger["tags"] == ["cochcnn9", cfg["task"]["name"], cfg["data"]["noise"]]
        run_names.add(cfg["run_name"])
        # The server's order of a run's parameters is its own: Hydra composes them in any order.
        assert _job(compose_run("train", overrides[::-1], tmp_path / "run")) == cfg
    assert len(run_names) == len(runs)  # every grid point is its own run directory and W&B run name


def test_clean_preset_and_clean_override_are_the_same_run(tmp_path):
    """paper_cochcnn9_clean sets data.noise=clean over a noisy preset: the same as the clean preset."""
    by_override = _job(compose_run("train", ["experiment=cochcnn9_word", "data.noise=clean"], tmp_path))
    by_preset = _job(compose_run("train", ["experiment=cochcnn9_word_clean"], tmp_path))
    assert by_override == by_preset


@pytest.mark.slow  # trains through the CLI (about 2 min); make test composes every agent command (above)
def test_one_grid_point_trains_as_the_agent_runs_it(monkeypatch, tmp_path, cache_dir, tiny_corpus):
    """The first run of cpu_tryout, started with the agent's command line and environment
    (W&B offline instead of the server): one W&B run, the sweep's, with its group and tags."""
    sweep = load_sweep("cpu_tryout")
    run = grid_points(sweep)[0]
    assert {k: v["value"] for k, v in run.items() if k in ("task", "data.noise", "seed")} == {
        "task": "word", "data.noise": "noisy", "seed": 0}  # fmt: skip
    command, env = agent_command(sweep, run, "agentrun1", monkeypatch, tmp_path / "agent")
    logs = tmp_path / "logs"
    env = {**env, **cli_env(cache_dir, logs)}  # W&B offline and silent, test cache and log roots
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # `python`: this venv's
    run_cli("train", _overrides(command), env=env, timeout=300)

    (run_dir,) = run_dirs(logs)
    assert run_dir.name.endswith(f"cochcnn9_word_noisy_seed0_{run_dir.name.rsplit('_', 1)[-1]}")
    record = run_record(run_file(run_dir / "wandb"))
    assert record.run_id == "agentrun1" and record.sweep_id == FAKE_SWEEP_ID  # the sweep's run, not a new one
    assert (record.project, record.run_group, list(record.tags)) == (WANDB_PROJECT, "cpu_tryout",
                                                                     ["cochcnn9", "word", "noisy"])  # fmt: skip
    config = {item.key: json.loads(item.value_json) for item in record.config.update}
    assert config["task"] == "word" and config["seed"] == 0  # the sweep parameters, as W&B records them
    status = json.loads((run_dir / "run.json").read_text())
    assert status["status"] == "finished" and status["sweep_name"] == "cpu_tryout"
    assert status["wandb_id"] == "agentrun1"  # the run record names the agent's W&B run (resume reattaches to it)


def test_a_new_run_takes_the_agents_wandb_id(monkeypatch):
    monkeypatch.delenv("WANDB_RUN_ID", raising=False)
    own = new_wandb_id()
    assert len(own) == 8 and own.isalnum() and own.islower() and new_wandb_id() != own
    monkeypatch.setenv("WANDB_RUN_ID", "agentrun7")
    assert new_wandb_id() == "agentrun7"
    record = new_attempt(None, "r", "s", Path("h"), None)
    assert record["wandb_id"] == "agentrun7"
    assert new_attempt({**record, "wandb_id": "earlier1"}, "r", "s", Path("h"), None)["wandb_id"] == "earlier1"

"""Scaling up: the SLURM launcher config, sweeps through submitit's local executor, the
Optuna search, preemption signals, and torch.compile."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import yaml
from omegaconf import OmegaConf

from tests.helpers.cli import run_cli
from tests.helpers.configs import compose_config
from train.fault_tolerance import InterruptCheckpoint
from train.resume import checkpoint_step

NO_BRAIN_SCORE = "~callbacks.brain_score"


def _run(args: list[str], logs: Path, cache_dir: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return run_cli("train", args, cache_dir=cache_dir, logs=logs, timeout=timeout)


def _launcher_cfg(overrides: list[str]):
    return compose_config("train", overrides, return_hydra_config=True).hydra.launcher


def test_slurm_launcher_overrides_reach_the_sbatch_script(tmp_path, monkeypatch):
    import submitit

    # submitit refuses to build a SLURM executor where there is no `srun`
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "srun").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "bin" / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    launcher = _launcher_cfg([
        "hydra/launcher=slurm", "hydra.launcher.partition=gpu", "hydra.launcher.nodes=2",
        "hydra.launcher.gpus_per_node=4", "hydra.launcher.timeout_min=600", "hydra.launcher.mem_gb=200",
        "trainer=ddp",
    ])  # fmt: skip
    params = OmegaConf.to_container(launcher, resolve=False)
    params["tasks_per_node"] = launcher.tasks_per_node  # ${.gpus_per_node}
    params["submitit_folder"] = str(tmp_path)
    assert params["_target_"].endswith("SlurmLauncher")
    # The launcher's own mapping onto submitit (hydra_submitit_launcher.launch).
    params.pop("_target_")
    init = {"folder": params.pop("submitit_folder"), "slurm_max_num_timeout": params.pop("max_num_timeout")}
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    executor = submitit.AutoExecutor(cluster="slurm", **init)
    executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in params.items()})
    script = executor._executor._make_submission_file_text("python -m train", "uid")
    for line in ("--partition=gpu", "--nodes=2", "--gpus-per-node=4", "--ntasks-per-node=4", "--time=600",
                 "--mem=200GB", "--signal=USR2@120", "--cpus-per-task=8"):  # fmt: skip
        assert f"#SBATCH {line}" in script, (line, script)
    # trainer=ddp takes its node count from the SLURM job
    cfg = compose_config("train", ["trainer=ddp"])
    monkeypatch.setenv("SLURM_JOB_NUM_NODES", "2")
    assert cfg.trainer.num_nodes == 2 and cfg.trainer.strategy == "ddp"


@pytest.mark.slow  # (submitit's local executor also runs the requeue test below)
def test_sweep_runs_through_submitits_local_executor(tmp_path, cache_dir, tiny_corpus):
    logs = tmp_path / "logs"
    _run(["-m", "hydra/launcher=local", "debug=fast", "logger=csv", NO_BRAIN_SCORE, "seed=0,1", "sweep_name=local"],
         logs, cache_dir)  # fmt: skip
    (sweep,) = (logs / "train" / "multiruns").iterdir()
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert [p.name.split("_")[0] for p in jobs] == ["0", "1"]
    for job in jobs:
        record = json.loads((job / "run.json").read_text())
        assert record["status"] == "finished" and record["sweep_name"] == "local"
        assert checkpoint_step(job / "checkpoints" / "last.ckpt") == 8
    # submitit ran them: its job folders hold each job's log and pickled result
    results = list((sweep / ".submitit").rglob("*_result.pkl"))
    assert len(results) == 2
    assert {json.loads((j / "run.json").read_text())["run_name"] for j in jobs} == {
        "cochcnn9_word_noisy_seed0", "cochcnn9_word_noisy_seed1"}  # fmt: skip


@pytest.mark.slow
def test_optuna_search_maximises_the_optimized_metric(tmp_path, cache_dir, tiny_corpus):
    # (the config's default metric is the callback's brain score; the validation accuracy
    # goes the same way and keeps the test short)
    logs = tmp_path / "logs"
    _run(["hparams_search=optuna", "debug=fast", "logger=csv", NO_BRAIN_SCORE, "optimized_metric=val/word/acc",
          "hydra.sweeper.n_trials=2", "hydra.sweeper.sampler.n_startup_trials=1", "sweep_name=search"],
         logs, cache_dir)  # fmt: skip
    (sweep,) = (logs / "train" / "multiruns").iterdir()
    result = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert result["name"] == "optuna"
    assert set(result["best_params"]) == {"optimizer.lr", "optimizer.weight_decay", "data.batch_size"}
    jobs = [p for p in sweep.iterdir() if (p / "run.json").is_file()]
    assert len(jobs) == 2
    scores = [json.loads((j / "run.json").read_text())["metrics"]["val/word/acc"] for j in jobs]
    assert result["best_value"] == pytest.approx(max(scores))


class _Tiny(pl.LightningModule):
    def __init__(self, on_step=None):
        super().__init__()
        self.lin = torch.nn.Linear(4, 1)
        self.on_step = on_step

    def training_step(self, batch, batch_idx):
        if self.on_step:
            self.on_step(self.global_step)
        return self.lin(batch[0]).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def _loader():
    data = torch.utils.data.TensorDataset(torch.randn(64, 4))
    return torch.utils.data.DataLoader(data, batch_size=4)


def test_preemption_signal_checkpoints_after_the_step_then_hands_over(tmp_path):
    """submitit's time-limit signal (SIGUSR2) stops training at the next step boundary,
    interrupted.ckpt is written, and then submitit's own handler (here a stand-in) runs."""
    handed_over = []
    previous = signal.signal(signal.SIGUSR2, lambda signum, frame: handed_over.append(signum))
    try:
        stopper = InterruptCheckpoint(str(tmp_path), signals=("SIGUSR2",))
        model = _Tiny(on_step=lambda step: os.kill(os.getpid(), signal.SIGUSR2) if step == 5 else None)
        trainer = pl.Trainer(max_epochs=3, callbacks=[stopper], logger=False, enable_progress_bar=False,
                             default_root_dir=tmp_path)  # fmt: skip
        with pytest.raises(SystemExit):  # Lightning's SIGTERMException
            trainer.fit(model, _loader())
        assert stopper.received == signal.SIGUSR2 and not handed_over  # not before the checkpoint
        assert checkpoint_step(tmp_path / "interrupted.ckpt") == 6  # the step that was running finished
        stopper.hand_over()
        assert handed_over == [signal.SIGUSR2]
    finally:
        signal.signal(signal.SIGUSR2, previous)


def test_no_checkpoint_on_ordinary_errors(tmp_path):
    """A crash can leave weights half-updated: only signals write interrupted.ckpt."""

    def fail(step):
        if step == 2:
            raise RuntimeError("boom")

    stopper = InterruptCheckpoint(str(tmp_path))
    trainer = pl.Trainer(max_epochs=1, callbacks=[stopper], logger=False, enable_progress_bar=False,
                         default_root_dir=tmp_path)  # fmt: skip
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(_Tiny(on_step=fail), _loader())
    assert not (tmp_path / "interrupted.ckpt").exists()


def test_unknown_signal_name_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown signal 'SIGNOPE'"):
        InterruptCheckpoint(str(tmp_path), signals=("SIGNOPE",))


class _LinearNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(8, 3)

    def forward(self, waveform):
        return {"word": self.fc(waveform[:, :8])}


def test_compile_trains_the_same_parameters_and_checkpoints_the_plain_net(tmp_path):
    from train.module import TaskModule
    from train.objectives import ClassificationObjective

    def module(compile_net):
        torch.manual_seed(0)
        return TaskModule(net=_LinearNet(), objectives={"word": ClassificationObjective("word")},
                          label_sizes={"word": 3}, optimizer=lambda p: torch.optim.SGD(p, lr=0.1),
                          compile=compile_net)  # fmt: skip

    batches = [{"waveform": torch.randn(4, 16), "word": torch.randint(0, 3, (4,))} for _ in range(3)]
    plain, compiled = module(False), module(True)
    for m in (plain, compiled):
        opt = m.configure_optimizers()
        for batch in batches:
            opt.zero_grad()
            loss = m.objectives["word"].loss(m._train_net()(batch["waveform"])["word"], batch)  # as in training_step
            loss.backward()
            opt.step()
    assert compiled._compiled_net is not None and plain._compiled_net is None
    assert isinstance(compiled._compiled_net, torch._dynamo.eval_frame.OptimizedModule)
    for a, b in zip(plain.state_dict().values(), compiled.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)
    assert list(compiled.state_dict()) == list(plain.state_dict())  # no _orig_mod. copies


@pytest.mark.slow
def test_compile_and_bf16_train_cochcnn9_from_the_cli(tmp_path, cache_dir, tiny_corpus):
    logs = tmp_path / "logs"
    _run(["debug=fast", "compile=true", "trainer.precision=bf16-mixed", "logger=csv", "trainer.max_steps=4",
          "trainer.max_epochs=1"], logs, cache_dir)  # fmt: skip
    (run_dir,) = (logs / "train" / "runs").iterdir()
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 4 and not any("_orig_mod" in k for k in ckpt["state_dict"])
    assert json.loads((run_dir / "run.json").read_text())["metrics"]["brain/synthetic/score"] > 0


@pytest.mark.slow
def test_time_limit_signal_checkpoints_requeues_and_resumes_through_submitit(tmp_path, cache_dir, tiny_corpus):
    """submitit's local executor with a 1-minute limit sends SIGUSR2 after 30 s: the job writes
    interrupted.ckpt, submitit requeues it, and the requeued job resumes in its own directory
    (as on SLURM with hydra/launcher=slurm). Lightning's max_time (its elapsed time is in the
    checkpoint) ends the run in the second attempt."""
    logs = tmp_path / "logs"
    _run(["-m", "hydra/launcher=local", "hydra.launcher.timeout_min=1", "debug=fast", "logger=csv", NO_BRAIN_SCORE,
          "trainer.max_steps=-1", "trainer.max_epochs=100000", "+trainer.max_time='00:00:00:35'",
          "sweep_name=requeue"], logs, cache_dir, timeout=400)  # fmt: skip
    (job,) = (p.parent for p in (logs / "train" / "multiruns").glob("*/*/run.json"))
    record = json.loads((job / "run.json").read_text())
    assert record["status"] == "finished"
    attempts = record["attempts"]
    assert len(attempts) >= 2 and attempts[0]["resumed_from"] is None
    assert Path(attempts[1]["resumed_from"]).name == "interrupted.ckpt"
    assert {a["hydra_dir"] for a in attempts} == {str(job)}  # requeued into the same directory
    with open(job / "csv" / "metrics.csv") as f:
        steps = [int(float(r["step"])) for r in __import__("csv").DictReader(f) if r.get("train/word/loss_step")]
    assert steps == list(range(len(steps))) and len(steps) > attempts[1]["resumed_step"] > 0
    log_text = "".join(p.read_text() for p in (job.parent / ".submitit").rglob("*_log.*"))
    assert "Requeued job" in log_text or "requeue" in log_text.lower()

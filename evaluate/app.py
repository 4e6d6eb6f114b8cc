"""``python -m evaluate``: score a checkpoint (or any configured model) against a benchmark.

Writes into the run directory ``score/`` (score.json + tables), ``figures/*.png`` and
``summary.txt``, and prints the summary table.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
from pathlib import Path

import hydra
import torch
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

import train.resolvers  # noqa: F401  (registers ${run_id:})
from evaluate.activations import check_layers, default_layers, extract_activations
from evaluate.benchmark import Benchmark, BenchmarkError
from evaluate.figures import write_figures
from evaluate.results import Score
from evaluate.scoring import resolve_device, score

log = logging.getLogger(__name__)


def build_model(cfg: DictConfig, device: torch.device) -> tuple[nn.Module, str, dict]:
    """The network to score: from ``ckpt_path``, else from the ``model`` config with ``seed``.

    Returns ``(model on device, identifier, provenance)``.
    """
    if cfg.get("ckpt_path"):
        from train.checkpoint import load_network

        path = Path(cfg.ckpt_path).expanduser().resolve()
        trained = load_network(path, map_location="cpu")
        ident = f"{type(trained.net).__name__}@{path.parent.parent.name or path.stem}:step{trained.global_step}"
        info = {"ckpt_path": str(path), "global_step": trained.global_step, "epoch": trained.epoch,
                "label_sizes": trained.label_sizes}  # fmt: skip
        return trained.net.to(device), ident, info
    if cfg.get("model") is None:
        raise ValueError(
            "nothing to score: pass ckpt_path=<checkpoint written by python -m train> or a model config "
            "(e.g. model=cochcnn9 for an untrained network)"
        )
    torch.manual_seed(int(cfg.seed))
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    net = (
        instantiate(model_cfg, heads=dict(cfg.heads))
        if "heads" in _target_params(model_cfg)
        else instantiate(model_cfg)
    )
    ident = f"{type(net).__name__}-untrained-seed{cfg.seed}"
    return net.to(device), ident, {"model_config": model_cfg, "seed": int(cfg.seed)}


def _target_params(model_cfg: dict) -> set[str]:
    """Parameter names of the class a model config builds."""
    return set(inspect.signature(get_class(model_cfg["_target_"])).parameters)


def load_configured_benchmark(cfg: DictConfig) -> Benchmark:
    """Instantiate the ``benchmark`` config; errors name the benchmark and what is missing."""
    loader = instantiate(cfg.benchmark, _partial_=True)  # called here so its errors reach the user unwrapped
    try:
        bench = loader()
    except (FileNotFoundError, BenchmarkError) as exc:
        raise type(exc)(f"benchmark could not be loaded: {exc}") from exc
    if not isinstance(bench, Benchmark):
        raise TypeError(
            f"benchmark config {cfg.benchmark.get('_target_')} returned {type(bench).__name__}, not a Benchmark"
        )
    return bench


def evaluate(cfg: DictConfig) -> Score:
    """Run one evaluation; returns the score (also written to the run directory)."""
    out_dir = Path(cfg.paths.output_dir)
    device = resolve_device(cfg.device)
    bench = load_configured_benchmark(cfg)
    log.info("%s", bench.describe())
    if bench.waveforms is None:
        raise BenchmarkError(f"benchmark {bench.name} has no stimulus waveforms to run a network on")
    net, ident, provenance = build_model(cfg, device)
    layers = list(cfg.layers) if cfg.get("layers") else default_layers(net)
    check_layers(net, layers)
    acts = extract_activations(
        net,
        bench.waveforms,
        layers,
        batch_size=int(cfg.batch_size),
        cache=bool(cfg.cache_activations),
        cache_dir=cfg.paths.get("cache_dir"),
        progress=bool(cfg.progress),
    )
    result = score(acts, bench, ident, rsa=bool(cfg.rsa), device=device, progress=bool(cfg.progress))
    result.info["model"] = provenance
    result.save(out_dir / "score")
    figures = write_figures(result, out_dir / "figures") if cfg.figures else []
    summary = result.summary()
    (out_dir / "summary.txt").write_text(summary + "\n")
    print(summary)
    print(f"Results: {out_dir / 'score'}" + (f"; figures: {out_dir / 'figures'}" if figures else ""))
    return result


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    try:
        evaluate(cfg)
    except (FileNotFoundError, BenchmarkError, ValueError) as exc:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        # Bad input, not a bug: the message says what and where; no traceback.
        print(f"error: {exc}", file=sys.stderr)
        print("(set HYDRA_FULL_ERROR=1 for the traceback)", file=sys.stderr)
        sys.exit(1)

"""``python -m evaluate``: score a checkpoint (or any configured model) against a benchmark.

Writes into the run directory ``score/`` (score.json + tables), ``figures/*.png`` and
``summary.txt``, and prints the summary table.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
import sys
from pathlib import Path

import hydra
import torch
from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

import conf.resolvers  # noqa: F401  (registers ${run_id:})
from data.cache import atomic_file
from evaluate.activations import check_layers, extract_activations
from evaluate.benchmark import Benchmark, BenchmarkError
from evaluate.controls import control_model
from evaluate.diagnostics import layer_diagnostics, warnings_for
from evaluate.external import resample_for_model
from evaluate.figures import write_figures
from evaluate.published import score_published_activations
from evaluate.results import Score
from evaluate.rundir import DIAGNOSTICS_FILE, FIGURES_DIR, SCORE_DIR, SUMMARY_FILE, control_dir
from evaluate.scoring import resolve_device, score
from models.checkpoint import load_network
from models.contract import model_identifier, model_provenance, scored_layers, weights_digest

log = logging.getLogger(__name__)


def build_model(cfg: DictConfig, device: torch.device) -> tuple[nn.Module, str, dict]:
    """The network to score: from ``ckpt_path``, else from the ``model`` config with ``seed``.

    Returns ``(model on device, identifier, provenance)``.
    """
    if cfg.get("ckpt_path"):
        path = Path(cfg.ckpt_path).expanduser().resolve()
        trained = load_network(path, map_location="cpu")
        ident = f"{type(trained.net).__name__}@{path.parent.parent.name or path.stem}:step{trained.global_step}"
        info = {"ckpt_path": str(path), "global_step": trained.global_step, "epoch": trained.epoch,
                "label_sizes": trained.label_sizes}  # fmt: skip
        return trained.net.to(device), ident, info
    if OmegaConf.select(cfg, "model._target_") is None:  # no model=<option> nor model._target_=<class>
        raise ValueError(
            "nothing to score: pass ckpt_path=<checkpoint written by python -m train> or a model config "
            "(e.g. model=cochcnn9 for an untrained network)"
        )
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    seed = int(cfg.seed)
    net = _instantiate_model(model_cfg, dict(cfg.heads), seed)
    info = {"model_config": model_cfg, "seed": seed}
    weights = model_provenance(net)  # e.g. a released checkpoint: file, digest, architecture
    ident = model_identifier(net)
    if ident is None:  # the model does not say where its weights came from: find out
        ident, origin = _weights_origin(net, model_cfg, dict(cfg.heads), seed)
        weights = {**origin, **weights} if weights else origin  # a loader's own record is kept
    if weights:
        info["weights"] = weights
    return net.to(device), ident, info


def _instantiate_model(model_cfg: dict, heads: dict, seed: int) -> nn.Module:
    """The module ``model_cfg`` builds, with the torch seed set to ``seed`` first."""
    torch.manual_seed(seed)
    try:
        net = instantiate(model_cfg, heads=heads) if "heads" in _target_params(model_cfg) else instantiate(model_cfg)
    except ImportError as exc:
        raise ValueError(f"model._target_={model_cfg['_target_']} cannot be imported: {exc}") from exc
    except InstantiationException as exc:  # the model's own error (e.g. a missing weights file), unwrapped
        raise exc.__cause__ or exc
    if not isinstance(net, nn.Module):
        raise ValueError(  # noqa: TRY004  (a user's config error: a message, not a traceback)
            f"model._target_={model_cfg['_target_']} built a {type(net).__name__}, not a torch.nn.Module"
        )
    return net


def _weights_origin(net: nn.Module, model_cfg: dict, heads: dict, seed: int) -> tuple[str, dict]:
    """``(identifier, weights record)`` of a model that does not declare its origin.

    Built again under another seed: weights that change with the seed are a random
    initialisation (``<Class>-untrained-seed<N>``); weights that do not were set by the
    constructor -- loaded from a file or a wheel, or fixed -- so the model is never called
    untrained (``<Class>-weights-<sha256[:12]>``). A model with no state is
    ``<Class>-parameter-free``.
    """
    name = type(net).__name__
    digest = weights_digest(net)
    if digest is None or not any(True for _ in net.parameters()):
        return f"{name}-parameter-free", {"origin": "no parameters (fixed buffers only)" if digest else "no state"}
    rng = torch.random.get_rng_state()  # what follows sees the RNG as the first build left it
    try:
        again = weights_digest(_instantiate_model(model_cfg, heads, seed + 1))
    finally:
        torch.random.set_rng_state(rng)
    if again != digest:
        return f"{name}-untrained-seed{seed}", {"origin": f"random initialisation, torch seed {seed}", "sha256": digest}
    return f"{name}-weights-{digest[:12]}", {
        "origin": "set by the constructor, not drawn from the torch seed (identical when built under another "
        "seed): pretrained or fixed weights, not a random initialisation",
        "sha256": digest,
    }


def _target_params(model_cfg: dict) -> set[str]:
    """Parameter names of the class or function a model config builds."""
    return set(inspect.signature(get_object(model_cfg["_target_"])).parameters)


def _score_published(cfg: DictConfig, bench: Benchmark, device: torch.device) -> Score:
    """Score ``activations=`` (the authors' ``model_actv/<model>/*.h5``; evaluate/published.py)."""
    given = [k for k in ("ckpt_path", "control") if cfg.get(k)]
    if OmegaConf.select(cfg, "model._target_") is not None:
        given.append("model")
    if given:
        raise ValueError(
            f"activations={cfg.activations} scores the authors' activations as they are: there is no network, so "
            f"{', '.join(given)} cannot be used with it (the permuted control is their ..._randnetw.h5 file)"
        )
    layers = [str(layer) for layer in cfg.layers] if cfg.get("layers") else None
    return score_published_activations(cfg.activations, bench, layers, rsa=bool(cfg.rsa), device=device,
                                       progress=bool(cfg.progress))  # fmt: skip


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
    if cfg.get("activations"):  # the authors' own activations file: no network to build or run
        result = _score_published(cfg, bench, device)
    else:
        if bench.waveforms is None:
            raise BenchmarkError(f"benchmark {bench.name} has no stimulus waveforms to run a network on")
        net, ident, provenance = build_model(cfg, device)
        layers = list(cfg.layers) if cfg.get("layers") else scored_layers(net)
        check_layers(net, layers)
        # The network's input: the stimuli at its own rate (model.sample_rate / sample_rate=; evaluate/external.py).
        bench = dataclasses.replace(bench, waveforms=resample_for_model(net, bench.waveforms, cfg.get("sample_rate")))
        acts_kwargs = {"batch_size": int(cfg.batch_size), "cache": bool(cfg.cache_activations),
                       "cache_dir": cfg.paths.get("cache_dir"), "progress": bool(cfg.progress)}  # fmt: skip
        acts = extract_activations(net, bench.waveforms, layers, **acts_kwargs)
        result = score(acts, bench, ident, rsa=bool(cfg.rsa), device=device, progress=bool(cfg.progress))
        result.info["model"] = provenance
    result.save(out_dir / SCORE_DIR)
    diagnostics = layer_diagnostics(result)
    with atomic_file(out_dir / DIAGNOSTICS_FILE, "w") as f:
        diagnostics.to_csv(f, index=False)
    for line in warnings_for(diagnostics):
        log.warning("Diagnostics: %s (%s)", line, out_dir / DIAGNOSTICS_FILE)
    figures = write_figures(result, out_dir / FIGURES_DIR) if cfg.figures else []
    summary = result.summary()
    if cfg.get("control"):
        summary += "\n\n" + _score_control(cfg, net, ident, bench, layers, acts_kwargs, device, result, out_dir)
    (out_dir / SUMMARY_FILE).write_text(summary + "\n")
    print(summary)
    print(f"Results: {out_dir / SCORE_DIR}" + (f"; figures: {out_dir / FIGURES_DIR}" if figures else ""))
    return result


def _score_control(cfg: DictConfig, net: nn.Module, ident: str, bench: Benchmark, layers: list[str],
                   acts_kwargs: dict, device: torch.device, result: Score, out_dir: Path) -> str:  # fmt: skip
    """Score the control network (``control=permuted``) the same way, side by side: its
    results go to ``control_<name>/``; returns the comparison lines for the summary."""
    name, seed = str(cfg.control), int(cfg.get("control_seed", 0))
    control = control_model(net, name, seed=seed)
    acts = extract_activations(control, bench.waveforms, layers, **acts_kwargs)
    ctrl = score(acts, bench, f"{ident}:{name}-seed{seed}", rsa=bool(cfg.rsa), device=device,
                 progress=bool(cfg.progress))  # fmt: skip
    ctrl.info["model"] = {**(result.info.get("model") or {}), "control": name, "control_seed": seed}
    ctrl.save(control_dir(out_dir, name) / SCORE_DIR)
    if cfg.figures:
        write_figures(ctrl, control_dir(out_dir, name) / FIGURES_DIR)
    rows = [f"{'':<16}{'network':>10}{name:>12}"]
    rows.append(f"{'score':<16}{result.value:>10.4f}{ctrl.value:>12.4f}")
    trained, controlled = result.best_relative_layer, ctrl.best_relative_layer
    for roi in [r for r in trained if r != "all"]:
        rows.append(f"{roi + ' best layer':<16}{trained[roi]:>10.2f}{controlled.get(roi, float('nan')):>12.2f}")
    what = "every state-dict entry, BatchNorm statistics included, shuffled as the authors did"
    return f"Control ({name}: {what}, seed {seed}):\n" + "\n".join(rows)


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

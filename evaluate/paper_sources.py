"""What ``python -m evaluate.paper`` scores, and scoring it once (a cache that checks itself).

Inputs (:func:`find_sources`), any mix of:

* a training run directory (``run.json`` / ``checkpoints/``): its best checkpoint
  (``best-*.ckpt``, else ``last.ckpt``), labelled by the run's model, task, noise and seed;
* a checkpoint file written by ``python -m train`` (``.ckpt``), or one of the authors'
  released ``5_checkpoint.pt`` files (docs/reference.md section 8);
* an evaluation run directory of ``python -m evaluate`` (``score/score.json``): its saved
  scores are used as they are (nothing to re-score; no effective dimensionality);
* a folder holding any of these (searched recursively);
* the word ``spectrotemporal``: the SpectroTemporal baseline (added by default).

:func:`score_sources` scores every network on every benchmark, and its permuted control,
into ``<cache>/<key>/``. The key digests everything that decides the result: the network's
tensors, the control, the benchmark's stimuli and responses, the scored layers and the code of
the scoring modules; an entry is used only when its stored key matches, so a changed
checkpoint, benchmark or scoring rule is scored afresh. An entry's ``entry.json`` is written
last (atomically), so a killed run leaves no half entry that looks complete: it is scored again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from data.cache import atomic_file, write_json_atomic
from evaluate.activations import extract_activations
from evaluate.analyses import channel_recovery, component_predictions
from evaluate.benchmark import Benchmark
from evaluate.controls import control_model
from evaluate.external import resample_for_model
from evaluate.fingerprint import array_digest, code_digest, tensors_digest
from evaluate.recognition import spoken_word_recognition
from evaluate.results import Score
from evaluate.rundir import CONTROL_PREFIX, SCORE_DIR, SCORE_FILE
from evaluate.scoring import score
from evaluate.splits import reference_splits
from evaluate.statistics import ed_per_layer
from models.checkpoint import load_network
from models.contract import model_identifier, model_provenance, scored_layers
from models.reference import load_reference_checkpoint
from models.spectrotemporal import SpectroTemporal

log = logging.getLogger(__name__)

BASELINE = "spectrotemporal"
CONTROL = "permuted"
CACHE_VERSION = 1
ENTRY_FILE = "entry.json"  # written last: the entry's commit marker
CHANNEL_FILE = "channel_recovery.csv"  # per layer and ground-truth channel (synthetic benchmarks)
# The modules whose code decides a score: a change to any of them invalidates the cache.
SCORING_MODULES = (
    "evaluate.scoring", "evaluate.fits", "evaluate.ridge", "evaluate.ceiling", "evaluate.bestlayer",
    "evaluate.aggregate", "evaluate.rsa", "evaluate.stats", "evaluate.controls", "evaluate.analyses",
    "evaluate.statistics",
)  # fmt: skip
_PUBLISHED_ARCH = {"CochCNN9": "Kell2018", "CochResNet50": "ResNet50"}  # the authors' model names


@dataclass(frozen=True)
class Source:
    """One thing to score.

    Attributes:
        kind: ``"checkpoint"`` (ours), ``"reference"`` (an authors' released file),
            ``"baseline"`` (SpectroTemporal) or ``"score"`` (a saved evaluation: not re-scored).
        path: the checkpoint file, or the evaluation's ``score.json``; None for the baseline.
        arch, task, noise, seed: what it is (``""`` where unknown).
        control: ``""`` or ``"permuted"`` (a saved control score).
    """

    kind: str
    path: Path | None
    arch: str
    task: str = ""
    noise: str = ""
    seed: str = ""
    control: str = ""

    @property
    def label(self) -> str:
        """arch task noise [control]: what seeds are pooled over."""
        return " ".join(p for p in (self.arch, self.task, self.noise, self.control) if p)


@dataclass
class Scored:
    """One score for the paper, and what it is a score of.

    Attributes:
        source: the network (for a control, the network it is a control of).
        control: ``""`` or ``"permuted"``.
        score: the :class:`evaluate.Score`.
        ed: layer -> effective dimensionality of its activations (None for saved scores).
        component_predictions: ``[n_sounds, n_components]`` cross-validated predictions of the
            best layer (component benchmarks; None otherwise).
        cached: True when it came from the cache.
        channel_recovery: on a benchmark with a ground truth (synthetic), per layer and
            channel the cross-validated R2 of its readout
            (:func:`evaluate.analyses.channel_recovery`); None otherwise.
    """

    source: Source
    control: str
    score: Score
    ed: dict[str, float] | None = None
    component_predictions: np.ndarray | None = None
    cached: bool = False
    best_layer: str = ""
    extra: dict = field(default_factory=dict)
    channel_recovery: pd.DataFrame | None = None

    @property
    def label(self) -> str:
        return " ".join(p for p in (self.source.arch, self.source.task, self.source.noise, self.control) if p)

    @property
    def benchmark(self) -> str:
        return self.score.benchmark

    @property
    def is_baseline(self) -> bool:
        return self.source.kind == "baseline"


# ---------------------------------------------------------------------- discovery
def run_tags(run_dir: Path) -> dict:
    """model / task / noise / seed of a training run directory (from its ``run.json``)."""
    try:
        record = json.loads((run_dir / "run.json").read_text())
    except (OSError, ValueError):
        record = {}
    tags = dict(record.get("tags") or {})
    name = record.get("run_name") or run_dir.name
    m = re.search(r"([A-Za-z0-9]+?)_(\w+?)_(clean|noisy)_seed(\d+)$", str(name))
    if m:
        for key, value in zip(("model", "task", "noise", "seed"), m.groups()):
            tags.setdefault(key, value)
    return {k: str(v) for k, v in tags.items()}


def run_checkpoint(run_dir: Path) -> Path | None:
    """A training run's checkpoint to score: the newest ``best-*.ckpt``, else ``last.ckpt``."""
    ckpts = run_dir / "checkpoints"
    best = sorted(ckpts.glob("best-*.ckpt"), key=lambda p: p.stat().st_mtime)
    if best:
        return best[-1]
    last = ckpts / "last.ckpt"
    return last if last.is_file() else None


def _checkpoint_source(path: Path) -> Source:
    run_dir = path.parent.parent
    tags = run_tags(run_dir) if (run_dir / "run.json").is_file() else {}
    return Source("checkpoint", path.resolve(), tags.get("model", path.stem), tags.get("task", ""),
                  tags.get("noise", ""), tags.get("seed", ""))  # fmt: skip


def _score_sources(score_file: Path) -> Source:
    """A saved evaluation score (``.../score/score.json``, or its ``control_<name>/`` twin)."""
    run_dir = score_file.parent.parent
    control = ""
    if run_dir.name.startswith(CONTROL_PREFIX):
        control, run_dir = run_dir.name[len(CONTROL_PREFIX) :], run_dir.parent
    head = json.loads(score_file.read_text())
    model = str(head.get("model", run_dir.name))
    info = head.get("info", {}).get("model") or {}
    tags = run_tags(Path(info["ckpt_path"]).parent.parent) if info.get("ckpt_path") else {}
    arch = tags.get("model") or re.split(r"[-@:]", model)[0]
    return Source("score", score_file.resolve(), arch, tags.get("task", ""), tags.get("noise", ""),
                  tags.get("seed", ""), control)  # fmt: skip


def find_sources(inputs: Sequence[str | Path], baseline: bool = True) -> tuple[list[Source], list[str]]:
    """The sources under ``inputs`` (see the module docstring) and the problems found: each
    problem is a message naming a path that gave nothing to score; the rest still counts."""
    sources: list[Source] = []
    problems: list[str] = []
    for item in inputs:
        if str(item).lower() == BASELINE:
            baseline = True
            continue
        path = Path(item).expanduser()
        if not path.exists():
            problems.append(f"{path}: does not exist")
            continue
        found = _sources_at(path)
        if not found:
            problems.append(
                f"{path}: no checkpoint (run directory with checkpoints/, .ckpt, 5_checkpoint.pt) and no saved "
                f"score ({SCORE_DIR}/{SCORE_FILE}) found"
            )
        sources += found
    if baseline:
        sources.append(Source("baseline", None, "SpectroTemporal"))
    unique = list(dict.fromkeys(sources))  # the same input twice counts once
    return unique, problems


def _sources_at(path: Path) -> list[Source]:
    if path.is_file():
        if path.suffix == ".ckpt":
            return [_checkpoint_source(path)]
        if path.suffix == ".pt":
            return [Source("reference", path.resolve(), "reference", seed="")]
        if path.name == SCORE_FILE:
            return [_score_sources(path)]
        return []
    if (path / "checkpoints").is_dir() or (path / "run.json").is_file():
        ckpt = run_checkpoint(path)
        return [_checkpoint_source(ckpt)] if ckpt else []
    if (path / SCORE_DIR / SCORE_FILE).is_file():
        found = [_score_sources(path / SCORE_DIR / SCORE_FILE)]
        found += [_score_sources(p) for p in sorted(path.glob(f"{CONTROL_PREFIX}*/{SCORE_DIR}/{SCORE_FILE}"))]
        return found
    out: list[Source] = []
    for child in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        out += _sources_at(child)
    out += [Source("reference", p.resolve(), "reference") for p in sorted(path.glob("*.pt"))]
    out += [_checkpoint_source(p) for p in sorted(path.glob("*.ckpt"))]
    return out


# ---------------------------------------------------------------------- building networks
def build_network(source: Source) -> tuple[nn.Module, Source, str, list[str] | None]:
    """The network of a source, the source with what loading taught (architecture, task), its
    identifier, and its word head's vocabulary (our checkpoints; else None). Errors name the
    file."""
    if source.kind == "baseline":
        net = SpectroTemporal()
        return net.eval(), source, model_identifier(net) or "SpectroTemporal", None
    if source.kind == "reference":
        net = load_reference_checkpoint(source.path)
        prov = model_provenance(net) or {}
        heads = list(prov.get("heads") or {})
        task = "multitask" if len(heads) > 1 else (heads[0] if heads else "")
        arch = type(net).__name__
        src = Source("reference", source.path, arch, task, source.noise, source.seed)
        return net.eval(), src, model_identifier(net) or arch, None
    if source.kind == "checkpoint":
        trained = load_network(source.path)
        ident = f"{type(trained.net).__name__}@{source.path.parent.parent.name}:step{trained.global_step}"
        task = source.task or "+".join(trained.label_sizes)
        src = Source("checkpoint", source.path, source.arch, task, source.noise, source.seed)
        return trained.net.eval(), src, ident, trained.vocabularies.get("word")
    raise ValueError(f"source {source.path}: a saved score has no network to build")


def published_name(source: Source) -> str | None:
    """The authors' name of a released in-house model (e.g. ``Kell2018word``), else None."""
    arch = _PUBLISHED_ARCH.get(source.arch)
    return f"{arch}{source.task}" if arch and source.kind == "reference" and source.task else None


# ---------------------------------------------------------------------- scoring with a cache
def _entry_key(net: nn.Module, control: str, bench: Benchmark, layers: list[str], settings: dict) -> str:
    parts = {
        "version": CACHE_VERSION,
        "net": type(net).__name__,
        "tensors": tensors_digest(net),
        "control": control,
        "benchmark": bench.name,
        "responses": array_digest(bench.responses),
        "waveforms": array_digest(bench.waveforms) if bench.waveforms is not None else None,
        "layers": layers,
        "code": {m: code_digest(m) for m in SCORING_MODULES},
        "settings": settings,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _load_entry(directory: Path, key: str) -> dict | None:
    try:
        entry = json.loads((directory / ENTRY_FILE).read_text())
    except (OSError, ValueError):
        return None
    return entry if entry.get("key") == key else None


def _best_layer(result: Score) -> str:
    table = result.per_layer
    return str(table.loc[table["value"].idxmax(), "layer"]) if len(table) else ""


def _score_one(
    net: nn.Module,
    ident: str,
    bench: Benchmark,
    layers: list[str],
    directory: Path,
    key: str,
    *,
    batch_size: int,
    device: torch.device,
    activation_cache: Path | None,
    progress: bool,
) -> tuple[Score, dict, np.ndarray | None, pd.DataFrame | None]:
    waveforms = resample_for_model(net, bench.waveforms, None)
    acts = extract_activations(net, waveforms, layers, batch_size=batch_size, cache=activation_cache is not None,
                               cache_dir=activation_cache, progress=progress)  # fmt: skip
    result = score(acts, bench, ident, device=device, progress=progress)
    ed = ed_per_layer(acts)
    best = _best_layer(result)
    predictions = None
    if bench.kind == "components":
        predictions = component_predictions(acts[best], bench.responses.mean(axis=2) if bench.responses.ndim == 3
                                            else bench.responses, reference_splits(bench.n_stimuli))  # fmt: skip
        np.save(directory / "component_predictions.npy", predictions)
    recovery = None
    if bench.ground_truth is not None:
        recovery = channel_recovery(acts, bench.ground_truth, reference_splits(bench.n_stimuli), device=device)
        with atomic_file(directory / CHANNEL_FILE, "w") as f:
            recovery.to_csv(f, index=False)
    result.save(directory / SCORE_DIR)
    extra = {"key": key, "ed": ed, "best_layer": best}
    write_json_atomic(directory / ENTRY_FILE, extra)  # last: the commit marker
    return result, extra, predictions, recovery


def _recognition(net: nn.Module, vocabulary: list[str] | None, bench: Benchmark, source: Source,
                 problems: list[str]) -> dict:
    """``{"word_recognition": summary}`` of a word-trained network of ours on the synthetic
    benchmark's spoken words (what its positive control rests on), else ``{}``. Not cached: 45
    clips through the network, recomputed on every run."""
    if bench.name != "synthetic" or not vocabulary:
        return {}
    try:
        return {"word_recognition": spoken_word_recognition(net, vocabulary, bench).summary()}
    except ValueError as exc:
        problems.append(f"{source.path}: word recognition on {bench.name} not measured ({exc})")
        return {}


def score_sources(
    sources: Sequence[Source],
    benchmarks: Sequence[Benchmark],
    cache_dir: str | Path,
    *,
    controls: bool = True,
    control_seed: int = 0,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    activation_cache: str | Path | None = None,
    progress: bool = True,
) -> tuple[list[Scored], list[str]]:
    """Score every source on every benchmark (and, for networks, its permuted control when
    ``controls``), reusing ``cache_dir`` entries; returns the scores and the problems (messages
    naming the source that failed; the rest is still scored)."""
    cache_dir = Path(cache_dir)
    device = torch.device(device)
    out: list[Scored] = []
    problems: list[str] = []
    jobs = [(s, b) for s in sources for b in benchmarks]
    bar = tqdm(jobs, desc="Paper: scoring", unit="model", disable=not progress)
    for source, bench in bar:
        if source.kind == "score":
            continue  # saved scores are read below, not re-scored
        bar.set_postfix_str(f"{source.label} on {bench.name}")
        try:
            net, src, ident, vocabulary = build_network(source)
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            problems.append(f"{source.path}: could not be loaded ({exc})")
            continue
        layers = scored_layers(net)
        variants = [("", net)]
        if controls and src.kind != "baseline":
            variants.append((CONTROL, control_model(net, CONTROL, seed=control_seed)))
        recognition = _recognition(net, vocabulary, bench, source, problems)
        for control, model in variants:
            model = model.to(device)
            name = ident if not control else f"{ident}:{control}-seed{control_seed}"
            key = _entry_key(model, control, bench, layers, {"control_seed": control_seed})
            directory = cache_dir / key[:20]
            entry = _load_entry(directory, key)
            if entry is not None:
                result = Score.load(directory / SCORE_DIR)
                pred_file = directory / "component_predictions.npy"
                predictions = np.load(pred_file) if pred_file.is_file() else None
                recovery_file = directory / CHANNEL_FILE
                recovery = pd.read_csv(recovery_file) if recovery_file.is_file() else None
                out.append(Scored(src, control, result, entry.get("ed"), predictions, cached=True,
                                  best_layer=entry.get("best_layer", ""),
                                  extra={} if control else recognition, channel_recovery=recovery))  # fmt: skip
                continue
            directory.mkdir(parents=True, exist_ok=True)
            write_json_atomic(directory / "source.json", {"label": src.label, "path": str(src.path),
                                                          "control": control, "benchmark": bench.name})  # fmt: skip
            result, extra, predictions, recovery = _score_one(
                model, name, bench, layers, directory, key, batch_size=batch_size, device=device,
                activation_cache=Path(activation_cache) if activation_cache else None, progress=False,
            )  # fmt: skip
            out.append(Scored(src, control, result, extra["ed"], predictions, best_layer=extra["best_layer"],
                              extra={} if control else recognition, channel_recovery=recovery))  # fmt: skip
    wanted = {b.name for b in benchmarks}
    for source in (s for s in sources if s.kind == "score"):
        try:
            result = Score.load(source.path.parent)
        except (OSError, ValueError, KeyError) as exc:
            problems.append(f"{source.path}: not a readable score ({exc})")
            continue
        if result.benchmark not in wanted:
            problems.append(f"{source.path}: scored on {result.benchmark!r}, not one of {sorted(wanted)}; left out")
            continue
        out.append(Scored(Source("score", source.path, source.arch, source.task, source.noise, source.seed), source.control,
                          result, best_layer=_best_layer(result)))  # fmt: skip
    return out, problems


__all__ = [
    "BASELINE",
    "CONTROL",
    "Scored",
    "Source",
    "build_network",
    "find_sources",
    "published_name",
    "run_checkpoint",
    "run_tags",
    "score_sources",
]

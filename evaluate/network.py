"""Score a ``torch.nn.Module`` directly: extract its layers' activations, then score them."""

from __future__ import annotations

import os
from collections.abc import Sequence

from torch import nn

from evaluate.activations import extract_activations
from evaluate.benchmark import Benchmark, BenchmarkError
from evaluate.external import resample_for_model
from evaluate.results import Score
from evaluate.scoring import score
from models.contract import model_identifier, scored_layers


def score_model(
    model: nn.Module,
    benchmark: Benchmark,
    layers: Sequence[str] | None = None,
    *,
    name: str | None = None,
    batch_size: int = 16,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    sample_rate: int | None = None,
    **score_kwargs,
) -> Score:
    """Extract ``layers`` of ``model`` (default ``model.SCORED_LAYERS``) on the benchmark's
    waveforms ``[n_stimuli, samples]`` and score them with :func:`evaluate.score`
    (extra keyword arguments go there). The model runs on its own device, on the stimuli
    resampled to ``sample_rate`` (default ``model.sample_rate``, else the benchmark's 20 kHz)."""
    if benchmark.waveforms is None:
        raise BenchmarkError(
            f"benchmark {benchmark.name} has no waveforms; load it with waveforms=True or pass "
            "waveforms= to Benchmark.from_arrays to score a network"
        )
    layers = list(layers) if layers is not None else scored_layers(model)
    waveforms = resample_for_model(model, benchmark.waveforms, sample_rate)
    acts = extract_activations(
        model, waveforms, layers, batch_size=batch_size, cache=cache, cache_dir=cache_dir, progress=progress
    )
    return score(acts, benchmark, name or model_identifier(model) or type(model).__name__, progress=progress,
                 **score_kwargs)

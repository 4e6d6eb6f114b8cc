"""Brain scoring: benchmarks, activation extraction, voxelwise ridge with noise correction.

Public API::

    import evaluate
    bench = evaluate.load_benchmark("nh2015")                  # or "synthetic" (no download), or
                                                               # Benchmark.from_arrays(...)
    result = evaluate.score({"layer": acts}, bench)            # acts [n_stimuli, n_features]
    result = evaluate.score_model(net, bench)                  # any torch.nn.Module
    acts = evaluate.extract_activations(net, bench.waveforms, ["relu0", "relufc"])
    result.save("out/"); evaluate.Score.load("out/")
"""

from evaluate.activations import extract_activations
from evaluate.benchmark import Benchmark, BenchmarkError
from evaluate.network import score_model
from evaluate.registry import load_benchmark
from evaluate.results import Score
from evaluate.scoring import score
from evaluate.splits import reference_splits

__all__ = [
    "Benchmark",
    "BenchmarkError",
    "Score",
    "extract_activations",
    "load_benchmark",
    "reference_splits",
    "score",
    "score_model",
]

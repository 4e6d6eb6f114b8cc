"""Every benchmark by name: the one registry (Brain-Score's ``load_benchmark`` surface).

``load_benchmark(name, **options)`` is the only way to get a benchmark by name; the Python
API, ``python -m evaluate`` (``conf/benchmark/*.yaml`` point at it), the brain-score callback
and the tests all go through it. Every loader shares one signature style: keyword options
only, each accepting ``waveforms`` (load the stimuli, or only the responses) and
``progress`` (progress bars), plus its own options:

=================  ==================================================  ===============
name               what                                                own options
=================  ==================================================  ===============
``nh2015``         Norman-Haignere et al. 2015, 7,694 voxels           ``root``
``b2021``          Boebinger et al. 2021, 26,792 voxels                ``root``
``nh2015comp``     NH2015's six response components                    ``root``
``synthetic``      SYNTHETIC auditory cortex (not brain data)          ``seed``, ``cache_dir`` ...
``synthetic-comp`` its six-component variant (not brain data)          ``seed``, ``cache_dir`` ...
=================  ==================================================  ===============

``root`` is the folder holding the authors' release (default ``$AUDITORY_DNN_FMRI_ROOT``);
``cache_dir`` the cache the synthetic benchmark is built into.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass

from evaluate.benchmark import Benchmark
from evaluate.release import load_b2021, load_nh2015, load_nh2015comp
from evaluate.synthetic import load_synthetic


@dataclass(frozen=True)
class BenchmarkEntry:
    """One registered benchmark: its loader and what it is."""

    name: str
    loader: Callable[..., Benchmark]
    description: str
    brain_data: bool  # False for the synthetic benchmarks: never to be reported as brain data

    @property
    def options(self) -> frozenset[str]:
        """The keyword options its loader accepts."""
        params = inspect.signature(self.loader).parameters.values()
        return frozenset(p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))


REGISTRY: dict[str, BenchmarkEntry] = {
    e.name: e
    for e in (
        BenchmarkEntry("nh2015", load_nh2015, "NH2015 fMRI voxels (Norman-Haignere et al. 2015)", True),
        BenchmarkEntry("b2021", load_b2021, "B2021 fMRI voxels (Boebinger et al. 2021)", True),
        BenchmarkEntry("nh2015comp", load_nh2015comp, "NH2015 response components", True),
        BenchmarkEntry("synthetic", load_synthetic, "SYNTHETIC auditory cortex (not brain data)", False),
        BenchmarkEntry("synthetic-comp", functools.partial(load_synthetic, components=True),
                       "SYNTHETIC six-component variant (not brain data)", False),  # fmt: skip
    )
}


def benchmark_entry(name: str) -> BenchmarkEntry:
    """The registry entry for ``name`` (case, surrounding spaces and ``_`` vs ``-`` ignored)."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in REGISTRY:
        raise ValueError(f"unknown benchmark {name!r}; available: {', '.join(REGISTRY)}")
    return REGISTRY[key]


def load_benchmark(name: str, **options) -> Benchmark:
    """Load the benchmark registered as ``name`` (see the module docstring for the names and
    their options), e.g. ``load_benchmark("nh2015", root="/data/fmri")`` or
    ``load_benchmark("synthetic", voxels_per_participant=40, progress=False)``.

    Raises:
        ValueError: an unknown name, or an option its loader does not take (the message lists
            the options it does take).
    """
    entry = benchmark_entry(name)
    unknown = sorted(set(options) - entry.options)
    if unknown:
        raise ValueError(
            f"benchmark {entry.name!r} takes no option {', '.join(map(repr, unknown))}; "
            f"its options: {', '.join(sorted(entry.options))}"
        )
    return entry.loader(**options)

"""Every benchmark by name: the authors' fMRI release and the SYNTHETIC benchmark."""

from __future__ import annotations

import os

from evaluate.benchmark import Benchmark


def _synthetic(root=None, waveforms: bool = True, **kwargs) -> Benchmark:
    from evaluate.synthetic import load_synthetic

    return load_synthetic(waveforms=waveforms, **kwargs)


def _synthetic_comp(root=None, waveforms: bool = True, **kwargs) -> Benchmark:
    from evaluate.synthetic import load_synthetic

    return load_synthetic(waveforms=waveforms, components=True, **kwargs)


def _release(name: str):
    def load(root=None, waveforms: bool = True, **kwargs) -> Benchmark:
        from evaluate import release

        return getattr(release, f"load_{name}")(root, waveforms=waveforms, **kwargs)

    return load


BENCHMARKS = {
    "nh2015": _release("nh2015"),
    "b2021": _release("b2021"),
    "nh2015comp": _release("nh2015comp"),
    "synthetic": _synthetic,
    "synthetic-comp": _synthetic_comp,
}


def load_benchmark(name: str, root: str | os.PathLike | None = None, waveforms: bool = True, **kwargs) -> Benchmark:
    """Load a benchmark by name: ``nh2015``, ``b2021``, ``nh2015comp`` (the authors' release,
    under ``root`` or ``$AUDITORY_DNN_FMRI_ROOT``) or ``synthetic`` / ``synthetic-comp`` (built
    locally; keyword arguments go to :func:`evaluate.synthetic.load_synthetic`)."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; available: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[key](root, waveforms=waveforms, **kwargs)

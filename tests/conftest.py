"""Fixtures shared by the test modules (what else they share is in tests/helpers/)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from data.corpus import CorpusSpec, load_corpus
from tests.helpers import TINY_CORPUS

# `make test` runs two pytest-xdist workers on this 2-core machine. Each worker, and every CLI
# subprocess it starts (they inherit OMP_NUM_THREADS), uses one torch thread: two workers with
# two OpenMP threads each would make every parallel region wait for a core the other holds.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """A private cache directory for the whole test session (never the user's cache)."""
    path = tmp_path_factory.mktemp("cache")
    os.environ["AUDITORY_DNN_CACHE"] = str(path)
    return path


@pytest.fixture
def one_thread():
    """torch on one intra-op thread while the test runs: small recurrent steps and
    initialisations (an LSTM's ~600 steps, SpeechBrain's QR) each open an OpenMP region, and on
    a shared 2-core machine every one waits for the busy second core (10 s instead of 0.05 s)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_corpus(cache_dir):
    return load_corpus(CorpusSpec(**TINY_CORPUS), cache_dir, workers=2, progress=False)

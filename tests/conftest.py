"""Fixtures shared by the test modules (what else they share is in tests/helpers/)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from data.corpus import CorpusSpec, load_corpus
from tests.helpers import TINY_CORPUS


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """A private cache directory for the whole test session (never the user's cache)."""
    path = tmp_path_factory.mktemp("cache")
    os.environ["AUDITORY_DNN_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session")
def tiny_corpus(cache_dir):
    return load_corpus(CorpusSpec(**TINY_CORPUS), cache_dir, workers=2, progress=False)

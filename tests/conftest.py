from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Tiny corpus shared by the data and training tests (matches conf/debug/fast.yaml).
TINY_CORPUS = dict(
    vocabulary_size=6,
    n_speakers=3,
    train_clips_per_word=3,
    val_clips_per_word=2,
    n_train_backgrounds=4,
    n_val_backgrounds=2,
)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """A private cache directory for the whole test session (never the user's cache)."""
    path = tmp_path_factory.mktemp("cache")
    os.environ["AUDITORY_DNN_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session")
def tiny_corpus(cache_dir):
    from data.corpus import CorpusSpec, load_corpus

    return load_corpus(CorpusSpec(**TINY_CORPUS), cache_dir, workers=2, progress=False)

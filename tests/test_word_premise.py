"""bench/word_premise.py: the premise check that fixed the synthetic benchmark's word clips
compares the benchmark as built (15 clips per word) with NH2015's layout (5 per word)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from evaluate.synthetic import SPOKEN_WORDS, load_synthetic, spoken_words

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "word_premise.py"


def _script():
    spec = importlib.util.spec_from_file_location("word_premise", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_two_sets_are_the_benchmark_and_nh2015s_layout(cache_dir):
    waveforms, sets = _script().word_sets()
    bench = load_synthetic(n_participants=8, voxels_per_participant=40, cache_dir=cache_dir, progress=False)
    # 15 per word: every sound of the benchmark, and the very channels its voxels are built from
    idx, channels = sets["15 per word"]
    np.testing.assert_array_equal(idx, np.arange(195))
    np.testing.assert_array_equal(waveforms, bench.waveforms)
    pd.testing.assert_frame_equal(channels, bench.ground_truth, atol=1e-8, rtol=0)  # thread-count rounding
    # 5 per word: NH2015's 165 sounds, 15 per category, the first 5 clips of each word
    idx, channels = sets["5 per word"]
    categories = pd.Series(np.asarray(bench.categories)[idx])
    assert len(idx) == 165 and (categories.value_counts() == 15).all()
    words = [w for w in spoken_words(list(np.asarray(bench.stimulus_ids)[idx])) if w]
    assert {w: words.count(w) for w in SPOKEN_WORDS} == dict.fromkeys(SPOKEN_WORDS, 5)
    eng = np.flatnonzero(np.asarray(bench.categories) == "EngSpeech")
    assert set(idx) >= set(eng[:15]) and not set(idx) & set(eng[15:])
    # its channels are recomputed over its own sounds: a word drive z-scored over 165, not 195
    word = f"word_{SPOKEN_WORDS[0]}"
    assert channels.shape == (165, 19) and channels[word].nunique() == 2
    assert channels[word].max() > bench.ground_truth[word].max() + 0.5  # 5 of 165 sit further out than 15 of 195

"""Word recognition of the synthetic benchmark's spoken words (evaluate/recognition.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from evaluate.benchmark import BenchmarkError
from evaluate.recognition import spoken_word_recognition
from evaluate.synthetic import SPOKEN_WORDS, load_synthetic, spoken_words
from models.cochcnn9 import CochCNN9

SMALL = {"n_participants": 8, "voxels_per_participant": 40}
VOCABULARY = ["zebra", *SPOKEN_WORDS[::-1], "other"]  # the spoken words not first, not in order


@pytest.fixture(scope="module")
def bench(cache_dir):
    return load_synthetic(**SMALL, cache_dir=cache_dir, progress=False)


class LookupNet(nn.Module):
    """Says, for each waveform it was given, the word ``answer`` maps its row to: a recogniser
    whose every answer the test knows."""

    def __init__(self, waveforms: np.ndarray, answers: list[list[float]]):
        super().__init__()
        self.register_buffer("keys", torch.as_tensor(waveforms[:, :64]))
        self.register_buffer("answers", torch.tensor(answers))

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        row = (waveform[:, None, :64] == self.keys[None]).all(-1).float().argmax(1)
        return {"word": self.answers[row], "speaker": torch.zeros(len(waveform), 2)}


def test_spoken_words_read_from_the_ids(bench):
    words = spoken_words(bench.stimulus_ids)
    says = [w for w in words if w]
    assert len(says) == 45 and {w: says.count(w) for w in SPOKEN_WORDS} == dict.fromkeys(SPOKEN_WORDS, 15)
    assert all(("_EngSpeech_" in s) == bool(w) for s, w in zip(bench.stimulus_ids, words))
    with pytest.raises(BenchmarkError, match="syn001_EngSpeech_banana"):
        spoken_words(["syn001_EngSpeech_banana"])


def test_recognition_counts_a_known_recogniser(bench):
    words = spoken_words(bench.stimulus_ids)
    answers = []
    wrong_top1 = wrong_among = 0
    for k, w in enumerate(words):
        logits = [0.0] * len(VOCABULARY)
        if not w:
            answers.append(logits)
            continue
        clip = sum(1 for x in words[:k] if x)  # 0..44
        if clip % 5 == 0:  # wrong twice over: "zebra" first, then another spoken word
            other = SPOKEN_WORDS[(SPOKEN_WORDS.index(w) + 1) % 3]
            logits[0], logits[VOCABULARY.index(other)] = 5.0, 3.0
            wrong_top1 += 1
            wrong_among += 1
        elif clip % 5 == 1:  # "zebra" first, but the right one first among the spoken words
            logits[0], logits[VOCABULARY.index(w)] = 5.0, 3.0
            wrong_top1 += 1
        else:
            logits[VOCABULARY.index(w)] = 4.0
        answers.append(logits)
    result = spoken_word_recognition(LookupNet(bench.waveforms, answers), VOCABULARY, bench)
    assert len(result.clips) == 45 and result.vocabulary_size == 5
    assert result.top1 == pytest.approx(1 - wrong_top1 / 45) and wrong_top1 == 18
    assert result.among_spoken == pytest.approx(1 - wrong_among / 45) and wrong_among == 9
    summary = result.summary()
    assert summary["top1_chance"] == pytest.approx(1 / 5) and summary["among_spoken_chance"] == pytest.approx(1 / 3)
    right = result.clips[result.clips["predicted"] == result.clips["word"]]
    p_right = np.exp(4.0) / (np.exp(4.0) + 4)
    np.testing.assert_allclose(right["p_spoken"], p_right, rtol=1e-6)


def test_recognition_of_a_real_network(bench):
    torch.manual_seed(0)
    net = CochCNN9(width=0.125, heads={"word": len(VOCABULARY)})
    result = spoken_word_recognition(net, VOCABULARY, bench)
    assert set(result.clips["predicted"]) <= set(VOCABULARY)
    assert set(result.clips["predicted_among_spoken"]) <= set(SPOKEN_WORDS)
    assert ((result.clips["p_spoken"] > 0) & (result.clips["p_spoken"] < 1)).all()
    assert net.training  # put back as it was


def test_recognition_errors(bench):
    net = CochCNN9(width=0.125, heads={"speaker": 3})
    with pytest.raises(ValueError, match="no 'word' head"):
        spoken_word_recognition(net, VOCABULARY, bench)
    with pytest.raises(ValueError, match=r"lacks the spoken words \['"):
        spoken_word_recognition(net, ["zebra", "other"], bench)
    words_net = CochCNN9(width=0.125, heads={"word": 7})
    with pytest.raises(ValueError, match="7 outputs but the vocabulary 5 words"):
        spoken_word_recognition(words_net, VOCABULARY, bench)

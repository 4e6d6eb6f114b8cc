"""How well a word-trained network names the synthetic benchmark's spoken words.

The synthetic benchmark's positive control (README, "The synthetic benchmark") rests on one
property of the network: that it recognises the words its English-speech sounds say
(:data:`evaluate.synthetic.SPOKEN_WORDS`, each said by 5 voices the training corpus never
had). A network that cannot name them carries no word identity for the voxels' word channels
to be read from, whatever its training accuracy on its own corpus; so ``python -m
evaluate.paper`` reports this beside the margins, per network.

Two figures per network:

* ``top1``: the fraction of the word clips whose arg-max over the network's whole word
  vocabulary is the spoken word (chance ``1 / len(vocabulary)``);
* ``among_spoken``: the same with the arg-max taken over the spoken words only (chance
  ``1 / len(SPOKEN_WORDS)``), i.e. whether the network ranks the right one first of the few
  the benchmark distinguishes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from evaluate.benchmark import Benchmark
from evaluate.synthetic import SPOKEN_WORDS, spoken_words

WORD_HEAD = "word"


@dataclass
class WordRecognition:
    """Per word clip of the benchmark, what the network said.

    Attributes:
        clips: one row per word clip: ``stimulus_id``, ``word`` (spoken), ``predicted`` (arg-max
            over the vocabulary), ``predicted_among_spoken`` (arg-max over the spoken words),
            ``p_spoken`` (softmax probability of the spoken word over the vocabulary).
        vocabulary_size: number of words the network's head names.
    """

    clips: pd.DataFrame
    vocabulary_size: int

    @property
    def top1(self) -> float:
        return float((self.clips["predicted"] == self.clips["word"]).mean())

    @property
    def among_spoken(self) -> float:
        return float((self.clips["predicted_among_spoken"] == self.clips["word"]).mean())

    def summary(self) -> dict:
        """``{n_clips, vocabulary_size, top1, top1_chance, among_spoken, among_spoken_chance}``."""
        return {
            "n_clips": len(self.clips),
            "vocabulary_size": self.vocabulary_size,
            "top1": self.top1,
            "top1_chance": 1.0 / self.vocabulary_size,
            "among_spoken": self.among_spoken,
            "among_spoken_chance": 1.0 / len(SPOKEN_WORDS),
        }


def word_logits(net: nn.Module, waveforms: np.ndarray, batch_size: int = 16) -> torch.Tensor:
    """The ``word`` head's logits ``[n_clips, vocabulary_size]`` of ``net`` (a network of ours
    whose forward returns ``{head: logits}``) for ``waveforms`` ``[n_clips, samples]``.

    Raises:
        ValueError: the network has no ``word`` head.
    """
    logits = []
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(waveforms), batch_size):
                out = net(torch.as_tensor(np.asarray(waveforms[start : start + batch_size]), dtype=torch.float32))
                if not isinstance(out, dict) or WORD_HEAD not in out:
                    heads = sorted(out) if isinstance(out, dict) else type(out).__name__
                    raise ValueError(f"net {type(net).__name__} has no {WORD_HEAD!r} head (its outputs: {heads})")
                logits.append(out[WORD_HEAD].float())
    finally:
        net.train(was_training)
    return torch.cat(logits)


def spoken_word_recognition(
    net: nn.Module, vocabulary: Sequence[str], bench: Benchmark, batch_size: int = 16
) -> WordRecognition:
    """How often ``net`` names the words the synthetic benchmark's English-speech sounds say.

    Args:
        net: a word-trained network of ours (forward ``waveform -> {"word": logits, ...}``).
        vocabulary: the word head's labels, in logit order (the checkpoint's vocabulary).
        bench: the ``synthetic`` benchmark, with its waveforms.

    Raises:
        ValueError: ``bench`` has no word clips or no waveforms, the vocabulary does not match
            the head, or it lacks a spoken word (the network was not trained on them).
    """
    if bench.waveforms is None:
        raise ValueError(f"benchmark {bench.name!r} was loaded without its waveforms")
    words = spoken_words(bench.stimulus_ids)
    index = [i for i, w in enumerate(words) if w]
    if not index:
        raise ValueError(f"benchmark {bench.name!r} has no spoken-word sounds (only 'synthetic' has)")
    vocabulary = list(vocabulary)
    missing = [w for w in SPOKEN_WORDS if w not in vocabulary]
    if missing:
        raise ValueError(f"the network's word vocabulary ({len(vocabulary)} words) lacks the spoken words {missing}")
    logits = word_logits(net, bench.waveforms[index], batch_size)
    if logits.shape[1] != len(vocabulary):
        raise ValueError(f"the word head has {logits.shape[1]} outputs but the vocabulary {len(vocabulary)} words")
    columns = [vocabulary.index(w) for w in SPOKEN_WORDS]
    spoken = [words[i] for i in index]
    p = logits.softmax(dim=1)
    clips = pd.DataFrame({
        "stimulus_id": [bench.stimulus_ids[i] for i in index],
        "word": spoken,
        "predicted": [vocabulary[j] for j in logits.argmax(dim=1).tolist()],
        "predicted_among_spoken": [SPOKEN_WORDS[j] for j in logits[:, columns].argmax(dim=1).tolist()],
        "p_spoken": [float(p[k, vocabulary.index(w)]) for k, w in enumerate(spoken)],
    })  # fmt: skip
    return WordRecognition(clips, len(vocabulary))


__all__ = ["WORD_HEAD", "WordRecognition", "spoken_word_recognition", "word_logits"]

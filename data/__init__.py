"""Data: the embedded synthesised speech corpus, mixing, and dataset readers."""

from data.corpus import CorpusSpec, SpeechCorpus, load_corpus
from data.datamodule import EmbeddedSpeechDataModule
from data.mixing import mix_at_snr, rms_normalize

__all__ = ["CorpusSpec", "SpeechCorpus", "load_corpus", "EmbeddedSpeechDataModule", "mix_at_snr", "rms_normalize"]

"""Data: the embedded synthesised speech corpus, mixing, and dataset readers."""

from data.corpus import CorpusSpec, SpeechCorpus, load_corpus
from data.datamodule import EmbeddedSpeechDataModule
from data.manifest import ManifestDataModule, ManifestDataset
from data.mixing import mix_at_snr, rms_normalize
from data.wsn import WSNDataModule, WSNDataset

__all__ = [
    "CorpusSpec",
    "EmbeddedSpeechDataModule",
    "ManifestDataModule",
    "ManifestDataset",
    "SpeechCorpus",
    "WSNDataModule",
    "WSNDataset",
    "load_corpus",
    "mix_at_snr",
    "rms_normalize",
]

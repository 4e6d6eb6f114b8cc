"""Resemblyzer's speaker encoder (the GE2E d-vector network of Wan et al. 2018, trained by
Resemble AI), with the pretrained weights that ship inside the resemblyzer wheel
(``resemblyzer/pretrained.pt``; nothing is downloaded).

``ResemblyzerEncoder()`` is the pretrained encoder, its weights read from the wheel's own file
(the identifier names that file and its digest, ``Resemblyzer@pretrained.pt-<sha12>``);
``path=`` reads another checkpoint of ``resemblyzer.VoiceEncoder`` (its ``{"model_state": ...}``
or a bare state dict), and ``pretrained=False`` keeps the architecture with torch's random
initialisation (``Resemblyzer-untrained-seed<N>``).

Input: ``[batch, samples]`` waveforms at 16 kHz. Each clip is first raised to -30 dBFS if it is
quieter (resemblyzer's ``normalize_volume(..., increase_only=True)``, the first step of its
``preprocess_wav``; ``normalize_volume=False`` skips it); ``preprocess_wav``'s second step,
cutting long silences by voice-activity detection, is left out: it shortens clips unevenly and
drops non-speech sounds. Then resemblyzer's own ``wav_to_mel_spectrogram`` (librosa, numpy, per
clip; 40 mel channels, 25-ms windows every 10 ms: 201 frames for a 2-s clip) gives the
encoder's input ``[batch, frames, 40]``.

The whole clip is one sequence. ``VoiceEncoder.embed_utterance`` instead cuts an utterance into
partial utterances of 160 frames (1.6 s; a 2-s clip gives two, at frames 0 and 77, the second
zero-padded) and L2-normalises the mean of their embeddings; on 2-s clips the one-sequence
embedding is ``VoiceEncoder.forward`` of the clip's whole mel spectrogram.

Layers (``LAYER_REDUCTIONS``), each ``[batch, 256]`` and read as it is (``AS_IS``):

* ``LSTM_1``, ``LSTM_2``, ``LSTM_3``: the FINAL HIDDEN STATE of each LSTM layer (``h_n`` of
  ``nn.LSTM``; the paper read recurrent layers by their final state), i.e. the last step of
  that layer's sequence of hidden states;
* ``Embedding``: the utterance embedding, ReLU(linear(``LSTM_3``)) L2-normalised, as
  ``VoiceEncoder.forward`` (an all-zero ReLU output stays zero instead of 0/0).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import sys
import types
from pathlib import Path

import numpy as np
import torch
from torch import nn

from models.reductions import AS_IS
from models.zoo.origin import local_weights, random_origin, weights_origin


@contextlib.contextmanager
def _pkg_resources_stand_in():
    """A minimal ``pkg_resources`` (``get_distribution(name).version``) while resemblyzer is
    imported: its dependency webrtcvad 2.0.10 reads its own version through ``pkg_resources``,
    which setuptools >= 81 no longer ships. Removed again afterwards, so nothing else sees it."""
    stand_in = types.ModuleType("pkg_resources")
    stand_in.get_distribution = lambda name: types.SimpleNamespace(version=importlib.metadata.version(name))
    sys.modules["pkg_resources"] = stand_in
    try:
        yield
    finally:
        if sys.modules.get("pkg_resources") is stand_in:
            del sys.modules["pkg_resources"]


try:
    try:
        import resemblyzer
    except ModuleNotFoundError as exc:
        if exc.name != "pkg_resources":
            raise
        with _pkg_resources_stand_in():
            import resemblyzer
    from resemblyzer import audio as resemblyzer_audio
    from resemblyzer import hparams as resemblyzer_hparams
except ImportError as exc:  # pragma: no cover - exercised only without the optional dependency
    raise ImportError(
        f"models.zoo.resemblyzer needs resemblyzer ({exc}); install the zoo's dependencies: "
        "pip install 'auditory-dnn[zoo]'"
    ) from exc

__all__ = ["ResemblyzerEncoder", "mel_frames", "wheel_weights"]

LSTM_LAYERS = tuple(f"LSTM_{i}" for i in range(1, resemblyzer_hparams.model_num_layers + 1))
# Entries of the released checkpoint that VoiceEncoder does not use (GE2E's similarity scale and
# bias, a training-loss parameter); VoiceEncoder itself loads it with strict=False for them.
_UNUSED_KEYS = frozenset({"similarity_weight", "similarity_bias"})


def wheel_weights() -> Path:
    """The pretrained weights file inside the installed resemblyzer wheel."""
    return Path(resemblyzer.__file__).resolve().parent / "pretrained.pt"


def mel_frames(waveform: np.ndarray, normalize_volume: bool = True) -> np.ndarray:
    """One clip at 16 kHz ``[samples]`` -> the encoder's input ``[frames, 40]`` (float32):
    resemblyzer's ``normalize_volume`` (increase only, to -30 dBFS; skipped for a silent clip)
    and ``wav_to_mel_spectrogram``."""
    wav = np.asarray(waveform, dtype=np.float32)
    if normalize_volume and np.any(wav):
        wav = resemblyzer_audio.normalize_volume(wav, resemblyzer_hparams.audio_norm_target_dBFS, increase_only=True)
    return resemblyzer_audio.wav_to_mel_spectrogram(wav.astype(np.float32, copy=False))


class ResemblyzerEncoder(nn.Module):
    """Resemblyzer's ``VoiceEncoder`` (3-layer LSTM, 256 units; linear + ReLU 256-d embedding)
    with each LSTM layer's final state and the embedding read out (an ActivationModel).

    Args:
        path: a checkpoint of ``resemblyzer.VoiceEncoder`` (``{"model_state": state_dict}`` as the
            wheel's, or the state dict itself); None = the wheel's own ``pretrained.pt``.
        pretrained: False re-initialises the same architecture from the torch seed (then
            ``path`` must be None).
        normalize_volume: raise quiet clips to -30 dBFS first, as resemblyzer's ``preprocess_wav``.

    Raises:
        ValueError: ``path`` with ``pretrained=False``, or a file that is not a checkpoint of this
            architecture (naming the missing and unexpected keys).
        FileNotFoundError: ``path`` does not exist.
    """

    sample_rate = resemblyzer_hparams.sampling_rate  # 16 kHz
    LAYER_REDUCTIONS = {**{name: AS_IS for name in LSTM_LAYERS}, "Embedding": AS_IS}

    def __init__(self, path: str | Path | None = None, pretrained: bool = True, normalize_volume: bool = True):
        super().__init__()
        if not pretrained and path is not None:
            raise ValueError(f"ResemblyzerEncoder: path={path} given with pretrained=False; pass one or the other")
        name = "Resemblyzer"
        # VoiceEncoder always loads the wheel's weights (strict=False) and picks CUDA when it sees
        # one unless told otherwise: built on the CPU, then given the weights asked for, checked.
        self.encoder = resemblyzer.VoiceEncoder(device="cpu", verbose=False)
        if pretrained:
            file = local_weights(wheel_weights() if path is None else path, name,
                                 "a resemblyzer.VoiceEncoder checkpoint ({'model_state': state dict})")  # fmt: skip
            _load_checkpoint(self.encoder, torch.load(file, map_location="cpu", weights_only=True), file)
            self.identifier, origin = weights_origin(name, file)
        else:
            self.encoder.lstm.reset_parameters()
            self.encoder.linear.reset_parameters()
            self.identifier, origin = random_origin(name)
        self.normalize_volume = bool(normalize_volume)
        self.provenance = {**origin, "architecture": "resemblyzer.VoiceEncoder",
                           "package": f"resemblyzer=={importlib.metadata.version('resemblyzer')}"}  # fmt: skip

    def mels(self, waveform: torch.Tensor) -> torch.Tensor:
        """``[batch, samples]`` at 16 kHz -> ``[batch, frames, 40]`` on the encoder's device
        (:func:`mel_frames` per clip; numpy on the CPU)."""
        if waveform.ndim != 2:
            raise ValueError(f"ResemblyzerEncoder takes waveforms [batch, samples], got shape {list(waveform.shape)}")
        clips = waveform.detach().float().cpu().numpy()
        mels = np.stack([mel_frames(clip, self.normalize_volume) for clip in clips])
        return torch.from_numpy(mels).to(self.encoder.linear.weight.device)

    def activations(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        """``[batch, samples]`` at 16 kHz -> ``{layer: [batch, 256]}`` (module docstring)."""
        _, (hidden, _) = self.encoder.lstm(self.mels(waveform))  # hidden: [layers, batch, 256]
        raw = self.encoder.relu(self.encoder.linear(hidden[-1]))
        embedding = raw / torch.linalg.vector_norm(raw, dim=1, keepdim=True).clamp_min(torch.finfo(raw.dtype).tiny)
        return {**{name: hidden[i] for i, name in enumerate(LSTM_LAYERS)}, "Embedding": embedding}

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        """No heads: ``{}`` (the scored layers are read by :meth:`activations`)."""
        return {}


def _load_checkpoint(encoder: nn.Module, checkpoint: object, file: Path) -> None:
    """Load ``checkpoint`` into ``encoder`` strictly (bar GE2E's unused similarity entries), or a
    ValueError naming the missing and unexpected keys."""
    state = checkpoint.get("model_state", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"Resemblyzer: {file} holds a {type(checkpoint).__name__}, not a VoiceEncoder checkpoint")
    expected = set(encoder.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected - _UNUSED_KEYS)
    if missing or unexpected:
        raise ValueError(f"Resemblyzer: {file} is not a resemblyzer.VoiceEncoder checkpoint: missing keys "
                         f"{missing[:8]}, unexpected keys {unexpected[:8]}")  # fmt: skip
    try:
        encoder.load_state_dict({key: state[key] for key in expected})
    except RuntimeError as exc:  # the same names with other shapes
        raise ValueError(f"Resemblyzer: {file} does not fit resemblyzer.VoiceEncoder: {exc}") from exc

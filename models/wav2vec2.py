"""Adapter that scores torchaudio's wav2vec 2.0 / HuBERT / WavLM networks like the in-house models.

``Wav2Vec2Adapter(architecture, weights)`` builds the network with the ``torchaudio.models``
factory of that name and loads its weights from a LOCAL file (nothing is downloaded; with
``weights=None`` the network keeps its random initialisation and a warning says so). The
identifier names the file and its digest (``Wav2Vec2Adapter-<architecture>@<file>-<sha12>``,
path and sha256 in ``provenance``) or the torch seed (``...-untrained-seed<N>``).

Getting weights: on a machine with internet, save the state dict of torchaudio's pipeline
bundle (or of a model converted from fairseq / Hugging Face) and point ``weights=`` at it::

    import torch, torchaudio
    model = torchaudio.pipelines.WAV2VEC2_BASE.get_model()  # or HUBERT_BASE, ...
    torch.save(model.state_dict(), "wav2vec2_base.pt")
    # fairseq / Hugging Face checkpoints: torchaudio.models.wav2vec2.utils.import_fairseq_model
    # / import_huggingface_model give the torchaudio model whose state_dict to save.

Input: ``[batch, samples]`` waveforms at 16 kHz (``sample_rate``; ``python -m evaluate``
resamples the 20 kHz benchmark stimuli to it). Per-utterance normalisation to zero mean and
unit variance (``normalize``) is what the models trained on normalised audio expect; the
default per architecture follows torchaudio's pipeline bundles (off for the base models and
wav2vec2_large, on for wav2vec2_large_lv60k, hubert_large/xlarge and wavlm_large).

Scored layers (``SCORED_LAYERS``), each a ``[batch, time, dim]`` tensor so that scoring
averages it over time: ``features`` (the convolutional feature extractor's output,
``[batch, frames, 512]``), ``projection`` (the feature projection into the transformer's
width) and ``layer1`` ... ``layerN`` (the output of each transformer layer). torchaudio's own
modules are not scored directly: its conv layers output ``[batch, channels, time]`` and its
transformer layers return ``(tensor, position_bias)`` tuples; the adapter runs the network
itself and passes each of those outputs through an identity module of that name.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from models.cochcnn9 import check_heads
from models.zoo.origin import random_origin, weights_origin

log = logging.getLogger(__name__)

# Architecture (a torchaudio.models factory) -> whether its pretrained models expect normalised
# input: the ``_normalize_waveform`` of torchaudio's pipeline bundles.
ARCHITECTURES: dict[str, bool] = {
    "wav2vec2_base": False,
    "wav2vec2_large": False,
    "wav2vec2_large_lv60k": True,
    "hubert_base": False,
    "hubert_large": True,
    "hubert_xlarge": True,
    "wavlm_base": False,
    "wavlm_large": True,
}


def build_architecture(architecture: str) -> nn.Module:
    """The randomly initialised ``torchaudio.models.<architecture>()`` (torchaudio imported on use)."""
    import torchaudio.models

    return getattr(torchaudio.models, architecture)()


class Wav2Vec2Adapter(nn.Module):
    """A torchaudio wav2vec2-family network with hookable ``[batch, time, dim]`` layers.

    Args:
        architecture: a ``torchaudio.models`` factory name, one of ``ARCHITECTURES``.
        weights: path of a state dict of that torchaudio model (``torch.save(model.state_dict())``,
            or a dict holding it under ``"state_dict"`` or ``"model"``); ``None`` = random weights.
        normalize: standardise each waveform to zero mean / unit variance before the network
            (``None`` = what the architecture's pretrained models expect, see the module docstring).
        heads: optional ``{task: n_classes}``; adds linear read-outs of the time-averaged last
            layer and ``forward`` then returns ``{task: logits}`` (lets the model configs build
            where a ``heads`` argument is passed; the scored layers do not depend on it).
    """

    # The model contract (models/contract.py); identifier is set per instance.
    sample_rate = 16000

    def __init__(
        self,
        architecture: str = "wav2vec2_base",
        weights: str | Path | None = None,
        normalize: bool | None = None,
        heads: Mapping[str, int] | None = None,
    ):
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {architecture!r}; supported: {', '.join(ARCHITECTURES)}")
        self.architecture = architecture
        self.model = build_architecture(architecture)
        if weights is None:  # named by the torch seed, and logged as random
            self.identifier, self.provenance = random_origin(f"{type(self).__name__}-{architecture}", "weights")
        else:  # named by the file and its digest, recorded in the provenance
            load_weights(self.model, weights, architecture)
            path = Path(weights).expanduser().resolve()
            self.identifier, self.provenance = weights_origin(f"{type(self).__name__}-{architecture}", path)
        self.weights = None if weights is None else str(weights)
        # A buffer, so that it is part of the state dict and of the activation-cache key.
        normalize = ARCHITECTURES[architecture] if normalize is None else bool(normalize)
        self.register_buffer("normalize", torch.tensor(normalize))

        n_layers = len(self.model.encoder.transformer.layers)
        self.features = nn.Identity()
        self.projection = nn.Identity()
        for i in range(1, n_layers + 1):
            self.add_module(f"layer{i}", nn.Identity())
        self.SCORED_LAYERS = ("features", "projection", *(f"layer{i}" for i in range(1, n_layers + 1)))
        self.heads = None
        if heads is not None:
            dim = self.model.encoder.feature_projection.projection.out_features
            self.heads = nn.ModuleDict({name: nn.Linear(dim, n) for name, n in check_heads(heads).items()})

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        """``[batch, samples]`` at 16 kHz -> ``{task: logits}`` of the heads (``{}`` without
        heads: the scored layers run on the way; :meth:`features` gives the last layer)."""
        x = self.last_hidden(waveform)
        if self.heads is None:
            return {}
        pooled = x.mean(dim=1)
        return {name: head(pooled) for name, head in self.heads.items()}

    def last_hidden(self, waveform: torch.Tensor) -> torch.Tensor:
        """``[batch, samples]`` at 16 kHz -> the last layer's features ``[batch, frames, dim]``
        (what ``torchaudio``'s model returns)."""
        if waveform.ndim != 2:
            raise ValueError(f"expected waveforms [batch, samples], got shape {list(waveform.shape)}")
        if bool(self.normalize):
            waveform = nn.functional.layer_norm(waveform, waveform.shape[-1:])
        # Wav2Vec2Model.forward without lengths, with every stage's output through a tap.
        x, _ = self.model.feature_extractor(waveform, None)  # [batch, frames, 512]
        x = self.projection(self.model.encoder.feature_projection(self.features(x)))
        transformer = self.model.encoder.transformer
        hidden = transformer.get_intermediate_outputs(x, attention_mask=None)
        for i, h in enumerate(hidden, start=1):
            hidden[i - 1] = getattr(self, f"layer{i}")(h)
        return hidden[-1] if transformer.layer_norm_first else transformer.layer_norm(hidden[-1])

    def extra_repr(self) -> str:
        return f"architecture={self.architecture!r}, weights={self.weights!r}, normalize={bool(self.normalize)}"


def _first(keys, n: int = 5) -> str:
    keys = list(keys)
    return ", ".join(keys[:n]) + (f" ... ({len(keys)} in all)" if len(keys) > n else "")


def load_weights(model: nn.Module, path: str | Path, architecture: str) -> None:
    """Load a torchaudio state dict from ``path`` into ``model`` (strict; clear errors)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{architecture} weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file
        raise ValueError(
            f"could not read {architecture} weights from {path} ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
            "expected a file written by torch.save(model.state_dict())"
        ) from exc
    if isinstance(state, Mapping):
        for key in ("state_dict", "model"):
            if isinstance(state.get(key), Mapping):
                state = state[key]
                break
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} does not hold a state dict (a mapping of names to tensors) for {architecture}")
    state = dict(state)
    adapter_keys = [k for k in state if k.startswith("model.")]
    if adapter_keys and all(k.startswith(("model.", "heads.")) or k == "normalize" for k in state):
        # a saved Wav2Vec2Adapter, or torchaudio's normalising bundle wrapper: the network is under model.
        state = {k[len("model.") :]: state[k] for k in adapter_keys}
    if getattr(model, "aux", None) is None and any(k.startswith("aux.") for k in state):
        log.info("Ignoring the CTC output layer (aux.*) in %s", path)
        state = {k: v for k, v in state.items() if not k.startswith("aux.")}
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    hint = (
        f"; is it a {architecture} model's torchaudio state dict? (fairseq / Hugging Face checkpoints: convert "
        "them with torchaudio.models.wav2vec2.utils.import_fairseq_model / import_huggingface_model first)"
    )
    if missing or unexpected:
        raise ValueError(
            f"weights in {path} do not match {architecture}: "
            + "; ".join(
                part
                for part in (
                    f"missing keys: {_first(missing)}" if missing else "",
                    f"unexpected keys: {_first(unexpected)}" if unexpected else "",
                )
                if part
            )
            + hint
        )
    mismatched = [f"{k} {list(v.shape)} vs {list(expected[k].shape)}" for k, v in state.items()
                  if v.shape != expected[k].shape]  # fmt: skip
    if mismatched:
        raise ValueError(
            f"weights in {path} do not match {architecture}: shape mismatch in {_first(mismatched, 3)}{hint}"
        )
    model.load_state_dict(state)
    log.info("Loaded %s weights from %s", architecture, path)

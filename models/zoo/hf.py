"""Hugging Face ``transformers`` adapters for public audio networks, loaded from a LOCAL model
directory, with the layer names of the paper (Tuckute, Feather et al. 2023; docs/reference.md
section 13).

Every adapter takes ``path`` (a directory written by ``save_pretrained``: ``config.json`` plus
``model.safetensors`` or ``pytorch_model.bin``, and the feature extractor's
``preprocessor_config.json`` where it has one) or, with ``path=None``, ``config`` (overrides of
the transformers config; ``None`` = its defaults) for a random initialisation. Nothing is
downloaded. Get a checkpoint on a machine with internet, e.g.::

    from transformers import Wav2Vec2ForCTC, AutoFeatureExtractor
    name = "facebook/wav2vec2-base-960h"
    Wav2Vec2ForCTC.from_pretrained(name).save_pretrained("wav2vec2-base-960h")
    AutoFeatureExtractor.from_pretrained(name).save_pretrained("wav2vec2-base-960h")

Each adapter is a :class:`models.contract.ActivationModel`: ``activations(waveform)`` takes
``[batch, samples]`` at ``sample_rate`` and returns ``{layer: tensor [batch, ...]}``, in the
order of ``LAYER_REDUCTIONS`` (built from the loaded config, so a 24-layer checkpoint has 24
``Encoder_`` layers). The layers are:

========================  ======  =========================================================
adapter                   rate    layers (reduction)
========================  ======  =========================================================
HFWav2Vec2, HFHubert,     16 kHz  ``Embedding`` (the transformer's input), ``Encoder_1..N``
HFWavLM, HFData2VecAudio          (each transformer layer's output), ``Final`` (the CTC
                                  logits, only for a checkpoint with a CTC head); time mean
HFWhisper                 16 kHz  encoder ``Embedding`` (after the convolutions and the
                                  positional embedding), ``Encoder_1..N``; time mean over
                                  the frames of the clip (not Whisper's 30-s padding)
HFAST                     16 kHz  ``Embedding`` (patch embeddings with the two special tokens
                                  and position embeddings), ``Encoder_1..N``: mean over all
                                  tokens; ``Final`` (the classifier's logits): as is
HFSpeech2Text             16 kHz  encoder ``Embedding`` (after the convolutional subsampler and
                                  the positional embedding), ``Encoder_1..N``; time mean
HFClap                    48 kHz  ``Stage_1..S`` (each Swin stage's output before its patch
                                  merging): mean over all tokens; ``Final`` (the projected
                                  audio embedding, not L2-normalised): as is
========================  ======  =========================================================

``Encoder_i`` is always the output of transformer layer ``i`` itself: read by forward hooks on
the layer modules while the network runs (removed afterwards), so it does not depend on how a
transformers version fills ``output_hidden_states``. The encoder's final LayerNorm (Whisper,
Speech2Text, AST, and the "stable layer norm" wav2vec2-large variants) is not applied to
``Encoder_N``. For the paper's wav2vec2-base (post-norm) there is none, and ``Embedding`` is
the positional convolution's sum after the encoder's LayerNorm: ``hidden_states[0]`` of
transformers' ``Wav2Vec2Model`` (its ``Wav2Vec2Encoder.forward``: ``layer_norm(x +
pos_conv_embed(x))``, then dropout, then the layers). In the stable-layer-norm variants
(``do_stable_layer_norm``: wav2vec2-large-lv60, hubert-large ...) the transformer's input is
that sum without a LayerNorm (theirs comes after the last layer).

Activations are cached on disk by :mod:`evaluate.activations` like any network's (keyed by the
weights, the code and every attribute; transformers' builtin activation functions are keyed by
the installed torch version).
"""

from __future__ import annotations

import copy
import json
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from models.reductions import AS_IS, Reduction, time_mean
from models.zoo.origin import local_weights, random_origin, weights_origin

try:
    import transformers
    from transformers import (
        ASTConfig,
        ASTFeatureExtractor,
        ASTForAudioClassification,
        ASTModel,
        ClapAudioConfig,
        ClapAudioModelWithProjection,
        ClapFeatureExtractor,
        Data2VecAudioConfig,
        Data2VecAudioForCTC,
        Data2VecAudioModel,
        HubertConfig,
        HubertForCTC,
        HubertModel,
        Speech2TextConfig,
        Speech2TextFeatureExtractor,
        Speech2TextModel,
        Wav2Vec2Config,
        Wav2Vec2ForCTC,
        Wav2Vec2Model,
        WavLMConfig,
        WavLMForCTC,
        WavLMModel,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperModel,
    )
except ImportError as exc:  # pragma: no cover  (transformers is a dependency of the zoo extra)
    raise ImportError(
        f"models.zoo.hf needs Hugging Face transformers ({exc}); install it with pip install 'auditory-dnn[zoo]'"
    ) from exc

__all__ = [
    "ADAPTERS",
    "TOKEN_MEAN",
    "HFAST",
    "HFAudioModel",
    "HFClap",
    "HFData2VecAudio",
    "HFHubert",
    "HFSpeech2Text",
    "HFWav2Vec2",
    "HFWavLM",
    "HFWhisper",
    "model_directory",
]

log = logging.getLogger(__name__)

# Average over every token of a transformer over spectrogram patches (AST, CLAP's Swin stages).
TOKEN_MEAN = Reduction("mean", 1, "tokens")

CONFIG_FILE = "config.json"
PREPROCESSOR_FILE = "preprocessor_config.json"
WEIGHT_FILES = (
    "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json",
)  # fmt: skip
# Parameters a checkpoint may lack without changing inference (wav2vec2's SpecAugment mask embedding).
_UNUSED_AT_INFERENCE = ("masked_spec_embed",)

# config.json model_type -> (adapter class name, conf/model/zoo/<name>.yaml): filled by the subclasses.
ADAPTERS: dict[str, tuple[str, str]] = {}


def _expected_files(checkpoint: str) -> str:
    return (
        f"a Hugging Face model directory ({CONFIG_FILE} + {' or '.join(WEIGHT_FILES[::2])}), e.g. {checkpoint} saved "
        f"on a machine with internet with from_pretrained({checkpoint!r}).save_pretrained(<dir>)"
    )


def model_directory(path: str | Path, who: str, model_types: Sequence[str], checkpoint: str) -> Path:
    """``path`` resolved, once checked to be a transformers model directory of one of ``model_types``.

    Raises:
        FileNotFoundError: ``path`` does not exist, or has no ``config.json`` or no weights file.
        ValueError: ``path`` is a file, its ``config.json`` is unreadable, or it holds a model of
            another ``model_type`` (naming the type found, the ones expected and the adapter that
            takes it).
    """
    expected = _expected_files(checkpoint)
    directory = local_weights(path, who, expected)
    if not directory.is_dir():
        raise ValueError(f"{who}: {directory} is a file; expected {expected}")
    config_file = directory / CONFIG_FILE
    if not config_file.is_file():
        raise FileNotFoundError(f"{who}: {directory} has no {CONFIG_FILE}; expected {expected}")
    try:
        model_type = json.loads(config_file.read_text()).get("model_type")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
        raise ValueError(f"{who}: {config_file} is not a transformers config (a JSON object): {exc}") from exc
    if model_type not in model_types:
        other = ADAPTERS.get(model_type)
        hint = f"; use {other[0]} (model=zoo/{other[1]}) for it" if other else ""
        raise ValueError(
            f"{who}: {directory} holds a model of model_type {model_type!r} (its {CONFIG_FILE}), expected "
            f"{' or '.join(map(repr, model_types))}{hint}"
        )
    if not any((directory / name).is_file() for name in WEIGHT_FILES):
        raise FileNotFoundError(f"{who}: {directory} has a {CONFIG_FILE} but no weights ({', '.join(WEIGHT_FILES)})")
    return directory


def _plain(value: object) -> object:
    """Mappings and sequences (an OmegaConf node from Hydra) as dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [_plain(v) for v in value]
    return value


def random_config(config_class: type, overrides: object, defaults: Mapping, who: str):
    """A ``config_class`` for a random initialisation: its defaults, then ``defaults`` (the
    adapter's: the paper's head), then ``overrides`` (a mapping of config fields, or a config).

    Raises:
        TypeError: ``overrides`` is a config of another class, or neither a mapping nor a config.
        ValueError: an override names a field ``config_class`` does not have.
    """
    if isinstance(overrides, transformers.PretrainedConfig):
        if not isinstance(overrides, config_class):
            raise TypeError(f"{who}: config must be a {config_class.__name__}, got a {type(overrides).__name__}")
        return copy.deepcopy(overrides)
    if overrides is not None and not isinstance(overrides, Mapping):
        raise TypeError(f"{who}: config must be a mapping of {config_class.__name__} fields, got {overrides!r}")
    fields = {**_plain(defaults), **_plain(overrides or {})}
    default = config_class()
    known = set(default.to_dict()) | {"architectures"}
    unknown = sorted(k for k in fields if k not in known and not hasattr(default, k))  # num_labels is a property
    if unknown:
        raise ValueError(f"{who}: {config_class.__name__} has no field(s) {unknown} (config overrides)")
    return config_class(**fields)


def load_pretrained(model_class: type, directory: Path, config, who: str, keep: Sequence[str] = ("",)) -> nn.Module:
    """``model_class.from_pretrained(directory)`` with nothing downloaded, every weight it needs
    present (those under the prefixes ``keep``) and the weights in float32.

    Raises:
        ValueError: transformers cannot load the directory, or the checkpoint lacks weights the
            network needs (they would stay random) or has them with other shapes.
    """
    try:
        model, info = model_class.from_pretrained(
            directory, config=config, local_files_only=True, output_loading_info=True
        )
    except Exception as exc:  # OSError, ValueError, safetensors errors ...: one message naming the path
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ValueError(
            f"{who}: transformers could not load {model_class.__name__} from {directory} "
            f"({type(exc).__name__}: {first})"
        ) from exc
    missing = sorted(
        k for k in info.get("missing_keys", ()) if k.startswith(tuple(keep)) and not k.endswith(_UNUSED_AT_INFERENCE)
    )
    if missing:
        raise ValueError(
            f"{who}: the weights in {directory} lack {len(missing)} tensor(s) of {model_class.__name__} "
            f"({', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}); they would be left random"
        )
    mismatched = list(info.get("mismatched_keys", ()))
    if mismatched:
        raise ValueError(f"{who}: the weights in {directory} have other shapes than its {CONFIG_FILE} says: "
                         f"{mismatched[:3]}")  # fmt: skip
    return model.float()


def _preprocessor_config(directory: Path | None) -> dict:
    """The directory's ``preprocessor_config.json`` as a dict; ``{}`` when there is none."""
    if directory is None or not (directory / PREPROCESSOR_FILE).is_file():
        return {}
    try:
        return json.loads((directory / PREPROCESSOR_FILE).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{directory / PREPROCESSOR_FILE} is not valid JSON: {exc}") from exc


def feature_extractor(extractor_class: type, directory: Path | None, who: str, **defaults):
    """The directory's ``extractor_class`` (from its ``preprocessor_config.json``), else one with
    ``defaults`` (matched to the network's config).

    Raises:
        ImportError: the extractor needs a package that is not installed (named).
    """
    try:
        if directory is not None and (directory / PREPROCESSOR_FILE).is_file():
            return extractor_class.from_pretrained(directory, local_files_only=True)
        return extractor_class(**defaults)
    except ImportError as exc:
        raise ImportError(f"{who}: transformers' {extractor_class.__name__} needs a package that is not installed: "
                          f"{exc}")  # fmt: skip


def zero_mean_unit_var(waveform: torch.Tensor) -> torch.Tensor:
    """Each clip of ``[batch, samples]`` to zero mean and unit variance, as transformers'
    ``Wav2Vec2FeatureExtractor(do_normalize=True)``: ``(x - mean) / sqrt(var + 1e-7)``."""
    mean = waveform.mean(dim=-1, keepdim=True)
    var = waveform.var(dim=-1, keepdim=True, unbiased=False)
    return (waveform - mean) / torch.sqrt(var + 1e-7)


# ---------------------------------------------------------------------------- reading layers
@dataclass(frozen=True)
class Tap:
    """A tensor to record while the network runs: what ``module`` takes (``takes=True``: its
    first argument) or returns (element ``index`` when it returns a tuple)."""

    layer: str
    module: nn.Module
    takes: bool = False
    index: int = 0


def _took(store: dict, layer: str, _module, args, kwargs) -> None:
    store[layer] = args[0] if args else kwargs["hidden_states"]


def _returned(store: dict, layer: str, index: int, _module, _args, output) -> None:
    store[layer] = output[index] if isinstance(output, (tuple, list)) else output


@contextmanager
def recording(taps: Sequence[Tap]) -> Iterator[dict[str, torch.Tensor]]:
    """``{layer: tensor}`` filled by forward hooks while the block runs; the hooks are removed
    on leaving it (a model carrying hooks could not be keyed for the activation cache)."""
    store: dict[str, torch.Tensor] = {}
    handles = []
    try:
        for tap in taps:
            if tap.takes:
                handles.append(tap.module.register_forward_pre_hook(partial(_took, store, tap.layer), with_kwargs=True))
            else:
                handles.append(tap.module.register_forward_hook(partial(_returned, store, tap.layer, tap.index)))
        yield store
    finally:
        for handle in handles:
            handle.remove()


def encoder_taps(layers: Sequence[nn.Module]) -> list[Tap]:
    """``Embedding`` (what the first transformer layer takes) and ``Encoder_i`` (what layer i returns)."""
    return [Tap("Embedding", layers[0], takes=True)] + [Tap(f"Encoder_{i}", m) for i, m in enumerate(layers, 1)]


def encoder_layer_names(n: int) -> list[str]:
    return ["Embedding", *(f"Encoder_{i}" for i in range(1, n + 1))]


def first_submodule(module: nn.Module, *names: str) -> nn.Module:
    """The first of the dotted submodule ``names`` that ``module`` has (where transformers
    versions place a stack differently)."""
    for name in names:
        try:
            return module.get_submodule(name)
        except AttributeError:
            continue
    raise AttributeError(f"{type(module).__name__} has none of the submodules {list(names)}")


def _architectures(config) -> list[str]:
    return list(getattr(config, "architectures", None) or [])


# ---------------------------------------------------------------------------- the base class
class HFAudioModel(nn.Module):
    """Shared logic of the adapters: the local directory (or a random initialisation), the
    network in eval mode, its weights' origin and the layer table.

    Args:
        path: a transformers model directory (``config.json`` + weights, and the feature
            extractor's ``preprocessor_config.json`` where there is one); ``None`` = random weights.
        config: with ``path=None``, overrides of the transformers config (a mapping of its
            fields, or a config object); ``None`` = its defaults (the architecture of
            ``CHECKPOINT`` where transformers' defaults are that). Refused with ``path``.

    Attributes:
        network: the transformers module that runs (an encoder only, where the checkpoint is an
            encoder-decoder).
        LAYER_REDUCTIONS: ``{layer: Reduction}`` in model order (see the module docstring).
        sample_rate: the rate (Hz) of the waveforms ``activations`` takes.
        identifier / provenance: where the weights came from (:mod:`models.zoo.origin`).
        path: the resolved directory (a string), or None.
    """

    MODEL_TYPES: ClassVar[tuple[str, ...]] = ()  # config.json model_type values this adapter takes
    CONFIG_CLASS: ClassVar[type]  # the transformers config of a random initialisation
    CHECKPOINT: ClassVar[str] = ""  # the paper's (or a suggested) checkpoint, for messages
    CONF_NAME: ClassVar[str] = ""  # conf/model/zoo/<CONF_NAME>.yaml
    RANDOM_DEFAULTS: ClassVar[dict] = {}  # config fields of a random initialisation before the overrides
    sample_rate: int = 16000

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for model_type in cls.MODEL_TYPES:
            ADAPTERS.setdefault(model_type, (cls.__name__, cls.CONF_NAME))

    def __init__(self, path: str | Path | None = None, config: Mapping | object | None = None):
        super().__init__()
        name = type(self).__name__
        if path is not None and config is not None:
            raise ValueError(f"{name}: pass path=<model directory> (its config.json decides the architecture) or "
                             "config=<overrides> for a random initialisation, not both")  # fmt: skip
        directory = None
        if path is not None:
            directory = model_directory(path, name, self.MODEL_TYPES, self.CHECKPOINT)
            hf_config = self.CONFIG_CLASS.from_pretrained(directory, local_files_only=True)
        else:
            hf_config = random_config(self.CONFIG_CLASS, config, self.RANDOM_DEFAULTS, name)
        self.path = None if directory is None else str(directory)
        self.network = self.build(hf_config, directory).float().eval()
        self.LAYER_REDUCTIONS = self.layer_reductions()
        if directory is not None:
            self.identifier, self.provenance = weights_origin(name, directory)
            log.info("Loaded %s from %s (%s)", name, directory, self.identifier)
        else:
            self.identifier, self.provenance = random_origin(name)
        self.provenance["architecture"] = type(self.network).__name__
        self.provenance["model_type"] = hf_config.model_type
        self.eval()

    # Subclasses: the network, its layer table and the activations.
    def build(self, config, directory: Path | None) -> nn.Module:
        """The transformers network of ``config``: loaded from ``directory``, or random (``None``);
        may also set the preprocessing (feature extractor, rate) from the directory."""
        raise NotImplementedError

    def layer_reductions(self) -> dict[str, Reduction]:
        raise NotImplementedError

    def activations(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        """The same as :meth:`activations` (a feature extractor: it has no heads)."""
        return self.activations(waveform)

    def _checked(self, waveform: torch.Tensor) -> torch.Tensor:
        if not isinstance(waveform, torch.Tensor) or waveform.ndim != 2:
            shape = list(waveform.shape) if hasattr(waveform, "shape") else type(waveform).__name__
            raise ValueError(f"{type(self).__name__} expects waveforms [batch, samples] at {self.sample_rate} Hz, "
                             f"got {shape}")  # fmt: skip
        return waveform.float()

    def _to_numpy(self, waveform: torch.Tensor) -> np.ndarray:
        """The batch for a transformers feature extractor (they take numpy arrays)."""
        return waveform.detach().float().cpu().numpy()

    def _device(self) -> torch.device:
        return next(self.network.parameters()).device

    def extra_repr(self) -> str:
        return f"path={self.path!r}, sample_rate={self.sample_rate}, layers={len(self.LAYER_REDUCTIONS)}"


# ---------------------------------------------------------------------------- wav2vec2 family
class _Wav2Vec2Family(HFAudioModel):
    """wav2vec 2.0-style networks on the raw waveform: a convolutional feature encoder, a
    positional convolution and a transformer; a CTC head where the checkpoint has one.

    Args:
        path, config: see :class:`HFAudioModel`. The network is ``*ForCTC`` when the config's
            ``architectures`` name a CTC model (``Final`` = its logits), else the bare model.
        normalize: standardise each clip to zero mean / unit variance before the network;
            ``None`` = the directory's ``preprocessor_config.json`` (``do_normalize``), else on.
    """

    MODEL_CLASS: ClassVar[type]
    CTC_CLASS: ClassVar[type]
    NORMALIZE_FROM_PREPROCESSOR: ClassVar[bool] = True

    def __init__(self, path: str | Path | None = None, config: Mapping | object | None = None,
                 normalize: bool | None = None):  # fmt: skip
        super().__init__(path, config)
        pre = _preprocessor_config(None if self.path is None else Path(self.path))
        self.sample_rate = int(pre.get("sampling_rate", type(self).sample_rate))
        if normalize is not None:
            self.normalize = bool(normalize)
        elif self.NORMALIZE_FROM_PREPROCESSOR and "do_normalize" in pre:
            self.normalize = bool(pre["do_normalize"])
        else:
            self.normalize = True  # the paper's choice (and what wav2vec2-base-960h's extractor does)

    def build(self, config, directory):
        ctc = any(a.endswith("ForCTC") for a in _architectures(config))
        cls = self.CTC_CLASS if ctc else self.MODEL_CLASS
        if directory is None:
            return cls(config)
        return load_pretrained(cls, directory, config, type(self).__name__)

    @property
    def has_ctc(self) -> bool:
        return hasattr(self.network, "lm_head")

    def _layers(self) -> nn.ModuleList:
        return self.network.base_model.encoder.layers

    def layer_reductions(self):
        names = encoder_layer_names(len(self._layers())) + (["Final"] if self.has_ctc else [])
        return {name: time_mean(axis=1) for name in names}

    def activations(self, waveform):
        """``[batch, samples]`` at ``sample_rate`` -> ``Embedding`` and ``Encoder_i``
        ``[batch, frames, hidden]`` (20 ms frames), ``Final`` ``[batch, frames, vocab]``."""
        x = self._checked(waveform)
        if self.normalize:
            x = zero_mean_unit_var(x)
        with torch.no_grad(), recording(encoder_taps(self._layers())) as got:
            out = self.network(input_values=x)
        if self.has_ctc:
            got["Final"] = out.logits
        return {name: got[name] for name in self.LAYER_REDUCTIONS}

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, normalize={self.normalize}"


class HFWav2Vec2(_Wav2Vec2Family):
    """wav2vec 2.0 (the paper's ``facebook/wav2vec2-base-960h``): ``Embedding``,
    ``Encoder_1..12``, ``Final`` (CTC logits), time-averaged; input normalised per clip by
    default, as in the paper (whatever the directory's feature extractor says)."""

    MODEL_TYPES = ("wav2vec2",)
    CONFIG_CLASS = Wav2Vec2Config
    MODEL_CLASS, CTC_CLASS = Wav2Vec2Model, Wav2Vec2ForCTC
    CHECKPOINT = "facebook/wav2vec2-base-960h"
    CONF_NAME = "wav2vec2"
    RANDOM_DEFAULTS = {"architectures": ["Wav2Vec2ForCTC"]}  # the paper's model has its CTC head
    NORMALIZE_FROM_PREPROCESSOR = False


class HFHubert(_Wav2Vec2Family):
    """HuBERT (e.g. ``facebook/hubert-base-ls960``; ``facebook/hubert-large-ls960-ft`` has a CTC head)."""

    MODEL_TYPES = ("hubert",)
    CONFIG_CLASS = HubertConfig
    MODEL_CLASS, CTC_CLASS = HubertModel, HubertForCTC
    CHECKPOINT = "facebook/hubert-base-ls960"
    CONF_NAME = "hubert"


class HFWavLM(_Wav2Vec2Family):
    """WavLM (e.g. ``microsoft/wavlm-base-plus``)."""

    MODEL_TYPES = ("wavlm",)
    CONFIG_CLASS = WavLMConfig
    MODEL_CLASS, CTC_CLASS = WavLMModel, WavLMForCTC
    CHECKPOINT = "microsoft/wavlm-base-plus"
    CONF_NAME = "wavlm"


class HFData2VecAudio(_Wav2Vec2Family):
    """data2vec-audio (e.g. ``facebook/data2vec-audio-base-960h``, with a CTC head)."""

    MODEL_TYPES = ("data2vec-audio",)
    CONFIG_CLASS = Data2VecAudioConfig
    MODEL_CLASS, CTC_CLASS = Data2VecAudioModel, Data2VecAudioForCTC
    CHECKPOINT = "facebook/data2vec-audio-base-960h"
    CONF_NAME = "data2vec_audio"


# ---------------------------------------------------------------------------- Whisper
class HFWhisper(HFAudioModel):
    """Whisper's encoder (e.g. ``openai/whisper-base``) on transformers' log-mel features.

    The ``WhisperFeatureExtractor`` (the directory's, else one with the network's number of
    mel bands) pads every clip to 30 s, the only input length the encoder takes; its
    positional embedding covers the 30 s. The time mean is over the encoder frames of the clip
    only (``ceil(samples / hop_length / 2)``: 100 frames for a 2-s clip), not over the
    padding: ``activations`` returns ``[batch, clip frames, d_model]``. Clips longer than 30 s
    are refused (the extractor would cut them).
    """

    MODEL_TYPES = ("whisper",)
    CONFIG_CLASS = WhisperConfig
    CHECKPOINT = "openai/whisper-base"
    CONF_NAME = "whisper"

    def build(self, config, directory):
        name = type(self).__name__
        if directory is None:
            full = WhisperModel(config)
        else:
            full = load_pretrained(WhisperModel, directory, config, name, keep=("encoder.",))
        encoder = full.get_encoder()  # the decoder is dropped with `full`
        self.feature_extractor = feature_extractor(WhisperFeatureExtractor, directory, name,
                                                   feature_size=config.num_mel_bins)  # fmt: skip
        fe = self.feature_extractor
        self.sample_rate = int(fe.sampling_rate)
        self.stride = int(encoder.conv1.stride[0] * encoder.conv2.stride[0])
        if fe.feature_size != config.num_mel_bins or fe.nb_max_frames != config.max_source_positions * self.stride:
            raise ValueError(
                f"{name}: the feature extractor of {directory} gives {fe.feature_size} mel bands x {fe.nb_max_frames} "
                f"frames; the encoder takes {config.num_mel_bins} x {config.max_source_positions * self.stride}"
            )
        return encoder

    def layer_reductions(self):
        return {name: time_mean(axis=1) for name in encoder_layer_names(len(self.network.layers))}

    def clip_frames(self, samples: int) -> int:
        """Encoder frames that hold a clip of ``samples`` samples (the rest is the 30-s padding)."""
        mel_frames = math.ceil(samples / self.feature_extractor.hop_length)
        return max(1, math.ceil(mel_frames / self.stride))

    def activations(self, waveform):
        """``[batch, samples]`` at 16 kHz (at most 30 s) -> ``{layer: [batch, clip frames, d_model]}``."""
        x = self._checked(waveform)
        fe = self.feature_extractor
        if x.shape[1] > fe.n_samples:
            raise ValueError(f"{type(self).__name__}: clips of {x.shape[1] / self.sample_rate:.2f} s are longer than "
                             f"Whisper's {fe.chunk_length} s window")  # fmt: skip
        features = fe(self._to_numpy(x), sampling_rate=self.sample_rate, return_tensors="pt")["input_features"]
        with torch.no_grad(), recording(encoder_taps(self.network.layers)) as got:
            self.network(input_features=features.to(self._device(), torch.float32))
        n = self.clip_frames(x.shape[1])
        return {name: got[name][:, :n] for name in self.LAYER_REDUCTIONS}


# ---------------------------------------------------------------------------- AST
class HFAST(HFAudioModel):
    """The Audio Spectrogram Transformer (the paper's ``MIT/ast-finetuned-audioset-10-10-0.4593``).

    Input: ``ASTFeatureExtractor``'s 128-band Kaldi filter bank (torchaudio's, else numpy),
    normalised with AudioSet's statistics and padded to ``max_length`` frames (10.24 s), as
    transformers prepares it; the padding's patches are part of the token mean (as the
    paper's extraction, which ran the model on the extractor's output). ``Final`` is the
    classifier's logits (527 AudioSet classes) where the checkpoint has the classifier
    (``ASTForAudioClassification``).
    """

    MODEL_TYPES = ("audio-spectrogram-transformer",)
    CONFIG_CLASS = ASTConfig
    CHECKPOINT = "MIT/ast-finetuned-audioset-10-10-0.4593"
    CONF_NAME = "ast"
    RANDOM_DEFAULTS = {"architectures": ["ASTForAudioClassification"], "num_labels": 527}

    def build(self, config, directory):
        name = type(self).__name__
        classifier = "ASTForAudioClassification" in _architectures(config)
        cls = ASTForAudioClassification if classifier else ASTModel
        network = cls(config) if directory is None else load_pretrained(cls, directory, config, name)
        self.feature_extractor = feature_extractor(
            ASTFeatureExtractor, directory, name, num_mel_bins=config.num_mel_bins, max_length=config.max_length
        )
        fe = self.feature_extractor
        self.sample_rate = int(fe.sampling_rate)
        if fe.num_mel_bins != config.num_mel_bins or fe.max_length != config.max_length:
            raise ValueError(
                f"{name}: the feature extractor of {directory} gives {fe.max_length} frames x {fe.num_mel_bins} "
                f"bands; the network takes {config.max_length} x {config.num_mel_bins}"
            )
        return network

    @property
    def has_classifier(self) -> bool:
        return hasattr(self.network, "classifier")

    def _layers(self) -> nn.ModuleList:
        return first_submodule(self.network.base_model, "layers", "encoder.layer")  # transformers 5 / 4

    def layer_reductions(self):
        table = {name: TOKEN_MEAN for name in encoder_layer_names(len(self._layers()))}
        if self.has_classifier:
            table["Final"] = AS_IS
        return table

    def activations(self, waveform):
        """``[batch, samples]`` at 16 kHz -> ``Embedding`` / ``Encoder_i`` ``[batch, tokens, hidden]``
        (2 special tokens + the patches), ``Final`` ``[batch, n_labels]``."""
        x = self._checked(waveform)
        features = self.feature_extractor(self._to_numpy(x), sampling_rate=self.sample_rate, return_tensors="pt")
        with torch.no_grad(), recording(encoder_taps(self._layers())) as got:
            out = self.network(input_values=features["input_values"].to(self._device(), torch.float32))
        if self.has_classifier:
            got["Final"] = out.logits
        return {name: got[name] for name in self.LAYER_REDUCTIONS}


# ---------------------------------------------------------------------------- Speech2Text
class HFSpeech2Text(HFAudioModel):
    """Speech2Text's encoder (the paper's ``facebook/s2t-large-librispeech-asr``).

    Input: ``Speech2TextFeatureExtractor``'s 80-band Kaldi filter bank (torchaudio's, else
    numpy; the waveform scaled to 16-bit range inside it) with per-utterance mean and variance
    normalisation. Clips of one batch have one length, so nothing is padded.
    """

    MODEL_TYPES = ("speech_to_text",)
    CONFIG_CLASS = Speech2TextConfig
    CHECKPOINT = "facebook/s2t-large-librispeech-asr"
    CONF_NAME = "s2t"

    def build(self, config, directory):
        name = type(self).__name__
        if directory is None:
            full = Speech2TextModel(config)
        else:
            full = load_pretrained(Speech2TextModel, directory, config, name, keep=("encoder.",))
        encoder = full.get_encoder()
        n_in = config.input_feat_per_channel * config.input_channels
        self.feature_extractor = feature_extractor(Speech2TextFeatureExtractor, directory, name,
                                                   feature_size=n_in, num_mel_bins=n_in)  # fmt: skip
        fe = self.feature_extractor
        self.sample_rate = int(fe.sampling_rate)
        if fe.feature_size != n_in:
            raise ValueError(f"{name}: the feature extractor of {directory} gives {fe.feature_size} features per "
                             f"frame; the encoder takes {n_in}")  # fmt: skip
        return encoder

    def layer_reductions(self):
        return {name: time_mean(axis=1) for name in encoder_layer_names(len(self.network.layers))}

    def activations(self, waveform):
        """``[batch, samples]`` at 16 kHz -> ``{layer: [batch, frames / 4, d_model]}`` (40-ms frames)."""
        x = self._checked(waveform)
        features = self.feature_extractor(self._to_numpy(x), sampling_rate=self.sample_rate, return_tensors="pt")
        with torch.no_grad(), recording(encoder_taps(self.network.layers)) as got:
            self.network(input_features=features["input_features"].to(self._device(), torch.float32))
        return {name: got[name] for name in self.LAYER_REDUCTIONS}


# ---------------------------------------------------------------------------- CLAP
class HFClap(HFAudioModel):
    """CLAP's audio tower (HTS-AT, a Swin transformer; e.g. ``laion/clap-htsat-unfused``),
    from a ``ClapModel`` directory (its text tower is not loaded) or an audio-only one.

    Input: ``ClapFeatureExtractor``'s log-mel spectrogram at 48 kHz, a clip shorter than
    10 s repeated to fill 10 s (``padding="repeatpad"``), with the extractor's truncation
    mode decided by the network (``fusion`` for a fused model, else ``rand_trunc``). Whether a
    clip is longer than 10 s (``is_longer``) is the clip's own: the extractor's random choice
    of one "longer" clip per batch of short clips (fused models) is not used, so a clip's
    activations do not depend on its batch.

    Layers: ``Stage_i`` = Swin stage i's output before its patch merging, ``[batch, tokens,
    channels]``, averaged over all tokens (the time-frequency patches; HTS-AT folds time
    into its image rows, so no axis is time alone); ``Final`` = the projected audio
    embedding ``[batch, projection_dim]`` as it is (``ClapModel`` L2-normalises it for its
    similarity; that scale is not applied here).
    """

    MODEL_TYPES = ("clap", "clap_audio_model")
    CONFIG_CLASS = ClapAudioConfig
    CHECKPOINT = "laion/clap-htsat-unfused"
    CONF_NAME = "clap"
    sample_rate = 48000

    def build(self, config, directory):
        name = type(self).__name__
        cls = ClapAudioModelWithProjection
        if directory is None:
            network = cls(config)
        else:
            network = load_pretrained(cls, directory, config, name, keep=("audio_model.", "audio_projection."))
        self.feature_extractor = feature_extractor(ClapFeatureExtractor, directory, name,
                                                   feature_size=config.num_mel_bins)  # fmt: skip
        fe = self.feature_extractor
        self.sample_rate = int(fe.sampling_rate)
        self.truncation = "fusion" if config.enable_fusion else "rand_trunc"
        if fe.feature_size != config.num_mel_bins:
            raise ValueError(f"{name}: the feature extractor of {directory} gives {fe.feature_size} mel bands; the "
                             f"network takes {config.num_mel_bins}")  # fmt: skip
        return network

    def _stages(self) -> nn.ModuleList:
        return self.network.audio_model.audio_encoder.layers

    def layer_reductions(self):
        table = {f"Stage_{i}": TOKEN_MEAN for i in range(1, len(self._stages()) + 1)}
        table["Final"] = AS_IS
        return table

    def activations(self, waveform):
        """``[batch, samples]`` at 48 kHz -> ``Stage_i`` ``[batch, tokens, channels]``, ``Final``
        ``[batch, projection_dim]``."""
        x = self._checked(waveform)
        fe = self.feature_extractor
        features = fe(self._to_numpy(x), sampling_rate=self.sample_rate, truncation=self.truncation,
                      return_tensors="pt")["input_features"]  # fmt: skip
        longer = torch.full((len(x), 1), x.shape[1] > fe.nb_max_samples, dtype=torch.bool, device=self._device())
        taps = [Tap(f"Stage_{i}", stage, index=1) for i, stage in enumerate(self._stages(), 1)]
        with torch.no_grad(), recording(taps) as got:
            out = self.network(input_features=features.to(self._device(), torch.float32), is_longer=longer)
        got["Final"] = out.audio_embeds
        return {name: got[name] for name in self.LAYER_REDUCTIONS}

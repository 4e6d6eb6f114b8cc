"""The model contract: what evaluation and training read from a network, and nothing else.

Every network this project scores implements :class:`ScoredModel`: the in-house CochCNN9 and
CochResNet50 (and the authors' released checkpoints loaded into them), the SpectroTemporal
baseline and the external adapters. Any other ``torch.nn.Module`` can still be scored: the
functions below are the one place that reads the contract, and they say what a module that
does not implement it gets (layers must then be named; the input rate is 20 kHz).

Activations reach evaluation in one of two ways, which give the same ``[n_sounds, n_features]``
per layer and feed the same scoring, controls, callback and reports:

* forward hooks on named submodules, whose outputs are averaged over time
  (``evaluate.activations``; the in-house networks);
* the model returns them itself (:class:`ActivationModel`): ``activations(waveform)`` gives
  ``{layer: tensor}`` and ``LAYER_REDUCTIONS`` declares how each becomes one vector per sound
  (:mod:`models.reductions`: a time mean over a named axis, a recurrent layer's final state,
  a mean over examples or frames, as it is). For models whose readout is not "this module's
  output, averaged over time": recurrent final states, VGGish's examples, frame-wise networks.

The word *heads* means one thing here: the linear readouts of a network, one per task, whose
logits ``forward`` returns by name. (What training optimises through them are the
*objectives* of ``train/``.)
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from data.audio import SAMPLE_RATE
from models.reductions import Reduction

__all__ = [
    "ActivationModel",
    "CochleagramNetwork",
    "FrontEndModel",
    "ScoredModel",
    "input_rate",
    "model_identifier",
    "model_provenance",
    "parameter_free_frontend",
    "returned_layers",
    "scored_layers",
    "submodule_names",
    "weights_digest",
]


@runtime_checkable
class ScoredModel(Protocol):
    """A network evaluation can score.

    Attributes:
        SCORED_LAYERS: names of the submodules scored by default, in model order; their
            forward outputs are ``[batch, features]``, ``[batch, time, dim]`` or
            ``[batch, channels, freq, time]``.
        sample_rate: the rate (Hz) of the waveforms ``forward`` takes.
        identifier: where the weights came from (a checkpoint, a released file), or None for
            a network built with random weights (the caller names it from its seed).
    """

    SCORED_LAYERS: Sequence[str]
    sample_rate: int
    identifier: str | None

    def forward(self, waveform: torch.Tensor) -> Mapping[str, torch.Tensor]:
        """Waveforms ``[batch, samples]`` at ``sample_rate`` -> ``{head: logits [batch, n_classes]}``
        (empty for a network without heads, such as SpectroTemporal)."""
        ...


@runtime_checkable
class ActivationModel(Protocol):
    """A network that returns its scored activations itself, each with a declared reduction.

    Attributes:
        LAYER_REDUCTIONS: ``{layer: Reduction}`` in model order; its keys are the layers
            scored by default (when the model has no ``SCORED_LAYERS``).
        sample_rate: the rate (Hz) of the waveforms ``activations`` takes.
        identifier: where the weights came from (a file path and digest), or None for a
            random initialisation (the caller names it from its seed).
    """

    LAYER_REDUCTIONS: Mapping[str, Reduction]
    sample_rate: int
    identifier: str | None

    def activations(self, waveform: torch.Tensor) -> Mapping[str, torch.Tensor]:
        """Waveforms ``[batch, samples]`` at ``sample_rate`` -> ``{layer: [batch, ...]}`` for
        every layer of ``LAYER_REDUCTIONS`` (each reduced by its declared reduction)."""
        ...


def returned_layers(model: nn.Module) -> dict[str, Reduction]:
    """``{layer: Reduction}`` of the activations ``model`` returns itself; empty for a model
    that does not implement :class:`ActivationModel`.

    ``sample_rate`` and ``identifier`` are optional here as for any module (20 kHz; named
    from the seed or the weights' digest).

    Raises:
        TypeError: the model has only one of ``LAYER_REDUCTIONS`` and ``activations``, or
            ``LAYER_REDUCTIONS`` is not a non-empty mapping of layer names to
            :class:`models.reductions.Reduction`.
    """
    has_method = callable(getattr(model, "activations", None))
    declared = getattr(model, "LAYER_REDUCTIONS", None)
    if declared is None and not has_method:
        return {}
    if declared is None or not has_method:  # half the contract: say which half is missing
        missing = "LAYER_REDUCTIONS" if declared is None else "an activations(waveform) method"
        raise TypeError(f"{_named(model)} implements only part of models.contract.ActivationModel: it lacks {missing}")
    if not isinstance(declared, Mapping) or not declared or not all(
        isinstance(k, str) and k and isinstance(v, Reduction) for k, v in declared.items()
    ):
        raise TypeError(
            f"{_named(model)}.LAYER_REDUCTIONS must map layer names to models.reductions.Reduction, got {declared!r}"
        )
    return dict(declared)


@runtime_checkable
class FrontEndModel(ScoredModel, Protocol):
    """A network whose first stage is a fixed transform of the waveform (the cochleagram).

    ``from_frontend(frontend(waveform))`` equals ``forward(waveform)``, so the front end's
    output for a fixed set of stimuli can be computed once and reused while the rest trains.
    """

    @property
    def frontend(self) -> nn.Module: ...

    def from_frontend(self, representation: torch.Tensor) -> Mapping[str, torch.Tensor]: ...


class CochleagramNetwork(nn.Module):
    """Base of the networks whose first stage is their ``cochleagram`` submodule (CochCNN9,
    CochResNet50, SpectroTemporal): a :class:`FrontEndModel` at 20 kHz whose ``forward`` is
    ``from_frontend(cochleagram(waveform))``. Subclasses build ``self.cochleagram`` and define
    ``SCORED_LAYERS`` and ``from_frontend``."""

    sample_rate = SAMPLE_RATE
    identifier: str | None = None  # set by the loaders (a checkpoint, a released file)
    cochleagram: nn.Module

    @property
    def frontend(self) -> nn.Module:
        """The parameter-free front end."""
        return self.cochleagram

    def from_frontend(self, representation: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError(f"{type(self).__name__} must define from_frontend")

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        """Waveform ``[batch, samples]`` at 20 kHz -> ``{head: logits [batch, n_classes]}``."""
        return self.from_frontend(self.cochleagram(waveform))


def _named(model: nn.Module) -> str:
    return type(model).__name__


def submodule_names(model: nn.Module, limit: int = 8) -> str:
    """Up to ``limit`` of the model's dotted submodule names, for messages that suggest layers."""
    names = [n for n, _ in model.named_modules() if n]
    return ", ".join(names[:limit]) + (" ..." if len(names) > limit else "")


def scored_layers(model: nn.Module) -> list[str]:
    """The model's default scored layers: ``SCORED_LAYERS``, else the layers an
    :class:`ActivationModel` returns (``LAYER_REDUCTIONS``).

    Raises:
        ValueError: the model declares neither; the message lists some submodule names to
            pass as ``layers`` instead.
    """
    layers = model.SCORED_LAYERS if hasattr(model, "SCORED_LAYERS") else list(returned_layers(model))
    if not layers:
        raise ValueError(
            f"{_named(model)} does not define SCORED_LAYERS; pass the layer names to score "
            f"(submodule names such as {submodule_names(model)})"
        )
    return list(layers)


def input_rate(model: nn.Module, override: int | None = None) -> int:
    """The rate ``model`` takes its input at: ``override``, else ``model.sample_rate``, else
    the project's 20 kHz (a module that does not declare one).

    Raises:
        ValueError: the rate is not a positive whole number of Hz (naming where it came from).
    """
    if override is not None:
        rate, source = override, "sample_rate"
    elif hasattr(model, "sample_rate"):
        rate, source = model.sample_rate, f"{_named(model)}.sample_rate"
    else:
        rate, source = SAMPLE_RATE, "the default"
    valid = isinstance(rate, numbers.Real) and not isinstance(rate, bool) and math.isfinite(rate)
    if not valid or rate != int(rate) or rate <= 0:
        raise ValueError(f"{source} must be a positive whole number of Hz, got {rate!r}")
    return int(rate)


def model_identifier(model: nn.Module) -> str | None:
    """Where the model's weights came from (``model.identifier``), or None when it does not say."""
    ident = model.identifier if hasattr(model, "identifier") else None
    return str(ident) if ident else None


def model_provenance(model: nn.Module) -> dict | None:
    """The record of the weights' origin a loader attached (file, digest, architecture), if any."""
    prov = model.provenance if hasattr(model, "provenance") else None
    return dict(prov) if prov else None


def weights_digest(model: nn.Module) -> str | None:
    """sha256 (hex) of the model's state: every parameter and buffer, in ``state_dict`` order
    with its name, dtype and shape; None for a model with no state at all."""
    state = model.state_dict()
    if not state:
        return None
    h = hashlib.sha256()
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            continue
        t = value.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def parameter_free_frontend(model: nn.Module) -> nn.Module | None:
    """The model's front end when it is a :class:`FrontEndModel` whose front end has no
    parameters (so its output for fixed stimuli never changes); None otherwise."""
    if not isinstance(model, FrontEndModel):
        return None
    front = model.frontend
    if not isinstance(front, nn.Module) or any(True for _ in front.parameters()):
        return None
    return front

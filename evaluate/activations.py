"""Activations of named layers of any ``torch.nn.Module``, one vector per sound (docs/reference.md section 6).

Two ways in, mixed freely in one call (:mod:`models.contract`):

* forward hooks capture a named submodule's output while the model runs on batches of
  waveforms, reduced to one feature vector per sound by a time mean:

  - ``[batch, channels, freq, time]`` (convolutional): mean over time -> ``channels * freq``;
  - ``[batch, time, dim]`` (sequence models): mean over time -> ``dim``;
  - ``[batch, features]`` (fully connected): as it is;

* a model that returns its activations itself (:class:`models.contract.ActivationModel`) is
  run as ``model.activations(batch)``, and each layer it declares is reduced by its declared
  :class:`models.reductions.Reduction` (final state, mean over examples ...). Hooks on other
  submodules fire during that same call.

Every layer's features are checked: a layer that returns nothing, a wrong batch size, or NaN /
inf activations stop extraction with an error naming the model, the layer and the sounds; a
forward pass that fails names the model, the input and the innermost submodule it failed in.

Results are cached on disk (``<cache>/activations/<key>.npz``), keyed by everything that
decides them (:mod:`evaluate.fingerprint`): the model's class and the code behind its module
tree, every parameter and buffer, every other attribute of its submodules (constructor
arguments, front-end settings, flags), the preprocessing function, the reduction (this
module's code), the stimuli and the layer names. A model that cannot be keyed reliably (a
lambda attribute, a registered hook ...) is not cached, and the log says why. Every entry
stores its key's parts and is used only when they all match; hits are logged with them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from data.cache import atomic_file, cache_root
from evaluate.fingerprint import Fingerprint, Unkeyable, array_digest, code_digest, encode, module_fingerprint
from models.contract import parameter_free_frontend, returned_layers, scored_layers, submodule_names
from models.reductions import Reduction, reduce_layer

log = logging.getLogger(__name__)

CACHE_VERSION = 3  # 3: layers a model returns itself, with their declared reductions
REDUCTION = "time-mean: [B,C,F,T] mean over T then C x F; [B,T,D] mean over T; [B,D] as is"
_KEY_ENTRY = "__key__"  # the key's parts, stored in every cache entry


def check_layers(model: nn.Module, layers: Sequence[str]) -> dict[str, nn.Module]:
    """``{name: submodule}`` of the layers read by forward hooks (dotted submodule names); the
    layers the model returns itself (``LAYER_REDUCTIONS``) are accepted and left out. A clear
    error for names that are neither."""
    returned = returned_layers(model)
    modules = dict(model.named_modules())
    missing = [name for name in layers if name not in returned and (name not in modules or not name)]
    if missing:
        if returned:
            available = f"the layers it returns: {list(returned)}; submodules {submodule_names(model, 40)}"
            raise ValueError(f"{type(model).__name__} has no layer(s) {missing}; available: {available}")
        raise ValueError(f"{type(model).__name__} has no submodule(s) {missing}; available: {submodule_names(model, 40)}")
    if len(set(layers)) != len(layers):
        raise ValueError(f"layer names must be unique, got {list(layers)}")
    return {name: modules[name] for name in layers if name not in returned}


def reduce_output(output: object, layer: str) -> torch.Tensor:
    """One layer output -> ``[batch, features]`` (time-averaged; see the module docstring)."""
    if isinstance(output, (tuple, list)):
        output = output[0]
    if not isinstance(output, torch.Tensor):
        raise TypeError(f"layer {layer!r} returned {type(output).__name__}, expected a tensor")
    if output.ndim == 4:
        return output.mean(dim=-1).flatten(1)
    if output.ndim == 3:
        return output.mean(dim=1)
    if output.ndim == 2:
        return output
    raise ValueError(
        f"layer {layer!r} output has shape {list(output.shape)}; expected [batch, features], "
        "[batch, time, dim] or [batch, channels, freq, time]"
    )


def module_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (CPU for a stateless module)."""
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


def activation_key(
    model: nn.Module,
    waveforms: np.ndarray,
    layers: Sequence[str],
    preprocess: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> Fingerprint:
    """The cache key of ``extract_activations(model, waveforms, layers, preprocess=...)``.

    Raises :class:`evaluate.fingerprint.Unkeyable` when part of it has no reliable digest.
    """
    returned = returned_layers(model)
    reductions = {name: returned[name].describe() for name in layers if name in returned}
    return module_fingerprint(model).extend(
        layers=",".join(layers),
        returned=json.dumps(reductions, sort_keys=True) + f"@{code_digest('models.reductions')}",
        stimuli=array_digest(waveforms),
        preprocess=encode(preprocess, "preprocess"),
        reduction=f"{REDUCTION}@{code_digest(__name__)}",  # reduce_output and the loop live here
        version=str(CACHE_VERSION),
    )


def save_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` (.npz) through a temporary file and a rename."""
    with atomic_file(path, "wb") as f:
        np.savez(f, **arrays)


def extract_activations(
    model: nn.Module,
    waveforms: np.ndarray | torch.Tensor,
    layers: Sequence[str] | None = None,
    *,
    batch_size: int = 16,
    preprocess: Callable[[torch.Tensor], torch.Tensor] | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    frontend_outputs: torch.Tensor | None = None,
) -> dict[str, np.ndarray]:
    """Run ``model`` on ``waveforms`` and return ``{layer: [n_sounds, n_features]}`` (float32).

    Args:
        model: any module; called as ``model(batch)`` in eval mode without gradients, on the
            device of its parameters. Its training/eval mode is restored afterwards.
        waveforms: ``[n_sounds, samples]`` audio (20 kHz for the in-house networks).
        layers: dotted submodule names, in model order; default ``model.SCORED_LAYERS``.
        batch_size: sounds per forward pass.
        preprocess: optional function applied to each ``[batch, samples]`` batch on the
            model's device before the forward pass (e.g. resampling for external models);
            part of the cache key (a module-level function or ``functools.partial`` of one;
            with a lambda nothing is cached).
        cache, cache_dir: reuse/write ``<cache>/activations/<key>.npz`` (see module docstring).
        frontend_outputs: the output of the model's parameter-free front end for ``waveforms``
            (:func:`frontend_outputs`); the model then runs ``model.from_frontend`` on them
            instead of ``model(waveform)`` (the same numbers, without recomputing the
            cochleagram while the network trains). Not cached on disk.
    """
    layers = list(layers) if layers is not None else scored_layers(model)
    if not layers:
        raise ValueError("no layers to extract")
    modules = check_layers(model, layers)
    wav = waveforms.detach().cpu().numpy() if isinstance(waveforms, torch.Tensor) else np.asarray(waveforms)
    if wav.ndim != 2 or wav.shape[0] == 0:
        raise ValueError(f"waveforms must be [n_sounds, samples], got shape {list(wav.shape)}")
    wav = wav.astype(np.float32, copy=False)
    if not np.isfinite(wav).all():
        raise ValueError("waveforms contain NaN or inf")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")

    if frontend_outputs is not None:
        _check_frontend_use(model, layers, frontend_outputs, len(wav))
        if any(name in returned_layers(model) for name in layers):
            raise ValueError("frontend_outputs cannot feed the layers a model returns itself (models.contract."
                             "ActivationModel): they are read from model.activations(waveform)")  # fmt: skip
        if preprocess is not None:
            raise ValueError("preprocess and frontend_outputs exclude each other (the waveform is not used)")
        cache = False
    path = key = None
    if cache:
        try:
            key = activation_key(model, wav, layers, preprocess)
        except Unkeyable as exc:
            log.info("Activations of %s are not cached: %s", type(model).__name__, exc)
        else:
            path = cache_root(cache_dir) / "activations" / f"{key.digest[:32]}.npz"
            out = _load_entry(path, key, layers)
            if out is not None:
                log.info("Activation cache hit for %s (%s): %s", type(model).__name__, path, key.describe())
                return out

    device = module_device(model)
    returned = {name: r for name, r in returned_layers(model).items() if name in layers}
    captured: dict[str, torch.Tensor] = {}

    def hook_for(name: str):
        def hook(_module, _inputs, output):
            captured[name] = reduce_output(output, name).detach().float().cpu()

        return hook

    handles = [module.register_forward_hook(hook_for(name)) for name, module in modules.items()]
    chunks: dict[str, list[np.ndarray]] = {name: [] for name in layers}
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            starts = range(0, len(wav), batch_size)
            for start in tqdm(
                starts, desc=f"Activations of {type(model).__name__}", unit="batch", disable=not progress
            ):
                captured.clear()
                stop = min(start + batch_size, len(wav))
                if frontend_outputs is not None:
                    model_input = frontend_outputs[start:stop].to(device)
                    run = model.from_frontend
                else:
                    batch = torch.from_numpy(wav[start:stop]).to(device)
                    model_input = batch if preprocess is None else preprocess(batch)
                    run = model.activations if returned else model
                outputs = _run_model(model, run, model_input, (start, stop))
                if returned:
                    captured.update(_returned_features(model, outputs, returned, stop - start))
                for name in layers:
                    if name not in captured:
                        raise RuntimeError(f"layer {name!r} of {type(model).__name__} did not run in the forward pass")
                    chunks[name].append(_checked(model, name, captured[name], (start, stop)))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)

    out = {name: np.concatenate(chunks[name], axis=0) for name in layers}
    if path is not None:
        save_npz_atomic(path, {**out, _KEY_ENTRY: np.array(json.dumps(key.parts, sort_keys=True))})
    return out


def _run_model(model: nn.Module, run: Callable, model_input: torch.Tensor, sounds: tuple[int, int]):
    """``run(model_input)``; an exception becomes one that names the model, the sounds, the
    input's shape and the innermost submodule the forward pass was in when it failed."""
    try:
        return run(model_input)
    except Exception as exc:
        inside = _failing_submodule(model, run, model_input)
        where = f" in submodule {inside!r}" if inside else ""
        rate = model.sample_rate if hasattr(model, "sample_rate") else None
        seconds = f" ({model_input.shape[-1] / rate:.2f}-s clips at {rate} Hz)" if rate and model_input.ndim == 2 else ""
        raise RuntimeError(
            f"{type(model).__name__} failed{where} on sounds {sounds[0]}..{sounds[1] - 1}, input "
            f"{list(model_input.shape)}{seconds}: {type(exc).__name__}: {exc}"
        ) from exc


def _failing_submodule(model: nn.Module, run: Callable, model_input: torch.Tensor) -> str | None:
    """Run the failing batch again with enter/exit hooks on every submodule: the deepest one
    entered and not left is where it failed (None when it failed outside any, or passes now)."""
    stack: list[str] = []
    deepest: list[str] = []

    def enter(name):
        def pre(_module, _inputs):
            stack.append(name)
            deepest[:] = [name]

        return pre

    def leave(_module, _inputs, _output):
        stack.pop()

    handles = []
    for name, module in model.named_modules():
        if name:
            handles += [module.register_forward_pre_hook(enter(name)), module.register_forward_hook(leave)]
    try:
        run(model_input)
    except Exception:  # noqa: BLE001  (the same failure again: the stack says where)
        return stack[-1] if stack else None
    finally:
        for handle in handles:
            handle.remove()
    return None


def _returned_features(
    model: nn.Module, outputs: object, returned: dict[str, Reduction], batch: int
) -> dict[str, torch.Tensor]:
    """The declared layers of ``model.activations(...)``'s mapping, each reduced to ``[batch, features]``."""
    name = type(model).__name__
    if not isinstance(outputs, dict) and not hasattr(outputs, "keys"):
        raise TypeError(f"{name}.activations returned {type(outputs).__name__}, expected a mapping layer -> tensor")
    out = {}
    for layer, reduction in returned.items():
        value = outputs.get(layer) if hasattr(outputs, "get") else None
        if value is None:
            raise RuntimeError(
                f"layer {layer!r} of {name} returned nothing: {name}.activations gave {sorted(map(str, outputs.keys()))}"
            )
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"layer {layer!r} of {name} returned {type(value).__name__}, expected a tensor")
        if value.ndim == 0 or value.shape[0] != batch:
            raise ValueError(
                f"layer {layer!r} of {name} returned shape {list(value.shape)} for a batch of {batch} sounds; the "
                "first axis must be the batch"
            )
        out[layer] = reduce_layer(value, reduction, f"{layer}' of '{name}").detach().float().cpu()
    return out


def _checked(model: nn.Module, layer: str, features: torch.Tensor, sounds: tuple[int, int]) -> np.ndarray:
    """``features`` as an array; NaN or inf activations stop extraction, naming model, layer and sounds."""
    array = features.numpy()
    bad = ~np.isfinite(array)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1)) + sounds[0]
        raise ValueError(
            f"layer {layer!r} of {type(model).__name__} gave NaN or inf activations for {len(rows)} of sounds "
            f"{sounds[0]}..{sounds[1] - 1} (first: sound {rows[0]}, {int(bad.sum())} values); scores of such a "
            "layer would be NaN"
        )
    if array.shape[1] == 0:
        raise ValueError(f"layer {layer!r} of {type(model).__name__} gave no features (shape {list(array.shape)})")
    return array


def _load_entry(path: Path, key: Fingerprint, layers: Sequence[str]) -> dict[str, np.ndarray] | None:
    """The cached activations at ``path`` if the entry is readable and was written for exactly
    ``key`` (all its parts); None otherwise (with a log line saying why)."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as stored:
            parts = json.loads(str(stored[_KEY_ENTRY]))
            if parts != key.parts:
                differ = sorted(k for k in set(parts) | set(key.parts) if parts.get(k) != key.parts.get(k))
                log.warning("Activation cache %s was written for another key (%s differ); extracting again", path,
                            ", ".join(differ))  # fmt: skip
                return None
            return {layer: stored[layer] for layer in layers}
    except Exception as exc:  # noqa: BLE001  (any unreadable file: rebuild it)
        log.warning("Activation cache %s is unreadable (%s); extracting again", path, exc)
        return None


def _check_frontend_use(model: nn.Module, layers: Sequence[str], outputs: torch.Tensor, n_sounds: int) -> None:
    front = parameter_free_frontend(model)
    if front is None:
        raise ValueError(f"frontend_outputs given, but {type(model).__name__} has no parameter-free front end "
                         "(models.contract.FrontEndModel)")  # fmt: skip
    inside = [name for name in layers if any(m is front for m in _ancestors(model, name))]
    if inside:
        raise ValueError(f"layers {inside} lie inside the front end; they cannot be read from frontend_outputs")
    if len(outputs) != n_sounds:
        raise ValueError(f"frontend_outputs has {len(outputs)} rows for {n_sounds} waveforms")


def _ancestors(model: nn.Module, name: str) -> list[nn.Module]:
    """The submodule ``name`` and every module on the path to it."""
    out, module = [], model
    for part in name.split("."):
        module = getattr(module, part)
        out.append(module)
    return out


def frontend_outputs(
    model: nn.Module,
    waveforms: np.ndarray,
    *,
    batch_size: int = 16,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
) -> torch.Tensor | None:
    """The output of ``model``'s parameter-free front end (the cochleagram) for ``waveforms``
    ``[n_sounds, samples]``, on the CPU; None when the model has none
    (:func:`models.contract.parameter_free_frontend`).

    With ``cache``, stored as ``<cache>/frontend/<key>.npz``, keyed by the front end's
    fingerprint (code, buffers, settings such as ``input_clamp``) and the stimuli; an
    unreadable entry is rebuilt. For the brain-score callback, which extracts the same
    stimuli at every evaluation while only the layers after the front end change.
    """
    front = parameter_free_frontend(model)
    if front is None:
        return None
    wav = np.asarray(waveforms, dtype=np.float32)
    path = None
    if cache:
        try:
            key = module_fingerprint(front).extend(stimuli=array_digest(wav)).digest
            path = cache_root(cache_dir) / "frontend" / f"{key[:32]}.npz"
        except Unkeyable as exc:
            log.info("Front-end outputs are not cached on disk: %s", exc)
    if path is not None and path.is_file():
        try:
            with np.load(path) as stored:
                return torch.from_numpy(stored["outputs"])
        except Exception as exc:  # noqa: BLE001  (any unreadable file: rebuild it)
            log.warning("Front-end cache %s is unreadable (%s); computing again", path, exc)
    device = module_device(model)
    outs = []
    with torch.inference_mode():
        for start in range(0, len(wav), batch_size):
            outs.append(front(torch.from_numpy(wav[start : start + batch_size]).to(device)).cpu())
    outputs = torch.cat(outs)
    if path is not None:
        save_npz_atomic(path, {"outputs": outputs.numpy()})
    return outputs

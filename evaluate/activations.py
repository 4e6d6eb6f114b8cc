"""Time-averaged activations of named layers of any ``torch.nn.Module`` (REFERENCE.md section 6).

Forward hooks capture each named submodule's output while the model runs on batches of
waveforms; each output is reduced to one feature vector per sound:

* ``[batch, channels, freq, time]`` (convolutional): mean over time -> ``channels * freq``;
* ``[batch, time, dim]`` (sequence models): mean over time -> ``dim``;
* ``[batch, features]`` (fully connected): as it is.

Results are cached on disk (``<cache>/activations/<key>.npz``), keyed by the model's class,
a hash of its weights and buffers, the layer names and a hash of the stimuli, so scoring
the same checkpoint twice extracts once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from data.cache import cache_root

log = logging.getLogger(__name__)

CACHE_VERSION = 1


def default_layers(model: nn.Module) -> list[str]:
    """The model's scored layers: its ``SCORED_LAYERS`` attribute (CochCNN9, CochResNet50)."""
    layers = getattr(model, "SCORED_LAYERS", None)
    if not layers:
        raise ValueError(
            f"{type(model).__name__} does not define SCORED_LAYERS; pass the layer names to score "
            f"(submodule names such as {_some_names(model)})"
        )
    return list(layers)


def _some_names(model: nn.Module, limit: int = 8) -> str:
    names = [n for n, _ in model.named_modules() if n]
    return ", ".join(names[:limit]) + (" ..." if len(names) > limit else "")


def check_layers(model: nn.Module, layers: Sequence[str]) -> dict[str, nn.Module]:
    """``{name: submodule}`` for dotted submodule names; a clear error for names the model lacks."""
    modules = dict(model.named_modules())
    missing = [name for name in layers if name not in modules or not name]
    if missing:
        raise ValueError(f"{type(model).__name__} has no submodule(s) {missing}; available: {_some_names(model, 40)}")
    if len(set(layers)) != len(layers):
        raise ValueError(f"layer names must be unique, got {list(layers)}")
    return {name: modules[name] for name in layers}


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


def weights_digest(model: nn.Module) -> str:
    """SHA-256 over the class name and every parameter and buffer (names, shapes, values)."""
    digest = hashlib.sha256(f"{type(model).__module__}.{type(model).__qualname__}".encode())
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{t.dtype}:{list(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def _array_digest(array: np.ndarray) -> str:
    array = np.ascontiguousarray(array)
    return hashlib.sha256(f"{array.dtype}:{array.shape}".encode() + array.tobytes()).hexdigest()


def _save_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
) -> dict[str, np.ndarray]:
    """Run ``model`` on ``waveforms`` and return ``{layer: [n_sounds, n_features]}`` (float32).

    Args:
        model: any module; called as ``model(batch)`` in eval mode without gradients, on the
            device of its parameters. Its training/eval mode is restored afterwards.
        waveforms: ``[n_sounds, samples]`` audio (20 kHz for the in-house networks).
        layers: dotted submodule names, in model order; default ``model.SCORED_LAYERS``.
        batch_size: sounds per forward pass.
        preprocess: optional function applied to each ``[batch, samples]`` batch on the
            model's device before the forward pass (e.g. resampling for external models).
        cache, cache_dir: reuse/write ``<cache>/activations/<key>.npz`` (see module docstring).
            ``preprocess`` functions are not part of the key; pass ``cache=False`` when
            changing one for the same model.
    """
    layers = list(layers) if layers is not None else default_layers(model)
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

    path = None
    if cache:
        key = hashlib.sha256(
            f"v{CACHE_VERSION}|{weights_digest(model)}|{','.join(layers)}|{_array_digest(wav)}".encode()
        ).hexdigest()[:32]
        path = cache_root(cache_dir) / "activations" / f"{key}.npz"
        if path.is_file():
            try:
                with np.load(path) as stored:
                    out = {layer: stored[layer] for layer in layers}
                log.info("Activations of %s loaded from %s", type(model).__name__, path)
                return out
            except Exception as exc:  # noqa: BLE001  (any unreadable file: rebuild it)
                log.warning("Activation cache %s is unreadable (%s); extracting again", path, exc)

    device = module_device(model)
    captured: dict[str, torch.Tensor] = {}

    def hook_for(name: str):
        def hook(_module, _inputs, output):
            captured[name] = reduce_output(output, name).detach().float().cpu()

        return hook

    handles = [modules[name].register_forward_hook(hook_for(name)) for name in layers]
    chunks: dict[str, list[np.ndarray]] = {name: [] for name in layers}
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            starts = range(0, len(wav), batch_size)
            for start in tqdm(
                starts, desc=f"Activations of {type(model).__name__}", unit="batch", disable=not progress
            ):
                batch = torch.from_numpy(wav[start : start + batch_size]).to(device)
                if preprocess is not None:
                    batch = preprocess(batch)
                captured.clear()
                model(batch)
                for name in layers:
                    if name not in captured:
                        raise RuntimeError(f"layer {name!r} of {type(model).__name__} did not run in the forward pass")
                    chunks[name].append(captured[name].numpy())
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)

    out = {name: np.concatenate(chunks[name], axis=0) for name in layers}
    if path is not None:
        _save_npz_atomic(path, out)
    return out

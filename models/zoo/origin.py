"""Where an adapter's weights came from: one helper for every model of the zoo.

An adapter built from a local file or directory is named by it and its digest
(``<Name>@<file or dir name>-<sha256[:12]>``) and records the path and full digest in
``provenance``; one built without weights is a random initialisation, named by the torch seed
(``<Name>-untrained-seed<N>``) and logged as such. Nothing pretrained is called untrained:
the name says "untrained" only when no weights were loaded.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import torch

from data.cache import sha256_file

__all__ = ["WeightsOrigin", "first_items", "local_weights", "path_digest", "random_origin", "state_mismatch",
           "weights_origin"]

log = logging.getLogger(__name__)

# Files of a model directory that hold weights or decide the architecture (hashed); others
# (READMEs, tokenizers, training logs) do not change the network and are left out.
_WEIGHT_SUFFIXES = (".bin", ".safetensors", ".pt", ".pth", ".ckpt", ".json", ".yaml", ".h5", ".npz", ".pkl")


class WeightsOrigin(dict):
    """``{"origin": ..., "path": ..., "sha256": ...}``: the provenance record of an adapter."""


def local_weights(path: str | Path, model: str, expected: str) -> Path:
    """``path`` resolved, or a FileNotFoundError naming ``model``, the path and ``expected``
    (what should be there: "a Hugging Face model directory (config.json + weights)" ...)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"{model}: weights not found at {p}; expected {expected} (nothing is downloaded)")
    return p.resolve()


def first_items(items, n: int = 6) -> str:
    """Up to ``n`` of ``items``, comma-separated, with the total when there are more (for messages)."""
    items = list(items)
    return ", ".join(items[:n]) + (f" ... ({len(items)} in all)" if len(items) > n else "")


def state_mismatch(state: dict, expected: dict) -> str:
    """How the state dict ``state`` fails to fit a module whose state dict is ``expected``:
    ``"missing keys: ...; unexpected keys: ...; other shapes: ..."`` (the parts that apply), or
    ``""`` when every key and shape fits."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k} {list(v.shape)} (here {list(expected[k].shape)})" for k, v in state.items()
              if k in expected and v.shape != expected[k].shape]  # fmt: skip
    parts = [f"missing keys: {first_items(missing)}" if missing else "",
             f"unexpected keys: {first_items(unexpected)}" if unexpected else "",
             f"other shapes: {first_items(shapes)}" if shapes else ""]  # fmt: skip
    return "; ".join(p for p in parts if p)


def path_digest(path: Path) -> str:
    """sha256 of a weights file, or of a model directory: every weights/config file in it
    (sorted relative paths with their bytes' digests)."""
    if path.is_file():
        return sha256_file(path)
    h = hashlib.sha256()
    files = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix in _WEIGHT_SUFFIXES)
    for f in files:
        h.update(f"{f.relative_to(path).as_posix()}|{sha256_file(f)}\n".encode())
    return h.hexdigest()


def weights_origin(name: str, path: Path) -> tuple[str, WeightsOrigin]:
    """``(identifier, provenance)`` of weights loaded from ``path``."""
    digest = path_digest(path)
    return f"{name}@{path.name}-{digest[:12]}", WeightsOrigin(
        origin=f"local weights {path}", path=str(path), sha256=digest
    )


def random_origin(name: str, argument: str = "path") -> tuple[str, WeightsOrigin]:
    """``(identifier, provenance)`` of a randomly initialised adapter (torch's initial seed);
    the warning names ``argument``, the constructor argument that takes the weights."""
    seed = torch.initial_seed()
    log.warning("%s has RANDOM weights (no %s given); pass %s=<local weights> for the pretrained model", name,
                argument, argument)  # fmt: skip
    return f"{name}-untrained-seed{seed}", WeightsOrigin(origin=f"random initialisation, torch seed {seed}")

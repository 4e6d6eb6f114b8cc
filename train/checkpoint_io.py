"""Checkpoints written atomically: to a temporary file beside the target, then renamed.

Lightning's own writer commits through fsspec, which stages the file in the system temp
directory and *copies* it over when that is another filesystem (a cluster's scratch
space), so a kill during the copy leaves half a checkpoint. A rename within one directory
is atomic: a reader, or a resumed run, sees the old checkpoint or the new one.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from data.cache import atomic_file


class AtomicCheckpointIO(TorchCheckpointIO):
    """:class:`TorchCheckpointIO` whose ``save_checkpoint`` writes ``path`` atomically."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} does not take storage_options, got {storage_options!r}")
        with atomic_file(path, "wb") as f:
            torch.save(checkpoint, f)

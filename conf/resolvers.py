"""OmegaConf resolvers the configs use (registered on import); imported by both CLIs."""

from __future__ import annotations

import os
import secrets

from omegaconf import OmegaConf


def _run_id() -> str:
    # pid + random bits: two jobs started in the same second never share a directory.
    return f"{os.getpid()}-{secrets.token_hex(3)}"


def register() -> None:
    if not OmegaConf.has_resolver("run_id"):
        OmegaConf.register_new_resolver("run_id", _run_id, use_cache=True)


register()

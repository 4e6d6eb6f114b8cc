"""The command-line entry points run as a user runs them: ``python -m <module> args...`` in a
new interpreter started in the repository root, with the cache and log roots pointed at test
directories and W&B offline.

``run_cli`` waits for the process; ``start_cli`` returns it running (to signal or race it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.helpers import REPO

LOG_TAIL = 3000  # characters of each stream shown when a run fails


def cli_env(cache_dir: str | os.PathLike | None = None, logs: str | os.PathLike | None = None) -> dict[str, str]:
    """This process's environment with ``AUDITORY_DNN_CACHE=cache_dir`` and
    ``AUDITORY_DNN_LOGS=logs`` (each where given) and W&B offline and silent, so that no test
    run reaches the network or the user's directories."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    if cache_dir is not None:
        env["AUDITORY_DNN_CACHE"] = str(cache_dir)
    if logs is not None:
        env["AUDITORY_DNN_LOGS"] = str(logs)
    return env


def cli_command(module: str, args: Sequence[str]) -> list[str]:
    """``[python, -m, module, *args]`` with this interpreter (the project's virtualenv)."""
    return [sys.executable, "-m", module, *map(str, args)]


def output_tail(proc: subprocess.CompletedProcess) -> str:
    """The end of a finished run's stdout and stderr, for assertion messages."""
    return (proc.stdout or "")[-LOG_TAIL:] + (proc.stderr or "")[-LOG_TAIL:]


def run_cli(
    module: str,
    args: Sequence[str] = (),
    *,
    cache_dir: str | os.PathLike | None = None,
    logs: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run ``python -m module args...`` to the end and return it (text stdout and stderr).

    ``env`` replaces the whole environment (default: :func:`cli_env` of ``cache_dir`` and
    ``logs``). With ``check`` a non-zero exit fails the test, showing the end of both streams.
    """
    env = dict(env) if env is not None else cli_env(cache_dir, logs)
    proc = subprocess.run(cli_command(module, args), cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)  # fmt: skip
    if check:
        assert proc.returncode == 0, output_tail(proc)
    return proc


def start_cli(
    module: str,
    args: Sequence[str] = (),
    *,
    cache_dir: str | os.PathLike | None = None,
    logs: str | os.PathLike | None = None,
) -> subprocess.Popen:
    """Start ``python -m module args...`` and return it running; stderr goes into its text stdout."""
    return subprocess.Popen(cli_command(module, args), cwd=REPO, env=cli_env(cache_dir, logs),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip


def run_dirs(logs: str | os.PathLike, app: str = "train") -> list[Path]:
    """The run directories ``python -m <app>`` made under the log root ``logs``, sorted by name."""
    return sorted((Path(logs) / app / "runs").iterdir())


def only_run_dir(logs: str | os.PathLike, app: str = "evaluate") -> Path:
    """The one run directory ``python -m <app>`` made under ``logs`` (fails if there are more)."""
    (run_dir,) = run_dirs(logs, app)
    return run_dir

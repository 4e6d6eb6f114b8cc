"""On-disk cache for rendered data: location, atomic builds, integrity checks.

A cache entry is a directory holding array files and a ``manifest.json`` written last,
which lists every file with its size and SHA-256. Entries are built in a temporary
directory and renamed into place, under a file lock, so an interrupted or concurrent
build never leaves a half-written entry that looks complete.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import platformdirs

log = logging.getLogger(__name__)

CACHE_ENV = "AUDITORY_DNN_CACHE"
MANIFEST = "manifest.json"


class CacheError(RuntimeError):
    """A cache entry is missing, incomplete or corrupt."""


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache directory: ``cache_dir``, else ``$AUDITORY_DNN_CACHE``, else the user's
    cache directory (e.g. ``~/.cache/auditory-dnn`` on Linux)."""
    if cache_dir:
        root = Path(cache_dir)
    elif os.environ.get(CACHE_ENV):
        root = Path(os.environ[CACHE_ENV])
    else:
        root = Path(platformdirs.user_cache_dir("auditory-dnn"))
    return root.expanduser()


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _read_umask() -> int:
    mask = os.umask(0)  # the only portable way to read it is to set it and put it back,
    os.umask(mask)  # done once at import, before any worker thread creates files
    return mask


_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w") -> Iterator:
    """Open a temporary file beside ``path`` for writing; on success it is flushed, synced and
    renamed onto ``path`` (readers see the old file or the new one, never half of one); on
    error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file owner-only (0600); give it the mode open() would (0666 - umask)
        os.chmod(tmp, 0o666 & ~_UMASK)
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json_atomic(path: Path, obj: object) -> None:
    """Write JSON via a temporary file and rename, so readers never see half a file."""
    with atomic_file(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)


def verify_entry(entry: Path, check_hashes: bool = True) -> dict:
    """Return the manifest of a complete cache entry or raise :class:`CacheError` naming
    the file that is missing, truncated or corrupt."""
    manifest_path = entry / MANIFEST
    if not manifest_path.is_file():
        raise CacheError(f"{manifest_path} is missing (the cache entry is incomplete)")
    try:
        manifest = json.loads(manifest_path.read_text())
        files = manifest["files"]
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise CacheError(f"{manifest_path} is unreadable: {exc}") from exc
    for name, info in files.items():
        path = entry / name
        if not path.is_file():
            raise CacheError(f"{path} is missing")
        if path.stat().st_size != info["size"]:
            raise CacheError(f"{path} has {path.stat().st_size} bytes, expected {info['size']}")
        if check_hashes and sha256_file(path) != info["sha256"]:
            raise CacheError(f"{path} does not match its checksum (corrupt file)")
    return manifest


def _finish_manifest(tmp: Path, manifest: dict) -> None:
    files = {}
    for path in sorted(tmp.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            rel = str(path.relative_to(tmp))
            files[rel] = {"size": path.stat().st_size, "sha256": sha256_file(path)}
    write_json_atomic(tmp / MANIFEST, {**manifest, "files": files})


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def get_or_build(entry: Path, build: Callable[[Path], dict], check_hashes: bool = True) -> dict:
    """Return the manifest of cache entry ``entry``, building it first if it is missing
    or corrupt.

    ``build(tmp_dir)`` writes the entry's files into ``tmp_dir`` and returns the manifest
    fields to record (JSON-serialisable); file sizes and checksums are added here.
    """
    entry = Path(entry)
    with contextlib.suppress(CacheError):
        return verify_entry(entry, check_hashes)
    with _locked(entry.parent / f".{entry.name}.lock"):
        try:  # another process may have built it while we waited for the lock
            return verify_entry(entry, check_hashes)
        except CacheError as exc:
            if entry.exists():
                log.warning("Rebuilding cache entry %s: %s", entry, exc)
        tmp = Path(tempfile.mkdtemp(dir=entry.parent, prefix=f".{entry.name}.building-"))
        try:
            manifest = build(tmp)
            _finish_manifest(tmp, manifest)
            if entry.exists():
                shutil.rmtree(entry)
            os.replace(tmp, entry)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return verify_entry(entry, check_hashes=False)

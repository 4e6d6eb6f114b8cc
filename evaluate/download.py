"""Download and unpack the authors' fMRI data release (``data.tar``, about 180 MB).

    python -m evaluate.download [--dest DIR] [--url URL]

The tarball is fetched to ``<dest>/data.tar.part`` (an interrupted download resumes with an
HTTP ``Range`` request on the next run), checked against the server's size, unpacked safely
into a temporary folder that is renamed to ``<dest>/data`` only once complete, and removed.
``<dest>`` defaults to ``$AUDITORY_DNN_FMRI_ROOT``, else ``<cache root>/fmri``.
Only the standard library is used for HTTP.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from evaluate.release import MARKER, ROOT_ENV, default_root

DEFAULT_URL = "https://mcdermottlab.mit.edu//tuckute_feather_2023/data.tar"
PART_NAME = "data.tar.part"
CHUNK = 1 << 20
USER_AGENT = "auditory-dnn (python urllib)"


class DownloadError(RuntimeError):
    """The server answered, but not with a usable release (HTTP error, wrong size, unsafe
    or unexpected archive)."""


def _offline_error(url: str, dest: Path, reason: object) -> ConnectionError:
    return ConnectionError(
        f"Could not reach {url} ({reason}). This machine seems to be offline, or the server is "
        f"unreachable from it.\n"
        f"Download the tarball on a machine with internet access, e.g.\n"
        f"    curl -L -o data.tar '{url}'\n"
        f"copy it here and extract it into {dest} by hand:\n"
        f"    mkdir -p '{dest}' && tar -xf data.tar -C '{dest}'\n"
        f"so that {dest / MARKER} exists, then point the evaluator at it with "
        f"{ROOT_ENV}={dest} (or fmri_root={dest})."
    )


def _is_network_failure(exc: BaseException) -> bool:
    """DNS failure, refused or reset connection, unreachable network, timeout ..."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    return isinstance(reason, OSError | http.client.HTTPException)


def _open(url: str, offset: int, timeout: float):
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _total_from_content_range(value: str | None) -> int | None:
    match = re.match(r"bytes\s+(?:\d+-\d+|\*)/(\d+)", value or "")
    return int(match.group(1)) if match else None


def _fetch(url: str, part: Path, dest: Path, timeout: float, progress: bool, _restarted: bool = False) -> None:
    """Download ``url`` into ``part``, resuming from its current size."""
    offset = part.stat().st_size if part.exists() else 0
    try:
        response = _open(url, offset, timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            # Range not satisfiable: the .part file is already complete, or longer than the file.
            total = _total_from_content_range(exc.headers.get("Content-Range"))
            exc.close()
            if total == offset:
                return
            if _restarted:
                raise DownloadError(f"{url}: the server refuses byte ranges of a {offset}-byte partial file") from exc
            part.unlink()
            return _fetch(url, part, dest, timeout, progress, _restarted=True)
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        if _is_network_failure(exc):
            raise _offline_error(url, dest, getattr(exc, "reason", exc)) from exc
        raise DownloadError(f"{url}: {getattr(exc, 'reason', exc)}") from exc
    except ValueError as exc:  # e.g. "unknown url type"
        raise DownloadError(f"{url}: {exc}") from exc

    with response:
        part.parent.mkdir(parents=True, exist_ok=True)
        status = response.status
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        if offset and status == 206:
            content_range = response.headers.get("Content-Range", "")
            start = re.match(r"bytes\s+(\d+)-", content_range)
            if not start or int(start.group(1)) != offset:
                raise DownloadError(f"{url}: asked for bytes from {offset}, the server sent {content_range!r}")
            total = _total_from_content_range(content_range) or (offset + length if length is not None else None)
            mode = "ab"
        elif status == 200:
            if offset:
                print(f"The server ignored the resume request; downloading {url} from the start.", file=sys.stderr)
            offset, total, mode = 0, length, "wb"
        else:
            raise DownloadError(f"{url}: unexpected HTTP status {status}")

        written = offset
        with (
            open(part, mode) as f,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc="data.tar",
                disable=not progress,
            ) as bar,
        ):
            try:
                while chunk := response.read(CHUNK):
                    f.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as exc:
                raise ConnectionError(
                    f"The download of {url} was interrupted after {written} bytes ({exc}); run the same "
                    f"command again to resume from {part}."
                ) from exc

    size = part.stat().st_size
    if total is not None and size != total:
        raise DownloadError(
            f"{url}: incomplete download, {part} has {size} of {total} bytes; run the same command again to resume"
        )


def _check_member(member: tarfile.TarInfo, tar_path: Path) -> None:
    name = member.name
    path = PurePosixPath(name)
    if name.startswith(("/", "\\")) or path.is_absolute() or re.match(r"^[A-Za-z]:", name):
        raise DownloadError(f"{tar_path}: refusing to extract a member with an absolute path: {name!r}")
    if ".." in path.parts or ".." in name.replace("\\", "/").split("/"):
        raise DownloadError(f"{tar_path}: refusing to extract a member that leaves the folder: {name!r}")
    if member.issym() or member.islnk():
        target = PurePosixPath(member.linkname)
        if target.is_absolute() or ".." in target.parts:
            raise DownloadError(
                f"{tar_path}: refusing to extract a link pointing outside: {name!r} -> {member.linkname!r}"
            )
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise DownloadError(f"{tar_path}: refusing to extract a special file: {name!r}")


def extract_release(tar_path: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Safely unpack a release tarball so that ``<dest>/data`` appears complete or not at all.

    Members with absolute paths, ``..`` components, links out of the folder or special files
    are refused before anything is written.
    """
    tar_path, dest = Path(tar_path), Path(dest)
    target = dest / "data"
    if target.exists():
        raise DownloadError(
            f"{target} already exists but is not a complete release (no {dest / MARKER}); move it "
            f"away or choose another --dest"
        )
    tmp = Path(tempfile.mkdtemp(prefix=".data.extracting-", dir=dest))
    try:
        try:
            with tarfile.open(tar_path) as tar:
                members = tar.getmembers()
                for member in members:
                    _check_member(member, tar_path)
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(tmp, members=members, filter="data")
                else:  # pragma: no cover - Python without extraction filters
                    tar.extractall(tmp, members=members)
        except (tarfile.TarError, EOFError) as exc:
            raise DownloadError(f"{tar_path}: not a readable tar archive ({exc})") from exc
        if (tmp / "data").is_dir():
            source = tmp / "data"
        elif (tmp / "neural").is_dir():  # an archive of data/'s contents
            source = tmp
        else:
            found = sorted(p.name for p in tmp.iterdir())[:10]
            raise DownloadError(f"{tar_path}: expected a top-level data/ folder in the archive, found {found}")
        if not (source / MARKER.relative_to("data")).is_file():
            raise DownloadError(f"{tar_path}: the archive lacks {MARKER}; is this the fMRI data release?")
        if source is tmp:  # mkdtemp made it private; give it ordinary folder permissions
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(source, 0o777 & ~umask)
        source.rename(target)  # atomic: data/ appears complete or not at all
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def download_release(
    dest: str | os.PathLike | None = None,
    url: str = DEFAULT_URL,
    timeout: float = 30,
    progress: bool = True,
) -> Path:
    """Download and unpack the release into ``dest`` (default: ``$AUDITORY_DNN_FMRI_ROOT``,
    else ``<cache root>/fmri``) and return ``dest``, the folder that contains ``data/``.

    Does nothing if ``<dest>/data/neural/NH2015/voxel_features_array.npy`` already exists.
    Raises :class:`ConnectionError` (with instructions for a manual download) when the
    server cannot be reached, and :class:`DownloadError` for HTTP errors, size mismatches
    and unsafe or unexpected archives.
    """
    dest = Path(dest).expanduser() if dest else default_root()
    dest = dest.resolve()
    if (dest / MARKER).is_file():
        print(f"The fMRI data release is already in {dest / 'data'}; nothing to do.")
        _print_usage(dest)
        return dest
    if (dest / "data").exists():
        raise DownloadError(
            f"{dest / 'data'} already exists but is not a complete release (no {dest / MARKER}); move it "
            f"away or choose another --dest"
        )
    part = dest / PART_NAME  # dest itself is created once the server answers
    if part.exists():
        print(f"Resuming the download of {url} into {part} ({part.stat().st_size} bytes so far).", file=sys.stderr)
    else:
        print(f"Downloading {url} into {part}.", file=sys.stderr)
    _fetch(url, part, dest, timeout, progress)
    print(f"Extracting {part} into {dest / 'data'}.", file=sys.stderr)
    extract_release(part, dest)
    with contextlib.suppress(FileNotFoundError):
        part.unlink()
    print(f"The fMRI data release is in {dest / 'data'}.")
    _print_usage(dest)
    return dest


def _print_usage(dest: Path) -> None:
    print(
        f"Point the evaluator at it with\n"
        f"    export {ROOT_ENV}={dest}\n"
        f"or pass it on the command line:\n"
        f"    python -m evaluate ... fmri_root={dest}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evaluate.download",
        description="Download and unpack the fMRI data release of Tuckute, Feather et al. 2023 (about 180 MB).",
    )
    parser.add_argument(
        "--dest",
        help=f"folder to put data/ in (default: ${ROOT_ENV}, else <cache dir>/fmri)",
    )
    parser.add_argument("--url", default=DEFAULT_URL, help="tarball URL (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=30, help="network timeout in seconds (default: 30)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        download_release(args.dest, url=args.url, timeout=args.timeout, progress=not args.no_progress)
    except (ConnectionError, DownloadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume the download.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Download and unpack the authors' released tarballs: the fMRI data, their model checkpoints,
their model activations and their scoring results.

    python -m evaluate.download [data] [--dest DIR] [--url URL]   # the fMRI release, ~180 MB
    python -m evaluate.download checkpoints [--dest DIR]          # in-house model checkpoints, ~14 GB
    python -m evaluate.download model_actv [--dest DIR]           # model activations, ~2.7 GB
    python -m evaluate.download results [--dest DIR]              # per-layer scoring results, ~2.1 GB

Every tarball is fetched to ``<dest>/<tarball>.part`` (an interrupted download resumes with an
HTTP ``Range`` request on the next run; each tarball has its own ``.part`` name, so several can
share one ``<dest>``), checked against the server's size, unpacked safely into a temporary
folder whose top-level folders are renamed into ``<dest>`` only once the archive is complete
and has the expected content, and removed. ``<dest>`` defaults to ``$AUDITORY_DNN_FMRI_ROOT``,
else ``<cache root>/fmri`` for the data release, and to ``<cache root>/<name>`` for the others.
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from data.cache import cache_root
from evaluate.release import MARKER, ROOT_ENV, default_root

DEFAULT_URL = "https://mcdermottlab.mit.edu//tuckute_feather_2023/data.tar"
PART_NAME = "data.tar.part"
CHUNK = 1 << 20
USER_AGENT = "auditory-dnn (python urllib)"
MAX_DEPTH = 8  # how deep the content checks look below a folder
LIST_LIMIT = 40  # how many found files a report lists


class DownloadError(RuntimeError):
    """A download cannot be completed: an HTTP error, a wrong size, an unsafe or unexpected
    archive, a folder in the way or too little disk space."""


class DiskSpaceError(DownloadError):
    """The destination file system has less free space than the download needs."""


# --------------------------------------------------------------------------- the tarballs


def _files(root: Path, match: Callable[[str], bool], max_depth: int = MAX_DEPTH) -> Iterator[Path]:
    """Regular files under ``root`` (not below ``max_depth`` folders, skipping names that
    start with a dot, such as temporary extraction folders) whose name satisfies ``match``."""
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                if depth < max_depth:
                    stack.append((Path(entry.path), depth + 1))
            elif entry.is_file(follow_symlinks=False) and match(entry.name):
                yield Path(entry.path)


def _find_data(root: Path) -> Iterator[Path]:
    if (root / MARKER).is_file():
        yield root / MARKER


def _find_checkpoints(root: Path) -> Iterator[Path]:
    return _files(root, lambda name: name == "5_checkpoint.pt")


def _find_activations(root: Path) -> Iterator[Path]:
    return _files(root / "model_actv", lambda name: name.endswith(".h5"))


def _find_results(root: Path) -> Iterator[Path]:
    return _files(root, lambda name: name == "df_output.pkl")


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError  # pragma: no cover


def _listing(dest: Path, files: list[Path], limit: int = LIST_LIMIT) -> list[str]:
    lines = [f"    {p.relative_to(dest)}  ({_size(p.stat().st_size)})" for p in files[:limit]]
    if len(files) > limit:
        lines.append(f"    ... and {len(files) - limit} more")
    return lines


def _report_data(dest: Path, found: list[Path]) -> list[str]:
    return [
        f"The fMRI data release is in {dest / 'data'}.",
        "Point the evaluator at it with",
        f"    export {ROOT_ENV}={dest}",
        "or pass it on the command line:",
        f"    python -m evaluate ... fmri_root={dest}",
    ]


def _report_checkpoints(dest: Path, found: list[Path]) -> list[str]:
    example = next((p for p in found if "kell2018" in str(p.relative_to(dest))), found[0])  # CochCNN9 (word)
    total = sum(p.stat().st_size for p in found)
    return [
        f"{len(found)} model checkpoint{'s' * (len(found) != 1)} ({_size(total)}) in {dest}:",
        *_listing(dest, found),
        "Score one with",
        f"    python -m evaluate model=reference model.path={example} benchmark=nh2015",
    ]


def _report_activations(dest: Path, found: list[Path]) -> list[str]:
    models = sorted({p.relative_to(dest / "model_actv").parts[0] for p in found if p.parent != dest / "model_actv"})
    total = sum(p.stat().st_size for p in found)
    return [
        f"{len(found)} activation file{'s' * (len(found) != 1)} ({_size(total)}) of {len(models)} "
        f"model{'s' * (len(models) != 1)} in {dest / 'model_actv'}:",
        *_listing(dest, found),
        f"Per model: {dest / 'model_actv'}/<model>/natsound_activations.h5 (trained network) and "
        f"..._randnetw.h5 (permuted weights), the authors' activations to the 165 natural sounds.",
    ]


def _report_results(dest: Path, found: list[Path]) -> list[str]:
    per_model: dict[str, int] = {}
    for p in found:
        parts = p.relative_to(dest).parts
        model = parts[-3] if len(parts) >= 3 else parts[0]  # results/<model>/<identifier>/df_output.pkl
        per_model[model] = per_model.get(model, 0) + 1
    csvs = sorted(
        p
        for folder in (dest / "outputs", dest / "results" / "outputs")
        for p in _files(folder, lambda name: name.endswith(".csv"))
    )
    lines = [
        f"{len(found)} df_output.pkl file{'s' * (len(found) != 1)} of {len(per_model)} "
        f"model{'s' * (len(per_model) != 1)} in {dest}:",
        *[f"    {m}: {n} layer/target result{'s' * (n != 1)}" for m, n in sorted(per_model.items())[:LIST_LIMIT]],
    ]
    if len(per_model) > LIST_LIMIT:
        lines.append(f"    ... and {len(per_model) - LIST_LIMIT} more models")
    if csvs:
        lines += [f"{len(csvs)} best-layer summar{'ies' if len(csvs) != 1 else 'y'} (csv):", *_listing(dest, csvs, 10)]
    lines.append(
        f"Per model and layer: {dest}/results/<model>/<identifier>/df_output.pkl (pandas.read_pickle); "
        f"best-layer summaries: outputs/best-layer_CV-splits-nit-10_roi-None_<model>_<target>_median_r2_test_c.csv."
    )
    return lines


def _cache_dest(name: str) -> Callable[[], Path]:
    def dest() -> Path:
        return cache_root() / name

    return dest


@dataclass(frozen=True)
class Spec:
    """One downloadable tarball."""

    name: str  # the subcommand
    url: str
    filename: str  # the tarball's name; the partial download is <dest>/<filename>.part
    size: str  # approximate size, for the help text
    title: str  # what it is, for messages
    layout: str  # what it holds, for the help text
    expected: str  # what marks a complete extraction, for messages ("at least one ...")
    find: Callable[[Path], Iterator[Path]]  # the files marking a complete extraction under a folder
    report: Callable[[Path, list[Path]], list[str]]  # what was found, and a usage hint
    default_dest: Callable[[], Path]
    default_text: str  # the default destination, for the help text
    folders: tuple[str, ...] = ()  # top-level folders known before downloading

    @property
    def part_name(self) -> str:
        return f"{self.filename}.part"

    def found(self, root: Path) -> list[Path]:
        return sorted(self.find(root))

    def is_complete(self, root: Path) -> bool:
        return next(iter(self.find(root)), None) is not None


_AUTHORS = "https://mcdermottlab.mit.edu//tuckute_feather_2023"
SPECS: dict[str, Spec] = {
    spec.name: spec
    for spec in (
        Spec(
            name="data",
            url=DEFAULT_URL,
            filename="data.tar",
            size="about 180 MB",
            title="the fMRI data release",
            layout="fMRI responses and the 165 sounds, data/neural/..., data/stimuli/*.wav",
            expected=str(MARKER),
            find=_find_data,
            report=_report_data,
            default_dest=default_root,
            default_text=f"${ROOT_ENV}, else <cache dir>/fmri",
            folders=("data",),
        ),
        Spec(
            name="checkpoints",
            url="https://mcdermottlab.mit.edu/cochdnn/cochdnn_model_checkpoints.tar",
            filename="cochdnn_model_checkpoints.tar",
            size="about 14 GB",
            title="the authors' model checkpoints",
            layout="the in-house models, <...>/<uuid>/5_checkpoint.pt each",
            expected="5_checkpoint.pt file (<...>/<uuid>/5_checkpoint.pt)",
            find=_find_checkpoints,
            report=_report_checkpoints,
            default_dest=_cache_dest("checkpoints"),
            default_text="<cache dir>/checkpoints",
        ),
        Spec(
            name="model_actv",
            url=f"{_AUTHORS}/model_actv.tar",
            filename="model_actv.tar",
            size="about 2.7 GB",
            title="the authors' model activations",
            layout="model_actv/<model>/natsound_activations.h5 and ..._randnetw.h5",
            expected=".h5 file in model_actv/ (model_actv/<model>/natsound_activations.h5)",
            find=_find_activations,
            report=_report_activations,
            default_dest=_cache_dest("model_actv"),
            default_text="<cache dir>/model_actv",
            folders=("model_actv",),
        ),
        Spec(
            name="results",
            url=f"{_AUTHORS}/results.tar",
            filename="results.tar",
            size="about 2.1 GB",
            title="the authors' scoring results",
            layout="results/<model>/<identifier>/df_output.pkl, outputs/best-layer_*.csv",
            expected="df_output.pkl file (results/<model>/<identifier>/df_output.pkl)",
            find=_find_results,
            report=_report_results,
            default_dest=_cache_dest("results"),
            default_text="<cache dir>/results",
            folders=("results", "outputs"),
        ),
    )
}


def _spec(name: str | Spec) -> Spec:
    if isinstance(name, Spec):
        return name
    try:
        return SPECS[name]
    except KeyError:
        raise ValueError(f"unknown download {name!r}; choose from {', '.join(SPECS)}") from None


def default_dest(name: str) -> Path:
    """Where ``python -m evaluate.download <name>`` unpacks when no ``--dest`` is given."""
    return _spec(name).default_dest()


# --------------------------------------------------------------------------- HTTP


def _offline_error(url: str, dest: Path, reason: object, spec: Spec | None = None) -> ConnectionError:
    spec = spec or SPECS["data"]
    if spec.name == "data":
        then = (
            f"so that {dest / MARKER} exists, then point the evaluator at it with "
            f"{ROOT_ENV}={dest} (or fmri_root={dest})."
        )
    else:
        then = (
            f"so that {dest} holds at least one {spec.expected}; "
            f"`python -m evaluate.download {spec.name} --dest {dest}` then lists what it holds."
        )
    return ConnectionError(
        f"Could not reach {url} ({reason}). This machine seems to be offline, or the server is "
        f"unreachable from it.\n"
        f"Download the tarball on a machine with internet access, e.g.\n"
        f"    curl -L -C - -o {spec.filename} '{url}'\n"
        f"copy it here and extract it into {dest} by hand:\n"
        f"    mkdir -p '{dest}' && tar -xf {spec.filename} -C '{dest}'\n"
        f"{then}"
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


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _check_disk_space(part: Path, remaining: int, total: int | None) -> None:
    """Refuse to start when the file system holding ``part`` cannot take the rest of the
    download plus its extraction (about the archive's size again: the tarball is removed only
    once it is unpacked)."""
    folder = _existing_ancestor(part.parent)
    extract = total if total is not None else remaining
    need = remaining + extract
    free = shutil.disk_usage(folder).free
    if free < need:
        raise DiskSpaceError(
            f"Not enough free space in {folder}: the download needs {_size(remaining)} ({remaining} bytes) "
            f"more for {part.name} and about {_size(extract)} to unpack it, {_size(need)} in all, but the file "
            f"system has only {_size(free)} ({free} bytes) free. Free some space or choose another --dest."
        )


def _fetch(
    url: str,
    part: Path,
    dest: Path,
    timeout: float,
    progress: bool,
    *,
    spec: Spec | None = None,
    _restarted: bool = False,
) -> None:
    """Download ``url`` into ``part``, resuming from its current size."""
    spec = spec or SPECS["data"]
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
            return _fetch(url, part, dest, timeout, progress, spec=spec, _restarted=True)
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        if _is_network_failure(exc):
            raise _offline_error(url, dest, getattr(exc, "reason", exc), spec) from exc
        raise DownloadError(f"{url}: {getattr(exc, 'reason', exc)}") from exc
    except ValueError as exc:  # e.g. "unknown url type"
        raise DownloadError(f"{url}: {exc}") from exc

    with response:
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
        if length is not None:
            # space for the rest (a restart from zero frees the old .part first)
            _check_disk_space(part, length - (part.stat().st_size if mode == "wb" and part.exists() else 0), total)
        part.parent.mkdir(parents=True, exist_ok=True)

        written = offset
        with (
            open(part, mode) as f,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=spec.filename,
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


# --------------------------------------------------------------------------- extraction


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


def _with_progress(members: list[tarfile.TarInfo], bar: tqdm) -> Iterator[tarfile.TarInfo]:
    for member in members:
        yield member
        bar.update(member.size)  # runs once the member is written


def _unpack(tar_path: Path, tmp: Path, progress: bool) -> None:
    """Check every member, then extract them all into ``tmp``."""
    try:
        with tarfile.open(tar_path) as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member, tar_path)
            with tqdm(
                total=sum(m.size for m in members),
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=f"extracting {len(members)} files",
                disable=not progress,
            ) as bar:
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(tmp, members=_with_progress(members, bar), filter="data")
                else:  # pragma: no cover - Python without extraction filters
                    tar.extractall(tmp, members=_with_progress(members, bar))
    except (tarfile.TarError, EOFError) as exc:
        raise DownloadError(f"{tar_path}: not a readable tar archive ({exc})") from exc
    except OSError as exc:
        raise DownloadError(f"{tar_path}: could not unpack it into {tmp.parent} ({exc})") from exc


def _in_the_way(target: Path, dest: Path, spec: Spec) -> DownloadError:
    if spec.name == "data":
        what = f"a complete release (no {dest / MARKER})"
    else:
        what = f"part of a complete extraction of {spec.filename} ({dest} holds no {spec.expected})"
    return DownloadError(f"{target} already exists but is not {what}; move it away or choose another --dest")


def _arrange_data(tmp: Path, tar_path: Path) -> list[tuple[Path, str]]:
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
    return [(source, "data")]


def _arrange(spec: Spec, tmp: Path, tar_path: Path) -> list[tuple[Path, str]]:
    """The (extracted folder, name in dest) pairs to move into place, those holding the files
    that mark a complete extraction last (so an interrupted move never looks complete)."""
    if spec.name == "data":
        return _arrange_data(tmp, tar_path)
    found = spec.found(tmp)
    if not found:
        top = sorted(p.name for p in tmp.iterdir())[:10]
        raise DownloadError(
            f"{tar_path}: the archive holds no {spec.expected}; is this {spec.title}? "
            f"Its top level holds {top}."
        )
    marked = {p.relative_to(tmp).parts[0] for p in found}
    entries = sorted(tmp.iterdir(), key=lambda p: (p.name in marked, p.name))
    return [(entry, entry.name) for entry in entries]


def extract_archive(
    spec: str | Spec, tar_path: str | os.PathLike, dest: str | os.PathLike, progress: bool = False
) -> list[Path]:
    """Safely unpack a downloaded tarball into ``dest`` and return the top-level paths it
    created there.

    Members with absolute paths, ``..`` components, links out of the folder or special files
    are refused before anything is written. The archive is unpacked into a temporary folder
    inside ``dest``, checked for the content that marks ``spec`` complete, and its top-level
    entries are then renamed into ``dest`` (each appears complete or not at all). An existing
    entry of the same name is never overwritten.
    """
    spec, tar_path, dest = _spec(spec), Path(tar_path), Path(dest)
    for name in spec.folders:
        if (dest / name).exists():
            raise _in_the_way(dest / name, dest, spec)
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.name}.extracting-", dir=dest))
    moved: list[tuple[Path, Path]] = []
    try:
        _unpack(tar_path, tmp, progress)
        plan = _arrange(spec, tmp, tar_path)
        for _, name in plan:
            if (dest / name).exists() or (dest / name).is_symlink():
                raise _in_the_way(dest / name, dest, spec)
        try:
            for source, name in plan:
                source.rename(dest / name)  # atomic: each folder appears complete or not at all
                moved.append((dest / name, source))
        except OSError as exc:
            for target, source in reversed(moved):  # put back what was moved: all or nothing
                with contextlib.suppress(OSError):
                    target.rename(source)
            moved.clear()
            raise DownloadError(f"{tar_path}: could not move the unpacked files into {dest} ({exc})") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [target for target, _ in moved]


def extract_release(tar_path: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Safely unpack the fMRI release tarball so that ``<dest>/data`` appears complete or not
    at all (see :func:`extract_archive`)."""
    extract_archive("data", tar_path, dest)
    return Path(dest) / "data"


# --------------------------------------------------------------------------- downloads


def download(
    name: str | Spec = "data",
    dest: str | os.PathLike | None = None,
    url: str | None = None,
    timeout: float = 30,
    progress: bool = True,
) -> Path:
    """Download and unpack one of :data:`SPECS` into ``dest`` (default: the spec's default
    folder) and return ``dest``, resolved.

    Does nothing (but report what is there) if ``dest`` already holds a complete extraction.
    Raises :class:`ConnectionError` (with instructions for a manual download) when the server
    cannot be reached, and :class:`DownloadError` for HTTP errors, size mismatches, unsafe or
    unexpected archives, existing folders in the way and too little disk space.
    """
    spec = _spec(name)
    url = url or spec.url
    dest = Path(dest).expanduser() if dest else spec.default_dest()
    dest = dest.resolve()
    if spec.is_complete(dest):
        where = dest / "data" if spec.name == "data" else dest
        print(f"Already in {where}: {spec.title}; nothing to do.")
        _report(spec, dest)
        return dest
    for folder in spec.folders:
        if (dest / folder).exists():
            raise _in_the_way(dest / folder, dest, spec)
    part = dest / spec.part_name  # dest itself is created once the server answers
    if part.exists():
        print(f"Resuming the download of {url} into {part} ({part.stat().st_size} bytes so far).", file=sys.stderr)
    else:
        size = f" ({spec.size})" if url == spec.url else ""
        print(f"Downloading {url}{size} into {part}.", file=sys.stderr)
    _fetch(url, part, dest, timeout, progress, spec=spec)
    print(f"Extracting {part} into {dest}.", file=sys.stderr)
    extract_archive(spec, part, dest, progress=progress)
    with contextlib.suppress(FileNotFoundError):
        part.unlink()
    _report(spec, dest)
    return dest


def _report(spec: Spec, dest: Path) -> None:
    print("\n".join(spec.report(dest, spec.found(dest))))


def download_release(
    dest: str | os.PathLike | None = None,
    url: str = DEFAULT_URL,
    timeout: float = 30,
    progress: bool = True,
) -> Path:
    """Download and unpack the fMRI release into ``dest`` (default: ``$AUDITORY_DNN_FMRI_ROOT``,
    else ``<cache root>/fmri``) and return ``dest``, the folder that contains ``data/``.

    Does nothing if ``<dest>/data/neural/NH2015/voxel_features_array.npy`` already exists.
    Raises :class:`ConnectionError` (with instructions for a manual download) when the
    server cannot be reached, and :class:`DownloadError` for HTTP errors, size mismatches
    and unsafe or unexpected archives.
    """
    return download("data", dest, url=url, timeout=timeout, progress=progress)


# --------------------------------------------------------------------------- CLI


def _add_options(parser: argparse.ArgumentParser, spec: Spec | None) -> None:
    """The shared options, on the main parser and on every subcommand; on a subcommand they
    default to "not given", so that options placed before the subcommand are kept."""
    keep = {"default": argparse.SUPPRESS} if spec else {}
    dest = f"default: {spec.default_text}" if spec else "default: the subcommand's, see below"
    parser.add_argument("--dest", help=f"folder to unpack into ({dest})", **keep)
    url = f"default: {spec.url}" if spec else "default: the subcommand's"
    parser.add_argument("--url", help=f"tarball URL ({url})", **keep)
    parser.add_argument(
        "--timeout", type=float, help="network timeout in seconds (default: 30)", **(keep or {"default": 30})
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars", **keep)


def _parser() -> argparse.ArgumentParser:
    lines = []
    for s in SPECS.values():
        lines += [f"  {s.name:<12} {s.url} ({s.size})", f"  {'':<12} --dest default: {s.default_text}"]
    parser = argparse.ArgumentParser(
        prog="python -m evaluate.download",
        usage="%(prog)s [{" + ",".join(SPECS) + "}] [--dest DEST] [--url URL] [--timeout TIMEOUT] [--no-progress]",
        description=(
            "Download and unpack the authors' tarballs (Tuckute, Feather et al. 2023).\n"
            "An interrupted download resumes when the same command is run again.\n"
            "Without a subcommand: data (the fMRI release the benchmarks need)."
        ),
        epilog="downloads:\n" + "\n".join(lines),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_options(parser, None)
    sub = parser.add_subparsers(dest="what", title="subcommands", metavar="{" + ",".join(SPECS) + "}")
    for spec in SPECS.values():
        p = sub.add_parser(
            spec.name,
            help=f"{spec.title}: {spec.layout} ({spec.size})",
            description=f"Download and unpack {spec.title} ({spec.layout}): {spec.url}, {spec.size}.",
        )
        _add_options(p, spec)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    spec = SPECS[args.what or "data"]
    try:
        download(spec, args.dest, url=args.url, timeout=args.timeout, progress=not args.no_progress)
    except (ConnectionError, DownloadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume the download.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

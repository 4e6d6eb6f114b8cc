"""evaluate.download against a local HTTP server that serves a fake release tarball."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from evaluate.download import PART_NAME, DownloadError, _fetch, download_release, extract_release, main
from evaluate.release import MARKER, ROOT_ENV, load_nh2015

sys.path.insert(0, str(Path(__file__).resolve().parent))
from release_fixture import write_release

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """A fake release on disk and its tarball (top-level data/, like the real one)."""
    root = tmp_path_factory.mktemp("source")
    info = write_release(root, n_voxels_per_participant=3, n_participants=2)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(root / "data", arcname="data")
    info["tar"] = buf.getvalue()
    return info


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.payload``; honours ``Range: bytes=N-`` unless ``server.ignore_range``;
    sends only ``server.truncate_once`` bytes of the first full response, then hangs up."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        if not self.path.endswith("/data.tar"):
            self.send_error(404)
            return
        server.requests.append(self.headers.get("Range"))
        payload = server.payload
        range_header = self.headers.get("Range")
        if range_header and not server.ignore_range:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            if start >= len(payload):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(payload)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = payload[start:]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(payload) - 1}/{len(payload)}")
        else:
            body = payload
            self.send_response(200)
        self.send_header("Content-Type", "application/x-tar")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.truncate_once and not range_header:
            self.wfile.write(body[: server.truncate_once])
            server.truncate_once = 0
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server(release):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.payload = release["tar"]
    httpd.ignore_range = False
    httpd.truncate_once = 0
    httpd.requests = []
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/tuckute_feather_2023/data.tar"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _leftovers(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir() if p.name.startswith(".data.") or p.name == PART_NAME)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_full_download_and_extraction(release, server, tmp_path, capsys):
    dest = tmp_path / "fmri"
    assert download_release(dest, url=server.url, progress=False) == dest.resolve()
    assert server.requests == [None]  # one plain GET
    assert (dest / MARKER).is_file()
    assert _tree(dest / "data") == _tree(release["root"] / "data")
    assert _leftovers(dest) == []  # no .part, no temporary extraction folder
    out = capsys.readouterr().out
    assert str(dest / "data") in out
    assert f"{ROOT_ENV}={dest}" in out and f"fmri_root={dest}" in out
    assert load_nh2015(dest, waveforms=False).n_targets == release["nh2015"]["n_voxels"]


def test_fetch_resumes_with_range(release, server, tmp_path):
    part = tmp_path / PART_NAME
    n = len(release["tar"]) // 3
    part.write_bytes(release["tar"][:n])
    _fetch(server.url, part, tmp_path, timeout=10, progress=False)
    assert server.requests == [f"bytes={n}-"]
    assert part.read_bytes() == release["tar"]


def test_download_resumes_interrupted_part(release, server, tmp_path):
    dest = tmp_path / "fmri"
    dest.mkdir()
    n = len(release["tar"]) // 2
    (dest / PART_NAME).write_bytes(release["tar"][:n])
    download_release(dest, url=server.url, progress=False)
    assert server.requests == [f"bytes={n}-"]
    assert _tree(dest / "data") == _tree(release["root"] / "data")
    assert _leftovers(dest) == []


def test_short_response_is_detected_then_resumed(release, server, tmp_path):
    """A connection that ends early fails the size check; the next run resumes."""
    dest = tmp_path / "fmri"
    server.truncate_once = 100_000
    with pytest.raises(DownloadError, match=r"incomplete download.*100000 of \d+ bytes.*resume"):
        download_release(dest, url=server.url, progress=False)
    assert (dest / PART_NAME).stat().st_size == 100_000
    assert not (dest / "data").exists()
    download_release(dest, url=server.url, progress=False)
    assert server.requests == [None, "bytes=100000-"]
    assert _tree(dest / "data") == _tree(release["root"] / "data")


def test_server_ignoring_range_restarts_from_zero(release, server, tmp_path):
    server.ignore_range = True
    part = tmp_path / PART_NAME
    part.write_bytes(b"x" * 5000)  # not even the right bytes: they must be discarded
    _fetch(server.url, part, tmp_path, timeout=10, progress=False)
    assert server.requests == ["bytes=5000-"]
    assert part.read_bytes() == release["tar"]


def test_complete_part_answered_416(release, server, tmp_path):
    dest = tmp_path / "fmri"
    dest.mkdir()
    (dest / PART_NAME).write_bytes(release["tar"])
    download_release(dest, url=server.url, progress=False)
    assert server.requests == [f"bytes={len(release['tar'])}-"]
    assert (dest / MARKER).is_file() and _leftovers(dest) == []


def test_oversized_part_restarts(release, server, tmp_path):
    part = tmp_path / PART_NAME
    part.write_bytes(release["tar"] + b"junk")
    _fetch(server.url, part, tmp_path, timeout=10, progress=False)
    assert server.requests == [f"bytes={len(release['tar']) + 4}-", None]
    assert part.read_bytes() == release["tar"]


def test_already_there(server, tmp_path, capsys):
    dest = tmp_path / "fmri"
    (dest / MARKER).parent.mkdir(parents=True)
    (dest / MARKER).write_bytes(b"")
    assert download_release(dest, url=server.url, progress=False) == dest.resolve()
    assert server.requests == []
    assert "already" in capsys.readouterr().out


def test_existing_incomplete_data_folder_is_not_touched(server, tmp_path):
    dest = tmp_path / "fmri"
    (dest / "data" / "mine").mkdir(parents=True)
    with pytest.raises(DownloadError, match=r"data already exists but is not a complete release"):
        download_release(dest, url=server.url, progress=False)
    assert server.requests == [] and (dest / "data" / "mine").is_dir()


def _evil_tar(name: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("data/neural/NH2015/voxel_features_array.npy")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
        info = tarfile.TarInfo(name)
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    return buf.getvalue()


def test_tarball_escaping_the_folder_is_rejected(server, tmp_path):
    server.payload = _evil_tar("../evil")
    dest = tmp_path / "fmri"
    with pytest.raises(DownloadError, match=r"refusing to extract a member that leaves the folder: '\.\./evil'"):
        download_release(dest, url=server.url, progress=False)
    assert not (tmp_path / "evil").exists()
    assert not (dest / "data").exists()
    assert not any(p.name.startswith(".data.") for p in dest.iterdir())


@pytest.mark.parametrize("name", ["/tmp/abs_evil", "data/../../evil2"])
def test_extract_rejects_absolute_and_dotdot(tmp_path, name):
    tar_path = tmp_path / "bad.tar"
    tar_path.write_bytes(_evil_tar(name))
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(DownloadError, match="refusing to extract"):
        extract_release(tar_path, dest)
    assert list(dest.iterdir()) == []


def test_tarball_without_release_is_rejected(server, tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("something/else.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    server.payload = buf.getvalue()
    with pytest.raises(DownloadError, match=r"expected a top-level data/ folder"):
        download_release(tmp_path / "fmri", url=server.url, progress=False)


def test_http_error(server, tmp_path):
    with pytest.raises(DownloadError, match=r"missing\.tar: HTTP 404"):
        download_release(tmp_path / "fmri", url=server.url.replace("data.tar", "missing.tar"), progress=False)
    assert not (tmp_path / "fmri" / "data").exists()


def test_refused_connection_is_a_clear_connection_error(tmp_path):
    url = f"http://127.0.0.1:{_free_port()}/data.tar"
    dest = tmp_path / "fmri"
    with pytest.raises(ConnectionError) as err:
        download_release(dest, url=url, progress=False, timeout=5)
    message = str(err.value)
    assert url in message and "offline" in message
    assert "tar -xf data.tar" in message and str(dest.resolve()) in message
    assert not dest.exists()  # nothing is created when the server cannot be reached


def test_cli_offline_exits_1_without_traceback(tmp_path):
    url = f"http://127.0.0.1:{_free_port()}/data.tar"
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    proc = subprocess.run(
        [sys.executable, "-m", "evaluate.download", "--dest", str(tmp_path / "fmri"), "--url", url, "--no-progress"],
        check=False,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert url in proc.stderr and "offline" in proc.stderr


def test_cli_main_success(release, server, tmp_path, capsys):
    assert main(["--dest", str(tmp_path / "fmri"), "--url", server.url, "--no-progress"]) == 0
    assert (tmp_path / "fmri" / MARKER).is_file()
    assert f"{ROOT_ENV}=" in capsys.readouterr().out

"""evaluate.download against a local HTTP server that serves fake tarballs: the fMRI release and
the authors' checkpoints, model activations and results, in the real archives' layouts."""

from __future__ import annotations

import io
import os
import shutil
import socket
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from evaluate.download import (
    PART_NAME,
    SPECS,
    DiskSpaceError,
    DownloadError,
    _fetch,
    default_dest,
    download,
    download_release,
    extract_release,
    main,
)
from evaluate.release import MARKER, ROOT_ENV, load_nh2015
from tests.helpers.cli import run_cli
from tests.helpers.fake_release import write_release


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
    """Serves ``server.payload`` as ``.../data.tar`` and ``server.payloads[name]`` as
    ``.../<name>``; honours ``Range: bytes=N-`` unless ``server.ignore_range``; sends only
    ``server.truncate_once`` bytes of the first full response, then hangs up."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        name = self.path.rsplit("/", 1)[-1]
        payload = server.payload if name == "data.tar" else server.payloads.get(name)
        if payload is None:
            self.send_error(404)
            return
        server.requests.append(self.headers.get("Range"))
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
    httpd.payloads = {}
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
    proc = run_cli("evaluate.download", ["--dest", str(tmp_path / "fmri"), "--url", url, "--no-progress"], env=env,
                   timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert url in proc.stderr and "offline" in proc.stderr


def test_cli_main_success(release, server, tmp_path, capsys):
    assert main(["--dest", str(tmp_path / "fmri"), "--url", server.url, "--no-progress"]) == 0
    assert (tmp_path / "fmri" / MARKER).is_file()
    assert f"{ROOT_ENV}=" in capsys.readouterr().out


# --------------------------------------------------------------------------- the other tarballs

_UUID1 = "3c1e0b6a-6d9f-4b1f-9a4e-0d6c2b7e5f11"
_UUID2 = "a87f21c4-02b3-4e55-8c1d-9b0e7f3a6d22"


def _bytes(n: int, seed: int) -> bytes:
    return bytes((seed * 7919 + 31 * i + (i >> 7)) % 256 for i in range(n))


def _checkpoint_files(top: str = "cochdnn_model_checkpoints") -> dict[str, bytes]:
    prefix = f"{top}/" if top else ""
    base = f"{prefix}audio_rep_training_cochleagram_1"
    return {
        f"{base}/kell2018_decay_lr/{_UUID1}/5_checkpoint.pt": _bytes(60_000, 1),  # CochCNN9, word task
        f"{base}/kell2018_decay_lr/{_UUID1}/build_network.py": b"# architecture\n",
        f"{base}/resnet50_word_speaker_audioset/{_UUID2}/5_checkpoint.pt": _bytes(45_000, 2),
    }


def _activation_files() -> dict[str, bytes]:
    files = {}
    for k, model in enumerate(("Kell2018word", "ResNet50multitask")):
        files[f"model_actv/{model}/natsound_activations.h5"] = _bytes(40_000, 10 + k)
        files[f"model_actv/{model}/natsound_activations_randnetw.h5"] = _bytes(30_000, 20 + k)
    return files


def _result_files(outputs_beside: bool = True) -> dict[str, bytes]:
    files = {}
    for k, model in enumerate(("Kell2018word", "ResNet50multitask")):
        for layer in ("relu0", "relu1"):
            ident = f"AUD-MAPPING-Ridge_TARGET-NH2015_SOURCE-{model}-{layer}_RANDNETW-False_ALPHALIMIT-50"
            files[f"results/{model}/{ident}/df_output.pkl"] = _bytes(20_000, 30 + k)
        folder = "outputs" if outputs_beside else "results/outputs"
        csv = f"best-layer_CV-splits-nit-10_roi-None_{model}_NH2015_median_r2_test_c.csv"
        files[f"{folder}/{csv}"] = b"layer,median_r2_test_c\nrelu1,0.5\n"
    return files


def _tar(files: dict[str, bytes]) -> bytes:
    """A tarball with a folder entry for every parent, as ``tar -cf`` writes them."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        done = set()
        for name, content in files.items():
            parts = name.split("/")
            for i in range(1, len(parts)):
                folder = "/".join(parts[:i])
                if folder not in done:
                    done.add(folder)
                    info = tarfile.TarInfo(folder)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(content), 0o644
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


ARCHIVES = {
    "checkpoints": _checkpoint_files,
    "model_actv": _activation_files,
    "results": _result_files,
}


def _serve(server, name: str, files: dict[str, bytes]) -> str:
    """Serve ``files`` as the tarball of ``name``; return its URL."""
    filename = SPECS[name].filename
    server.payloads[filename] = _tar(files)
    return f"http://127.0.0.1:{server.server_address[1]}/some/where/{filename}"


def _hidden(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir() if p.name.startswith(".") or p.name.endswith(".part"))


def test_specs_have_distinct_part_files_and_the_authors_urls():
    assert [s.part_name for s in SPECS.values()] == [
        PART_NAME,
        "cochdnn_model_checkpoints.tar.part",
        "model_actv.tar.part",
        "results.tar.part",
    ]
    assert SPECS["data"].url == "https://mcdermottlab.mit.edu//tuckute_feather_2023/data.tar"
    assert SPECS["checkpoints"].url == "https://mcdermottlab.mit.edu/cochdnn/cochdnn_model_checkpoints.tar"
    assert SPECS["model_actv"].url == "https://mcdermottlab.mit.edu//tuckute_feather_2023/model_actv.tar"
    assert SPECS["results"].url == "https://mcdermottlab.mit.edu//tuckute_feather_2023/results.tar"


@pytest.mark.parametrize("name", list(ARCHIVES))
def test_download_resume_extract_report(server, tmp_path, capsys, name):
    """An interrupted download fails its size check, the next run resumes it with a Range
    request and unpacks it, and a third run has nothing to do."""
    files = ARCHIVES[name]()
    url = _serve(server, name, files)
    size = len(server.payloads[SPECS[name].filename])
    dest = tmp_path / name
    n = size // 2
    server.truncate_once = n
    with pytest.raises(DownloadError, match=rf"incomplete download.*{n} of {size} bytes.*resume"):
        download(name, dest, url=url, progress=False)
    part = dest / SPECS[name].part_name
    assert part.stat().st_size == n and _hidden(dest) == [part.name]
    capsys.readouterr()

    assert download(name, dest, url=url, progress=True) == dest.resolve()  # with progress bars
    assert server.requests == [None, f"bytes={n}-"]
    assert _tree(dest) == files
    assert _hidden(dest) == []  # no .part, no temporary extraction folder
    out = capsys.readouterr().out

    if name == "checkpoints":
        ckpts = [k for k in files if k.endswith("5_checkpoint.pt")]
        assert "2 model checkpoints" in out
        for k in ckpts:
            assert k in out
        assert "(60.0 kB)" in out and "(45.0 kB)" in out
        assert f"python -m evaluate model=reference model.path={dest.resolve() / ckpts[0]} benchmark=nh2015" in out
    elif name == "model_actv":
        assert "4 activation files" in out and "of 2 models" in out
        assert "model_actv/Kell2018word/natsound_activations.h5  (40.0 kB)" in out
        assert "model_actv/ResNet50multitask/natsound_activations_randnetw.h5  (30.0 kB)" in out
    else:
        assert "4 df_output.pkl files of 2 models" in out
        assert "Kell2018word: 2 layer/target results" in out and "ResNet50multitask: 2" in out
        assert "2 best-layer summaries" in out
        assert "outputs/best-layer_CV-splits-nit-10_roi-None_Kell2018word_NH2015_median_r2_test_c.csv" in out

    assert download(name, dest, url=url, progress=False) == dest.resolve()
    assert server.requests == [None, f"bytes={n}-"]  # nothing fetched
    out = capsys.readouterr().out
    assert "Already in" in out and "nothing to do" in out


@pytest.mark.parametrize("top", ["cochdnn_model_checkpoints", "model_checkpoints_2023", ""])
def test_checkpoints_any_top_level_folder(server, tmp_path, capsys, top):
    files = _checkpoint_files(top)
    dest = tmp_path / "ckpt"
    download("checkpoints", dest, url=_serve(server, "checkpoints", files), progress=False)
    assert _tree(dest) == files
    out = capsys.readouterr().out
    word = next(k for k in files if "kell2018" in k and k.endswith(".pt"))
    assert f"model.path={dest.resolve() / word} " in out


@pytest.mark.parametrize("outputs_beside", [True, False])
def test_results_with_or_without_outputs_beside(server, tmp_path, capsys, outputs_beside):
    files = _result_files(outputs_beside)
    dest = tmp_path / "res"
    download("results", dest, url=_serve(server, "results", files), progress=False)
    assert _tree(dest) == files
    assert sorted(p.name for p in dest.iterdir()) == (["outputs", "results"] if outputs_beside else ["results"])
    assert "2 best-layer summaries" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "files", "message"),
    [
        ("checkpoints", {"cochdnn_model_checkpoints/x/<uuid>/model.pt": b"weights"}, r"holds no 5_checkpoint\.pt"),
        ("model_actv", {"model_actv/Kell2018word/readme.txt": b"hi"}, r"holds no \.h5 file in model_actv/"),
        ("model_actv", {"Kell2018word/natsound_activations.h5": b"h5"}, r"holds no \.h5 file in model_actv/"),
        ("results", {"results/Kell2018word/x/df_other.pkl": b"pkl"}, r"holds no df_output\.pkl"),
    ],
)
def test_archive_without_expected_content_is_rejected(server, tmp_path, name, files, message):
    dest = tmp_path / name
    url = _serve(server, name, files)
    with pytest.raises(DownloadError, match=message + r".*is this the authors'.*top level holds"):
        download(name, dest, url=url, progress=False)
    assert sorted(p.name for p in dest.iterdir()) == [SPECS[name].part_name]  # only the download stays


def test_existing_incomplete_folder_is_refused_before_downloading(server, tmp_path):
    dest = tmp_path / "actv"
    (dest / "model_actv" / "mine").mkdir(parents=True)
    with pytest.raises(DownloadError, match=r"model_actv already exists but is not part of a complete extraction"):
        download("model_actv", dest, url=_serve(server, "model_actv", _activation_files()), progress=False)
    assert server.requests == [] and (dest / "model_actv" / "mine").is_dir()


def test_checkpoint_folder_in_the_way_keeps_the_download(server, tmp_path, capsys):
    """The top-level name is known only once unpacked: the clash is found after the download,
    which is kept, so that the next run (once the folder is moved away) only unpacks it."""
    files = _checkpoint_files()
    url = _serve(server, "checkpoints", files)
    dest = tmp_path / "ckpt"
    (dest / "cochdnn_model_checkpoints" / "mine").mkdir(parents=True)
    with pytest.raises(DownloadError, match=r"cochdnn_model_checkpoints already exists but is not part of a complete"):
        download("checkpoints", dest, url=url, progress=False)
    assert (dest / "cochdnn_model_checkpoints" / "mine").is_dir()
    assert _hidden(dest) == ["cochdnn_model_checkpoints.tar.part"]
    (dest / "cochdnn_model_checkpoints").rename(tmp_path / "moved")
    download("checkpoints", dest, url=url, progress=False)
    size = len(server.payloads["cochdnn_model_checkpoints.tar"])
    assert server.requests == [None, f"bytes={size}-"]  # the second run only asked whether there was more
    assert _tree(dest) == files and _hidden(dest) == []


def test_two_downloads_share_one_dest(release, server, tmp_path):
    """Interrupted downloads of two tarballs into one folder resume each from its own .part."""
    dest = tmp_path / "shared"
    dest.mkdir()
    url = _serve(server, "model_actv", _activation_files())
    actv = server.payloads["model_actv.tar"]
    (dest / PART_NAME).write_bytes(release["tar"][:1000])
    (dest / "model_actv.tar.part").write_bytes(actv[:2000])
    download("model_actv", dest, url=url, progress=False)
    download_release(dest, url=server.url, progress=False)
    assert server.requests == ["bytes=2000-", "bytes=1000-"]
    assert (dest / MARKER).is_file() and (dest / "model_actv" / "Kell2018word" / "natsound_activations.h5").is_file()
    assert _hidden(dest) == []


def _fake_free(monkeypatch, free: int) -> list[str]:
    seen = []

    def disk_usage(path):
        seen.append(str(path))
        return shutil._ntuple_diskusage(10 * free + 1, 9 * free + 1, free)

    monkeypatch.setattr(shutil, "disk_usage", disk_usage)
    return seen


def test_not_enough_disk_space(server, tmp_path, monkeypatch):
    url = _serve(server, "checkpoints", _checkpoint_files())
    size = len(server.payloads["cochdnn_model_checkpoints.tar"])
    dest = tmp_path / "ckpt"
    seen = _fake_free(monkeypatch, 5000)
    with pytest.raises(DiskSpaceError) as err:
        download("checkpoints", dest, url=url, progress=False)
    message = str(err.value)
    assert f"Not enough free space in {tmp_path}" in message  # dest does not exist yet: its parent's
    assert f"({size} bytes) more for cochdnn_model_checkpoints.tar.part" in message
    assert "(5000 bytes) free" in message and "choose another --dest" in message
    assert seen == [str(tmp_path)] and not dest.exists()


def test_disk_space_counts_the_rest_and_the_extraction(server, tmp_path, monkeypatch):
    """A resumed download needs the missing bytes plus room to unpack the whole archive."""
    url = _serve(server, "model_actv", _activation_files())
    payload = server.payloads["model_actv.tar"]
    dest = tmp_path / "actv"
    dest.mkdir()
    n = len(payload) // 4
    (dest / "model_actv.tar.part").write_bytes(payload[:n])
    need = (len(payload) - n) + len(payload)
    _fake_free(monkeypatch, need - 1)
    with pytest.raises(DiskSpaceError, match=rf"{len(payload) - n} bytes\) more for model_actv\.tar\.part"):
        download("model_actv", dest, url=url, progress=False)
    assert (dest / "model_actv.tar.part").stat().st_size == n  # untouched
    _fake_free(monkeypatch, need)
    download("model_actv", dest, url=url, progress=False)
    assert (dest / "model_actv").is_dir()


def test_default_dests(monkeypatch, tmp_path):
    monkeypatch.setenv("AUDITORY_DNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(ROOT_ENV, raising=False)
    assert default_dest("data") == tmp_path / "cache" / "fmri"
    for name in ("checkpoints", "model_actv", "results"):
        assert default_dest(name) == tmp_path / "cache" / name
    monkeypatch.setenv(ROOT_ENV, str(tmp_path / "fmri_here"))
    assert default_dest("data") == tmp_path / "fmri_here"
    assert default_dest("checkpoints") == tmp_path / "cache" / "checkpoints"


def test_download_without_dest_uses_the_cache(server, tmp_path, monkeypatch):
    monkeypatch.setenv("AUDITORY_DNN_CACHE", str(tmp_path / "cache"))
    url = _serve(server, "results", _result_files())
    assert download("results", url=url, progress=False) == (tmp_path / "cache" / "results").resolve()
    assert (tmp_path / "cache" / "results" / "results" / "Kell2018word").is_dir()


def test_offline_error_names_the_tarball(tmp_path):
    url = f"http://127.0.0.1:{_free_port()}/cochdnn_model_checkpoints.tar"
    dest = tmp_path / "ckpt"
    with pytest.raises(ConnectionError) as err:
        download("checkpoints", dest, url=url, progress=False, timeout=5)
    message = str(err.value)
    assert url in message and "offline" in message
    assert "tar -xf cochdnn_model_checkpoints.tar" in message and "5_checkpoint.pt" in message
    assert "python -m evaluate.download checkpoints" in message and not dest.exists()


@pytest.mark.parametrize("name", ["data", *ARCHIVES])
def test_cli_main_each_download(release, server, tmp_path, capsys, name):
    url = server.url if name == "data" else _serve(server, name, ARCHIVES[name]())
    dest = tmp_path / name
    assert main([name, "--dest", str(dest), "--url", url, "--no-progress"]) == 0
    assert SPECS[name].is_complete(dest)
    assert main([name, "--dest", str(dest), "--url", url, "--no-progress"]) == 0
    assert "nothing to do" in capsys.readouterr().out


def test_cli_options_before_the_subcommand(server, tmp_path):
    url = _serve(server, "model_actv", _activation_files())
    dest = tmp_path / "actv"
    assert main(["--dest", str(dest), "--no-progress", "model_actv", "--url", url, "--timeout", "10"]) == 0
    assert (dest / "model_actv" / "Kell2018word").is_dir()


def test_cli_rejected_archive_exits_1(server, tmp_path, capsys):
    url = _serve(server, "results", {"results/nothing.txt": b"x"})
    assert main(["results", "--dest", str(tmp_path / "r"), "--url", url, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "\nerror: " in err and "holds no df_output.pkl" in err and "Traceback" not in err


def test_cli_unknown_subcommand_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["weights"])
    assert exc.value.code == 2
    assert "invalid choice: 'weights'" in capsys.readouterr().err


def test_cli_help_lists_every_download(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for spec in SPECS.values():
        assert spec.name in out and spec.url in out and spec.size in out

"""The release-layout loaders (evaluate.release) on a small fake copy of the data release."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from scipy.io import loadmat, savemat
from scipy.signal import resample_poly

from data.cache import CACHE_ENV
from evaluate import load_benchmark
from evaluate.benchmark import BenchmarkError
from evaluate.registry import REGISTRY
from evaluate.release import (
    ROOT_ENV,
    load_b2021,
    load_nh2015,
    load_nh2015comp,
    load_stimuli,
    resolve_root,
)
from tests.helpers.fake_release import write_release

NH = Path("data/neural/NH2015")
B = Path("data/neural/B2021")
COMP = Path("data/neural/NH2015comp")


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return write_release(tmp_path_factory.mktemp("release"), n_voxels_per_participant=6, n_participants=3)


@pytest.fixture(scope="module")
def nh2015_with_audio(release):
    return load_nh2015(release["root"])


@pytest.fixture
def copy(release, tmp_path):
    """A private copy of the release to break: neural files copied, stimuli linked."""
    root = tmp_path / "copy"
    shutil.copytree(release["root"] / "data" / "neural", root / "data" / "neural")
    os.symlink(release["root"] / "data" / "stimuli", root / "data" / "stimuli")
    return root


# --------------------------------------------------------------------------- loaders


def test_nh2015_targets_and_filtering(release):
    exp = release["nh2015"]
    b = load_nh2015(release["root"], waveforms=False)
    assert (b.name, b.kind, b.noise_corrected) == ("nh2015", "voxels", True)
    assert b.responses.shape == (165, exp["n_voxels"], 3)
    assert exp["n_voxels"] < exp["n_voxels_all"]  # the 2-run participant's voxels are dropped ...
    assert b.targets["target"].tolist() == exp["voxel_ids"]
    assert not set(exp["dropped_voxel_ids"]) & set(b.targets["target"])
    assert len(b.excluded) == 0  # ... by n_reps, not because their responses were unusable
    assert b.participant.tolist() == exp["participants"]
    assert len(np.unique(b.participant)) == exp["n_participants"]
    assert b.roi.tolist() == exp["rois"]
    assert set(exp["rois"]) == {"Primary", "Anterior", "Lateral", "Posterior", ""}
    assert b.targets["hemi"].tolist() == exp["hemi"]
    assert b.targets["x_ras"].tolist() == exp["x_ras"]
    for mask in ("tonotopic", "pitch", "music", "speech"):
        assert b.targets[mask].tolist() == exp["masks"][mask]
    np.testing.assert_array_equal(b.responses, exp["responses"])
    assert b.stimulus_ids == release["ids"]
    assert b.categories == release["categories"]
    assert b.waveforms is None


def test_b2021_truncation_and_targets(release):
    exp = release["b2021"]
    assert exp["n_stimuli_file"] > 165 and exp["n_reps_file"] > 3
    b = load_b2021(release["root"], waveforms=False)
    assert (b.name, b.kind) == ("b2021", "voxels")
    assert b.responses.shape == (165, exp["n_voxels"], 3)
    np.testing.assert_array_equal(b.responses, exp["responses"])
    assert b.targets["target"].tolist() == exp["voxel_ids"]
    assert b.participant.tolist() == exp["participants"]
    assert len(np.unique(b.participant)) == exp["n_participants"]
    assert b.roi.tolist() == exp["rois"]
    assert b.targets["hemi"].tolist() == exp["hemi"]
    assert "tonotopic" not in b.targets  # no functional masks in B2021
    assert b.stimulus_ids == release["ids"] and b.categories == release["categories"]


def test_nh2015comp_reordered_by_name(release):
    exp = release["nh2015comp"]
    assert not np.array_equal(exp["file_order"], np.arange(165))  # the file's rows are shuffled
    b = load_nh2015comp(release["root"], waveforms=False)
    assert (b.name, b.kind, b.noise_corrected) == ("nh2015comp", "components", False)
    assert b.responses.shape == (165, 6, 1)
    np.testing.assert_array_equal(b.responses[:, :, 0], exp["responses"])
    assert b.targets["target"].tolist() == exp["component_names"]
    assert b.participant.tolist() == [0] * 6
    assert b.roi.tolist() == [""] * 6
    assert b.categories == release["categories"]


def test_load_benchmark_dispatch(release):
    """The one registry: names normalised once, options checked against the loader's."""
    for name, n_targets in (("NH2015", release["nh2015"]["n_voxels"]), ("b2021", release["b2021"]["n_voxels"])):
        assert load_benchmark(name, root=release["root"], waveforms=False).n_targets == n_targets
    assert load_benchmark(" NH2015Comp ", root=release["root"], waveforms=False).name == "nh2015comp"
    with pytest.raises(ValueError, match="available: nh2015, b2021, nh2015comp, synthetic, synthetic-comp"):
        load_benchmark("nh2016", root=release["root"])
    with pytest.raises(ValueError, match=r"benchmark 'nh2015' takes no option 'seed'; its options: progress, root, wav"):
        load_benchmark("nh2015", root=release["root"], seed=1)
    assert list(REGISTRY) == ["nh2015", "b2021", "nh2015comp", "synthetic", "synthetic-comp"]
    assert [e.brain_data for e in REGISTRY.values()] == [True, True, True, False, False]
    # one signature style: every loader takes waveforms and progress as keywords
    assert all({"waveforms", "progress"} <= e.options for e in REGISTRY.values())


# --------------------------------------------------------------------------- waveforms


def test_waveforms_preprocessed(release, nh2015_with_audio):
    w = nh2015_with_audio.waveforms
    assert w.shape == (165, 40000) and w.dtype == np.float32
    assert np.abs(w.mean(axis=1)).max() < 1e-6
    rms = np.sqrt((w.astype(np.float64) ** 2).mean(axis=1))
    np.testing.assert_allclose(rms, 0.1, atol=1e-5)
    rates = {spec[0] for spec in release["audio"].values()}
    assert {16000, 20000, 22050, 44100, 48000} <= rates


def _reference_clip(path: Path) -> np.ndarray:
    """The authors' procedure, written out independently: mono, the first 2 s at the file's
    own rate (zero-padded), polyphase-resampled to 20 kHz, demeaned, RMS 0.1."""
    audio, rate = sf.read(path, dtype="float64")
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    n = 2 * rate
    x = np.concatenate([audio[:n], np.zeros(max(0, n - len(audio)))])
    g = math.gcd(rate, 20000)
    x = resample_poly(x, 20000 // g, rate // g) if rate != 20000 else x
    assert len(x) == 40000
    x = x - x.mean()
    return x * 0.1 / np.sqrt(np.mean(x**2))


def _resample_then_cut(path: Path) -> np.ndarray:
    """The procedure this loader used to follow (and must no longer): the whole file resampled,
    then cut to 40,000 samples."""
    audio, rate = sf.read(path, dtype="float64")
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    g = math.gcd(rate, 20000)
    x = resample_poly(audio, 20000 // g, rate // g) if rate != 20000 else audio
    x = np.concatenate([x, np.zeros(max(0, 40000 - len(x)))])[:40000]
    x = x - x.mean()
    return x * 0.1 / np.sqrt(np.mean(x**2))


@pytest.mark.parametrize("index", [0, 1, 2, 4, 8])  # 44.1 kHz stereo 2.5 s, 16 kHz 2.3 s, 20 kHz 2 s,
def test_waveform_matches_direct_resampling(release, nh2015_with_audio, index):  # 48 kHz 2.1 s, short 44.1 kHz
    stim = release["ids"][index]
    seconds = release["audio"][stim][2]
    expected = _reference_clip(release["root"] / "data" / "stimuli" / f"{stim}.wav")
    got = nh2015_with_audio.waveforms[index]
    np.testing.assert_allclose(got, expected, atol=2e-6)
    n_content = round(seconds * 20000)
    if n_content < 40000:  # zero-padded: after demeaning the tail is one constant value
        tail = got[n_content + 50 :]
        assert np.ptp(tail) < 1e-6 and len(tail) > 1000


@pytest.mark.parametrize(("rate", "channels"), [(44100, 2), (16000, 1), (20000, 1)])
def test_stimulus_cut_at_own_rate_before_resampling(tmp_path, rate, channels):
    """A quiet tone for 2 s, then a loud burst right after the cut: the clip must be the first
    2 s at the file's own rate, resampled, so none of the burst leaks in through the filter."""
    rng = np.random.default_rng(rate)
    n = 2 * rate
    t = np.arange(n + rate // 2) / rate
    mono = 0.05 * np.sin(2 * np.pi * 330 * t) + 0.01
    mono[n:] = 0.9 * np.sign(rng.standard_normal(len(t) - n))  # loud broadband burst from 2 s on
    audio = np.stack([mono + 0.002 * c for c in range(channels)], axis=1)
    folder = tmp_path / "data" / "stimuli"
    folder.mkdir(parents=True)
    path = folder / "burst.wav"
    sf.write(path, audio, rate, subtype="FLOAT")

    got = load_stimuli(tmp_path, ["burst"])[0]
    assert got.shape == (40000,) and got.dtype == np.float32

    # independently: the first 2 s at the file's rate -> resample_poly -> demean -> RMS 0.1
    x = audio.mean(axis=1)[:n]
    g = math.gcd(rate, 20000)
    if rate != 20000:
        x = resample_poly(x, 20000 // g, rate // g)
    x = x - x.mean()
    expected = x * 0.1 / np.sqrt(np.mean(x**2))
    np.testing.assert_allclose(got, expected, atol=2e-6)
    np.testing.assert_allclose(got, _reference_clip(path), atol=2e-6)
    np.testing.assert_allclose(np.sqrt(np.mean(got.astype(np.float64) ** 2)), 0.1, atol=1e-6)

    old = _resample_then_cut(path)
    if rate == 20000:  # nothing to resample: both procedures are one cut
        np.testing.assert_allclose(got, old, atol=2e-6)
    else:  # the burst leaks into the last samples when the whole file is resampled first
        assert np.abs(got - old)[-20:].max() > 0.05
        assert np.abs(got - old)[:39000].max() < 1e-3


def test_short_stimulus_padded_at_own_rate(tmp_path):
    """A 0.5 s file at 44.1 kHz: zero-padded to 2 s at 44.1 kHz, then resampled."""
    folder = tmp_path / "data" / "stimuli"
    folder.mkdir(parents=True)
    t = np.arange(22050) / 44100
    sf.write(folder / "short.wav", 0.3 * np.sin(2 * np.pi * 500 * t), 44100, subtype="FLOAT")
    got = load_stimuli(tmp_path, ["short"])[0]
    np.testing.assert_allclose(got, _reference_clip(folder / "short.wav"), atol=2e-6)
    assert np.ptp(got[10000 + 50 :]) < 1e-6


def test_load_stimuli_errors(release, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.wav.*python -m evaluate\.download"):
        load_stimuli(release["root"], [release["ids"][0], "nope"])
    (tmp_path / "data" / "stimuli").mkdir(parents=True)
    sf.write(tmp_path / "data" / "stimuli" / "quiet.wav", np.zeros(8000), 16000)
    sf.write(tmp_path / "data" / "stimuli" / "dc.wav", np.full(50000, 0.25), 20000)
    for name in ("quiet", "dc"):  # a constant 2 s is silent once demeaned
        with pytest.raises(BenchmarkError, match=rf"{name}\.wav.*silent"):
            load_stimuli(tmp_path, [name])


# --------------------------------------------------------------------------- roots


def test_root_forms(release, monkeypatch):
    root = release["root"]
    assert resolve_root(root / "data") == root  # the data/ folder itself
    b = load_nh2015comp(root / "data", waveforms=False)
    assert b.n_targets == 6
    monkeypatch.setenv(ROOT_ENV, str(root))
    assert resolve_root(None) == root
    assert load_benchmark("nh2015comp", waveforms=False).n_targets == 6
    assert resolve_root(root / "elsewhere") == root / "elsewhere"  # an explicit root wins


def test_default_root_is_cache_fmri(monkeypatch, tmp_path):
    monkeypatch.delenv(ROOT_ENV, raising=False)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    assert resolve_root(None) == tmp_path / "cache" / "fmri"
    with pytest.raises(FileNotFoundError) as err:
        load_nh2015(None, waveforms=False)
    message = str(err.value)
    assert str(tmp_path / "cache" / "fmri" / NH / "neural_stim_meta.npy") in message
    assert "python -m evaluate.download" in message and ROOT_ENV in message


# --------------------------------------------------------------------------- robustness


def test_roi_rows_aligned_by_voxel_id_and_integer_codes(release, copy):
    path = copy / NH / "df_roi_meta.pkl"
    df = pd.read_pickle(path)
    codes = {"Primary": 1, "Anterior": 2, "Lateral": 3, "Posterior": 4}
    df["roi_label_general"] = [codes.get(r, np.nan) if isinstance(r, str) else np.nan for r in df["roi_label_general"]]
    df.sample(frac=1.0, random_state=1).reset_index(drop=True).to_pickle(path)  # rows shuffled
    b = load_nh2015(copy, waveforms=False)
    assert b.targets["target"].tolist() == release["nh2015"]["voxel_ids"]
    assert b.roi.tolist() == release["nh2015"]["rois"]
    assert b.targets["tonotopic"].tolist() == release["nh2015"]["masks"]["tonotopic"]


def test_byte_categories_are_decoded(release, copy):
    path = copy / NH / "neural_stim_meta.npy"
    meta = np.load(path)
    dtype = [(n, "S16") if n == "category" else (n, meta.dtype[n]) for n in meta.dtype.names]
    np.save(path, meta.astype(dtype))
    assert load_nh2015comp(copy, waveforms=False).categories == release["categories"]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "loader, rel",
    [
        (load_nh2015, NH / "voxel_features_array.npy"),
        (load_nh2015, NH / "voxel_features_meta.npy"),
        (load_nh2015, NH / "df_roi_meta.pkl"),
        (load_nh2015, NH / "neural_stim_meta.npy"),
        (load_b2021, B / "voxel_features_array.npy"),
        (load_b2021, B / "stim_info_v4.mat"),
        (load_b2021, B / "df_roi_meta.pkl"),
        (load_nh2015comp, COMP / "components.mat"),
    ],
)
def test_missing_file(copy, loader, rel):
    (copy / rel).unlink()
    with pytest.raises(FileNotFoundError) as err:
        loader(copy, waveforms=False)
    message = str(err.value)
    assert str(copy / rel) in message
    assert "python -m evaluate.download" in message


def test_empty_root_says_how_to_download(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"neural_stim_meta\.npy.*python -m evaluate\.download"):
        load_benchmark("b2021", root=tmp_path)


def test_voxel_meta_without_n_reps(copy):
    path = copy / NH / "voxel_features_meta.npy"
    meta = np.load(path)
    np.save(path, meta[[n for n in meta.dtype.names if n != "n_reps"]])
    with pytest.raises(BenchmarkError, match=r"voxel_features_meta\.npy: field 'n_reps' missing"):
        load_nh2015(copy, waveforms=False)


def test_voxel_meta_length_mismatch(copy):
    path = copy / NH / "voxel_features_meta.npy"
    np.save(path, np.load(path)[:-1])
    with pytest.raises(BenchmarkError, match=r"voxel_features_meta\.npy: expected one record per voxel"):
        load_nh2015(copy, waveforms=False)


@pytest.mark.parametrize("rel, loader", [(NH, load_nh2015), (B, load_b2021)])
def test_voxel_array_rank(copy, rel, loader):
    path = copy / rel / "voxel_features_array.npy"
    np.save(path, np.load(path)[:, :, 0])
    with pytest.raises(BenchmarkError, match=r"voxel_features_array\.npy: expected a 3-D array.*rank 2"):
        loader(copy, waveforms=False)


def test_voxel_array_too_few_reps(copy):
    path = copy / NH / "voxel_features_array.npy"
    np.save(path, np.load(path)[:, :, :2])
    with pytest.raises(BenchmarkError, match=r"voxel_features_array\.npy: expected at least 3 repetitions"):
        load_nh2015(copy, waveforms=False)


def test_roi_frame_without_voxel_id(copy):
    path = copy / NH / "df_roi_meta.pkl"
    pd.read_pickle(path).drop(columns=["voxel_id"]).to_pickle(path)
    with pytest.raises(BenchmarkError, match=r"df_roi_meta\.pkl: missing column\(s\) \['voxel_id'\]"):
        load_nh2015(copy, waveforms=False)


def test_roi_frame_lacking_kept_voxels(copy):
    path = copy / NH / "df_roi_meta.pkl"
    pd.read_pickle(path).iloc[1:].to_pickle(path)
    with pytest.raises(BenchmarkError, match=r"df_roi_meta\.pkl: column 'voxel_id' lacks 1 of"):
        load_nh2015(copy, waveforms=False)


def test_b2021_roi_rows_mismatch(copy):
    path = copy / B / "df_roi_meta.pkl"
    pd.read_pickle(path).iloc[:-2].to_pickle(path)
    with pytest.raises(BenchmarkError, match=r"B2021/df_roi_meta\.pkl: expected one row per voxel column"):
        load_b2021(copy, waveforms=False)


def test_b2021_names_out_of_order(release, copy):
    path = copy / B / "stim_info_v4.mat"
    names = release["ids"] + [f"extra{k}" for k in range(27)]
    names[10], names[11] = names[11], names[10]
    savemat(path, {"stim_info": {"stim_names": np.array(names, dtype=object).reshape(-1, 1)}})
    with pytest.raises(BenchmarkError) as err:
        load_b2021(copy, waveforms=False)
    message = str(err.value)
    assert "stim_info_v4.mat" in message and "stim_names" in message
    assert f"#10: expected {release['ids'][10]!r}, found {release['ids'][11]!r}" in message


def test_b2021_mat_without_stim_names(copy):
    savemat(copy / B / "stim_info_v4.mat", {"stim_info": {"names": np.array(["a"], dtype=object)}})
    with pytest.raises(
        BenchmarkError, match=r"stim_info_v4\.mat: expected a struct 'stim_info' with field 'stim_names'"
    ):
        load_b2021(copy, waveforms=False)


def _rewrite_components(path: Path, **changes) -> None:
    mat = {k: v for k, v in loadmat(path).items() if not k.startswith("__")}
    mat.update(changes)
    savemat(path, mat)


def test_component_matrix_shape(copy):
    path = copy / COMP / "components.mat"
    _rewrite_components(path, R=loadmat(path)["R"][:164])
    with pytest.raises(BenchmarkError, match=r"components\.mat: variable 'R' must be a 165 x n matrix.*\[164, 6\]"):
        load_nh2015comp(copy, waveforms=False)


def test_component_names_count(copy):
    path = copy / COMP / "components.mat"
    _rewrite_components(path, component_names=np.array(["a", "b"], dtype=object).reshape(-1, 1))
    with pytest.raises(BenchmarkError, match=r"components\.mat: variable 'component_names' has 2 names, R has 6"):
        load_nh2015comp(copy, waveforms=False)


def test_component_stimulus_names_mismatch(release, copy):
    path = copy / COMP / "components.mat"
    names = [x[0] for x in loadmat(path)["stim_names"][0]]
    renamed = names[5]
    names[5] = "stim999_unknown"
    _rewrite_components(path, stim_names=np.array(names, dtype=object).reshape(1, -1))
    with pytest.raises(BenchmarkError) as err:
        load_nh2015comp(copy, waveforms=False)
    message = str(err.value)
    assert "components.mat" in message and "stim_names" in message
    assert renamed in message and "stim999_unknown" in message


def test_stimulus_meta_wrong_structure(copy):
    np.save(copy / NH / "neural_stim_meta.npy", np.arange(165))
    with pytest.raises(BenchmarkError, match=r"neural_stim_meta\.npy: expected a 1-D structured array"):
        load_nh2015comp(copy, waveforms=False)

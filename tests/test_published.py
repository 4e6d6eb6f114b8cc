"""evaluate.published: readers for the authors' downloads (docs/reference.md section 12),
on fixtures written in exactly those layouts."""

from __future__ import annotations

import logging

import h5py
import numpy as np
import pandas as pd
import pytest

from evaluate.published import (
    compare_per_voxel,
    identifier,
    read_best_layer_csv,
    read_model_actv,
    read_results,
)

MODEL = "Kell2018word"


# ---------------------------------------------------------------- model_actv


@pytest.fixture
def actv_file(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "relu4": rng.standard_normal((165, 12)).astype(np.float32),
        "conv1": rng.standard_normal((165, 3, 4, 2)).astype(np.float64),  # 4-D, flattened
        "fc/final": rng.standard_normal((165, 5)).astype(np.float32),  # nested in a group
    }
    path = tmp_path / "model_actv" / MODEL / "natsound_activations.h5"
    path.parent.mkdir(parents=True)
    with h5py.File(path, "w", track_order=True) as f:
        f.create_dataset("relu4", data=arrays["relu4"])
        f.create_dataset("conv1", data=arrays["conv1"])
        f.create_group("fc", track_order=True).create_dataset("final", data=arrays["fc/final"])
    return path, arrays


def test_model_actv_round_trips_in_file_order(actv_file):
    path, arrays = actv_file
    layers = read_model_actv(path)
    assert list(layers) == ["relu4", "conv1", "fc/final"]  # creation order, not alphabetical
    for name, array in layers.items():
        assert array.dtype == np.float32 and array.ndim == 2 and array.shape[0] == 165
        np.testing.assert_array_equal(array, arrays[name].astype(np.float32).reshape(165, -1))
    assert layers["conv1"].shape == (165, 24)


def test_model_actv_errors(tmp_path):
    missing = tmp_path / "nope.h5"
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        read_model_actv(missing)
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="junk.h5.*HDF5"):
        read_model_actv(junk)
    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w") as f:
        f.create_group("g")
    with pytest.raises(ValueError, match="empty.h5: no datasets"):
        read_model_actv(empty)
    wrong = tmp_path / "wrong.h5"
    with h5py.File(wrong, "w") as f:
        f.create_dataset("ok", data=np.zeros((165, 2)))
        f.create_group("g").create_dataset("rows", data=np.zeros((164, 2)))
    with pytest.raises(ValueError, match=r"wrong.h5: dataset 'g/rows' has shape \(164, 2\)"):
        read_model_actv(wrong)
    flat = tmp_path / "flat.h5"
    with h5py.File(flat, "w") as f:
        f.create_dataset("vec", data=np.zeros(165))
    with pytest.raises(ValueError, match="flat.h5: dataset 'vec'"):
        read_model_actv(flat)


# ---------------------------------------------------------------- results


def _voxel_table(seed: int, n: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "median_r2_test_c": rng.random(n),
            "median_r2_test": rng.random(n),
            "median_alpha": 10.0 ** rng.integers(-5, 5, n),
            "voxel_id": np.arange(n) * 3,
            "subj_idx": rng.integers(1, 9, n),
            "roi_label_general": rng.choice(["Primary", "Anterior"], n),
        }
    )


@pytest.fixture
def results_root(tmp_path):
    """2 layers x RANDNETW True/False, written out of natural order, plus one unparseable folder."""
    tables = {}
    for seed, (layer, randnetw) in enumerate(
        [("relu10", False), ("relu2", False), ("relu10", True), ("relu2", True)]
    ):
        folder = tmp_path / "results" / MODEL / identifier(MODEL, layer, "NH2015", randnetw)
        folder.mkdir(parents=True)
        tables[layer, randnetw] = _voxel_table(seed)
        tables[layer, randnetw].to_pickle(folder / "df_output.pkl")
    (tmp_path / "results" / MODEL / "some_scratch_folder").mkdir()
    return tmp_path, tables


def test_identifier_spells_the_reference_layout():
    assert identifier("Kell2018word", "relu2", "NH2015", True) == (
        "AUD-MAPPING-Ridge_TARGET-NH2015_SOURCE-Kell2018word-relu2_RANDNETW-True_ALPHALIMIT-50"
    )


@pytest.mark.parametrize("randnetw", [False, True])
def test_results_round_trip_in_natural_order(results_root, randnetw, caplog):
    root, tables = results_root
    with caplog.at_level(logging.WARNING, logger="evaluate.published"):
        out = read_results(root, MODEL, randnetw=randnetw)
    assert out.attrs["skipped"] == ["some_scratch_folder"]
    assert "some_scratch_folder" in caplog.text and "1 folder(s) skipped" in caplog.text
    assert list(pd.unique(out["layer"])) == ["relu2", "relu10"]
    assert out.columns[0] == "layer"
    for layer in ("relu2", "relu10"):
        got = out[out["layer"] == layer].drop(columns="layer").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, tables[layer, randnetw])


def test_results_layer_list_sets_order_and_selection(results_root):
    root, tables = results_root
    out = read_results(root, MODEL, layers=["relu10", "relu2"])
    assert list(pd.unique(out["layer"])) == ["relu10", "relu2"]
    only = read_results(root, MODEL, layers=["relu2"])
    pd.testing.assert_frame_equal(only.drop(columns="layer"), tables["relu2", False])
    with pytest.raises(FileNotFoundError, match="relu7"):
        read_results(root, MODEL, layers=["relu2", "relu7"])


def test_results_missing_paths_say_how_to_fetch(results_root, tmp_path):
    root, _ = results_root
    with pytest.raises(FileNotFoundError, match=r"OtherModel.*python -m evaluate\.download results"):
        read_results(root, "OtherModel")
    with pytest.raises(FileNotFoundError, match=r"nowhere.*python -m evaluate\.download results"):
        read_results(tmp_path / "nowhere", MODEL)
    with pytest.raises(FileNotFoundError, match="TARGET-B2021"):
        read_results(root, MODEL, target="B2021")  # folders exist, none for this target


def test_results_without_score_column_names_file_and_columns(results_root):
    root, tables = results_root
    pkl = root / "results" / MODEL / identifier(MODEL, "relu2", "NH2015", False) / "df_output.pkl"
    tables["relu2", False].drop(columns="median_r2_test_c").to_pickle(pkl)
    with pytest.raises(ValueError) as info:
        read_results(root, MODEL)
    assert str(pkl) in str(info.value)
    assert "median_r2_test_c" in str(info.value) and "'median_alpha'" in str(info.value)
    read_results(root, MODEL, randnetw=True)  # the other folders are untouched


def test_best_layer_csv(tmp_path):
    table = pd.DataFrame({"subj_idx": [1, 2, 3], "Primary": [0.25, 0.5, 0.75], "Anterior": [0.1, 0.2, 0.3]})
    name = f"best-layer_CV-splits-nit-10_roi-None_{MODEL}_NH2015_median_r2_test_c.csv"
    with pytest.raises(FileNotFoundError, match=name):
        read_best_layer_csv(tmp_path, MODEL)
    (tmp_path / "outputs").mkdir()
    table.to_csv(tmp_path / "outputs" / name, index=False)
    pd.testing.assert_frame_equal(read_best_layer_csv(tmp_path, MODEL), table)


# ---------------------------------------------------------------- comparison


def _ours(n: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for layer in ("relu2", "relu10"):
        rows.append(
            pd.DataFrame(
                {"layer": layer, "voxel": np.arange(n), "participant": 1, "roi": "Primary",
                 "r2_corrected": rng.random(n), "r2": rng.random(n), "alpha": 1.0, "rv_hat": 0.5}
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_compare_identical_by_row_order():
    ours = _ours()
    theirs = ours[["layer"]].assign(median_r2_test_c=ours["r2_corrected"])
    out = compare_per_voxel(ours, theirs)
    assert list(out["layer"]) == ["relu2", "relu10"]
    np.testing.assert_allclose(out["r"], 1.0)
    np.testing.assert_array_equal(out["mean_abs_diff"], 0.0)
    assert list(out["n"]) == [50, 50]


def test_compare_matches_by_voxel_id_and_detects_shuffles():
    ours = _ours()
    theirs = ours[["layer", "voxel"]].rename(columns={"voxel": "voxel_id"})
    theirs = theirs.assign(median_r2_test_c=ours["r2_corrected"]).sample(frac=1, random_state=0)
    out = compare_per_voxel(ours, theirs)  # rows reordered, ids keep them matched
    np.testing.assert_allclose(out["r"], 1.0)
    np.testing.assert_array_equal(out["mean_abs_diff"], 0.0)

    rng = np.random.default_rng(1)
    shuffled = theirs.assign(voxel_id=theirs.groupby("layer")["voxel_id"].transform(lambda v: rng.permutation(v.to_numpy())))
    out = compare_per_voxel(ours, shuffled)
    assert (out["r"] < 0.9).all() and (out["mean_abs_diff"] > 0).all()
    assert list(out["n"]) == [50, 50]

    partial = theirs[theirs["voxel_id"] < 20]
    assert list(compare_per_voxel(ours, partial)["n"]) == [20, 20]


def test_compare_errors():
    ours = _ours()
    with pytest.raises(ValueError, match="theirs: no column"):
        compare_per_voxel(ours, ours[["layer"]])
    theirs = ours[["layer"]].assign(median_r2_test_c=1.0).iloc[:-1]
    with pytest.raises(ValueError, match="'relu10': 50 voxels in ours, 49 in theirs"):
        compare_per_voxel(ours, theirs)
    doubled = ours[["layer"]].assign(voxel_id=0, median_r2_test_c=1.0)
    with pytest.raises(ValueError, match="'relu2': theirs 'voxel_id' has duplicate ids"):
        compare_per_voxel(ours, doubled)

"""evaluate.published: readers for the authors' downloads (docs/reference.md section 12),
on fixtures written in exactly those layouts."""

from __future__ import annotations

import hashlib
import logging

import h5py
import numpy as np
import pandas as pd
import pytest

from evaluate import Benchmark, Score, load_benchmark, score
from evaluate.published import (
    BEST_LAYER,
    SCORE_COLUMN,
    best_layer_csv_path,
    compare_per_voxel,
    identifier,
    model_actv_layers,
    published_agreement,
    published_models,
    read_best_layer_csv,
    read_model_actv,
    read_results,
    score_published_activations,
)
from tests.helpers.cli import only_run_dir, run_cli
from tests.helpers.configs import evaluate_in_process
from tests.helpers.fake_release import write_release

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
    for seed, (layer, randnetw) in enumerate([("relu10", False), ("relu2", False), ("relu10", True), ("relu2", True)]):
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
                {
                    "layer": layer,
                    "voxel": np.arange(n),
                    "participant": 1,
                    "roi": "Primary",
                    "r2_corrected": rng.random(n),
                    "r2": rng.random(n),
                    "alpha": 1.0,
                    "rv_hat": 0.5,
                }
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
    shuffled = theirs.assign(
        voxel_id=theirs.groupby("layer")["voxel_id"].transform(lambda v: rng.permutation(v.to_numpy()))
    )
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


def test_compare_reports_the_largest_difference():
    ours = _ours()
    delta = np.zeros(len(ours))
    delta[[3, 70]] = [0.25, -0.5]  # one voxel in each layer
    theirs = ours[["layer"]].assign(median_r2_test_c=ours["r2_corrected"] + delta)
    out = compare_per_voxel(ours, theirs)
    np.testing.assert_allclose(out["max_abs_diff"], [0.25, 0.5])
    np.testing.assert_allclose(out["mean_abs_diff"], [0.25 / 50, 0.5 / 50])


# ------------------------------------------------ the authors' activations, scored

# The authors' in-house files: a byte-string `layer_list` in model order, one dataset per layer
# (written without creation order, h5py's default, so name order differs from model order), and
# the task heads under `final/` (their utils.get_source_features reads final/signal/word_int).
ACTV_LAYERS = ["input_after_preproc", "relu0", "maxpool0", "relu1", "relufc"]
ALL_LAYERS = [*ACTV_LAYERS, "final/signal/word_int"]


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return write_release(tmp_path_factory.mktemp("release"), n_voxels_per_participant=6, n_participants=3)


@pytest.fixture(scope="module")
def bench(release):
    return load_benchmark("nh2015", root=release["root"], progress=False)


def _authors_arrays(bench: Benchmark, seed: int = 0, n_rows: int = 165) -> dict[str, np.ndarray]:
    """Activations that carry some of the responses (so alphas and r2 vary over voxels), with
    the authors' shapes: a 3-D input_after_preproc, 2-D layers and heads."""
    rng = np.random.default_rng(seed)
    mean = bench.responses.mean(axis=2)  # [165, voxels]
    out = {}
    for k, layer in enumerate(ALL_LAYERS):
        width = 6 + 2 * k
        signal = mean @ rng.standard_normal((mean.shape[1], width))
        values = (0.2 + 0.3 * k) * signal + rng.standard_normal((165, width))
        out[layer] = values[:n_rows].astype(np.float32)
    out["input_after_preproc"] = out["input_after_preproc"].reshape(n_rows, 2, 3)
    return out


def write_authors_actv(
    folder, arrays: dict[str, np.ndarray], randnetw: bool = False, listed=ALL_LAYERS[:-1] + ["final"]
):
    """``folder/<model>/natsound_activations[_randnetw].h5`` in the authors' layout."""
    name = "natsound_activations_randnetw.h5" if randnetw else "natsound_activations.h5"
    path = folder / "model_actv" / MODEL / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.create_dataset("layer_list", data=np.array([layer.encode() for layer in listed]))
        for layer, values in arrays.items():
            f.create_dataset(layer, data=values)  # "final/signal/word_int" creates the groups
    return path


@pytest.fixture(scope="module")
def actv(tmp_path_factory, bench):
    arrays = _authors_arrays(bench)
    return write_authors_actv(tmp_path_factory.mktemp("actv"), arrays), arrays


def test_layer_list_gives_the_layers_and_their_order(actv, tmp_path, caplog):
    path, arrays = actv
    assert model_actv_layers(path) == (ALL_LAYERS, "layer_list")  # not name order: maxpool0 after relu0
    layers = read_model_actv(path)
    assert list(layers) == ALL_LAYERS
    assert layers["input_after_preproc"].shape == (165, 6)
    np.testing.assert_array_equal(layers["final/signal/word_int"], arrays["final/signal/word_int"])
    picked = read_model_actv(path, layers=["relufc", "relu0"])
    assert list(picked) == ["relufc", "relu0"]
    with pytest.raises(ValueError, match=r"natsound_activations.h5: no layer\(s\) \['relu9'\]; the file has \["):
        read_model_actv(path, layers=["relu0", "relu9"])

    # A listed layer the file lacks is skipped with a warning; unlisted datasets are no layers.
    odd = write_authors_actv(tmp_path, {"relu0": arrays["relu0"], "extra": arrays["relu1"]}, listed=["relu0", "relu5"])
    with caplog.at_level(logging.WARNING, logger="evaluate.published"):
        assert model_actv_layers(odd) == (["relu0"], "layer_list")
    assert "1 layer(s) in 'layer_list' are not in the file" in caplog.text and "relu5" in caplog.text


def test_file_without_layer_list_or_creation_order_uses_natural_name_order(tmp_path, caplog):
    path = tmp_path / "natsound_activations.h5"
    with h5py.File(path, "w") as f:
        for layer in ("relu10", "relu2", "avgpool"):
            f.create_dataset(layer, data=np.zeros((165, 2)))
    with caplog.at_level(logging.WARNING, logger="evaluate.published"):
        assert model_actv_layers(path) == (["avgpool", "relu2", "relu10"], "natural name order")
    assert "pass layers=[...]" in caplog.text


def test_cli_scores_the_authors_file_as_score_does(actv, release, bench, tmp_path, cache_dir):
    path, arrays = actv
    logs = tmp_path / "logs"
    proc = run_cli("evaluate", [f"activations={path}", f"fmri_root={release['root']}", "benchmark=nh2015",
                                "figures=false", "progress=false"], cache_dir=cache_dir, logs=logs)  # fmt: skip
    saved = Score.load(only_run_dir(logs) / "score")
    assert f"{MODEL}@authors-actv:trained on nh2015" in proc.stdout
    assert saved.model == f"{MODEL}@authors-actv:trained" and saved.layers == ALL_LAYERS
    info = saved.info["model"]
    assert info["activations_path"] == str(path.resolve()) and info["randnetw"] is False
    assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info["weights"] == "trained" and info["layer_order"] == "layer_list" and info["published_model"] == MODEL

    flat = {layer: a.reshape(165, -1) for layer, a in arrays.items()}
    direct = score({layer: flat[layer] for layer in ALL_LAYERS}, bench, progress=False)
    assert saved.value == pytest.approx(direct.value, rel=1e-6, abs=1e-12)
    assert saved.sem == pytest.approx(direct.sem, rel=1e-6, abs=1e-12)
    for name in ("per_voxel", "per_layer", "per_participant"):
        ours, theirs = getattr(saved, name), getattr(direct, name)
        for column in ours.select_dtypes("number"):
            np.testing.assert_allclose(ours[column], theirs[column], rtol=1e-6, atol=1e-12, err_msg=f"{name}.{column}")
    assert saved.rsa["value"] == pytest.approx(direct.rsa["value"], rel=1e-6, abs=1e-12)


def test_randnetw_file_is_labelled_as_the_permuted_control(tmp_path, bench):
    arrays = _authors_arrays(bench, seed=1)
    path = write_authors_actv(tmp_path, arrays, randnetw=True)
    result = score_published_activations(path, bench, layers=["relu1", "relu0"], rsa=False, progress=False)
    assert result.model == f"{MODEL}@authors-actv:randnetw" and result.layers == ["relu1", "relu0"]
    assert result.info["model"]["randnetw"] is True and "permuted" in result.info["model"]["weights"]
    assert result.info["model"]["layer_order"] == "as given"
    direct = score({"relu1": arrays["relu1"], "relu0": arrays["relu0"]}, bench, rsa=False, progress=False)
    assert result.value == pytest.approx(direct.value, rel=1e-9)

    renamed = tmp_path / "my_activations.h5"
    renamed.write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match="my_activations.h5: not one of the authors' activation file names"):
        score_published_activations(renamed, bench)


def test_bad_activation_inputs_are_clear_errors(tmp_path, bench, release, actv):
    arrays = _authors_arrays(bench, n_rows=164)
    short = write_authors_actv(tmp_path / "short", arrays)
    with pytest.raises(ValueError, match=r"short/.*natsound_activations.h5: dataset 'input_after_preproc' has shape "
                                         r"\(164, 2, 3\), expected \[165, features\]"):  # fmt: skip
        score_published_activations(short, bench, progress=False)

    empty = tmp_path / "empty" / "natsound_activations.h5"
    empty.parent.mkdir()
    h5py.File(empty, "w").close()
    with pytest.raises(ValueError, match=r"empty/natsound_activations.h5: no datasets, expected one \[165, features\]"):
        score_published_activations(empty, bench, progress=False)

    path, _ = actv
    other = Benchmark.from_arrays(np.random.default_rng(0).standard_normal((100, 4, 3)), participant=[1, 1, 2, 2])
    with pytest.raises(ValueError, match=r"natsound_activations.h5: the authors' activations are for the release's 165"
                                         r".*benchmark custom has 100 stimuli"):  # fmt: skip
        score_published_activations(path, other)
    noise = np.random.default_rng(1).standard_normal((165, 4, 3))
    synthetic = Benchmark.from_arrays(noise, participant=[1, 1, 2, 2], name="synthetic")
    with pytest.raises(ValueError, match="benchmark synthetic is synthetic"):
        score_published_activations(path, synthetic)

    # The command line: control=permuted and a network make no sense with the authors' activations.
    root = f"fmri_root={release['root']}"
    with pytest.raises(ValueError, match="no network, so control cannot be used with it"):
        evaluate_in_process([f"activations={path}", root, "control=permuted"], tmp_path / "r1")
    with pytest.raises(ValueError, match="no network, so ckpt_path, model cannot be used"):
        evaluate_in_process([f"activations={path}", root, "ckpt_path=x.ckpt", "model=cochcnn9"], tmp_path / "r2")


def test_cli_bad_activation_file_exits_with_the_message(tmp_path, bench, release, cache_dir):
    short = write_authors_actv(tmp_path, _authors_arrays(bench, n_rows=164))
    proc = run_cli("evaluate", [f"activations={short}", f"fmri_root={release['root']}", "progress=false"],
                   cache_dir=cache_dir, logs=tmp_path / "logs", check=False)  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert (
        f"error: {short}: dataset 'input_after_preproc' has shape (164, 2, 3), expected [165, features]" in proc.stderr
    )


# ------------------------------------------------ agreement with the authors' results


@pytest.fixture(scope="module")
def published_score(actv, bench):
    path, _ = actv
    return score_published_activations(path, bench, layers=ACTV_LAYERS, rsa=False, progress=False)


def write_results(root, result: Score, target="NH2015", randnetw=False, edit=None, best_layer=True):
    """``root/results/<model>/<identifier>/df_output.pkl`` from a score's per_voxel, in the
    authors' columns (their AUD_main.py: scores, then df_roi_meta, then the run's settings),
    rows shuffled (matching is by voxel_id); ``edit(layer, table)`` may change a table."""
    for k, layer in enumerate(result.layers):
        pv = result.per_voxel[result.per_voxel["layer"] == layer]
        table = pd.DataFrame({
            "mean_r2_test": pv["r2"].to_numpy() + 0.01, "median_r2_test": pv["r2"].to_numpy(),
            "median_r2_test_c": pv["r2_corrected"].to_numpy(), "median_alpha": pv["alpha"].to_numpy(),
            "subj_idx": pv["participant"].to_numpy(), "voxel_id": pv["voxel"].to_numpy(),
            "roi_label_general": pv["roi"].to_numpy(), "source_model": MODEL, "source_layer": layer,
            "randemb": "False", "randnetw": str(randnetw), "target": target,
        }).sample(frac=1, random_state=k)  # fmt: skip
        if edit is not None:
            table = edit(layer, table)
        folder = root / "results" / MODEL / identifier(MODEL, layer, target, randnetw)
        folder.mkdir(parents=True, exist_ok=True)
        table.to_pickle(folder / "df_output.pkl")
    if best_layer:
        pp = result.per_participant
        csv = pd.DataFrame(
            {SCORE_COLUMN: pp["value"].to_numpy(), "rel_pos": pp["best_relative_layer"].to_numpy(),
             "roi": None, "source_model": MODEL, "target": target, "randnetw": str(randnetw), "nit": 10},
            index=pd.Index(pp["participant"].to_numpy(), name="subj_idx"),
        )  # fmt: skip
        path = best_layer_csv_path(root, MODEL, target, randnetw)
        path.parent.mkdir(parents=True, exist_ok=True)
        csv.to_csv(path)  # with its subj_idx index, as the authors'
    return root


def test_agreement_with_results_written_from_the_same_score_is_exact(published_score, tmp_path):
    for layer in ACTV_LAYERS:  # the checks below need variation over voxels
        pv = published_score.per_voxel[published_score.per_voxel["layer"] == layer]
        assert pv["alpha"].nunique() > 1 and pv["r2"].nunique() > 1, layer
    root = write_results(tmp_path, published_score)
    assert published_models(root) == [MODEL]
    out = published_agreement(published_score, root, MODEL)
    assert list(out["layer"]) == [*ACTV_LAYERS, BEST_LAYER]
    assert list(out["n"]) == [18] * 5 + [3]
    np.testing.assert_allclose(out[["r", "r_r2", "r_log10_alpha"]].iloc[:5], 1.0, rtol=1e-12)
    np.testing.assert_array_equal(out[["mean_abs_diff", "max_abs_diff"]], 0.0)
    np.testing.assert_allclose(out["r"].iloc[5], 1.0, rtol=1e-12)
    assert out[["r_r2", "r_log10_alpha"]].iloc[5].isna().all()  # not defined for the best-layer row
    per_layer = published_score.per_voxel.groupby("layer", sort=False)["r2_corrected"].mean()
    np.testing.assert_allclose(out["ours_mean"].iloc[:5], per_layer[ACTV_LAYERS].to_numpy())
    np.testing.assert_allclose(out["theirs_mean"].iloc[5], published_score.per_participant["value"].mean())


def test_agreement_moves_as_the_published_numbers_are_changed(published_score, tmp_path):
    rng = np.random.default_rng(5)
    voxels = published_score.per_voxel["voxel"].unique()
    delta = pd.Series(rng.normal(0, 0.05, len(voxels)), index=voxels)
    noise = pd.Series(rng.normal(0, 0.02, len(voxels)), index=voxels)

    def edit(layer, table):
        if layer == "relu0":
            table = table.assign(
                median_r2_test_c=table["median_r2_test_c"] + delta[table["voxel_id"]].to_numpy(),
                median_r2_test=table["median_r2_test"] + noise[table["voxel_id"]].to_numpy(),
                median_alpha=table["median_alpha"] * 10.0,  # log10 shifts by 1: its r stays 1
            )
        return table

    out = published_agreement(published_score, write_results(tmp_path, published_score, edit=edit), MODEL)
    row = out.set_index("layer").loc["relu0"]
    pv = published_score.per_voxel[published_score.per_voxel["layer"] == "relu0"]
    d = delta[pv["voxel"]].to_numpy()
    assert row["mean_abs_diff"] == pytest.approx(np.abs(d).mean(), rel=1e-9)
    assert row["max_abs_diff"] == pytest.approx(np.abs(d).max(), rel=1e-9)
    ours = pv["r2_corrected"].to_numpy()
    assert row["r"] == pytest.approx(np.corrcoef(ours, ours + d)[0, 1], rel=1e-9) and row["r"] < 1
    r2 = pv["r2"].to_numpy()
    assert row["r_r2"] == pytest.approx(np.corrcoef(r2, r2 + noise[pv["voxel"]].to_numpy())[0, 1], rel=1e-9)
    assert row["r_log10_alpha"] == pytest.approx(1.0, rel=1e-12)
    others = out[out["layer"].isin(["relu1", "relufc"])]
    np.testing.assert_array_equal(others["max_abs_diff"], 0.0)


def test_agreement_reports_bad_layers_and_compares_the_rest(published_score, tmp_path, caplog):
    root = write_results(tmp_path, published_score, best_layer=False)
    model_dir = root / "results" / MODEL
    (model_dir / identifier(MODEL, "relu1", "NH2015") / "df_output.pkl").unlink()  # missing
    no_alpha = model_dir / identifier(MODEL, "maxpool0", "NH2015") / "df_output.pkl"
    pd.read_pickle(no_alpha).drop(columns="median_alpha").to_pickle(no_alpha)  # without a needed column
    other_target = model_dir / identifier(MODEL, "relufc", "NH2015") / "df_output.pkl"
    pd.read_pickle(other_target).assign(target="B2021").to_pickle(other_target)  # another target's table
    with caplog.at_level(logging.WARNING, logger="evaluate.published"):
        out = published_agreement(published_score, root, MODEL)
    assert list(out["layer"]) == ["input_after_preproc", "relu0"]  # no CSV: no best-layer row
    np.testing.assert_allclose(out["r"], 1.0, rtol=1e-12)
    assert "3 folder(s) skipped" in caplog.text
    assert f"{no_alpha}: no column(s) ['median_alpha']" in caplog.text
    assert f"{other_target}: column 'target' is ['B2021'], expected 'NH2015'" in caplog.text
    assert "3 of our 5 layer(s) have no results" in caplog.text

    for layer in ("input_after_preproc", "relu0"):  # now every layer is bad
        pkl = model_dir / identifier(MODEL, layer, "NH2015") / "df_output.pkl"
        pkl.write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="every layer's table was unusable"):
        published_agreement(published_score, root, MODEL)


def test_agreement_bad_folders_and_scores_are_clear_errors(published_score, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere: no such folder; expected .*results/<model>/<identifier>"):
        published_agreement(published_score, tmp_path / "nowhere", MODEL)
    root = write_results(tmp_path / "tar", published_score)
    with pytest.raises(FileNotFoundError, match=r"tar/results: no results/ folder.*pass .*tar\)"):
        published_agreement(published_score, root / "results", MODEL)  # the results/ folder itself
    (tmp_path / "other").mkdir()
    with pytest.raises(FileNotFoundError, match=r"other: no results/ folder"):
        published_models(tmp_path / "other")
    with pytest.raises(
        FileNotFoundError, match=r"no results folder for model 'ResNet50word'; .* has \['Kell2018word'\]"
    ):
        published_agreement(published_score, root, "ResNet50word")
    with pytest.raises(FileNotFoundError, match=r"TARGET-B2021.*folders there are for: TARGET-NH2015 RANDNETW-False"):
        published_agreement(published_score, root, MODEL, target="B2021")  # a folder of the wrong target
    with pytest.raises(ValueError, match="trained network; randnetw=True would compare"):
        published_agreement(published_score, root, MODEL, randnetw=True)
    b2021 = Score(**{**published_score.__dict__, "benchmark": "b2021"})
    with pytest.raises(FileNotFoundError, match="TARGET-B2021"):  # the default target follows the benchmark
        published_agreement(b2021, root, MODEL)
    for name in ("synthetic", "nh2015comp"):
        with pytest.raises(ValueError, match=name):
            published_agreement(Score(**{**published_score.__dict__, "benchmark": name}), root, MODEL)


def test_results_of_later_layouts_randemb_and_b2021_chunks(published_score, tmp_path):
    """Later versions of the authors' AUD_main.py add _RANDEMB-<bool> to identifiers and write
    B2021 in voxel chunks df_output_<k>.pkl."""
    table = pd.DataFrame({"median_r2_test_c": np.arange(6.0), "voxel_id": np.arange(6)})
    model_dir = tmp_path / "results" / MODEL
    name = identifier(MODEL, "relu0", "B2021").replace("_RANDNETW-", "_RANDEMB-False_RANDNETW-")
    (model_dir / name).mkdir(parents=True)
    for k, part in enumerate((table.iloc[4:], table.iloc[:4])):  # chunk 0 is the first voxels
        part.to_pickle(model_dir / name / f"df_output_{1 - k}.pkl")
    control = identifier(MODEL, "relu2", "B2021").replace("_RANDNETW-", "_RANDEMB-True_RANDNETW-")
    (model_dir / control).mkdir()
    table.to_pickle(model_dir / control / "df_output.pkl")  # the random-embedding control: not a score
    out = read_results(tmp_path, MODEL, target="B2021")
    assert list(out["layer"].unique()) == ["relu0"] and out.attrs["skipped"] == []
    np.testing.assert_array_equal(out["voxel_id"], np.arange(6))


def test_best_layer_csv_of_the_permuted_control(tmp_path):
    path = best_layer_csv_path(tmp_path, MODEL, "B2021", randnetw=True)
    assert path.name == f"best-layer_CV-splits-nit-10_roi-None_{MODEL}_randnetw_B2021_median_r2_test_c.csv"

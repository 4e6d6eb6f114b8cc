"""End-to-end `python -m evaluate` runs on a fixture copy of the fMRI release."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from evaluate import Score, extract_activations, load_benchmark, score
from tests.helpers.cli import only_run_dir, run_cli, run_dirs
from tests.helpers.configs import compose_config, evaluate_in_process
from tests.helpers.fake_release import write_release


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return write_release(tmp_path_factory.mktemp("release"), n_voxels_per_participant=10, n_participants=3)


def test_checkpoint_is_scored_and_matches_the_api(tmp_path, cache_dir, tiny_corpus, release):
    run_cli("train", ["debug=fast", "~callbacks.brain_score", "logger=none", "trainer.max_steps=2"],
            cache_dir=cache_dir, logs=tmp_path / "train_logs")  # fmt: skip
    (train_dir,) = run_dirs(tmp_path / "train_logs")
    ckpt = train_dir / "checkpoints" / "last.ckpt"

    logs = tmp_path / "logs"
    proc = run_cli("evaluate", [f"ckpt_path={ckpt}", f"fmri_root={release['root']}", "benchmark=nh2015",
                                "layers=[relu0,relu2,relufc]"], cache_dir=cache_dir, logs=logs)  # fmt: skip
    out_dir = only_run_dir(logs)
    assert "on nh2015: median noise-corrected r2" in proc.stdout and "Primary" in proc.stdout
    for name in ("layer_curves.png", "best_layer.png", "rsa.png"):
        png = out_dir / "figures" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    head = json.loads((out_dir / "score" / "score.json").read_text())
    assert head["benchmark"] == "nh2015" and head["layers"] == ["relu0", "relu2", "relufc"]
    assert head["info"]["model"]["global_step"] == 2 and head["info"]["model"]["ckpt_path"] == str(ckpt.resolve())
    assert "step2" in head["model"]
    saved = Score.load(out_dir / "score")
    assert len(saved.per_voxel) == 3 * 30 and (out_dir / "summary.txt").read_text().startswith(head["model"])

    # The same numbers from the Python API.
    from models import load_network

    net = load_network(ckpt).net
    bench = load_benchmark("nh2015", root=release["root"])
    acts = extract_activations(net, bench.waveforms, ["relu0", "relu2", "relufc"], cache=False, progress=False)
    direct = score(acts, bench, progress=False)
    assert saved.value == pytest.approx(direct.value, rel=1e-6, abs=1e-12)
    np.testing.assert_allclose(saved.per_voxel["r2"], direct.per_voxel["r2"], rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("benchmark, kind, n_targets", [("nh2015comp", "components", 6), ("b2021", "voxels", 50)])
def test_other_release_benchmarks(tmp_path, cache_dir, release, benchmark, kind, n_targets):
    evaluate_in_process(["model=cochcnn9", "model.width=0.0625", f"fmri_root={release['root']}",
                         f"benchmark={benchmark}", "layers=[relu1,relufc]", "progress=false"], tmp_path)  # fmt: skip
    saved = Score.load(tmp_path / "score")
    assert (saved.benchmark, saved.kind) == (benchmark, kind)
    unit = "component" if kind == "components" else "voxel"
    assert saved.per_voxel[unit].nunique() == n_targets
    assert saved.model == "CochCNN9-untrained-seed0" and np.isfinite(saved.value)
    assert (tmp_path / "figures" / "layer_x_roi.png").is_file()


def test_missing_release_and_bad_layer_are_clear_errors(tmp_path, cache_dir, release):
    # The command line: one line naming the missing file and the download command, exit 1, no traceback.
    proc = run_cli("evaluate", ["model=cochcnn9", "model.width=0.0625", f"fmri_root={tmp_path / 'nowhere'}"],
                   cache_dir=cache_dir, logs=tmp_path / "l1", check=False)  # fmt: skip
    assert proc.returncode == 1
    assert "benchmark could not be loaded" in proc.stderr and "python -m evaluate.download" in proc.stderr
    assert "Traceback" not in proc.stderr

    with pytest.raises(ValueError, match=r"has no submodule\(s\) \['relu9'\]"):
        evaluate_in_process(["model=cochcnn9", "model.width=0.0625", f"fmri_root={release['root']}",
                             "layers=[relu0,relu9]"], tmp_path / "l2")  # fmt: skip
    with pytest.raises(ValueError, match="nothing to score: pass ckpt_path="):
        evaluate_in_process([f"fmri_root={release['root']}"], tmp_path / "l3")


@pytest.mark.parametrize("benchmark", ["nh2015", "b2021", "nh2015comp", "synthetic", "synthetic_comp"])
def test_evaluate_config_composes(benchmark):
    cfg = compose_config("evaluate", [f"benchmark={benchmark}", "fmri_root=/data/fmri"])
    assert cfg.benchmark._target_ == "evaluate.load_benchmark"  # the one registry
    assert cfg.benchmark.name == benchmark.replace("_", "-")
    if not benchmark.startswith("synthetic"):
        assert cfg.benchmark.root == "/data/fmri"
    assert cfg.ckpt_path is None and cfg.layers is None and cfg.device == "auto"


def test_synthetic_benchmark_end_to_end(tmp_path, cache_dir):
    """No download needed: the synthetic benchmark is built locally (cached for the session)."""
    logs = tmp_path / "logs"
    proc = run_cli("evaluate", ["model=cochcnn9", "model.width=0.0625", "benchmark=synthetic",
                                "benchmark.voxels_per_participant=40", "layers=[relu0,relu4,relufc]", "progress=false"],
                   cache_dir=cache_dir, logs=logs)  # fmt: skip
    out_dir = only_run_dir(logs)
    assert "_synthetic_" in out_dir.name and "on synthetic:" in proc.stdout
    saved = Score.load(out_dir / "score")
    assert saved.benchmark == "synthetic" and saved.per_voxel["voxel"].nunique() == 320
    assert set(saved.per_roi["roi"]) == {"all", "Primary", "Anterior", "Lateral", "Posterior"}
    assert 0 < saved.value < 1 and (out_dir / "figures" / "layer_curves.png").is_file()
    diagnostics = pd.read_csv(out_dir / "diagnostics.csv")  # evaluate/diagnostics.py, one row per layer
    assert diagnostics["layer"].tolist() == ["relu0", "relu4", "relufc"] and (diagnostics["n_targets"] == 320).all()

"""``python -m evaluate.paper``: discovery, cached and resumable scoring, the figures, tables and
statistics, and bad input; on small released-layout checkpoints and the synthetic benchmark."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from evaluate.benchmark import ROIS
from evaluate.paper import main, write_paper
from evaluate.paper_sources import ENTRY_FILE, find_sources
from evaluate.recognition import spoken_word_recognition
from evaluate.results import Score
from evaluate.statistics import bootstrap_compare
from evaluate.synthetic import SPOKEN_WORDS, load_synthetic
from models.checkpoint import load_network
from models.cochcnn9 import CochCNN9
from tests.helpers import our_layout, reference_layout

OPTIONS = {"voxels_per_participant": 6}
KW = {"benchmarks": ["synthetic"], "benchmark_options": OPTIONS, "baseline": False, "n_resamples": 300,
      "progress": False}  # fmt: skip


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, cache_dir):
    root = tmp_path_factory.mktemp("released")
    for seed in (0, 1):
        reference_layout.write(root, "CochCNN9", False, seed=seed)
    return root


@pytest.fixture(scope="module")
def paper(checkpoints, tmp_path_factory):
    out = tmp_path_factory.mktemp("paper")
    return write_paper([checkpoints], out, **KW)


def test_paper_writes_the_figures_tables_and_statistics(paper):
    out = paper.out
    d = out / "synthetic"
    for name in ("fig2_best_layer", "fig4_layer_curves", "fig7_best_relative_layer"):
        assert (d / f"{name}.png").stat().st_size > 2000 and (d / f"{name}.csv").is_file()
    models = pd.read_csv(d / "fig2_best_layer.csv")
    assert set(models["label"]) == {"CochCNN9 word", "CochCNN9 word permuted"}
    assert (models["n_seeds"] == 2).all()
    summary = (out / "summary.md").read_text()
    assert "SYNTHETIC" in summary and "NOT brain data" in summary
    comps = pd.read_csv(out / "comparisons.csv")
    row = comps[comps["label"] == "synthetic: CochCNN9 word vs CochCNN9 word permuted"].iloc[0]
    assert 0 <= row["p_value"] <= 1 and row["n_resamples"] == 300
    assert any(comps["label"].str.startswith("synthetic Lateral: "))
    assert (d / "seeds_CochCNN9_word.png").is_file()  # two seeds of one label
    assert (d / "ed_vs_predictivity.csv").is_file() and (d / "diagnostics.csv").is_file()


def test_paper_reports_the_ground_truth_channels_each_model_recovers(paper, cache_dir):
    d = paper.out / "synthetic"
    table = pd.read_csv(d / "channel_recovery.csv")
    bench = load_synthetic(**OPTIONS, cache_dir=cache_dir, progress=False)
    channels = list(bench.ground_truth.columns)
    # every model run (2 seeds x network and control) x every channel, once
    assert len(table) == 4 * len(channels) and set(table["channel"]) == set(channels)
    assert set(table["group"]) == {"tonotopic", "modulation", "category", "word"}
    assert (table["r2"] <= 1).all() and set(table["label"]) == {"CochCNN9 word", "CochCNN9 word permuted"}
    assert (d / "channel_recovery.png").stat().st_size > 2000
    assert "Ground-truth channels recovered" in paper.summary and "word_" + SPOKEN_WORDS[0] in paper.summary
    # the table holds each run's best layer for the channel: the recovery the cache stored
    entry = next(p for p in (paper.out / "cache").glob("*/channel_recovery.csv"))
    per_layer = pd.read_csv(entry)
    assert set(per_layer["channel"]) == set(channels) and per_layer["layer"].nunique() > 1
    best = per_layer.loc[per_layer.groupby("channel")["r2"].idxmax()]
    runs = [table.iloc[i : i + len(channels)] for i in range(0, len(table), len(channels))]  # one block per run
    assert any(np.allclose(best.set_index("channel")["r2"][run["channel"]], run["r2"]) for run in runs)


def test_paper_statistics_equal_the_library_on_the_saved_scores(paper):
    # The bootstrap row equals bootstrap_compare of the seed-averaged per-participant values.
    cache = paper.out / "cache"
    scores = {}
    for entry in cache.glob(f"*/{ENTRY_FILE}"):
        s = Score.load(entry.parent / "score")
        scores.setdefault("permuted" in s.model, []).append(s.per_participant.set_index("participant")["value"])
    net = pd.concat(scores[False], axis=1).mean(axis=1)
    perm = pd.concat(scores[True], axis=1).mean(axis=1)
    want = bootstrap_compare(net.to_numpy(), perm[net.index].to_numpy(), n_resamples=300)
    got = dict(paper.comparisons)["synthetic: CochCNN9 word vs CochCNN9 word permuted"]
    assert got.p_value == want.p_value and got.mean_1 == pytest.approx(want.mean_1)
    table = paper.tables["synthetic/models"].set_index("label")
    assert table.loc["CochCNN9 word", "value"] == pytest.approx(net.mean())


def test_roi_margins_are_the_per_participant_differences_in_sems(paper):
    # From the saved scores, by hand: per ROI the seed-averaged per-participant values of the
    # network and its control, their mean difference and its SEM (ddof 1).
    margins = pd.read_csv(paper.out / "synthetic" / "roi_margins.csv")
    values = {}
    for entry in (paper.out / "cache").glob(f"*/{ENTRY_FILE}"):
        s = Score.load(entry.parent / "score")
        t = s.per_roi_participant
        values.setdefault("permuted" in s.model, []).append(t.set_index(["roi", "participant"])["value"])
    net, perm = (pd.concat(values[k], axis=1).mean(axis=1) for k in (False, True))
    assert set(margins["roi"]) == set(net.index.get_level_values("roi")) - {"all"} == set(ROIS)
    for row in margins.itertuples():
        assert row.versus == "CochCNN9 word permuted"
        d = (net[row.roi] - perm[row.roi][net[row.roi].index]).to_numpy()
        assert row.difference == pytest.approx(d.mean())
        assert row.sem_difference == pytest.approx(d.std(ddof=1) / np.sqrt(len(d)))
        assert row.margin_in_sem == pytest.approx(d.mean() / (d.std(ddof=1) / np.sqrt(len(d))))
    assert "Margins per ROI" in paper.summary and "SEM, p = " in paper.summary


def test_paper_reuses_its_cache_and_resumes_after_a_kill(paper, checkpoints):
    out = paper.out
    again = write_paper([checkpoints], out, **KW)
    assert "4 scores (4 from the cache)" in again.summary
    pd.testing.assert_frame_equal(again.tables["synthetic/models"], paper.tables["synthetic/models"])
    pd.testing.assert_frame_equal(again.tables["synthetic/channel_recovery"], paper.tables["synthetic/channel_recovery"])
    # A killed run: one entry without its commit marker is scored afresh, the rest reused.
    victim = next((out / "cache").glob(f"*/{ENTRY_FILE}"))
    victim.unlink()
    resumed = write_paper([checkpoints], out, **KW)
    assert "4 scores (3 from the cache)" in resumed.summary and victim.is_file()
    pd.testing.assert_frame_equal(resumed.tables["synthetic/models"], paper.tables["synthetic/models"])


def test_bad_inputs_are_named_and_the_rest_is_reported(paper, checkpoints, tmp_path, capsys):
    empty = tmp_path / "empty_run"
    (empty / "nothing").mkdir(parents=True)
    sources, problems = find_sources([checkpoints, empty, tmp_path / "missing"], baseline=False)
    assert len(sources) == 2
    assert any(str(empty) in p and "no checkpoint" in p for p in problems)
    assert any("missing: does not exist" in p for p in problems)
    # A saved score of another benchmark is left out, by name.
    other = tmp_path / "eval_run" / "score"
    s = Score.load(next((paper.out / "cache").glob(f"*/{ENTRY_FILE}")).parent / "score")
    s.benchmark = "nh2015"
    s.save(other)
    result = write_paper([checkpoints, empty, other.parent], tmp_path / "out", cache_dir=paper.out / "cache", **KW)
    text = result.summary
    assert "## Problems" in text and str(empty) in text and "scored on 'nh2015'" in text
    assert "CochCNN9 word" in text  # the rest still reported
    with pytest.raises(SystemExit) as exc:
        main([str(empty), "--out", str(tmp_path / "o2"), "--no-baseline", "--quiet"])
    assert exc.value.code == 1 and "nothing to score" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"benchmark option\(s\) \['voxel_count'\]"):
        write_paper([checkpoints], tmp_path / "o3", **{**KW, "benchmark_options": {"voxel_count": 3}})


@pytest.mark.slow  # two fresh scorings (about 90 s on 2 loaded cores)
def test_changed_weights_are_scored_afresh(paper, checkpoints, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(checkpoints, copy)
    ckpt = next(copy.rglob("5_checkpoint.pt"))
    ckpt.parent.parent.rename(tmp_path / "moved")  # seed 0's file out, a seed-7 file in
    reference_layout.write(copy, "CochCNN9", False, seed=7)
    result = write_paper([copy], tmp_path / "out", cache_dir=paper.out / "cache", **KW)
    assert "4 scores (2 from the cache)" in result.summary  # the new weights, and their control
    assert json.loads(next((paper.out / "cache").glob(f"*/{ENTRY_FILE}")).read_text())["key"]
    assert np.isfinite(result.tables["synthetic/models"]["value"]).all()


def test_paper_reports_word_recognition_of_our_networks(paper, tmp_path, cache_dir):
    vocabulary = ["other", *SPOKEN_WORDS]
    torch.manual_seed(3)
    net = CochCNN9(heads={"word": len(vocabulary)}, width=0.125)
    ckpt = our_layout.write(tmp_path / "net.ckpt", net, vocabularies={"word": vocabulary})
    result = write_paper([ckpt], tmp_path / "out", **KW)
    table = pd.read_csv(tmp_path / "out" / "synthetic" / "word_recognition.csv")
    assert len(table) == 1 and table.loc[0, "n_clips"] == 45 and table.loc[0, "vocabulary_size"] == 4
    bench = load_synthetic(**OPTIONS, cache_dir=cache_dir, progress=False)
    want = spoken_word_recognition(load_network(ckpt).net, vocabulary, bench)
    assert table.loc[0, "top1"] == pytest.approx(want.top1) and table.loc[0, "among_spoken"] == pytest.approx(want.among_spoken)
    assert "Word recognition of the benchmark's spoken-word sounds" in result.summary
    # The released-layout networks carry no vocabulary of these words: no rows, no file.
    assert not (paper.out / "synthetic" / "word_recognition.csv").exists()
    assert "Word recognition" not in paper.summary

"""evaluate/wandb_report.py: the paper's tables, figures and summary in one offline W&B run,
read back from the run file (tests/helpers/wandb_files.py)."""

from __future__ import annotations

import inspect
import json
import math
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from omegaconf import OmegaConf
from PIL import Image

from conf.wandb_project import WANDB_PROJECT
from evaluate.wandb_report import log_paper, logged_frame, markdown_html
from tests.helpers import REPO
from tests.helpers.wandb_files import artifacts, history, logged_objects, run_file, run_record

matplotlib.use("Agg")
import matplotlib.pyplot as plt

SUMMARY = "# Paper summary\n\n| model | score |\n|---|---|\n| word | 0.5 |\n\nNot brain data: *synthetic*.\n"


@pytest.fixture(autouse=True)
def _quiet_wandb(monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb_config"))  # never the user's settings


def _png(path: Path, width_in: float, height_in: float, dpi: int = 40) -> Path:
    fig = plt.figure(figsize=(width_in, height_in), dpi=dpi)
    plt.plot([0, 1], [1, 0])
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def _tables() -> dict[str, pd.DataFrame]:
    index = pd.Index(["word", "speaker"], name="model")
    scores = pd.DataFrame({"score": [0.5, float("nan")], "n": [3, 4]}, index=index)
    layers = pd.DataFrame({"layer": ["conv0", "conv1"], "rank": [1, 2]})
    return {"scores": scores, "layers": layers}


def test_offline_run_holds_every_table_figure_and_the_summary(tmp_path):
    out = tmp_path / "paper"
    out.mkdir()
    figures = [_png(out / "fig_rsa.png", 3, 2), _png(out / "fig_layers.png", 2, 2)]
    run_dir = log_paper(out, _tables(), figures, SUMMARY, name="paper-test", group="paper_cochcnn9",
                        config={"inputs": ["logs/evaluate/runs"]})  # fmt: skip

    assert run_dir.parent == out / "wandb" and run_dir.name.startswith("offline-run-")
    path = run_file(run_dir)
    run = run_record(path)
    assert (run.project, run.run_group, run.job_type, run.display_name) == (WANDB_PROJECT, "paper_cochcnn9", "paper",
                                                                           "paper-test")  # fmt: skip
    config = {item.key: json.loads(item.value_json) for item in run.config.update}
    assert config["inputs"] == ["logs/evaluate/runs"]

    objects = logged_objects(path)
    assert {k: v["_type"] for k, v in objects.items()} == {
        "tables/scores": "table-file", "tables/layers": "table-file",
        "figures/fig_rsa": "image-file", "figures/fig_layers": "image-file", "summary": "html-file",
    }  # fmt: skip
    assert len([row for row in history(path) if "_step" in row]) == 1  # one step: a report, not a curve

    # The tables' contents, worked by hand: the named index became the first column; NaN stays NaN.
    scores = json.loads((run_dir / "files" / objects["tables/scores"]["path"]).read_text())
    assert scores["columns"] == ["model", "score", "n"]
    assert scores["data"][0] == ["word", 0.5, 3]
    assert scores["data"][1][0::2] == ["speaker", 4] and math.isnan(scores["data"][1][1])
    layers = json.loads((run_dir / "files" / objects["tables/layers"]["path"]).read_text())
    assert layers == {"columns": ["layer", "rank"], "data": [["conv0", 1], ["conv1", 2]]}

    for stem, size in [("fig_rsa", (120, 80)), ("fig_layers", (80, 80))]:  # inches x 40 dpi
        logged = objects[f"figures/{stem}"]
        assert (logged["width"], logged["height"]) == size
        with Image.open(run_dir / "files" / logged["path"]) as image:
            assert image.size == size

    page = (run_dir / "files" / objects["summary"]["path"]).read_text()
    assert "<h1>Paper summary</h1>" in page and "<td>word</td>" in page and "<em>synthetic</em>" in page
    assert artifacts(path)["paper-summary"] == {"type": "paper-report", "files": ["summary.md"]}


def test_without_summary_or_figures(tmp_path):
    run_dir = log_paper(tmp_path, {"layers": _tables()["layers"]}, [], None)
    path = run_file(run_dir)
    assert set(logged_objects(path)) == {"tables/layers"}
    assert "paper-summary" not in artifacts(path)
    assert run_record(path).display_name == "paper"


def test_disabled_mode_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")  # the argument, not the environment, decides
    out = tmp_path / "paper"
    figure = _png(tmp_path / "fig.png", 1, 1)
    assert log_paper(out, _tables(), [figure], SUMMARY, mode="disabled") is None
    assert not (out / "wandb").exists() and not list(tmp_path.rglob("*.wandb"))


@pytest.mark.parametrize("case, error, words", [
    ("mode", ValueError, "mode='dryrun'"),
    ("not_a_frame", TypeError, "tables['scores'] is a list"),
    ("missing_figure", FileNotFoundError, "nothing.png"),
    ("svg_figure", ValueError, "expected PNG"),
    ("same_stem", ValueError, "share the stem 'fig'"),
])  # fmt: skip
def test_bad_arguments_fail_before_any_run(tmp_path, case, error, words):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    kwargs = {"tables": _tables(), "figures": [_png(tmp_path / "a" / "fig.png", 1, 1)], "summary_md": None}
    if case == "mode":
        kwargs["mode"] = "dryrun"
    elif case == "not_a_frame":
        kwargs["tables"] = {"scores": [1, 2]}
    elif case == "missing_figure":
        kwargs["figures"] = [tmp_path / "nothing.png"]
    elif case == "svg_figure":
        (tmp_path / "fig.svg").write_text("<svg/>")
        kwargs["figures"] = [tmp_path / "fig.svg"]
    else:
        kwargs["figures"] = [*kwargs["figures"], _png(tmp_path / "b" / "fig.png", 1, 1)]
    out = tmp_path / "paper"
    with pytest.raises(error, match=words.replace("[", r"\[").replace("(", r"\(")):
        log_paper(out, **kwargs)
    assert not out.exists()


def test_logged_frame_keeps_an_informative_index():
    plain = pd.DataFrame({"a": [1, 2]})
    assert list(logged_frame(plain).columns) == ["a"]  # the default 0..n-1 index says nothing
    shifted = pd.DataFrame({"a": [1, 2]}, index=[5, 6])
    assert logged_frame(shifted).to_dict("list") == {"index": [5, 6], "a": [1, 2]}
    two_level = pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("nh2015", "score"), ("b2021", "score")]),
                             index=pd.MultiIndex.from_tuples([("word", 0)], names=["task", "seed"]))  # fmt: skip
    assert logged_frame(two_level).to_dict("list") == {"task": ["word"], "seed": [0], "nh2015/score": [1],
                                                       "b2021/score": [2]}  # fmt: skip


def test_markdown_html_renders_pipe_tables():
    page = markdown_html("| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert "<th>a</th>" in page and "<td>2</td>" in page and page.startswith("<!DOCTYPE html>")


def test_default_project_is_the_training_runs_one():
    assert inspect.signature(log_paper).parameters["project"].default == WANDB_PROJECT
    logger = OmegaConf.load(REPO / "conf" / "logger" / "wandb.yaml")
    assert logger.wandb.project == WANDB_PROJECT

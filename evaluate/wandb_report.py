"""The paper's tables, figures and summary logged to ONE W&B run (``python -m evaluate.paper
--wandb``), in the training runs' project (:data:`conf.wandb_project.WANDB_PROJECT`), offline
by default: the run lands in ``<out_dir>/wandb/offline-run-*`` and ``wandb sync <that folder>``
uploads it later.

What the run holds, all in one ``wandb.log`` step:

* ``tables/<name>``: each table as a :class:`wandb.Table` (:func:`logged_frame`: a named or
  non-default index becomes leading columns, column names become strings);
* ``figures/<file stem>``: each PNG as a :class:`wandb.Image`;
* ``summary``: the markdown summary rendered to HTML (:class:`wandb.Html`); the markdown itself
  is in the run's artifact ``paper-summary`` (type ``paper-report``) as ``summary.md``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
from markdown_it import MarkdownIt  # (markdown-it-py: a dependency of rich)

from conf.wandb_project import WANDB_PROJECT

MODES = ("offline", "online", "disabled")
TABLE_KEY = "tables/{}"
FIGURE_KEY = "figures/{}"
SUMMARY_KEY = "summary"
SUMMARY_ARTIFACT = "paper-summary"
SUMMARY_ARTIFACT_TYPE = "paper-report"
SUMMARY_FILE = "summary.md"
JOB_TYPE = "paper"


def logged_frame(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` as it is logged: a :class:`wandb.Table` keeps only the columns, so an index
    that carries information (named, or not the default ``0..n-1``) becomes leading
    column(s); column names become strings (``"a/b"`` for a two-level column ``("a", "b")``)."""
    frame = table
    index = frame.index
    default_index = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 and index.name is None
    if not default_index:
        frame = frame.reset_index()
    frame = frame.copy()
    # (reset_index pads an index name to ("task", "") under two-level columns)
    frame.columns = ["/".join(str(p) for p in c if str(p)) if isinstance(c, tuple) else str(c) for c in frame.columns]
    return frame


def markdown_html(summary_md: str) -> str:
    """The markdown summary as an HTML page (CommonMark plus pipe tables)."""
    body = MarkdownIt("commonmark").enable("table").render(summary_md)
    head = f"<head><meta charset='utf-8'><title>{html.escape(JOB_TYPE)}</title></head>"
    return f"<!DOCTYPE html>\n<html>{head}<body>\n{body}</body></html>\n"


def _check_inputs(tables: Mapping[str, pd.DataFrame], figures: Sequence[Path], mode: str, project: str) -> list[Path]:
    """Every argument error before a W&B run is made (no half-logged run); the figure paths."""
    if mode not in MODES:
        raise ValueError(f"log_paper: mode={mode!r}, expected one of {MODES}")
    if not isinstance(project, str) or not project:
        raise ValueError(f"log_paper: project={project!r}, expected a W&B project name")
    for name, table in tables.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"log_paper: tables has the name {name!r}, expected a non-empty string")
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"log_paper: tables[{name!r}] is a {type(table).__name__}, expected a pandas DataFrame")
    paths = [Path(f) for f in figures]
    stems: dict[str, Path] = {}
    for path in paths:
        if path.suffix.lower() != ".png":
            raise ValueError(f"log_paper: figures has {path}, expected PNG files (.png)")
        if not path.is_file():
            raise FileNotFoundError(f"log_paper: figures has {path}, which is not a file")
        if path.stem in stems:
            raise ValueError(f"log_paper: figures {stems[path.stem]} and {path} share the stem {path.stem!r} "
                             f"(their W&B key {FIGURE_KEY.format(path.stem)!r})")  # fmt: skip
        stems[path.stem] = path
    return paths


def log_paper(
    out_dir: Path,
    tables: Mapping[str, pd.DataFrame],
    figures: Sequence[Path],
    summary_md: str | None,
    project: str = WANDB_PROJECT,
    mode: str = "offline",
    name: str | None = None,
    group: str | None = None,
    config: Mapping | None = None,
) -> Path | None:
    """Log the paper's outputs to one new W&B run (keys in the module docstring).

    Args:
        out_dir: the paper command's output folder; the W&B files go to ``<out_dir>/wandb/``.
        tables: table name -> DataFrame, logged as ``tables/<name>``.
        figures: PNG files, logged as ``figures/<file stem>`` (stems must differ).
        summary_md: the markdown summary (``summary``, and ``summary.md`` in an artifact), or None.
        project: W&B project; by default the training runs' one.
        mode: ``"offline"`` (default; upload later with ``wandb sync``), ``"online"`` (needs
            ``wandb login``) or ``"disabled"`` (nothing is written).
        name: the run's display name (default ``"paper"``).
        group: W&B group, e.g. the training sweep's ``sweep_name``.
        config: recorded as the run's config (e.g. the paper command's inputs).

    Returns:
        The W&B run directory (``<out_dir>/wandb/offline-run-<time>-<id>`` offline,
        ``.../run-<time>-<id>`` online), or None with ``mode="disabled"``, which makes none.
        wandb-core finishes writing its run file moments after this returns (always
        before the process exits).

    Raises:
        ValueError, TypeError, FileNotFoundError: a bad argument, before any run is made.
    """
    import wandb  # (a second to import: only when logging is asked for)

    paths = _check_inputs(tables, figures, mode, project)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run = wandb.init(project=project, mode=mode, dir=str(out_dir), name=name or JOB_TYPE, group=group,
                     job_type=JOB_TYPE, config=dict(config or {}), settings=wandb.Settings(console="off"))  # fmt: skip
    try:
        row = {TABLE_KEY.format(n): wandb.Table(dataframe=logged_frame(t)) for n, t in tables.items()}
        row.update({FIGURE_KEY.format(p.stem): wandb.Image(str(p)) for p in paths})
        if summary_md is not None:
            row[SUMMARY_KEY] = wandb.Html(markdown_html(summary_md))
        run.log(row)
        if summary_md is not None:
            artifact = wandb.Artifact(SUMMARY_ARTIFACT, type=SUMMARY_ARTIFACT_TYPE)
            with artifact.new_file(SUMMARY_FILE, encoding="utf-8") as f:
                f.write(summary_md)
            run.log_artifact(artifact)
        run_dir = None if mode == "disabled" else Path(run.settings.sync_dir)
    finally:
        run.finish()
    return run_dir

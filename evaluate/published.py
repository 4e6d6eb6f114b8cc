"""The authors' published outputs: readers, scoring their activations, agreement with ours.

The layouts are those of the downloads in docs/reference.md section 12
(``python -m evaluate.download model_actv | results`` fetches them):

- ``model_actv/<model>/natsound_activations.h5`` (trained network) and
  ``..._randnetw.h5`` (its permuted control, section 10): one ``[165, features]`` dataset per
  layer, and, in the in-house models' files, a ``layer_list`` dataset naming the layers in
  extraction order (the authors' ``utils.get_source_features`` reads it) ->
  :func:`read_model_actv`, :func:`score_published_activations`;
- ``results/<model>/<identifier>/df_output.pkl``: one row per voxel per layer ->
  :func:`read_results`, :func:`published_agreement`;
- ``outputs/best-layer_CV-splits-nit-10_roi-None_<model>_<target>_median_r2_test_c.csv``
  (``<model>_randnetw`` for the permuted control) -> :func:`read_best_layer_csv`.

:func:`compare_per_voxel` sets the authors' per-voxel scores beside ours
(``evaluate.Score.per_voxel``), layer by layer; :func:`published_agreement` does it for every
layer of a score with the r2, alpha and best-layer columns too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from data.cache import sha256_file
from evaluate.benchmark import Benchmark
from evaluate.results import Score
from evaluate.scoring import score
from evaluate.stats import pearson_columns

log = logging.getLogger(__name__)

N_SOUNDS = 165  # the natural-sound set, docs/reference.md section 5
SCORE_COLUMN = "median_r2_test_c"  # the authors' noise-corrected median r2, section 12
R2_COLUMN = "median_r2_test"  # median r2 over splits, without noise correction
ALPHA_COLUMN = "median_alpha"  # median ridge alpha over splits
DOWNLOAD_HINT = "python -m evaluate.download results"
ACTV_HINT = "python -m evaluate.download model_actv"
LAYER_LIST = "layer_list"  # the in-house models' list of layer names inside the .h5
# The two activation files of a model and whether each is the permuted control (section 12).
ACTV_FILES = {"natsound_activations.h5": False, "natsound_activations_randnetw.h5": True}
# Our benchmark names -> the authors' target names in identifiers (section 12).
TARGETS = {"nh2015": "NH2015", "b2021": "B2021"}
BEST_LAYER = "best_layer_cv"  # the ``layer`` of the agreement's best-layer rows


def read_model_actv(path: str | Path, layers: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The authors' activations to the 165 natural sounds, one array per layer.

    ``path``: ``model_actv/<model>/natsound_activations.h5`` or ``..._randnetw.h5``
    (docs/reference.md section 12). The layers and their order are those of
    :func:`model_actv_layers` (the file's ``layer_list`` where it has one); ``layers`` reads
    only those, in that order. Datasets nested in groups are named by their path inside the
    file (``"group/layer"``). Returns ``{layer: float32 [165, features]}``; a dataset of shape
    ``[165, a, b, ...]`` is flattened (C order) to ``[165, a*b*...]``.

    Raises FileNotFoundError for a missing file; ValueError for an unreadable file, a file
    without layers, a requested layer the file lacks (the message lists those it has), or a
    layer that is not ``[165, ...]`` with at least 2 dimensions.
    """
    path = Path(path)
    with _open_h5(path) as handle:
        available, _ = _layers_of(handle, path)
        if layers is None:
            names = available
        else:
            names = [str(layer) for layer in layers]
            missing = [layer for layer in names if layer not in available]
            if missing or not names:
                raise ValueError(f"{path}: no layer(s) {missing or '(none asked for)'}; the file has {available}")
        out: dict[str, np.ndarray] = {}
        for name in names:
            data = handle[name]
            if data.ndim < 2 or data.shape[0] != N_SOUNDS:
                raise ValueError(
                    f"{path}: dataset {name!r} has shape {tuple(data.shape)}, expected [{N_SOUNDS}, features] "
                    f"(the release's {N_SOUNDS} natural sounds, docs/reference.md section 5)"
                )
            out[name] = np.asarray(data[()], dtype=np.float32).reshape(N_SOUNDS, -1)
    return out


def model_actv_layers(path: str | Path) -> tuple[list[str], str]:
    """The layers of an activation file, in model order as far as the file tells it.

    Returns ``(layers, how)``. ``how`` says where the order comes from:

    - ``"layer_list"``: the file's ``layer_list`` dataset (the authors' in-house files): its
      entries in its order; an entry that is a group stands for the datasets inside it; an
      entry the file lacks is skipped with a logged warning; datasets it does not list are
      not layers (logged);
    - ``"creation order"``: no ``layer_list``, the file tracks creation order: every dataset;
    - ``"natural name order"``: neither; HDF5 then only keeps names, so every dataset sorted
      with :func:`natural_key` (``relu2`` before ``relu10``) -- which need not be the model's
      order (a logged warning says so; pass the layers to choose it).

    Raises as :func:`read_model_actv` does for a missing, unreadable or empty file.
    """
    path = Path(path)
    with _open_h5(path) as handle:
        return _layers_of(handle, path)


def _open_h5(path: Path) -> h5py.File:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such activation file ({ACTV_HINT} fetches it)")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path}: not a readable HDF5 file ({exc})") from exc


def _layers_of(handle: h5py.File, path: Path) -> tuple[list[str], str]:
    if isinstance(handle.get(LAYER_LIST), h5py.Dataset):
        raw = handle[LAYER_LIST][()]
        entries = [e.decode() if isinstance(e, bytes) else str(e) for e in np.atleast_1d(raw).ravel()]
        names, absent = [], []
        for entry in entries:
            item = handle.get(entry)
            if isinstance(item, h5py.Group):
                names.extend(_dataset_names(item, f"{entry}/"))
            elif isinstance(item, h5py.Dataset):
                names.append(entry)
            else:
                absent.append(entry)
        if absent:
            log.warning("%s: %d layer(s) in %r are not in the file, skipped: %s", path, len(absent), LAYER_LIST, absent)
        unlisted = [n for n in _dataset_names(handle) if n != LAYER_LIST and n not in names]
        if unlisted:
            log.info("%s: %d dataset(s) not in %r, not layers: %s", path, len(unlisted), LAYER_LIST, unlisted)
        how = LAYER_LIST
    else:
        names = _dataset_names(handle)
        how = "creation order" if _tracks_order(handle) else "natural name order"
        if how != "creation order" and len(names) > 1:
            log.warning(
                "%s: no %r and no creation order in the file; layers in natural name order %s, which need "
                "not be the model's (the relative layer positions depend on it): pass layers=[...] to choose",
                path, LAYER_LIST, names,
            )  # fmt: skip
    if not names:
        raise ValueError(f"{path}: no datasets, expected one [{N_SOUNDS}, features] dataset per layer")
    return names, how


def _tracks_order(group: h5py.Group) -> bool:
    # A File's own id is the file's; the root group's creation properties are those of "/".
    gid = group["/"].id if isinstance(group, h5py.File) else group.id
    return bool(gid.get_create_plist().get_link_creation_order() & h5py.h5p.CRT_ORDER_TRACKED)


def _dataset_names(group: h5py.Group, prefix: str = "") -> list[str]:
    """Paths of the datasets under ``group``, depth first: in creation order where the group
    tracks it, else in :func:`natural_key` order of the names (HDF5 keeps no other)."""
    keys = list(group.keys())
    if not _tracks_order(group):
        keys.sort(key=natural_key)
    names = []
    for key in keys:
        item = group[key]
        if isinstance(item, h5py.Group):
            names.extend(_dataset_names(item, f"{prefix}{key}/"))
        elif isinstance(item, h5py.Dataset):
            names.append(f"{prefix}{key}")
    return names


def actv_file_randnetw(path: str | Path) -> bool:
    """Whether an activation file is the permuted control (``..._randnetw.h5``) or the trained
    network (``natsound_activations.h5``): the file name is the only record of it, so any
    other name is refused (ValueError) rather than guessed."""
    name = Path(path).name
    if name not in ACTV_FILES:
        raise ValueError(
            f"{path}: not one of the authors' activation file names {sorted(ACTV_FILES)} (docs/reference.md "
            "section 12); the name is what says trained or permuted (_randnetw), so it is not guessed"
        )
    return ACTV_FILES[name]


def score_published_activations(
    path: str | Path,
    benchmark: Benchmark,
    layers: Sequence[str] | None = None,
    **score_kwargs,
) -> Score:
    """Score the authors' own activations of one model (``model_actv/<model>/*.h5``) on ``benchmark``.

    The file's rows are the release's 165 natural sounds in the release's order (the order of
    ``NH2015/neural_stim_meta.npy``, docs/reference.md sections 5 and 12), which is the
    stimulus order of the release's benchmarks (NH2015, B2021's first 165, NH2015comp).

    Args:
        path: ``.../model_actv/<model>/natsound_activations.h5`` (trained) or
            ``..._randnetw.h5`` (the permuted control); the folder name is the model.
        benchmark: a benchmark of the release (165 stimuli); not the synthetic one, whose
            sounds are others.
        layers: the layers to score, in this order (relative layer positions follow it);
            default every layer in the order of :func:`model_actv_layers`.
        **score_kwargs: passed to :func:`evaluate.score` (``rsa``, ``device``, ``progress``, ...).

    Returns the :class:`Score`; ``model`` is ``<model>@authors-actv:trained`` or
    ``...:randnetw`` and ``info["model"]`` records the file (path, sha256), the model, the
    weights (trained or permuted) and where the layer order came from.

    Raises ValueError for a file name that is neither of the two, a synthetic benchmark or one
    without 165 stimuli, and the errors of :func:`read_model_actv`.
    """
    path = Path(path).expanduser().resolve()
    if "model" in score_kwargs:
        raise TypeError("score_published_activations: 'model' is set from the file, not passed")
    randnetw = actv_file_randnetw(path)
    if benchmark.name.startswith("synthetic"):
        raise ValueError(
            f"{path}: the authors' activations are responses to the release's natural sounds; benchmark "
            f"{benchmark.name} is synthetic (generated sounds and responses, not brain data)"
        )
    if benchmark.n_stimuli != N_SOUNDS:
        raise ValueError(
            f"{path}: the authors' activations are for the release's {N_SOUNDS} natural sounds in its order "
            f"(docs/reference.md sections 5 and 12); benchmark {benchmark.name} has {benchmark.n_stimuli} stimuli"
        )
    available, how = model_actv_layers(path)
    acts = read_model_actv(path, layers=layers)
    model = path.parent.name
    weights = "randnetw" if randnetw else "trained"
    result = score(acts, benchmark, f"{model}@authors-actv:{weights}", **score_kwargs)
    result.info["model"] = {
        "source": "the authors' published activations (model_actv.tar, docs/reference.md section 12)",
        "published_model": model,
        "activations_path": str(path),
        "sha256": sha256_file(path),
        "randnetw": randnetw,
        "weights": "permuted control (randnetw, docs/reference.md section 10)" if randnetw else "trained",
        "layer_order": "as given" if layers is not None else how,
        "file_layers": available,
    }
    return result


def identifier(model: str, layer: str, target: str = "NH2015", randnetw: bool = False) -> str:
    """The authors' results folder name for one model layer (docs/reference.md section 12)."""
    return f"AUD-MAPPING-Ridge_TARGET-{target}_SOURCE-{model}-{layer}_RANDNETW-{randnetw}_ALPHALIMIT-50"


def _identifier_pattern(model: str) -> re.Pattern:
    # The model is known, so a layer may contain any character (hyphens and underscores included).
    # Later versions of the authors' AUD_main.py also write _RANDEMB-<True|False> (their random
    # embedding control) before _RANDNETW; it is accepted, and RANDEMB-True folders are not scores.
    return re.compile(
        rf"^AUD-MAPPING-Ridge_TARGET-(?P<target>.+?)_SOURCE-{re.escape(model)}-(?P<layer>.+?)"
        r"(?:_RANDEMB-(?P<randemb>True|False))?_RANDNETW-(?P<randnetw>True|False)_ALPHALIMIT-50$"
    )


def natural_key(text: str) -> list:
    """Sort key that orders digit runs by value: ``relu2 < relu10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _results_dir(root: str | Path) -> Path:
    """``<root>/results``, or an error that says what layout was expected and what is there."""
    root = Path(root)
    results = root / "results"
    expected = f"expected {results}/<model>/<identifier>/df_output.pkl, the layout of results.tar"
    if results.is_dir():
        return results
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder; {expected} ({DOWNLOAD_HINT} fetches it)")
    inside = sorted(p.name for p in root.iterdir())
    hint = ""
    if any(p.is_dir() and any(c.name.startswith("AUD-MAPPING-") for c in p.iterdir()) for p in root.iterdir()):
        hint = f" ({root} looks like the results/ folder itself: pass {root.parent})"
    raise FileNotFoundError(f"{root}: no results/ folder; {expected}; it holds {inside[:10]}{hint}")


def published_models(results_root: str | Path) -> list[str]:
    """The model folders of an unpacked ``results.tar`` (``<results_root>/results/<model>/``),
    in :func:`natural_key` order. Raises FileNotFoundError (naming the expected layout) where
    there is no ``results/`` folder."""
    return sorted((p.name for p in _results_dir(results_root).iterdir() if p.is_dir()), key=natural_key)


def _layer_pickles(folder: Path) -> list[Path]:
    """``df_output.pkl``, else the authors' chunked B2021 files ``df_output_<k>.pkl`` (their
    AUD_main.py runs B2021 in chunks of voxels) in chunk order; [] when neither is there."""
    single = folder / "df_output.pkl"
    if single.is_file():
        return [single]
    chunks = [p for p in folder.glob("df_output_*.pkl") if re.fullmatch(r"df_output_\d+\.pkl", p.name)]
    return sorted(chunks, key=lambda p: natural_key(p.name))


def _read_layer(pickles: list[Path], columns: Sequence[str], target: str, randnetw: bool) -> pd.DataFrame:
    """One layer's table from its pickle(s); ValueError naming the file for anything unusable."""
    tables = []
    for pkl in pickles:
        try:
            table = pd.read_pickle(pkl)
        except Exception as exc:  # pickle raises many types; the message names the file
            raise ValueError(f"{pkl}: not a readable pickle ({type(exc).__name__}: {exc})") from exc
        if not isinstance(table, pd.DataFrame):
            raise ValueError(f"{pkl}: holds a {type(table).__name__}, expected a DataFrame")  # noqa: TRY004
        lacking = [c for c in columns if c not in table.columns]
        if lacking:
            raise ValueError(f"{pkl}: no column(s) {lacking}; it has {list(table.columns)}")
        # The authors log the run's settings in every row: a table of another target or network is refused.
        for column, want in (("target", target), ("randnetw", str(bool(randnetw)))):
            if column in table.columns:
                got = sorted(set(table[column].astype(str)))
                if got != [want]:
                    raise ValueError(f"{pkl}: column {column!r} is {got}, expected {want!r} (the folder's name)")
        tables.append(table.reset_index(drop=True))
    return pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]


def read_results(
    root: str | Path,
    model: str,
    target: str = "NH2015",
    randnetw: bool = False,
    layers: Sequence[str] | None = None,
    columns: Sequence[str] = (SCORE_COLUMN,),
    skip_bad: bool = False,
) -> pd.DataFrame:
    """The authors' per-voxel scores of every layer of ``model`` on ``target``, one long table.

    ``root``: where ``results.tar`` was unpacked, holding ``results/<model>/<identifier>/df_output.pkl``
    (docs/reference.md section 12; B2021 chunks ``df_output_<k>.pkl`` are joined in chunk order).
    Each pickle is one row per voxel (``median_r2_test_c``, ``median_r2_test``,
    ``median_alpha``, ... and ROI metadata); the result is their concatenation with a ``layer``
    column first, layers in natural order of their names (``relu2`` before ``relu10``), or in
    the order of ``layers`` when given (then only those layers, each of which must exist).
    Rows keep the file's order within a layer.

    Folders of another target or ``randnetw`` (and the authors' RANDEMB-True control) are
    ignored. A folder whose name does not parse as an identifier of ``model``, or that holds no
    ``df_output.pkl``, is skipped with a logged warning; so, with ``skip_bad``, is a layer whose
    pickle is unreadable, not a table, lacks one of ``columns``, or records another target or
    network in its ``target`` / ``randnetw`` column. Skipped folder names are in
    ``table.attrs["skipped"]``, with one warning giving their count.

    Raises FileNotFoundError for a missing ``root`` / ``results/`` folder / model folder (the
    message lists the models there), no folder of this target (the message lists those there),
    or a listed layer without a folder; ValueError for a bad pickle (without ``skip_bad``) or
    when every layer was bad.
    """
    results = _results_dir(root)
    model_dir = results / model
    if not model_dir.is_dir():
        raise FileNotFoundError(
            f"{model_dir}: no results folder for model {model!r}; {results} has {published_models(root)} "
            f"({DOWNLOAD_HINT} fetches them)"
        )
    pattern = _identifier_pattern(model)
    found: dict[str, list[Path]] = {}
    skipped: list[str] = []
    seen: set[tuple[str, str]] = set()
    for folder in sorted(p for p in model_dir.iterdir() if p.is_dir()):
        match = pattern.match(folder.name)
        if match is None:
            log.warning("%s: folder name is not an identifier of model %r, skipped", folder, model)
            skipped.append(folder.name)
            continue
        seen.add((match["target"], match["randnetw"]))
        if match["target"] != target or match["randnetw"] != str(bool(randnetw)) or match["randemb"] == "True":
            continue
        pickles = _layer_pickles(folder)
        if not pickles:
            log.warning("%s: no df_output.pkl, skipped", folder)
            skipped.append(folder.name)
            continue
        found[match["layer"]] = pickles
    if layers is None:
        order = sorted(found, key=natural_key)
    else:
        order = list(layers)
        missing = [layer for layer in order if layer not in found]
        if missing:
            raise FileNotFoundError(
                f"{model_dir}: no df_output.pkl for layer(s) {missing}, expected e.g. "
                f"{model_dir / identifier(model, missing[0], target, randnetw) / 'df_output.pkl'}"
            )
    if not order:
        there = ", ".join(f"TARGET-{t} RANDNETW-{r}" for t, r in sorted(seen)) or "none"
        raise FileNotFoundError(
            f"{model_dir}: no folder {identifier(model, '<layer>', target, randnetw)} with a df_output.pkl "
            f"(folders there are for: {there}; {DOWNLOAD_HINT} fetches them)"
        )
    tables = []
    for layer in order:
        try:
            table = _read_layer(found[layer], columns, target, randnetw)
        except ValueError as exc:
            if not skip_bad:
                raise
            log.warning("%s, layer %r skipped", exc, layer)
            skipped.append(found[layer][0].parent.name)
            continue
        table.insert(0, "layer", layer)
        tables.append(table)
    if skipped:
        log.warning("%s: %d folder(s) skipped", model_dir, len(skipped))
    if not tables:
        raise ValueError(f"{model_dir}: every layer's table was unusable ({len(skipped)} skipped; see the warnings)")
    out = pd.concat(tables, ignore_index=True)
    out.attrs["skipped"] = skipped
    return out


def best_layer_csv_path(root: str | Path, model: str, target: str = "NH2015", randnetw: bool = False) -> Path:
    """Where ``results.tar`` keeps the cross-validated best layer table (docs/reference.md section 12);
    the permuted control's has ``<model>_randnetw`` in its name (the authors' d_randnetw suffix)."""
    source = f"{model}_randnetw" if randnetw else model
    return Path(root) / "outputs" / f"best-layer_CV-splits-nit-10_roi-None_{source}_{target}_{SCORE_COLUMN}.csv"


def read_best_layer_csv(root: str | Path, model: str, target: str = "NH2015", randnetw: bool = False) -> pd.DataFrame:
    """The authors' best-layer table of ``model`` on ``target``, as the CSV has it: one row per
    participant (``subj_idx``) with ``median_r2_test_c`` (mean over the 10 iterations of the
    participant's median over voxels), ``rel_pos`` (relative position of the chosen layer) and
    their spread over iterations.

    Raises FileNotFoundError naming the expected file when it is missing.
    """
    path = best_layer_csv_path(root, model, target, randnetw)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no best-layer table ({DOWNLOAD_HINT} fetches it)")
    return pd.read_csv(path)


def _matched(
    layer: str,
    mine: pd.DataFrame,
    other: pd.DataFrame,
    columns_ours: Sequence[str],
    columns_theirs: Sequence[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Our and their values of one layer, matched voxel by voxel: ``[n, k]`` each (k columns).

    By id (``mine.voxel == other.voxel_id``) when ``other`` has ``voxel_id``; else by row
    order, which needs equal counts."""
    a_cols = [f"a{i}" for i in range(len(columns_ours))]
    b_cols = [f"b{i}" for i in range(len(columns_theirs))]
    if "voxel_id" in other.columns:
        # Renamed first so that equal column names in the two tables do not collide.
        left = pd.DataFrame(
            {"id": mine["voxel"].to_numpy(), **{k: mine[c].to_numpy() for k, c in zip(a_cols, columns_ours)}}
        )
        right = pd.DataFrame(
            {"id": other["voxel_id"].to_numpy(), **{k: other[c].to_numpy() for k, c in zip(b_cols, columns_theirs)}}
        )
        for name, side in (("ours 'voxel'", left), ("theirs 'voxel_id'", right)):
            if side["id"].duplicated().any():
                raise ValueError(f"layer {layer!r}: {name} has duplicate ids, cannot match voxels by id")
        merged = left.merge(right, on="id")
        return np.array(merged[a_cols], dtype=float), np.array(merged[b_cols], dtype=float)  # copies, writable
    if len(mine) != len(other):
        raise ValueError(
            f"layer {layer!r}: {len(mine)} voxels in ours, {len(other)} in theirs, and theirs has no "
            "'voxel_id' column to match them by"
        )
    return np.array(mine[list(columns_ours)], dtype=float), np.array(other[list(columns_theirs)], dtype=float)


def _agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Pearson r (NaN when either is constant or empty), mean and max absolute difference."""
    if not len(a):
        return float("nan"), float("nan"), float("nan")
    diff = np.abs(a - b)
    return float(pearson_columns(a, b)), float(diff.mean()), float(diff.max())


def compare_per_voxel(
    ours: pd.DataFrame,
    theirs: pd.DataFrame,
    column_ours: str = "r2_corrected",
    column_theirs: str = SCORE_COLUMN,
) -> pd.DataFrame:
    """Per layer, how our per-voxel scores agree with the authors'.

    ``ours``: ``evaluate.Score.per_voxel`` (columns ``layer``, ``voxel``, ..., ``column_ours``).
    ``theirs``: :func:`read_results` (``layer``, ..., ``column_theirs``). Voxels are matched
    by id, ``ours.voxel == theirs.voxel_id``, when ``theirs`` has a ``voxel_id`` column;
    otherwise by row order within a layer, which assumes both list a layer's voxels in the
    same order (the release's voxel order, docs/reference.md section 5) and requires equal
    counts. Layers are those in both tables, in our order.

    Returns one row per layer: ``layer``, ``r`` (Pearson r over matched voxels; NaN when
    either column is constant), ``mean_abs_diff``, ``max_abs_diff``, ``n`` (matched voxels).
    """
    for name, table, columns in (
        ("ours", ours, ("layer", "voxel", column_ours)),
        ("theirs", theirs, ("layer", column_theirs)),
    ):
        lacking = [c for c in columns if c not in table.columns]
        if lacking:
            raise ValueError(f"{name}: no column(s) {lacking}; it has {list(table.columns)}")
    their_layers = set(theirs["layer"])
    rows = []
    for layer in pd.unique(ours["layer"]):
        if layer not in their_layers:
            continue
        a, b = _matched(layer, ours[ours["layer"] == layer], theirs[theirs["layer"] == layer],
                        [column_ours], [column_theirs])  # fmt: skip
        r, mean_diff, max_diff = _agreement(a[:, 0], b[:, 0])
        rows.append({"layer": layer, "r": r, "mean_abs_diff": mean_diff, "max_abs_diff": max_diff, "n": len(a)})
    return pd.DataFrame(rows, columns=["layer", "r", "mean_abs_diff", "max_abs_diff", "n"])


AGREEMENT_COLUMNS = ["layer", "n", "r", "mean_abs_diff", "max_abs_diff", "ours_mean", "theirs_mean",
                     "r_r2", "r_log10_alpha"]  # fmt: skip


def default_target(benchmark: str) -> str:
    """The authors' target name of one of our benchmarks: ``nh2015 -> NH2015``, ``b2021 -> B2021``.

    Raises ValueError for any other (components and synthetic benchmarks have no such results)."""
    if benchmark not in TARGETS:
        raise ValueError(
            f"benchmark {benchmark!r} has no authors' per-voxel results; the voxel benchmarks are {sorted(TARGETS)} "
            "(pass target= for another target name)"
        )
    return TARGETS[benchmark]


def published_agreement(
    score: Score,
    results_root: str | Path,
    model: str,
    target: str | None = None,
    randnetw: bool = False,
) -> pd.DataFrame:
    """How a score agrees with the authors' published results of ``model`` (``results.tar``).

    Args:
        score: a voxel-benchmark :class:`Score` (its ``per_voxel`` and ``per_participant``).
        results_root: where ``results.tar`` was unpacked (``results/``, ``outputs/``).
        model: the authors' model name, a folder of ``results/`` (:func:`published_models`).
        target: the authors' target; default from ``score.benchmark`` (:func:`default_target`:
            nh2015 -> NH2015, b2021 -> B2021).
        randnetw: compare with the permuted control's results. A score made from the
            authors' activations records which file it was (``info["model"]["randnetw"]``);
            a mismatch is an error.

    Returns one row per layer in both (our layer order) with columns ``layer``, ``n`` (matched
    voxels, by ``voxel_id``), ``r`` (Pearson r over voxels of our ``r2_corrected`` and their
    ``median_r2_test_c``: both medians over splits before clipping), ``mean_abs_diff``,
    ``max_abs_diff``, ``ours_mean``, ``theirs_mean`` (of those), ``r_r2`` (the same r for our
    ``r2`` and their ``median_r2_test``) and ``r_log10_alpha`` (for log10 of ``alpha`` and
    ``median_alpha``). Where the authors' best-layer CSV is there, a last row with ``layer ==
    "best_layer_cv"`` compares the per-participant cross-validated best-layer values (our
    ``per_participant.value``, their ``median_r2_test_c``; ``n`` = matched participants;
    ``r_r2`` and ``r_log10_alpha`` NaN: not defined there). Voxels with a non-finite value on
    either side are left out of that column's numbers (a logged warning counts them).

    A layer whose table is unusable is skipped with a logged warning and the rest compared
    (see :func:`read_results`); so is a layer of ours without their results (warning with a
    count). Raises ValueError for a synthetic or components score, a randnetw mismatch, or
    no layer in common; FileNotFoundError as :func:`read_results`.
    """
    if score.is_synthetic:
        raise ValueError(
            f"score of {score.model} is on {score.benchmark}: synthetic responses, not brain data; "
            "the authors' results are on the fMRI benchmarks"
        )
    if score.kind != "voxels":
        raise ValueError(f"score of {score.model} on {score.benchmark} is of {score.kind}; only voxel scores compare")
    target = target or default_target(score.benchmark)
    recorded = (score.info.get("model") or {}).get("randnetw")
    if isinstance(recorded, bool) and recorded != bool(randnetw):
        raise ValueError(
            f"score of {score.model} is of the {'permuted control (randnetw)' if recorded else 'trained network'}; "
            f"randnetw={bool(randnetw)} would compare it with the other's results"
        )
    ours = score.per_voxel
    lacking = [c for c in ("layer", "voxel", "r2_corrected", "r2", "alpha") if c not in ours.columns]
    if lacking:
        raise ValueError(f"score of {score.model}: per_voxel has no column(s) {lacking}")
    theirs = read_results(results_root, model, target, randnetw,
                          columns=(SCORE_COLUMN, R2_COLUMN, ALPHA_COLUMN), skip_bad=True)  # fmt: skip
    their_layers = set(theirs["layer"])
    absent = [layer for layer in score.layers if layer not in their_layers]
    if absent:
        log.warning("%s: %d of our %d layer(s) have no results of %s, not compared: %s",
                    results_root, len(absent), len(score.layers), model, absent)  # fmt: skip
    rows = []
    for layer in [layer for layer in score.layers if layer in their_layers]:
        mine = ours[ours["layer"] == layer]
        a, b = _matched(layer, mine, theirs[theirs["layer"] == layer],
                        ["r2_corrected", "r2", "alpha"], [SCORE_COLUMN, R2_COLUMN, ALPHA_COLUMN])  # fmt: skip
        if len(a) < len(mine):
            log.warning("layer %r: %d of our %d voxels are in the authors' results", layer, len(a), len(mine))
        with np.errstate(divide="ignore", invalid="ignore"):  # alpha <= 0 gives non-finite logs, counted below
            a[:, 2], b[:, 2] = np.log10(a[:, 2]), np.log10(b[:, 2])
        values = []
        for k, name in enumerate(("r2_corrected", "r2", "log10 alpha")):
            ok = np.isfinite(a[:, k]) & np.isfinite(b[:, k])
            if not ok.all():
                log.warning("layer %r: %d voxel(s) with a non-finite %s left out", layer, int((~ok).sum()), name)
            values.append((a[ok, k], b[ok, k]))
        r, mean_diff, max_diff = _agreement(*values[0])
        rows.append({"layer": layer, "n": len(a), "r": r, "mean_abs_diff": mean_diff, "max_abs_diff": max_diff,
                     "ours_mean": float(np.mean(values[0][0])) if len(values[0][0]) else float("nan"),
                     "theirs_mean": float(np.mean(values[0][1])) if len(values[0][1]) else float("nan"),
                     "r_r2": _agreement(*values[1])[0], "r_log10_alpha": _agreement(*values[2])[0]})  # fmt: skip
    if not rows:
        raise ValueError(
            f"{results_root}: no layer in common between the score ({score.layers}) and the results of {model} "
            f"({sorted(their_layers, key=natural_key)})"
        )
    best = _best_layer_row(score, results_root, model, target, randnetw)
    if best is not None:
        rows.append(best)
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def _best_layer_row(score: Score, root: str | Path, model: str, target: str, randnetw: bool) -> dict | None:
    """The best-layer agreement row, or None (logged) when the CSV is absent or unusable."""
    path = best_layer_csv_path(root, model, target, randnetw)
    if not path.is_file():
        log.info("%s: no best-layer table, no best-layer row", path)
        return None
    table = pd.read_csv(path)
    lacking = [c for c in ("subj_idx", SCORE_COLUMN) if c not in table.columns]
    if lacking:
        log.warning("%s: no column(s) %s (it has %s), no best-layer row", path, lacking, list(table.columns))
        return None
    ours = score.per_participant
    merged = pd.DataFrame({"p": ours["participant"].to_numpy(), "a": ours["value"].to_numpy(dtype=float)}).merge(
        pd.DataFrame({"p": table["subj_idx"].to_numpy(), "b": table[SCORE_COLUMN].to_numpy(dtype=float)}), on="p"
    )
    if len(merged) < len(ours):
        log.warning("%s: %d of our %d participants are in it", path, len(merged), len(ours))
    a, b = merged["a"].to_numpy(), merged["b"].to_numpy()
    r, mean_diff, max_diff = _agreement(a, b)
    return {"layer": BEST_LAYER, "n": len(merged), "r": r, "mean_abs_diff": mean_diff, "max_abs_diff": max_diff,
            "ours_mean": float(a.mean()) if len(a) else float("nan"),
            "theirs_mean": float(b.mean()) if len(b) else float("nan"),
            "r_r2": float("nan"), "r_log10_alpha": float("nan")}  # fmt: skip


__all__ = [
    "AGREEMENT_COLUMNS",
    "actv_file_randnetw",
    "best_layer_csv_path",
    "compare_per_voxel",
    "default_target",
    "identifier",
    "model_actv_layers",
    "natural_key",
    "published_agreement",
    "published_models",
    "read_best_layer_csv",
    "read_model_actv",
    "read_results",
    "score_published_activations",
]

"""Readers for the authors' published outputs, and a per-voxel comparison with ours.

The layouts are those of the downloads in docs/reference.md section 12
(``python -m evaluate.download model_actv | results`` fetches them):

- ``model_actv/<model>/natsound_activations.h5`` (and ``..._randnetw.h5``): one
  ``[165, features]`` dataset per layer -> :func:`read_model_actv`;
- ``results/<model>/<identifier>/df_output.pkl``: one row per voxel per layer ->
  :func:`read_results`;
- ``outputs/best-layer_CV-splits-nit-10_roi-None_<model>_<target>_median_r2_test_c.csv`` ->
  :func:`read_best_layer_csv`.

:func:`compare_per_voxel` sets the authors' per-voxel scores beside ours
(``evaluate.Score.per_voxel``), layer by layer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from evaluate.stats import pearson_columns

log = logging.getLogger(__name__)

N_SOUNDS = 165  # the natural-sound set, docs/reference.md section 5
SCORE_COLUMN = "median_r2_test_c"  # the authors' noise-corrected median r2, section 12
DOWNLOAD_HINT = "python -m evaluate.download results"


def read_model_actv(path: str | Path) -> dict[str, np.ndarray]:
    """The authors' activations to the 165 natural sounds, one array per layer.

    ``path``: ``model_actv/<model>/natsound_activations.h5`` or ``..._randnetw.h5``
    (docs/reference.md section 12). Every dataset in the file is a layer, in file order
    (creation order where the file tracks it, else HDF5's name order);
    datasets nested in groups are walked and named by their path inside the file
    (``"group/layer"``). Returns ``{layer: float32 [165, features]}``; a dataset of shape
    ``[165, a, b, ...]`` is flattened (C order) to ``[165, a*b*...]``.

    Raises FileNotFoundError for a missing file, ValueError for an unreadable file, a file
    without datasets, or a dataset that is not ``[165, ...]`` with at least 2 dimensions.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such activation file (python -m evaluate.download model_actv fetches it)")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path}: not a readable HDF5 file ({exc})") from exc
    layers: dict[str, np.ndarray] = {}
    with handle:
        for name in _dataset_names(handle):
            data = handle[name]
            if data.ndim < 2 or data.shape[0] != N_SOUNDS:
                raise ValueError(
                    f"{path}: dataset {name!r} has shape {tuple(data.shape)}, expected [{N_SOUNDS}, features]"
                )
            array = np.asarray(data[()], dtype=np.float32)
            layers[name] = array.reshape(N_SOUNDS, -1)
    if not layers:
        raise ValueError(f"{path}: no datasets, expected one [{N_SOUNDS}, features] dataset per layer")
    return layers


def _dataset_names(group: h5py.Group, prefix: str = "") -> list[str]:
    """Paths of the datasets under ``group``, depth first, in the group's iteration order
    (creation order where the file tracks it, else HDF5's name order; ``visititems`` would
    always use name order)."""
    names = []
    for key in group.keys():
        item = group[key]
        if isinstance(item, h5py.Group):
            names.extend(_dataset_names(item, f"{prefix}{key}/"))
        elif isinstance(item, h5py.Dataset):
            names.append(f"{prefix}{key}")
    return names


def identifier(model: str, layer: str, target: str = "NH2015", randnetw: bool = False) -> str:
    """The authors' results folder name for one model layer (docs/reference.md section 12)."""
    return f"AUD-MAPPING-Ridge_TARGET-{target}_SOURCE-{model}-{layer}_RANDNETW-{randnetw}_ALPHALIMIT-50"


def _identifier_pattern(model: str) -> re.Pattern:
    # The model is known, so a layer may contain any character (hyphens and underscores included).
    return re.compile(
        rf"^AUD-MAPPING-Ridge_TARGET-(?P<target>.+?)_SOURCE-{re.escape(model)}-(?P<layer>.+)"
        r"_RANDNETW-(?P<randnetw>True|False)_ALPHALIMIT-50$"
    )


def natural_key(text: str) -> list:
    """Sort key that orders digit runs by value: ``relu2 < relu10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def read_results(
    root: str | Path,
    model: str,
    target: str = "NH2015",
    randnetw: bool = False,
    layers: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The authors' per-voxel scores of every layer of ``model`` on ``target``, one long table.

    ``root``: where ``results.tar`` was unpacked, holding ``results/<model>/<identifier>/df_output.pkl``
    (docs/reference.md section 12). Each ``df_output.pkl`` is one row per voxel
    (``median_r2_test_c``, ``median_r2_test``, ``median_alpha``, ... and ROI metadata); the
    result is their concatenation with a ``layer`` column first, layers in natural order of
    their names (``relu2`` before ``relu10``), or in the order of ``layers`` when given (then
    only those layers, each of which must exist). Rows keep the file's order within a layer.

    Folders of another target or ``randnetw`` are ignored. A folder whose name does not parse
    as an identifier of ``model``, or that holds no ``df_output.pkl``, is skipped with a
    logged warning; their names are in ``table.attrs["skipped"]``.

    Raises FileNotFoundError for a missing ``root`` / model folder, no matching folder, or a
    listed layer without a folder; ValueError for a pickle that is not a table with
    ``median_r2_test_c``.
    """
    root = Path(root)
    model_dir = root / "results" / model
    if not model_dir.is_dir():
        raise FileNotFoundError(f"{model_dir}: no results folder for model {model!r} ({DOWNLOAD_HINT} fetches it)")
    pattern = _identifier_pattern(model)
    found: dict[str, Path] = {}
    skipped: list[str] = []
    for folder in sorted(p for p in model_dir.iterdir() if p.is_dir()):
        match = pattern.match(folder.name)
        if match is None:
            log.warning("%s: folder name is not an identifier of model %r, skipped", folder, model)
            skipped.append(folder.name)
            continue
        if match["target"] != target or match["randnetw"] != str(bool(randnetw)):
            continue
        pkl = folder / "df_output.pkl"
        if not pkl.is_file():
            log.warning("%s: no df_output.pkl, skipped", folder)
            skipped.append(folder.name)
            continue
        found[match["layer"]] = pkl
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
        raise FileNotFoundError(
            f"{model_dir}: no folder {identifier(model, '<layer>', target, randnetw)} ({DOWNLOAD_HINT} fetches them)"
        )
    tables = []
    for layer in order:
        table = pd.read_pickle(found[layer])
        if not isinstance(table, pd.DataFrame):
            raise ValueError(f"{found[layer]}: holds a {type(table).__name__}, expected a DataFrame")
        if SCORE_COLUMN not in table.columns:
            raise ValueError(f"{found[layer]}: no column {SCORE_COLUMN!r}; it has {list(table.columns)}")
        table = table.reset_index(drop=True)
        table.insert(0, "layer", layer)
        tables.append(table)
    out = pd.concat(tables, ignore_index=True)
    if skipped:
        log.warning("%s: %d folder(s) skipped", model_dir, len(skipped))
    out.attrs["skipped"] = skipped
    return out


def best_layer_csv_path(root: str | Path, model: str, target: str = "NH2015") -> Path:
    """Where ``results.tar`` keeps the cross-validated best layer table (docs/reference.md section 12)."""
    return Path(root) / "outputs" / f"best-layer_CV-splits-nit-10_roi-None_{model}_{target}_{SCORE_COLUMN}.csv"


def read_best_layer_csv(root: str | Path, model: str, target: str = "NH2015") -> pd.DataFrame:
    """The authors' best-layer table of ``model`` on ``target``, as the CSV has it.

    Raises FileNotFoundError naming the expected file when it is missing.
    """
    path = best_layer_csv_path(root, model, target)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no best-layer table ({DOWNLOAD_HINT} fetches it)")
    return pd.read_csv(path)


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
    either column is constant), ``mean_abs_diff``, ``n`` (matched voxels).
    """
    for name, table, columns in (
        ("ours", ours, ("layer", "voxel", column_ours)),
        ("theirs", theirs, ("layer", column_theirs)),
    ):
        lacking = [c for c in columns if c not in table.columns]
        if lacking:
            raise ValueError(f"{name}: no column(s) {lacking}; it has {list(table.columns)}")
    by_id = "voxel_id" in theirs.columns
    their_layers = set(theirs["layer"])
    rows = []
    for layer in pd.unique(ours["layer"]):
        if layer not in their_layers:
            continue
        mine = ours[ours["layer"] == layer]
        other = theirs[theirs["layer"] == layer]
        if by_id:
            # Renamed first so that equal column names in the two tables do not collide.
            left = pd.DataFrame({"id": mine["voxel"].to_numpy(), "a": mine[column_ours].to_numpy()})
            right = pd.DataFrame({"id": other["voxel_id"].to_numpy(), "b": other[column_theirs].to_numpy()})
            for name, side in (("ours 'voxel'", left), ("theirs 'voxel_id'", right)):
                if side["id"].duplicated().any():
                    raise ValueError(f"layer {layer!r}: {name} has duplicate ids, cannot match voxels by id")
            merged = left.merge(right, on="id")
            a, b = merged["a"], merged["b"]
        else:
            if len(mine) != len(other):
                raise ValueError(
                    f"layer {layer!r}: {len(mine)} voxels in ours, {len(other)} in theirs, and theirs has no "
                    "'voxel_id' column to match them by"
                )
            a, b = mine[column_ours], other[column_theirs]
        a = np.asarray(a, dtype=float)
        b = np.asarray(b, dtype=float)
        r = float(pearson_columns(a, b)) if len(a) else float("nan")
        diff = float(np.mean(np.abs(a - b))) if len(a) else float("nan")
        rows.append({"layer": layer, "r": r, "mean_abs_diff": diff, "n": len(a)})
    return pd.DataFrame(rows, columns=["layer", "r", "mean_abs_diff", "n"])


__all__ = [
    "best_layer_csv_path",
    "compare_per_voxel",
    "identifier",
    "natural_key",
    "read_best_layer_csv",
    "read_model_actv",
    "read_results",
]

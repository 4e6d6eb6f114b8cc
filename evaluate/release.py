"""Loaders for the authors' published fMRI data release (NH2015, B2021, NH2015comp).

The release is the tarball ``https://mcdermottlab.mit.edu//tuckute_feather_2023/data.tar``
(about 180 MB; ``python -m evaluate.download`` fetches it), which extracts to a folder
``data/``. Every loader takes ``root``, the folder that *contains* ``data/`` (the ``data/``
folder itself is accepted too), and returns a :class:`evaluate.benchmark.Benchmark`.

File structures, as inferred from the reference code (github.com/gretatuckute/auditory_brain_dnn;
facts only, none of its code is used here):

``data/neural/NH2015/neural_stim_meta.npy``
    1-D structured array, one record per stimulus, in the order of every response array.
    Field 0 is the wav file name as bytes, including ``.wav`` (``i[0][:-4].decode("utf-8")``
    in ``aud_dnn/AUD_main.py``); field 4 is the category, compared against the strings of
    ``sound_category_order`` ("Music", "Song", ...) in ``aud_dnn/analyze/plot_utils_AUD_RSA.py``
    (``stimuli_categories.append(i[4])``). Third-party users of the same file index it by the
    field names ``id`` and ``filename``. Only the positions 0 and 4 are relied on here;
    bytes and str values are both accepted.
``data/neural/NH2015/voxel_features_array.npy``
    float array ``[165 stimuli, voxels, 3 repetitions]`` (``voxel_data_all[:, is_3, :]``).
``data/neural/NH2015/voxel_features_meta.npy``
    1-D structured array, one record per voxel (column of the array above), with fields
    ``subj_idx``, ``hemi`` (bytes: ``v['hemi'].decode('utf-8')``), ``x_ras``, ``y_ras``
    (integers: ``coord_id`` strings are parsed back with ``int()``), ``voxel_id`` and
    ``n_reps``; voxels with ``n_reps == 3`` are kept (7,694 in 8 participants)
    (``data/neural/NH2015/package_meta_data.py``, ``aud_dnn/AUD_main.py``).
``data/neural/NH2015/df_roi_meta.pkl``
    pickled DataFrame built from the *kept* voxels only, in kept order, with a fresh
    RangeIndex (``pd.DataFrame(d_meta)`` on ``voxel_meta[is_3]`` in ``package_meta_data.py``):
    ``subj_idx, hemi (str), x_ras, y_ras, voxel_id``, the functional masks ``tonotopic,
    pitch, music, speech`` (float 0/1), ``any_roi``, reliability columns, ``coord_id``,
    ``shared_by``; then ``data/package_anatomical_roi_labels.py`` appends
    ``roi_label_fname, roi_label_specific, roi_label_general, roi_anat_hemi``.
    ``roi_label_general`` holds the *strings* "Primary", "Anterior", "Lateral", "Posterior"
    or NaN (no anatomical ROI); ``aud_dnn/resources.py`` maps them to the integer codes
    ``{'Primary': 1, 'Anterior': 2, 'Lateral': 3, 'Posterior': 4}`` for plotting, so both
    forms are accepted here and anything else means "no ROI". The reference aligns rows to
    voxels by ``voxel_id`` (``np.where(voxel_meta_all['voxel_id'] == k)`` in
    ``plot_utils_AUD_RSA.py``); so do we.
``data/neural/B2021/voxel_features_array.npy``
    ``[stimuli, 26,792 voxels, repetitions]`` over the larger B2021 stimulus set; only the
    first 165 stimuli (and here the first 3 repetitions) are used (``AUD_main.py``).
``data/neural/B2021/stim_info_v4.mat``
    MATLAB struct ``stim_info`` whose field ``stim_names`` is a column cell array of names
    without ``.wav``: ``loadmat(...)['stim_info']['stim_names'][0][0]``, each row ``i`` read
    as ``i[0][0]``; the first 165 must equal the NH2015 order (``AUD_main.py`` asserts it).
``data/neural/B2021/df_roi_meta.pkl``
    one row per voxel *column* of the array (``voxel_id = np.arange(n_vox)``, RangeIndex;
    ``data/neural/B2021/package_data_as_python.py``; ``AUD_main.py`` selects rows by index
    position): ``subj_idx, hemi ('rh'/'lh'), x_ras, y_ras, voxel_id``, reliability columns,
    ``coord_id, shared_by`` and the same anatomical label columns; no functional masks.
``data/neural/NH2015comp/components.mat``
    ``R`` (165 x 6 responses), ``stim_names`` (1 x 165 cell: ``[x[0] for x in
    comp['stim_names'][0]]``), ``component_names`` (6 x 1 cell: ``[x[0][0] for x in
    comp['component_names']]``) and ``category_labels`` (1 x 165 cell). Rows are in their
    own order and are reindexed to the NH2015 order by name (``AUD_main.py``,
    ``data/neural/NH2015comp/create_df_meta.py``, ``data/stimuli/package_stimuli_metadata.py``).
``data/stimuli/<name>.wav``
    the 165 natural sounds.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from scipy.io import loadmat
from tqdm.auto import tqdm

from data.audio import CLIP_SAMPLES, SAMPLE_RATE, TARGET_RMS, resample
from data.cache import cache_root
from evaluate.benchmark import ROIS, Benchmark, BenchmarkError

log = logging.getLogger(__name__)

ROOT_ENV = "AUDITORY_DNN_FMRI_ROOT"
DOWNLOAD_COMMAND = "python -m evaluate.download"
N_STIMULI = 165
N_REPS = 3
CATEGORIES = (
    "Music", "Song", "EngSpeech", "ForSpeech", "HumVoc", "AniVoc",
    "HumNonVoc", "AniNonVoc", "Nature", "Mechanical", "EnvSound",
)  # fmt: skip
FUNCTIONAL_MASKS = ("tonotopic", "pitch", "music", "speech")  # NH2015 only
VOXEL_META_FIELDS = ("subj_idx", "hemi", "x_ras", "y_ras", "voxel_id", "n_reps")
# roi_label_general: strings in the release, integer codes in the reference's plotting code.
_ROI_CODES = {1: "Primary", 2: "Anterior", 3: "Lateral", 4: "Posterior"}

NH2015_DIR = Path("data/neural/NH2015")
B2021_DIR = Path("data/neural/B2021")
COMP_DIR = Path("data/neural/NH2015comp")
STIMULI_DIR = Path("data/stimuli")
STIM_META = NH2015_DIR / "neural_stim_meta.npy"
MARKER = NH2015_DIR / "voxel_features_array.npy"  # present once the release is in place


# --------------------------------------------------------------------------- locations


def default_root() -> Path:
    """Where the release lives when no root is given: ``$AUDITORY_DNN_FMRI_ROOT``, else
    ``<cache root>/fmri`` (see :func:`data.cache.cache_root`)."""
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV]).expanduser()
    return cache_root() / "fmri"


def resolve_root(root: str | os.PathLike | None = None) -> Path:
    """The folder that contains ``data/``: ``root`` (or :func:`default_root`), where a path
    to the ``data/`` folder itself is mapped to its parent."""
    path = Path(root).expanduser() if root else default_root()
    if not (path / "data").is_dir() and ((path / "neural").is_dir() or (path / "stimuli").is_dir()):
        return path.parent
    return path


def _missing(path: Path, root: Path, what: str = "file") -> FileNotFoundError:
    return FileNotFoundError(
        f"{path} not found (missing {what} of the fMRI data release under {root}). Download the "
        f"release (about 180 MB) with `{DOWNLOAD_COMMAND} --dest {root}`, or point fmri_root= "
        f"(python -m evaluate), root= (Python) or ${ROOT_ENV} at the folder that contains data/."
    )


def _require(root: Path, rel: Path) -> Path:
    path = root / rel
    if not path.is_file():
        raise _missing(path, root)
    return path


# --------------------------------------------------------------------------- readers


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" not in str(exc):
            raise BenchmarkError(f"{path}: not a readable .npy file ({exc})") from exc
        # Object fields (e.g. arrays written by Python 2): the release is trusted data.
        return np.load(path, allow_pickle=True, encoding="latin1")
    except OSError as exc:
        raise BenchmarkError(f"{path}: not a readable .npy file ({exc})") from exc


def _load_mat(path: Path) -> dict:
    try:
        return loadmat(path)
    except (NotImplementedError, ValueError, OSError, TypeError) as exc:
        raise BenchmarkError(f"{path}: not a readable MATLAB (v5) file ({exc})") from exc


def _load_pickle_frame(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_pickle(path)
    except Exception as exc:  # unpickling raises almost anything on a bad file
        raise BenchmarkError(f"{path}: not a readable pickled DataFrame ({type(exc).__name__}: {exc})") from exc
    if not isinstance(frame, pd.DataFrame):
        raise BenchmarkError(f"{path}: expected a pickled pandas DataFrame, got {type(frame).__name__}")
    return frame


def _text(value) -> str:
    """A name from a structured-array field or a MATLAB cell: bytes or str, maybe wrapped in
    (nested) length-1 arrays."""
    while isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError(f"expected one string, got an array of shape {list(value.shape)}")
        value = value.reshape(-1)[0]
    if isinstance(value, bytes | np.bytes_):
        return value.decode("utf-8").strip()
    if isinstance(value, str | np.str_):
        return str(value).strip()
    raise ValueError(f"expected a string, got {type(value).__name__}")


def _strip_wav(name: str) -> str:
    return name[:-4] if name.lower().endswith(".wav") else name


def _first_mismatches(expected: Sequence[str], got: Sequence[str], limit: int = 3) -> str:
    diffs = [(i, e, g) for i, (e, g) in enumerate(zip(expected, got, strict=False)) if e != g]
    text = ", ".join(f"#{i}: expected {e!r}, found {g!r}" for i, e, g in diffs[:limit])
    if len(diffs) > limit:
        text += f" (and {len(diffs) - limit} more)"
    return text


def _stimulus_meta(root: Path) -> tuple[list[str], list[str]]:
    """Stimulus ids (wav names without ``.wav``) and categories, in response order."""
    path = _require(root, STIM_META)
    meta = _load_npy(path)
    names = meta.dtype.names
    if meta.ndim != 1 or names is None or len(names) < 5:
        raise BenchmarkError(
            f"{path}: expected a 1-D structured array with at least 5 fields (field 0 = wav file "
            f"name, field 4 = category), got shape {list(meta.shape)} with fields {names}"
        )
    if len(meta) != N_STIMULI:
        raise BenchmarkError(f"{path}: expected {N_STIMULI} stimuli, found {len(meta)}")
    try:
        ids = [_strip_wav(_text(row[0])) for row in meta]
        categories = [_text(row[4]) for row in meta]
    except (ValueError, UnicodeDecodeError) as exc:
        raise BenchmarkError(
            f"{path}: field 0 ({names[0]!r}, wav file name) and field 4 ({names[4]!r}, category) must be strings: {exc}"
        ) from exc
    if len(set(ids)) != len(ids):
        dup = sorted({s for s in ids if ids.count(s) > 1})[:3]
        raise BenchmarkError(f"{path}: field 0 ({names[0]!r}) has duplicate stimulus names, e.g. {dup}")
    unknown = sorted(set(categories) - set(CATEGORIES))
    if unknown:
        log.warning("%s: categories outside the 11 of the release: %s", path, unknown[:5])
    return ids, categories


def _voxel_array(path: Path, min_reps: int = N_REPS) -> np.ndarray:
    data = _load_npy(path)
    if data.ndim != 3:
        raise BenchmarkError(
            f"{path}: expected a 3-D array [stimulus, voxel, repetition], got rank {data.ndim} "
            f"(shape {list(data.shape)})"
        )
    if not np.issubdtype(data.dtype, np.number) or np.issubdtype(data.dtype, np.complexfloating):
        raise BenchmarkError(f"{path}: expected real numeric responses, got dtype {data.dtype}")
    if data.shape[0] < N_STIMULI:
        raise BenchmarkError(f"{path}: expected at least {N_STIMULI} stimuli on axis 0, got shape {list(data.shape)}")
    if data.shape[2] < min_reps:
        raise BenchmarkError(
            f"{path}: expected at least {min_reps} repetitions on axis 2, got shape {list(data.shape)}"
        )
    return data


def _roi_label(value) -> str:
    """``roi_label_general`` -> one of :data:`ROIS` or ``""``."""
    if isinstance(value, bytes | np.bytes_):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value.strip() if value.strip() in ROIS else ""
    try:
        code = float(value)
    except (TypeError, ValueError):
        return ""
    return _ROI_CODES.get(int(code), "") if math.isfinite(code) and code == int(code) else ""


def _roi_frame(root: Path, rel: Path, required: Sequence[str]) -> tuple[Path, pd.DataFrame]:
    path = _require(root, rel)
    frame = _load_pickle_frame(path)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise BenchmarkError(
            f"{path}: missing column(s) {missing}; expected one row per voxel with columns including "
            f"{list(required)}, found {list(frame.columns)}"
        )
    return path, frame.reset_index(drop=True)


def _metadata(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    out = pd.DataFrame(index=range(len(frame)))
    for col in columns:
        if col in frame.columns:
            values = frame[col].to_numpy()
            if values.dtype.kind in "OS":
                values = np.array([v.decode("utf-8") if isinstance(v, bytes) else v for v in values], dtype=object)
            out[col] = values
    return out


def _waveforms(root: Path, ids: list[str], waveforms: bool, progress: bool) -> np.ndarray | None:
    return load_stimuli(root, ids, progress=progress) if waveforms else None


# --------------------------------------------------------------------------- public API


def load_stimuli(root: str | os.PathLike | None, stimulus_ids: Sequence[str], progress: bool = False) -> np.ndarray:
    """Read ``root/data/stimuli/<id>.wav`` for each id and return ``[n, 40000]`` float32.

    The authors' procedure: each sound is mixed to mono, cut to its first 2 s *at the file's
    own rate* (``round(2 * rate)`` samples, zero-padded if shorter), that clip is resampled to
    20 kHz (polyphase, :func:`scipy.signal.resample_poly` with the reduced integer ratio;
    exactly 40,000 samples, a sample or two padded or trimmed should the ratio not divide
    evenly), demeaned and scaled to RMS 0.1. Cutting before resampling means nothing after
    the first 2 s of the file leaks into the clip through the resampling filter.
    A missing file is a :class:`FileNotFoundError`, a silent one a :class:`BenchmarkError`.
    """
    root = resolve_root(root)
    seconds = CLIP_SAMPLES / SAMPLE_RATE
    out = np.zeros((len(stimulus_ids), CLIP_SAMPLES), dtype=np.float32)
    for i, stim in enumerate(tqdm(stimulus_ids, desc="stimuli", unit="sound", disable=not progress)):
        path = root / STIMULI_DIR / f"{stim}.wav"
        if not path.is_file():
            raise _missing(path, root, f"the wav of stimulus {stim!r}")
        try:
            audio, rate = sf.read(path, dtype="float64", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise BenchmarkError(f"{path}: not a readable sound file ({exc})") from exc
        audio = audio.mean(axis=1)
        n_own = round(seconds * rate)  # the first 2 s at the file's own rate
        clip = np.zeros(n_own)
        n = min(len(audio), n_own)
        clip[:n] = audio[:n]
        clip = resample(clip, rate)
        if len(clip) != CLIP_SAMPLES:  # ratio rounding: 39,999 or 40,001 samples
            clip = np.pad(clip, (0, max(0, CLIP_SAMPLES - len(clip))))[:CLIP_SAMPLES]
        clip = clip - clip.mean()
        level = np.sqrt(np.mean(clip**2))
        if not np.isfinite(level) or level < 1e-8:
            raise BenchmarkError(f"{path}: stimulus {stim!r} is silent (RMS {level:.3g} in its first 2 s)")
        out[i] = clip * (TARGET_RMS / level)
    return out


def load_nh2015(root: str | os.PathLike | None = None, *, waveforms: bool = True, progress: bool = False) -> Benchmark:
    """NH2015 (Norman-Haignere et al. 2015): voxels with 3 repetitions, ``[165, 7694, 3]``."""
    root = resolve_root(root)
    ids, categories = _stimulus_meta(root)
    array_path = _require(root, NH2015_DIR / "voxel_features_array.npy")
    meta_path = _require(root, NH2015_DIR / "voxel_features_meta.npy")
    data = _voxel_array(array_path)
    if data.shape[0] != N_STIMULI:
        raise BenchmarkError(f"{array_path}: expected {N_STIMULI} stimuli on axis 0, got shape {list(data.shape)}")
    meta = _load_npy(meta_path)
    fields = meta.dtype.names or ()
    for field in VOXEL_META_FIELDS:
        if field not in fields:
            raise BenchmarkError(
                f"{meta_path}: field {field!r} missing; expected a structured array with fields "
                f"{list(VOXEL_META_FIELDS)}, found {list(fields) or 'no fields (dtype ' + str(meta.dtype) + ')'}"
            )
    if meta.ndim != 1 or len(meta) != data.shape[1]:
        raise BenchmarkError(
            f"{meta_path}: expected one record per voxel of {array_path.name} ({data.shape[1]}), "
            f"got shape {list(meta.shape)}"
        )
    for field in ("subj_idx", "voxel_id", "n_reps"):
        if meta.dtype[field].kind not in "iuf":
            raise BenchmarkError(f"{meta_path}: field {field!r} must be numeric, got dtype {meta.dtype[field]}")
    keep = meta["n_reps"] == N_REPS
    if not keep.any():
        raise BenchmarkError(f"{meta_path}: no voxel has field 'n_reps' == {N_REPS}")
    meta, data = meta[keep], data[:, keep, :N_REPS]
    voxel_ids = meta["voxel_id"]
    if len(np.unique(voxel_ids)) != len(voxel_ids):
        raise BenchmarkError(f"{meta_path}: field 'voxel_id' has duplicate ids among the kept voxels")

    roi_path, rois = _roi_frame(root, NH2015_DIR / "df_roi_meta.pkl", ("voxel_id", "roi_label_general"))
    if rois["voxel_id"].duplicated().any():
        raise BenchmarkError(f"{roi_path}: column 'voxel_id' has duplicate ids")
    # Rows are the kept voxels in kept order in the release; align by voxel_id regardless.
    position = pd.Series(np.arange(len(rois)), index=rois["voxel_id"].to_numpy())
    found = position.reindex(voxel_ids)
    if found.isna().any():
        absent = voxel_ids[found.isna().to_numpy()][:5].tolist()
        raise BenchmarkError(
            f"{roi_path}: column 'voxel_id' lacks {int(found.isna().sum())} of the {len(voxel_ids)} voxels "
            f"with n_reps == {N_REPS} in {meta_path.name}, e.g. {absent}"
        )
    rois = rois.iloc[found.to_numpy(dtype=int)].reset_index(drop=True)
    if "subj_idx" in rois.columns and not np.array_equal(rois["subj_idx"].to_numpy(), meta["subj_idx"]):
        raise BenchmarkError(
            f"{roi_path}: column 'subj_idx' disagrees with field 'subj_idx' of {meta_path.name} for the same voxel_id"
        )
    metadata = pd.DataFrame(
        {
            "hemi": [_text(h) for h in meta["hemi"]] if meta.dtype["hemi"].kind in "SUO" else meta["hemi"],
            "x_ras": meta["x_ras"],
            "y_ras": meta["y_ras"],
        }
    )
    metadata = pd.concat([metadata, _metadata(rois, FUNCTIONAL_MASKS)], axis=1)
    return Benchmark.from_arrays(
        data,
        participant=meta["subj_idx"],
        roi=np.array([_roi_label(v) for v in rois["roi_label_general"]], dtype=object),
        stimulus_ids=ids,
        waveforms=_waveforms(root, ids, waveforms, progress),
        name="nh2015",
        target_ids=voxel_ids,
        categories=categories,
        kind="voxels",
        metadata=metadata,
    )


def _b2021_names(path: Path) -> list[str]:
    mat = _load_mat(path)
    if "stim_info" not in mat:
        raise BenchmarkError(
            f"{path}: variable 'stim_info' missing; found {sorted(k for k in mat if not k.startswith('__'))}"
        )
    info = mat["stim_info"]
    if info.dtype.names is None or "stim_names" not in info.dtype.names:
        raise BenchmarkError(
            f"{path}: expected a struct 'stim_info' with field 'stim_names', found fields {info.dtype.names}"
        )
    try:
        cells = info["stim_names"].reshape(-1)[0]  # the reference's ['stim_names'][0][0]
        return [_strip_wav(_text(cell)) for cell in np.asarray(cells, dtype=object).reshape(-1)]
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise BenchmarkError(f"{path}: field 'stim_info.stim_names' must be a cell array of strings: {exc}") from exc


def load_b2021(root: str | os.PathLike | None = None, *, waveforms: bool = True, progress: bool = False) -> Benchmark:
    """B2021 (Boebinger et al. 2021): the first 165 stimuli and 3 repetitions, ``[165, 26792, 3]``."""
    root = resolve_root(root)
    ids, categories = _stimulus_meta(root)
    array_path = _require(root, B2021_DIR / "voxel_features_array.npy")
    names_path = _require(root, B2021_DIR / "stim_info_v4.mat")
    names = _b2021_names(names_path)
    if len(names) < N_STIMULI:
        raise BenchmarkError(
            f"{names_path}: field 'stim_info.stim_names' has {len(names)} names, expected at least {N_STIMULI}"
        )
    if names[:N_STIMULI] != ids:
        raise BenchmarkError(
            f"{names_path}: the first {N_STIMULI} names of 'stim_info.stim_names' are not the NH2015 stimulus "
            f"order of {STIM_META}: {_first_mismatches(ids, names[:N_STIMULI])}"
        )
    data = _voxel_array(array_path)
    if data.shape[0] != len(names):
        log.warning("%s has %d stimuli but %s lists %d names", array_path, data.shape[0], names_path.name, len(names))
    data = data[:N_STIMULI, :, :N_REPS]
    roi_path, rois = _roi_frame(root, B2021_DIR / "df_roi_meta.pkl", ("voxel_id", "subj_idx", "roi_label_general"))
    if len(rois) != data.shape[1]:
        raise BenchmarkError(
            f"{roi_path}: expected one row per voxel column of {array_path.name} ({data.shape[1]}), found {len(rois)}"
        )
    if rois["voxel_id"].duplicated().any():
        raise BenchmarkError(f"{roi_path}: column 'voxel_id' has duplicate ids")
    # Row i describes voxel column i (voxel_id = arange(n_vox) in the reference's packaging).
    return Benchmark.from_arrays(
        data,
        participant=rois["subj_idx"].to_numpy(),
        roi=np.array([_roi_label(v) for v in rois["roi_label_general"]], dtype=object),
        stimulus_ids=ids,
        waveforms=_waveforms(root, ids, waveforms, progress),
        name="b2021",
        target_ids=rois["voxel_id"].to_numpy(),
        categories=categories,
        kind="voxels",
        metadata=_metadata(rois, ("hemi", "x_ras", "y_ras", *FUNCTIONAL_MASKS)),
    )


def load_nh2015comp(root: str | os.PathLike | None = None, *, waveforms: bool = True, progress: bool = False) -> Benchmark:
    """NH2015comp: the 6 voxel-decomposition components, ``[165, 6, 1]``, rows in NH2015 order."""
    root = resolve_root(root)
    ids, categories = _stimulus_meta(root)
    path = _require(root, COMP_DIR / "components.mat")
    mat = _load_mat(path)
    for key in ("R", "stim_names", "component_names"):
        if key not in mat:
            raise BenchmarkError(
                f"{path}: variable {key!r} missing; expected R (165 x n), stim_names and component_names, "
                f"found {sorted(k for k in mat if not k.startswith('__'))}"
            )
    responses = np.asarray(mat["R"])
    if responses.ndim != 2 or responses.shape[0] != N_STIMULI or responses.shape[1] < 1:
        raise BenchmarkError(
            f"{path}: variable 'R' must be a {N_STIMULI} x n matrix, got shape {list(responses.shape)}"
        )
    if not np.issubdtype(responses.dtype, np.number):
        raise BenchmarkError(f"{path}: variable 'R' must be numeric, got dtype {responses.dtype}")
    try:
        stim_names = [_strip_wav(_text(x)) for x in np.asarray(mat["stim_names"], dtype=object).reshape(-1)]
    except (ValueError, UnicodeDecodeError) as exc:
        raise BenchmarkError(f"{path}: variable 'stim_names' must be a cell array of strings: {exc}") from exc
    try:
        comp_names = [_text(x) for x in np.asarray(mat["component_names"], dtype=object).reshape(-1)]
    except (ValueError, UnicodeDecodeError) as exc:
        raise BenchmarkError(f"{path}: variable 'component_names' must be a cell array of strings: {exc}") from exc
    if len(stim_names) != N_STIMULI:
        raise BenchmarkError(
            f"{path}: variable 'stim_names' has {len(stim_names)} names, expected {N_STIMULI} (one per row of R)"
        )
    if len(comp_names) != responses.shape[1]:
        raise BenchmarkError(
            f"{path}: variable 'component_names' has {len(comp_names)} names, R has {responses.shape[1]} columns"
        )
    if len(set(stim_names)) != len(stim_names) or set(stim_names) != set(ids):
        missing = [s for s in ids if s not in set(stim_names)]
        extra = [s for s in stim_names if s not in set(ids)]
        dup = sorted({s for s in stim_names if stim_names.count(s) > 1})
        raise BenchmarkError(
            f"{path}: variable 'stim_names' does not name the NH2015 stimuli of {STIM_META}: "
            f"missing {missing[:3]}, unexpected {extra[:3]}, duplicated {dup[:3]}"
        )
    row = {s: i for i, s in enumerate(stim_names)}
    responses = responses[[row[s] for s in ids]].astype(np.float64)
    n = len(comp_names)
    return Benchmark.from_arrays(
        responses[:, :, None],
        participant=np.zeros(n, dtype=int),
        roi=np.full(n, "", dtype=object),
        stimulus_ids=ids,
        waveforms=_waveforms(root, ids, waveforms, progress),
        name="nh2015comp",
        target_ids=np.array(comp_names, dtype=object),
        categories=categories,
        kind="components",
    )

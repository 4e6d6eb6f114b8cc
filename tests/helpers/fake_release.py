"""A small fake copy of the authors' fMRI data release, laid out exactly like the real one.

``write_release(root)`` writes ``root/data/...`` with the file names, array layouts, dtypes,
pickled DataFrames and MATLAB structures that :mod:`evaluate.release` reads (see its module
docstring for where each fact comes from), but with few voxels and short sounds: about
4 MB, written in well under 2 s. Fields the loaders never read (fields 1-3 of the stimulus
meta, reliability columns ...) are plausible inventions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from scipy.io import savemat

CATEGORIES = (
    "Music", "Song", "EngSpeech", "ForSpeech", "HumVoc", "AniVoc",
    "HumNonVoc", "AniNonVoc", "Nature", "Mechanical", "EnvSound",
)  # fmt: skip
_WORDS = {
    "Music": ("piano", "guitar", "drums", "violin", "flute"),
    "Song": ("choir", "ballad", "opera", "rap", "lullaby"),
    "EngSpeech": ("man_talking", "woman_reading", "radio_host", "child_speaking", "lecture"),
    "ForSpeech": ("german", "french", "mandarin", "spanish", "hindi"),
    "HumVoc": ("laughing", "crying", "coughing", "humming", "sneezing"),
    "AniVoc": ("dog_bark", "cat_meow", "cow_moo", "rooster", "birdsong"),
    "HumNonVoc": ("footsteps", "clapping", "typing", "chewing", "knocking"),
    "AniNonVoc": ("wings_flapping", "galloping", "paws", "scratching", "buzzing"),
    "Nature": ("rain", "thunder", "wind", "stream", "waves"),
    "Mechanical": ("car_engine", "drill", "siren", "train", "vacuum"),
    "EnvSound": ("crowd", "traffic", "cafe", "construction", "airport"),
}
COMPONENT_NAMES = ("low-frequency", "high-frequency", "envsounds", "pitch", "music", "speech")
ROI_CYCLE = ("Primary", "Anterior", "Lateral", "Posterior", None)  # None -> NaN: no ROI

# neural_stim_meta.npy: field 0 = wav file name (bytes, with .wav), field 4 = category (the
# only positions the loaders rely on); 'id' and 'filename' are names third-party users index.
STIM_META_DTYPE = np.dtype(
    [("filename", "S64"), ("id", "<i8"), ("sound_name", "S64"), ("source", "S16"), ("category", "<U16")]
)
VOXEL_META_DTYPE = np.dtype(
    [
        ("subj_idx", "<i8"),
        ("hemi", "S2"),
        ("x_ras", "<i8"),
        ("y_ras", "<i8"),
        ("voxel_id", "<i8"),
        ("n_reps", "<i8"),
    ]
)


def stimulus_names() -> tuple[list[str], list[str]]:
    """The 165 fake stimulus ids (NH2015 order) and their categories (cycling through 11)."""
    ids, cats = [], []
    for k in range(165):
        cat = CATEGORIES[k % 11]
        ids.append(f"stim{k + 1}_{_WORDS[cat][(k // 11) % 5]}")
        cats.append(cat)
    return ids, cats


def _audio_spec(k: int) -> tuple[int, int, float]:
    """(sample rate, channels, seconds) of stimulus k: mostly short 16 kHz mono files, every
    8th a 44.1 kHz stereo one, plus a few long ones around the 2 s cut."""
    special = {0: (44100, 2, 2.5), 1: (16000, 1, 2.3), 2: (20000, 1, 2.0), 3: (22050, 2, 1.2), 4: (48000, 1, 2.1)}
    if k in special:
        return special[k]
    if k % 8 == 0:
        return 44100, 2, 0.3
    return 16000, 1, 0.3 + 0.05 * (k % 5)


def _sound(rng: np.random.Generator, rate: int, channels: int, seconds: float) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    out = np.empty((len(t), channels))
    for c in range(channels):
        freqs = rng.uniform(100, min(0.4 * rate, 7000), size=3)
        sig = sum(rng.uniform(0.1, 0.3) * np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in freqs)
        sig = sig * (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(1, 5) * t)) + 0.02 * rng.standard_normal(len(t))
        out[:, c] = sig + rng.uniform(-0.05, 0.05)  # a DC offset that demeaning must remove
    return np.clip(out, -0.99, 0.99)


def _roi_labels(rng: np.random.Generator, n: int) -> list:
    labels = [ROI_CYCLE[i % len(ROI_CYCLE)] for i in range(n)]
    rng.shuffle(labels)
    return [np.nan if lab is None else lab for lab in labels]


def _coords(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.integers(-70, 70, size=n), rng.integers(-40, 40, size=n)


def _responses(rng: np.random.Generator, n_stim: int, n_vox: int, n_reps: int) -> np.ndarray:
    signal = rng.standard_normal((n_stim, n_vox, 1)) * rng.uniform(0.5, 2.0, size=(1, n_vox, 1))
    return signal + 0.5 * rng.standard_normal((n_stim, n_vox, n_reps))


def write_release(
    root: str | Path,
    n_voxels_per_participant: int = 6,
    n_participants: int = 3,
    seed: int = 0,
    n_participants_b2021: int | None = None,
    n_b2021_stimuli: int = 192,
    n_b2021_reps: int = 4,
) -> dict:
    """Write a fake release under ``root/data/`` and return what tests need to check the
    loaders: ``root``, ``ids``, ``categories``, and per dataset the expected target ids,
    participants, ROI labels and full response arrays.

    NH2015 gets ``n_participants`` participants with 3 repetitions plus one more participant
    (placed in the middle) whose voxels have ``n_reps == 2`` and must be dropped. B2021 gets
    ``n_participants_b2021`` (default ``n_participants + 2``) participants, ``n_b2021_stimuli``
    stimuli (the NH2015 165 first) and ``n_b2021_reps`` repetitions.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    data = root / "data"
    nh_dir, b_dir, c_dir = (data / "neural" / d for d in ("NH2015", "B2021", "NH2015comp"))
    s_dir = data / "stimuli"
    for d in (nh_dir, b_dir, c_dir, s_dir):
        d.mkdir(parents=True, exist_ok=True)
    ids, cats = stimulus_names()

    # ---- stimuli
    meta = np.zeros(165, dtype=STIM_META_DTYPE)
    for k, (stim, cat) in enumerate(zip(ids, cats, strict=True)):
        meta[k] = (f"{stim}.wav".encode(), k + 1, stim.encode(), b"NH2015", cat)
    np.save(nh_dir / "neural_stim_meta.npy", meta)
    audio = {}
    for k, stim in enumerate(ids):
        rate, channels, seconds = _audio_spec(k)
        sf.write(s_dir / f"{stim}.wav", _sound(rng, rate, channels, seconds), rate, subtype="PCM_16")
        audio[stim] = (rate, channels, seconds)

    # ---- NH2015: participants 1..n with 3 runs, plus one 2-run participant in the middle
    subjects = list(range(1, n_participants + 1))
    two_run_subject = n_participants + 1
    subjects.insert(len(subjects) // 2 + 1, two_run_subject)
    n_all = len(subjects) * n_voxels_per_participant
    vmeta = np.zeros(n_all, dtype=VOXEL_META_DTYPE)
    vmeta["subj_idx"] = np.repeat(subjects, n_voxels_per_participant)
    vmeta["hemi"] = np.where(np.arange(n_all) % 2 == 0, b"lh", b"rh")
    vmeta["x_ras"], vmeta["y_ras"] = _coords(rng, n_all)
    vmeta["voxel_id"] = np.sort(rng.choice(np.arange(10, 50 * n_all), size=n_all, replace=False))
    vmeta["n_reps"] = np.where(vmeta["subj_idx"] == two_run_subject, 2, 3)
    nh_data = _responses(rng, 165, n_all, 3)  # 2-run voxels keep finite values: only n_reps drops them
    np.save(nh_dir / "voxel_features_array.npy", nh_data)
    np.save(nh_dir / "voxel_features_meta.npy", vmeta)
    keep = vmeta["n_reps"] == 3
    kept = vmeta[keep]
    n_kept = int(keep.sum())
    nh_rois = _roi_labels(rng, n_kept)
    masks = {m: (rng.random(n_kept) < 0.3).astype(float) for m in ("tonotopic", "pitch", "music", "speech")}
    nh_df = pd.DataFrame(
        {
            "subj_idx": kept["subj_idx"],
            "hemi": [h.decode() for h in kept["hemi"]],
            "x_ras": kept["x_ras"],
            "y_ras": kept["y_ras"],
            "voxel_id": kept["voxel_id"],
            **masks,
            "any_roi": np.max(np.vstack(list(masks.values())), axis=0),
            "kell_r_reliability": rng.uniform(0, 1, n_kept),
            "pearson_r_reliability": rng.uniform(0, 1, n_kept),
            "voxel_variability_mean_reps": rng.uniform(0.2, 2, n_kept),
            "voxel_variability_std": rng.uniform(0.2, 2, n_kept),
            "coord_id": [f"{x}_{y}" for x, y in zip(kept["x_ras"], kept["y_ras"], strict=True)],
            "shared_by": rng.integers(1, n_participants + 1, n_kept).astype(float),
            "roi_label_fname": [np.nan if isinstance(r, float) else "HCP_MMP1_24_roi.mat" for r in nh_rois],
            "roi_label_specific": [np.nan if isinstance(r, float) else "A1" for r in nh_rois],
            "roi_label_general": nh_rois,
            "roi_anat_hemi": [np.nan if isinstance(r, float) else f"{r}_lh" for r in nh_rois],
        }
    )
    nh_df.to_pickle(nh_dir / "df_roi_meta.pkl")

    # ---- B2021: more stimuli (NH2015's 165 first), more repetitions, voxel_id = column index
    n_b_subj = n_participants + 2 if n_participants_b2021 is None else n_participants_b2021
    n_b = n_b_subj * n_voxels_per_participant
    b_names = ids + [f"b2021_extra{k + 1}_{CATEGORIES[k % 11].lower()}" for k in range(n_b2021_stimuli - 165)]
    savemat(b_dir / "stim_info_v4.mat", {"stim_info": {"stim_names": np.array(b_names, dtype=object).reshape(-1, 1)}})
    b_data = _responses(rng, n_b2021_stimuli, n_b, n_b2021_reps)
    np.save(b_dir / "voxel_features_array.npy", b_data)
    b_rois = _roi_labels(rng, n_b)
    bx, by = _coords(rng, n_b)
    b_subj = np.repeat(np.arange(1, n_b_subj + 1), n_voxels_per_participant)
    b_df = pd.DataFrame(
        {
            "subj_idx": b_subj,
            "hemi": ["rh" if i % 3 else "lh" for i in range(n_b)],
            "x_ras": bx,
            "y_ras": by,
            "voxel_id": np.arange(n_b),
            "kell_r_reliability": rng.uniform(0, 1, n_b),
            "pearson_r_reliability": rng.uniform(0, 1, n_b),
            "voxel_variability_mean_reps": rng.uniform(0.2, 2, n_b),
            "voxel_variability_std": rng.uniform(0.2, 2, n_b),
            "coord_id": [f"{x}_{y}" for x, y in zip(bx, by, strict=True)],
            "shared_by": rng.integers(1, n_b_subj + 1, n_b).astype(float),
            "roi_label_general": b_rois,
        }
    )
    b_df.to_pickle(b_dir / "df_roi_meta.pkl")

    # ---- NH2015comp: rows in their own (shuffled) order, reindexed by name by the loader
    comp_nh = rng.standard_normal((165, len(COMPONENT_NAMES)))
    order = rng.permutation(165)
    savemat(
        c_dir / "components.mat",
        {
            "R": comp_nh[order],
            "stim_names": np.array([ids[i] for i in order], dtype=object).reshape(1, -1),
            "component_names": np.array(COMPONENT_NAMES, dtype=object).reshape(-1, 1),
            "category_labels": np.array([cats[i] for i in order], dtype=object).reshape(1, -1),
        },
    )
    pd.DataFrame({"comp": list(COMPONENT_NAMES), "comp_idx": np.arange(len(COMPONENT_NAMES))}).to_pickle(
        c_dir / "df_roi_meta.pkl"
    )

    def roi_str(labels):
        return ["" if isinstance(r, float) else r for r in labels]

    return {
        "root": root,
        "ids": ids,
        "categories": cats,
        "audio": audio,  # id -> (sample rate, channels, seconds)
        "nh2015": {
            "n_voxels": n_kept,
            "n_voxels_all": n_all,
            "voxel_ids": kept["voxel_id"].tolist(),
            "dropped_voxel_ids": vmeta["voxel_id"][~keep].tolist(),
            "participants": kept["subj_idx"].tolist(),
            "n_participants": n_participants,
            "rois": roi_str(nh_rois),
            "hemi": [h.decode() for h in kept["hemi"]],
            "x_ras": kept["x_ras"].tolist(),
            "masks": {m: v.tolist() for m, v in masks.items()},
            "responses": nh_data[:, keep, :],  # [165, kept voxels, 3]
        },
        "b2021": {
            "n_voxels": n_b,
            "voxel_ids": list(range(n_b)),
            "participants": b_subj.tolist(),
            "n_participants": n_b_subj,
            "rois": roi_str(b_rois),
            "hemi": b_df["hemi"].tolist(),
            "n_stimuli_file": n_b2021_stimuli,
            "n_reps_file": n_b2021_reps,
            "responses": b_data[:165, :, :3],
        },
        "nh2015comp": {"component_names": list(COMPONENT_NAMES), "responses": comp_nh, "file_order": order},
    }

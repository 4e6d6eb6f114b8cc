"""SYNTHETIC auditory-cortex benchmark: responses we generated ourselves, with a known truth.

Not brain data. It exists so that scoring works on a fresh machine with no download and so
that the scoring maths can be checked against a ground truth. Every output names it
"synthetic" (benchmark ids ``synthetic`` and ``synthetic-comp``).

Stimuli
    195 sounds, 2 s at 20 kHz, RMS 0.1, from the procedural synthesizer :mod:`data.synth`
    (speech from espeak-ng, English and foreign voices), deterministic from ``seed``: 15 in
    each of 10 NH2015 categories and 45 English-speech word clips
    (:func:`data.synth.synthesize_word`), in which a random English voice says one of
    :data:`SPOKEN_WORDS` with its midpoint at 1 s between held-out context words (the layout of
    the embedded corpus's clips), each word :data:`WORD_CLIPS_PER_WORD` = 15 times (different
    voices and contexts). :data:`SPOKEN_WORDS` are the first 3 words of
    ``data/resources/vocabulary.txt``, so every corpus with ``vocabulary_size >= 3`` (the
    quickstart's 20, the default 200) trains on them.

    This is the benchmark's one departure from NH2015's layout (165 sounds, and 15
    English-speech sounds here before CACHE_VERSION 3), made for the word component below:
    with 5 clips per word (5 of 165 sounds, about 2.5 in a training half) no model's linear
    readout recovered the word channels, not even a word-trained network's own word outputs,
    because a network's word evidence varies as much over the sounds that say no word. The
    count was fixed by a premise check on networks that are not part of the positive control
    (the 10-epoch quickstart word networks of seed 2, noisy and clean; the control uses seeds 0
    and 1), before any of those was scored on this version: best-layer cross-validated R2 of
    the word channels (:func:`evaluate.analyses.channel_recovery`, mean of the 3) with 5 clips
    per word 0.012 / 0.011 (noisy / clean; permuted controls 0.002 / 0.019, SpectroTemporal
    -0.040), with 15 clips per word 0.357 / 0.387 (permuted 0.130 / 0.145, SpectroTemporal
    0.095); ``bench/word_premise.py`` reproduces it.

Encoding model (documented in the README, section "The synthetic benchmark")
    A set of nonlinear response channels, each a static nonlinearity of one drive
    computed per sound:

    * tonotopic channels ``tono_<Hz>``: log energy of the sound's time-averaged cochleagram
      in a Gaussian band (0.5 octave s.d.) around best frequencies 200 Hz ... 8 kHz;
    * modulation channels ``mod_slow`` / ``mod_mid`` / ``mod_fast``: envelope modulation
      energy at 1-4, 4-16 and 16-64 Hz, averaged over cochlear channels;
    * category-selective channels ``speech``, ``voice``, ``music``, ``pitch``, ``song``,
      ``animal``: the synthesizer's own latent labels of the sound (never any network),
      with a graded, stimulus-specific part (``pitch``: harmonicity x periodicity; ``music``
      and ``speech``: also the rate of notes/syllables);
    * word-identity channels ``word_<w>``, one per word of :data:`SPOKEN_WORDS`: 1 for the
      sounds that say ``w``, else 0 -- WHICH word is spoken, whatever the voice, the
      context and the acoustics. Each word is said by 15 different voices, so statistics of
      the sound's spectrum or modulations identify it poorly (tests/test_synthetic.py checks
      that cross-validated linear readouts of the other channels and of cochleagram
      statistics fail on them); a network that learnt to recognise these words does better
      (the premise check above).

    Each drive is z-scored over the stimuli and passed through the softplus
    ``log(1 + exp(2 z - 1)) / 2``, so no linear readout of the drives (or of cochleagram
    statistics, or of the latent labels) is exact. A voxel is a weighted sum of the channels
    with nonnegative weights: in Primary mostly the tonotopic channels near its best
    frequency and the modulation channels; the share of the high-level (category and word)
    channels grows from Primary (15 %) to Anterior (55 %: pitch and music), Lateral (70 %:
    speech and voice) and Posterior (70 %: music and speech). Non-primary voxels also carry
    a graded word selectivity: a share
    :data:`WORD_SHARE` of the weight (Primary 0, Anterior 0.2, Lateral 0.45, Posterior 0.35;
    taken out of the category share) spread over the word channels by a per-voxel
    Dirichlet(1, 1, 1) draw, i.e. a random fixed tuning over the spoken words. The shares
    were fixed before any network was scored (on CACHE_VERSION 2, and kept for 3), from the
    design target: the word channels carry about a quarter of a median Lateral and Posterior
    voxel's signal variance, the part that the other channels cannot explain (measured on
    version 3 as one minus the 5-fold cross-validated R2 of a least-squares readout of the
    16 other channels, median over 40 voxels per ROI: Lateral 0.24, Posterior 0.24; 0.20 and
    0.19 with an English-speech indicator added), Anterior about half that (0.11; 0.09),
    Primary none.
    Its true response is standardised over stimuli and each of 3
    repetitions adds Gaussian noise of variance ``1 / rho - 1``, where ``rho`` (drawn per
    voxel, default uniform in 0.2 ... 0.9) is the voxel's single-repetition split-half
    reliability.

    The component variant (``synthetic-comp``, like NH2015comp) has six components from the
    same channels: low-frequency, high-frequency, envsounds, pitch, music, speech, with one
    repetition and a little noise.

Voxel coordinates (made up; the release has measured ones)
    Every voxel gets ``hemi`` (``"lh"``/``"rh"``, half each at random) and surface
    coordinates ``x_ras``, ``y_ras`` in mm: each ROI is a disc of radius
    :data:`ROI_RADIUS_MM` on a 2-D sheet per hemisphere (:data:`ROI_CENTRES_MM`, ``x``
    mirrored to negative in ``lh``), Primary in the middle and Anterior (``y`` larger),
    Lateral (``|x|`` larger) and Posterior (``y`` smaller) around it, near the RAS
    positions of Heschl's gyrus, planum polare, lateral STG and planum temporale. They are
    not measured, carry no information about the responses, and exist so that per-voxel
    maps (the best layer on the surface) can be drawn without the release.

``ground_truth_features(...)`` returns the channels themselves: the feature set whose
linear readout is exact, which must score at the noise ceiling. The loaded benchmark carries
them too (``Benchmark.ground_truth``, one column per channel, :func:`channel_group` names each
one's kind), so :func:`evaluate.analyses.channel_recovery` can say which of them a model's
layers carry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from data.cache import cache_root, get_or_build
from data.synth import CATEGORIES, synthesize, synthesize_word, vocabulary_words
from evaluate.benchmark import ROIS, Benchmark, BenchmarkError
from models.cochleagram import Cochleagram

log = logging.getLogger(__name__)

N_PER_CATEGORY = 15  # sounds per category, except English speech (WORD_CLIPS_PER_WORD per word)
WORD_CLIPS_PER_WORD = 15
COMPONENT_NAMES = ("low-frequency", "high-frequency", "envsounds", "pitch", "music", "speech")
BEST_FREQUENCIES = (200.0, 400.0, 800.0, 1600.0, 3200.0, 6400.0, 8000.0)
CATEGORY_CHANNELS = ("speech", "voice", "music", "pitch", "song", "animal")
MOD_BANDS = {"mod_slow": (1.0, 4.0), "mod_mid": (4.0, 16.0), "mod_fast": (16.0, 64.0)}
# Fraction of a voxel's weight on category channels, and how it is split among them.
HIGH_LEVEL_SHARE = {"Primary": 0.15, "Anterior": 0.55, "Lateral": 0.7, "Posterior": 0.7}
HIGH_LEVEL_MIX = {
    "Primary": {"pitch": 0.3, "speech": 0.3, "music": 0.2, "voice": 0.2},
    "Anterior": {"pitch": 0.45, "music": 0.35, "song": 0.1, "speech": 0.1},
    "Lateral": {"speech": 0.55, "voice": 0.3, "music": 0.1, "animal": 0.05},
    "Posterior": {"music": 0.4, "speech": 0.35, "song": 0.15, "pitch": 0.1},
}
ROI_SHARE = {"Primary": 0.25, "Anterior": 0.2, "Lateral": 0.3, "Posterior": 0.25}
# Words the English-speech sounds say (each WORD_CLIPS_PER_WORD times): the first 3 of the
# corpus vocabulary, so inside every trained vocabulary of >= 3 words.
SPOKEN_WORDS: tuple[str, ...] = tuple(vocabulary_words()[:3])
WORD_CHANNELS = tuple(f"word_{w}" for w in SPOKEN_WORDS)
# Fraction of a voxel's weight on the word channels (out of its category share).
WORD_SHARE = {"Primary": 0.0, "Anterior": 0.2, "Lateral": 0.45, "Posterior": 0.35}
# Made-up surface coordinates (mm): ROI disc centres (right hemisphere; lh has -x) and radius.
ROI_CENTRES_MM = {"Primary": (45.0, -21.0), "Anterior": (47.0, -8.0), "Lateral": (59.0, -21.0),
                  "Posterior": (47.0, -34.0)}  # fmt: skip
ROI_RADIUS_MM = 5.5
CACHE_VERSION = 3  # 3: 45 English-speech word clips (15 per word) instead of 15
# Per-voxel columns of ``bench.targets`` beyond target/participant/roi (the release's names).
VOXEL_METADATA = ("reliability", "hemi", "x_ras", "y_ras")


@dataclass(frozen=True)
class SyntheticSpec:
    """Settings of the synthetic benchmark (every one is part of its cache key)."""

    seed: int = 0
    n_participants: int = 8
    voxels_per_participant: int = 300
    n_reps: int = 3
    reliability: tuple[float, float] = (0.2, 0.9)  # single-repetition split-half correlation range
    component_noise: float = 0.1  # s.d. of the component variant's noise (signal s.d. 1)

    def __post_init__(self) -> None:
        if self.n_participants < 2:
            raise ValueError(f"n_participants must be >= 2, got {self.n_participants}")
        if self.voxels_per_participant < 4:
            raise ValueError(f"voxels_per_participant must be >= 4, got {self.voxels_per_participant}")
        if self.n_reps < 2:
            raise ValueError(f"n_reps must be >= 2 (noise correction needs repetitions), got {self.n_reps}")
        lo, hi = self.reliability
        if not 0 < lo <= hi < 1:
            raise ValueError(f"reliability must be a range inside (0, 1), got {self.reliability}")

    def key(self) -> str:
        text = json.dumps({"v": CACHE_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- stimuli
def category_size(category: str) -> int:
    """How many of the benchmark's sounds are in ``category`` (English speech: the word clips)."""
    return len(SPOKEN_WORDS) * WORD_CLIPS_PER_WORD if category == "EngSpeech" else N_PER_CATEGORY


def stimulus_set(seed: int = 0, progress: bool = True) -> tuple[np.ndarray, list[str], list[str], pd.DataFrame]:
    """Render the 195 stimuli: ``(waveforms [195, 40000] float32, ids, categories, latents)``.

    ``latents`` has one row per stimulus: ``subtype``, ``word`` (the word an English-speech
    sound says, :data:`SPOKEN_WORDS`; ``""`` for every other sound) and the synthesizer's
    latent labels.
    """
    waves, ids, cats, rows = [], [], [], []
    jobs = [(c, k) for c in CATEGORIES for k in range(category_size(c))]
    for category, k in tqdm(jobs, desc="Rendering synthetic stimuli", unit="sound", disable=not progress):
        sound_seed = seed * 100_003 + CATEGORIES.index(category) * 1000 + k
        word = SPOKEN_WORDS[k % len(SPOKEN_WORDS)] if category == "EngSpeech" else ""
        sound = synthesize_word(word, seed=sound_seed) if word else synthesize(category, seed=sound_seed)
        waves.append(sound.waveform.astype(np.float32))
        ids.append(f"syn{len(ids) + 1:03d}_{category}_{word or sound.subtype}")
        cats.append(category)
        rows.append({"subtype": sound.subtype, "word": word, **{k2: float(v) for k2, v in sound.latents.items()}})
    return np.stack(waves), ids, cats, pd.DataFrame(rows)


def spoken_words(stimulus_ids: list[str]) -> list[str]:
    """The word each stimulus says (:data:`SPOKEN_WORDS`), ``""`` for sounds that say none,
    read from the ids :func:`stimulus_set` gives (``syn<n>_EngSpeech_<word>``).

    Raises:
        BenchmarkError: an English-speech id whose last part is not a spoken word (ids of
            another benchmark, or of a benchmark version before the word clips).
    """
    words = []
    for stimulus_id in stimulus_ids:
        parts = str(stimulus_id).split("_")
        if len(parts) == 3 and parts[1] == "EngSpeech":
            if parts[2] not in SPOKEN_WORDS:
                raise BenchmarkError(f"stimulus {stimulus_id!r} is English speech but says none of {list(SPOKEN_WORDS)}")
            words.append(parts[2])
        else:
            words.append("")
    return words


# ----------------------------------------------------------------------------- channels
def _softplus(z: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, 2.0 * z - 1.0) / 2.0


def _zscore(x: np.ndarray) -> np.ndarray:
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def cochleagram_drives(waveforms: np.ndarray, batch_size: int = 8, progress: bool = True) -> dict[str, np.ndarray]:
    """Low-level drives ``{channel: [n_stimuli]}`` from the cochleagram ``[211, 390]`` of each sound."""
    coch = Cochleagram()
    cfs = coch.center_freqs  # [211] Hz
    env_rate = coch.env_sr  # Hz
    profiles, mods = [], {name: [] for name in MOD_BANDS}
    with torch.inference_mode():
        for start in tqdm(
            range(0, len(waveforms), batch_size), desc="Cochleagrams", unit="batch", disable=not progress
        ):
            c = coch(torch.from_numpy(waveforms[start : start + batch_size])).double().numpy()  # [b, 211, 390]
            profiles.append(c.mean(axis=2))
            spec = np.abs(np.fft.rfft(c - c.mean(axis=2, keepdims=True), axis=2)) ** 2
            freqs = np.fft.rfftfreq(c.shape[2], 1.0 / env_rate)
            for name, (lo, hi) in MOD_BANDS.items():
                band = (freqs >= lo) & (freqs < hi)
                mods[name].append(np.log(spec[:, :, band].sum(axis=2).mean(axis=1) + 1e-12))
    profile = np.concatenate(profiles)  # [n, 211], compressed envelope
    log_cf = np.log2(np.asarray(cfs, dtype=float))
    drives = {}
    for bf in BEST_FREQUENCIES:
        weights = np.exp(-0.5 * ((log_cf - np.log2(bf)) / 0.5) ** 2)
        drives[f"tono_{int(bf)}"] = profile @ (weights / weights.sum())
    drives.update({name: np.concatenate(v) for name, v in mods.items()})
    return drives


def category_drives(latents: pd.DataFrame, low: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Category-selective drives ``{channel: [n_stimuli]}`` from the synthesizer's latents,
    with graded stimulus-specific parts."""
    lat = {k: latents[k].to_numpy(float) for k in latents.columns if k not in ("subtype", "word")}
    rate = np.log1p(lat["onset_rate"])
    pitch_strength = lat["pitched"] * lat["harmonicity"]
    return {
        "speech": lat["speech"] * (1.0 + 0.25 * _zscore(rate)) + 0.3 * lat["english"] * lat["speech"],
        "voice": lat["voice"] + 0.2 * lat["speech"],
        "music": lat["music"] * (1.0 + 0.2 * _zscore(low["mod_slow"])) + 0.2 * pitch_strength,
        "pitch": pitch_strength * (1.0 + 0.15 * _zscore(np.log1p(lat["f0"]))),
        "song": lat["song"] + 0.3 * lat["music"] * lat["voice"],
        "animal": lat["animal"] * (1.0 + 0.2 * lat["vocalisation"]),
    }


def word_drives(words: pd.Series | list[str]) -> dict[str, np.ndarray]:
    """Word-identity drives ``{word_<w>: [n_stimuli]}``: 1 where the sound says ``w``, else 0.

    Raises:
        BenchmarkError: a word outside :data:`SPOKEN_WORDS`, or one no sound says.
    """
    words = [str(w) if isinstance(w, str) else "" for w in words]  # a CSV round trip reads "" as NaN
    unknown = sorted(set(words) - {"", *SPOKEN_WORDS})
    if unknown:
        raise BenchmarkError(f"stimulus words {unknown} are not among SPOKEN_WORDS {list(SPOKEN_WORDS)}")
    drives = {f"word_{w}": np.array([x == w for x in words], dtype=float) for w in SPOKEN_WORDS}
    absent = [name for name, d in drives.items() if not d.any()]
    if absent:
        raise BenchmarkError(f"no stimulus says the words of channels {absent}")
    return drives


def response_channels(drives: dict[str, np.ndarray]) -> pd.DataFrame:
    """Static nonlinearity of the z-scored drives: ``[n_stimuli, channels]`` (the ground truth)."""
    return pd.DataFrame({name: _softplus(_zscore(d)) for name, d in drives.items()})


def stimulus_channels(low: dict[str, np.ndarray], latents: pd.DataFrame) -> pd.DataFrame:
    """The ground truth ``[n_stimuli, channels]`` of a set of sounds from their low-level drives
    (:func:`cochleagram_drives`, per sound) and latents (:func:`stimulus_set`): the category
    and word drives added, every drive z-scored over this set of sounds."""
    return response_channels({**low, **category_drives(latents, low), **word_drives(latents["word"])})


# ----------------------------------------------------------------------------- voxels
def _voxel_weights(rng: np.random.Generator, roi: str, channels: list[str]) -> np.ndarray:
    """Nonnegative channel weights of one voxel in ``roi``."""
    w = np.zeros(len(channels))
    tono = [i for i, c in enumerate(channels) if c.startswith("tono_")]
    mods = [i for i, c in enumerate(channels) if c.startswith("mod_")]
    best = rng.uniform(0, len(tono) - 1)  # tonotopic position
    tuning = np.exp(-0.5 * ((np.arange(len(tono)) - best) / rng.uniform(0.5, 1.2)) ** 2)
    low = np.concatenate([tuning / tuning.sum() * 0.75, rng.dirichlet(np.ones(len(mods))) * 0.25])
    share = np.clip(HIGH_LEVEL_SHARE[roi] + rng.normal(0, 0.08), 0.02, 0.95)
    w[tono + mods] = (1 - share) * low
    word_share = min(WORD_SHARE[roi], share)
    mix = HIGH_LEVEL_MIX[roi]
    jitter = rng.dirichlet(np.array(list(mix.values())) * 20)
    for (name, _), value in zip(mix.items(), jitter):
        w[channels.index(name)] += (share - word_share) * value
    words = [channels.index(c) for c in WORD_CHANNELS]
    w[words] += word_share * rng.dirichlet(np.ones(len(words)))  # graded tuning over the spoken words
    return w


def voxel_coordinates(rng: np.random.Generator, roi: np.ndarray) -> pd.DataFrame:
    """Made-up surface positions ``hemi``, ``x_ras``, ``y_ras`` (mm) of voxels in ``roi``
    ``[n_voxels]``: uniform in the ROI's disc (:data:`ROI_CENTRES_MM`), ``x`` negative in ``lh``."""
    n = len(roi)
    hemi = np.where(rng.random(n) < 0.5, "lh", "rh").astype(object)
    radius = ROI_RADIUS_MM * np.sqrt(rng.random(n))  # uniform over the disc's area
    angle = rng.uniform(0.0, 2.0 * np.pi, n)
    centre = np.array([ROI_CENTRES_MM[r] for r in roi])
    x = centre[:, 0] + radius * np.cos(angle)
    y = centre[:, 1] + radius * np.sin(angle)
    return pd.DataFrame({"hemi": hemi, "x_ras": np.where(hemi == "lh", -x, x).round(2), "y_ras": y.round(2)})


def build_arrays(spec: SyntheticSpec, progress: bool = True) -> dict:
    """Everything the benchmark stores: stimuli, channels, voxel and component responses."""
    waveforms, ids, categories, latents = stimulus_set(spec.seed, progress)
    low = cochleagram_drives(waveforms, progress=progress)
    channels = stimulus_channels(low, latents)
    names = list(channels.columns)
    x = channels.to_numpy()

    rng = np.random.default_rng([spec.seed, 7])
    n_vox = spec.n_participants * spec.voxels_per_participant
    counts = rng.multinomial(spec.voxels_per_participant - 4, list(ROI_SHARE.values()), size=spec.n_participants) + 1
    roi = np.concatenate([np.repeat(list(ROI_SHARE), row) for row in counts])
    participant = np.repeat(np.arange(1, spec.n_participants + 1), spec.voxels_per_participant)
    weights = np.stack([_voxel_weights(rng, r, names) for r in roi])  # [voxels, channels]
    signal = _zscore(x @ weights.T)  # [stimuli, voxels]
    rho = rng.uniform(*spec.reliability, n_vox)
    noise_sd = np.sqrt(1.0 / rho - 1.0)
    responses = signal[:, :, None] + noise_sd[None, :, None] * rng.standard_normal((len(ids), n_vox, spec.n_reps))
    coordinates = voxel_coordinates(np.random.default_rng([spec.seed, 11]), roi)  # own stream: weights unchanged

    comp_signal = np.stack(
        [
            channels[[c for c in names if c.startswith("tono_") and int(c[5:]) <= 800]].mean(axis=1),
            channels[[c for c in names if c.startswith("tono_") and int(c[5:]) >= 3200]].mean(axis=1),
            _softplus(_zscore((1 - latents["speech"]) * (1 - latents["music"]) * (1 - latents["voice"]).to_numpy(float)
                              + 0.3 * _zscore(low["mod_fast"]))),
            channels["pitch"],
            channels["music"],
            channels["speech"],
        ],
        axis=1,
    )  # fmt: skip
    components = _zscore(comp_signal) + spec.component_noise * rng.standard_normal(comp_signal.shape)
    return {
        "waveforms": waveforms,
        "ids": ids,
        "categories": categories,
        "latents": latents,
        "channels": channels,
        "responses": responses,
        "participant": participant,
        "roi": roi,
        "weights": weights,
        "reliability": rho,
        "coordinates": coordinates,
        "components": components,
    }


# ----------------------------------------------------------------------------- cache + loader
def _entry(spec: SyntheticSpec, cache_dir: str | os.PathLike | None) -> Path:
    return cache_root(cache_dir) / "synthetic_benchmark" / spec.key()


def _build_into(spec: SyntheticSpec, progress: bool):
    def build(tmp: Path) -> dict:
        arrays = build_arrays(spec, progress)
        np.save(tmp / "waveforms.npy", arrays["waveforms"])
        np.save(tmp / "responses.npy", arrays["responses"].astype(np.float64))
        np.save(tmp / "components.npy", arrays["components"].astype(np.float64))
        np.save(tmp / "weights.npy", arrays["weights"])
        arrays["channels"].to_csv(tmp / "channels.csv", index=False)
        stim = arrays["latents"].assign(stimulus_id=arrays["ids"], category=arrays["categories"])
        stim.to_csv(tmp / "stimuli.csv", index=False)
        pd.DataFrame(
            {"voxel": np.arange(len(arrays["roi"])), "participant": arrays["participant"], "roi": arrays["roi"],
             "reliability": arrays["reliability"], **arrays["coordinates"]}
        ).to_csv(tmp / "voxels.csv", index=False)  # fmt: skip
        return {"spec": asdict(spec), "kind": "synthetic auditory-cortex benchmark (not brain data)"}

    return build


def load_synthetic(
    *,
    seed: int = 0,
    n_participants: int = 8,
    voxels_per_participant: int = 300,
    n_reps: int = 3,
    reliability: tuple[float, float] = (0.2, 0.9),
    components: bool = False,
    waveforms: bool = True,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> Benchmark:
    """The SYNTHETIC benchmark (``"synthetic"``, or ``"synthetic-comp"`` with ``components=True``).

    Built once (about a minute: stimuli, cochleagrams, responses) into
    ``<cache>/synthetic_benchmark/<key>/`` and reloaded from there; a corrupt entry is rebuilt.
    """
    spec = SyntheticSpec(seed, n_participants, voxels_per_participant, n_reps, tuple(reliability))
    entry = _entry(spec, cache_dir)
    entry.parent.mkdir(parents=True, exist_ok=True)
    get_or_build(entry, _build_into(spec, progress))
    stim = pd.read_csv(entry / "stimuli.csv")
    ids = stim["stimulus_id"].astype(str).tolist()
    wav = np.load(entry / "waveforms.npy") if waveforms else None
    if components:
        comp = np.load(entry / "components.npy")
        return Benchmark.from_arrays(
            comp, participant=np.array(["synthetic"] * len(COMPONENT_NAMES), dtype=object),
            stimulus_ids=ids, waveforms=wav, name="synthetic-comp", target_ids=list(COMPONENT_NAMES),
            categories=stim["category"].tolist(), kind="components",
        )  # fmt: skip
    vox = pd.read_csv(entry / "voxels.csv")
    bench = Benchmark.from_arrays(
        np.load(entry / "responses.npy"), participant=vox["participant"].to_numpy(), roi=vox["roi"].to_numpy(),
        stimulus_ids=ids, waveforms=wav, name="synthetic", target_ids=vox["voxel"].to_numpy(),
        categories=stim["category"].tolist(), metadata=vox[list(VOXEL_METADATA)],
        ground_truth=pd.read_csv(entry / "channels.csv"),
    )  # fmt: skip
    if set(bench.roi) - set(ROIS):
        raise BenchmarkError(f"{entry}: unexpected ROI labels {sorted(set(bench.roi) - set(ROIS))}")
    return bench


def channel_group(channel: str) -> str:
    """``"tonotopic"``, ``"modulation"``, ``"category"`` or ``"word"``: the kind of a response
    channel (:func:`response_channels`' column names)."""
    if channel.startswith("tono_"):
        return "tonotopic"
    if channel in MOD_BANDS:
        return "modulation"
    if channel in CATEGORY_CHANNELS:
        return "category"
    if channel in WORD_CHANNELS:
        return "word"
    raise ValueError(f"channel {channel!r} is none of the synthetic benchmark's channels")


def ground_truth_features(
    seed: int = 0,
    n_participants: int = 8,
    voxels_per_participant: int = 300,
    cache_dir: str | os.PathLike | None = None,
) -> np.ndarray:
    """The response channels ``[195, n_channels]`` of the benchmark built with these settings:
    the features whose linear readout generated the voxels."""
    spec = SyntheticSpec(seed, n_participants, voxels_per_participant)
    entry = _entry(spec, cache_dir)
    if not (entry / "channels.csv").is_file():
        load_synthetic(
            seed=seed,
            n_participants=n_participants,
            voxels_per_participant=voxels_per_participant,
            cache_dir=cache_dir,
            waveforms=False,
        )
    return pd.read_csv(entry / "channels.csv").to_numpy()

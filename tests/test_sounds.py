"""Tests of the procedural sound synthesizer (data/synth: render, catalog and the generators)."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import numpy as np
import pytest

from data.audio import SAMPLE_RATE
from data.synth import (
    CATEGORIES,
    EVENT_CLASSES,
    SUBTYPES,
    SynthSound,
    english_voices,
    synthesize,
    synthesize_event,
)
from data.synth.catalog import CATEGORY_OF
from data.synth.texts import FOREIGN

SPEECH = ("EngSpeech", "ForSpeech")
ALL_SUBTYPES = [(c, s) for c in CATEGORIES for s in SUBTYPES[c]]
FLAG_KEYS = ("speech", "english", "music", "song", "voice", "animal", "vocalisation")
LATENT_KEYS = FLAG_KEYS + ("pitched", "f0", "harmonicity", "onset_rate")
RESOURCES = Path(__file__).resolve().parents[1] / "data" / "resources"


@pytest.fixture(scope="module")
def rendered() -> dict[str, SynthSound]:
    """Every subtype (speech languages included), seed 0, 2 s."""
    return {s: synthesize(c, 0, subtype=s) for c, s in ALL_SUBTYPES}


def check_waveform(snd: SynthSound, n: int = 40000) -> None:
    x = snd.waveform
    assert isinstance(x, np.ndarray) and x.dtype == np.float32 and x.shape == (n,)
    assert np.all(np.isfinite(x))
    x64 = x.astype(np.float64)
    assert abs(math.sqrt(np.mean(x64**2)) - 0.1) < 1e-4
    assert abs(x64.mean()) < 1e-6
    assert np.max(np.abs(x64)) < 1.0


def yin(x: np.ndarray, fmin: float = 60.0, fmax: float = 2000.0) -> tuple[np.ndarray, np.ndarray]:
    """Independent pitch check (YIN): per 40 ms frame (hop 20 ms, frames within 30 dB of
    the loudest), the f0 in Hz and the periodicity 1 - min(cumulative mean normalised
    difference), which is ~1 for periodic sounds and low for noise."""
    w, hop = int(0.04 * SAMPLE_RATE), int(0.02 * SAMPLE_RATE)
    tmax, tmin = int(SAMPLE_RATE / fmin) + 1, int(SAMPLE_RATE / fmax)
    x = x.astype(np.float64)
    starts = np.arange(0, x.size - w - tmax, hop)
    energy = np.array([np.sum(x[s : s + w] ** 2) for s in starts])
    f0s, periodicity = [], []
    for s in starts[energy > energy.max() * 1e-3]:
        frames = np.lib.stride_tricks.sliding_window_view(x[s : s + w + tmax], w)[:tmax]
        d = np.sum((frames - frames[0]) ** 2, axis=1)
        cmnd = np.concatenate([[1.0], d[1:] * np.arange(1, tmax) / np.maximum(np.cumsum(d[1:]), 1e-12)])
        below = np.flatnonzero(cmnd[tmin:] < 0.2)
        if below.size:  # first dip under the threshold, then down to its minimum
            tau = tmin + below[0]
            while tau + 1 < tmax and cmnd[tau + 1] < cmnd[tau]:
                tau += 1
        else:
            tau = tmin + int(np.argmin(cmnd[tmin:]))
        a, b, c = cmnd[tau - 1], cmnd[tau], cmnd[min(tau + 1, tmax - 1)]
        shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c > 0 else 0.0
        f0s.append(SAMPLE_RATE / (tau + shift))
        periodicity.append(1.0 - cmnd[tau])
    return np.array(f0s), np.array(periodicity)


def centroid(x: np.ndarray) -> float:
    mag = np.abs(np.fft.rfft(x.astype(np.float64)))
    freqs = np.fft.rfftfreq(x.size, 1.0 / SAMPLE_RATE)
    return float(np.sum(freqs * mag) / np.sum(mag))


# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------
def test_constants():
    assert SAMPLE_RATE == 20000
    assert CATEGORIES == (
        "Music", "Song", "EngSpeech", "ForSpeech", "HumVoc", "AniVoc",
        "HumNonVoc", "AniNonVoc", "Nature", "Mechanical", "EnvSound",
    )  # fmt: skip
    assert tuple(SUBTYPES) == CATEGORIES
    names = [s for subs in SUBTYPES.values() for s in subs]
    assert len(names) == len(set(names)), "subtype names must be globally unique"
    assert SUBTYPES["EngSpeech"] == ("english",)
    assert len(SUBTYPES["ForSpeech"]) >= 5 and "english" not in SUBTYPES["ForSpeech"]


def test_event_classes():
    assert len(EVENT_CLASSES) >= 20
    assert len(set(EVENT_CLASSES)) == len(EVENT_CLASSES)
    speech = {s for c in SPEECH for s in SUBTYPES[c]}
    assert not speech & set(EVENT_CLASSES)
    non_speech = [s for c in CATEGORIES if c not in SPEECH for s in SUBTYPES[c]]
    assert list(EVENT_CLASSES) == non_speech
    for c in CATEGORIES:
        if c not in SPEECH:
            assert SUBTYPES[c], c


# ---------------------------------------------------------------------------
# Waveform contract
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("subtype", [s for _, s in ALL_SUBTYPES])
def test_every_subtype_renders(rendered, subtype):
    snd = rendered[subtype]
    check_waveform(snd)
    assert snd.category == CATEGORY_OF[subtype] and snd.subtype == subtype
    assert set(LATENT_KEYS) <= set(snd.latents)
    assert all(isinstance(v, float) and math.isfinite(v) for v in snd.latents.values())
    lat = snd.latents
    assert 0.0 <= lat["pitched"] <= 1.0 and 0.0 <= lat["harmonicity"] <= 1.0
    assert lat["onset_rate"] >= 0.0 and lat["f0"] >= 0.0
    assert (lat["f0"] > 0) == (lat["pitched"] > 0), "f0 is given exactly when the sound is (partly) pitched"
    if lat["f0"] > 0:
        assert 20.0 <= lat["f0"] <= 9000.0
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in snd.info.items())


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_renders_without_subtype(category):
    for seed in range(3):
        snd = synthesize(category, seed)
        check_waveform(snd)
        assert snd.category == category and snd.subtype in SUBTYPES[category]


@pytest.mark.parametrize("subtype", EVENT_CLASSES)
def test_short_clips(subtype):
    snd = synthesize_event(subtype, 1, duration=0.05)
    check_waveform(snd, 1000)


@pytest.mark.parametrize("subtype", ["rain", "piano", "dog_bark", "english", "bells"])
def test_long_and_odd_durations(subtype):
    check_waveform(synthesize_event(subtype, 2, duration=3.3), 66000)
    check_waveform(synthesize_event(subtype, 2, duration=1.23456), round(1.23456 * SAMPLE_RATE))


def test_synthesize_event_matches_synthesize():
    a = synthesize_event("siren", 5)
    b = synthesize("Mechanical", 5, subtype="siren")
    assert np.array_equal(a.waveform, b.waveform) and a.latents == b.latents
    assert synthesize_event("german", 1).category == "ForSpeech"


# ---------------------------------------------------------------------------
# Determinism and variation
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("subtype", ["flute", "crowd", "rain", "laugh", "english", "french"])
def test_deterministic(rendered, subtype):
    again = synthesize(CATEGORY_OF[subtype], 0, subtype=subtype)
    assert np.array_equal(again.waveform, rendered[subtype].waveform)
    assert again.latents == rendered[subtype].latents and again.info == rendered[subtype].info
    other = synthesize(CATEGORY_OF[subtype], 1, subtype=subtype)
    assert not np.allclose(other.waveform, rendered[subtype].waveform, atol=1e-3)


def test_seeds_vary_parameters():
    f0s = {round(synthesize_event("flute", s).latents["f0"], 3) for s in range(8)}
    assert len(f0s) >= 4
    rates = {round(synthesize_event("footsteps", s).latents["onset_rate"], 3) for s in range(8)}
    assert len(rates) >= 2
    picked = {synthesize("Music", s).subtype for s in range(30)}
    assert len(picked) >= 5, "subtype=None must spread over the subtypes"


def test_default_subtype_equals_explicit():
    for seed in (0, 7):
        auto = synthesize("Nature", seed)
        explicit = synthesize("Nature", seed, subtype=auto.subtype)
        assert np.array_equal(auto.waveform, explicit.waveform)


def test_numpy_integer_seed():
    a = synthesize_event("alarm", np.int64(3))
    assert np.array_equal(a.waveform, synthesize_event("alarm", 3).waveform)


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------
def test_unknown_category():
    with pytest.raises(ValueError, match="unknown category") as exc:
        synthesize("Jazz", 0)
    assert all(c in str(exc.value) for c in CATEGORIES)


def test_unknown_subtype():
    with pytest.raises(ValueError, match="unknown subtype") as exc:
        synthesize("Music", 0, subtype="banjo")
    assert all(s in str(exc.value) for s in SUBTYPES["Music"])
    with pytest.raises(ValueError, match="valid subtypes"):
        synthesize("Music", 0, subtype="rain")  # exists, but in another category
    with pytest.raises(ValueError, match="unknown event class") as exc:
        synthesize_event("unicorn", 0)
    assert "dog_bark" in str(exc.value) and "rain" in str(exc.value)


@pytest.mark.parametrize("duration", [0, -1.0, float("nan"), float("inf"), 0.001])
def test_bad_duration(duration):
    with pytest.raises(ValueError, match="duration"):
        synthesize("Music", 0, duration=duration)
    with pytest.raises(ValueError, match="duration"):
        synthesize_event("rain", 0, duration=duration)


@pytest.mark.parametrize("duration", ["2", None, True])
def test_duration_type(duration):
    with pytest.raises(TypeError, match="duration"):
        synthesize("Nature", 0, duration=duration)


def test_bad_seed():
    with pytest.raises(TypeError):
        synthesize("Music", 1.5)


# ---------------------------------------------------------------------------
# Latents
# ---------------------------------------------------------------------------
# The independent statement of the flags: for each flag, the categories that carry it
# (the synthesizer states them per category); crowd babble also carries "voice".
FLAG_CATEGORIES = {
    "speech": {"EngSpeech", "ForSpeech"},
    "english": {"EngSpeech"},
    "music": {"Music", "Song"},
    "song": {"Song"},
    "voice": {"Song", "EngSpeech", "ForSpeech", "HumVoc"},
    "animal": {"AniVoc", "AniNonVoc"},
    "vocalisation": {"Song", "EngSpeech", "ForSpeech", "HumVoc", "AniVoc"},
}


@pytest.mark.parametrize("subtype", [s for _, s in ALL_SUBTYPES])
def test_flags(rendered, subtype):
    snd = rendered[subtype]
    babble = subtype == "crowd"
    expected = {k: float(snd.category in cats or (k == "voice" and babble)) for k, cats in FLAG_CATEGORIES.items()}
    assert set(FLAG_CATEGORIES) == set(FLAG_KEYS)
    assert {k: snd.latents[k] for k in FLAG_KEYS} == expected


def test_pitched_and_harmonic_latents(rendered):
    for s in ("flute", "organ", "strings", "solo_voice", "siren", "alarm", "insect_buzz", "cow_moo", "engine"):
        assert rendered[s].latents["pitched"] >= 0.8, s
        assert rendered[s].latents["harmonicity"] >= 0.6, s
    for s in ("rain", "wind", "stream", "thunder", "fire", "waves", "footsteps", "clapping", "drums", "scratching"):
        assert rendered[s].latents["pitched"] == 0.0 and rendered[s].latents["f0"] == 0.0, s
        assert rendered[s].latents["harmonicity"] <= 0.2, s
    for s in SUBTYPES["ForSpeech"] + ("english",):
        lat = rendered[s].latents
        assert 0.3 <= lat["pitched"] <= 1.0 and 60.0 <= lat["f0"] <= 400.0, (s, lat)
        assert 1.0 <= lat["onset_rate"] <= 12.0, (s, lat)  # syllables per second


def test_onset_rates(rendered):
    assert rendered["engine"].latents["onset_rate"] == 0.0  # continuous
    assert rendered["rain"].latents["onset_rate"] > 30.0  # drops
    for s in ("footsteps", "clapping", "knocking", "laugh", "piano", "drums", "dog_bark"):
        assert 0.4 <= rendered[s].latents["onset_rate"] <= 20.0, s


def pitched_examples() -> list[tuple[str, int]]:
    sirens = [s for s in range(10) if synthesize_event("siren", s).info["variant"] != "hilo"][:2]
    base = [(s, seed) for s in ("flute", "solo_voice", "insect_buzz", "cow_moo", "cry") for seed in (0, 1)]
    return base + [("siren", s) for s in sirens]


@pytest.mark.parametrize("subtype,seed", pitched_examples())
def test_f0_matches_measured_pitch(subtype, seed):
    snd = synthesize_event(subtype, seed)
    f0, periodicity = yin(snd.waveform)
    voiced = periodicity > 0.7
    assert voiced.mean() > 0.7, "a clearly pitched sound must be periodic most of the time"
    measured = float(np.median(f0[voiced]))
    assert abs(measured / snd.latents["f0"] - 1.0) < 0.1, (measured, snd.latents["f0"])


@pytest.mark.parametrize("subtype", ["rain", "wind", "stream"])
def test_noise_textures_are_aperiodic(subtype):
    for seed in range(2):
        _, periodicity = yin(synthesize_event(subtype, seed).waveform)
        assert np.median(periodicity) < 0.4 and np.mean(periodicity > 0.7) < 0.2


def test_spectral_differences():
    def mean_centroid(subtype: str) -> float:
        return float(np.mean([centroid(synthesize_event(subtype, s).waveform) for s in range(3)]))

    assert mean_centroid("rain") > 1.5 * mean_centroid("engine")
    assert mean_centroid("bird_chirp") > 2.0 * mean_centroid("cow_moo")
    assert mean_centroid("cricket") > mean_centroid("thunder")


# ---------------------------------------------------------------------------
# Speech
# ---------------------------------------------------------------------------
def test_speech_voices(rendered):
    english = set(english_voices())
    eng = rendered["english"]
    assert eng.info["voice"].split("+")[0] in english
    words = set()
    for name in ("context_words.txt", "vocabulary.txt"):
        lines = (RESOURCES / name).read_text(encoding="utf-8").splitlines()
        words |= {ln.strip().lower() for ln in lines if ln.strip() and not ln.startswith("#")}
    tokens = re.findall(r"[\w']+", eng.info["text"].lower())
    assert tokens and set(tokens) <= words
    languages = {FOREIGN[s][0] for s in SUBTYPES["ForSpeech"]}
    for s in SUBTYPES["ForSpeech"]:
        info = rendered[s].info
        lang = info["voice"].split("+")[0]
        assert lang == FOREIGN[s][0] and lang not in english
        assert info["text"]
    assert len(languages) == len(SUBTYPES["ForSpeech"])
    voices = {synthesize("EngSpeech", seed).info["voice"] for seed in range(6)}
    assert len(voices) >= 3, "English voices/variants must vary with the seed"


# ---------------------------------------------------------------------------
# Speed (reported, not asserted)
# ---------------------------------------------------------------------------
def test_render_speed(capsys):
    synthesize("EngSpeech", 99)  # load espeak outside the timing
    per_category = {}
    for c in CATEGORIES:
        start = time.perf_counter()
        for seed in range(3):
            synthesize(c, 1000 + seed)
        per_category[c] = (time.perf_counter() - start) / 3
    with capsys.disabled():
        print("\nmean render time per 2 s sound (ms):")
        for c, t in per_category.items():
            print(f"  {c:11s} {1000 * t:6.1f}")
        print(f"  {'all':11s} {1000 * np.mean(list(per_category.values())):6.1f}")

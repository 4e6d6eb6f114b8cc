"""Tests for the espeak-ng engine (data/synth/espeak*.py, alignment.py): real synthesis, no mocks."""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import pickle
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from data.synth import espeak_lib
from data.synth.espeak import (
    EspeakSynthesizer,
    Utterance,
    Voice,
    WordTiming,
    english_voices,
    voice_variants,
)

SR = 20000
TEXT = "The quick brown fox jumps over the lazy dog."
TEXT2 = "Hello there, this is a short test."


def words_of(text: str) -> list[str]:
    return re.findall(r"[\w']+", text)


@pytest.fixture(scope="module")
def synth() -> EspeakSynthesizer:
    return EspeakSynthesizer(sample_rate=SR)


@pytest.fixture(scope="module")
def utt(synth: EspeakSynthesizer) -> Utterance:
    return synth.synthesize(TEXT, Voice("en-us"))


def assert_same(a: Utterance, b: Utterance) -> None:
    assert a.sample_rate == b.sample_rate
    assert a.waveform.dtype == b.waveform.dtype
    assert np.array_equal(a.waveform, b.waveform)
    assert a.words == b.words


def check_timings(u: Utterance) -> None:
    n = len(u.waveform)
    prev_end = 0
    for w in u.words:
        assert isinstance(w, WordTiming)
        assert isinstance(w.start, int) and isinstance(w.end, int)
        assert prev_end <= w.start < w.end <= n, (w, prev_end, n)
        prev_end = w.end
    starts = [w.start for w in u.words]
    assert starts == sorted(set(starts))  # strictly increasing


# --------------------------------------------------------------------------- layout
@pytest.mark.skipif(ctypes.sizeof(ctypes.c_void_p) != 8, reason="64-bit layout")
def test_event_struct_layout_64bit() -> None:
    ev = espeak_lib._EspeakEvent
    assert ctypes.sizeof(ev) == 40
    assert [ev.text_position.offset, ev.length.offset, ev.audio_position.offset, ev.sample.offset] == [8, 12, 16, 20]
    assert ev.user_data.offset == 24 and ev.id.offset == 32
    assert ctypes.sizeof(espeak_lib._EventId) == 8


# --------------------------------------------------------------------------- basics
def test_waveform_basic(synth: EspeakSynthesizer, utt: Utterance) -> None:
    assert utt.sample_rate == SR == synth.sample_rate
    assert synth.native_sample_rate == 22050
    w = utt.waveform
    assert isinstance(w, np.ndarray) and w.ndim == 1 and w.dtype == np.float32
    assert w.size > SR // 2
    assert np.isfinite(w).all()
    assert w.min() >= -1.0 and w.max() < 1.0
    assert 0.05 < np.abs(w).max()
    assert 1.0 < utt.duration < 6.0


def test_words_match_text(utt: Utterance) -> None:
    assert [w.text for w in utt.words] == words_of(TEXT)
    check_timings(utt)


def test_word_energy_vs_trailing_silence(utt: Utterance) -> None:
    w = utt.waveform.astype(np.float64)
    last_end = utt.words[-1].end
    tail = w[last_end:]
    assert len(tail) > 0.1 * SR  # espeak's sentence-final pause
    tail_power = np.mean(tail**2)
    for word in utt.words:
        span_power = np.mean(w[word.start : word.end] ** 2)
        assert span_power > 1e3 * tail_power + 1e-9, word  # > 30 dB above the silence
    # nearly all of the audio energy is inside the word spans
    inside = sum(np.sum(w[x.start : x.end] ** 2) for x in utt.words)
    assert inside > 0.999 * np.sum(w**2)


def test_word_starts_match_native_event_times(synth: EspeakSynthesizer, utt: Utterance) -> None:
    native = EspeakSynthesizer(sample_rate=22050).synthesize(TEXT, Voice("en-us"))
    assert np.array_equal(native.waveform * 32768, np.round(native.waveform * 32768))  # no resampling
    assert abs(len(utt.waveform) - len(native.waveform) * 400 / 441) <= 1
    assert [x.text for x in native.words] == [x.text for x in utt.words]
    for a, b in zip(native.words, utt.words):
        assert abs(a.start * 400 / 441 - b.start) <= 1
        assert abs(a.end * 400 / 441 - b.end) <= 0.012 * SR  # one frame, at each rate


def test_comma_pause_not_in_word(synth: EspeakSynthesizer) -> None:
    u = synth.synthesize(TEXT2, Voice("en-us"))
    assert [w.text for w in u.words] == words_of(TEXT2)
    check_timings(u)
    there, this = u.words[1], u.words[2]
    gap = u.waveform[there.end : this.start].astype(np.float64)
    assert len(gap) > 0.05 * SR  # the comma pause lies between the words
    assert np.mean(gap**2) < 1e-3 * np.mean(u.waveform[there.start : there.end].astype(np.float64) ** 2)


def test_messy_text_words_are_substrings(synth: EspeakSynthesizer) -> None:
    text = '(Quoted) "words" - 42 apples — rock & roll, e-mail... Größe über!'
    u = synth.synthesize(text, Voice("en-us"))
    check_timings(u)
    pos = 0
    for w in u.words:
        i = text.find(w.text, pos)
        assert i >= 0, (w.text, text[pos:])
        pos = i + len(w.text)
    assert [w.text for w in u.words] == ["Quoted", "words", "42", "apples", "rock", "&", "roll", "e-mail", "Größe", "über"]


# --------------------------------------------------------------------------- determinism
def test_deterministic_repeat_and_after_other_voice(synth: EspeakSynthesizer, utt: Utterance) -> None:
    again = synth.synthesize(TEXT, Voice("en-us"))
    assert_same(utt, again)
    synth.synthesize("Something completely different.", Voice("en", variant="klatt", pitch=80, rate=300))
    synth.synthesize("Guten Tag.", Voice("de", variant="f2"))
    assert_same(utt, synth.synthesize(TEXT, Voice("en-us")))
    # also for a Klatt voice (uses random noise) and a new synthesizer instance
    v = Voice("en-gb-scotland", variant="klatt3", pitch=60)
    a = synth.synthesize(TEXT2, v)
    synth.synthesize(TEXT, Voice("en-us", variant="m3"))
    assert_same(a, EspeakSynthesizer(SR).synthesize(TEXT2, v))


# --------------------------------------------------------------------------- voices
def test_voice_name() -> None:
    assert Voice("en-us", "m3").name() == "en-us+m3"
    assert Voice("en").name() == "en"
    assert Voice("en", pitch=np.int64(60)).pitch == 60


def test_voice_lists() -> None:
    ev = english_voices()
    assert ev == sorted(ev)
    assert {"en", "en-us", "en-gb-scotland", "en-029"} <= set(ev)
    assert all(v == "en" or v.startswith("en-") for v in ev)
    var = voice_variants()
    assert var == sorted(var)
    assert {"m3", "f2", "klatt"} <= set(var)


def test_different_voices_differ(synth: EspeakSynthesizer, utt: Utterance) -> None:
    variants = {
        "variant": Voice("en-us", variant="m3"),
        "pitch": Voice("en-us", pitch=80),
        "pitch_range": Voice("en-us", pitch_range=90),
        "rate": Voice("en-us", rate=300),
        "accent": Voice("en-gb-scotland"),
    }
    for what, v in variants.items():
        u = synth.synthesize(TEXT, v)
        assert [w.text for w in u.words] == words_of(TEXT), what
        check_timings(u)
        assert not (len(u.waveform) == len(utt.waveform) and np.array_equal(u.waveform, utt.waveform)), what
    slow = synth.synthesize(TEXT, Voice("en-us", rate=120))
    fast = synth.synthesize(TEXT, Voice("en-us", rate=300))
    assert len(fast.waveform) < 0.7 * len(slow.waveform)
    assert fast.words[-1].end < slow.words[-1].end


def test_all_english_voices_work(synth: EspeakSynthesizer) -> None:
    for name in english_voices():
        u = synth.synthesize("One two three.", Voice(name))
        assert [w.text for w in u.words] == ["One", "two", "three"], name
        check_timings(u)


def test_non_english_voice(synth: EspeakSynthesizer) -> None:
    text = "Guten Morgen, wie geht es dir heute?"
    u = synth.synthesize(text, Voice("de"))
    assert [w.text for w in u.words] == words_of(text)
    check_timings(u)
    assert np.isfinite(u.waveform).all() and np.abs(u.waveform).max() > 0.05
    fr = synth.synthesize("Bonjour à tous, ça va très bien.", Voice("fr", variant="f2"))
    assert [w.text for w in fr.words] == ["Bonjour", "à", "tous", "ça", "va", "très", "bien"]


# --------------------------------------------------------------------------- errors
def test_unknown_language(synth: EspeakSynthesizer) -> None:
    with pytest.raises(ValueError, match="xx-yy") as exc:
        synth.synthesize(TEXT, Voice("xx-yy", variant="m3"))
    assert "'en-us'" in str(exc.value)  # lists available names
    with pytest.raises(ValueError, match="en-gb"):  # a language code, but not a voice name
        synth.synthesize(TEXT, Voice("en-gb"))


def test_unknown_variant(synth: EspeakSynthesizer) -> None:
    with pytest.raises(ValueError, match=r"en-us\+nonexistent") as exc:
        synth.synthesize(TEXT, Voice("en-us", variant="nonexistent"))
    assert "'m3'" in str(exc.value)
    with pytest.raises(ValueError, match="variant"):
        Voice("en-us", variant="../klatt")
    with pytest.raises(ValueError, match="variant"):
        Voice("en-us+m3")


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text(synth: EspeakSynthesizer, text: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        synth.synthesize(text, Voice("en-us"))


def test_bad_text(synth: EspeakSynthesizer) -> None:
    with pytest.raises(ValueError, match="nothing speakable"):
        synth.synthesize("...", Voice("en-us"))
    with pytest.raises(ValueError, match="NUL"):
        synth.synthesize("a\0b", Voice("en-us"))
    with pytest.raises(TypeError):
        synth.synthesize(b"bytes", Voice("en-us"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs, field, allowed",
    [
        ({"pitch": 101}, "pitch", "0..100"),
        ({"pitch": -1}, "pitch", "0..100"),
        ({"rate": 79}, "rate", "80..450"),
        ({"rate": 451}, "rate", "80..450"),
        ({"pitch_range": 150}, "pitch_range", "0..100"),
    ],
)
def test_out_of_range_parameters(kwargs: dict, field: str, allowed: str) -> None:
    with pytest.raises(ValueError) as exc:
        Voice("en-us", **kwargs)
    assert f"Voice.{field} " in str(exc.value) and allowed in str(exc.value)


def test_bad_sample_rate() -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        EspeakSynthesizer(sample_rate=10)


def test_library_load_failure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import espeakng_loader

    bogus = tmp_path / "libespeak-ng.so"
    bogus.write_bytes(b"this is not an ELF file")
    monkeypatch.setattr(espeakng_loader, "get_library_path", lambda: str(bogus))
    with pytest.raises(RuntimeError, match=re.escape(str(bogus))):
        espeak_lib.Process()
    missing = tmp_path / "missing" / "libespeak-ng.so"
    monkeypatch.setattr(espeakng_loader, "get_library_path", lambda: str(missing))
    with pytest.raises(RuntimeError, match=re.escape(str(missing))):
        espeak_lib.Process()


# --------------------------------------------------------------------------- concurrency
JOBS = [
    ("Hello from a worker process.", Voice("en-us")),
    ("A second sentence, with a comma.", Voice("en", variant="klatt", pitch=70)),
    ("Guten Abend.", Voice("de")),
    ("The last one is quick.", Voice("en-029", variant="f2", rate=250)),
]


@pytest.fixture(scope="module")
def reference(synth: EspeakSynthesizer) -> list[Utterance]:
    return [synth.synthesize(t, v) for t, v in JOBS]


def test_threads(synth: EspeakSynthesizer, reference: list[Utterance]) -> None:
    with ThreadPoolExecutor(4) as ex:
        out = list(ex.map(lambda job: synth.synthesize(*job), JOBS * 3))
    for a, b in zip(reference * 3, out):
        assert_same(a, b)


def test_pickle(synth: EspeakSynthesizer, reference: list[Utterance]) -> None:
    s2 = pickle.loads(pickle.dumps(synth))
    assert s2.sample_rate == SR
    assert_same(reference[0], s2.synthesize(*JOBS[0]))


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_multiprocessing_pool(method: str, synth: EspeakSynthesizer, reference: list[Utterance]) -> None:
    if method not in mp.get_all_start_methods():
        pytest.skip(f"{method} not available")
    with mp.get_context(method).Pool(2) as pool:
        out = pool.starmap(synth.synthesize, JOBS)
    for a, b in zip(reference, out):
        assert_same(a, b)

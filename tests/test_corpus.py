from __future__ import annotations

import json
import logging
import time

import numpy as np
import pytest
import torch

from data.audio import TARGET_RMS
from data.condition import ConditionOptions
from data.corpus import (
    BackgroundJob,
    CorpusSpec,
    event_vocabulary,
    load_corpus,
    plan_jobs,
    render_background,
    render_clip,
    speaker_voices,
)
from data.datamodule import EmbeddedSpeechDataModule, SpeechInNoiseDataset
from data.mixing import rms
from data.synth import Voice, context_words, vocabulary_words
from tests.helpers import TINY_CORPUS


def test_word_lists():
    vocab = vocabulary_words()
    train_ctx, val_ctx = context_words()
    assert len(vocab) >= 200 and len(set(vocab)) == len(vocab)
    assert not set(train_ctx) & set(val_ctx)
    assert not set(vocab) & (set(train_ctx) | set(val_ctx))
    assert CorpusSpec().vocabulary_size >= 200 and CorpusSpec().n_speakers >= 50


def test_speakers_are_distinct_voice_settings():
    voices = speaker_voices(50, seed=0)
    assert len(set(voices)) == 50
    assert len({v.language for v in voices}) > 3 and len({v.variant for v in voices}) > 10
    assert speaker_voices(50, seed=0) == voices and speaker_voices(50, seed=1) != voices


def test_clips_are_labelled_and_centred(tiny_corpus):
    corpus = tiny_corpus
    n = corpus.spec.clip_samples
    voices = [Voice(**v) for v in corpus.manifest["speaker_voices"]]
    for split in ("train", "val"):
        arrays = corpus[split]
        assert arrays.speech.shape == (len(arrays), n) and arrays.speech.dtype == np.int16
        assert np.bincount(arrays.word, minlength=6).min() > 0
        for i in range(len(arrays)):
            start, end = arrays.target_start[i], arrays.target_end[i]
            assert start < n // 2 < end, f"{split} clip {i}: word span {start}-{end} misses the centre"
            words = arrays.text[i].split()
            label = corpus.vocabulary[arrays.word[i]]
            assert label in words
            clip = arrays.speech_clip(i)
            assert np.sqrt(np.mean(clip[start:end] ** 2)) > 0.01  # the word is audible
        # The stored audio is exactly the phrase's rendering with the label word centred.
        jobs = [j for j in plan_jobs(corpus.spec)[0] if j.split == split]
        for job in (jobs[0], jobs[-1]):
            i = job.index
            assert (job.word, job.speaker) == (arrays.word[i], arrays.speaker[i])
            expected, s, e, text = render_clip(job, voices[job.speaker], corpus.spec.sample_rate, n)
            assert (s, e, text) == (arrays.target_start[i], arrays.target_end[i], arrays.text[i])
            assert np.abs(arrays.speech_clip(i) - expected).max() <= arrays.speech_scale[i]


def test_validation_context_is_held_out(tiny_corpus):
    train_ctx, val_ctx = (set(w) for w in context_words())
    vocab = set(tiny_corpus.vocabulary)
    for text in tiny_corpus["train"].text:
        assert set(text.split()) - vocab <= train_ctx
    for text in tiny_corpus["val"].text:
        assert set(text.split()) - vocab <= val_ctx
    assert not np.array_equal(tiny_corpus["train"].backgrounds[0], tiny_corpus["val"].backgrounds[0])


def test_backgrounds_are_labelled_event_mixtures(tiny_corpus):
    vocab = event_vocabulary()
    assert len(vocab) >= 20 + 2 and len(set(vocab)) == len(vocab) and tiny_corpus.events == list(vocab)
    for split in ("train", "val"):
        arrays = tiny_corpus[split]
        labels = arrays.background_events
        assert labels.shape == (len(arrays.backgrounds), len(vocab))
        assert ((labels.sum(axis=1) >= 1) & (labels.sum(axis=1) <= 3)).all()
        for b, kind in enumerate(arrays.background_kind):  # labels say which events were mixed in
            assert sorted(kind.split("+")) == sorted(vocab[i] for i in np.flatnonzero(labels[b]))
        rms_bg = np.sqrt(np.mean(np.stack([arrays.background_clip(b) for b in range(len(labels))]) ** 2, axis=1))
        np.testing.assert_allclose(rms_bg, 1.0, rtol=0.01)
    # A background of one synthesised event is that event's sound.
    job = BackgroundJob("train", 0, (9, 9), events=("siren",))
    np.testing.assert_allclose(np.sqrt(np.mean(render_background(job, 20000, 40000) ** 2)), 1.0, rtol=1e-4)


def test_rendering_is_deterministic_and_cached(tiny_corpus, tmp_path):
    other = load_corpus(CorpusSpec(**TINY_CORPUS), tmp_path, workers=1, progress=False)
    assert other.manifest["files"] == tiny_corpus.manifest["files"]  # same bytes, other worker count
    stamp = (tiny_corpus.root / "manifest.json").stat().st_mtime_ns
    t0 = time.perf_counter()
    again = load_corpus(CorpusSpec(**TINY_CORPUS), tiny_corpus.root.parents[1], progress=False)
    assert time.perf_counter() - t0 < 2.0
    assert (again.root / "manifest.json").stat().st_mtime_ns == stamp
    assert CorpusSpec(**{**TINY_CORPUS, "seed": 1}).key() != CorpusSpec(**TINY_CORPUS).key()


@pytest.mark.parametrize("damage", ["truncate", "flip", "manifest"])
def test_corrupt_cache_is_rebuilt(tmp_path, caplog, damage):
    spec = CorpusSpec(**{**TINY_CORPUS, "train_clips_per_word": 1, "val_clips_per_word": 1})
    corpus = load_corpus(spec, tmp_path, workers=1, progress=False)
    files = corpus.manifest["files"]
    target = corpus.root / "train_speech.npy"
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:-100])
    elif damage == "flip":
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
    else:
        (corpus.root / "manifest.json").write_text("{not json")
    with caplog.at_level(logging.WARNING):
        rebuilt = load_corpus(spec, tmp_path, workers=1, progress=False)
    assert "Rebuilding cache entry" in caplog.text
    assert rebuilt.manifest["files"] == files


def test_bad_specs_name_the_field():
    with pytest.raises(ValueError, match="vocabulary_size"):
        CorpusSpec(vocabulary_size=0)
    with pytest.raises(ValueError, match="vocabulary_size"):
        CorpusSpec(vocabulary_size=100000)
    with pytest.raises(ValueError, match="n_speakers"):
        CorpusSpec(n_speakers=10**6)


def test_datasets_and_device_mixing(tiny_corpus):
    train = SpeechInNoiseDataset(tiny_corpus, "train", ConditionOptions("noisy", (-10, 10)), train=True, seed=0)
    val = SpeechInNoiseDataset(tiny_corpus, "val", ConditionOptions("noisy", (-10, 10)), train=False, seed=0)
    item = train[0]
    assert item["speech"].shape == item["background"].shape == (40000,)
    assert -10 <= item["snr_db"] <= 10 and item["word"] == tiny_corpus["train"].word[0]
    assert torch.equal(val[1]["background"], val[1]["background"])
    assert val[1]["snr_db"] == val[1]["snr_db"]
    draws = {float(train[0]["snr_db"]) for _ in range(5)}
    assert len(draws) > 1  # training SNRs are redrawn every time

    dm = EmbeddedSpeechDataModule(
        CorpusSpec(**TINY_CORPUS), batch_size=4, num_workers=0, cache_dir=str(tiny_corpus.root.parents[1])
    )
    dm.setup("fit")
    assert dm.label_sizes == {"word": 6, "speaker": 3, "audioset": len(event_vocabulary())}
    batch = next(iter(dm.val_dataloader()))
    batch = dm.on_after_batch_transfer(batch, 0)
    assert batch["waveform"].shape == (4, 40000)
    assert torch.allclose(rms(batch["waveform"]), torch.full((4,), TARGET_RMS), rtol=1e-4)

    b = val.conditions.mixture(1).background
    assert torch.equal(val[1]["audioset"], torch.from_numpy(tiny_corpus["val"].background_events[b].astype(np.float32)))
    assert val[1]["audioset_mask"] == 1 and batch["audioset"].shape == (4, len(event_vocabulary()))

    clean = SpeechInNoiseDataset(tiny_corpus, "train", ConditionOptions("clean", (-10, 10)), train=True)
    assert clean[0]["snr_db"] == float("inf") and clean[0]["background"].abs().max() == 0
    assert clean[0]["audioset_mask"] == 0 and clean[0]["audioset"].sum() == 0
    with pytest.raises(ValueError, match="noise"):
        SpeechInNoiseDataset(tiny_corpus, "train", ConditionOptions("loud"))


def test_manifest_records_vocabularies(tiny_corpus):
    manifest = json.loads((tiny_corpus.root / "manifest.json").read_text())
    assert manifest["vocabulary"] == vocabulary_words()[:6]
    assert len(manifest["speakers"]) == 3 and len(set(manifest["speakers"])) == 3


def test_jitter_keeps_the_word_over_the_centre(tiny_corpus):
    arrays = tiny_corpus["train"]
    train = SpeechInNoiseDataset(tiny_corpus, "train", ConditionOptions("clean", jitter=True), train=True, seed=0)
    fixed = SpeechInNoiseDataset(tiny_corpus, "train", ConditionOptions("clean", jitter=False), train=True, seed=0)
    i = 2
    original = arrays.speech_clip(i)
    item = fixed[i]  # int16 audio + scale from the workers, converted on the device
    np.testing.assert_array_equal(item["speech"].numpy() * item["speech_scale"].numpy(), original)
    start, end = int(arrays.target_start[i]), int(arrays.target_end[i])
    shifts = set()
    for _ in range(12):
        shifted = train[i]["speech"].numpy().astype(np.float32)
        # Find the shift by cross-correlating against the original clip.
        corr = np.fft.irfft(np.fft.rfft(shifted, 2 * len(shifted)) * np.conj(np.fft.rfft(original, 2 * len(shifted))))
        lag = int(np.argmax(corr))
        lag = lag - 2 * len(shifted) if lag > len(shifted) else lag
        shifts.add(lag)
        assert start + lag <= len(shifted) // 2 < end + lag  # the word still covers the centre
    assert len(shifts) > 3


def test_validation_snrs_are_random_in_the_training_range_and_fixed_per_clip(tiny_corpus):
    """As the authors' pipeline: validation clips are mixed at an SNR drawn uniformly from the
    training range (not one fixed SNR), the same draw for a clip every time (deterministic)."""
    def val_snrs(seed):
        val = SpeechInNoiseDataset(tiny_corpus, "val", ConditionOptions("noisy", (-10, 10)), train=False, seed=seed)
        return [float(val[i]["snr_db"]) for i in range(len(val))]

    snrs = val_snrs(0)
    assert all(-10 <= s <= 10 for s in snrs) and len(set(snrs)) == len(snrs) >= 10
    assert min(snrs) < -3 and max(snrs) > 3  # spread over the range
    assert val_snrs(0) == snrs and val_snrs(1) != snrs

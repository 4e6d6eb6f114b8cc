"""Manifest corpora: parsing, vocabularies, unreadable files, resampling, crops, mixing, config."""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

from data.audio import CLIP_SAMPLES, SAMPLE_RATE, TARGET_RMS
from data.base import MISSING
from data.condition import ConditionOptions
from data.manifest import ManifestDataModule, ManifestDataset, read_manifest
from data.mixing import rms

BURST = 0.8
FLOOR = 1e-3


def tone(seconds: float, rate: int, freq: float = 1000.0, channels: int = 1, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = amp * np.sin(2 * np.pi * freq * t)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def burst(seconds: float, rate: int, start: float, end: float, seed: int = 0) -> np.ndarray:
    """A faint noise floor with a loud 300-Hz 'word' from ``start`` to ``end`` seconds."""
    x = FLOOR * np.random.default_rng(seed).standard_normal(int(seconds * rate))
    lo, hi = int(start * rate), int(end * rate)
    x[lo:hi] += BURST * np.sin(2 * np.pi * 300 * np.arange(hi - lo) / rate)
    return x


@pytest.fixture
def corpus(tmp_path: Path) -> dict[str, Path]:
    """Clips at 16 kHz stereo, 44.1 kHz mono and 20 kHz; unreadable files; backgrounds."""
    audio = tmp_path / "audio"
    audio.mkdir()
    sf.write(audio / "a.wav", tone(3.0, 16000, channels=2), 16000)
    sf.write(audio / "b.flac", burst(4.0, 44100, 2.5, 2.7), 44100)
    sf.write(audio / "c.wav", burst(2.0, 20000, 0.9, 1.1, seed=1), 20000)
    sf.write(audio / "d.flac", tone(1.5, 44100, freq=440.0), 44100)  # shorter than 2 s: padded
    sf.write(audio / "silent.wav", np.zeros(32000), 16000)
    (audio / "corrupt.wav").write_bytes(np.random.default_rng(0).bytes(5000))
    (audio / "empty.wav").write_bytes(b"")
    (audio / "notes.txt").write_text("not audio\n")
    bg = tmp_path / "backgrounds"
    (bg / "sub").mkdir(parents=True)
    rng = np.random.default_rng(5)
    sf.write(bg / "rain.wav", 0.3 * rng.standard_normal(60000), 20000)
    sf.write(bg / "sub" / "dog.flac", 0.3 * rng.standard_normal((22050, 2)), 44100)  # 0.5 s: looped
    sf.write(bg / "hum.ogg", 0.1 * tone(3.0, 16000, freq=60.0), 16000)  # not in the labels CSV
    (bg / "readme.txt").write_text("ignored: not an audio suffix\n")
    (tmp_path / "bg_labels.csv").write_text(
        "path,events\nbackgrounds/rain.wav,rain;water\nbackgrounds/sub/dog.flac,dog\n"
    )
    train = tmp_path / "train.csv"
    train.write_text(
        "path,word,speaker,word_start,word_end\n"
        "audio/a.wav,alpha,s1,,\n"
        "audio/b.flac,beta,s2,2.5,2.7\n"
        f"{audio / 'c.wav'},alpha,s2,0.9,1.1\n"  # an absolute path
        "audio/corrupt.wav,beta,s1,,\n"
        "audio/empty.wav,gamma,s1,,\n"
        "audio/notes.txt,gamma,s2,,\n"
        "audio/d.flac,gamma,,,\n"  # no speaker
        "audio/silent.wav,alpha,s1,,\n"
    )
    val = tmp_path / "val.jsonl"
    rows = [
        {"path": "audio/a.wav", "word": "alpha", "speaker": "s1"},
        {"path": "audio/b.flac", "word": "beta", "speaker": "s2", "word_start": 2.5, "word_end": 2.7},
        {"path": "audio/silent.wav", "word": "gamma"},
    ]
    val.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return {"root": tmp_path, "train": train, "val": val, "bg": bg, "bg_labels": tmp_path / "bg_labels.csv"}


def _module(corpus, **kwargs) -> ManifestDataModule:
    args = {
        "train_manifest": str(corpus["train"]),
        "val_manifest": str(corpus["val"]),
        "background_dir": str(corpus["bg"]),
        "background_labels": str(corpus["bg_labels"]),
        "batch_size": 2,
        "num_workers": 0,
    }
    return ManifestDataModule(**{**args, **kwargs})


def _check_contract(item: dict, n_events: int) -> None:
    assert set(item) == {"speech", "background", "snr_db", "word", "speaker", "audioset", "audioset_mask"}
    for key in ("speech", "background"):
        assert item[key].dtype == torch.float32 and item[key].shape == (CLIP_SAMPLES,)
    for key in ("snr_db", "audioset_mask"):
        assert item[key].dtype == torch.float32 and item[key].shape == ()
    assert item["word"].dtype == torch.int64 and item["speaker"].dtype == torch.int64
    assert item["audioset"].dtype == torch.float32 and item["audioset"].shape == (n_events,)


def test_noisy_items_vocabularies_and_skipped_files(corpus, caplog):
    dm = _module(corpus)
    assert dm.vocabularies == {
        "word": ["alpha", "beta", "gamma"],  # includes the labels of unreadable rows: stable vocabularies
        "speaker": ["s1", "s2"],
        "audioset": ["dog", "rain", "water"],
    }
    with caplog.at_level(logging.WARNING, logger="data.manifest"):
        dm.setup("fit")
    warnings = [r.getMessage() for r in caplog.records if "skipping 3 of 8" in r.getMessage()]
    assert len(warnings) == 1 and all(name in warnings[0] for name in ("corrupt.wav", "empty.wav", "notes.txt"))
    assert dm.n_skipped == 3 and len(dm.train_set) == 5 and len(dm.val_set) == 3
    assert dm.label_sizes == {"word": 3, "speaker": 2, "audioset": 3}
    masks = []
    for i in range(len(dm.train_set)):
        item = dm.train_set[i]
        _check_contract(item, 3)
        assert -10.0 <= item["snr_db"].item() <= 10.0 and item["background"].abs().max() > 0
        masks.append(item["audioset_mask"].item())
        if item["audioset_mask"].item() == 1.0:  # a labelled background: rain+water or dog
            assert item["audioset"].tolist() in ([0.0, 1.0, 1.0], [1.0, 0.0, 0.0])
        else:  # hum.ogg has no labels
            assert torch.count_nonzero(item["audioset"]) == 0
    assert dm.train_set[3]["word"].item() == 2 and dm.train_set[3]["speaker"].item() == MISSING  # d.flac row
    val = dm.val_set[2]
    assert val["speaker"].item() == MISSING and val["word"].item() == 2
    assert val["snr_db"].item() == dm.val_set[2]["snr_db"].item()  # fixed validation draws
    assert torch.equal(val["background"], dm.val_set[2]["background"])


def test_clean_items(corpus):
    dm = _module(corpus, noise="clean", background_dir=None, background_labels=None)
    dm.setup("fit")
    assert "audioset" not in dm.vocabularies  # no events anywhere
    for dataset in (dm.train_set, dm.val_set):
        item = dataset[0]
        _check_contract(item, 0)
        assert torch.count_nonzero(item["background"]) == 0 and item["snr_db"].item() == math.inf
        assert item["audioset_mask"].item() == 0.0


def test_clip_events_are_labels_of_the_clip(corpus, tmp_path):
    manifest = tmp_path / "events.jsonl"
    manifest.write_text(json.dumps({"path": "audio/a.wav", "events": ["bell", "tone"]}) + "\n")
    vocab = {"audioset": ["bell", "dog", "tone"]}
    clean = ManifestDataset(manifest, vocab, "train", ConditionOptions("clean"))
    assert clean[0]["audioset"].tolist() == [1.0, 0.0, 1.0] and clean[0]["audioset_mask"].item() == 1.0
    assert clean[0]["word"].item() == MISSING
    csv = tmp_path / "events.csv"
    csv.write_text("path,events\naudio/a.wav, bell ; dog\naudio/c.wav,\n")
    rows = read_manifest(csv).rows
    assert rows[0].events == ["bell", "dog"] and rows[1].events == []


def test_resampling_keeps_the_frequency(corpus, tmp_path):
    sf.write(tmp_path / "audio" / "tone44.wav", tone(3.0, 44100), 44100)
    manifest = tmp_path / "tones.csv"
    manifest.write_text("path\naudio/a.wav\naudio/tone44.wav\n")  # 16 kHz stereo and 44.1 kHz mono
    dataset = ManifestDataset(manifest, {}, "val", ConditionOptions("clean"), train=False)
    for i in range(2):
        speech = dataset[i]["speech"].numpy()
        spectrum = np.abs(np.fft.rfft(speech * np.hanning(len(speech))))
        peak = np.fft.rfftfreq(len(speech), 1 / SAMPLE_RATE)[np.argmax(spectrum)]
        assert abs(peak - 1000.0) < 1.0, (i, peak)
        assert abs(np.abs(speech).max() - 0.5) < 0.01  # the level survives mono averaging and resampling


def test_jitter_crop_keeps_the_word_over_the_centre(corpus):
    dm = _module(corpus)
    dm.setup("fit")
    i = 1  # b.flac: 44.1 kHz, word at 2.5-2.7 s of 4 s
    starts = set()
    for _ in range(20):
        speech = dm.train_set[i]["speech"].numpy()
        assert np.abs(speech[CLIP_SAMPLES // 2 - 40 : CLIP_SAMPLES // 2 + 40]).max() > 0.5 * BURST
        starts.add(int(np.flatnonzero(np.abs(speech) > 0.5 * BURST)[0]))
    assert len(starts) > 5  # the crop moves
    loud = np.flatnonzero(np.abs(dm.val_set[1]["speech"].numpy()) > 0.5 * BURST)
    assert abs((loud[0] + loud[-1]) / 2 - CLIP_SAMPLES / 2) < 50  # validation: centred on the word
    assert abs((loud[-1] - loud[0]) - 0.2 * SAMPLE_RATE) < 50  # 0.2 s long at 20 kHz


def test_labels_missing_from_a_vocabulary_are_named(corpus, tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("alpha\nbeta\n")
    dm = _module(corpus, word_vocab=str(words))
    with pytest.raises(ValueError, match=re.escape(f"{corpus['train']}:6: word 'gamma' is not in the word vocabulary")):
        dm.setup("fit")
    val = tmp_path / "val.csv"
    val.write_text("path,word,speaker\naudio/a.wav,alpha,s1\naudio/c.wav,delta,s2\n")
    dm = _module(corpus, val_manifest=str(val))
    with pytest.raises(ValueError, match=re.escape(f"{val}:3: word 'delta' is not in the word vocabulary")):
        dm.setup("fit")
    events = tmp_path / "events.txt"
    events.write_text("dog\n")
    dm = _module(corpus, event_vocab=str(events))
    with pytest.raises(ValueError, match=re.escape(f"{corpus['bg_labels']}:2: event 'rain' is not in")):
        dm.setup("fit")


def test_bad_manifests_are_named(tmp_path):
    no_path = tmp_path / "m.csv"
    no_path.write_text("file,word\na.wav,x\n")
    with pytest.raises(ValueError, match="has no 'path' column"):
        read_manifest(no_path)
    half = tmp_path / "h.jsonl"
    half.write_text('{"path": "a.wav"}\n{"path": "b.wav", "word_start": 1.0}\n')
    with pytest.raises(ValueError, match=re.escape(f"{half}:2: word_start and word_end must be given together")):
        read_manifest(half)
    with pytest.raises(ValueError, match="data.background_dir is required"):
        ManifestDataModule(str(no_path), str(no_path), noise="noisy", background_dir=None)


def test_file_failing_at_decode_time_is_replaced_and_counted(corpus, caplog):
    dm = _module(corpus, noise="clean", background_dir=None, background_labels=None)
    dm.setup("fit")
    assert dm.n_skipped == 3
    (corpus["root"] / "audio" / "c.wav").write_bytes(b"RIFF" + bytes(100))  # broken after the header check
    with caplog.at_level(logging.WARNING, logger="data.manifest"):
        item = dm.train_set[2]  # c.wav -> replaced by the next readable row, d.flac
        again = dm.train_set[2]
    assert item["word"].item() == again["word"].item() == 2 and item["speaker"].item() == MISSING
    failures = [r.getMessage() for r in caplog.records if "failed to decode" in r.getMessage()]
    assert len(failures) == 1 and "c.wav" in failures[0]  # warned once per file
    assert dm.n_skipped == 4


def test_decode_failures_in_workers_add_up(corpus):
    dm = _module(corpus, noise="clean", background_dir=None, background_labels=None, num_workers=2)
    dm.setup("fit")
    (corpus["root"] / "audio" / "a.wav").write_bytes(b"garbage")
    batches = list(dm.val_dataloader())
    assert sum(len(b["word"]) for b in batches) == 3
    assert dm.n_skipped == 4


def test_mixing_gives_rms_0p1_and_silence_gives_zeros(corpus):
    dm = _module(corpus, noise="clean", background_dir=None, background_labels=None, batch_size=3)
    dm.setup("fit")
    batch = dm.on_after_batch_transfer(next(iter(dm.val_dataloader())), 0)  # a.wav, b.flac, silent.wav
    waveform = batch["waveform"]
    assert torch.isfinite(waveform).all()
    torch.testing.assert_close(rms(waveform[:2]), torch.full((2,), TARGET_RMS), rtol=1e-4, atol=1e-6)
    assert torch.count_nonzero(waveform[2]) == 0
    noisy = _module(corpus, batch_size=3)
    noisy.setup("fit")
    batch = noisy.on_after_batch_transfer(next(iter(noisy.val_dataloader())), 0)
    assert torch.isfinite(batch["waveform"]).all()  # silent speech: background alone, still RMS 0.1
    torch.testing.assert_close(rms(batch["waveform"]), torch.full((3,), TARGET_RMS), rtol=1e-4, atol=1e-6)


def test_hydra_config_composes_and_instantiates(corpus):
    overrides = ["data=manifest", f"data.train_manifest={corpus['train']}", f"data.val_manifest={corpus['val']}",
                 f"data.background_dir={corpus['bg']}", "data.num_workers=0"]  # fmt: skip
    with initialize_config_module(config_module="conf", version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    assert cfg.data.noise == "noisy" and list(cfg.data.snr_db) == [-10.0, 10.0] and cfg.data.batch_size == 128
    dm = instantiate(cfg.data)
    assert isinstance(dm, ManifestDataModule) and dm.seed == cfg.seed
    dm.setup("fit")
    item = dm.train_set[0]
    _check_contract(item, 0)  # no background labels given: no event vocabulary
    assert item["audioset_mask"].item() == 0.0

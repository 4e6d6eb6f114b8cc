"""The per-clip data condition (data/condition.py): the draws alone, and the three DataModules
delegating every condition decision to it."""

from __future__ import annotations

import dataclasses
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from hydra import compose, initialize_config_module

from data.audio import CLIP_SAMPLES, SAMPLE_RATE
from data.condition import (
    EMBEDDED_DRAWS,
    MANIFEST_DRAWS,
    WSN_DRAWS,
    ConditionDraws,
    ConditionOptions,
    DrawScheme,
    Mixture,
    background_heard,
    clean_item,
    event_mask,
    jitter_crop,
)
from data.corpus import CorpusSpec, SpeechCorpus
from data.datamodule import EmbeddedSpeechDataModule, SpeechInNoiseDataset
from data.manifest import ManifestDataModule
from data.wsn import WSNDataModule
from tests.helpers import TINY_CORPUS
from tests.helpers.wsn_files import write_wsn

NOISY = ConditionOptions("noisy", (-5.0, 15.0))
SCHEMES = {"embedded": EMBEDDED_DRAWS, "wsn": WSN_DRAWS, "manifest": MANIFEST_DRAWS}


def _draws(options=NOISY, scheme=MANIFEST_DRAWS, n=50, split="val", train=False, seed=0, n_bg=7):
    return ConditionDraws(options, scheme, n, split, train, seed, n_bg)


# --- the mechanism alone ---------------------------------------------------------------------


def test_options_are_validated_and_name_the_argument():
    assert ConditionOptions("clean", [0, 20]).snr_db == (0.0, 20.0)  # lists from the yaml become a tuple
    with pytest.raises(ValueError, match=r"data\.noise must be one of \('clean', 'noisy'\), got 'loud'"):
        ConditionOptions("loud")
    with pytest.raises(ValueError, match=r"data\.snr_db must be \[low, high\] with low <= high, got \[10.0, -10.0\]"):
        ConditionOptions("noisy", (10.0, -10.0))
    with pytest.raises(ValueError, match=r"data\.snr_db"):
        ConditionOptions("noisy", (1.0, 2.0, 3.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        NOISY.jitter = False
    with pytest.raises(ValueError, match="n_backgrounds=None"):
        ConditionDraws(NOISY, EMBEDDED_DRAWS, 4, "val", False, 0, None)
    ConditionDraws(NOISY, WSN_DRAWS, 4, "val", False, 0, None)  # paired backgrounds: no pool needed
    with pytest.raises(ValueError, match="'snr'"):
        DrawScheme(1, ("background",))
    with pytest.raises(ValueError, match="'offset' needs a 'background'"):
        DrawScheme(1, ("snr", "offset"))


def test_validation_draws_are_fixed_per_seed_split_and_index():
    draws = _draws(seed=3)
    state = torch.get_rng_state()
    first = [draws.draw(i) for i in range(50)]
    assert [draws.draw(i) for i in range(50)] == first  # every epoch: the same draw
    assert torch.equal(torch.get_rng_state(), state)  # validation never touches the training stream
    assert [_draws(seed=3).draw(i) for i in range(50)] == first  # and every run with that seed
    assert all(c.crop_seed is None for c in first)  # centred windows
    assert len({c.mixture.snr_db for c in first}) == 50 and len({c.mixture.background for c in first}) > 3
    assert all(0.0 <= c.mixture.offset < 1.0 for c in first)
    assert [_draws(seed=4).draw(i) for i in range(50)] != first
    assert [_draws(seed=3, split="train").draw(i) for i in range(50)] != first


def test_training_draws_come_from_torch_and_change_every_epoch():
    draws = _draws(train=True)
    torch.manual_seed(11)
    epoch0 = [draws.draw(i) for i in range(20)]
    epoch1 = [draws.draw(i) for i in range(20)]
    assert all(a != b for a, b in zip(epoch0, epoch1, strict=True))  # a new condition each epoch
    torch.manual_seed(11)
    assert [draws.draw(i) for i in range(20)] == epoch0  # reproducible from the same torch seed
    assert len({c.crop_seed for c in epoch0}) == 20 and len({c.mixture.background for c in epoch0}) > 3
    # The order of the draws, on which every earlier run's training stream depends.
    torch.manual_seed(5)
    crop, bg, offset, snr = int(torch.randint(2**62, ())), int(torch.randint(7, ())), float(torch.rand(())), float(torch.rand(()))
    torch.manual_seed(5)
    got = draws.draw(0)
    assert (got.crop_seed, got.mixture.background, got.mixture.offset) == (crop, bg, offset)
    assert got.mixture.snr_db == -5.0 + 20.0 * snr


@pytest.mark.parametrize("train", [True, False])
def test_snr_within_the_range(train):
    draws = _draws(n=400, train=train)
    snrs = np.array([draws.mixture(i).snr_db for i in range(400)])
    assert snrs.min() >= -5.0 and snrs.max() <= 15.0
    assert snrs.min() < 0.0 and snrs.max() > 10.0  # spread over it
    fixed = _draws(options=ConditionOptions("noisy", (3.0, 3.0)), train=train)
    assert {fixed.mixture(i).snr_db for i in range(10)} == {3.0}


def test_clean_has_no_background_and_draws_only_the_crop():
    clean = ConditionOptions("clean", (-5.0, 15.0), jitter=True)
    train = _draws(options=clean, train=True)
    torch.manual_seed(2)
    condition = train.draw(4)
    after = torch.randint(2**62, ())
    torch.manual_seed(2)
    assert condition.mixture is None and condition.crop_seed == int(torch.randint(2**62, ()))
    assert torch.equal(torch.randint(2**62, ()), after)  # nothing but the crop seed was drawn
    assert _draws(options=clean).fixed == {} and _draws(options=clean).draw(0).mixture is None
    item = clean_item({"speech": torch.ones(CLIP_SAMPLES)}, 5)
    assert torch.count_nonzero(item["background"]) == 0 and item["background"].shape == (CLIP_SAMPLES,)
    assert item["snr_db"].item() == math.inf and item["audioset_mask"].item() == 0.0
    assert torch.equal(item["audioset"], torch.zeros(5))


def test_jitter_only_in_training():
    assert _draws(train=False).draw(0).crop_seed is None
    assert _draws(options=dataclasses.replace(NOISY, jitter=False), train=True).draw(0).crop_seed is None
    assert _draws(train=True).draw(0).crop_seed is not None


def test_schemes_keep_the_historical_validation_streams():
    """The salts and orders the readers always had: each validation clip keeps its SNR,
    background and window (bit-identical validation sets)."""
    n, n_bg, seed, (low, high) = 30, 6, 9, NOISY.snr_db
    rng = np.random.default_rng([seed, 5, 1])
    embedded = (rng.integers(n_bg, size=n), rng.uniform(low, high, size=n).astype(np.float32))
    rng = np.random.default_rng([seed, 17, 1])
    wsn = rng.uniform(low, high, size=n).astype(np.float32)
    rng = np.random.default_rng([seed, 23, 1])
    manifest = (rng.uniform(low, high, size=n).astype(np.float32), rng.integers(n_bg, size=n), rng.random(n))
    got = {name: _draws(scheme=scheme, n=n, seed=seed, n_bg=n_bg) for name, scheme in SCHEMES.items()}
    for i in range(n):
        assert got["embedded"].mixture(i) == Mixture(int(embedded[0][i]), None, float(embedded[1][i]))
        assert (got["wsn"].mixture(i).background, got["wsn"].mixture(i).snr_db) == (None, float(wsn[i]))
        m = got["manifest"].mixture(i)
        assert (m.snr_db, m.background, m.offset) == (float(manifest[0][i]), int(manifest[1][i]), float(manifest[2][i]))
    assert len({s.salt for s in SCHEMES.values()}) == 3


def test_silent_background_rule():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(CLIP_SAMPLES).astype(np.float32)
    assert background_heard(0.01 * noise)
    assert not background_heard(np.zeros(CLIP_SAMPLES, dtype=np.float32))
    assert not background_heard(np.full(CLIP_SAMPLES, 0.5, dtype=np.float32))  # DC alone is demeaned away
    assert not background_heard(1e-7 * noise) and background_heard(1e-5 * noise)  # threshold 1e-6
    stored = (noise * 1000).astype(np.int16)  # int16 audio with its scale
    assert background_heard(stored, 1e-3) and not background_heard(stored, 1e-10)
    labels = np.array([2, 4])
    assert event_mask([]).item() == 0.0  # nothing heard: no valid labels
    assert event_mask([labels]).item() == 1.0 and event_mask([labels, np.zeros(0, np.int64)]).item() == 1.0
    assert event_mask([labels, None]).item() == 0.0  # a heard source with unknown events


def test_jitter_crop_keeps_the_word_over_the_centre():
    audio = np.arange(80000, dtype=np.float32)
    target = (52000, 56000)
    starts = set()
    for seed in range(50):
        window = jitter_crop(audio, CLIP_SAMPLES, target, seed)
        assert target[0] <= window[CLIP_SAMPLES // 2] < target[1]
        starts.add(window[0])
    assert len(starts) > 40
    assert np.array_equal(jitter_crop(audio, CLIP_SAMPLES, target, 3), jitter_crop(audio, CLIP_SAMPLES, target, 3))
    centred = jitter_crop(audio, CLIP_SAMPLES, target, None)
    assert centred[CLIP_SAMPLES // 2] == 54000
    short = jitter_crop(np.ones(1000, dtype=np.int16), 4000, None, None, dtype=np.int16)
    assert short.dtype == np.int16 and short.sum() == 1000 and short[1500:2500].all()  # zero-padded, centred


# --- the three DataModules -------------------------------------------------------------------


@pytest.fixture
def wsn_globs(tmp_path: Path) -> dict[str, str]:
    write_wsn(tmp_path / "wsn" / "train_0" / "run_0.h5", samples=80000, seed=1, timing=(2.6, 2.8),
              silent_background_rows=(2,))  # fmt: skip
    write_wsn(tmp_path / "wsn" / "valid_0" / "run_0.h5", seed=2, silent_background_rows=(1,))
    return {"train_glob": str(tmp_path / "wsn" / "train_*" / "*.h5"), "val_glob": str(tmp_path / "wsn" / "valid_*" / "*.h5")}


@pytest.fixture
def manifest_files(tmp_path: Path) -> dict[str, str]:
    """Four 4-s clips with a loud word at 2.6-2.8 s; a loud, a labelled silent and an unlabelled background."""
    root = tmp_path / "manifest"
    (root / "bg").mkdir(parents=True)
    t = np.arange(4 * SAMPLE_RATE) / SAMPLE_RATE
    for k in range(4):
        speech = 1e-3 * np.random.default_rng(k).standard_normal(len(t))
        word = (t >= 2.6) & (t < 2.8)
        speech[word] += 0.8 * np.sin(2 * np.pi * 300 * t[word])
        sf.write(root / f"clip{k}.wav", speech, SAMPLE_RATE)
    sf.write(root / "bg" / "loud.wav", 0.3 * np.random.default_rng(9).standard_normal(3 * SAMPLE_RATE), SAMPLE_RATE)
    sf.write(root / "bg" / "quiet.wav", np.zeros(3 * SAMPLE_RATE), SAMPLE_RATE)
    (root / "labels.csv").write_text("path,events\nbg/loud.wav,rain\nbg/quiet.wav,dog\n")
    rows = "".join(f"clip{k}.wav,w{k % 2},s{k % 2},2.6,2.8\n" for k in range(4))
    for split in ("train", "val"):
        (root / f"{split}.csv").write_text("path,word,speaker,word_start,word_end\n" + rows)
    return {"train_manifest": str(root / "train.csv"), "val_manifest": str(root / "val.csv"),
            "background_dir": str(root / "bg"), "background_labels": str(root / "labels.csv")}  # fmt: skip


def _modules(wsn_globs, manifest_files, cache_dir, **options) -> dict:
    options = {"batch_size": 2, "num_workers": 0, **options}
    if options.get("noise") == "clean":
        manifest_files = {**manifest_files, "background_dir": None, "background_labels": None}
    modules = {
        "embedded": EmbeddedSpeechDataModule(CorpusSpec(**TINY_CORPUS), cache_dir=str(cache_dir), **options),
        "wsn": WSNDataModule(**wsn_globs, **options),
        "manifest": ManifestDataModule(**manifest_files, **options),
    }
    for dm in modules.values():
        dm.setup("fit")
    return modules


def _n_backgrounds(name: str, dataset) -> int | None:
    if name == "embedded":
        return len(dataset.corpus[dataset.split].backgrounds)
    return len(dataset.backgrounds) if name == "manifest" and dataset.backgrounds is not None else None


def test_datamodules_accept_the_same_options(wsn_globs, manifest_files, tiny_corpus, cache_dir):
    options = {"noise": "noisy", "snr_db": [0.0, 20.0], "jitter": False, "seed": 7}
    modules = _modules(wsn_globs, manifest_files, cache_dir, **options)
    expected = ConditionOptions("noisy", (0.0, 20.0), jitter=False)
    for dm in modules.values():
        assert dm.condition == expected and dm.seed == 7
        assert dm.train_set.conditions.options == dm.val_set.conditions.options == expected
    with pytest.raises(ValueError, match=r"data\.noise"):
        WSNDataModule(**wsn_globs, noise="loud")
    with pytest.raises(TypeError, match="snr"):  # a misspelt option is named, not ignored
        WSNDataModule(**wsn_globs, snr=[0, 1])
    # ... and the same names and defaults in every conf/data/*.yaml
    common = ("noise", "snr_db", "jitter", "seed", "batch_size", "num_workers", "pin_memory")
    required = {"wsn": ["data.train_glob=a", "data.val_glob=b"], "manifest": ["data.train_manifest=a", "data.val_manifest=b"]}
    with initialize_config_module(config_module="conf", version_base="1.3"):
        values = {
            name: {key: compose(config_name="train", overrides=[f"data={name}", *required.get(name, [])]).data[key] for key in common}
            for name in ("embedded", "wsn", "manifest")
        }
    assert values["embedded"] == values["wsn"] == values["manifest"]
    assert values["wsn"]["jitter"] is True and list(values["wsn"]["snr_db"]) == [-10.0, 10.0]


@pytest.mark.parametrize("noise", ["noisy", "clean"])
def test_datamodules_deliver_the_mechanisms_conditions(wsn_globs, manifest_files, tiny_corpus, cache_dir, noise):
    """Every module's items carry exactly the condition ConditionDraws draws for that clip
    index and seed (built here independently, from the module's options and scheme), and the
    modules agree on every part of it they share: same options and torch seed, same crop."""
    modules = _modules(wsn_globs, manifest_files, cache_dir, noise=noise, snr_db=[-3.0, 3.0], seed=5)
    crop_seeds = set()
    for name, dm in modules.items():
        for dataset, split, train in ((dm.val_set, "val", False), (dm.train_set, "train", True)):
            mechanism = ConditionDraws(dm.condition, SCHEMES[name], len(dataset), split, train, 5, _n_backgrounds(name, dataset))
            for i in range(3):
                torch.manual_seed(100 + i)
                expected = mechanism.draw(i)
                torch.manual_seed(100 + i)
                item = dataset[i]
                crop_seeds.add((train, i, expected.crop_seed))
                if expected.mixture is None:
                    assert item["snr_db"].item() == math.inf and torch.count_nonzero(item["background"]) == 0
                    continue
                assert item["snr_db"].item() == np.float32(expected.mixture.snr_db)
                assert -3.0 <= item["snr_db"].item() <= 3.0
                if name == "embedded":
                    stored = dataset.corpus[split].backgrounds[expected.mixture.background]
                    assert np.array_equal(item["background"].numpy(), stored)
                if name == "manifest":
                    window = dataset._background(expected.mixture.background, expected.mixture.offset)
                    assert np.array_equal(item["background"].numpy(), window)
    # One crop seed per (split, index) across the three modules: the same draw, the same rule
    # (none in validation).
    assert len({(train, i) for train, i, _ in crop_seeds}) == len(crop_seeds) == 6
    assert all((seed is None) == (not train) for train, _, seed in crop_seeds)


def test_jitter_option_in_every_module(wsn_globs, manifest_files, tiny_corpus, cache_dir):
    """jitter=false gives the centred window in training too, in all three modules (WSN and
    manifest had no such option before)."""
    fixed = _modules(wsn_globs, manifest_files, cache_dir, noise="clean", jitter=False)
    moving = _modules(wsn_globs, manifest_files, cache_dir, noise="clean", jitter=True)
    for name in fixed:
        train, val = fixed[name].train_set, fixed[name].val_set
        windows = {train[0]["speech"].numpy().tobytes() for _ in range(5)}
        assert len(windows) == 1  # the same (centred) window every time
        if name == "manifest":  # the same clip in both splits: the training window is the validation one
            assert np.array_equal(train[0]["speech"].numpy(), val[0]["speech"].numpy())
        assert len({moving[name].train_set[0]["speech"].numpy().tobytes() for _ in range(8)}) > 1
    for name in ("wsn", "manifest"):  # word at 2.6-2.8 s of 4 s: the window is centred on it
        loud = np.flatnonzero(np.abs(fixed[name].train_set[1]["speech"].numpy()) > 0.4)
        assert abs((loud[0] + loud[-1]) / 2 - CLIP_SAMPLES / 2) < 50, name


def test_silent_backgrounds_are_masked_in_every_module(wsn_globs, manifest_files, tiny_corpus, tmp_path):
    """One rule (background_heard): a silent background window's events are not heard."""
    wsn = WSNDataModule(**wsn_globs, batch_size=2, num_workers=0)
    wsn.setup("fit")
    assert wsn.train_set[2]["audioset_mask"].item() == 0.0 and wsn.train_set[1]["audioset_mask"].item() == 1.0
    assert wsn.val_set[1]["audioset_mask"].item() == 0.0 and wsn.val_set[0]["audioset_mask"].item() == 1.0
    manifest = ManifestDataModule(**manifest_files, batch_size=2, num_workers=0)
    manifest.setup("fit")
    train = manifest.train_set
    quiet = train.backgrounds.paths.index(Path(manifest_files["background_dir"]) / "quiet.wav")
    seen = {}
    torch.manual_seed(0)
    for _ in range(30):  # training draws pick both backgrounds; replay each item's draw first
        state = torch.get_rng_state()
        train.conditions.crop_seed(0)
        chosen = train.conditions.mixture(0).background
        torch.set_rng_state(state)
        seen.setdefault(chosen == quiet, set()).add(train[0]["audioset_mask"].item())
    assert seen == {True: {0.0}, False: {1.0}}  # quiet.wav is labelled "dog", but not heard
    # The embedded corpus's backgrounds are rendered at unit RMS; a silent one (here made so in
    # a copy of the corpus) is masked by the same rule.
    root = tmp_path / "corpus"
    shutil.copytree(tiny_corpus.root, root)
    backgrounds = np.load(root / "val_backgrounds.npy", mmap_mode="r+")
    backgrounds[0] = 0
    backgrounds.flush()
    del backgrounds
    corpus = SpeechCorpus(root, tiny_corpus.manifest)
    dataset = SpeechInNoiseDataset(corpus, "val", NOISY, train=False)
    assert dataset.heard == [False, True]
    for i in range(len(dataset)):
        heard = dataset.conditions.mixture(i).background != 0
        assert dataset[i]["audioset_mask"].item() == (1.0 if heard else 0.0)

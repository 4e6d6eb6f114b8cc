"""WSN HDF5 reader: layout checks, item contract, crops, noise conditions, workers, config."""

from __future__ import annotations

import math
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

from data.audio import CLIP_SAMPLES, TARGET_RMS
from data.base import MISSING
from data.mixing import rms
from data.wsn import (
    EVENTS_KEY,
    NOISE_KEY,
    SPEAKER_KEY,
    WORD_KEY,
    WSNDataModule,
    WSNDataset,
)
from tests.helpers.wsn_files import BURST, N_ROWS, write_wsn


@pytest.fixture
def wsn_dir(tmp_path: Path) -> Path:
    """2 training files (one with 48,000-sample clips) and 1 validation file."""
    write_wsn(tmp_path / "train_0" / "JSIN_all__run_000.h5", seed=1, silent_background_rows=(2,))
    write_wsn(tmp_path / "train_0" / "JSIN_all__run_001.h5", samples=48000, seed=2)
    write_wsn(tmp_path / "valid_0" / "JSIN_all__run_000.h5", samples=44000, seed=3)
    return tmp_path


def _globs(root: Path) -> dict[str, str]:
    return {
        "train_glob": str(root / "train_*" / "JSIN_all__run_*.h5"),
        "val_glob": str(root / "valid_*" / "JSIN_all__run_*.h5"),
    }


def _check_contract(item: dict, n_events: int = 517) -> None:
    assert set(item) == {"speech", "background", "snr_db", "word", "speaker", "audioset", "audioset_mask"}
    assert item["speech"].dtype == torch.float32 and item["speech"].shape == (CLIP_SAMPLES,)
    assert item["background"].dtype == torch.float32 and item["background"].shape == (CLIP_SAMPLES,)
    assert item["snr_db"].dtype == torch.float32 and item["snr_db"].shape == ()
    assert item["word"].dtype == torch.int64 and item["word"].shape == ()
    assert item["speaker"].dtype == torch.int64 and item["speaker"].shape == ()
    assert item["audioset"].dtype == torch.float32 and item["audioset"].shape == (n_events,)
    assert item["audioset_mask"].dtype == torch.float32 and item["audioset_mask"].shape == ()


def test_noisy_items_follow_the_contract(wsn_dir):
    dm = WSNDataModule(**_globs(wsn_dir), batch_size=4, num_workers=0)
    dm.setup("fit")
    assert len(dm.train_set) == 2 * N_ROWS and len(dm.val_set) == N_ROWS
    assert dm.label_sizes == {"word": 794, "speaker": 433, "audioset": 517}
    assert dm.vocabularies["word"][:2] == ["word_0", "word_1"]
    with h5py.File(wsn_dir / "train_0" / "JSIN_all__run_001.h5") as f:
        words, events = f[WORD_KEY][:], f[EVENTS_KEY][:]
    for i in range(len(dm.train_set)):
        item = dm.train_set[i]
        _check_contract(item)
        assert -10.0 <= item["snr_db"].item() <= 10.0
        assert item["background"].abs().max() > 0 or i == 2
        # row 2 of the first file has no background: kept, but its event labels are masked
        assert item["audioset_mask"].item() == (0.0 if i == 2 else 1.0)
    item = dm.train_set[N_ROWS + 4]  # row 4 of the second file
    assert item["word"].item() == words[4]
    assert torch.equal(item["audioset"], torch.from_numpy(events[4].astype(np.float32)))
    snrs = {round(dm.train_set[0]["snr_db"].item(), 6) for _ in range(5)}
    assert len(snrs) > 1  # training SNRs are drawn afresh


def test_validation_is_fixed_and_centred(wsn_dir):
    dm = WSNDataModule(**_globs(wsn_dir), batch_size=4, num_workers=0, seed=3)
    dm.setup("fit")
    a, b = dm.val_set[1], dm.val_set[1]
    assert a["snr_db"].item() == b["snr_db"].item()
    assert torch.equal(a["speech"], b["speech"]) and torch.equal(a["background"], b["background"])
    other = WSNDataModule(**_globs(wsn_dir), batch_size=4, num_workers=0, seed=4)
    other.setup("fit")
    assert other.val_set[1]["snr_db"].item() != a["snr_db"].item()
    # 44,000-sample clips, word centred: the centre crop keeps the burst over the centre
    centre = a["speech"][CLIP_SAMPLES // 2 - 1000 : CLIP_SAMPLES // 2 + 1000]
    assert centre.abs().max() > 0.5 * BURST
    assert a["speech"][:10000].abs().max() < 0.01


def test_clean_items_have_no_background(wsn_dir):
    dm = WSNDataModule(**_globs(wsn_dir), noise="clean", batch_size=4, num_workers=0)
    dm.setup("fit")
    for dataset in (dm.train_set, dm.val_set):
        item = dataset[3]
        _check_contract(item)
        assert torch.count_nonzero(item["background"]) == 0
        assert math.isinf(item["snr_db"].item()) and item["snr_db"].item() > 0
        assert item["audioset_mask"].item() == 0.0 and torch.count_nonzero(item["audioset"]) == 0


def test_clean_needs_no_background_keys(tmp_path):
    write_wsn(tmp_path / "train_0" / "JSIN_all__run_0.h5", drop=NOISE_KEY)
    write_wsn(tmp_path / "valid_0" / "JSIN_all__run_0.h5", drop=NOISE_KEY)
    dm = WSNDataModule(**_globs(tmp_path), noise="clean", batch_size=2, num_workers=0)
    dm.setup("fit")
    assert dm.train_set[0]["snr_db"].item() == math.inf


def test_jitter_crop_keeps_the_word_over_the_centre(tmp_path):
    path = write_wsn(tmp_path / "run.h5", samples=80000, timing=(2.6, 2.8))  # word 52,000..56,000
    train = WSNDataset([path], "train", train=True)
    starts = set()
    for _ in range(20):
        speech = train[0]["speech"].numpy()
        # a 300-Hz burst: look at more than one period around the centre sample
        assert np.abs(speech[CLIP_SAMPLES // 2 - 40 : CLIP_SAMPLES // 2 + 40]).max() > 0.5 * BURST
        starts.add(int(np.flatnonzero(np.abs(speech) > 0.5 * BURST)[0]))
    assert len(starts) > 5  # the crop really moves
    val = WSNDataset([path], "val", train=False)
    loud = np.flatnonzero(np.abs(val[0]["speech"].numpy()) > 0.5 * BURST)
    assert abs((loud[0] + loud[-1]) / 2 - CLIP_SAMPLES / 2) < 50  # centred on the word


def test_dataloader_with_two_workers_opens_files_per_worker(wsn_dir):
    dm = WSNDataModule(**_globs(wsn_dir), batch_size=4, num_workers=2)
    dm.setup("fit")
    dm.train_set[0]  # the parent opens files too: workers must not reuse its handles
    seen = 0
    for batch in dm.train_dataloader():
        batch = dm.on_after_batch_transfer(batch, 0)
        assert batch["waveform"].shape == (4, CLIP_SAMPLES)
        assert torch.isfinite(batch["waveform"]).all()
        torch.testing.assert_close(rms(batch["waveform"]), torch.full((4,), TARGET_RMS), rtol=1e-4, atol=1e-6)
        seen += len(batch["word"])
    assert seen == 2 * N_ROWS  # drop_last: 12 clips in 3 full batches
    val = [dm.on_after_batch_transfer(b, 0) for b in dm.val_dataloader()]
    assert sum(len(b["word"]) for b in val) == N_ROWS
    dm.teardown("fit")


def test_missing_key_names_file_and_key(tmp_path):
    bad = write_wsn(tmp_path / "train_0" / "JSIN_all__run_1.h5", drop=SPEAKER_KEY)
    write_wsn(tmp_path / "valid_0" / "JSIN_all__run_0.h5")
    dm = WSNDataModule(**_globs(tmp_path), batch_size=2, num_workers=0)
    with pytest.raises(ValueError, match=rf"{re.escape(str(bad))}.*{SPEAKER_KEY}"):
        dm.setup("fit")


def test_out_of_range_label_names_file_row_and_value(tmp_path):
    words = np.array([0, 1, 2, 900, 4, MISSING])
    bad = write_wsn(tmp_path / "train_0" / "JSIN_all__run_0.h5", word=words)
    write_wsn(tmp_path / "valid_0" / "JSIN_all__run_0.h5")
    dm = WSNDataModule(**_globs(tmp_path), batch_size=2, num_workers=0)
    with pytest.raises(ValueError, match=rf"{re.escape(str(bad))}: {WORD_KEY}\[3\] = 900 .*794 classes"):
        dm.setup("fit")
    vocab = tmp_path / "words.txt"
    vocab.write_text("\n".join(f"w{i}" for i in range(3)) + "\n")
    words[3] = 1  # now 4 (row 4) is outside a 3-word vocabulary; -1 (row 5) is a missing label
    write_wsn(tmp_path / "train_0" / "JSIN_all__run_0.h5", word=words)
    dm = WSNDataModule(**_globs(tmp_path), batch_size=2, num_workers=0, word_vocab=str(vocab))
    assert dm.label_sizes["word"] == 3
    with pytest.raises(ValueError, match=rf"{WORD_KEY}\[4\] = 4 .*3 classes"):
        dm.setup("fit")


def test_glob_without_files_is_named(tmp_path):
    write_wsn(tmp_path / "valid_0" / "JSIN_all__run_0.h5")
    pattern = str(tmp_path / "train_*" / "JSIN_all__run_*.h5")
    dm = WSNDataModule(train_glob=pattern, val_glob=str(tmp_path / "valid_*" / "*.h5"), batch_size=2, num_workers=0)
    with pytest.raises(ValueError, match=re.escape(f"data.train_glob '{pattern}' matches no files")):
        dm.setup("fit")


def test_hydra_config_composes_and_instantiates(wsn_dir):
    globs = _globs(wsn_dir)
    overrides = ["data=wsn", f"data.train_glob={globs['train_glob']}", f"data.val_glob={globs['val_glob']}",
                 "data.batch_size=4", "data.num_workers=0"]  # fmt: skip
    with initialize_config_module(config_module="conf", version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    assert cfg.data.noise == "noisy" and list(cfg.data.snr_db) == [-10.0, 10.0]
    dm = instantiate(cfg.data)
    assert isinstance(dm, WSNDataModule) and dm.seed == cfg.seed
    dm.setup("fit")
    _check_contract(dm.train_set[0])

"""docs/zoo_recipes.md: its example adapter, taken from the page as a user would save it, works
through evaluation with the reduction it declares (each GRU read by its final hidden state),
names its weights as models.zoo.origin does, and builds from the command line's config."""

from __future__ import annotations

import hashlib
import importlib
import re
import sys

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from evaluate import Benchmark, extract_activations, score_model
from evaluate.app import build_model
from models.contract import ActivationModel, returned_layers
from models.reductions import final_step, time_mean
from tests.helpers import REPO

PAGE = REPO / "docs" / "zoo_recipes.md"
HEADER = "# mypkg/captioning.py"


def example_code() -> str:
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    found = [b for b in blocks if b.startswith(HEADER + "\n")]
    assert len(found) == 1, f"{PAGE} should hold one python block starting with {HEADER!r}"
    return found[0]


@pytest.fixture
def captioning(tmp_path, monkeypatch):
    """The page's example saved as mypkg/captioning.py on sys.path, imported."""
    package = tmp_path / "pkgroot" / "mypkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "captioning.py").write_text(example_code())
    monkeypatch.syspath_prepend(str(package.parent))
    for name in ("mypkg", "mypkg.captioning"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    module = importlib.import_module("mypkg.captioning")
    yield module
    for name in ("mypkg", "mypkg.captioning"):
        sys.modules.pop(name, None)


def sounds(n: int, seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    tones = np.sin(2 * np.pi * rng.uniform(200, 2000, (n, 1)) * t)
    return (0.1 * tones + 0.02 * rng.standard_normal((n, t.size))).astype(np.float32)


def test_the_example_reads_each_gru_by_its_final_hidden_state(captioning, tmp_path):
    torch.manual_seed(0)
    model = captioning.CaptioningEncoder(n_mels=16, hidden=8, layers=2)
    assert isinstance(model, ActivationModel) and model.sample_rate == 44100
    assert model.identifier.startswith("CaptioningEncoder-untrained-seed")
    assert returned_layers(model) == {"Logmel": time_mean(1), "GRU_1": final_step(1), "GRU_2": final_step(1)}
    wav = sounds(3, 0.5, 44100)
    acts = extract_activations(model, wav, batch_size=2, cache_dir=tmp_path / "cache", progress=False)
    assert {k: v.shape for k, v in acts.items()} == {"Logmel": (3, 16), "GRU_1": (3, 8), "GRU_2": (3, 8)}
    # By hand: log-mel frames, then each GRU run alone with the model's weights; its h_n.
    with torch.no_grad():
        x = torch.log(model.mel(torch.from_numpy(wav)) + 1e-6).transpose(1, 2)
        assert x.shape == (3, 0.5 * 44100 // 1024 + 1, 16)
        np.testing.assert_allclose(acts["Logmel"], x.mean(1).numpy(), rtol=1e-5, atol=1e-5)
        for i in (1, 2):
            gru = nn.GRU(x.shape[-1], 8, batch_first=True)
            gru.load_state_dict(model.grus[i - 1].state_dict())
            seq, h_n = gru(x)
            np.testing.assert_allclose(acts[f"GRU_{i}"], h_n[-1].numpy(), rtol=1e-5, atol=1e-6)
            assert not np.allclose(acts[f"GRU_{i}"], seq.mean(1).numpy(), atol=1e-3)  # not the time mean
            x = seq
    again = extract_activations(model, wav, batch_size=2, cache_dir=tmp_path / "cache", progress=False)
    assert all(np.array_equal(again[k], acts[k]) for k in acts)  # served from the cache: it is keyable
    assert len(list((tmp_path / "cache" / "activations").glob("*.npz"))) == 1


def test_the_example_names_its_weights_and_builds_from_the_cli_config(captioning, tmp_path):
    torch.manual_seed(1)
    trained = captioning.CaptioningEncoder(n_mels=16, hidden=8, layers=2)
    path = tmp_path / "encoder.pt"
    torch.save(trained.state_dict(), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    loaded = captioning.CaptioningEncoder(str(path), n_mels=16, hidden=8, layers=2)
    assert loaded.identifier == f"CaptioningEncoder@encoder.pt-{digest[:12]}" and loaded.provenance["sha256"] == digest
    wav = sounds(2, 0.3, 44100, seed=1)
    a = extract_activations(trained, wav, cache=False, progress=False)
    b = extract_activations(loaded, wav, cache=False, progress=False)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    with pytest.raises(FileNotFoundError, match="CaptioningEncoder: weights not found"):
        captioning.CaptioningEncoder(str(tmp_path / "missing.pt"))
    # python -m evaluate model._target_=mypkg.captioning.CaptioningEncoder +model.path=...
    page = PAGE.read_text()
    assert "model._target_=mypkg.captioning.CaptioningEncoder +model.path=" in page
    cfg = OmegaConf.create({"ckpt_path": None, "seed": 0, "heads": {"word": 3}, "model": {
        "_target_": "mypkg.captioning.CaptioningEncoder", "path": str(path), "n_mels": 16, "hidden": 8, "layers": 2}})
    net, ident, info = build_model(cfg, torch.device("cpu"))
    assert ident == loaded.identifier and info["weights"]["sha256"] == digest


def test_the_example_is_scored_at_its_own_rate(captioning, tmp_path):
    torch.manual_seed(2)
    model = captioning.CaptioningEncoder(n_mels=16, hidden=8, layers=2)
    rng = np.random.default_rng(0)
    bench = Benchmark.from_arrays(rng.standard_normal((12, 6, 3)), participant=[0, 0, 0, 1, 1, 1],
                                  waveforms=sounds(12, 0.25, 20000), name="tiny")  # fmt: skip
    result = score_model(model, bench, cache_dir=tmp_path / "cache", progress=False, rsa=False)
    assert result.layers == ["Logmel", "GRU_1", "GRU_2"] and result.model == model.identifier
    assert np.isfinite(result.per_layer["value"]).all()
    # The stimuli reached the model at 44.1 kHz: 0.25 s -> 11025 samples -> 11 mel frames.
    frames = []
    hook = model.mel.register_forward_hook(lambda _m, _i, out: frames.append(out.shape[-1]))
    score_model(model, bench, cache=False, progress=False, rsa=False)
    hook.remove()
    assert frames and set(frames) == {11025 // 1024 + 1}

"""DeepSpeech2 (deepspeech.pytorch's architecture): checkpoints in their key names load (also a
Lightning checkpoint whose pickled configs name classes that are not installed, without running
pickled code), the LSTM layers are read by their final cell state, the front end is their
spectrogram, and the errors name what is wrong."""

from __future__ import annotations

import enum
import hashlib
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from omegaconf import OmegaConf
from torch import nn

from evaluate import extract_activations
from evaluate.activations import activation_key
from evaluate.app import build_model
from models.contract import ActivationModel, returned_layers
from models.reductions import AS_IS, time_mean
from models.zoo.deepspeech2 import DeepSpeech2, load_state_dict
from tests.helpers import REPO

SMALL = dict(hidden_size=12, hidden_layers=3)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: one torch thread


def small(path=None, **kwargs) -> DeepSpeech2:
    return DeepSpeech2(path, **{**SMALL, **kwargs}).eval()


def randomised(model: DeepSpeech2) -> DeepSpeech2:
    """Batch-norm statistics away from their 0 / 1 defaults, so that loading them is visible."""
    g = torch.Generator().manual_seed(5)
    for name, buf in model.named_buffers():
        if name.endswith(("running_mean", "running_var")):
            buf.copy_(torch.rand(buf.shape, generator=g) + (0.5 if name.endswith("var") else -0.5))
    return model


def waves(n=2, seconds=0.5, rate=16000, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * rate)) / rate
    tone = torch.sin(2 * torch.pi * 440 * t)
    return 0.1 * tone + 0.05 * torch.randn(n, t.numel(), generator=g)


def test_layers_shapes_and_declared_reductions():
    torch.manual_seed(0)
    model = small()
    assert isinstance(model, ActivationModel) and model.sample_rate == 16000
    assert model.identifier.startswith("DeepSpeech2-untrained-seed") and "random" in model.provenance["origin"]
    assert list(returned_layers(model)) == ["Conv_1", "Conv_2", "LSTM_1", "LSTM_2", "LSTM_3", "Final"]
    assert model.LAYER_REDUCTIONS["LSTM_2"] == AS_IS and model.LAYER_REDUCTIONS["Conv_1"] == time_mean(3)
    with torch.inference_mode():
        out = model.activations(waves())
    frames = 0.5 * 16000 // 160 + 1  # centred frames: 51 -> 26 after the first conv's time stride 2
    assert out["Conv_1"].shape == (2, 32, 81, (frames + 1) // 2) and out["Conv_2"].shape == (2, 32, 41, 26)
    assert out["LSTM_1"].shape == (2, 24) and out["Final"].shape == (2, 26, 29)
    torch.testing.assert_close(model(waves()), out["Final"])
    acts = extract_activations(model, waves(3).numpy(), cache=False, progress=False)
    assert {k: v.shape for k, v in acts.items()} == {
        "Conv_1": (3, 32 * 81), "Conv_2": (3, 32 * 41), "LSTM_1": (3, 24), "LSTM_2": (3, 24), "LSTM_3": (3, 24),
        "Final": (3, 29)}  # fmt: skip
    np.testing.assert_allclose(acts["Final"][:2], out["Final"].mean(1).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acts["LSTM_2"][:2], out["LSTM_2"].numpy(), rtol=1e-5, atol=1e-6)
    activation_key(model, waves(3).numpy(), list(acts))  # keyable: its activations are cached


def test_paper_size_matches_the_librispeech_model():
    model = DeepSpeech2()
    assert model.rnn_input_size == 1312 and model.rnns[0].rnn.hidden_size == 1024 and len(model.rnns) == 5
    assert sum(p.numel() for p in model.parameters()) == 86_618_400
    assert list(model.LAYER_REDUCTIONS) == ["Conv_1", "Conv_2", *(f"LSTM_{i}" for i in range(1, 6)), "Final"]
    keys = set(model.state_dict())
    assert {"conv.seq_module.0.weight", "conv.seq_module.4.running_var", "rnns.0.rnn.weight_ih_l0_reverse",
            "rnns.1.batch_norm.module.running_mean", "fc.0.module.0.weight", "fc.0.module.1.weight"} <= keys
    assert "rnns.0.batch_norm.module.weight" not in keys and "fc.0.module.1.bias" not in keys
    assert not any("window" in k for k in keys)  # the front end adds nothing to their state dict


def test_lstm_layers_are_read_by_their_final_cell_state():
    torch.manual_seed(1)
    model = randomised(small())
    wav = waves(seed=3)
    with torch.inference_mode():
        out = model.activations(wav)
        x = model.conv.seq_module(model.spectrogram(wav).unsqueeze(1))
        x = x.flatten(1, 2).permute(2, 0, 1)  # [frames, batch, 32 * 41]
        for i in range(2):
            if i:  # the layers after the first normalise their input (their BatchRNN)
                bn = model.rnns[i].batch_norm.module
                x = (x - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias
            lstm = nn.LSTM(x.shape[-1], 12, bidirectional=True)
            lstm.load_state_dict(model.rnns[i].rnn.state_dict())
            seq, (h, c) = lstm(x)
            expected = torch.cat([c[0], c[1]], dim=1)  # forward direction, then backward
            torch.testing.assert_close(out[f"LSTM_{i + 1}"], expected, rtol=1e-5, atol=1e-6)
            assert not torch.allclose(expected, torch.cat([h[0], h[1]], dim=1))  # the cell, not the hidden state
            x = seq[..., :12] + seq[..., 12:]  # the next layer sees the directions summed
    # The forward direction's cell state after the last frame: one more frame changes it.
    longer = torch.cat([wav, wav[:, :160]], dim=1)
    with torch.inference_mode():
        assert not torch.allclose(model.activations(longer)["LSTM_1"][:, :12], out["LSTM_1"][:, :12])


def test_front_end_is_their_normalised_log_spectrogram():
    wav = waves(1, seconds=0.3)[0].double().numpy()
    n_fft, hop = 320, 160
    padded = np.pad(wav, n_fft // 2, mode="reflect")  # librosa's centred frames (< 0.10: reflect)
    window = 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # scipy 'hamming', fftbins=True
    frames = np.stack([padded[s:s + n_fft] * window for s in range(0, len(padded) - n_fft + 1, hop)], axis=1)
    spect = np.log1p(np.abs(np.fft.rfft(frames, axis=0)))
    spect = (spect - spect.mean()) / spect.std(ddof=1)
    got = small().spectrogram(torch.from_numpy(wav)[None].float())[0].numpy()
    assert got.shape == spect.shape == (161, 0.3 * 16000 // 160 + 1)
    np.testing.assert_allclose(got, spect, atol=2e-4)


class _Malicious:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


def lightning_checkpoint(path: Path, state: dict, marker: Path) -> None:
    """A checkpoint as Lightning writes deepspeech.pytorch's: the state dict beside pickled
    objects of a package (their enums and config classes) that the loading side does not have."""
    fake = types.ModuleType("deepspeech_pytorch_configs_not_installed")
    fake.SpectrogramWindow = enum.Enum("SpectrogramWindow", {"hamming": "hamming"}, module=fake.__name__)
    fake.SpectConfig = type("SpectConfig", (), {"__module__": fake.__name__})
    spect = fake.SpectConfig()
    spect.sample_rate, spect.window = 16000, fake.SpectrogramWindow.hamming
    sys.modules[fake.__name__] = fake
    try:
        torch.save({"state_dict": state, "epoch": 16, "pytorch-lightning_version": "1.2.0",
                    "hyper_parameters": {"spect_cfg": spect, "labels": list("_'AB"), "hook": _Malicious(marker)},
                    "optimizer_states": [{"state": {0: {"exp_avg": torch.zeros(3)}}}]}, path)  # fmt: skip
    finally:
        del sys.modules[fake.__name__]


def test_checkpoints_reload_by_path_with_their_names_and_digest(tmp_path):
    torch.manual_seed(2)
    model = randomised(small())
    state = {k: v.clone() for k, v in model.state_dict().items()}
    marker = tmp_path / "pickled-code-ran"
    ckpt = tmp_path / "librispeech_small.ckpt"
    lightning_checkpoint(ckpt, state, marker)
    with pytest.raises(Exception, match="deepspeech_pytorch_configs_not_installed"):
        torch.load(ckpt, weights_only=False)  # what a plain torch.load does without their package
    loaded = small(ckpt)
    assert not marker.exists()  # the pickled os.mkdir was never called
    digest = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert loaded.identifier == f"DeepSpeech2@librispeech_small.ckpt-{digest[:12]}"
    assert loaded.provenance["sha256"] == digest and loaded.provenance["path"] == str(ckpt.resolve())
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in state.items())
    wav = waves()
    with torch.inference_mode():
        a, b = model.activations(wav), loaded.activations(wav)
    assert all(torch.equal(a[k], b[k]) for k in a)
    _, meta = load_state_dict(ckpt)
    assert meta["epoch"] == 16 and "inert" in repr(meta["hyper_parameters"]["spect_cfg"])

    # A V2 .pth (plain values beside the state dict, a DataParallel prefix) and a bare state dict.
    pth = tmp_path / "v2.pth"
    audio_conf = {"sample_rate": 16000, "window_size": 0.02, "window_stride": 0.01, "window": "hamming"}
    torch.save({"version": "0.0.1", "hidden_size": 12, "audio_conf": audio_conf,
                "state_dict": {f"module.{k}": v for k, v in state.items()}}, pth)  # fmt: skip
    with torch.inference_mode():
        assert torch.equal(small(pth).activations(wav)["LSTM_3"], a["LSTM_3"])
    bare = tmp_path / "bare.pt"
    torch.save(state, bare)
    assert small(bare).identifier.startswith("DeepSpeech2@bare.pt-")


def test_errors_name_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"DeepSpeech2: weights not found at .*nowhere\.ckpt"):
        small(tmp_path / "nowhere.ckpt")
    state = small().state_dict()
    path = tmp_path / "w.pt"
    torch.save({k: v for k, v in state.items() if not k.startswith("fc.")} | {"extra.weight": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match=r"missing keys: fc\.0\.module\.0\.weight.*unexpected keys: extra\.weight"):
        small(path)
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"other shapes: rnns\.0\.rnn\.weight_ih_l0 \[48, 1312\] \(here \[80, 1312\]\)"
                                         r".*looks like hidden_size=12, hidden_layers=3, n_classes=29"):  # fmt: skip
        small(path, hidden_size=20)
    with pytest.raises(ValueError, match="missing keys: rnns.3"):
        small(path, hidden_layers=4)
    torch.save({"state_dict": "not tensors"}, path)
    with pytest.raises(ValueError, match="holds no state dict of tensors"):
        small(path)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="could not read"):
        small(path)
    pth = tmp_path / "8k.pth"
    torch.save({"audio_conf": {"sample_rate": 8000, "window_size": 0.02}, "state_dict": state}, pth)
    with pytest.raises(ValueError, match=r"another front end: sample_rate=8000 \(here 16000\)"):
        small(pth)


def test_the_config_builds_it_from_a_path(tmp_path):
    conf = yaml.safe_load((REPO / "conf" / "model" / "zoo" / "deepspeech2.yaml").read_text())
    assert conf["_target_"] == "models.zoo.deepspeech2.DeepSpeech2" and conf["path"] is None
    assert (conf["hidden_size"], conf["hidden_layers"]) == (1024, 5)
    torch.manual_seed(4)
    path = tmp_path / "ds2.pth"
    torch.save({"state_dict": small().state_dict()}, path)
    cfg = OmegaConf.create({"ckpt_path": None, "seed": 0, "heads": {"word": 3},
                            "model": {**conf, **SMALL, "path": str(path)}})  # fmt: skip
    net, ident, info = build_model(cfg, torch.device("cpu"))
    assert isinstance(net, DeepSpeech2) and ident.startswith("DeepSpeech2@ds2.pth-")
    assert info["weights"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()

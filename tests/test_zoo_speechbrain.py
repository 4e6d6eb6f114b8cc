"""SpeechBrain's MetricGAN+ and SepFormer from a local model folder (hyperparams.yaml + <module>.ckpt),
without the network: the modules built from small hyperparams files in the released layout,
saved, reloaded strictly, read out layer by layer, and checked against SpeechBrain's own
inference classes loading the same folder."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch
import yaml
from hyperpyyaml import load_hyperpyyaml
from omegaconf import OmegaConf
from speechbrain.inference.enhancement import SpectralMaskEnhancement
from speechbrain.inference.separation import SepformerSeparation
from speechbrain.utils.fetching import FetchConfig
from torch import nn

from evaluate import extract_activations
from evaluate.activations import activation_key
from evaluate.app import build_model
from models.contract import ActivationModel
from models.zoo.origin import path_digest
from models.zoo.speechbrain import MetricGANPlus, SepFormer, lstm_layer_outputs
from tests.helpers import REPO

# The released hyperparams.yaml files' layout, small where the architecture allows.
METRICGAN_YAML = """\
sample_rate: 16000
compute_stft: !new:speechbrain.processing.features.STFT
    sample_rate: 16000
    win_length: 32
    hop_length: 16
    n_fft: 512
    window_fn: !name:torch.hamming_window
compute_istft: !new:speechbrain.processing.features.ISTFT
    sample_rate: 16000
    win_length: 32
    hop_length: 16
    window_fn: !name:torch.hamming_window
spectral_magnitude: !name:speechbrain.processing.features.spectral_magnitude
    power: 0.5
resynth: !name:speechbrain.processing.signal_processing.resynthesize
    stft: !ref <compute_stft>
    istft: !ref <compute_istft>
enhance_model: !new:speechbrain.lobes.models.MetricGAN.EnhancementGenerator
modules:
    enhance_model: !ref <enhance_model>
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        enhance_model: !ref <enhance_model>
"""

SEPFORMER_YAML = """\
sample_rate: 8000
num_spks: 2
Encoder: !new:speechbrain.lobes.models.dual_path.Encoder
    kernel_size: 16
    out_channels: 16
SBtfintra: !new:speechbrain.lobes.models.dual_path.SBTransformerBlock
    num_layers: 1
    d_model: 16
    nhead: 2
    d_ffn: 32
    dropout: 0
    use_positional_encoding: True
    norm_before: True
SBtfinter: !new:speechbrain.lobes.models.dual_path.SBTransformerBlock
    num_layers: 1
    d_model: 16
    nhead: 2
    d_ffn: 32
    dropout: 0
    use_positional_encoding: True
    norm_before: True
MaskNet: !new:speechbrain.lobes.models.dual_path.Dual_Path_Model
    num_spks: 2
    in_channels: 16
    out_channels: 16
    num_layers: 2
    K: 20
    intra_model: !ref <SBtfintra>
    inter_model: !ref <SBtfinter>
    norm: ln
    linear_layer_after_inter_intra: False
    skip_around_intra: True
Decoder: !new:speechbrain.lobes.models.dual_path.Decoder
    in_channels: 16
    out_channels: 1
    kernel_size: 16
    stride: 8
    bias: False
modules:
    encoder: !ref <Encoder>
    decoder: !ref <Decoder>
    masknet: !ref <MaskNet>
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        encoder: !ref <Encoder>
        masknet: !ref <MaskNet>
        decoder: !ref <Decoder>
"""


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: one torch thread


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to reach the network fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def model_folder(tmp_path, text: str, seed: int) -> tuple:
    """The folder from_hparams leaves: hyperparams.yaml + <module>.ckpt, random weights (seeded)."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "hyperparams.yaml").write_text(text)
    torch.manual_seed(seed)
    modules = load_hyperpyyaml(text)["modules"]
    for name, module in modules.items():
        with torch.no_grad():
            for p in module.parameters():  # away from the constant initialisations (zero biases, unit slopes)
                p.add_(0.1 * torch.randn_like(p))
        torch.save(module.state_dict(), folder / f"{name}.ckpt")
    return folder, modules


def sound(n=2, seconds=0.5, rate=16000) -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    t = torch.arange(int(seconds * rate)) / rate
    return 0.2 * torch.sin(2 * torch.pi * 300 * t) * torch.rand(n, 1, generator=g) + 0.05 * torch.randn(
        n, t.numel(), generator=g)  # fmt: skip


def test_metricgan_from_a_local_folder(tmp_path, offline):
    folder, saved = model_folder(tmp_path, METRICGAN_YAML, seed=0)
    model = MetricGANPlus(folder).eval()
    assert isinstance(model, ActivationModel) and model.sample_rate == 16000
    assert model.identifier == f"MetricGANPlus@model-{path_digest(folder)[:12]}"
    assert model.provenance["path"] == str(folder.resolve()) and "untrained" not in model.identifier
    loaded = model.enhance_model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in saved["enhance_model"].state_dict().items())
    assert list(model.LAYER_REDUCTIONS) == ["LSTM_1", "LSTM_2", "Linear_1", "Linear_2"]
    wav = sound()
    with torch.inference_mode():
        out = model.activations(wav)
        feats = model.features(wav)
        blstm = model.enhance_model.blstm.rnn
        first = nn.LSTM(257, 200, bidirectional=True, batch_first=True)
        first.load_state_dict({k: v for k, v in blstm.state_dict().items() if "_l0" in k})
        # SpeechBrain's own loader, network allowed: a local source never reaches it (the sockets refuse).
        reference = SpectralMaskEnhancement.from_hparams(source=str(folder), savedir=str(tmp_path / "sb"))
        sb_feats = reference.compute_features(wav)
        sb_mask = reference.mods.enhance_model(sb_feats, lengths=torch.ones(len(wav)))
        first_alone, stack_output = first(feats)[0], blstm(feats)[0]
    frames = 0.5 * 16000 // 256 + 1
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "LSTM_1": (2, frames, 400), "LSTM_2": (2, frames, 400), "Linear_1": (2, frames, 300),
        "Linear_2": (2, frames, 257)}  # fmt: skip
    torch.testing.assert_close(feats, sb_feats)
    torch.testing.assert_close(out["LSTM_1"], first_alone)  # the first layer alone
    torch.testing.assert_close(out["LSTM_2"], stack_output)  # the stack's output
    assert not torch.allclose(out["LSTM_1"], out["LSTM_2"])
    torch.testing.assert_close(out["Linear_2"], sb_mask)  # SpeechBrain's own loading and forward agree
    with torch.inference_mode():
        torch.testing.assert_close(model(wav), out["Linear_2"])
    acts = extract_activations(model, wav.numpy(), cache=False, progress=False)
    assert {k: v.shape for k, v in acts.items()} == {"LSTM_1": (2, 400), "LSTM_2": (2, 400), "Linear_1": (2, 300),
                                                     "Linear_2": (2, 257)}  # fmt: skip
    np.testing.assert_allclose(acts["Linear_1"], out["Linear_1"].mean(1).numpy(), rtol=1e-5, atol=1e-6)
    activation_key(model, wav.numpy(), list(acts))  # keyable: its activations are cached


def test_lstm_layer_outputs_follow_the_stack():
    torch.manual_seed(3)
    stack = nn.LSTM(5, 4, num_layers=3, batch_first=True, bidirectional=True).eval()
    x = torch.randn(2, 7, 5)
    before, rng = {k: v.clone() for k, v in stack.state_dict().items()}, torch.random.get_rng_state()
    layers = lstm_layer_outputs(stack, x)
    assert torch.equal(rng, torch.random.get_rng_state())  # the layer views draw no random numbers
    assert [tuple(h.shape) for h in layers] == [(2, 7, 8)] * 3
    torch.testing.assert_close(layers[-1], stack(x)[0])
    two = nn.LSTM(5, 4, num_layers=2, batch_first=True, bidirectional=True)
    two.load_state_dict({k: v for k, v in stack.state_dict().items() if "_l2" not in k})
    torch.testing.assert_close(layers[1], two(x)[0])
    assert all(torch.equal(before[k], v) for k, v in stack.state_dict().items())  # the stack is untouched


def test_sepformer_from_a_local_folder(tmp_path, offline):
    folder, saved = model_folder(tmp_path, SEPFORMER_YAML, seed=1)
    model = SepFormer(folder).eval()
    assert model.sample_rate == 8000 and model.num_spks == 2
    assert model.identifier == f"SepFormer@model-{path_digest(folder)[:12]}"
    for name in ("encoder", "masknet", "decoder"):
        loaded = getattr(model, name).state_dict()
        assert all(torch.equal(loaded[k], v) for k, v in saved[name].state_dict().items())
    assert list(model.LAYER_REDUCTIONS) == ["Encoder", "MaskNet_1_intra", "MaskNet_1_inter", "MaskNet_2_intra",
                                            "MaskNet_2_inter", "Masks", "Decoder"]  # fmt: skip
    wav = sound(rate=8000)
    blocks = []
    hook = model.masknet.dual_mdl[1].register_forward_hook(lambda _m, _i, o: blocks.append(o))
    with torch.inference_mode():
        out = model.activations(wav)
        encoded = model.encoder(wav)
        masks = model.masknet(encoded)  # SpeechBrain's forward: [speakers, batch, N, frames]
        reference = SepformerSeparation.from_hparams(source=str(folder), savedir=str(tmp_path / "sb"),
                                                     fetch_config=FetchConfig(allow_network=False))  # fmt: skip
        separated = reference.separate_batch(wav)
        sources = model(wav)
    hook.remove()
    frames = (4000 - 16) // 8 + 1
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        **{k: (2, 16, frames) for k in ("Encoder", "MaskNet_1_intra", "MaskNet_1_inter", "MaskNet_2_intra",
                                         "MaskNet_2_inter")},
        "Masks": (2, 2, 16, frames), "Decoder": (2, 2, 16, frames)}  # fmt: skip
    torch.testing.assert_close(out["Encoder"], encoded)
    torch.testing.assert_close(out["Masks"], masks.transpose(0, 1))
    torch.testing.assert_close(out["Decoder"], encoded.unsqueeze(1) * masks.transpose(0, 1))
    gap = model.masknet._Segmentation(encoded, 20)[1]
    torch.testing.assert_close(out["MaskNet_2_inter"], model.masknet._over_add(blocks[0], gap) / 2)
    assert not torch.allclose(out["MaskNet_2_intra"], out["MaskNet_2_inter"])
    assert sources.shape == separated.shape == (2, 4000, 2)
    torch.testing.assert_close(sources, separated)  # the separated sources of SpeechBrain's own loading
    # Folding chunks back to frames averages the two copies of each frame: segmenting and folding is the identity.
    chunks, gap = model.masknet._Segmentation(encoded, model.masknet.K)
    torch.testing.assert_close(model.masknet._over_add(chunks, gap) / 2, encoded)
    acts = extract_activations(model, wav.numpy(), cache=False, progress=False)
    assert acts["Masks"].shape == (2, 32) and acts["MaskNet_1_intra"].shape == (2, 16)
    np.testing.assert_allclose(acts["Decoder"], out["Decoder"].mean(-1).flatten(1).numpy(), rtol=1e-5, atol=1e-6)
    activation_key(model, wav.numpy(), list(acts))


def test_paper_size_architectures():
    metricgan, sepformer = MetricGANPlus(), SepFormer()
    assert metricgan.identifier.startswith("MetricGANPlus-untrained-seed")
    assert "random" in metricgan.provenance["origin"] and "untrained" in sepformer.identifier
    assert sum(p.numel() for p in metricgan.parameters()) == 1_895_514
    assert sum(p.numel() for p in sepformer.parameters()) == 25_679_361
    assert (metricgan.sample_rate, sepformer.sample_rate) == (16000, 8000)
    assert len(sepformer.masknet.dual_mdl) == 2 and sepformer.masknet.K == 250
    assert len(sepformer.masknet.dual_mdl[0].intra_mdl.mdl.layers) == 8
    small = SepFormer(overrides={"transformer_layers": 1, "out_channels": 32, "N_encoder_out": 32, "d_ffn": 64})
    assert small.encoder.conv1d.out_channels == 32 and len(small.masknet.dual_mdl[0].intra_mdl.mdl.layers) == 1


def test_errors_name_what_is_wrong(tmp_path, offline):
    with pytest.raises(FileNotFoundError, match=r"MetricGANPlus: weights not found at .*nowhere"):
        MetricGANPlus(tmp_path / "nowhere")
    folder, saved = model_folder(tmp_path, SEPFORMER_YAML, seed=2)
    with pytest.raises(ValueError, match=r"is not a MetricGANPlus model: modules enhance_model \(got NoneType"):
        MetricGANPlus(folder)
    with pytest.raises(ValueError, match="is a file"):
        SepFormer(folder / "hyperparams.yaml")
    with pytest.raises(FileNotFoundError, match="other.yaml not found in"):
        SepFormer(folder, hparams_file="other.yaml")
    (folder / "decoder.ckpt").unlink()
    with pytest.raises(FileNotFoundError, match=r"decoder\.ckpt not found in .*nothing is downloaded"):
        SepFormer(folder)
    state = saved["decoder"].state_dict()
    torch.save({"weight": state["weight"], "bias": torch.zeros(1)}, folder / "decoder.ckpt")
    with pytest.raises(ValueError, match=r"decoder\.ckpt does not fit the Decoder .*unexpected keys: bias"):
        SepFormer(folder)
    torch.save({"weight": torch.zeros(8, 1, 16)}, folder / "decoder.ckpt")
    with pytest.raises(ValueError, match=r"other shapes: weight \[8, 1, 16\] \(here \[16, 1, 16\]\)"):
        SepFormer(folder)
    (folder / "decoder.ckpt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="could not read"):
        SepFormer(folder)
    with pytest.raises(ValueError, match="could not build"):
        SepFormer(overrides={"no_such_key": 1})


@pytest.mark.parametrize("name, cls, text", [("metricgan", MetricGANPlus, METRICGAN_YAML),
                                             ("sepformer", SepFormer, SEPFORMER_YAML)])  # fmt: skip
def test_the_configs_build_them_from_a_folder(tmp_path, name, cls, text, offline):
    conf = yaml.safe_load((REPO / "conf" / "model" / "zoo" / f"{name}.yaml").read_text())
    assert conf["_target_"] == f"models.zoo.speechbrain.{cls.__name__}" and conf["path"] is None
    folder, _ = model_folder(tmp_path, text, seed=4)
    cfg = OmegaConf.create({"ckpt_path": None, "seed": 0, "heads": {"word": 3}, "model": {**conf, "path": str(folder)}})
    net, ident, info = build_model(cfg, torch.device("cpu"))
    assert isinstance(net, cls) and ident == f"{cls.__name__}@model-{path_digest(folder)[:12]}"
    assert info["weights"]["sha256"] == path_digest(folder)

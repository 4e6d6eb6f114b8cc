"""External models: any importable ``torch.nn.Module`` at its own sample rate; the wav2vec2 / HuBERT adapter."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch
import torchaudio
from omegaconf import OmegaConf
from torch import nn

import models.wav2vec2 as w2v
from data.cache import sha256_file
from evaluate import Benchmark, Score, extract_activations, score_model
from evaluate.external import resample_for_model
from evaluate.fingerprint import tensors_digest
from models import Wav2Vec2Adapter
from models.contract import ScoredModel, input_rate
from tests.helpers.cli import only_run_dir, run_cli
from tests.helpers.configs import compose_config, evaluate_in_process
from tests.helpers.fake_release import write_release


class TinySeqModel(nn.Module):
    """A small external model: waveform ``[batch, samples]`` at ``sample_rate`` -> ``[batch, time, dim]``.

    Records the input lengths it sees; with ``expect_samples`` it refuses inputs of another length."""

    def __init__(self, sample_rate: int = 16000, dim: int = 8, expect_samples: int | None = None):
        super().__init__()
        self.sample_rate = sample_rate
        self.expect_samples = expect_samples
        self.conv = nn.Conv1d(1, dim, kernel_size=400, stride=320)
        self.proj = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        self.seen_lengths: list[int] = []

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        self.seen_lengths.append(waveform.shape[-1])
        if self.expect_samples is not None and waveform.shape[-1] != self.expect_samples:
            raise RuntimeError(f"expected {self.expect_samples} samples, got {waveform.shape[-1]}")
        h = torch.relu(self.conv(waveform.unsqueeze(1))).transpose(1, 2)  # [batch, time, dim]
        return self.out(torch.tanh(self.proj(h)))


def tiny_torchaudio_model(architecture: str) -> nn.Module:
    """A small torchaudio Wav2Vec2Model (3 layers, width 48) standing in for ``architecture``:
    pre-layer-norm like the large models when the name says so, post-layer-norm otherwise."""
    large = "large" in architecture
    return torchaudio.models.wav2vec2_model(
        extractor_mode="layer_norm" if large else "group_norm",
        extractor_conv_layer_config=[(16, 20, 10), (16, 4, 4), (16, 4, 4)],  # stride 160 (10 ms at 16 kHz)
        extractor_conv_bias=large,
        encoder_embed_dim=48,
        encoder_projection_dropout=0.1,
        encoder_pos_conv_kernel=16,
        encoder_pos_conv_groups=4,
        encoder_num_layers=3,
        encoder_num_heads=4,
        encoder_attention_dropout=0.1,
        encoder_ff_interm_features=64,
        encoder_ff_interm_dropout=0.1,
        encoder_dropout=0.1,
        encoder_layer_norm_first=large,
        encoder_layer_drop=0.1,
        aux_num_out=None,
    )


@pytest.fixture
def tiny(monkeypatch):
    """Every architecture name builds the tiny stand-in (fast); the adapter code is the real one."""
    monkeypatch.setattr(w2v, "build_architecture", tiny_torchaudio_model)


def sounds(n: int, samples: int, seed: int = 0) -> torch.Tensor:
    return 0.1 * torch.randn(n, samples, generator=torch.Generator().manual_seed(seed))


# --- 1. weights from a local file ---------------------------------------------------------------


def test_random_weights_saved_to_a_file_reload_exactly(tmp_path, caplog):
    """The real hubert_base architecture: random init (warned), saved, reloaded -> the same outputs."""
    torch.manual_seed(0)
    with caplog.at_level(logging.WARNING, logger="models.wav2vec2"):
        first = Wav2Vec2Adapter("hubert_base").eval()
    assert "RANDOM weights" in caplog.text and first.identifier == "Wav2Vec2Adapter-hubert_base-untrained-seed0"
    path = tmp_path / "hubert_base.pt"
    torch.save(first.model.state_dict(), path)
    torch.manual_seed(1)  # a different random init, overwritten by the file
    second = Wav2Vec2Adapter("hubert_base", weights=str(path)).eval()
    assert second.identifier == f"Wav2Vec2Adapter-hubert_base@hubert_base.pt-{sha256_file(path)[:12]}"
    x = sounds(2, 8000)
    with torch.inference_mode():
        out1, out2 = first.last_hidden(x), second.last_hidden(x)
    assert out1.shape == (2, 24, 768)
    torch.testing.assert_close(out1, out2, rtol=0, atol=0)
    assert tensors_digest(first) == tensors_digest(second)
    # SCORED_LAYERS of the real architecture: conv features, projection, one per transformer layer.
    assert second.SCORED_LAYERS == ("features", "projection", *(f"layer{i}" for i in range(1, 13)))
    assert second.sample_rate == 16000 and not bool(second.normalize)


def test_wrapped_and_prefixed_state_dicts_load(tiny, tmp_path):
    ref = Wav2Vec2Adapter().eval()
    state = ref.model.state_dict()
    variants = {
        "state_dict": {"state_dict": state, "epoch": 3},
        "model": {"model": state},
        "adapter": ref.state_dict(),  # a saved Wav2Vec2Adapter: model.* keys (+ its own buffer)
        "bundle": {f"model.{k}": v for k, v in state.items()},  # torchaudio's normalising bundle wrapper
        "asr": {**state, "aux.weight": torch.zeros(29, 48), "aux.bias": torch.zeros(29)},  # CTC head: ignored
    }
    x = sounds(1, 4000)
    for name, obj in variants.items():
        torch.save(obj, tmp_path / f"{name}.pt")
        net = Wav2Vec2Adapter(weights=tmp_path / f"{name}.pt").eval()
        with torch.inference_mode():
            torch.testing.assert_close(net.last_hidden(x), ref.last_hidden(x), rtol=0, atol=0, msg=name)


def test_bad_weights_and_architectures_are_clear_errors(tiny, tmp_path):
    with pytest.raises(ValueError, match=r"unknown architecture 'wav2vec3'; supported: wav2vec2_base, .*hubert_base"):
        Wav2Vec2Adapter("wav2vec3")
    with pytest.raises(FileNotFoundError, match="wav2vec2_base weights file not found: .*nowhere.pt"):
        Wav2Vec2Adapter(weights=tmp_path / "nowhere.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"could not read wav2vec2_base weights from .*garbage\.pt"):
        Wav2Vec2Adapter(weights=tmp_path / "garbage.pt")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(ValueError, match=r"list\.pt does not hold a state dict"):
        Wav2Vec2Adapter(weights=tmp_path / "list.pt")

    state = Wav2Vec2Adapter().model.state_dict()
    renamed = {k.replace("encoder.", "w2v_encoder."): v for k, v in state.items()}  # e.g. an unconverted checkpoint
    torch.save(renamed, tmp_path / "fairseq.pt")
    with pytest.raises(ValueError) as err:
        Wav2Vec2Adapter("hubert_base", weights=tmp_path / "fairseq.pt")
    msg = str(err.value)
    assert "fairseq.pt do not match hubert_base" in msg and "missing keys: encoder.feature_projection" in msg
    assert "unexpected keys: w2v_encoder." in msg and "import_fairseq_model" in msg
    torch.save({k: v for k, v in state.items() if ".layers.2." not in k}, tmp_path / "fewer.pt")
    with pytest.raises(ValueError, match=r"missing keys: encoder\.transformer\.layers\.2\."):
        Wav2Vec2Adapter(weights=tmp_path / "fewer.pt")
    wrong = dict(state, **{"encoder.feature_projection.projection.weight": torch.zeros(48, 7)})
    torch.save(wrong, tmp_path / "shape.pt")
    with pytest.raises(ValueError, match=r"shape mismatch in encoder\.feature_projection\.projection\.weight"):
        Wav2Vec2Adapter(weights=tmp_path / "shape.pt")


# --- 2. scored layers are [batch, time, dim] and are averaged over time --------------------------


@pytest.mark.parametrize("architecture", ["wav2vec2_base", "hubert_large"])  # post- and pre-layer-norm
def test_scored_layers_are_batch_time_dim_and_time_averaged(tiny, architecture):
    net = Wav2Vec2Adapter(architecture).eval()
    assert isinstance(net, ScoredModel) and input_rate(net) == 16000
    x = sounds(3, 16000)
    raw: dict[str, torch.Tensor] = {}
    handles = [getattr(net, name).register_forward_hook(lambda m, i, o, name=name: raw.__setitem__(name, o))
               for name in net.SCORED_LAYERS]  # fmt: skip
    with torch.inference_mode():
        final = net.last_hidden(x)
        assert net(x) == {}  # no heads: the model contract's empty dict of logits
        # torchaudio's own forward (on the z-scored sounds for hubert_large): the adapter runs the same network
        x_in = nn.functional.layer_norm(x, x.shape[-1:]) if bool(net.normalize) else x
        reference = net.model(x_in)[0]
        last = net.model.extract_features(x_in)[0][-1]
    for h in handles:
        h.remove()
    torch.testing.assert_close(final, reference, rtol=0, atol=0)
    frames = 99  # 16000 samples, stride 160 (and never equal to a layer width)
    for name in net.SCORED_LAYERS:
        out = raw[name]
        assert isinstance(out, torch.Tensor), name
        assert out.shape == (3, frames, 16 if name == "features" else 48), (name, out.shape)
    torch.testing.assert_close(raw[net.SCORED_LAYERS[-1]], last, rtol=0, atol=0)

    acts = extract_activations(net, x, list(net.SCORED_LAYERS), batch_size=2, cache=False, progress=False)
    for name in net.SCORED_LAYERS:
        np.testing.assert_allclose(acts[name], raw[name].mean(dim=1).numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


def test_normalisation_heads_and_defaults(tiny):
    assert not bool(Wav2Vec2Adapter("wav2vec2_base").normalize) and bool(Wav2Vec2Adapter("hubert_large").normalize)
    x = sounds(2, 8000)
    on, off = Wav2Vec2Adapter(normalize=True).eval(), Wav2Vec2Adapter(normalize=False).eval()
    off.load_state_dict({**on.state_dict(), "normalize": off.normalize})
    with torch.inference_mode():
        torch.testing.assert_close(on.last_hidden(x), on.last_hidden(3 * x + 0.2), rtol=1e-4, atol=1e-4)  # per-utterance z-scoring
        assert not torch.allclose(off.last_hidden(x), off.last_hidden(3 * x + 0.2), atol=1e-3)
    assert tensors_digest(on) != tensors_digest(off)  # the flag is part of the activation-cache key
    net = Wav2Vec2Adapter(heads={"word": 5, "speaker": 3}).eval()
    with torch.inference_mode():
        out = net(x)
    assert {k: tuple(v.shape) for k, v in out.items()} == {"word": (2, 5), "speaker": (2, 3)}


# --- 3. resampling to the model's rate -----------------------------------------------------------


def test_stimuli_are_resampled_to_the_models_rate():
    t = np.arange(40000) / 20000
    wav = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 3000 * t)]).astype(np.float32)
    same = TinySeqModel(sample_rate=20000)
    assert resample_for_model(same, wav) is wav and resample_for_model(nn.Identity(), wav) is wav
    out = resample_for_model(TinySeqModel(sample_rate=16000), wav)
    assert out.shape == (2, 32000) and out.dtype == np.float32
    t16 = np.arange(32000) / 16000
    expected = np.stack([np.sin(2 * np.pi * 440 * t16), np.sin(2 * np.pi * 3000 * t16)])
    np.testing.assert_allclose(out[:, 500:-500], expected[:, 500:-500], atol=1e-2)  # the same tones at 16 kHz
    assert resample_for_model(same, torch.from_numpy(wav), sample_rate=8000).shape == (2, 16000)
    assert input_rate(same, 16000.0) == 16000
    for bad in (0, -16000, 16000.5, "16k", True, float("nan")):
        with pytest.raises(ValueError, match="sample_rate must be a positive whole number of Hz"):
            input_rate(same, bad)
    with pytest.raises(ValueError, match=r"TinySeqModel\.sample_rate must be"):
        resample_for_model(TinySeqModel(sample_rate=0), wav)


def test_score_model_feeds_each_model_at_its_rate():
    rng = np.random.default_rng(0)
    bench = Benchmark.from_arrays(rng.standard_normal((12, 6, 2)), participant=[0, 0, 0, 1, 1, 1],
                                  waveforms=0.1 * rng.standard_normal((12, 40000)).astype(np.float32))  # fmt: skip
    for rate, samples in ((16000, 32000), (20000, 40000)):
        net = TinySeqModel(sample_rate=rate)
        result = score_model(net, bench, ["proj", "out"], batch_size=5, cache=False, progress=False, rsa=False)
        assert set(net.seen_lengths) == {samples} and len(net.seen_lengths) == 3
        assert list(result.layers) == ["proj", "out"]
    net = TinySeqModel(sample_rate=16000)
    score_model(net, bench, ["out"], cache=False, progress=False, rsa=False, sample_rate=8000)
    assert set(net.seen_lengths) == {16000}


# --- 4. the command line -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """A small fake fMRI release (165 stimuli of 2 s at 20 kHz; 3 x 10 voxels): benchmark=nh2015 in seconds."""
    return write_release(tmp_path_factory.mktemp("release"), n_voxels_per_participant=10, n_participants=3)


@pytest.mark.parametrize("target", ["model._target_", "+model._target_"])
def test_external_target_spellings_compose(target):
    cfg = compose_config("evaluate", [f"{target}=pkg.Net", "+model.width=3", "sample_rate=8000"])
    plain = compose_config("evaluate", ["model=cochcnn9"])
    assert OmegaConf.to_container(cfg.model) == {"_target_": "pkg.Net", "width": 3} and cfg.sample_rate == 8000
    assert plain.model._target_ == "models.CochCNN9" and plain.sample_rate is None


@pytest.mark.slow  # (the synthetic-benchmark slow test runs the same spelling too)
def test_any_importable_module_through_the_cli(tmp_path, cache_dir, release):
    logs = tmp_path / "logs"
    proc = run_cli("evaluate", ["model._target_=tests.test_external_models.TinySeqModel",
                                "+model.expect_samples=32000", "layers=[proj,out]", f"fmri_root={release['root']}",
                                "benchmark=nh2015", "figures=false", "progress=false", "rsa=false",
                                "cache_activations=false"], cache_dir=cache_dir, logs=logs)  # fmt: skip
    head = json.loads((only_run_dir(logs) / "score" / "score.json").read_text())
    assert head["model"] == "TinySeqModel-untrained-seed0" and head["layers"] == ["proj", "out"]
    assert head["info"]["model"]["model_config"] == {"_target_": "tests.test_external_models.TinySeqModel",
                                                     "expect_samples": 32000}  # fmt: skip
    assert "on nh2015:" in proc.stdout

    with pytest.raises(ValueError, match=r"model\._target_=tests\.no_such_module\.Net cannot be imported"):
        evaluate_in_process(["model._target_=tests.no_such_module.Net", "layers=[out]", f"fmri_root={release['root']}"],
                            tmp_path / "r2")  # fmt: skip
    with pytest.raises(ValueError, match=r"model\._target_=numpy\.random\.RandomState built a RandomState, not a"):
        evaluate_in_process(["model._target_=numpy.random.RandomState", "layers=[out]",
                             f"fmri_root={release['root']}"], tmp_path / "r3")  # fmt: skip


def test_adapter_through_the_evaluate_config(tiny, tmp_path, cache_dir, release):
    """model=wav2vec2 model.weights=<file> (the tiny stand-in architecture, in-process)."""
    torch.manual_seed(3)
    weights = tmp_path / "w2v.pt"
    torch.save(Wav2Vec2Adapter().model.state_dict(), weights)
    evaluate_in_process(["model=wav2vec2", f"model.weights={weights}", f"fmri_root={release['root']}",
                         "benchmark=nh2015", "layers=[features,layer3]", "figures=false", "progress=false",
                         "rsa=false"], tmp_path / "run")  # fmt: skip
    saved = Score.load(tmp_path / "run" / "score")
    assert saved.model == f"Wav2Vec2Adapter-wav2vec2_base@w2v.pt-{sha256_file(weights)[:12]}" and np.isfinite(saved.value)
    assert saved.info["model"]["weights"] == {"origin": f"local weights {weights.resolve()}",
                                              "path": str(weights.resolve()), "sha256": sha256_file(weights)}
    assert list(saved.layers) == ["features", "layer3"] and saved.info["features"] == {"features": 16, "layer3": 48}
    with pytest.raises(FileNotFoundError, match="wav2vec2_base weights file not found"):
        evaluate_in_process(["model=hubert", "model.architecture=wav2vec2_base", f"model.weights={tmp_path}/x.pt",
                             f"fmri_root={release['root']}"], tmp_path / "r2")  # fmt: skip


@pytest.mark.slow
def test_external_models_on_the_synthetic_benchmark(tmp_path, cache_dir):
    """The issue's spellings on the synthetic benchmark: any importable module, and the real
    wav2vec2_base (random weights saved to a file). Builds the synthetic benchmark (about a
    minute) unless cached; wav2vec2_base takes 2-3 min on 2 CPUs."""
    common = ["benchmark=synthetic", "benchmark.voxels_per_participant=20", "figures=false", "progress=false"]
    logs = tmp_path / "tiny_logs"
    run_cli("evaluate", ["model._target_=tests.test_external_models.TinySeqModel", "layers=[proj,out]", *common],
            cache_dir=cache_dir, logs=logs)  # fmt: skip
    head = json.loads((only_run_dir(logs) / "score" / "score.json").read_text())
    assert head["model"] == "TinySeqModel-untrained-seed0"

    torch.manual_seed(0)
    weights = tmp_path / "wav2vec2_base.pt"
    torch.save(torchaudio.models.wav2vec2_base().state_dict(), weights)
    logs = tmp_path / "logs"
    proc = run_cli("evaluate", ["model=wav2vec2", f"model.weights={weights}", *common], cache_dir=cache_dir, logs=logs)
    saved = Score.load(only_run_dir(logs) / "score")
    assert saved.model.startswith("Wav2Vec2Adapter-wav2vec2_base@wav2vec2_base.pt-") and np.isfinite(saved.value)
    assert list(saved.layers) == ["features", "projection", *(f"layer{i}" for i in range(1, 13))]
    assert "Resampled the stimuli 20000 Hz -> 16000 Hz" in proc.stdout + proc.stderr

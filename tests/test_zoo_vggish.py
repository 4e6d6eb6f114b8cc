"""VGGish (models/zoo/vggish.py): the torchvggish layout loaded from a local file, its log-mel
examples against a computation from first principles, the paper's layer names and readout
(ReLU / max-pool outputs averaged over time and over the 0.96-s examples), and its errors.
Random weights only (the released file is not downloaded); fast."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from evaluate import extract_activations
from evaluate.app import build_model
from models.zoo.vggish import VGGish
from tests.helpers.configs import compose_config

RATE = 16000
PAPER_LAYERS = ["ReLU_1", "MaxPool2d_1", "ReLU_2", "MaxPool2d_2", "ReLU_3", "ReLU_4", "MaxPool2d_3", "ReLU_5",
                "ReLU_6", "MaxPool2d_4", "ReLU_7", "ReLU_8", "ReLU_9"]  # fmt: skip
# Features per sound: channels x mel bands after the time mean (64 bands halved by each pool), or units.
FEATURES = {"ReLU_1": 64 * 64, "MaxPool2d_1": 64 * 32, "ReLU_2": 128 * 32, "MaxPool2d_2": 128 * 16,
            "ReLU_3": 256 * 16, "ReLU_4": 256 * 16, "MaxPool2d_3": 256 * 8, "ReLU_5": 512 * 8, "ReLU_6": 512 * 8,
            "MaxPool2d_4": 512 * 4, "ReLU_7": 4096, "ReLU_8": 4096, "Embeddings": 128, "ReLU_9": 128}  # fmt: skip


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A randomly initialised VGGish, its state dict saved as torchvggish's file would be (with
    the PCA post-processor's entries, which the adapter ignores), and that file."""
    torch.manual_seed(0)
    net = VGGish(pretrained=False)
    state = net.state_dict()
    path = tmp_path_factory.mktemp("vggish") / "vggish.pth"
    torch.save({**state, "pproc.pca_matrix": torch.eye(128), "pproc.pca_means": torch.zeros(128, 1)}, path)
    return net, state, path


@pytest.fixture(scope="module")
def loaded(saved):
    return VGGish(path=saved[2]).eval()


@pytest.fixture(scope="module")
def clips():
    return 0.1 * np.random.default_rng(0).standard_normal((3, 2 * RATE)).astype(np.float32)


def test_weights_from_the_file_are_named_by_it(saved, loaded):
    net, state, path = saved
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.identifier == f"VGGish@vggish.pth-{digest[:12]}"
    assert loaded.provenance["sha256"] == digest and loaded.provenance["path"] == str(path.resolve())
    assert net.identifier == "VGGish-untrained-seed0" and "untrained" not in loaded.identifier
    assert list(loaded.state_dict()) == list(state)  # torchvggish's keys, nothing of the front end
    assert [k for k in state if k.endswith("weight")] == [
        *(f"features.{i}.weight" for i in (0, 3, 6, 8, 11, 13)), *(f"embeddings.{i}.weight" for i in (0, 2, 4))]
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in state.items())
    assert sum(p.numel() for p in loaded.parameters()) == 72_141_184  # torchvggish's VGGish


def test_the_paper_layer_names_in_model_order(loaded):
    names = list(loaded.LAYER_REDUCTIONS)
    assert [n for n in names if n != "Embeddings"] == PAPER_LAYERS
    assert names.index("Embeddings") == names.index("ReLU_9") - 1  # the 128-d linear output, before its ReLU
    assert {r.describe() for r in loaded.LAYER_REDUCTIONS.values()} == {"mean(axis=1, over=examples)"}


def reference_examples(clip: np.ndarray) -> np.ndarray:
    """VGGish's log-mel examples of one 16-kHz clip, from first principles, frame by frame and
    bin by bin (the definitions of mel_features.py): 400-sample periodic Hann windows every 160
    samples, |512-point FFT|, 64 HTK-mel triangles (slopes in mel) over 125-7500 Hz without the
    DC bin, log(mel + 0.01), non-overlapping 96-frame examples."""
    window = np.array([0.5 - 0.5 * np.cos(2 * np.pi * n / 400) for n in range(400)])
    n_frames = 1 + (len(clip) - 400) // 160
    spectrum = np.array([np.abs(np.fft.rfft(clip[i * 160 : i * 160 + 400] * window, 512)) for i in range(n_frames)])

    def mel(hz):
        return 1127.0 * np.log(1.0 + hz / 700.0)

    edges = [mel(125.0) + k * (mel(7500.0) - mel(125.0)) / 65 for k in range(66)]
    weights = np.zeros((257, 64))
    for band in range(64):
        low, centre, high = edges[band : band + 3]
        for k in range(1, 257):  # bin 0 (DC) stays out
            m = mel(k * 8000.0 / 256)
            if low < m <= centre:
                weights[k, band] = (m - low) / (centre - low)
            elif centre < m < high:
                weights[k, band] = (high - m) / (high - centre)
    log_mel = np.log(spectrum @ weights + 0.01)
    return np.stack([log_mel[e * 96 : (e + 1) * 96] for e in range(n_frames // 96)])


def test_log_mel_examples_match_a_computation_from_first_principles(loaded, clips):
    examples = loaded.examples(torch.from_numpy(clips))
    assert examples.shape == (3, 2, 96, 64)  # 2 s: 198 frames -> 2 examples of 0.96 s
    for i in range(2):
        expected = reference_examples(clips[i].astype(np.float64))
        assert expected.shape == (2, 96, 64)
        np.testing.assert_allclose(examples[i].numpy(), expected, atol=2e-4, rtol=1e-4)
    # A 1-kHz tone lands in the band whose centre is nearest 1 kHz, in every frame.
    tone = np.sin(2 * np.pi * 1000 * np.arange(RATE) / RATE).astype(np.float32)[None]
    per_band = loaded.examples(torch.from_numpy(tone))[0, 0].mean(dim=0)
    assert int(per_band.argmax()) == int(np.argmin(np.abs(_band_centres() - 1000)))
    # The shortest clip with one example: 400 + 95 * 160 samples.
    assert loaded.log_mel.n_examples(15600) == 1 and loaded.log_mel.n_examples(2 * 15360 + 240) == 2
    with pytest.raises(ValueError, match="at least 15600 samples"):
        loaded.examples(torch.zeros(1, 15599))


def _band_centres() -> np.ndarray:
    """The 64 bands' centre frequencies (Hz)."""
    mel = 1127.0 * np.log(1.0 + np.array([125.0, 7500.0]) / 700.0)
    return 700.0 * (np.exp(np.linspace(mel[0], mel[1], 66)[1:-1] / 1127.0) - 1.0)


def test_declared_readout_is_the_mean_over_time_and_examples(loaded, clips):
    acts = extract_activations(loaded, clips, batch_size=2, cache=False, progress=False)
    assert list(acts) == list(loaded.LAYER_REDUCTIONS)
    assert {k: v.shape for k, v in acts.items()} == {k: (3, n) for k, n in FEATURES.items()}

    # By hand: torchvggish's VGG.forward on the examples, outputs of the same modules kept.
    x = loaded.examples(torch.from_numpy(clips)).reshape(6, 1, 96, 64)
    with torch.inference_mode():
        relu_1 = loaded.features[1](loaded.features[0](x))  # [examples, 64, time 96, freq 64]
        pool_4 = loaded.features(x)
        flat = pool_4.transpose(1, 3).transpose(1, 2).contiguous().view(6, -1)
        embeddings = loaded.embeddings[:5](flat)
        final = loaded.embeddings(flat)
    by_hand = {
        "ReLU_1": relu_1.reshape(3, 2, 64, 96, 64).mean(dim=(1, 3)),  # over examples and time -> [3, 64, 64]
        "MaxPool2d_4": pool_4.reshape(3, 2, 512, 6, 4).mean(dim=(1, 3)),
        "Embeddings": embeddings.reshape(3, 2, 128).mean(dim=1),
        "ReLU_9": final.reshape(3, 2, 128).mean(dim=1),
    }
    for name, value in by_hand.items():
        np.testing.assert_allclose(acts[name], value.reshape(3, -1).numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
    assert (acts["Embeddings"] < 0).any() and not np.allclose(acts["Embeddings"], acts["ReLU_9"])


def test_errors_name_the_file_and_the_keys(tmp_path, saved):
    missing = tmp_path / "nowhere" / "vggish.pth"
    with pytest.raises(FileNotFoundError, match=f"VGGish: weights not found at {missing}"):
        VGGish(path=missing)
    other = tmp_path / "other.pt"
    torch.save({"features.0.weight": torch.zeros(64, 1, 3, 3), "classifier.weight": torch.zeros(3, 4)}, other)
    with pytest.raises(ValueError, match=r"other\.pt is not a VGGish state dict: missing keys \['embeddings\.0\.bias'.*"
                                         r"unexpected keys \['classifier\.weight'\]"):  # fmt: skip
        VGGish(path=other)
    shapes = tmp_path / "shapes.pt"
    torch.save({k: torch.zeros(1) for k in saved[1]}, shapes)
    with pytest.raises(ValueError, match="does not fit the VGGish architecture"):
        VGGish(path=shapes)
    with pytest.raises(ValueError, match="no weights ship with this project; pass path="):
        VGGish()
    with pytest.raises(ValueError, match="given with pretrained=False"):
        VGGish(path=other, pretrained=False)


def test_the_config_builds_it_from_the_file(saved):
    cfg = compose_config("evaluate", ["model=zoo/vggish", f"model.path={saved[2]}"])
    net, ident, info = build_model(cfg, torch.device("cpu"))
    assert isinstance(net, VGGish) and ident == net.identifier and ident.startswith("VGGish@vggish.pth-")
    assert info["weights"]["sha256"] == hashlib.sha256(saved[2].read_bytes()).hexdigest()
    cfg = compose_config("evaluate", ["model=zoo/vggish", "model.pretrained=false"])
    assert build_model(cfg, torch.device("cpu"))[1] == "VGGish-untrained-seed0"

"""The authors' released checkpoints (docs/reference.md section 8) load into our networks, and
the loaded networks compute what the authors' networks compute.

Checkpoints are written here in the released layout (random weights and BatchNorm
statistics), and the loaded network is compared with a re-computation from the file's own
tensors with the authors' semantics, written out in this file: TF-style "same" padding as
their PyTorch code computes it, no convolution biases, an average pool that counts padded
zeros (divisor 10), the waveform clamped to [-1, 1] before the cochleagram, BatchNorm in eval
mode; torchvision's ResNet-50 for the ResNet models.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import dill
import numpy as np
import pytest
import torch
from torch.nn import functional as F

from evaluate import extract_activations
from evaluate.controls import control_model
from models import CochCNN9, Cochleagram, CochResNet50, ReferenceCheckpointError, load_reference_checkpoint
from tests.helpers.reference_layout import (
    ARCHITECTURES,
    SIZES,
    TASKS,
    build,
    network_state,
    released_checkpoint,
    released_key,
    write,
)


# ------------------------------------------------------------------ the authors' semantics, re-computed
def _pads(n: int, k: int, s: int) -> tuple[int, int]:
    total = max((math.ceil(n / s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _same(x, k, s, value=0.0):
    (top, bottom), (left, right) = _pads(x.shape[-2], k[0], s[0]), _pads(x.shape[-1], k[1], s[1])
    return F.pad(x, (left, right, top, bottom), value=value)


def _bn(x, w, name):
    return F.batch_norm(x, w[f"{name}.running_mean"], w[f"{name}.running_var"], w[f"{name}.weight"],
                        w[f"{name}.bias"], training=False, eps=1e-5)  # fmt: skip


def _window_mean_counting_pads(x, k, s):
    """Average pool written out: the zero-padded window's sum / (k0 * k1)."""
    x = _same(x, k, s)
    patches = x.unfold(2, k[0], s[0]).unfold(3, k[1], s[1])  # [B, C, F', T', k0, k1]
    return patches.sum(dim=(-1, -2)) / (k[0] * k[1])


def reference_cochcnn9(w: dict, waveform: torch.Tensor, multi_task: bool) -> dict[str, torch.Tensor]:
    """The authors' CochCNN9 ("kell2018"), from the file's tensors: every scored layer and the logits."""
    out = {}
    x = Cochleagram()(waveform.clamp(-1, 1)).unsqueeze(1)
    x = _bn(x, w, "batchnorm0")

    def conv(x, name, k, s):
        assert f"{name}.bias" not in w  # the released convolutions have none
        return F.conv2d(_same(x, k, s), w[f"{name}.weight"], None, s)

    out["relu0"] = x = F.relu(conv(x, "conv0", (7, 14), (3, 3)))
    out["maxpool0"] = x = F.max_pool2d(_same(x, (2, 5), (2, 2), float("-inf")), (2, 5), (2, 2))
    x = _bn(x, w, "batchnorm1")
    out["relu1"] = x = F.relu(conv(x, "conv1", (4, 8), (2, 2)))
    out["maxpool1"] = x = F.max_pool2d(_same(x, (2, 5), (2, 2), float("-inf")), (2, 5), (2, 2))
    x = _bn(x, w, "batchnorm2")
    out["relu2"] = x = F.relu(conv(x, "conv2", (2, 5), (1, 1)))
    out["relu3"] = x = F.relu(conv(x, "conv3", (2, 5), (1, 1)))
    out["relu4"] = x = F.relu(conv(x, "conv4", (2, 5), (1, 1)))
    out["avgpool"] = x = _window_mean_counting_pads(x, (2, 5), (2, 2))
    out["relufc"] = x = F.relu(F.linear(x.flatten(1), w["fullyconnected.weight"], w["fullyconnected.bias"]))
    for name, task in TASKS.items():
        key = f"classification.{task}" if multi_task else "classification"
        if f"{key}.weight" in w:
            out[f"logits:{name}"] = F.linear(x, w[f"{key}.weight"], w[f"{key}.bias"])
    return out


def reference_resnet50(w: dict, waveform: torch.Tensor, multi_task: bool) -> dict[str, torch.Tensor]:
    """torchvision's ResNet-50 (Bottleneck v1.5) on the cochleagram, from the file's tensors."""
    out = {}
    x = Cochleagram()(waveform.clamp(-1, 1)).unsqueeze(1)
    x = F.relu(_bn(F.conv2d(x, w["conv1.weight"], None, 2, 3), w, "bn1"))
    out["conv1_relu1"] = x
    out["maxpool1"] = x = F.max_pool2d(x, 3, 2, 1)
    for stage, blocks in enumerate((3, 4, 6, 3), start=1):
        for b in range(blocks):
            p = f"layer{stage}.{b}"
            stride = 2 if b == 0 and stage > 1 else 1
            y = F.relu(_bn(F.conv2d(x, w[f"{p}.conv1.weight"]), w, f"{p}.bn1"))
            y = F.relu(_bn(F.conv2d(y, w[f"{p}.conv2.weight"], None, stride, 1), w, f"{p}.bn2"))
            y = _bn(F.conv2d(y, w[f"{p}.conv3.weight"]), w, f"{p}.bn3")
            if f"{p}.downsample.0.weight" in w:
                x = _bn(F.conv2d(x, w[f"{p}.downsample.0.weight"], None, stride), w, f"{p}.downsample.1")
            x = F.relu(y + x)
        out[f"layer{stage}"] = x
    out["avgpool"] = x = x.mean(dim=(-2, -1), keepdim=True)
    for name, task in TASKS.items():
        key = f"fc.{task}" if multi_task else "fc"
        if f"{key}.weight" in w:
            out[f"logits:{name}"] = F.linear(x.flatten(1), w[f"{key}.weight"], w[f"{key}.bias"])
    return out


def time_average(t: torch.Tensor) -> np.ndarray:
    return (t.mean(dim=-1).flatten(1) if t.dim() == 4 else t).numpy()


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


@pytest.fixture(scope="module")
def waveforms():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((3, 40000)).astype(np.float32)
    w = 0.1 * w / np.sqrt((w**2).mean(axis=1, keepdims=True))
    w[2, 1000:1010] = [3, -3, 2.5, -2.5, 4, -4, 1.5, -1.5, 2, -2]  # peaks beyond [-1, 1]: the clamp matters
    return w


# ------------------------------------------------------------------ round trip and semantics
@pytest.mark.parametrize("architecture, multi_task", ARCHITECTURES)
def test_round_trip_equals_the_authors_network(tmp_path, waveforms, architecture, multi_task, record_property):
    path, ckpt = write(tmp_path, architecture, multi_task, seed=11, module_prefix=multi_task)
    net = load_reference_checkpoint(path)
    assert isinstance(net, CochCNN9 if architecture == "CochCNN9" else CochResNet50) and not net.training
    assert list(net.heads) == (list(SIZES) if multi_task else ["word"])
    assert net.provenance["architecture"] == {("CochCNN9", False): "kell2018", ("CochCNN9", True): "kell2018_multi_task",
                                              ("CochResNet50", False): "resnet50",
                                              ("CochResNet50", True): "resnet_multi_task50"}[(architecture, multi_task)]
    assert net.identifier == f"{architecture}-reference@0b1e-uuid" and net.provenance["epoch"] == 5
    # Every tensor of the file's network is in the loaded one, unchanged.
    ours = net.state_dict()
    for key, value in network_state(ckpt).items():
        mine = [k for k in ours if released_key(k, architecture, multi_task) == key]
        assert len(mine) == 1 and torch.equal(ours[mine[0]], value), key
    assert len(ours) == len(network_state(ckpt))

    semantics = reference_cochcnn9 if architecture == "CochCNN9" else reference_resnet50
    x = torch.from_numpy(waveforms)
    with torch.inference_mode():
        expected = semantics(dict(network_state(ckpt)), x, multi_task)
        logits = net(x)
    acts = extract_activations(net, waveforms, cache=False, progress=False, batch_size=2)
    assert list(acts) == list(net.SCORED_LAYERS)
    worst = 0.0
    for layer in net.SCORED_LAYERS:
        diff = relative_difference(acts[layer], time_average(expected[layer]))
        assert diff < 1e-4, (layer, diff)
        worst = max(worst, diff)
    for head, value in logits.items():
        diff = relative_difference(value.numpy(), expected[f"logits:{head}"].numpy())
        assert diff < 1e-4, (head, diff)
        worst = max(worst, diff)
    record_property("worst_relative_difference", worst)
    print(f"{architecture} multi_task={multi_task}: worst relative difference {worst:.2e}")


def test_the_clamp_and_the_padded_average_matter(tmp_path, waveforms):
    """The re-computation above would catch each difference of earlier versions of our CochCNN9."""
    path, ckpt = write(tmp_path, "CochCNN9", False, seed=2)
    net = load_reference_checkpoint(path)
    w = dict(network_state(ckpt))
    x = torch.from_numpy(waveforms)
    with torch.inference_mode():
        expected = reference_cochcnn9(w, x, False)
        net.cochleagram.input_clamp = None
        no_clamp = net(x)["word"]
        net.cochleagram.input_clamp = 1.0
        clamped = net(x)["word"]
    assert relative_difference(clamped[2:].numpy(), expected["logits:word"][2:].numpy()) < 1e-4
    assert relative_difference(no_clamp[2:].numpy(), expected["logits:word"][2:].numpy()) > 1e-3
    # Average pool excluding pads (TensorFlow's) differs at 17 of the 45 positions.
    relu4 = expected["relu4"]
    counted = _window_mean_counting_pads(relu4, (2, 5), (2, 2))
    ones = _window_mean_counting_pads(torch.ones_like(relu4[:1, :1]), (2, 5), (2, 2))
    excluded = counted / ones
    assert counted.shape[-2:] == (5, 9) and int((ones != 1).sum()) == 17
    assert not torch.allclose(counted, excluded)
    torch.testing.assert_close(net.avgpool(relu4), counted, rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------ vocabularies and variants
def test_label_names_of_the_authors_training_data_are_attached(tmp_path):
    path, _ = write(tmp_path, "CochCNN9", True, seed=1)
    net = load_reference_checkpoint(path)
    assert {k: len(v) for k, v in net.vocabularies.items()} == SIZES
    assert net.vocabularies["word"][0] == "__nullSignal__" and net.vocabularies["audioset"][516] == "__nullNoise__"
    assert net.vocabularies["audioset"][1] == "timpani"


def test_plain_pickle_and_dill_objects_both_load(tmp_path):
    net = build("CochCNN9", False, 4)
    ckpt = released_checkpoint(net, "CochCNN9", False)
    plain = tmp_path / "plain" / "5_checkpoint.pt"
    plain.parent.mkdir()
    torch.save(ckpt, plain)
    with_dill = tmp_path / "dill" / "5_checkpoint.pt"
    with_dill.parent.mkdir()
    torch.save({**ckpt, "schedule": lambda epoch: 0.1 ** (epoch // 50)}, with_dill, pickle_module=dill)
    a, b = load_reference_checkpoint(plain), load_reference_checkpoint(with_dill)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)


def test_loading_leaves_the_global_rng_alone(tmp_path):
    path, _ = write(tmp_path, "CochResNet50", False, seed=6)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    load_reference_checkpoint(path)
    torch.testing.assert_close(torch.rand(3), expected)


# ------------------------------------------------------------------ the permuted control (docs/reference.md section 10)
@pytest.mark.parametrize("architecture, multi_task", [("CochCNN9", True), ("CochResNet50", False)])
def test_permuted_control_of_a_loaded_network_is_the_authors(tmp_path, architecture, multi_task):
    path, ckpt = write(tmp_path, architecture, multi_task, seed=8)
    net = load_reference_checkpoint(path)
    # The authors' procedure on the file: one seed, randperm per network entry in file order.
    torch.manual_seed(0)
    authors = OrderedDict()
    for key, w in network_state(ckpt).items():
        idx = torch.randperm(w.numel())
        authors[key] = w.reshape(-1)[idx].reshape(w.shape)
    torch.manual_seed(99)
    after = torch.rand(1)
    torch.manual_seed(99)
    permuted = control_model(net, "permuted")
    torch.testing.assert_close(torch.rand(1), after)  # the caller's RNG is untouched
    mine = permuted.state_dict()
    for ours, value in mine.items():
        assert torch.equal(value, authors[released_key(ours, architecture, multi_task)]), ours
    # BatchNorm statistics were permuted too; the original is untouched.
    bn = "batchnorm1.running_mean" if architecture == "CochCNN9" else "bn1.running_mean"
    assert not torch.equal(mine[bn], net.state_dict()[bn])
    assert torch.equal(net.state_dict()[bn], network_state(ckpt)[bn])


# ------------------------------------------------------------------ errors: file, key, what was expected
def _save(tmp_path, obj, name="bad.pt"):
    path = tmp_path / name
    torch.save(obj, path, pickle_module=dill)
    return path


def test_errors_name_the_file_the_key_and_what_was_expected(tmp_path):
    good, ckpt = write(tmp_path, "CochCNN9", False, seed=3)
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        load_reference_checkpoint(tmp_path / "missing.pt")
    # Truncated file.
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ReferenceCheckpointError, match=r"truncated.pt: could not be read .*complete"):
        load_reference_checkpoint(truncated)
    # Another layout: a bare state dict, and one of our own training checkpoints.
    with pytest.raises(ReferenceCheckpointError, match=r"bare.pt: expected a dict with key 'model'"):
        load_reference_checkpoint(_save(tmp_path, dict(network_state(ckpt)), "bare.pt"))
    with pytest.raises(ReferenceCheckpointError, match="written by python -m train: pass it as ckpt_path="):
        load_reference_checkpoint(_save(tmp_path, {"state_dict": {}, "auditory_dnn": {}}, "ours.pt"))
    state = ckpt["model"]

    def variant(name, change):
        bad = OrderedDict(state)
        change(bad)
        return _save(tmp_path, {**ckpt, "model": bad}, name)

    with pytest.raises(ReferenceCheckpointError, match=r"shape.pt: key 'model.1.conv2.weight' has shape "
                                                       r"\[64, 96, 2, 5\], expected \[64, 32, 2, 5\]"):  # fmt: skip
        load_reference_checkpoint(variant("shape.pt", lambda b: [b.__setitem__(f"{p}conv2.weight", torch.zeros(
            64, 96, 2, 5)) for p in ("model.1.", "attacker.model.1.")]))  # fmt: skip
    with pytest.raises(ReferenceCheckpointError, match=r"copy.pt: key 'attacker.model.1.conv1.weight' differs"):
        load_reference_checkpoint(variant("copy.pt", lambda b: b.__setitem__(
            "attacker.model.1.conv1.weight", b["attacker.model.1.conv1.weight"] + 1)))  # fmt: skip
    with pytest.raises(ReferenceCheckpointError, match=r"missing.pt: key 'model.1.conv3.weight' is missing"):
        load_reference_checkpoint(variant("missing.pt", lambda b: [b.pop(f"{p}conv3.weight") for p in
                                                                   ("model.1.", "attacker.model.1.")]))  # fmt: skip
    with pytest.raises(ReferenceCheckpointError, match=r"bias.pt: key 'model.1.conv0.bias' is not part of"):
        load_reference_checkpoint(variant("bias.pt", lambda b: [b.__setitem__(f"{p}conv0.bias", torch.zeros(12))
                                                                for p in ("model.1.", "attacker.model.1.")]))  # fmt: skip
    with pytest.raises(ReferenceCheckpointError, match=r"arch.pt: unknown architecture: expected key "
                                                       r"'model.1.conv0.weight'"):  # fmt: skip
        load_reference_checkpoint(_save(tmp_path, {"model": {"model.1.encoder.weight": torch.zeros(3)}}, "arch.pt"))
    with pytest.raises(ReferenceCheckpointError, match=r"wrapper.pt: no key starts with 'model.1.'"):
        load_reference_checkpoint(_save(tmp_path, {"model": {"conv0.weight": torch.zeros(3)}}, "wrapper.pt"))
    with pytest.raises(ReferenceCheckpointError, match=r"norm.pt: key 'preproc.normalize.new_std' is \[2.0\]"):
        load_reference_checkpoint(variant("norm.pt", lambda b: b.__setitem__("preproc.normalize.new_std",
                                                                             torch.full((1, 1, 1), 2.0))))  # fmt: skip
    multi, mckpt = write(tmp_path, "CochCNN9", True, seed=3)
    renamed = OrderedDict((k.replace("signal/speaker_int", "signal/accent_int"), v) for k, v in mckpt["model"].items())
    with pytest.raises(ReferenceCheckpointError, match=r"task.pt: key 'model.1.classification.signal/accent_int.weight':"
                                                       r" unknown task 'signal/accent_int'"):  # fmt: skip
        load_reference_checkpoint(_save(tmp_path, {**mckpt, "model": renamed}, "task.pt"))


# ------------------------------------------------------------------ the released (full-width) models
@pytest.mark.slow  # ~1 min: writes and reloads the full-size files (CochCNN9: 110 M parameters, twice)
@pytest.mark.parametrize("architecture, multi_task", [("CochCNN9", False), ("CochResNet50", True)])
def test_full_width_released_models_round_trip(tmp_path, waveforms, architecture, multi_task):
    path, ckpt = write(tmp_path, architecture, multi_task, seed=5, width=1.0)
    net = load_reference_checkpoint(path)
    semantics = reference_cochcnn9 if architecture == "CochCNN9" else reference_resnet50
    x = torch.from_numpy(waveforms[:2])
    with torch.inference_mode():
        expected = semantics(dict(network_state(ckpt)), x, multi_task)
    acts = extract_activations(net, waveforms[:2], cache=False, progress=False)
    worst = max(relative_difference(acts[layer], time_average(expected[layer])) for layer in net.SCORED_LAYERS)
    assert worst < 1e-4
    print(f"{architecture} multi_task={multi_task} width 1: worst relative difference {worst:.2e}")

"""The activation cache never serves stale results: everything that decides the activations
is in its key (evaluate/fingerprint.py), an unchanged model hits it, and what cannot be keyed
is not cached."""

from __future__ import annotations

import functools
import importlib
import logging
import sys

import numpy as np
import pytest
import torch

from evaluate import extract_activations, score_model
from evaluate.benchmark import Benchmark
from evaluate.fingerprint import code_digest, module_fingerprint
from models import CochCNN9

NET_SOURCE = '''
import torch
from torch import nn

CALLS = []  # forward passes, counted outside the module (not part of any key)


class Net(nn.Module):
    def __init__(self, gain=2.0, normalize=False):
        super().__init__()
        self.lin = nn.Linear(100, 6)
        self.act = nn.Identity()
        self.gain = gain
        self.normalize = normalize
        self.register_buffer("offset", torch.zeros(6), persistent=False)

    def forward(self, x):
        CALLS.append(1)
        if self.normalize:
            x = (x - x.mean(-1, keepdim=True)) / x.std(-1, keepdim=True)
        frames = self.lin(x.reshape(x.shape[0], -1, 100)) + self.offset
        return self.act(torch.relu(frames) * self.gain {op})
'''


def _write_net(tmp_path, op: str = "+ 0.0"):
    """Write (or rewrite) the module ``cachenet`` in ``tmp_path`` and (re)import it."""
    (tmp_path / "cachenet.py").write_text(NET_SOURCE.format(op=op))
    if str(tmp_path) not in sys.path:
        sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    module = importlib.import_module("cachenet")
    return importlib.reload(module)


@pytest.fixture
def netmod(tmp_path):
    module = _write_net(tmp_path)
    yield module
    sys.modules.pop("cachenet", None)
    sys.path.remove(str(tmp_path))


@pytest.fixture(scope="module")
def waves():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 40000)).astype(np.float32)
    return 0.1 * w / np.sqrt((w**2).mean(axis=1, keepdims=True))


def times_two(x):
    return 2 * x


def times_three(x):
    return 3 * x


class Extractor:
    """Runs extract_activations into one cache folder and tells hits from misses."""

    def __init__(self, cache_dir, caplog):
        self.cache_dir, self.caplog = cache_dir, caplog

    def __call__(self, model, waves, layers=("act",), **kwargs):
        self.caplog.clear()
        with self.caplog.at_level(logging.INFO, logger="evaluate.activations"):
            out = extract_activations(model, waves, list(layers), cache_dir=self.cache_dir, progress=False, **kwargs)
        text = self.caplog.text
        self.hit = "Activation cache hit" in text
        self.cached = "are not cached" not in text
        return out

    def entries(self):
        return sorted((self.cache_dir / "activations").glob("*.npz"))


@pytest.fixture
def run(tmp_path, caplog):
    return Extractor(tmp_path / "cache", caplog)


def test_an_unchanged_model_hits_and_the_hit_is_logged_with_the_key_parts(netmod, waves, run):
    torch.manual_seed(0)
    net = netmod.Net()
    first = run(net, waves)
    assert not run.hit and len(run.entries()) == 1
    calls = len(netmod.CALLS)
    torch.manual_seed(5)
    twin = netmod.Net()  # another instance with the same weights: same key
    twin.load_state_dict(net.state_dict())
    again = run(twin, waves)
    assert run.hit and len(netmod.CALLS) == calls  # no forward pass
    np.testing.assert_array_equal(first["act"], again["act"])
    for part in ("class=cachenet.Net", "source=", "tensors=", "attributes=", "layers=act", "stimuli=", "preprocess=",
                 "reduction="):  # fmt: skip
        assert part in run.caplog.text, part


def test_changing_the_forward_pass_misses_even_with_the_same_weights(netmod, waves, run, tmp_path):
    torch.manual_seed(0)
    net = netmod.Net()
    state = net.state_dict()
    first = run(net, waves)
    changed = _write_net(tmp_path, op="+ 1.0")  # same class name, same weights, another forward
    other = changed.Net()
    other.load_state_dict(state)
    second = run(other, waves)
    assert not run.hit and len(run.entries()) == 2
    np.testing.assert_allclose(second["act"], first["act"] + 1.0, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "change",
    [
        "constructor argument kept on the module (gain)",
        "normalisation flag",
        "non-persistent buffer",
        "weight",
        "stimuli",
        "layers",
    ],
)
def test_each_part_of_the_key_misses_when_changed(netmod, waves, run, change):
    torch.manual_seed(0)
    net = netmod.Net()
    first = run(net, waves, layers=("act",))
    kwargs, layers, stimuli = {}, ("act",), waves
    if change.startswith("constructor"):
        net.gain = 3.0
    elif change == "normalisation flag":
        net.normalize = True
    elif change == "non-persistent buffer":
        net.offset.fill_(0.5)
    elif change == "weight":
        with torch.no_grad():
            net.lin.weight[0, 0] += 1.0
    elif change == "stimuli":
        stimuli = waves[:, ::-1].copy()
    else:
        layers = ("lin", "act")
    second = run(net, stimuli, layers=layers, **kwargs)
    assert not run.hit and len(run.entries()) == 2, change
    if change == "layers":
        assert list(second) == ["lin", "act"]
        np.testing.assert_array_equal(second["act"], first["act"])
    else:
        assert not np.allclose(second["act"], first["act"]), change


def test_front_end_settings_miss(waves, run):
    torch.manual_seed(0)
    net = CochCNN9({"word": 3}, width=1 / 16)
    first = run(net, waves[:2] * 12, layers=("relu0",))  # peaks well above 1: the clamp matters
    net.cochleagram.input_clamp = None
    unclamped = run(net, waves[:2] * 12, layers=("relu0",))
    assert not run.hit and not np.allclose(first["relu0"], unclamped["relu0"])
    net.cochleagram.power = 0.25
    run(net, waves[:2] * 12, layers=("relu0",))
    assert not run.hit and len(run.entries()) == 3


def test_preprocessing_and_resampling_miss(netmod, waves, run):
    torch.manual_seed(0)
    net = netmod.Net()
    two = run(net, waves, preprocess=times_two)
    three = run(net, waves, preprocess=times_three)
    assert not run.hit and not np.allclose(two["act"], three["act"])
    run(net, waves, preprocess=functools.partial(torch.mul, other=2.0))
    assert not run.hit and len(run.entries()) == 3
    run(net, waves, preprocess=times_two)
    assert run.hit
    # Resampling for a model at another rate changes the stimuli, hence the key.
    rng = np.random.default_rng(0)
    wav = np.tile(waves, (3, 1)) * rng.uniform(0.5, 1.5, (12, 1)).astype(np.float32)
    bench = Benchmark.from_arrays(rng.standard_normal((12, 6, 3)), participant=[0, 0, 0, 1, 1, 1], waveforms=wav,
                                  name="tiny")  # fmt: skip
    n = len(run.entries())
    net.sample_rate = 16000
    score_model(net, bench, ["act"], cache_dir=run.cache_dir, progress=False, rsa=False)
    assert len(run.entries()) == n + 1


def test_reduction_code_is_part_of_the_key(netmod, waves, run, monkeypatch):
    torch.manual_seed(0)
    net = netmod.Net()
    run(net, waves)
    monkeypatch.setattr("evaluate.activations.REDUCTION", "another reduction")
    run(net, waves)
    assert not run.hit and len(run.entries()) == 2


def test_what_cannot_be_keyed_is_not_cached(netmod, waves, run):
    torch.manual_seed(0)
    net = netmod.Net()
    run(net, waves, preprocess=lambda x: 2 * x)
    assert not run.cached and "lambda" in run.caplog.text and run.entries() == []
    net.scale_fn = lambda x: x  # an attribute with no stable description
    run(net, waves)
    assert not run.cached and "scale_fn" in run.caplog.text and run.entries() == []
    del net.scale_fn
    handle = net.act.register_forward_hook(lambda module, inputs, output: output * 0)
    run(net, waves)
    assert not run.cached and "forward hooks" in run.caplog.text and run.entries() == []
    handle.remove()
    run(net, waves)
    assert run.cached and len(run.entries()) == 1


def test_corrupt_or_foreign_entries_are_rebuilt(netmod, waves, run):
    torch.manual_seed(0)
    net = netmod.Net()
    first = run(net, waves)
    (entry,) = run.entries()
    entry.write_bytes(b"garbage")
    rebuilt = run(net, waves)
    assert not run.hit
    np.testing.assert_array_equal(rebuilt["act"], first["act"])
    # An entry whose stored key parts are not this key's (e.g. a digest collision) is not trusted.
    with np.load(entry) as stored:
        arrays = dict(stored)
    arrays["act"] = arrays["act"] + 1
    arrays["__key__"] = np.array(str(arrays["__key__"]).replace('"layers": "act"', '"layers": "other"'))
    np.savez(entry, **arrays)
    again = run(net, waves)
    assert not run.hit and "another key (layers differ)" in run.caplog.text
    np.testing.assert_array_equal(again["act"], first["act"])


def test_cochcnn9_is_keyable_and_width_changes_the_key(waves, run):
    for width in (1 / 16, 1 / 8):
        torch.manual_seed(0)
        run(CochCNN9({"word": 3}, width=width), waves[:1], layers=("relufc",))
        assert run.cached and not run.hit
    assert len(run.entries()) == 2


def test_recurrent_layers_and_builtins_of_installed_packages_are_keyable():
    """An LSTM (its flat weight references are derived from the parameters) and an attribute
    holding a compiled builtin of torch (as transformers' GELUActivation holds gelu) have keys,
    and the builtin's key follows the package's version."""
    lstm = torch.nn.LSTM(4, 3)
    lstm.act = torch._C._nn.gelu
    key = module_fingerprint(lstm)
    assert key.digest == module_fingerprint(lstm).digest
    lstm.act = torch._C._nn.silu
    assert module_fingerprint(lstm).digest != key.digest
    assert code_digest("torch._C._nn").startswith("torch==")

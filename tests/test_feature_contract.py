"""The feature-extractor contract beyond hooks (models.contract.ActivationModel): a model that
returns its activations itself with a declared reduction per layer, beside the hook path, and
the errors for models that break it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from evaluate import Benchmark, extract_activations, reference_splits, score_model
from evaluate.activations import activation_key, check_layers
from models.contract import returned_layers, scored_layers
from models.reductions import AS_IS, Reduction, example_mean, final_step, reduce_layer, time_mean

RATE = 8000


# ------------------------------------------------------------------ reductions by hand
def test_reductions_on_a_case_worked_by_hand():
    x = torch.arange(24.0).reshape(2, 3, 4)  # [batch, time, dim]
    # time mean of sound 0: rows [0..3], [4..7], [8..11] -> [4, 5, 6, 7]
    assert time_mean()(x)[0].tolist() == [4.0, 5.0, 6.0, 7.0]
    assert final_step()(x)[1].tolist() == [20.0, 21.0, 22.0, 23.0]  # sound 1's last step
    assert example_mean(axis=-1)(x)[0].tolist() == [1.5, 5.5, 9.5]  # mean over the last axis
    assert AS_IS(x).shape == (2, 12) and AS_IS(x)[0, 4].item() == 4.0  # flattened row-major
    y = torch.arange(2.0 * 2 * 3 * 2).reshape(2, 2, 3, 2)  # [batch, examples, freq, time]
    # mean over examples of sound 0: ([0..5] + [6..11]) / 2 = [3..8], then flattened
    assert example_mean(axis=1)(y)[0].tolist() == [3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    assert reduce_layer(torch.ones(3), AS_IS).shape == (3, 1)
    assert time_mean().describe() == "mean(axis=1, over=time)" and AS_IS.describe() == "none"


def test_bad_reductions_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="kind must be one of"):
        Reduction("median", 1)
    with pytest.raises(ValueError, match="axis other than the batch axis 0"):
        Reduction("mean", 0)
    with pytest.raises(ValueError, match="takes no axis"):
        Reduction("none", 1)
    with pytest.raises(ValueError, match=r"layer 'lstm' has shape \[2, 5\]; its declared reduction mean\(axis=2"):
        reduce_layer(torch.ones(2, 5), Reduction("mean", 2, "time"), "lstm")
    with pytest.raises(ValueError, match="the time axis is empty"):
        reduce_layer(torch.ones(2, 0, 3), time_mean(), "x")


# ------------------------------------------------------------------ models returning activations
class Recurrent(nn.Module):
    """A GRU over 10-ms frames; returns its sequence, its final state and frame-wise features
    folded into the batch axis (the three readouts hooks plus a time mean cannot express)."""

    sample_rate = RATE
    identifier = None

    def __init__(self, hidden: int = 6, broken: str = ""):
        super().__init__()
        self.frame = RATE // 100
        self.gru = nn.GRU(self.frame, hidden, batch_first=True)
        self.framewise = nn.Linear(self.frame, 3)
        self.out = nn.Linear(hidden, 2)
        self.broken = broken
        self.LAYER_REDUCTIONS = {"sequence": time_mean(), "final": AS_IS, "frames": example_mean(), "last": final_step()}

    def activations(self, waveform):
        frames = waveform[:, : waveform.shape[1] // self.frame * self.frame].reshape(len(waveform), -1, self.frame)
        seq, h_n = self.gru(frames)
        folded = self.framewise(frames.reshape(-1, self.frame))  # frames folded into the batch axis
        out = {"sequence": seq, "final": h_n[-1], "frames": folded.reshape(len(waveform), -1, 3), "last": seq}
        if self.broken == "nan":
            out["final"] = out["final"] * torch.nan
        if self.broken == "missing":
            del out["final"]
        if self.broken == "batch":
            out["frames"] = folded
        self.out(h_n[-1])  # a submodule that only hooks read
        return out

    def forward(self, waveform):
        return {}


def clips(n: int = 5, seconds: float = 0.5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, int(RATE * seconds))).astype(np.float32)


def test_returned_activations_are_reduced_as_declared():
    torch.manual_seed(0)
    model, wav = Recurrent(), clips()
    acts = extract_activations(model, wav, batch_size=2, cache=False, progress=False)
    assert list(acts) == ["sequence", "final", "frames", "last"] == scored_layers(model)
    with torch.no_grad():
        frames = torch.from_numpy(wav).reshape(5, -1, 80)
        seq, h_n = model.gru(frames)
        folded = model.framewise(frames.reshape(-1, 80)).reshape(5, -1, 3)
    np.testing.assert_allclose(acts["sequence"], seq.mean(1).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acts["final"], h_n[-1].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acts["last"], h_n[-1].numpy(), rtol=1e-5, atol=1e-6)  # a GRU's last step is h_n
    np.testing.assert_allclose(acts["frames"], folded.mean(1).numpy(), rtol=1e-5, atol=1e-6)
    assert all(a.dtype == np.float32 and a.shape[0] == 5 for a in acts.values())


def test_hooks_and_returned_layers_mix_in_one_call():
    torch.manual_seed(1)
    model, wav = Recurrent(), clips(3)
    acts = extract_activations(model, wav, ["final", "out"], cache=False, progress=False)
    assert acts["out"].shape == (3, 2)  # the hooked head, read during model.activations
    with torch.no_grad():
        np.testing.assert_allclose(acts["out"], model.out(torch.from_numpy(acts["final"])).numpy(), atol=1e-6)
    assert set(check_layers(model, ["final", "out"])) == {"out"}  # only the hooked one needs a module
    with pytest.raises(ValueError, match=r"Recurrent has no layer\(s\) \['nope'\]; available: the layers it returns: "
                                         r"\['sequence', 'final', 'frames', 'last'\]"):  # fmt: skip
        extract_activations(model, wav, ["final", "nope"], cache=False, progress=False)


def test_a_model_that_returns_activations_is_scored_like_any_other(tmp_path):
    torch.manual_seed(2)
    rng = np.random.default_rng(0)
    bench = Benchmark.from_arrays(
        rng.standard_normal((24, 12, 2)), participant=np.repeat([1, 2], 6), roi=["Primary", "Lateral"] * 6,
        waveforms=rng.standard_normal((24, 2 * 20000)).astype(np.float32), name="tiny",
    )  # fmt: skip
    result = score_model(Recurrent(), bench, cache_dir=tmp_path, progress=False,
                         splits=reference_splits(24, n_splits=4, seed=0))  # fmt: skip
    assert list(result.layers) == ["sequence", "final", "frames", "last"]
    assert np.isfinite(result.per_layer["value"]).all() and result.info["features"]["frames"] == 3
    # the 20-kHz stimuli reached the model at its own 8 kHz: 2 s -> 200 frames of 80 samples
    assert len(list((tmp_path / "activations").glob("*.npz"))) == 1


def test_the_declared_reductions_are_part_of_the_cache_key(tmp_path):
    torch.manual_seed(3)
    model, wav = Recurrent(), clips(2)
    before = activation_key(model, wav, ["sequence"])
    model.LAYER_REDUCTIONS = {**model.LAYER_REDUCTIONS, "sequence": final_step()}
    after = activation_key(model, wav, ["sequence"])
    assert before.digest != after.digest and "returned" in before.parts
    first = extract_activations(model, wav, ["sequence"], cache_dir=tmp_path, progress=False)
    model.LAYER_REDUCTIONS = {**model.LAYER_REDUCTIONS, "sequence": time_mean()}
    again = extract_activations(model, wav, ["sequence"], cache_dir=tmp_path, progress=False)
    assert not np.allclose(first["sequence"], again["sequence"])  # not served from the other entry


# ------------------------------------------------------------------ bad input: one clear error
@pytest.mark.parametrize(
    ("broken", "error", "message"),
    [
        ("nan", ValueError, r"layer 'final' of Recurrent gave NaN or inf activations for 2 of sounds 0\.\.1"),
        ("missing", RuntimeError, r"layer 'final' of Recurrent returned nothing: Recurrent\.activations gave "
                                  r"\['frames', 'last', 'sequence'\]"),
        ("batch", ValueError, r"layer 'frames' of Recurrent returned shape \[\d+, 3\] for a batch of 2 sounds"),
    ],
)  # fmt: skip
def test_broken_returned_activations_name_model_and_layer(broken, error, message):
    with pytest.raises(error, match=message):
        extract_activations(Recurrent(broken=broken), clips(2), cache=False, progress=False)


class FailsOnLongClips(nn.Module):
    """Works on short inputs; its second block fails on a 2-s clip (a fixed-size layer)."""

    SCORED_LAYERS = ("block1",)

    def __init__(self):
        super().__init__()
        self.block1 = nn.Linear(1, 4)
        self.block2 = nn.Sequential(nn.Flatten(), nn.Linear(1000, 2))

    def forward(self, waveform):
        return self.block2(self.block1(waveform[..., None]))


def test_a_forward_pass_that_fails_names_the_model_the_input_and_the_submodule():
    with pytest.raises(RuntimeError, match=r"FailsOnLongClips failed in submodule 'block2\.1' on sounds 0\.\.1, "
                                           r"input \[2, 40000\] \(2\.00-s clips at 20000 Hz\): RuntimeError"):  # fmt: skip
        model = FailsOnLongClips()
        model.sample_rate = 20000
        extract_activations(model, clips(3, seconds=5.0), batch_size=2, cache=False, progress=False)


def test_nan_from_a_hooked_layer_is_an_error_too():
    class Nan(nn.Module):
        SCORED_LAYERS = ("lin",)

        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(RATE // 2, 3)

        def forward(self, waveform):
            return self.lin(torch.log(waveform))  # log of negative samples

    with pytest.raises(ValueError, match=r"layer 'lin' of Nan gave NaN or inf activations"):
        extract_activations(Nan(), clips(2), cache=False, progress=False)


def test_half_the_contract_or_a_bad_declaration_is_refused():
    class NoMethod(nn.Module):
        LAYER_REDUCTIONS = {"a": AS_IS}

    class BadDeclaration(Recurrent):
        def __init__(self):
            super().__init__()
            self.LAYER_REDUCTIONS = {"final": "mean"}

    with pytest.raises(TypeError, match="NoMethod implements only part of .*ActivationModel: it lacks an activations"):
        returned_layers(NoMethod())
    with pytest.raises(TypeError, match=r"BadDeclaration\.LAYER_REDUCTIONS must map layer names to"):
        scored_layers(BadDeclaration())
    assert returned_layers(nn.Linear(2, 2)) == {}  # a plain module: the hook path


def test_a_wrong_sample_rate_declaration_names_the_model():
    model = Recurrent()
    model.sample_rate = "16k"
    bench = Benchmark.from_arrays(np.random.default_rng(0).standard_normal((4, 2)), participant=[1, 1], waveforms=clips(4),
                                  name="x")
    with pytest.raises(ValueError, match=r"Recurrent\.sample_rate must be a positive whole number of Hz, got '16k'"):
        score_model(model, bench, cache=False, progress=False)

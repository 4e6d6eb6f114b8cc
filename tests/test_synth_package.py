"""The public face of data.synth: its names, the one espeak engine, the one coloured-noise
generator, one generator per subtype and the one word-list parser."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from scipy.signal import welch

import data.synth
from data.audio import SAMPLE_RATE
from data.synth import coloured_noise, espeak_engine
from data.synth.catalog import CATEGORY_OF
from data.synth.render import GENERATORS
from data.synth.texts import read_word_list


def test_every_public_name_is_importable():
    assert len(data.synth.__all__) == len(set(data.synth.__all__))
    for name in data.synth.__all__:  # `from data.synth import *` fetches exactly these
        value = getattr(data.synth, name)
        assert value is not None, name
        home = getattr(value, "__module__", None)
        if home is not None:  # functions and classes come from a data.synth module
            assert home.startswith("data.synth."), (name, home)


def test_one_espeak_engine_per_rate():
    engine = espeak_engine()
    assert espeak_engine() is engine
    assert espeak_engine(SAMPLE_RATE) is engine and espeak_engine(np.int64(SAMPLE_RATE)) is engine
    assert engine.sample_rate == SAMPLE_RATE
    other = espeak_engine(16000)
    assert other is not engine and other.sample_rate == 16000 and espeak_engine(16000) is other
    with pytest.raises(TypeError, match="sample_rate"):
        espeak_engine(True)
    with pytest.raises(ValueError, match="sample_rate"):
        espeak_engine(10)


@pytest.mark.parametrize("exponent", [-1.0, 0.0, 1.0, 2.0])
def test_coloured_noise_slope_follows_its_exponent(exponent):
    """Power ~ f ** -exponent: the log-log slope of the Welch spectrum over 100 Hz - 5 kHz."""
    x = coloured_noise(np.random.default_rng(0), 2**19, exponent)
    assert x.dtype == np.float64 and x.shape == (2**19,)
    assert abs(np.sqrt(np.mean(x**2)) - 1.0) < 1e-9
    freqs, power = welch(x, fs=SAMPLE_RATE, nperseg=4096)
    band = (freqs >= 100) & (freqs <= 5000)
    slope = np.polyfit(np.log(freqs[band]), np.log(power[band]), 1)[0]
    assert abs(slope + exponent) < 0.05, slope
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    bins = np.fft.rfftfreq(x.size, 1.0 / SAMPLE_RATE)
    assert spectrum[bins < 20].max() < 1e-20 * spectrum.max()  # nothing below 20 Hz


def test_coloured_noise_options():
    rng_args = [3, 1]
    plain = coloured_noise(np.random.default_rng(rng_args), 4001, 1.0, sample_rate=16000)
    centred = coloured_noise(np.random.default_rng(rng_args), 4001, 1.0, sample_rate=16000, zero_mean=True)
    assert abs(centred.mean()) < 1e-12 and abs(np.sqrt(np.mean(centred**2)) - 1.0) < 1e-12
    # The same draw, only centred: the two differ by an offset and a scale.
    np.testing.assert_allclose(centred * np.std(plain), plain - plain.mean(), atol=1e-12)
    one = coloured_noise(np.random.default_rng(0), 1, 1.0)  # cut from a two-sample rendering
    assert one.shape == (1,) and np.isfinite(one).all()


def test_one_generator_per_subtype():
    assert set(GENERATORS) == set(CATEGORY_OF)
    family_sizes = 0
    for module in ("music", "voices", "events", "tones", "textures", "speech"):
        family_sizes += len(importlib.import_module(f"data.synth.{module}").GENERATORS)
    assert family_sizes == len(GENERATORS), "a subtype is registered by two generator modules"


def test_word_list_parser_splits_at_the_validation_marker():
    train, val = read_word_list("context_words.txt")
    assert train and val and not set(train) & set(val)
    assert all(w and not w.startswith("#") and w == w.strip() for w in train + val)
    vocabulary, none = read_word_list("vocabulary.txt")
    assert len(vocabulary) >= 200 and none == []

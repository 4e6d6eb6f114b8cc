from __future__ import annotations

import math

import torch

from data.audio import TARGET_RMS
from data.mixing import mix_at_snr, mixture_components, rms, rms_normalize


def _signals(n=6, length=40000, seed=0):
    g = torch.Generator().manual_seed(seed)
    speech = torch.randn(n, length, generator=g) * torch.linspace(0.01, 1, length)  # non-stationary
    speech += 0.3  # a DC offset that demeaning must remove
    background = torch.randn(n, length, generator=g).cumsum(-1) * 0.01  # brown-ish noise
    return speech, background


def test_snr_within_0p1_db_and_rms():
    speech, background = _signals()
    snr = torch.tensor([-10.0, -5.0, 0.0, 3.3, 7.0, 10.0])
    s_part, b_part = mixture_components(speech, background, snr)
    measured = 20 * torch.log10(rms(s_part) / rms(b_part))
    assert (measured - snr).abs().max() < 0.1
    mixture = mix_at_snr(speech, background, snr)
    assert torch.allclose(mixture, s_part + b_part, rtol=0, atol=1e-6)  # fused computation: rounding only
    assert torch.allclose(rms(mixture), torch.full((6,), TARGET_RMS), rtol=1e-5)
    assert mixture.mean(-1).abs().max() < 1e-6


def test_infinite_snr_and_silence_give_no_nan():
    speech, background = _signals(4)
    speech[1] = 0.0  # silent speech: background alone
    background[2] = 0.0  # silent background: speech alone
    snr = torch.tensor([math.inf, 0.0, 0.0, -math.inf])
    mixture = mix_at_snr(speech, background, snr)
    assert torch.isfinite(mixture).all()
    assert torch.allclose(mixture[0], rms_normalize(speech[0]), atol=1e-6)
    assert torch.allclose(mixture[1], rms_normalize(background[1]), atol=1e-6)
    assert torch.allclose(mixture[2], rms_normalize(speech[2]), atol=1e-6)
    assert torch.allclose(mixture[3], rms_normalize(background[3]), atol=1e-6)
    both_silent = mix_at_snr(torch.zeros(1, 100), torch.zeros(1, 100), torch.tensor([0.0]))
    assert torch.equal(both_silent, torch.zeros(1, 100))


def test_rms_normalize_silent_clip_is_zero_not_nan():
    out = rms_normalize(torch.stack([torch.zeros(1000), torch.full((1000,), 1e-9), torch.randn(1000)]))
    assert torch.isfinite(out).all()
    assert torch.equal(out[0], torch.zeros(1000)) and torch.equal(out[1], torch.zeros(1000))
    assert abs(rms(out[2]).item() - TARGET_RMS) < 1e-6


def test_fused_mix_equals_the_partwise_computation():
    """mix_at_snr (sums + one fused pass) against mixture_components (demean, parts, sum)."""
    speech, background = _signals(n=32, seed=3)
    speech[::5] *= 1e3  # loud clips with a DC offset: the variance must not cancel
    background[3] = 0.0
    speech[4] = 0.0
    snr = torch.linspace(-20, 20, 32)
    snr[7], snr[8] = math.inf, -math.inf
    fused = mix_at_snr(speech, background, snr)
    s_part, b_part = mixture_components(speech, background, snr)
    assert (fused - (s_part + b_part)).abs().max() < 2e-6 * TARGET_RMS * 10
    assert torch.allclose(rms(fused), torch.full((32,), TARGET_RMS), rtol=1e-5)

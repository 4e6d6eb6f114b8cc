"""SpectroTemporal: a fixed spectrotemporal modulation filter bank on the reference cochleagram.

The control model of REFERENCE.md section 6: 111 filters tuned to temporal modulation rates
(0, 0.5, 1, 2, 4, 8, 16, 32, 64 Hz) and spectral modulation scales (0, 0.0625, 0.125, 0.25,
0.5, 1, 2 cycles/ERB), in the spirit of Chi, Ru & Shamma (2005); their power averaged over
time gives 111 filters x 211 channels = 23,421 features per sound. No trainable weights.

Filters (applied in the 2-D Fourier domain of the cochleagram ``X(x, t)``, with ``x`` the
channel position in ERB-number units and ``t`` in seconds; ``F`` in cycles/ERB and ``f`` in Hz
are the matching frequencies; each filter is a product of a function of ``f`` and one of ``F``):

* band-pass shape, for every non-zero rate and scale (the Fourier transform of the second
  derivative of a Gaussian, the spectral filter of Chi et al. 2005)::

      B(u; c) = (|u| / c)**2 * exp(1 - (|u| / c)**2),      peak 1 at |u| = c, 0 at u = 0.

  Chi et al. use a causal gamma-modulated sinusoid along time. We only read out time-averaged
  power, where causality and phase do not matter, so both axes use the zero-phase ``B``: the
  same relative bandwidth on both axes, and exactly no gain at f = 0, where the large mean of a
  cochleagram sits (the gamma kernel passes about 1 % of its peak there);
* low-pass shape for rate 0 (scale 0): flat up to the lowest non-zero rate (scale), then that
  band-pass filter's fall-off: ``L(u) = 1 if |u| <= c_min else B(u; c_min)``;
* direction: filters with rate > 0 are analytic in time (only f > 0 kept, doubled, as for an
  analytic signal), so their output is complex and its magnitude an envelope. A ripple
  ``cos(2 pi (w t + W x))`` with ``w, W > 0`` moves down in frequency over time and sits at
  ``(F, f) = (W, w)``: "down" filters keep ``F > 0``, "up" filters ``F < 0`` (half weight on
  the ``F = 0`` and Nyquist bins, whose sign is ambiguous). Filters with rate 0 and scale > 0
  are analytic along frequency instead (``F > 0`` kept, doubled; both signs of f, so no
  direction); filters with scale 0 keep both signs of ``F`` (no direction); the rate-0,
  scale-0 filter is real;
* normalisation: the 1-D shapes peak at 1, and with the analytic doubling a real ripple of
  amplitude ``A`` at a filter's centre gives an output of magnitude ``A`` (power ``A**2``) in
  every filter, so no family of features starts on a different scale in the ridge regression.

Power is ``|output|**2``. Both axes are zero-padded to at least ``pad_factor`` (2) times their
length before the FFTs, so that a filter's response does not wrap around onto the clip, and
cropped back. The padding applies to the mean-removed signal (each channel's mean over time,
then each frame's mean over channels), and each removed mean is added back through the
filter's gain at zero frequency, which amounts to padding with the means instead of zeros. A
cochleagram's mean is large compared with its modulations, and zero padding would put a step of
that size at the clip's edges, whose response would swamp the slow and coarse filters there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from models.cochleagram import Cochleagram, _run_in_threads  # the cochleagram's CPU worker pool
from models.filterbank import freq_to_erb

RATES_HZ = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)  # temporal modulation (REFERENCE.md 6)
SCALES_CYC_PER_ERB = (0.0, 0.0625, 0.125, 0.25, 0.5, 1.0, 2.0)  # spectral modulation
_CPU_CHUNK = 1  # sounds per pass (and per worker thread) on the CPU: ~55 MB of intermediates
_GPU_CHUNK = 16  # on accelerators: fewer, larger kernels


def _fft_length(n: int) -> int:
    """Smallest length >= ``n`` whose prime factors are 2, 3 and 5 (fast FFT sizes)."""
    m = n
    while True:
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        if k == 1:
            return m
        m += 1


def bandpass_gain(u: np.ndarray, centre: float) -> np.ndarray:
    """``B(u; c) = (|u|/c)**2 exp(1 - (|u|/c)**2)``: 0 at ``u = 0``, peak 1 at ``|u| = centre``."""
    r2 = (np.abs(u) / centre) ** 2
    return r2 * np.exp(1.0 - r2)


def lowpass_gain(u: np.ndarray, lowest_centre: float) -> np.ndarray:
    """1 up to ``lowest_centre`` (the lowest band-pass centre), then that band-pass filter's fall-off."""
    return np.where(np.abs(u) <= lowest_centre, 1.0, bandpass_gain(u, lowest_centre))


def _positive_half(freqs: np.ndarray, nyquist: float | None) -> np.ndarray:
    """On a grid of frequencies >= 0: 1 above 0, 1/2 at 0 and at the Nyquist bin (bins that
    belong to both signs)."""
    out = np.where(freqs > 0, 1.0, 0.5)
    if nyquist is not None:
        out = np.where(np.isclose(freqs, nyquist), 0.5, out)
    return out


class ModulationFilterBank(nn.Module):
    """Cochleagram ``[batch, n_channels, n_frames]`` -> power ``[batch, n_filters, n_channels, n_frames]``.

    Laid out like a convolutional layer's output (channels = filters, frequency, time);
    non-negative float32 on the input's device. See the module docstring for the filters.

    Attributes:
        specs: one ``(rate_hz, scale_cyc_per_erb, direction)`` per output channel, in grid
            order: rates ascending; within a rate, scales ascending; within a (rate, scale)
            with both non-zero, "up" then "down". ``direction`` is None when the rate or the
            scale is 0. 111 filters for the default rates and scales.
        temporal_gain: buffer ``[n_rates, n_t // 2 + 1]``, each rate's transfer function on the
            frequencies f >= 0 of the padded time axis (before the analytic doubling).
        spectral_gain: buffer ``[n_scales, n_x // 2 + 1]``, each scale's transfer function on
            the frequencies F >= 0 of the padded channel axis (band-passes: the F > 0 half).
        The gains are in the state dict, so activation caches keyed on it change with the filters.

    Args:
        n_channels, n_frames: cochleagram size (211 x 390 for the reference).
        channel_spacing_erb: distance between neighbouring channels in ERB-number units.
        frame_rate: cochleagram frame rate in Hz (200 for the reference).
        rates: temporal modulation rates in Hz (0 = low-pass), ascending.
        scales: spectral modulation scales in cycles/ERB (0 = low-pass), ascending.
        pad_factor: both axes are zero-padded to at least this multiple of their length.
    """

    def __init__(
        self,
        n_channels: int = 211,
        n_frames: int = 390,
        channel_spacing_erb: float = 0.16360487313420885,
        frame_rate: float = 200.0,
        rates: Sequence[float] = RATES_HZ,
        scales: Sequence[float] = SCALES_CYC_PER_ERB,
        pad_factor: float = 2.0,
    ) -> None:
        super().__init__()
        rates = [float(r) for r in rates]
        scales = [float(s) for s in scales]
        for name, values in (("rates", rates), ("scales", scales)):
            if not any(v > 0 for v in values) or any(v < 0 for v in values) or sorted(set(values)) != values:
                raise ValueError(f"{name} must be distinct, ascending, >= 0 and include a non-zero value; got {values}")
        if n_channels < 2 or n_frames < 2:
            raise ValueError(f"need at least 2 channels and 2 frames, got {n_channels} x {n_frames}")
        if channel_spacing_erb <= 0 or frame_rate <= 0 or pad_factor < 1:
            raise ValueError("channel_spacing_erb and frame_rate must be > 0 and pad_factor >= 1")
        self.n_channels, self.n_frames = n_channels, n_frames
        self.channel_spacing_erb, self.frame_rate = float(channel_spacing_erb), float(frame_rate)
        self.rates, self.scales = tuple(rates), tuple(scales)
        self.n_t = _fft_length(math.ceil(pad_factor * n_frames))  # padded time axis
        self.n_x = _fft_length(math.ceil(pad_factor * n_channels))  # padded channel axis

        f = np.fft.rfftfreq(self.n_t, 1.0 / frame_rate)  # Hz, >= 0
        F = np.fft.rfftfreq(self.n_x, channel_spacing_erb)  # cycles/ERB, >= 0
        F_nyq = 0.5 / channel_spacing_erb if self.n_x % 2 == 0 else None
        lowest_rate = min(r for r in rates if r > 0)
        lowest_scale = min(s for s in scales if s > 0)
        # Time, f >= 0: the rate-0 low-pass (even in f: its f < 0 half is the mirror image) and
        # the band-passes (made analytic when the output is formed: f < 0 dropped, f > 0 doubled).
        temporal = [lowpass_gain(f, lowest_rate) if rate == 0 else bandpass_gain(f, rate) for rate in rates]
        # Channels, F >= 0: the scale-0 low-pass (real, even in F); band-passes keep F > 0 only.
        # That half gives a complex output W ("down" once time is analytic); conj(W) is the
        # F < 0 half ("up"), and 2 W the analytic-along-frequency output used at rate 0.
        spectral = [
            lowpass_gain(F, lowest_scale) if scale == 0 else bandpass_gain(F, scale) * _positive_half(F, F_nyq)
            for scale in scales
        ]
        self.register_buffer("temporal_gain", torch.tensor(np.stack(temporal), dtype=torch.float32))
        self.register_buffer("spectral_gain", torch.tensor(np.stack(spectral), dtype=torch.float32))
        self.specs: list[tuple[float, float, str | None]] = []
        for rate in rates:
            for scale in scales:
                if rate == 0 or scale == 0:
                    self.specs.append((rate, scale, None))
                else:
                    self.specs.extend([(rate, scale, "up"), (rate, scale, "down")])

    @property
    def n_filters(self) -> int:
        return len(self.specs)

    def extra_repr(self) -> str:
        return (
            f"n_filters={self.n_filters}, rates_hz={list(self.rates)}, scales_cyc_per_erb={list(self.scales)}, "
            f"input=[{self.n_channels}, {self.n_frames}], padded=[{self.n_x}, {self.n_t}]"
        )

    def forward(self, cochleagram: torch.Tensor) -> torch.Tensor:
        """``[batch, n_channels, n_frames]`` -> power ``[batch, n_filters, n_channels, n_frames]`` (float32)."""
        if cochleagram.dim() != 3 or tuple(cochleagram.shape[1:]) != (self.n_channels, self.n_frames):
            raise ValueError(
                f"ModulationFilterBank expects a cochleagram [batch, {self.n_channels}, {self.n_frames}], "
                f"got {list(cochleagram.shape)}"
            )
        if torch.is_grad_enabled() and cochleagram.requires_grad:
            raise RuntimeError(
                "ModulationFilterBank is not differentiable (it writes into its output in place); "
                "run it under torch.no_grad() or torch.inference_mode()"
            )
        x = cochleagram.float()
        out = x.new_empty(x.shape[0], self.n_filters, self.n_channels, self.n_frames)
        on_cpu = x.device.type == "cpu"
        chunk = _CPU_CHUNK if on_cpu else _GPU_CHUNK
        tasks = [(start, min(start + chunk, x.shape[0])) for start in range(0, x.shape[0], chunk)]
        # On the CPU, one sound per worker thread, as the cochleagram does: single-threaded
        # FFTs and element-wise passes on one sound's ~55 MB beat splitting each op across cores.
        threads = torch.get_num_threads() if on_cpu else 1
        inference = torch.is_inference_mode_enabled()  # thread-local: the workers must enter it too

        def run(task: tuple[int, int]) -> None:
            with torch.inference_mode(inference):
                self._power_into(x[task[0] : task[1]], out[task[0] : task[1]])

        _run_in_threads(run, tasks, threads)
        return out

    def _power_into(self, x: torch.Tensor, out: torch.Tensor) -> None:
        """Filter cochleagrams ``x [b, C, T]`` and write the power into ``out [b, n_filters, C, T]``.

        Channels first, then time, so that the last and most numerous inverse FFTs run along
        the contiguous time axis, straight into the output layout.
        """
        b, C, T = x.shape
        n_x, n_t = self.n_x, self.n_t
        n_xf, n_tf = n_x // 2 + 1, n_t // 2 + 1
        cplx, dev = torch.complex64, x.device
        has_zero_scale = self.scales[0] == 0
        n_bands = len(self.scales) - has_zero_scale  # scales > 0, in order

        # Means (module docstring). Each channel's mean over time reaches only the rate-0
        # filters (gain 1 at f = 0); it rides along the channel filtering as an extra column T.
        # Each column's mean over channels reaches only the scale-0 filters (gain 1 at F = 0).
        mean_t = x.mean(dim=-1, keepdim=True)  # [b, C, 1]
        cols = torch.cat([x - mean_t, mean_t], dim=-1)  # [b, C, T + 1]
        mean_x = cols.mean(dim=-2, keepdim=True)  # [b, 1, T + 1]
        spec_x = torch.fft.rfft(cols - mean_x, n=n_x, dim=-2)  # [b, n_xf, T + 1]

        # Channel filtering. Scale 0: real. Scales > 0: the F > 0 half W, complex (the
        # negative-F bins of the padded spectrum stay zero); their gain at F = 0 is 0.
        if has_zero_scale:
            g = self.spectral_gain[0]
            low_x = torch.fft.irfft(spec_x * g[:, None], n=n_x, dim=-2)[:, :C] + mean_x * g[0]  # [b, C, T + 1]
            spec_low = torch.fft.rfft(low_x[..., :T], n=n_t)  # [b, C, n_tf]
        if n_bands:
            padded = torch.zeros(b, n_bands, n_x, T + 1, dtype=cplx, device=dev)
            padded[:, :, :n_xf] = spec_x[:, None] * self.spectral_gain[has_zero_scale:, :, None]
            band_x = torch.fft.ifft(padded, dim=-2)[:, :, :C]  # W: [b, bands, C, T + 1]
            padded = torch.zeros(b, n_bands, C, n_t, dtype=cplx, device=dev)
            padded[..., :T] = band_x[..., :T]
            spec_band = torch.fft.fft(padded)  # [b, bands, C, n_t], both signs of f
            # f >= 0 spectra of W ("down") and of conj(W) ("up"): FFT(conj w)[k] = conj(FFT(w)[-k]).
            spec_down = spec_band[..., :n_tf]
            spec_up = spec_band[..., (-torch.arange(n_tf, device=dev)) % n_t].conj()

        # Rate 0 (both signs of f; the channel means in column T come back with gain 1).
        k0 = 0
        if self.rates[0] == 0:
            gain = self.temporal_gain[0]
            if has_zero_scale:
                y = torch.fft.irfft(spec_low * gain, n=n_t)[..., :T] + low_x[..., T:] * gain[0]  # real
                torch.mul(y, y, out=out[:, k0])
                k0 += 1
            if n_bands:
                even = torch.cat([gain, gain[1 : n_t - n_tf + 1].flip(0)])  # L(|f|) in fft order
                y = torch.fft.ifft(spec_band * even)[..., :T] + band_x[..., T:] * gain[0]
                _power_into(2 * y, out[:, k0 : k0 + n_bands])  # 2 W: analytic along frequency
                k0 += n_bands

        # Rates > 0: analytic in time. With V = gain * spectrum on f >= 0, the analytic output
        # (f < 0 dropped, 0 < f < Nyquist doubled) is irfft(V) + i irfft(-i V): two real inverse
        # FFTs in one call, cheaper than a complex one and with contiguous real and imaginary
        # parts for the power. The inputs of one rate, in spec order, share one batch of inverse
        # FFTs (the bulk of the work).
        parts = [spec_low[:, None]] if has_zero_scale else []
        if n_bands:
            parts.append(torch.stack([spec_up, spec_down], dim=2).flatten(1, 2))  # up, down per scale
        one_sided = torch.cat(parts, dim=1)  # [b, k, C, n_tf]
        k = one_sided.shape[1]
        pair = torch.empty(2, b, k, C, n_tf, dtype=cplx, device=dev)
        for i, rate in enumerate(self.rates):
            if rate > 0:
                gain = self.temporal_gain[i].to(cplx)
                torch.mul(one_sided, gain, out=pair[0])
                torch.mul(one_sided, -1j * gain, out=pair[1])
                real, imag = torch.fft.irfft(pair, n=n_t)[..., :T]
                torch.mul(real, real, out=out[:, k0 : k0 + k])
                out[:, k0 : k0 + k].addcmul_(imag, imag)
                k0 += k


def _power_into(y: torch.Tensor, out: torch.Tensor) -> None:
    """Write ``|y|**2`` of complex ``y`` into the float32 tensor ``out`` of the same shape."""
    parts = torch.view_as_real(y)
    torch.mul(parts[..., 0], parts[..., 0], out=out)
    out.addcmul_(parts[..., 1], parts[..., 1])


class SpectroTemporal(nn.Module):
    """Waveform ``[batch, 40000]`` (2 s at 20 kHz) -> time-averaged filter power ``[batch, 23421]``.

    The reference cochleagram (``self.cochleagram``: ``[batch, 211, 390]`` at 200 Hz) followed
    by ``self.filters``, a :class:`ModulationFilterBank` whose output ``[batch, 111, 211, 390]``
    (filters x channels x frames) is the scored layer (``SCORED_LAYERS``). ``forward`` returns
    that power averaged over time and flattened filter-major (feature ``k * 211 + channel``), as
    the activation extractor does with a 4-D layer. ``self.filters.specs`` names the filters.

    Args:
        heads: ignored; accepted so that code which builds every model with ``heads=...`` (the
            training configs) can build this one. It has no classification heads.
        rates: temporal modulation rates in Hz (0 = low-pass).
        scales: spectral modulation scales in cycles/ERB (0 = low-pass).
        pad_factor: zero padding of both cochleagram axes before the FFTs (2: no wrap-around).
        cochleagram_kwargs: arguments for :class:`models.Cochleagram` (defaults = reference).
    """

    SCORED_LAYERS = ("filters",)

    def __init__(
        self,
        heads: Mapping[str, int] | None = None,
        rates: Sequence[float] = RATES_HZ,
        scales: Sequence[float] = SCALES_CYC_PER_ERB,
        pad_factor: float = 2.0,
        cochleagram_kwargs: Mapping | None = None,
    ) -> None:
        super().__init__()
        del heads  # see the docstring
        self.cochleagram = Cochleagram(**dict(cochleagram_kwargs or {}))
        n_channels, n_frames = self.cochleagram.output_shape
        # The channels are equally spaced in ERB-number (models/filterbank.py); the mean step
        # is that spacing (0.1636 ERB for the reference layout).
        erb = freq_to_erb(np.asarray(self.cochleagram.center_freqs, dtype=np.float64))
        spacing = float(np.mean(np.diff(erb)))
        self.filters = ModulationFilterBank(
            n_channels, n_frames, spacing, float(self.cochleagram.env_sr), rates, scales, pad_factor
        )
        # Training code builds an optimiser from parameters(), and PyTorch refuses an empty
        # list; this placeholder has no elements and needs no gradient: nothing is trained.
        self.no_weights = nn.Parameter(torch.zeros(0), requires_grad=False)

    @property
    def n_features(self) -> int:
        """Time-averaged features per sound: filters x channels (111 x 211 = 23,421)."""
        return self.filters.n_filters * self.filters.n_channels

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Waveform ``[batch, samples]`` -> ``[batch, n_filters * n_channels]`` time-averaged power."""
        power = self.filters(self.cochleagram(waveform))  # [batch, filters, channels, frames]
        return power.mean(dim=-1).flatten(1)

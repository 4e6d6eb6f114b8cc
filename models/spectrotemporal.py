"""SpectroTemporal: the authors' spectrotemporal modulation filter bank on the reference cochleagram.

This is the authors' SpectroTemporal model (Tuckute, Feather et al. 2023 public code): 111
fixed filters tuned to temporal modulation rates and spectral modulation scales, after the
cortical model of Chi, Ru & Shamma (2005, the NSL toolbox), applied to the reference
cochleagram; each filter's squared output averaged over time gives 111 filters x 211 channels
= 23,421 features per sound. No trainable weights.

The authors' facts, which this module reproduces:

* input: the cochleagram (211 channels x 390 frames at 200 Hz; :class:`models.Cochleagram`
  computes it from a 2-s 20-kHz waveform) multiplied by 100, zero-padded to 422 x 1170
  (``N_F`` more frequency rows and ``2 N_T`` more time frames, appended after the signal),
  then the 2-D FFT;
* 111 filters: for direction -1 every (scale, rate) pair of the spectral scales 0, 0.0625,
  0.125, 0.25, 0.5, 1, 2 cycles/ERB (spectral sampling taken as 6 channels/ERB) and temporal
  rates 0, 0.5, 1, 2, 4, 8, 16, 32, 64 Hz (scales outer, rates inner: 63 filters), then for
  direction +1 the pairs without a zero (48). The highest scale and rate are high-pass; the
  lowest (0) pass only the zero frequency of their axis;
* each 2-D transfer function is the outer product of a spectral and a temporal 1-D transfer
  function, with two quadrants zeroed to select the direction: with ``f_t``, ``f_s`` the FFT
  frequencies (``np.fft.fftfreq`` of 1170 and 422 points) and ``s`` the direction (``s = +1``
  where the rate is 0), zero where (``sign f_t == -s`` and ``f_s > 0``) or (``sign f_t == s``
  and ``f_s < 0``); bins at the Nyquist frequency of either axis are never zeroed. Direction
  +1 keeps the quadrants ``f_t, f_s`` of equal sign: ripples ``cos(2 pi (w t + W x))`` with
  ``w, W > 0``, which move down in frequency (channel 0 is the lowest); -1 keeps upward ones;
* output per filter: the real part of the inverse 2-D FFT, cropped to 211 x 390, squared and
  floored at 1e-8; the features are its mean over time.

The 1-D transfer functions are the NSL cortical filters as the authors ported them. The
formulas below were derived by matching the authors' own arrays (test fixture
``tests/fixtures/spectrotemporal_reference.npz``), which they reproduce exactly (bit for bit
once rounded to complex64; the 2-D filters too, when the outer product is taken in float64):

* temporal, rate ``fc > 0`` Hz, on the ``3 N_T = 1170``-point grid: ``h(n) = sin(2 pi t) t**2
  exp(-3.5 t) fc`` with ``t = n / 200 * fc`` for the ``N_T = 390`` frames ``n = 0 .. 389``;
  its mean (over those 390 samples) removed; ``H = FFT(h, 1170)`` on the whole grid (so the
  negative frequencies are the complex conjugates of the positive ones); the magnitude divided
  by its maximum, the phase kept. For the highest rate the magnitude is set to 1 at every bin
  ``|k|`` above the peak's (high-pass). Rate 0: 1 at ``f_t = 0`` and 0 elsewhere;
* spectral, scale ``fc > 0`` cycles/ERB, on the ``2 N_F = 422``-point grid: ``R = |f_s| /
  fc`` with ``|f_s| = |k| * 6 / 422`` cycles/ERB (``|k| = min(k, 422 - k)``, so the grid is
  filled symmetrically and the Nyquist bin ``k = 211`` gets the formula's value there), ``H =
  R**2 exp(1 - R**2)`` divided by its maximum: real and even. For the highest scale ``H = 1``
  at every ``|k|`` above the peak's (high-pass), with no rescaling afterwards. Scale 0: 1 at
  ``f_s = 0`` and 0 elsewhere.

So a rate-0 filter's output is constant over time and a scale-0 filter's output constant
over channels (its 211 features are equal). (If a lowest rate or scale is non-zero, it is
made low-pass the NSL way, gain 1 below its peak; the authors' bank does not use this.)
Because these spectral functions are even, the
temporal ones Hermitian and the direction mask point-symmetric, each 2-D filter is Hermitian
and its output real: "the real part of the inverse FFT" drops only rounding errors.

Computation (:class:`ModulationFilterBank`, exact factorisation of the 2-D construction): real
FFT of the padded cochleagram along time (the ``f_t >= 0`` half suffices for a real output),
full FFT along channels; for every (scale, mask direction) pair used, multiply by the spectral
function and that direction's mask (which for ``0 < f_t < Nyquist`` keeps the ``f_s`` of sign
``s`` and, on every column, ``f_s = 0`` and Nyquist), inverse FFT along channels, crop to 211;
then per filter multiply by the temporal function and take the inverse real FFT along time,
cropped to 390 frames. Filters run in chunks, so memory stays bounded (the full 2-D bank,
:func:`spectrotemporal_filterbank`, would take 438 MB in complex64).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from models.cochleagram import Cochleagram, _run_in_threads  # the cochleagram's CPU worker pool
from models.contract import CochleagramNetwork

RATES_HZ = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)  # temporal modulation rates
SCALES_CYC_PER_ERB = (0.0, 0.0625, 0.125, 0.25, 0.5, 1.0, 2.0)  # spectral modulation scales
FRAME_RATE_HZ = 200.0  # cochleagram frame rate (temporal sampling of the filters)
CHANNELS_PER_ERB = 6.0  # the authors' spectral sampling of the filters
INPUT_SCALE = 100.0  # the authors multiply the cochleagram by 100
POWER_FLOOR = 1e-8  # squared outputs are floored at this value
_CPU_FILTER_CHUNK = 16  # filters per inverse-FFT pass on the CPU (~32 MB of intermediates)
_GPU_FILTER_CHUNK = 37  # on accelerators, per pass of up to _GPU_SOUND_CHUNK sounds
_GPU_SOUND_CHUNK = 16


# ----------------------------------------------------------------------------------------
# The 1-D transfer functions (NSL cortical filters as the authors ported them)


def _grid_index(n: int) -> np.ndarray:
    """``|k|`` of each bin of an ``n``-point FFT grid in FFT order (0, 1, ..., 2, 1)."""
    return np.abs(np.round(np.fft.fftfreq(n) * n)).astype(np.int64)


def _flat_beyond_peak(magnitude: np.ndarray, high: bool) -> np.ndarray:
    """Set the magnitude (peak 1) to 1 at every ``|k|`` above (``high``) or below the peak's."""
    k = _grid_index(magnitude.shape[0])
    peak = int(k[np.argmax(magnitude)])
    out = magnitude.copy()
    out[(k > peak) if high else (k < peak)] = 1.0
    return out


def temporal_transfer_function(
    rate_hz: float,
    n_frames: int = 390,
    frame_rate: float = FRAME_RATE_HZ,
    n_fft: int | None = None,
    highpass: bool = False,
    lowpass: bool = False,
) -> np.ndarray:
    """The temporal filter of one rate on the full ``n_fft``-point grid (complex128, FFT order).

    See the module docstring: NSL's ``gen_cort`` kernel on the ``n_frames`` frames, mean
    removed, FFT of length ``n_fft`` (default ``3 * n_frames``), magnitude normalised to peak
    1 (flat at 1 above / below the peak for ``highpass`` / ``lowpass``), phase kept. Rate 0
    passes only the zero frequency.
    """
    n_fft = 3 * n_frames if n_fft is None else n_fft
    if rate_hz == 0:
        out = np.zeros(n_fft, dtype=np.complex128)
        out[0] = 1.0
        return out
    t = np.arange(n_frames, dtype=np.float64) / frame_rate * rate_hz
    h = np.sin(2 * np.pi * t) * t**2 * np.exp(-3.5 * t) * rate_hz
    h -= h.mean()
    spectrum = np.fft.fft(h, n_fft)
    magnitude = np.abs(spectrum)
    magnitude /= magnitude.max()
    if highpass or lowpass:
        magnitude = _flat_beyond_peak(magnitude, high=highpass)
    return magnitude * np.exp(1j * np.angle(spectrum))


def spectral_transfer_function(
    scale_cyc_per_erb: float,
    n_channels: int = 211,
    channels_per_erb: float = CHANNELS_PER_ERB,
    n_fft: int | None = None,
    highpass: bool = False,
    lowpass: bool = False,
) -> np.ndarray:
    """The spectral filter of one scale on the full ``n_fft``-point grid (real float64, FFT order).

    See the module docstring: ``R**2 exp(1 - R**2)`` with ``R = |f_s| / scale``, ``f_s`` the
    grid's frequencies in cycles/ERB (``n_fft``, default ``2 * n_channels``, points at
    ``channels_per_erb``), normalised to peak 1 (flat at 1 above / below the peak for
    ``highpass`` / ``lowpass``). Scale 0 passes only the zero frequency.
    """
    n_fft = 2 * n_channels if n_fft is None else n_fft
    if scale_cyc_per_erb == 0:
        out = np.zeros(n_fft, dtype=np.float64)
        out[0] = 1.0
        return out
    r2 = (_grid_index(n_fft) * channels_per_erb / n_fft / scale_cyc_per_erb) ** 2
    gain = r2 * np.exp(1.0 - r2)
    gain /= gain.max()
    if highpass or lowpass:
        gain = _flat_beyond_peak(gain, high=highpass)
    return gain


def filter_specs(
    rates: Sequence[float] = RATES_HZ, scales: Sequence[float] = SCALES_CYC_PER_ERB
) -> list[tuple[float, float, int]]:
    """``(rate_hz, scale_cyc_per_erb, direction)`` per filter in the authors' order: direction
    -1 for every (scale, rate) pair (scales outer, rates inner), then +1 for the pairs without
    a zero."""
    specs = [(float(r), float(s), -1) for s in scales for r in rates]
    specs += [(float(r), float(s), 1) for s in scales if s != 0 for r in rates if r != 0]
    return specs


class TransferFunctions(NamedTuple):
    """The factored filter bank (read-only arrays; see :func:`spectrotemporal_transfer_functions`)."""

    specs: tuple[tuple[float, float, int], ...]  # per filter: (rate_hz, scale, direction)
    temporal: np.ndarray  # [n_rates, n_fft_t] complex128, one per rate
    spectral: np.ndarray  # [n_scales, n_fft_s] float64, one per scale
    rate_index: np.ndarray  # [n_filters] index into temporal
    scale_index: np.ndarray  # [n_filters] index into spectral
    mask_sign: np.ndarray  # [n_filters] the s of the quadrant rule (+1 where the rate is 0)


@functools.lru_cache(maxsize=8)
def spectrotemporal_transfer_functions(
    n_channels: int = 211,
    n_frames: int = 390,
    rates: tuple[float, ...] = RATES_HZ,
    scales: tuple[float, ...] = SCALES_CYC_PER_ERB,
    frame_rate: float = FRAME_RATE_HZ,
    channels_per_erb: float = CHANNELS_PER_ERB,
) -> TransferFunctions:
    """The 1-D transfer functions of the bank for a ``n_channels x n_frames`` cochleagram,
    on the padded grids (``2 n_channels`` x ``3 n_frames``). Built once per process and
    argument set; the arrays are read-only."""
    rates, scales = tuple(float(r) for r in rates), tuple(float(s) for s in scales)
    for name, values in (("rates", rates), ("scales", scales)):
        if len(values) < 2 or any(v < 0 for v in values) or sorted(set(values)) != list(values):
            raise ValueError(f"{name} must be at least two distinct ascending values >= 0; got {list(values)}")
    if n_channels < 2 or n_frames < 2 or frame_rate <= 0 or channels_per_erb <= 0:
        raise ValueError("need n_channels, n_frames >= 2 and frame_rate, channels_per_erb > 0")
    temporal = np.stack([
        temporal_transfer_function(r, n_frames, frame_rate, highpass=i == len(rates) - 1, lowpass=i == 0)
        for i, r in enumerate(rates)
    ])  # fmt: skip
    spectral = np.stack([
        spectral_transfer_function(s, n_channels, channels_per_erb, highpass=i == len(scales) - 1, lowpass=i == 0)
        for i, s in enumerate(scales)
    ])  # fmt: skip
    specs = tuple(filter_specs(rates, scales))
    rate_index = np.array([rates.index(r) for r, _, _ in specs])
    scale_index = np.array([scales.index(s) for _, s, _ in specs])
    mask_sign = np.array([1 if r == 0 else d for r, _, d in specs])
    for array in (temporal, spectral, rate_index, scale_index, mask_sign):
        array.flags.writeable = False
    return TransferFunctions(specs, temporal, spectral, rate_index, scale_index, mask_sign)


def direction_mask(sign: int, n_fft_s: int, n_fft_t: int) -> np.ndarray:
    """Boolean ``[n_fft_s, n_fft_t]``: False where the quadrant rule zeroes a filter of
    direction ``sign`` (module docstring); the Nyquist row and column are always True."""
    f_t = np.sign(np.fft.fftfreq(n_fft_t))[None, :]
    f_s = np.fft.fftfreq(n_fft_s)[:, None]
    zero = ((f_t == -sign) & (f_s > 0)) | ((f_t == sign) & (f_s < 0))
    if n_fft_t % 2 == 0:
        zero[:, n_fft_t // 2] = False
    if n_fft_s % 2 == 0:
        zero[n_fft_s // 2, :] = False
    return ~zero


def spectrotemporal_filterbank(
    n_channels: int = 211,
    n_frames: int = 390,
    rates: Sequence[float] = RATES_HZ,
    scales: Sequence[float] = SCALES_CYC_PER_ERB,
    frame_rate: float = FRAME_RATE_HZ,
    channels_per_erb: float = CHANNELS_PER_ERB,
    filters: Sequence[int] | None = None,
) -> torch.Tensor:
    """The 2-D transfer functions ``[n_filters, 2 n_channels, 3 n_frames]`` (complex64, FFT
    order on both axes) built directly: outer product of the 1-D functions, quadrant rule.

    ``filters`` selects filter indices (default all: 438 MB for the reference bank).
    :class:`ModulationFilterBank` applies the same filters in factored form without building this.
    """
    tf = spectrotemporal_transfer_functions(
        n_channels, n_frames, tuple(rates), tuple(scales), frame_rate, channels_per_erb
    )
    indices = range(len(tf.specs)) if filters is None else list(filters)
    n_fft_s, n_fft_t = tf.spectral.shape[1], tf.temporal.shape[1]
    masks = {s: direction_mask(s, n_fft_s, n_fft_t) for s in (-1, 1)}
    out = torch.empty(len(indices), n_fft_s, n_fft_t, dtype=torch.complex64)
    for j, k in enumerate(indices):
        # In float64, then rounded (as the authors did: this reproduces their filters bit for bit).
        bank = np.outer(tf.spectral[tf.scale_index[k]], tf.temporal[tf.rate_index[k]]) * masks[int(tf.mask_sign[k])]
        out[j] = torch.from_numpy(bank.astype(np.complex64))
    return out


# ----------------------------------------------------------------------------------------
# The filter bank as a layer


class ModulationFilterBank(nn.Module):
    """Cochleagram ``[batch, n_channels, n_frames]`` -> ``[batch, n_filters, n_channels, n_frames]``.

    The squared, floored output of every filter (module docstring), laid out like a
    convolutional layer's output (filters, frequency, time); float32 on the input's device.
    Its mean over time is the authors' features.

    Attributes:
        specs: one ``(rate_hz, scale_cyc_per_erb, direction)`` per output channel, in the
            authors' order (:func:`filter_specs`); direction -1 or +1.
        temporal: buffer ``[n_rates, n_fft_t // 2 + 1]`` complex64, each rate's temporal
            function on the frequencies ``f_t >= 0`` of the padded time axis.
        spectral: buffer ``[n_scales, n_fft_s]`` float32, each scale's spectral function on the
            padded channel axis (FFT order). Both are in the state dict, so activation caches
            keyed on it change with the filters.

    Args:
        n_channels, n_frames: cochleagram size (211 x 390 for the reference).
        rates: temporal modulation rates in Hz, ascending (0: zero frequency only; the highest
            is high-pass).
        scales: spectral modulation scales in cycles/ERB, ascending (likewise).
        frame_rate: cochleagram frame rate in Hz (200).
        channels_per_erb: spectral sampling assumed by the filters (the authors' 6).
        input_scale: the cochleagram is multiplied by this (the authors' 100).
        floor: squared outputs are floored at this (the authors' 1e-8).
    """

    def __init__(
        self,
        n_channels: int = 211,
        n_frames: int = 390,
        rates: Sequence[float] = RATES_HZ,
        scales: Sequence[float] = SCALES_CYC_PER_ERB,
        frame_rate: float = FRAME_RATE_HZ,
        channels_per_erb: float = CHANNELS_PER_ERB,
        input_scale: float = INPUT_SCALE,
        floor: float = POWER_FLOOR,
    ) -> None:
        super().__init__()
        tf = spectrotemporal_transfer_functions(
            int(n_channels), int(n_frames), tuple(float(r) for r in rates), tuple(float(s) for s in scales),
            float(frame_rate), float(channels_per_erb),
        )  # fmt: skip
        self.n_channels, self.n_frames = int(n_channels), int(n_frames)
        self.n_fft_s, self.n_fft_t = tf.spectral.shape[1], tf.temporal.shape[1]
        self.rates, self.scales = tuple(float(r) for r in rates), tuple(float(s) for s in scales)
        self.frame_rate, self.channels_per_erb = float(frame_rate), float(channels_per_erb)
        self.input_scale, self.floor = float(input_scale), float(floor)
        self.specs: list[tuple[float, float, int]] = list(tf.specs)
        n_half = self.n_fft_t // 2 + 1
        # Copies: the cached arrays are shared, these buffers may be moved or loaded into.
        self.register_buffer("temporal", torch.tensor(tf.temporal[:, :n_half], dtype=torch.complex64))
        self.register_buffer("spectral", torch.tensor(tf.spectral, dtype=torch.float32))
        # Channel-axis stage: one inverse FFT per (scale, mask sign) pair in use ("branch").
        branches = sorted({(int(j), int(s)) for j, s in zip(tf.scale_index, tf.mask_sign, strict=True)})
        self._branches = branches
        self._branch_scale = [j for j, _ in branches]  # index into spectral
        self._branch_side = [(sign + 1) // 2 for _, sign in branches]  # index into keep_rows
        self._branch_of = [branches.index((int(j), int(s))) for j, s in zip(tf.scale_index, tf.mask_sign, strict=True)]
        self._rate_of = [int(i) for i in tf.rate_index]
        # Row keep-masks on f_s for the interior columns 0 < f_t < Nyquist: sign(f_s) == s,
        # plus f_s = 0 and the Nyquist row. Columns f_t = 0 and Nyquist keep every row.
        f_s = np.fft.fftfreq(self.n_fft_s)
        keep = {s: (np.sign(f_s) == s) | (f_s == 0) for s in (-1, 1)}
        if self.n_fft_s % 2 == 0:
            for s in keep:
                keep[s][self.n_fft_s // 2] = True
        rows = torch.from_numpy(np.stack([keep[-1], keep[1]]).astype(np.float32))
        self.register_buffer("keep_rows", rows, persistent=False)  # [2, n_fft_s]: s = -1, +1
        self._edge_cols = [0] + ([n_half - 1] if self.n_fft_t % 2 == 0 else [])

    @property
    def n_filters(self) -> int:
        return len(self.specs)

    def extra_repr(self) -> str:
        return (
            f"n_filters={self.n_filters}, rates_hz={list(self.rates)}, scales_cyc_per_erb={list(self.scales)}, "
            f"input=[{self.n_channels}, {self.n_frames}], padded=[{self.n_fft_s}, {self.n_fft_t}]"
        )

    def forward(self, cochleagram: torch.Tensor) -> torch.Tensor:
        """``[batch, n_channels, n_frames]`` -> ``[batch, n_filters, n_channels, n_frames]`` (float32)."""
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
        b = x.shape[0]
        out = x.new_empty(b, self.n_filters, self.n_channels, self.n_frames)
        on_cpu = x.device.type == "cpu"
        inference = torch.is_inference_mode_enabled()  # thread-local: the workers must enter it too
        if not on_cpu:
            self._batched_into(x, out, _GPU_SOUND_CHUNK, _GPU_FILTER_CHUNK)
            return out
        # CPU: single-threaded work per task on the worker pool (as the cochleagram does):
        # first the channel stage per sound, then (sound, filter chunk) tasks.
        threads = torch.get_num_threads()

        def channel(i: int) -> torch.Tensor:
            with torch.inference_mode(inference):
                return self._channel_stage(x[i : i + 1])

        branches = _run_in_threads(channel, list(range(b)), threads)
        tasks = [(i, k0) for i in range(b) for k0 in range(0, self.n_filters, _CPU_FILTER_CHUNK)]

        def run(task: tuple[int, int]) -> None:
            i, k0 = task
            with torch.inference_mode(inference):
                self._time_stage_into(branches[i], k0, min(k0 + _CPU_FILTER_CHUNK, self.n_filters), out[i : i + 1])

        _run_in_threads(run, tasks, threads)
        return out

    def _batched_into(self, x: torch.Tensor, out: torch.Tensor, sound_chunk: int, filter_chunk: int) -> None:
        """The accelerator path: chunks of ``sound_chunk`` sounds x ``filter_chunk`` filters per pass."""
        for start in range(0, x.shape[0], sound_chunk):
            sl = slice(start, min(start + sound_chunk, x.shape[0]))
            branch = self._channel_stage(x[sl])
            for k0 in range(0, self.n_filters, filter_chunk):
                self._time_stage_into(branch, k0, min(k0 + filter_chunk, self.n_filters), out[sl])

    def _channel_stage(self, x: torch.Tensor) -> torch.Tensor:
        """``x [b, C, T]`` -> ``[b, n_branches, C, n_fft_t // 2 + 1]``: the padded input's
        spectrum along time (f_t >= 0), filtered along channels by each branch's spectral
        function and mask, back along channels and cropped to the ``C`` channels.

        The channel FFTs run along the last (contiguous) axis: time frequency first."""
        C = self.n_channels
        spec = torch.fft.rfft(x * self.input_scale, n=self.n_fft_t, dim=-1)  # [b, C, n_half]
        spec = torch.fft.fft(spec.transpose(-1, -2), n=self.n_fft_s, dim=-1)  # [b, n_half, n_fft_s]
        gains = self.spectral[self._branch_scale]  # [n_branches, n_fft_s]
        # Interior columns 0 < f_t < Nyquist: the direction's rows; f_t = 0 and Nyquist: all rows.
        filtered = spec[:, None] * (gains * self.keep_rows[self._branch_side])[None, :, None, :]
        filtered[:, :, self._edge_cols] = spec[:, None, self._edge_cols] * gains[None, :, None, :]
        back = torch.fft.ifft(filtered, dim=-1)[..., :C]  # [b, n_branches, n_half, C]
        return back.transpose(-1, -2).contiguous()

    def _time_stage_into(self, branch: torch.Tensor, k0: int, k1: int, out: torch.Tensor) -> None:
        """Filters ``k0 .. k1 - 1``: multiply the branch spectra by the temporal functions,
        inverse real FFT along time, crop, square and floor into ``out[:, k0:k1]``."""
        dev = branch.device
        b_idx = torch.tensor(self._branch_of[k0:k1], device=dev)
        r_idx = torch.tensor(self._rate_of[k0:k1], device=dev)
        spec = branch[:, b_idx] * self.temporal[r_idx][None, :, None, :]  # [b, k, C, n_half]
        y = torch.fft.irfft(spec, n=self.n_fft_t, dim=-1)[..., : self.n_frames]
        target = out[:, k0:k1]
        torch.mul(y, y, out=target)
        target.clamp_(min=self.floor)


class SpectroTemporal(CochleagramNetwork):
    """Waveform ``[batch, 40000]`` (2 s at 20 kHz) -> time-averaged filter output ``[batch, 23421]``.

    The reference cochleagram (``self.cochleagram``: ``[batch, 211, 390]`` at 200 Hz) followed
    by ``self.filters``, a :class:`ModulationFilterBank` (the authors' 111 filters) whose output
    ``[batch, 111, 211, 390]`` (filters x channels x frames) is the scored layer
    (``SCORED_LAYERS``). :meth:`features` returns that output averaged over time and flattened
    filter-major (feature ``k * 211 + channel``), as the activation extractor does with a 4-D
    layer: the authors' features. ``self.filters.specs`` names the filters.

    It has no heads and no trainable weights: ``forward`` returns ``{}`` (the model contract,
    :mod:`models.contract`), :meth:`features` the authors' feature vectors; it is scored, never
    trained.

    Args:
        rates: temporal modulation rates in Hz (the authors' by default).
        scales: spectral modulation scales in cycles/ERB (the authors' by default).
        cochleagram_kwargs: arguments for :class:`models.Cochleagram` (defaults = reference).
    """

    SCORED_LAYERS = ("filters",)
    identifier = "SpectroTemporal"  # no weights: the filter bank is the authors', fixed

    def __init__(
        self,
        rates: Sequence[float] = RATES_HZ,
        scales: Sequence[float] = SCALES_CYC_PER_ERB,
        cochleagram_kwargs: Mapping | None = None,
    ) -> None:
        super().__init__()
        self.cochleagram = Cochleagram(**dict(cochleagram_kwargs or {}))
        n_channels, n_frames = self.cochleagram.output_shape
        self.filters = ModulationFilterBank(
            n_channels, n_frames, rates, scales, frame_rate=float(self.cochleagram.env_sr)
        )

    @property
    def n_features(self) -> int:
        """Time-averaged features per sound: filters x channels (111 x 211 = 23,421)."""
        return self.filters.n_filters * self.filters.n_channels

    def from_frontend(self, cochleagram: torch.Tensor) -> dict[str, torch.Tensor]:
        """Cochleagram ``[batch, 211, 390]`` -> ``{}`` (no heads); the scored layer
        ``filters`` runs on the way."""
        self.filters(cochleagram)
        return {}


    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        """Waveform ``[batch, samples]`` -> ``[batch, n_filters * n_channels]`` time-averaged output."""
        power = self.filters(self.cochleagram(waveform))  # [batch, filters, channels, frames]
        return power.mean(dim=-1).flatten(1)

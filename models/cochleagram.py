"""Differentiable cochleagram front end (docs/reference.md section 1, "cochleagram_1").

Pipeline: rfft of the waveform -> ERB half-cosine filterbank -> analytic-signal (Hilbert)
envelope of every subband at the full sample rate, floored at 1e-8 -> windowed-sinc
low-pass applied with stride ``sample_rate // env_sr`` -> ReLU -> ``(x + 1e-8) ** 0.3``
with the gradient of the power function clipped at 5.

Two methods give the same numbers (tests/test_cochleagram.py proves it):

* ``"direct"``: the reference algorithm, one full-length inverse FFT per channel.
* ``"banded"`` (default): each subband only occupies the rfft bins of its filter, so its
  analytic signal is a band-limited complex signal. Shifting it to base band (which leaves
  the magnitude unchanged) and splitting time as ``t = m + D j`` (``D`` = downsampling
  factor) turns the full-length inverse FFT into ``D`` inverse FFTs of length ``N / D``
  after a small DFT and a twiddle multiply (a pruned FFT). That layout is exactly the
  polyphase layout of the strided low-pass, which becomes one matrix product. Channels
  are processed in small chunks, on one worker thread per core, so the full-rate complex
  subbands stay in the CPU caches.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import torch
from torch import nn

from data.audio import CLIP_SAMPLES, SAMPLE_RATE
from models.filterbank import erb_cosine_filterbank, sinc_kaiser_kernel

ENVELOPE_FLOOR = 1e-8  # the reference clamps |analytic|^2 at 1e-16 before the square root
_CHUNK_SAMPLES = 8 * 40000  # channel-clips per chunk x samples: keeps a chunk in L2/L3
_THREAD_CHUNK_SAMPLES = 4 * 40000  # per worker thread, which has a core's caches to itself
_GPU_CHUNK_SAMPLES = 512 * 40000  # accelerators: few large kernels, ~160 MB per chunk
_MAX_SEPARATE_TAIL_TAPS = 4  # a last kernel block this short skips the GEMM
_POOL: ThreadPoolExecutor | None = None
_POOL_PID = -1
_POOL_LOCK = threading.Lock()


def _run_in_threads(fn, tasks: list, threads: int) -> list:
    """Run ``fn`` over ``tasks`` on ``threads`` worker threads, each doing single-threaded
    torch work on its own chunks (better cache locality than splitting every small op
    across OpenMP threads). Results come back in task order."""
    if threads <= 1 or len(tasks) < 2:
        return [fn(t) for t in tasks]
    global _POOL, _POOL_PID
    with _POOL_LOCK:
        # A pool inherited through fork has no threads in the child: make a new one.
        if _POOL is None or _POOL._max_workers < threads or _POOL_PID != os.getpid():
            _POOL, _POOL_PID = ThreadPoolExecutor(threads, thread_name_prefix="cochleagram"), os.getpid()
        pool = _POOL
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            shares = [tasks[i::threads] for i in range(threads)]
            futures = [pool.submit(lambda share: [fn(t) for t in share], share) for share in shares]
            results = [f.result() for f in futures]
        finally:
            torch.set_num_threads(previous)
    out: list = [None] * len(tasks)
    for i, share_results in enumerate(results):
        out[i::threads] = share_results
    return out


class _ClippedPowerCompression(torch.autograd.Function):
    """``((relu(x) + offset) * scale) ** power``; backward treats the ReLU as identity and
    clips the power function's derivative to ``[-clip, clip]`` (as the reference does)."""

    @staticmethod
    def forward(ctx, x, power: float, offset: float, scale: float, clip: float):  # type: ignore[override]
        u = (x.clamp(min=0) + offset) * scale
        ctx.save_for_backward(u)
        ctx.power, ctx.scale, ctx.clip = power, scale, clip
        return u.pow(power)

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        (u,) = ctx.saved_tensors
        slope = (ctx.power * u.pow(ctx.power - 1)).clamp(-ctx.clip, ctx.clip)
        return grad_out * slope * ctx.scale, None, None, None, None


class Cochleagram(nn.Module):
    """Waveform ``[batch, signal_length]`` -> cochleagram ``[batch, n_channels, n_frames]``.

    Defaults reproduce the reference: 2 s at 20 kHz -> ``[batch, 211, 390]`` at 200 Hz.

    Args:
        signal_length: samples per clip (the filters live on this clip's rfft grid).
        sample_rate: Hz.
        env_sr: envelope sample rate in Hz; ``sample_rate`` must be a multiple of it.
        n, low_hz, high_hz, sample_factor: filterbank layout (see :func:`erb_cosine_filterbank`).
        window_size, kaiser_beta: downsampling kernel.
        power, offset, scale, grad_clip: compression ``((relu(x) + offset) * scale) ** power``.
        method: ``"banded"`` (fast) or ``"direct"`` (reference algorithm); same output.
        input_clamp: clamp the waveform to ``[-input_clamp, input_clamp]`` before the
            filterbank (None: no clamp). The authors' in-house networks clamp to [-1, 1] in
            their input normaliser, so CochCNN9 and CochResNet50 build their front end with 1.0.
    """

    def __init__(
        self,
        signal_length: int = CLIP_SAMPLES,
        sample_rate: int = SAMPLE_RATE,
        env_sr: int = 200,
        n: int = 50,
        low_hz: float = 50.0,
        high_hz: float = 10000.0,
        sample_factor: int = 4,
        window_size: int = 1001,
        kaiser_beta: float = 5.0,
        power: float = 0.3,
        offset: float = 1e-8,
        scale: float = 1.0,
        grad_clip: float = 5.0,
        method: Literal["banded", "direct"] = "banded",
        input_clamp: float | None = None,
    ) -> None:
        super().__init__()
        if sample_rate % env_sr != 0:
            raise ValueError(
                f"sample_rate ({sample_rate} Hz) must be an integer multiple of env_sr ({env_sr} Hz)"
            )
        if signal_length < window_size:
            raise ValueError(
                f"signal_length ({signal_length}) must be at least window_size ({window_size})"
            )
        if method not in ("banded", "direct"):
            raise ValueError(f"method must be 'banded' or 'direct', got {method!r}")
        if input_clamp is not None and not input_clamp > 0:
            raise ValueError(f"input_clamp must be > 0 or None, got {input_clamp!r}")
        self.input_clamp = None if input_clamp is None else float(input_clamp)
        self.signal_length = signal_length
        self.sample_rate = sample_rate
        self.env_sr = env_sr
        self.downsample_factor = sample_rate // env_sr
        self.window_size = window_size
        self.n_frames = (signal_length - window_size) // self.downsample_factor + 1
        self.power, self.offset, self.scale, self.grad_clip = power, offset, scale, grad_clip
        self.method = method

        bank = erb_cosine_filterbank(signal_length, sample_rate, n, low_hz, high_hz, sample_factor)
        self.n_channels = bank.filters.shape[0]
        self.center_freqs = bank.center_freqs
        filters32 = torch.from_numpy(bank.filters).float()  # the reference multiplies in float32
        self.register_buffer("filters", filters32, persistent=False)
        kernel = torch.from_numpy(sinc_kaiser_kernel(self.downsample_factor, window_size, kaiser_beta)).float()
        self.register_buffer("kernel", kernel, persistent=False)
        self._build_banded_plan(filters32)

    @property
    def output_shape(self) -> tuple[int, int]:
        """``(n_channels, n_frames)`` of one clip's cochleagram."""
        return self.n_channels, self.n_frames

    # ------------------------------------------------------------------ planning
    def _build_banded_plan(self, filters32: torch.Tensor) -> None:
        """Precompute the pruned-FFT plan.

        Time is split as ``t = m + D j`` with ``D`` the downsampling factor and
        ``L = N / D`` frames of ``D`` samples. A channel whose filter spans rfft bins
        ``[lo, lo + W)`` is shifted to base band and its bins folded as ``q = q0 + p L``
        (``p < P = ceil(W / L)``); then

            analytic(m + D j) = e^{...} * (1/N) sum_{q0} [tw0[m, q0] sum_p F[m, p] S[p, q0]] e^{2 pi i q0 j / L}

        with ``tw0[m, q0] = exp(2 pi i q0 m / N)`` and ``F[m, p] = exp(2 pi i p m / D)``:
        a ``D x P`` DFT matrix product, one twiddle multiply and ``D`` inverse FFTs of
        length ``L`` per channel instead of one of length ``N``. The envelope comes out as
        ``E[m, j] = e[m + D j]``: row ``m`` holds polyphase component ``m``, which is what
        the polyphase downsampler multiplies with, so no data is reordered.
        """
        N, D = self.signal_length, self.downsample_factor
        # Polyphase downsampler: the kernel cut into blocks of D taps, [n_blocks, D]. A short
        # last block (1 tap for the reference's 1001 = 10 * 100 + 1) is applied separately
        # instead of padding a whole GEMM row with zeros.
        full, tail = divmod(self.window_size, D)
        if tail > _MAX_SEPARATE_TAIL_TAPS:
            full, tail = full + 1, 0
        padded = torch.zeros(full * D)
        padded[: min(self.window_size, full * D)] = self.kernel[: full * D]
        self.register_buffer("poly_kernel_t", padded.view(full, D).contiguous(), persistent=False)
        self._tail_taps = [(i, float(self.kernel[full * D + i])) for i in range(tail)]
        self._groups: list[dict] = []
        self._banded = N % D == 0
        if not self._banded:  # e.g. a length that is not a whole number of frames
            return
        L = N // D
        n_freqs = filters32.shape[1]
        nonzero = filters32 != 0
        lo = nonzero.float().argmax(dim=1)
        hi = n_freqs - 1 - nonzero.flip(1).float().argmax(dim=1)
        folds = (-(-(hi - lo + 1) // L)).tolist()
        m = torch.arange(D, dtype=torch.float64)
        q0 = torch.arange(L, dtype=torch.float64)
        tw0 = torch.exp(2j * math.pi * m[:, None] * q0[None, :] / N)
        order = []
        for P in sorted(set(folds)):
            chans = [c for c in range(len(folds)) if folds[c] == P]
            q = torch.arange(P * L)
            raw_bins = lo[chans, None] + q[None, :]
            valid = raw_bins <= hi[chans, None]
            bins = raw_bins.clamp(max=n_freqs - 1)
            # The 1/N of the full-length inverse FFT; the short ones run unnormalised.
            gains = torch.where(valid, filters32[torch.tensor(chans)[:, None], bins], 0.0) / N
            p = torch.arange(P, dtype=torch.float64)
            dft = torch.exp(2j * math.pi * m[:, None] * p[None, :] / D)
            idx = len(self._groups)
            self.register_buffer(f"_bins{idx}", bins.contiguous(), persistent=False)
            self.register_buffer(f"_gains{idx}", gains.contiguous(), persistent=False)
            self.register_buffer(f"_dft{idx}", dft.to(torch.complex64), persistent=False)
            self._groups.append({"P": P, "n": len(chans)})
            order.extend(chans)
        self.register_buffer("_tw0", tw0.to(torch.complex64), persistent=False)
        self.register_buffer("_channel_order", torch.argsort(torch.tensor(order)), persistent=False)

    # ------------------------------------------------------------------ forward
    def _check_input(self, waveform: torch.Tensor) -> None:
        if not isinstance(waveform, torch.Tensor):
            raise TypeError(f"Cochleagram expects a torch.Tensor, got {type(waveform).__name__}")
        if waveform.dim() != 2 or waveform.shape[1] != self.signal_length:
            raise ValueError(
                f"Cochleagram expects a waveform of shape [batch, {self.signal_length}] "
                f"({self.signal_length / self.sample_rate:g} s at {self.sample_rate} Hz), got "
                f"{list(waveform.shape)}; use x[None] for a single clip"
            )

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """``[batch, signal_length]`` float waveform -> ``[batch, n_channels, n_frames]``."""
        self._check_input(waveform)
        x = waveform.float()
        if self.input_clamp is not None:
            x = x.clamp(-self.input_clamp, self.input_clamp)
        spectrum = torch.fft.rfft(x)
        if self.method == "direct" or not self._banded:
            envelopes = self._direct_envelopes(spectrum)
        else:
            envelopes = self._banded_envelopes(spectrum)
        return _ClippedPowerCompression.apply(envelopes, self.power, self.offset, self.scale, self.grad_clip)

    def _direct_envelopes(self, spectrum: torch.Tensor) -> torch.Tensor:
        """Reference algorithm: full-rate analytic subbands, magnitude, strided FIR."""
        N = self.signal_length
        subbands = spectrum[:, None, :] * self.filters
        analytic = torch.fft.ifft(subbands, n=N)  # zero-padding the rfft grid = Hilbert
        env = torch.sqrt(torch.clamp(analytic.real**2 + analytic.imag**2, min=ENVELOPE_FLOOR**2))
        batch = env.shape[0]
        down = nn.functional.conv1d(
            env.reshape(-1, 1, N), self.kernel.view(1, 1, -1), stride=self.downsample_factor
        )
        return down.view(batch, self.n_channels, -1)

    def _downsample(self, env: torch.Tensor) -> torch.Tensor:
        """Envelope ``E[m, r, j] = e_r[m + D j]`` ``[D, rows, L]`` -> ``[rows, n_frames]``.

        Polyphase FIR as one matrix product for all rows: ``Q = poly^T @ E`` then
        ``out[r, f] = sum_b Q[b, r, f + b]``.
        """
        D, rows, L = env.shape
        partial = self.poly_kernel_t @ env.reshape(D, rows * L)  # [n_taps_blocks, rows * L]
        n_taps = partial.shape[0]
        # Diagonal view: taps[r, f, b] = partial[b, r * L + f + b].
        taps = partial.as_strided((rows, self.n_frames, n_taps), (L, 1, rows * L + 1), partial.storage_offset())
        out = taps.sum(-1)
        for i, weight in self._tail_taps:  # out[r, f] += w[n_taps * D + i] * e_r[(f + n_taps) * D + i]
            out = out + weight * env[i, :, n_taps : n_taps + self.n_frames]
        return out

    def _banded_envelopes(self, spectrum: torch.Tensor) -> torch.Tensor:
        L = self.signal_length // self.downsample_factor
        batch = spectrum.shape[0]
        track_grad = torch.is_grad_enabled() and spectrum.requires_grad
        on_cpu = spectrum.device.type == "cpu"
        threads = torch.get_num_threads() if on_cpu and not track_grad else 1
        if not on_cpu:
            budget = _GPU_CHUNK_SAMPLES
        else:
            budget = _CHUNK_SAMPLES if threads == 1 else _THREAD_CHUNK_SAMPLES
        step = max(1, budget // self.signal_length)
        folded, tasks = [], []
        for idx, g in enumerate(self._groups):
            band = spectrum[:, getattr(self, f"_bins{idx}")] * getattr(self, f"_gains{idx}")
            # [P, rows, L] with bin q = q0 + p L: each fold is one contiguous matrix.
            folded.append(band.reshape(batch * g["n"], g["P"], L).transpose(0, 1).contiguous())
            tasks += [(idx, r0, min(r0 + step, batch * g["n"])) for r0 in range(0, batch * g["n"], step)]
        tw0 = self._tw0[:, None, :]  # [D, 1, L]

        def run(task: tuple[int, int, int]) -> torch.Tensor:
            idx, r0, r1 = task
            chunk = folded[idx][:, r0:r1]  # [P, rows, L]
            P, rows = chunk.shape[0], r1 - r0
            if P == 1:
                z = chunk * tw0  # [D, rows, L]
            else:
                z = (getattr(self, f"_dft{idx}") @ chunk.reshape(P, rows * L)).view(-1, rows, L)
                z = z * tw0 if track_grad else z.mul_(tw0)
            # norm="forward" leaves the inverse unscaled; torch's default scales in an extra pass.
            sub = torch.fft.ifft(z, norm="forward")  # sub[m, r, j] = analytic_r(m + D j), base band
            return self._downsample(self._envelope(sub, track_grad))

        pieces = _run_in_threads(run, tasks, threads)
        per_group: list[list[torch.Tensor]] = [[] for _ in self._groups]
        for (idx, _, _), piece in zip(tasks, pieces):
            per_group[idx].append(piece)
        outputs = [torch.cat(p).view(batch, g["n"], -1) for p, g in zip(per_group, self._groups)]
        return torch.cat(outputs, dim=1)[:, self._channel_order]

    @staticmethod
    def _envelope(sub: torch.Tensor, track_grad: bool) -> torch.Tensor:
        """Analytic signals (complex) -> magnitudes floored at 1e-8, same shape."""
        parts = torch.view_as_real(sub)
        if track_grad:
            squares = parts.square()
            return torch.sqrt(torch.clamp(squares[..., 0] + squares[..., 1], min=ENVELOPE_FLOOR**2))
        parts.mul_(parts)  # in place: these full-rate arrays are the bulk of the memory traffic
        return torch.add(parts[..., 0], parts[..., 1]).clamp_(min=ENVELOPE_FLOOR**2).sqrt_()

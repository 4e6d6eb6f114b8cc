"""DeepSpeech2 as deepspeech.pytorch (SeanNaren) builds it, read out as the paper read it.

The paper scored deepspeech.pytorch's LibriSpeech model (16 kHz). That package is not needed:
this module is its architecture in torch, with its submodule names, so its checkpoints load
as they are (``conv.seq_module.0.weight``, ``rnns.0.rnn.weight_ih_l0``, ``rnns.1.batch_norm.
module.running_mean``, ``fc.0.module.1.weight`` ...):

* front end (their ``SpectrogramParser``): STFT with a ``window_size`` (20 ms) periodic Hamming
  window, ``window_stride`` (10 ms) hop, ``n_fft`` = the window length (320 samples -> 161
  bins), centred frames; ``log(1 + |S|)``; each sound normalised by the mean and (unbiased)
  standard deviation of its whole spectrogram (``normalize=True``, as their training and
  transcription did);
* ``conv``: Conv2d(1->32, kernel 41x11 (freq x time), stride 2x2, pad 20x5) + BatchNorm2d +
  Hardtanh(0, 20), Conv2d(32->32, 21x11, stride 2x1, pad 10x5) + BatchNorm2d + Hardtanh(0, 20);
* ``rnns``: ``hidden_layers`` bidirectional LSTMs (``hidden_size`` each, time-major), each
  after a BatchNorm1d of its input except the first (their ``BatchRNN``); the two directions'
  outputs are summed before the next layer;
* ``fc``: BatchNorm1d + Linear(hidden, ``n_classes``, no bias): the CTC logits of 29
  characters ``_'A..Z `` (blank first).

Scored layers (``LAYER_REDUCTIONS``):

======================  ===========================================  =====================
layer                   what                                         reduction
======================  ===========================================  =====================
``Conv_1``, ``Conv_2``  Hardtanh output ``[batch, 32, freq, time]``  time mean (32 x freq)
``LSTM_1`` ..           the FINAL CELL STATE ``c_n`` of the layer:   as is (2 x hidden)
``LSTM_<n>``            ``[batch, 2 * hidden]``, the forward
                        direction's (after the last frame) then the
                        backward direction's (after the first frame)
``Final``               CTC logits ``[batch, time, 29]``             time mean
======================  ===========================================  =====================

The paper read the LSTM layers by their final cell state (docs/reference.md section 13). How
it combined the two directions is not recorded; they are concatenated here (nothing is lost;
their ``BatchRNN`` sums the directions' *outputs*, which are not what is read). ``Final`` is
the logits, before the softmax their model applies in eval mode.

Uncertain points of the front end (deepspeech.pytorch computes it with librosa in its data
loader, outside the network): the padding of the centred frames follows librosa < 0.10
(``reflect``; librosa 0.10 changed its default to zeros, ``pad_mode="constant"``); the input is
taken as float audio in [-1, 1] (they read int16 and divide by 32767); a silent clip (a zero
standard deviation) is divided by 1e-12 instead of giving NaN. Batches have one length here, so
their ``MaskConv`` masking and sequence packing change nothing and are not applied.

Weights: ``path`` is a local deepspeech.pytorch checkpoint -- V3's Lightning ``.ckpt``
(``librispeech_pretrained_v3.ckpt`` from github.com/SeanNaren/deepspeech.pytorch/releases), a
V2 ``.pth`` or a plain ``torch.save(state_dict)`` file. It is read without running its pickled
code: tensors are rebuilt and every other object it names (Lightning / Hydra configs,
deepspeech_pytorch's enums) is kept as an inert placeholder, so deepspeech_pytorch need not be
installed. Only the bidirectional models (the LibriSpeech release) are built: a unidirectional
one (with a ``lookahead`` layer) is refused with its unexpected keys named. ``path=None`` gives
random weights, named untrained (models.zoo.origin).
"""

from __future__ import annotations

import codecs
import collections
import logging
import math
import pickle
import types
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from models.reductions import AS_IS, Reduction, time_mean
from models.zoo.origin import first_items, local_weights, random_origin, state_mismatch, weights_origin

__all__ = ["LABELS", "BatchRNN", "DeepSpeech2", "MaskConv", "SequenceWise", "Spectrogram", "load_state_dict"]

log = logging.getLogger(__name__)

NAME = "DeepSpeech2"
LABELS = "_'ABCDEFGHIJKLMNOPQRSTUVWXYZ "  # deepspeech.pytorch's labels.json: CTC blank first
EXPECTED = "a deepspeech.pytorch checkpoint file (.ckpt / .pth) holding a state_dict"
# Keys of a Lightning DeepSpeech state dict that are no part of the network (metric states).
_NOT_NETWORK = ("wer.", "cer.", "criterion.", "inference_softmax.")


class SequenceWise(nn.Module):
    """``module`` applied to every step of a time-major ``[time, batch, features]`` sequence."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, n = x.shape[0], x.shape[1]
        return self.module(x.reshape(t * n, -1)).reshape(t, n, -1)


class MaskConv(nn.Module):
    """Their convolution stack (``seq_module``); masking past each sound's length is not
    needed for batches of one length and not applied."""

    def __init__(self, seq_module: nn.Sequential):
        super().__init__()
        self.seq_module = seq_module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seq_module(x)


class BatchRNN(nn.Module):
    """BatchNorm1d of the input (except the first layer), a bidirectional LSTM, the two
    directions' outputs summed. ``forward`` gives ``(output [time, batch, hidden], (h_n, c_n))``."""

    def __init__(self, input_size: int, hidden_size: int, batch_norm: bool = True):
        super().__init__()
        self.batch_norm = SequenceWise(nn.BatchNorm1d(input_size)) if batch_norm else None
        self.rnn = nn.LSTM(input_size=input_size, hidden_size=hidden_size, bidirectional=True, bias=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        if self.batch_norm is not None:
            x = self.batch_norm(x)
        x, state = self.rnn(x)
        t, n = x.shape[0], x.shape[1]
        return x.reshape(t, n, 2, -1).sum(2), state


class Spectrogram(nn.Module):
    """Waveforms ``[batch, samples]`` -> normalised log-magnitude spectrograms ``[batch, freq, frames]``
    (their ``SpectrogramParser.parse_audio``; see the module docstring)."""

    def __init__(self, sample_rate: int, window_size: float, window_stride: float, normalize: bool = True,
                 pad_mode: str = "reflect"):  # fmt: skip
        super().__init__()
        self.n_fft = int(sample_rate * window_size)
        self.hop_length = int(sample_rate * window_stride)
        if self.n_fft < 2 or self.hop_length < 1:
            raise ValueError(f"window_size {window_size} s / window_stride {window_stride} s are too short at "
                             f"{sample_rate} Hz")  # fmt: skip
        self.normalize = bool(normalize)
        self.pad_mode = pad_mode
        # Not persistent: the state dict holds their checkpoint's keys only.
        self.register_buffer("window", torch.hamming_window(self.n_fft, periodic=True), persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(waveform, self.n_fft, hop_length=self.hop_length, win_length=self.n_fft,
                          window=self.window.to(waveform.dtype), center=True, pad_mode=self.pad_mode,
                          return_complex=True)  # fmt: skip
        spec = torch.log1p(spec.abs())
        if self.normalize:
            mean = spec.mean(dim=(1, 2), keepdim=True)
            std = spec.flatten(1).std(dim=1).reshape(-1, 1, 1)
            spec = (spec - mean) / std.clamp_min(1e-12)
        return spec


class DeepSpeech2(nn.Module):
    """deepspeech.pytorch's bidirectional DeepSpeech2, an :class:`models.contract.ActivationModel`.

    Args:
        path: a local deepspeech.pytorch checkpoint (``.ckpt`` / ``.pth`` / state dict file);
            None = random weights (named untrained).
        hidden_size, hidden_layers: the LSTMs' width and number (the LibriSpeech model: 1024, 5).
        n_classes: output characters (29).
        sample_rate, window_size, window_stride: the front end (16 kHz, 20 ms, 10 ms).
        normalize: per-sound spectrogram normalisation (their models were trained with it).
        pad_mode: padding of the centred STFT frames (``reflect``: librosa < 0.10).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        hidden_size: int = 1024,
        hidden_layers: int = 5,
        n_classes: int = len(LABELS),
        sample_rate: int = 16000,
        window_size: float = 0.02,
        window_stride: float = 0.01,
        normalize: bool = True,
        pad_mode: str = "reflect",
    ):
        super().__init__()
        if hidden_layers < 1 or hidden_size < 1 or n_classes < 1:
            raise ValueError(f"hidden_layers, hidden_size and n_classes must be >= 1, got {hidden_layers}, "
                             f"{hidden_size}, {n_classes}")  # fmt: skip
        self.sample_rate = int(sample_rate)
        self.hidden_size, self.hidden_layers, self.n_classes = int(hidden_size), int(hidden_layers), int(n_classes)
        self.spectrogram = Spectrogram(self.sample_rate, window_size, window_stride, normalize, pad_mode)
        self.conv = MaskConv(nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=(41, 11), stride=(2, 2), padding=(20, 5)),
            nn.BatchNorm2d(32),
            nn.Hardtanh(0, 20),
            nn.Conv2d(32, 32, kernel_size=(21, 11), stride=(2, 1), padding=(10, 5)),
            nn.BatchNorm2d(32),
            nn.Hardtanh(0, 20),
        ))  # fmt: skip
        freq = self.spectrogram.n_fft // 2 + 1
        freq = math.floor((freq + 2 * 20 - 41) / 2 + 1)
        freq = math.floor((freq + 2 * 10 - 21) / 2 + 1)
        self.rnn_input_size = 32 * freq
        self.rnns = nn.Sequential(
            BatchRNN(self.rnn_input_size, self.hidden_size, batch_norm=False),
            *(BatchRNN(self.hidden_size, self.hidden_size) for _ in range(self.hidden_layers - 1)),
        )
        self.fc = nn.Sequential(
            SequenceWise(nn.Sequential(nn.BatchNorm1d(self.hidden_size),
                                       nn.Linear(self.hidden_size, self.n_classes, bias=False)))
        )  # fmt: skip
        self.LAYER_REDUCTIONS: dict[str, Reduction] = {
            "Conv_1": time_mean(axis=3),
            "Conv_2": time_mean(axis=3),
            **{f"LSTM_{i}": AS_IS for i in range(1, self.hidden_layers + 1)},
            "Final": time_mean(axis=1),
        }
        if path is None:
            self.identifier, self.provenance = random_origin(NAME)
        else:
            resolved = local_weights(path, NAME, EXPECTED)
            state, meta = load_state_dict(resolved)
            self._check_audio_conf(meta, resolved)
            self._load(state, resolved)
            self.identifier, self.provenance = weights_origin(NAME, resolved)
        self.provenance["architecture"] = (f"deepspeech.pytorch DeepSpeech2: 2 conv, {self.hidden_layers} x "
                                           f"BiLSTM({self.hidden_size}), {self.n_classes} classes")  # fmt: skip

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Waveforms ``[batch, samples]`` at ``sample_rate`` -> CTC logits ``[batch, frames, n_classes]``."""
        return self.activations(waveform)["Final"]

    def activations(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        """Waveforms ``[batch, samples]`` at ``sample_rate`` -> ``{layer: tensor}`` (module docstring)."""
        if waveform.ndim != 2:
            raise ValueError(f"{NAME} takes waveforms [batch, samples], got shape {list(waveform.shape)}")
        seq = self.conv.seq_module
        out: dict[str, torch.Tensor] = {}
        x = self.spectrogram(waveform).unsqueeze(1)  # [batch, 1, freq, frames]
        x = out["Conv_1"] = seq[2](seq[1](seq[0](x)))
        x = out["Conv_2"] = seq[5](seq[4](seq[3](x)))
        b, c, f, t = x.shape
        x = x.reshape(b, c * f, t).permute(2, 0, 1).contiguous()  # [frames, batch, 32 * freq]
        for i, rnn in enumerate(self.rnns, start=1):
            x, (_, cell) = rnn(x)
            out[f"LSTM_{i}"] = cell.transpose(0, 1).reshape(b, -1)  # [batch, forward ++ backward]
        out["Final"] = self.fc(x).transpose(0, 1)  # [batch, frames, n_classes]
        return out

    def _check_audio_conf(self, meta: Mapping, path: Path) -> None:
        """A V2 checkpoint's ``audio_conf`` (plain values) must match the front end built here."""
        conf = meta.get("audio_conf")
        if not isinstance(conf, Mapping):
            return
        mine = {"sample_rate": self.sample_rate, "window_size": self.spectrogram.n_fft / self.sample_rate,
                "window_stride": self.spectrogram.hop_length / self.sample_rate}  # fmt: skip
        differ = [f"{k}={conf[k]!r} (here {v!r})" for k, v in mine.items()
                  if isinstance(conf.get(k), (int, float)) and not math.isclose(float(conf[k]), v)]  # fmt: skip
        window = conf.get("window")
        if isinstance(window, str) and window != "hamming":
            differ.append(f"window={window!r} (here 'hamming')")
        if differ:
            raise ValueError(f"{NAME}: the checkpoint {path} was trained with another front end: {', '.join(differ)}; "
                             "pass sample_rate / window_size / window_stride to match")  # fmt: skip

    def _load(self, state: Mapping[str, torch.Tensor], path: Path) -> None:
        mismatch = state_mismatch(state, self.state_dict())
        if mismatch:
            raise ValueError(f"{NAME}: the weights in {path} do not fit hidden_size={self.hidden_size}, hidden_layers="
                             f"{self.hidden_layers}, n_classes={self.n_classes}: {mismatch}{_suggest(state)}")  # fmt: skip
        self.load_state_dict(state, strict=True)


def _suggest(state: Mapping[str, torch.Tensor]) -> str:
    """What the checkpoint's own shapes say its architecture is (a hint for the error)."""
    hh = state.get("rnns.0.rnn.weight_hh_l0")
    fc = state.get("fc.0.module.1.weight")
    layers = {k.split(".")[1] for k in state if k.startswith("rnns.") and k.split(".")[1].isdigit()}
    if hh is None or fc is None or hh.ndim != 2:
        return ""
    if hh.shape[0] != 4 * hh.shape[1]:
        return f" (its first recurrent layer has {hh.shape[0] // hh.shape[1]} gates: not an LSTM model)"
    return (f" (the checkpoint looks like hidden_size={hh.shape[1]}, hidden_layers={len(layers)}, "
            f"n_classes={fc.shape[0]})")  # fmt: skip


# ---------------------------------------------------------------------------- reading checkpoints
class _Inert:
    """Stands in for an object the checkpoint names that is not needed here (Lightning and
    Hydra config objects, deepspeech_pytorch's enums): it records what it was given and runs
    nothing."""

    _qualname = "?"

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state):
        self.state = state

    def __setitem__(self, key, value):
        self.__dict__.setdefault("items", {})[key] = value

    def append(self, value):
        self.__dict__.setdefault("values", []).append(value)

    def extend(self, values):
        self.__dict__.setdefault("values", []).extend(values)

    def __repr__(self) -> str:
        return f"<inert {self._qualname}>"


_BUILTINS = {"set": set, "frozenset": frozenset, "complex": complex, "bytearray": bytearray, "slice": slice}


def _allowed(module: str, name: str):
    """The object pickled as ``module.name`` if it only rebuilds tensors and containers; None otherwise."""
    if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_parameter",
                                             "_rebuild_parameter_with_state"):  # fmt: skip
        return getattr(torch._utils, name)
    if module == "torch" and (name in ("Size", "device") or isinstance(getattr(torch, name, None), torch.dtype)):
        return getattr(torch, name)
    if module == "collections" and name in ("OrderedDict", "Counter"):
        return getattr(collections, name)
    if module == "builtins" and name in _BUILTINS:
        return _BUILTINS[name]
    if module == "_codecs" and name == "encode":  # bytes under pickle protocol 2
        return codecs.encode
    return None


class _InertUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        found = _allowed(module, name)
        if found is not None:
            return found
        return type(name, (_Inert,), {"_qualname": f"{module}.{name}"})


_INERT_PICKLE = types.ModuleType("inert_pickle")  # the pickle_module torch.load uses for a checkpoint
_INERT_PICKLE.Unpickler = _InertUnpickler
_INERT_PICKLE.load = lambda file, **kwargs: _InertUnpickler(file, **kwargs).load()
_INERT_PICKLE.__name__ = "inert_pickle"


def load_state_dict(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """``(state_dict, other top-level entries)`` of a deepspeech.pytorch checkpoint.

    Plain state dicts and V2 ``.pth`` files load with ``torch.load(weights_only=True)``; a
    Lightning ``.ckpt`` (whose hyper-parameters are pickled Hydra configs and enums of
    deepspeech_pytorch) is read with every object other than tensors and plain containers
    replaced by an inert placeholder (:class:`_Inert`), so no pickled code runs. A
    ``module.`` prefix (a DataParallel model) is removed; metric states are dropped.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is unreadable or holds no state dict of tensors.
    """
    path = local_weights(path, NAME, EXPECTED)
    if not path.is_file():
        raise ValueError(f"{NAME}: {path} is a directory; expected {EXPECTED}")
    try:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:  # objects beyond tensors and containers: read them inert
            obj = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_INERT_PICKLE)
    except Exception as exc:  # noqa: BLE001  (any unreadable file: one message)
        raise ValueError(f"{NAME}: could not read {path} ({type(exc).__name__}: {exc}); expected {EXPECTED}") from exc
    meta: dict = {}
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        meta = {k: v for k, v in obj.items() if k != "state_dict"}
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{NAME}: {path} holds no state dict of tensors (a mapping, or one under 'state_dict'); "
                         f"expected {EXPECTED}")  # fmt: skip
    state = {str(k): v for k, v in obj.items()}
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    dropped = [k for k in state if k.startswith(_NOT_NETWORK)]
    if dropped:
        log.info("%s: ignoring %d entries of %s that are no part of the network (%s)", NAME, len(dropped), path,
                 first_items(dropped, 3))  # fmt: skip
    return {k: v for k, v in state.items() if k not in dropped}, meta

"""SpeechBrain's MetricGAN+ (speech enhancement, 16 kHz) and SepFormer (speech separation,
8 kHz), read out layer by layer, from a LOCAL SpeechBrain model folder.

The folder is what ``speechbrain.inference.<...>.from_hparams(source=..., savedir=...)``
leaves on a machine with internet: ``hyperparams.yaml`` and one ``<module>.ckpt`` per module
(``enhance_model.ckpt``; ``encoder.ckpt``, ``masknet.ckpt``, ``decoder.ckpt``), possibly as
symbolic links into the Hugging Face cache. Get it once, e.g.::

    from speechbrain.inference.enhancement import SpectralMaskEnhancement
    from speechbrain.inference.separation import SepformerSeparation
    SpectralMaskEnhancement.from_hparams(source="speechbrain/metricgan-plus-voicebank", savedir="metricgan")
    SepformerSeparation.from_hparams(source="speechbrain/sepformer-wsj02mix", savedir="sepformer")

Nothing is fetched here: the modules are built from ``hyperparams.yaml`` with hyperpyyaml (as
SpeechBrain builds them; the file runs the constructors it names, so use trusted files only) and
each ``<module>.ckpt`` is loaded STRICTLY, after SpeechBrain's own key renames for old
checkpoints (SpeechBrain's loader would skip missing or unexpected keys with a warning; here
they are an error naming them). ``path=None`` builds the released architecture
(:data:`METRICGAN_HPARAMS`, :data:`SEPFORMER_HPARAMS`) with RANDOM weights, named untrained.
``overrides`` are hyperpyyaml overrides of the file's top-level keys. The input rate is the
file's ``sample_rate`` (16 kHz / 8 kHz for the released models).

MetricGAN+ (:class:`MetricGANPlus`; ``EnhancementGenerator``): the log1p magnitude spectrogram
(the file's ``compute_stft`` and ``spectral_magnitude``: 32-ms Hamming window, 16-ms hop, 257
bins), 2 bidirectional LSTM layers (200 units each way), Linear(400, 300) + LeakyReLU(0.3),
Linear(300, 257) + learnable sigmoid: the enhancement mask. Layers, each ``[batch, frames,
features]`` averaged over time: ``LSTM_1``, ``LSTM_2`` (each BLSTM layer's output sequence, 400
= both directions; layer 1 is computed from the stacked LSTM's own layer-0 weights), ``Linear_1``
(300, after the LeakyReLU) and ``Linear_2`` (257, the mask). ``forward`` gives the mask.

SepFormer (:class:`SepFormer`; ``Encoder`` + ``Dual_Path_Model`` + ``Decoder``): Conv1d encoder
(256 filters of 16 samples, hop 8, ReLU), a masking network of ``num_layers`` (2) dual-path
blocks, each an intra-chunk then an inter-chunk transformer (8 layers each, chunks of 250
frames overlapping by half), and a transposed-conv decoder per speaker. Layers, each
``[batch, (speakers,) 256, frames]`` averaged over time (the last axis): ``Encoder`` (the
encoder output), ``MaskNet_<i>_intra`` and ``MaskNet_<i>_inter`` (block i's representation
after its intra-chunk transformer (with its norm and skip) and after its inter-chunk
transformer (the block output), folded back from chunks to frames by overlap-add; every frame
lies in two chunks, so the two copies are averaged), ``Masks`` (the masks, one per speaker)
and ``Decoder`` (the decoder's input: each speaker's masked encoding; its output is a waveform).
``forward`` gives the separated sources ``[batch, samples, speakers]`` (``separate_batch``).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from models.reductions import Reduction, time_mean
from models.zoo.origin import local_weights, random_origin, state_mismatch, weights_origin

try:
    from hyperpyyaml import load_hyperpyyaml
    from speechbrain.lobes.models.dual_path import Decoder, Dual_Path_Model, Encoder
    from speechbrain.lobes.models.MetricGAN import EnhancementGenerator
    from speechbrain.utils.checkpoints import hook_on_loading_state_dict_checkpoint
except ImportError as exc:  # pragma: no cover  (the zoo extra installs it)
    raise ImportError(
        "models.zoo.speechbrain needs SpeechBrain: pip install 'speechbrain>=1.0' (it adds hyperpyyaml, ruamel.yaml "
        "and sentencepiece; keep your torch), or pip install 'auditory-dnn[zoo]'"
    ) from exc

__all__ = ["METRICGAN_HPARAMS", "SEPFORMER_HPARAMS", "MetricGANPlus", "SepFormer", "load_module"]

log = logging.getLogger(__name__)

FOLDER = ("a SpeechBrain model folder (hyperparams.yaml and one <module>.ckpt per module, as "
          "from_hparams(source=..., savedir=...) leaves it)")  # fmt: skip

# speechbrain/metricgan-plus-voicebank's hyperparams.yaml (the architecture of the released model).
METRICGAN_HPARAMS = """\
sample_rate: 16000
win_length: 32    # ms
hop_length: 16    # ms
n_fft: 512
window_fn: !name:torch.hamming_window

compute_stft: !new:speechbrain.processing.features.STFT
    sample_rate: !ref <sample_rate>
    win_length: !ref <win_length>
    hop_length: !ref <hop_length>
    n_fft: !ref <n_fft>
    window_fn: !ref <window_fn>
compute_istft: !new:speechbrain.processing.features.ISTFT
    sample_rate: !ref <sample_rate>
    win_length: !ref <win_length>
    hop_length: !ref <hop_length>
    window_fn: !ref <window_fn>
spectral_magnitude: !name:speechbrain.processing.features.spectral_magnitude
    power: 0.5
resynth: !name:speechbrain.processing.signal_processing.resynthesize
    stft: !ref <compute_stft>
    istft: !ref <compute_istft>

enhance_model: !new:speechbrain.lobes.models.MetricGAN.EnhancementGenerator

modules:
    enhance_model: !ref <enhance_model>
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        enhance_model: !ref <enhance_model>
"""

# speechbrain/sepformer-wsj02mix's hyperparams.yaml, its sizes as top-level keys (overridable).
SEPFORMER_HPARAMS = """\
sample_rate: 8000
num_spks: 2
N_encoder_out: 256
out_channels: 256
kernel_size: 16
kernel_stride: 8
transformer_layers: 8
nhead: 8
d_ffn: 1024
masknet_layers: 2
chunk_size: 250

Encoder: !new:speechbrain.lobes.models.dual_path.Encoder
    kernel_size: !ref <kernel_size>
    out_channels: !ref <N_encoder_out>
SBtfintra: !new:speechbrain.lobes.models.dual_path.SBTransformerBlock
    num_layers: !ref <transformer_layers>
    d_model: !ref <out_channels>
    nhead: !ref <nhead>
    d_ffn: !ref <d_ffn>
    dropout: 0
    use_positional_encoding: True
    norm_before: True
SBtfinter: !new:speechbrain.lobes.models.dual_path.SBTransformerBlock
    num_layers: !ref <transformer_layers>
    d_model: !ref <out_channels>
    nhead: !ref <nhead>
    d_ffn: !ref <d_ffn>
    dropout: 0
    use_positional_encoding: True
    norm_before: True
MaskNet: !new:speechbrain.lobes.models.dual_path.Dual_Path_Model
    num_spks: !ref <num_spks>
    in_channels: !ref <N_encoder_out>
    out_channels: !ref <out_channels>
    num_layers: !ref <masknet_layers>
    K: !ref <chunk_size>
    intra_model: !ref <SBtfintra>
    inter_model: !ref <SBtfinter>
    norm: ln
    linear_layer_after_inter_intra: False
    skip_around_intra: True
Decoder: !new:speechbrain.lobes.models.dual_path.Decoder
    in_channels: !ref <N_encoder_out>
    out_channels: 1
    kernel_size: !ref <kernel_size>
    stride: !ref <kernel_stride>
    bias: False

modules:
    encoder: !ref <Encoder>
    decoder: !ref <Decoder>
    masknet: !ref <MaskNet>
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        encoder: !ref <Encoder>
        masknet: !ref <MaskNet>
        decoder: !ref <Decoder>
"""


def load_module(module: nn.Module, file: Path, model: str) -> None:
    """Load ``file`` (a SpeechBrain ``<module>.ckpt``: ``torch.save(module.state_dict())``)
    into ``module`` strictly, after SpeechBrain's key renames for old checkpoints.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unreadable, not a state dict, or keys / shapes that do not match (named).
    """
    if not file.is_file():
        raise FileNotFoundError(f"{model}: {file.name} not found in {file.parent}; expected {FOLDER} (nothing is "
                                "downloaded)")  # fmt: skip
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001  (any unreadable file: one message)
        raise ValueError(f"{model}: could not read {file} ({type(exc).__name__}: {exc})") from exc
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{model}: {file} holds no state dict (a mapping of names to tensors)")
    state = hook_on_loading_state_dict_checkpoint(dict(state))
    mismatch = state_mismatch(state, module.state_dict())
    if mismatch:
        raise ValueError(f"{model}: {file} does not fit the {type(module).__name__} its hyperparams.yaml builds: "
                         f"{mismatch}")  # fmt: skip
    module.load_state_dict(state, strict=True)


class _SpeechBrainModel(nn.Module):
    """Builds the modules of a SpeechBrain hyperparams file and loads their checkpoints."""

    NAME = ""
    DEFAULT_HPARAMS = ""
    MODULES: dict[str, type] = {}  # key of `modules:` -> the class it must be
    HPARAMS_NEEDED: tuple[str, ...] = ()

    def _build(self, path: str | Path | None, hparams_file: str, overrides: Mapping | None) -> tuple[dict, dict]:
        """``(hparams, modules)``, with the checkpoints loaded; sets identifier and provenance."""
        folder = None
        if path is None:
            text, where = self.DEFAULT_HPARAMS, f"models.zoo.speechbrain's {self.NAME} hyperparameters"
        else:
            folder = local_weights(path, self.NAME, FOLDER)
            if not folder.is_dir():
                raise ValueError(f"{self.NAME}: {folder} is a file; expected {FOLDER}")
            file = folder / hparams_file
            if not file.is_file():
                raise FileNotFoundError(f"{self.NAME}: {hparams_file} not found in {folder}; expected {FOLDER}")
            text, where = file.read_text(encoding="utf-8"), str(file)
        try:
            hparams = load_hyperpyyaml(text, dict(overrides or {}))
        except Exception as exc:  # noqa: BLE001  (a malformed file or override: name it)
            raise ValueError(f"{self.NAME}: could not build {where} ({type(exc).__name__}: {exc})") from exc
        modules = hparams.get("modules") if isinstance(hparams, Mapping) else None
        if not isinstance(modules, Mapping):
            raise ValueError(f"{self.NAME}: {where} has no `modules:` mapping")
        wrong = [f"{k} (got {type(modules.get(k)).__name__}, expected {cls.__name__})"
                 for k, cls in self.MODULES.items() if not isinstance(modules.get(k), cls)]  # fmt: skip
        absent = [k for k in self.HPARAMS_NEEDED if k not in hparams]
        if wrong or absent:
            raise ValueError(f"{self.NAME}: {where} is not a {self.NAME} model: "
                             + "; ".join(p for p in (f"modules {', '.join(wrong)}" if wrong else "",
                                                      f"no {', '.join(absent)}" if absent else "") if p))  # fmt: skip
        if folder is None:
            self.identifier, self.provenance = random_origin(self.NAME)
        else:
            loadables = getattr(hparams.get("pretrainer"), "loadables", None) or {}
            for key in self.MODULES:  # the file name the pretrainer gives it (<loadable name>.ckpt)
                name = next((n for n, obj in loadables.items() if obj is modules[key]), key)
                load_module(modules[key], folder / f"{name}.ckpt", self.NAME)
            self.identifier, self.provenance = weights_origin(self.NAME, folder)
        self.provenance["architecture"] = f"SpeechBrain {self.NAME} from {where}"
        self.sample_rate = int(hparams.get("sample_rate", self.sample_rate))
        return hparams, dict(modules)


def lstm_layer_outputs(lstm: nn.LSTM, x: torch.Tensor) -> list[torch.Tensor]:
    """Each layer's output sequence of a stacked (batch-first) ``nn.LSTM``, computed layer by
    layer with its own weights (the last equals ``lstm(x)[0]``; eval mode: no dropout)."""
    directions = ("", "_reverse") if lstm.bidirectional else ("",)
    outputs = []
    with warnings.catch_warnings():  # cuDNN: the single layer's weights are views of the stack's
        warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous")
        for k in range(lstm.num_layers):
            layer = nn.LSTM(x.shape[-1], lstm.hidden_size, 1, bias=lstm.bias, batch_first=lstm.batch_first,
                            bidirectional=lstm.bidirectional, device="meta")  # fmt: skip
            for suffix in directions:
                for weight in ("weight_ih", "weight_hh", *(("bias_ih", "bias_hh") if lstm.bias else ())):
                    setattr(layer, f"{weight}_l0{suffix}", getattr(lstm, f"{weight}_l{k}{suffix}"))
            x, _ = layer(x)
            outputs.append(x)
    return outputs


class MetricGANPlus(_SpeechBrainModel):
    """SpeechBrain's MetricGAN+ enhancement generator (module docstring), an
    :class:`models.contract.ActivationModel`.

    Args:
        path: a local SpeechBrain model folder (``hyperparams.yaml`` + ``enhance_model.ckpt``);
            None = the released architecture with random weights.
        hparams_file: the hyperparameters file's name in ``path``.
        overrides: hyperpyyaml overrides of its top-level keys.
    """

    NAME = "MetricGANPlus"
    DEFAULT_HPARAMS = METRICGAN_HPARAMS
    MODULES = {"enhance_model": EnhancementGenerator}
    HPARAMS_NEEDED = ("compute_stft", "spectral_magnitude")
    sample_rate = 16000

    def __init__(self, path: str | Path | None = None, hparams_file: str = "hyperparams.yaml",
                 overrides: Mapping | None = None):  # fmt: skip
        super().__init__()
        hparams, modules = self._build(path, hparams_file, overrides)
        self.compute_stft = hparams["compute_stft"]
        self.spectral_magnitude = hparams["spectral_magnitude"]
        self.enhance_model = modules["enhance_model"]
        n = self.enhance_model.blstm.rnn.num_layers
        self.LAYER_REDUCTIONS: dict[str, Reduction] = {
            **{f"LSTM_{i}": time_mean(axis=1) for i in range(1, n + 1)},
            "Linear_1": time_mean(axis=1),
            "Linear_2": time_mean(axis=1),
        }

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        """``[batch, samples]`` -> the log1p spectral magnitudes ``[batch, frames, bins]`` it masks
        (``SpectralMaskEnhancement.compute_features``)."""
        return torch.log1p(self.spectral_magnitude(self.compute_stft(waveform)))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """``[batch, samples]`` -> the enhancement mask ``[batch, frames, bins]``."""
        return self.activations(waveform)["Linear_2"]

    def activations(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        """``[batch, samples]`` at ``sample_rate`` -> ``{layer: [batch, frames, features]}``."""
        if waveform.ndim != 2:
            raise ValueError(f"{self.NAME} takes waveforms [batch, samples], got shape {list(waveform.shape)}")
        gen = self.enhance_model
        layers = lstm_layer_outputs(gen.blstm.rnn, self.features(waveform))
        out = {f"LSTM_{i}": h for i, h in enumerate(layers, start=1)}
        out["Linear_1"] = gen.activation(gen.linear1(layers[-1]))
        out["Linear_2"] = gen.Learnable_sigmoid(gen.linear2(out["Linear_1"]))
        return out


class SepFormer(_SpeechBrainModel):
    """SpeechBrain's SepFormer (module docstring), an :class:`models.contract.ActivationModel`.

    Args:
        path: a local SpeechBrain model folder (``hyperparams.yaml`` + ``encoder.ckpt``,
            ``masknet.ckpt``, ``decoder.ckpt``); None = the released wsj02mix architecture
            with random weights.
        hparams_file: the hyperparameters file's name in ``path``.
        overrides: hyperpyyaml overrides of its top-level keys.
    """

    NAME = "SepFormer"
    DEFAULT_HPARAMS = SEPFORMER_HPARAMS
    MODULES = {"encoder": Encoder, "masknet": Dual_Path_Model, "decoder": Decoder}
    sample_rate = 8000

    def __init__(self, path: str | Path | None = None, hparams_file: str = "hyperparams.yaml",
                 overrides: Mapping | None = None):  # fmt: skip
        super().__init__()
        hparams, modules = self._build(path, hparams_file, overrides)
        self.encoder, self.masknet, self.decoder = modules["encoder"], modules["masknet"], modules["decoder"]
        self.num_spks = int(hparams.get("num_spks", self.masknet.num_spks))
        if self.num_spks != self.masknet.num_spks:
            raise ValueError(f"{self.NAME}: num_spks {self.num_spks} differs from the masknet's "
                             f"{self.masknet.num_spks}")  # fmt: skip
        n_blocks = len(self.masknet.dual_mdl)
        blocks = [f"MaskNet_{i}_{stage}" for i in range(1, n_blocks + 1) for stage in ("intra", "inter")]
        self.LAYER_REDUCTIONS: dict[str, Reduction] = {
            "Encoder": time_mean(axis=2),
            **{name: time_mean(axis=2) for name in blocks},
            "Masks": time_mean(axis=3),
            "Decoder": time_mean(axis=3),
        }

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """``[batch, samples]`` -> the separated sources ``[batch, samples, speakers]``
        (``SepformerSeparation.separate_batch``)."""
        decoder_input = self.activations(waveform)["Decoder"]
        sources = torch.stack([self.decoder(decoder_input[:, i]) for i in range(self.num_spks)], dim=-1)
        sources = sources.reshape(waveform.shape[0], -1, self.num_spks)
        if sources.shape[1] < waveform.shape[1]:
            return nn.functional.pad(sources, (0, 0, 0, waveform.shape[1] - sources.shape[1]))
        return sources[:, : waveform.shape[1]]

    def activations(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        """``[batch, samples]`` at ``sample_rate`` -> ``{layer: tensor}`` (module docstring):
        ``Dual_Path_Model.forward`` step by step, with its blocks' states folded back to frames."""
        if waveform.ndim != 2:
            raise ValueError(f"{self.NAME} takes waveforms [batch, samples], got shape {list(waveform.shape)}")
        m = self.masknet
        encoded = self.encoder(waveform)  # [batch, N, frames]
        out = {"Encoder": encoded}
        x = m.conv1d(m.norm(encoded))
        if m.use_global_pos_enc:
            x = m.pos_enc(x.transpose(1, -1)).transpose(1, -1) + x * (x.size(1) ** 0.5)
        x, gap = m._Segmentation(x, m.K)  # [batch, N, K, chunks]
        for i, block in enumerate(m.dual_mdl, start=1):
            intra, x = _dual_block(block, x)
            out[f"MaskNet_{i}_intra"] = m._over_add(intra, gap) / 2  # each frame lies in two chunks
            out[f"MaskNet_{i}_inter"] = m._over_add(x, gap) / 2
        x = m.conv2d(m.prelu(x))
        b, _, k, s = x.shape
        x = m._over_add(x.reshape(b * m.num_spks, -1, k, s), gap)
        x = m.end_conv1x1(m.output(x) * m.output_gate(x))
        masks = m.activation(x.reshape(b, m.num_spks, x.shape[1], x.shape[2]))  # [batch, speakers, N, frames]
        out["Masks"] = masks
        out["Decoder"] = encoded.unsqueeze(1) * masks
        return out


def _dual_block(block: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``Dual_Computation_Block.forward`` on ``x`` ``[batch, N, K, chunks]`` -> ``(the state after
    the intra-chunk stage, the block output)``, both ``[batch, N, K, chunks]``."""
    b, n, k, s = x.shape
    intra = block.intra_mdl(x.permute(0, 3, 2, 1).contiguous().view(b * s, k, n))
    if block.linear_layer_after_inter_intra:
        intra = block.intra_linear(intra)
    intra = intra.view(b, s, k, n).permute(0, 3, 2, 1).contiguous()
    if block.norm is not None:
        intra = block.intra_norm(intra)
    if block.skip_around_intra:
        intra = intra + x
    inter = block.inter_mdl(intra.permute(0, 2, 3, 1).contiguous().view(b * k, s, n))
    if block.linear_layer_after_inter_intra:
        inter = block.inter_linear(inter)
    inter = inter.view(b, k, s, n).permute(0, 3, 1, 2).contiguous()
    if block.norm is not None:
        inter = block.inter_norm(inter)
    return intra, inter + intra

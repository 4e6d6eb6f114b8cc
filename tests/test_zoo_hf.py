"""The Hugging Face adapters of the zoo (models/zoo/hf.py): each built from a tiny random
transformers model saved with ``save_pretrained`` and loaded back from that local directory,
with the paper's layer names, the declared reductions checked against transformers' own
``output_hidden_states``, the weights' origin, the errors, scoring and the Hydra configs."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
import transformers as tf
from hydra.utils import get_object, instantiate

import models.zoo.hf as hf
from evaluate import Benchmark, extract_activations, reference_splits, score_model
from evaluate.app import build_model
from models.contract import returned_layers, scored_layers
from models.reductions import AS_IS
from models.zoo.origin import path_digest
from tests.helpers.configs import compose_config

# Small transformer stacks: 2 layers of width 32 (everything else is the architectures' own).
TRANSFORMER = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37)
# A 3-layer feature encoder of stride 80 (5 ms at 16 kHz; the real one is 20 ms) and a small positional conv.
CONV = dict(conv_dim=(16, 16, 16), conv_stride=(5, 4, 4), conv_kernel=(10, 4, 4), num_conv_pos_embedding_groups=4)
FRAMES_2S = 399  # frames of the tiny feature encoder for 2 s at 16 kHz

FAMILY = {  # adapter -> (config class, model class saved, config fields)
    "wav2vec2": (hf.HFWav2Vec2, tf.Wav2Vec2Config, tf.Wav2Vec2ForCTC,
                 {**TRANSFORMER, **CONV, "num_conv_pos_embeddings": 16, "vocab_size": 12}),
    "hubert": (hf.HFHubert, tf.HubertConfig, tf.HubertModel, {**TRANSFORMER, **CONV, "num_conv_pos_embeddings": 16}),
    "wavlm": (hf.HFWavLM, tf.WavLMConfig, tf.WavLMForCTC,
              {**TRANSFORMER, **CONV, "num_conv_pos_embeddings": 16, "num_buckets": 16, "vocab_size": 12}),
    "data2vec_audio": (hf.HFData2VecAudio, tf.Data2VecAudioConfig, tf.Data2VecAudioForCTC,
                       {**TRANSFORMER, **CONV, "num_conv_pos_embeddings": 2, "conv_pos_kernel_size": 5,
                        "vocab_size": 12}),
}  # fmt: skip


def clips(n: int = 3, seconds: float = 2.0, rate: int = 16000, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal((n, int(rate * seconds)))).astype(np.float32)


def extract(model, wav) -> dict[str, np.ndarray]:
    return extract_activations(model, wav, batch_size=2, cache=False, progress=False)


def saved(tmp_path_factory, name: str, model: tf.PreTrainedModel, extractor=None):
    """``model`` (and a feature extractor) saved to a fresh directory ``name``, as a user
    would save a downloaded checkpoint."""
    directory = tmp_path_factory.mktemp("models") / name
    model.save_pretrained(directory)
    if extractor is not None:
        extractor.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def family_dirs(tmp_path_factory):
    torch.manual_seed(0)
    return {key: saved(tmp_path_factory, f"tiny-{key}", model_cls(config_cls(**fields)))
            for key, (_, config_cls, model_cls, fields) in FAMILY.items()}  # fmt: skip


def assert_loaded_from(model, directory):
    digest = path_digest(directory)
    assert model.identifier == f"{type(model).__name__}@{directory.name}-{digest[:12]}"
    assert "untrained" not in model.identifier
    assert model.provenance["sha256"] == digest and model.provenance["path"] == str(directory.resolve())
    assert model.path == str(directory.resolve())


def hidden_means(hidden_states, indices) -> list[np.ndarray]:
    return [hidden_states[i].mean(1).numpy() for i in indices]


# ------------------------------------------------------------------ wav2vec2, HuBERT, WavLM, data2vec-audio
@pytest.mark.parametrize("key", list(FAMILY))
def test_wav2vec2_family_layers_shapes_origin_and_reduction(key, family_dirs):
    adapter, _, model_cls, fields = FAMILY[key]
    directory = family_dirs[key]
    model = adapter(path=directory)
    ctc = model_cls.__name__.endswith("ForCTC")
    layers = ["Embedding", "Encoder_1", "Encoder_2"] + (["Final"] if ctc else [])
    assert list(model.LAYER_REDUCTIONS) == scored_layers(model) == layers  # the paper's names, Final with a CTC head
    assert all(r.kind == "mean" and r.axis == 1 and r.over == "time" for r in returned_layers(model).values())
    assert model.sample_rate == 16000 and not model.training and model.normalize  # normalised by default
    assert type(model.network) is model_cls  # the class the directory's config names (CTC or bare)
    assert_loaded_from(model, directory)

    wav = clips()
    acts = extract(model, wav)
    assert {k: v.shape for k, v in acts.items()} == {
        **{name: (3, 32) for name in layers if name != "Final"}, **({"Final": (3, 12)} if ctc else {})
    }
    # The declared time mean, against transformers' own hidden states of the normalised clips.
    x = torch.from_numpy(wav)
    x = (x - x.mean(1, keepdim=True)) / torch.sqrt(x.var(1, keepdim=True, unbiased=False) + 1e-7)
    with torch.no_grad():
        out = model.network(input_values=x, output_hidden_states=True)
    assert out.hidden_states[1].shape == (3, FRAMES_2S, 32)
    for layer, expected in zip(["Embedding", "Encoder_1", "Encoder_2"], hidden_means(out.hidden_states, [0, 1, 2])):
        np.testing.assert_allclose(acts[layer], expected, rtol=1e-4, atol=1e-5, err_msg=layer)
    if ctc:
        np.testing.assert_allclose(acts["Final"], out.logits.mean(1).numpy(), rtol=1e-4, atol=1e-5)


def test_wav2vec2_embedding_is_the_transformer_input_after_positional_conv_and_layer_norm(family_dirs):
    model = hf.HFWav2Vec2(path=family_dirs["wav2vec2"])
    wav = torch.from_numpy(clips(2))
    got = model.activations(wav)
    assert got["Embedding"].shape == (2, FRAMES_2S, 32)
    net = model.network.wav2vec2
    with torch.no_grad():  # Wav2Vec2Model.forward by hand, up to the first transformer layer
        features = net.feature_extractor(hf.zero_mean_unit_var(wav)).transpose(1, 2)
        projected, _ = net.feature_projection(features)
        summed = projected + net.encoder.pos_conv_embed(projected)
        normed = net.encoder.layer_norm(summed)
    torch.testing.assert_close(got["Embedding"], normed, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(got["Embedding"], summed, atol=1e-3)  # after the layer norm, not before
    assert not torch.allclose(got["Embedding"], projected, atol=1e-3)  # after the positional convolution


def fed_to_the_network(model, wav: torch.Tensor) -> torch.Tensor:
    """The waveform the adapter's network receives (its convolutional feature encoder's input)."""
    seen = []
    handle = model.network.base_model.feature_extractor.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    try:
        model.activations(wav)
    finally:
        handle.remove()
    return seen[0]


def test_normalisation_follows_the_paper_or_the_directory(family_dirs, tmp_path):
    wav = 0.3 + torch.from_numpy(clips(2))  # an offset and RMS 0.1: far from zero mean / unit variance
    w2v = hf.HFWav2Vec2(path=family_dirs["wav2vec2"])
    fed = fed_to_the_network(w2v, wav)
    torch.testing.assert_close(fed.mean(1), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(fed.std(1, unbiased=False), torch.ones(2), atol=1e-4, rtol=0)
    raw = hf.HFWav2Vec2(path=family_dirs["wav2vec2"], normalize=False)
    assert not raw.normalize and torch.equal(fed_to_the_network(raw, wav), wav)

    # HuBERT: the directory's feature extractor decides (do_normalize), else on.
    directory = tmp_path / "hubert-with-extractor"
    directory.mkdir()
    for f in family_dirs["hubert"].iterdir():
        (directory / f.name).write_bytes(f.read_bytes())
    assert hf.HFHubert(path=directory).normalize
    tf.Wav2Vec2FeatureExtractor(do_normalize=False).save_pretrained(directory)
    assert not hf.HFHubert(path=directory).normalize
    assert hf.HFHubert(path=directory, normalize=True).normalize


# ------------------------------------------------------------------ Whisper
@pytest.fixture(scope="module")
def whisper_dir(tmp_path_factory):
    torch.manual_seed(1)
    config = tf.WhisperConfig(d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=37,
                              decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=37, vocab_size=60,
                              max_target_positions=16, pad_token_id=1, bos_token_id=2, eos_token_id=2,
                              decoder_start_token_id=3, architectures=["WhisperForConditionalGeneration"])  # fmt: skip
    return saved(tmp_path_factory, "tiny-whisper", tf.WhisperForConditionalGeneration(config))


def test_whisper_encoder_averages_only_over_the_clip_not_the_30s_padding(whisper_dir):
    model = hf.HFWhisper(path=whisper_dir)
    assert list(model.LAYER_REDUCTIONS) == ["Embedding", "Encoder_1", "Encoder_2"] and model.sample_rate == 16000
    assert isinstance(model.network, tf.models.whisper.modeling_whisper.WhisperEncoder)  # the decoder is not kept
    assert_loaded_from(model, whisper_dir)
    wav = clips()
    got = model.activations(torch.from_numpy(wav))
    assert {k: tuple(v.shape) for k, v in got.items()} == {k: (3, 100, 32) for k in got}  # 2 s = 100 of 1500 frames
    acts = extract(model, wav)
    features = tf.WhisperFeatureExtractor()(wav, sampling_rate=16000, return_tensors="pt")["input_features"]
    with torch.no_grad():
        out = model.network(input_features=features, output_hidden_states=True)
    assert out.hidden_states[0].shape == (3, 1500, 32)
    for layer, i in [("Embedding", 0), ("Encoder_1", 1)]:
        np.testing.assert_allclose(acts[layer], out.hidden_states[i][:, :100].mean(1).numpy(), rtol=1e-4, atol=1e-5)
        assert not np.allclose(acts[layer], out.hidden_states[i].mean(1).numpy(), atol=1e-3)  # not over the padding
    with torch.no_grad():  # Embedding: the convolutions' output plus the positional embedding
        conv = torch.nn.functional.gelu(model.network.conv2(torch.nn.functional.gelu(model.network.conv1(features))))
        emb = conv.transpose(1, 2) + model.network.embed_positions.weight
    np.testing.assert_allclose(acts["Embedding"], emb[:, :100].mean(1).numpy(), rtol=1e-4, atol=1e-5)
    assert model.clip_frames(16000 * 30) == 1500 and model.clip_frames(100) == 1
    with pytest.raises(ValueError, match=r"HFWhisper: clips of 31\.00 s are longer than Whisper's 30 s window"):
        model.activations(torch.zeros(1, 16000 * 31))


# ------------------------------------------------------------------ AST
@pytest.fixture(scope="module")
def ast_dir(tmp_path_factory):
    torch.manual_seed(2)
    config = tf.ASTConfig(**TRANSFORMER, num_mel_bins=32, max_length=256, num_labels=5,
                          architectures=["ASTForAudioClassification"])  # fmt: skip
    extractor = tf.ASTFeatureExtractor(num_mel_bins=32, max_length=256)
    return saved(tmp_path_factory, "tiny-ast", tf.ASTForAudioClassification(config), extractor)


def test_ast_token_means_and_logits(ast_dir):
    model = hf.HFAST(path=ast_dir)
    assert list(model.LAYER_REDUCTIONS) == ["Embedding", "Encoder_1", "Encoder_2", "Final"]
    assert model.LAYER_REDUCTIONS["Encoder_1"] == hf.TOKEN_MEAN and model.LAYER_REDUCTIONS["Final"] == AS_IS
    assert model.feature_extractor.num_mel_bins == 32 and model.feature_extractor.max_length == 256  # the directory's
    assert_loaded_from(model, ast_dir)
    wav = clips()
    acts = extract(model, wav)
    assert {k: v.shape for k, v in acts.items()} == {"Embedding": (3, 32), "Encoder_1": (3, 32), "Encoder_2": (3, 32),
                                                     "Final": (3, 5)}  # fmt: skip
    values = tf.ASTFeatureExtractor(num_mel_bins=32, max_length=256)(wav, sampling_rate=16000, return_tensors="pt")
    with torch.no_grad():
        out = model.network(input_values=values["input_values"], output_hidden_states=True)
    n_tokens = 2 + ((32 - 16) // 10 + 1) * ((256 - 16) // 10 + 1)  # CLS + distillation + patches
    assert out.hidden_states[0].shape == (3, n_tokens, 32)
    for layer, i in [("Embedding", 0), ("Encoder_1", 1), ("Encoder_2", 2)]:
        np.testing.assert_allclose(acts[layer], out.hidden_states[i].mean(1).numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(acts["Final"], out.logits.numpy(), rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ Speech2Text
@pytest.fixture(scope="module")
def s2t_dir(tmp_path_factory):
    torch.manual_seed(3)
    config = tf.Speech2TextConfig(d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=37,
                                  decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=37, vocab_size=60,
                                  conv_channels=32, max_source_positions=300, max_target_positions=16,
                                  architectures=["Speech2TextForConditionalGeneration"])  # fmt: skip
    return saved(tmp_path_factory, "tiny-s2t", tf.Speech2TextForConditionalGeneration(config))


def test_speech2text_encoder_layers(s2t_dir):
    model = hf.HFSpeech2Text(path=s2t_dir)
    assert list(model.LAYER_REDUCTIONS) == ["Embedding", "Encoder_1", "Encoder_2"] and model.sample_rate == 16000
    assert_loaded_from(model, s2t_dir)
    wav = clips()
    got = model.activations(torch.from_numpy(wav))
    assert got["Encoder_2"].shape == (3, 50, 32)  # 198 filter-bank frames, subsampled 4x
    acts = extract(model, wav)
    features = tf.Speech2TextFeatureExtractor()(wav, sampling_rate=16000, return_tensors="pt")["input_features"]
    with torch.no_grad():
        out = model.network(input_features=features, output_hidden_states=True)
    for layer, i in [("Embedding", 0), ("Encoder_1", 1)]:
        np.testing.assert_allclose(acts[layer], out.hidden_states[i].mean(1).numpy(), rtol=1e-4, atol=1e-5)
    # Encoder_2 is the last layer's own output: transformers' last hidden state has the final LayerNorm on top.
    torch.testing.assert_close(model.network.layer_norm(got["Encoder_2"]), out.last_hidden_state, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ CLAP
@pytest.fixture(scope="module")
def clap_dir(tmp_path_factory):
    torch.manual_seed(4)
    config = tf.ClapConfig(
        text_config=dict(vocab_size=60, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=20, max_position_embeddings=40),
        audio_config=dict(patch_embeds_hidden_size=16, hidden_size=32, depths=[1, 1], num_attention_heads=[2, 2],
                          window_size=8, enable_fusion=False, projection_hidden_size=24),
        projection_dim=16,
    )  # fmt: skip
    return saved(tmp_path_factory, "tiny-clap", tf.ClapModel(config))


def test_clap_audio_stages_and_projection_from_a_full_clap_directory(clap_dir):
    model = hf.HFClap(path=clap_dir)
    assert list(model.LAYER_REDUCTIONS) == ["Stage_1", "Stage_2", "Final"] and model.sample_rate == 48000
    assert isinstance(model.network, tf.ClapAudioModelWithProjection)  # the text tower is not loaded
    assert_loaded_from(model, clap_dir)
    wav = clips(3, rate=48000)
    acts = extract(model, wav)
    assert {k: v.shape for k, v in acts.items()} == {"Stage_1": (3, 16), "Stage_2": (3, 32), "Final": (3, 16)}
    features = tf.ClapFeatureExtractor()(list(wav), sampling_rate=48000, truncation="rand_trunc",
                                         return_tensors="pt")["input_features"]  # fmt: skip
    with torch.no_grad():
        out = model.network(input_features=features, output_hidden_states=True,
                            output_hidden_states_before_downsampling=True)  # fmt: skip
        full = tf.ClapModel.from_pretrained(clap_dir).eval().get_audio_features(input_features=features)
    for layer, i in [("Stage_1", 1), ("Stage_2", 2)]:  # [batch, channels, h, w]: the mean over all tokens
        np.testing.assert_allclose(acts[layer], out.hidden_states[i].mean((2, 3)).numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(acts["Final"], out.audio_embeds.numpy(), rtol=1e-4, atol=1e-5)
    # the same weights as the full ClapModel's audio tower (which L2-normalises its embedding)
    final = torch.from_numpy(acts["Final"])
    torch.testing.assert_close(final / final.norm(dim=1, keepdim=True), full.pooler_output, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ random initialisation
def test_a_random_initialisation_is_called_untrained_and_built_from_the_config():
    torch.manual_seed(5)
    _, _, _, fields = FAMILY["wav2vec2"]
    model = hf.HFWav2Vec2(config={**fields, "num_hidden_layers": 3})
    assert list(model.LAYER_REDUCTIONS) == ["Embedding", "Encoder_1", "Encoder_2", "Encoder_3", "Final"]
    assert model.identifier == f"HFWav2Vec2-untrained-seed{torch.initial_seed()}" and model.path is None
    assert model.provenance["origin"].startswith("random initialisation")
    bare = hf.HFHubert(config={**FAMILY["hubert"][3]})
    assert "Final" not in bare.LAYER_REDUCTIONS and "untrained" in bare.identifier
    assert extract(bare, clips(2, seconds=0.5))["Encoder_2"].shape == (2, 32)
    with pytest.raises(ValueError, match=r"HFWav2Vec2: Wav2Vec2Config has no field\(s\) \['num_layers'\]"):
        hf.HFWav2Vec2(config={"num_layers": 2})
    with pytest.raises(TypeError, match="config must be a Wav2Vec2Config, got a HubertConfig"):
        hf.HFWav2Vec2(config=tf.HubertConfig())


# ------------------------------------------------------------------ errors
def raises_naming(error: type, path, text: str):
    """``pytest.raises(error)`` whose message holds ``path`` (literally) followed by the regex ``text``."""
    return pytest.raises(error, match=re.escape(str(path)) + text)


def test_errors_name_the_path_and_what_was_expected(family_dirs, tmp_path):
    missing = tmp_path / "not-here"
    expected = r"; expected a Hugging Face model directory .*facebook/wav2vec2-base-960h"
    with raises_naming(FileNotFoundError, f"HFWav2Vec2: weights not found at {missing}", expected):
        hf.HFWav2Vec2(path=missing)
    empty = tmp_path / "empty"
    empty.mkdir()
    with raises_naming(FileNotFoundError, f"HFWav2Vec2: {empty}", " has no config.json"):
        hf.HFWav2Vec2(path=empty)
    hubert = family_dirs["hubert"]
    with raises_naming(ValueError, f"HFWav2Vec2: {hubert} holds a model of model_type 'hubert' (its config.json), "
                                   "expected 'wav2vec2'; use HFHubert (model=zoo/hubert) for it", ""):  # fmt: skip
        hf.HFWav2Vec2(path=hubert)
    with pytest.raises(ValueError, match=r"model_type 'wav2vec2'.*expected 'whisper'; use HFWav2Vec2"):
        hf.HFWhisper(path=family_dirs["wav2vec2"])
    no_weights = tmp_path / "config-only"
    no_weights.mkdir()
    (no_weights / "config.json").write_text((family_dirs["wav2vec2"] / "config.json").read_text())
    with raises_naming(FileNotFoundError, no_weights, r" has a config.json but no weights \(model.safetensors"):
        hf.HFWav2Vec2(path=no_weights)
    a_file = family_dirs["wav2vec2"] / "config.json"
    with raises_naming(ValueError, a_file, " is a file; expected a Hugging Face model directory"):
        hf.HFWav2Vec2(path=a_file)
    with pytest.raises(ValueError, match="pass path=<model directory> .* or config=<overrides> .*not both"):
        hf.HFWav2Vec2(path=family_dirs["wav2vec2"], config={"num_hidden_layers": 1})


def test_weights_that_do_not_fit_the_network_are_refused(family_dirs, tmp_path):
    # A CTC config with the bare model's weights: the CTC head would be random.
    directory = tmp_path / "ctc-without-head"
    directory.mkdir()
    config = json.loads((family_dirs["hubert"] / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, "architectures": ["HubertForCTC"]}))
    (directory / "model.safetensors").write_bytes((family_dirs["hubert"] / "model.safetensors").read_bytes())
    lacks = r" lack 2 tensor\(s\) of HubertForCTC \(lm_head.bias, lm_head.weight\); they would be left random"
    with raises_naming(ValueError, f"HFHubert: the weights in {directory}", lacks):
        hf.HFHubert(path=directory)


# ------------------------------------------------------------------ scoring and the Hydra configs
def test_an_adapter_is_scored_end_to_end(family_dirs, tmp_path):
    rng = np.random.default_rng(0)
    bench = Benchmark.from_arrays(
        rng.standard_normal((16, 6, 2)), participant=np.repeat([1, 2], 3), roi=["Primary", "Lateral", "Anterior"] * 2,
        waveforms=(0.1 * rng.standard_normal((16, 2 * 20000))).astype(np.float32), name="tiny",
    )  # fmt: skip
    model = hf.HFWav2Vec2(path=family_dirs["wav2vec2"])
    result = score_model(model, bench, cache_dir=tmp_path, progress=False, rsa=False,
                         splits=reference_splits(16, n_splits=4, seed=0))  # fmt: skip
    assert list(result.layers) == ["Embedding", "Encoder_1", "Encoder_2", "Final"]
    assert np.isfinite(result.per_layer["value"]).all() and result.info["features"]["Final"] == 12
    assert result.model == model.identifier  # named by the local directory and its digest


CONFS = {"wav2vec2": hf.HFWav2Vec2, "hubert": hf.HFHubert, "wavlm": hf.HFWavLM, "data2vec_audio": hf.HFData2VecAudio,
         "whisper": hf.HFWhisper, "ast": hf.HFAST, "s2t": hf.HFSpeech2Text, "clap": hf.HFClap}  # fmt: skip


def test_every_zoo_config_targets_its_adapter_with_path_null():
    for name, cls in CONFS.items():
        cfg = compose_config("evaluate", [f"model=zoo/{name}"])
        assert get_object(cfg.model._target_) is cls and cfg.model.path is None, name
        assert cls.CONF_NAME == name and hf.ADAPTERS[cls.MODEL_TYPES[0]] == (cls.__name__, name)


def test_the_hydra_config_loads_the_local_directory(family_dirs):
    directory = family_dirs["wav2vec2"]
    cfg = compose_config("evaluate", ["model=zoo/wav2vec2", f"model.path={directory}"])
    model = instantiate(cfg.model)
    assert isinstance(model, hf.HFWav2Vec2) and list(model.LAYER_REDUCTIONS)[-1] == "Final"
    assert_loaded_from(model, directory)
    net, ident, info = build_model(cfg, torch.device("cpu"))  # what python -m evaluate builds and records
    assert ident == model.identifier and info["weights"]["sha256"] == path_digest(directory)
    overrides = ["model=zoo/hubert", f"model.path={family_dirs['hubert']}", "model.normalize=false"]
    assert not instantiate(compose_config("evaluate", overrides).model).normalize

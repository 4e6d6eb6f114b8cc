"""Every ``conf/model/zoo/<name>.yaml`` composes in ``python -m evaluate``'s config and builds
its adapter; the evaluate app labels a zoo model by where its weights came from."""

from __future__ import annotations

import inspect

import pytest
import torch
from hydra.utils import get_object
from omegaconf import OmegaConf

from evaluate.app import build_model
from models.contract import returned_layers
from tests.helpers import REPO
from tests.helpers.configs import compose_config

ZOO = sorted(p.stem for p in (REPO / "conf" / "model" / "zoo").glob("*.yaml"))


def test_the_zoo_has_the_papers_models_and_todays():
    assert {"wav2vec2", "hubert", "wavlm", "data2vec_audio", "whisper", "ast", "s2t", "clap", "vggish", "metricgan",
            "sepformer", "deepspeech2", "crepe", "resemblyzer"} <= set(ZOO)  # fmt: skip


@pytest.mark.parametrize("name", ZOO)
def test_every_zoo_config_names_an_adapter_that_takes_its_keys(name):
    cfg = compose_config("evaluate", [f"model=zoo/{name}"])
    model = OmegaConf.to_container(cfg.model)
    target = get_object(model.pop("_target_"))
    params = inspect.signature(target).parameters
    assert set(model) <= set(params), f"conf/model/zoo/{name}.yaml: keys the adapter does not take"
    assert "path" in params  # model.path=<local weights> is the one spelling across the zoo
    assert hasattr(target, "activations")  # the feature-extractor contract


def test_the_app_names_a_wheel_weights_model_by_its_file_and_a_random_copy_by_its_seed():
    cfg = compose_config("evaluate", ["model=zoo/crepe", "seed=3"])
    net, ident, info = build_model(cfg, torch.device("cpu"))
    assert ident.startswith("Crepe-tiny@tiny.pth-") and "untrained" not in ident
    assert info["weights"]["path"].endswith("tiny.pth") and len(info["weights"]["sha256"]) == 64
    assert list(returned_layers(net)) == [*(f"conv{i}" for i in range(1, 7)), "classifier"]
    cfg = compose_config("evaluate", ["model=zoo/crepe", "model.pretrained=false", "seed=3"])
    net, ident, info = build_model(cfg, torch.device("cpu"))
    assert ident == "Crepe-tiny-untrained-seed3" and info["weights"]["origin"] == "random initialisation, torch seed 3"


def test_a_missing_weights_path_is_named(tmp_path):
    cfg = compose_config("evaluate", ["model=zoo/wav2vec2", f"model.path={tmp_path}/nowhere"])
    with pytest.raises(FileNotFoundError, match=r"nowhere"):
        build_model(cfg, torch.device("cpu"))

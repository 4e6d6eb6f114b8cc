"""models.zoo.origin: how every zoo adapter names where its weights came from."""

from __future__ import annotations

import hashlib

import pytest
import torch

from models.zoo.origin import local_weights, path_digest, random_origin, weights_origin


def test_a_file_is_named_by_its_name_and_digest(tmp_path):
    f = tmp_path / "net.pt"
    torch.save({"w": torch.ones(3)}, f)
    ident, prov = weights_origin("Net", f)
    digest = hashlib.sha256(f.read_bytes()).hexdigest()
    assert ident == f"Net@net.pt-{digest[:12]}" and prov["sha256"] == digest and prov["path"] == str(f)
    assert "untrained" not in ident


def test_a_directory_digest_covers_its_weights_and_config_only(tmp_path):
    (tmp_path / "config.json").write_text('{"hidden": 4}')
    (tmp_path / "model.safetensors").write_bytes(b"\x00\x01")
    before = path_digest(tmp_path)
    (tmp_path / "README.md").write_text("notes")  # does not change the network
    assert path_digest(tmp_path) == before
    (tmp_path / "config.json").write_text('{"hidden": 5}')
    assert path_digest(tmp_path) != before


def test_random_weights_are_named_by_the_seed_and_a_missing_path_is_named(tmp_path):
    torch.manual_seed(11)
    ident, prov = random_origin("Net")
    assert ident == "Net-untrained-seed11" and prov["origin"] == "random initialisation, torch seed 11"
    with pytest.raises(FileNotFoundError, match=r"Net: weights not found at .*nope; expected a state dict file"):
        local_weights(tmp_path / "nope", "Net", "a state dict file")
    assert local_weights(tmp_path, "Net", "x") == tmp_path.resolve()

"""save_model -> load_model restores the exact vision module from one safetensors file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from darla.errors import DarlaError
from darla.vision import WEIGHTS_NAME, VisionModel, build_model, load_model, read_config, save_model

SIZE = 32


def make(name: str) -> VisionModel:
    torch.manual_seed(0)
    if name == "darla":
        return build_model("darla", dae=build_model("dae", image_size=SIZE), latent_dim=8)
    return build_model(name, image_size=SIZE)


def frames(n: int = 6) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, SIZE, SIZE, 3), dtype=np.uint8)


@pytest.mark.parametrize("name", ["dae", "darla", "beta_vae", "vae"])
def test_save_load_gives_bit_identical_latent_mean(tmp_path, name: str) -> None:
    model = make(name)
    # Move the weights off their initialisation so a silent re-init could not pass.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = save_model(model, tmp_path / "run")
    assert path == tmp_path / "run" / WEIGHTS_NAME
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [WEIGHTS_NAME]  # no temp left
    loaded = load_model(tmp_path / "run")
    assert type(loaded) is type(model) and loaded.config == model.config
    assert not loaded.training
    assert np.array_equal(loaded.latent_mean(frames()), model.latent_mean(frames()))
    x = torch.rand(3, 3, SIZE, SIZE)
    g = torch.Generator
    torch.testing.assert_close(
        loaded.loss(x, generator=g().manual_seed(0))["loss"],
        model.loss(x, generator=g().manual_seed(0))["loss"],
        rtol=0,
        atol=0,
    )


def test_darla_file_holds_its_dae(tmp_path) -> None:
    model = make("darla")
    with torch.no_grad():
        model.dae.bottleneck.weight.mul_(3.0)  # differs from any fresh DAE
    path = save_model(model, tmp_path / "darla.safetensors")
    assert path == tmp_path / "darla.safetensors"
    loaded = load_model(path)
    for key, value in model.dae.state_dict().items():
        assert torch.equal(loaded.dae.state_dict()[key], value)
    assert all(not p.requires_grad for p in loaded.dae.parameters())
    assert not {id(p) for p in loaded.dae.parameters()} & {id(p) for p in loaded.parameters()}
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
        assert any(k.startswith("frozen_dae.") for k in f.keys())  # noqa: SIM118
    config = json.loads(meta["config"])
    assert config["name"] == "darla" and config["dae"]["name"] == "dae"
    assert read_config(path) == model.config


def test_missing_file_is_a_user_error(tmp_path) -> None:
    with pytest.raises(DarlaError, match=r"no vision model at .*run `darla see` first"):
        load_model(tmp_path / "nowhere")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_file_is_a_user_error(tmp_path, damage: str) -> None:
    path = save_model(make("vae"), tmp_path)
    blob = path.read_bytes()
    data = {"garbage": b"not a model at all", "truncated": blob[: len(blob) // 2], "empty": b""}
    path.write_bytes(data[damage])
    with pytest.raises(DarlaError, match="corrupt, truncated or from another tool") as info:
        load_model(path)
    assert "\n" not in str(info.value)


def test_foreign_safetensors_file_is_a_user_error(tmp_path) -> None:
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, path)
    with pytest.raises(DarlaError, match="not a readable darla vision model"):
        load_model(path)


def test_weights_that_do_not_fit_the_config_are_a_user_error(tmp_path) -> None:
    path = save_model(make("vae"), tmp_path)
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    config = json.loads(meta["config"])
    config["latent_dim"] = 3
    meta["config"] = json.dumps(config)
    save_file(tensors, path, metadata=meta)
    with pytest.raises(DarlaError, match="weights that do not fit its config"):
        load_model(path)


def test_load_to_auto_device(tmp_path) -> None:
    save_model(make("beta_vae"), tmp_path)
    model = load_model(tmp_path, device="auto")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert model.device.type == expected

"""Registry, config round trips, and one-line errors for bad configs and devices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from darla.errors import DarlaError
from darla.vision import (
    VisionModel,
    build_model,
    load_model,
    model_names,
    registry,
    resolve_device,
    save_model,
)


def test_registry_names() -> None:
    assert {"dae", "darla", "beta_vae", "vae"} <= set(model_names())


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(DarlaError, match=r"unknown vision model 'vqvae': use one of .*beta_vae"):
        build_model("vqvae")


@pytest.mark.parametrize(
    ("name", "config", "match"),
    [
        ("beta_vae", {"beta": -1.0}, "beta must be a number >= 0"),
        ("beta_vae", {"beta": float("nan")}, "beta must be a number >= 0"),
        ("beta_vae", {"latent_dim": 0}, "latent_dim must be a positive integer"),
        ("vae", {"latent_dim": -3}, "latent_dim must be a positive integer"),
        ("beta_vae", {"latent_dim": 2.5}, "latent_dim must be a positive integer"),
        ("beta_vae", {"hidden_dim": 0}, "hidden_dim must be a positive integer"),
        ("dae", {"bottleneck_dim": 0}, "bottleneck_dim must be a positive integer"),
        ("beta_vae", {"likelihood": "poisson"}, "unknown likelihood 'poisson'"),
        ("dae", {"likelihood": "laplace"}, "unknown likelihood"),
        ("vae", {"beta": 4.0}, "vae fixes beta=1.0, got 4.0: use beta_vae"),
        ("beta_vae", {"latent_size": 10}, "unknown option.*latent_size.*valid options"),
        ("dae", {"image_size": 50}, "image size 50 not supported"),
    ],
)
def test_bad_config_is_a_user_error(name: str, config: dict, match: str) -> None:
    with pytest.raises(DarlaError, match=match) as info:
        build_model(name, **config)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["dae", "beta_vae", "vae"])
def test_config_rebuilds_the_same_architecture(name: str) -> None:
    model = build_model(name, image_size=32)
    rebuilt = build_model(**model.config)
    assert rebuilt.config == model.config
    assert type(rebuilt) is type(model)


def test_config_is_a_copy() -> None:
    model = build_model("beta_vae", image_size=32)
    model.config["beta"] = 100.0
    assert model.config["beta"] == 4.0


def test_resolve_device(monkeypatch) -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(DarlaError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(DarlaError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


class TinyModel(VisionModel):
    """A user's own model: the smallest VisionModel, to check the registry is an extension point."""

    def __init__(self, latent_dim: int = 2) -> None:
        super().__init__()
        self.enc = torch.nn.Linear(3, latent_dim)
        self.dec = torch.nn.Linear(latent_dim, 3)

    @property
    def latent_dim(self) -> int:
        return self.enc.out_features

    def encode(self, x):
        return self.enc(x.mean(dim=(2, 3))), None

    def decode(self, z):
        return torch.sigmoid(self.dec(z))[:, :, None, None].expand(-1, -1, 16, 16)

    def loss(self, batch):
        recon = (self.reconstruct(batch) - batch).pow(2).flatten(1).sum(1).mean()
        return {"loss": recon, "recon": recon}


def test_users_register_their_own_model(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(registry._REGISTRY, "tiny", (TinyModel, {}))
    model = build_model("tiny", latent_dim=3)
    assert model.config == {"name": "tiny", "latent_dim": 3}
    obs = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    loaded = load_model(save_model(model, tmp_path))
    assert np.array_equal(loaded.latent_mean(obs), model.latent_mean(obs))

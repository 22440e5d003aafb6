"""Every vision model honours the VisionModel contract: shapes, ranges, latent_mean, modes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from darla.errors import DarlaError
from darla.vision import (
    FEATURE_LAYERS,
    BetaVAE,
    ConvTrunk,
    DarlaVAE,
    DenoisingAutoencoder,
    VisionModel,
    build_model,
    images_to_tensor,
)

SIZE = 32


def make(name: str) -> VisionModel:
    torch.manual_seed(0)
    if name == "darla":
        return build_model("darla", dae=build_model("dae", image_size=SIZE), latent_dim=8)
    if name == "dae":
        return build_model("dae", image_size=SIZE, bottleneck_dim=12)
    return build_model(name, image_size=SIZE, latent_dim=8)


MODELS = ["dae", "darla", "beta_vae", "vae"]


def frames(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, SIZE, SIZE, 3), dtype=np.uint8)


@pytest.mark.parametrize("name", MODELS)
def test_encode_decode_loss_shapes(name: str) -> None:
    model = make(name)
    x = torch.rand(4, 3, SIZE, SIZE)
    mu, logvar = model.encode(x)
    assert mu.shape == (4, model.latent_dim)
    assert (logvar is None) == (name == "dae")
    if logvar is not None:
        assert logvar.shape == mu.shape
    image = model.decode(mu)
    assert image.shape == x.shape and image.min() >= 0 and image.max() <= 1
    terms = model.loss(x)
    expected = {"loss", "recon"} if name == "dae" else {"loss", "recon", "kl", "kl_per_dim"}
    assert set(terms) == expected
    assert terms["loss"].ndim == 0 and torch.isfinite(terms["loss"])


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("start_training", [True, False])
def test_latent_mean_matches_encode_and_restores_mode(name: str, start_training: bool) -> None:
    model = make(name).train(start_training)
    obs = frames(7)
    z = model.latent_mean(obs, batch_size=3)
    assert z.dtype == np.float32 and z.shape == (7, model.latent_dim)
    assert model.training is start_training
    with torch.no_grad():
        mu, _ = model.eval().encode(images_to_tensor(obs))
    np.testing.assert_allclose(z, mu.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.latent_mean(obs, batch_size=100), z, rtol=1e-5, atol=1e-6)


def test_latent_mean_is_deterministic_and_handles_empty_input() -> None:
    model = make("beta_vae")
    obs = frames(5)
    assert np.array_equal(model.latent_mean(obs), model.latent_mean(obs))
    assert model.latent_mean(obs[:0]).shape == (0, model.latent_dim)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, SIZE, SIZE, 3), np.float32),
        np.zeros((SIZE, SIZE, 3), np.uint8),
        np.zeros((2, 3, SIZE, SIZE), np.uint8),
    ],
)
def test_latent_mean_rejects_wrong_frames(bad: np.ndarray) -> None:
    with pytest.raises(DarlaError, match=r"uint8 frames \[N, H, W, 3\]"):
        make("vae").latent_mean(bad)


def test_images_to_tensor_scales_to_unit_range_chw() -> None:
    obs = np.zeros((1, 16, 16, 3), np.uint8)
    obs[0, 2, 5] = (255, 0, 51)
    x = images_to_tensor(obs)
    assert x.shape == (1, 3, 16, 16) and x.dtype == torch.float32
    assert x[0, :, 2, 5].tolist() == pytest.approx([1.0, 0.0, 0.2])


def test_trunk_maps_64_to_4x4x64() -> None:
    assert ConvTrunk(64)(torch.zeros(2, 3, 64, 64)).shape == (2, 64, 4, 4)


@pytest.mark.parametrize("size", [50, 8, 0, 72])
def test_unsupported_image_size_is_a_user_error(size: int) -> None:
    msg = f"image size {size} not supported: the conv trunk halves it 4 times"
    with pytest.raises(DarlaError, match=msg):
        build_model("beta_vae", image_size=size)


def test_dae_features_at_every_layer() -> None:
    dae = make("dae")
    x = torch.rand(2, 3, SIZE, SIZE)
    shapes = {layer: tuple(dae.features(x, layer).shape) for layer in FEATURE_LAYERS}
    assert shapes == {
        "conv1": (2, 32, 16, 16),
        "conv2": (2, 32, 8, 8),
        "conv3": (2, 64, 4, 4),
        "conv4": (2, 64, 2, 2),
        "bottleneck": (2, 12),
        "output": (2, 3, SIZE, SIZE),
    }
    assert torch.equal(dae.features(x, "bottleneck"), dae.encode(x)[0])
    with pytest.raises(DarlaError, match="unknown DAE layer"):
        dae.features(x, "conv9")


def test_a_model_is_a_config_not_a_copy() -> None:
    vae, beta_vae, darla = make("vae"), make("beta_vae"), make("darla")
    assert type(vae) is type(beta_vae) is BetaVAE
    assert isinstance(darla, BetaVAE) and isinstance(darla, DarlaVAE)
    assert isinstance(darla.dae, DenoisingAutoencoder)
    assert vae.config["beta"] == 1.0 and vae.config["name"] == "vae"
    assert beta_vae.config["beta"] == 4.0
    # Same architecture: the state dicts have identical keys and shapes (DARLA's decoder
    # resizes by default, a config value the pixel models take too).
    shapes = {k: v.shape for k, v in vae.state_dict().items()}
    assert shapes == {k: v.shape for k, v in beta_vae.state_dict().items()}
    resizing = build_model("beta_vae", image_size=SIZE, latent_dim=8, decoder="resize")
    assert {k: v.shape for k, v in resizing.state_dict().items()} == {
        k: v.shape for k, v in darla.state_dict().items()
    }


def test_darla_architecture_matches_the_paper() -> None:
    model = build_model("darla", dae=build_model("dae", image_size=64))
    assert model.latent_dim == 32
    assert model.fc[0].out_features == 256
    assert model.head.out_features == 2 * 32
    assert [m.out_features for m in model.decoder.fc if isinstance(m, torch.nn.Linear)] == [
        256,
        4 * 4 * 64,
    ]

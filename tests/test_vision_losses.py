"""Loss terms agree with their textbook definitions (torch.distributions, plain BCE/MSE)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from darla.vision import (
    build_model,
    feature_reconstruction_loss,
    kl_per_dim,
    pixel_reconstruction_loss,
    reparameterize,
)


def test_kl_per_dim_equals_torch_distributions() -> None:
    torch.manual_seed(0)
    mu = torch.randn(64, 10) * 2
    logvar = torch.randn(64, 10) * 1.5
    expected = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).mean(dim=0)
    torch.testing.assert_close(kl_per_dim(mu, logvar), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["beta_vae", "vae"])
def test_model_kl_term_equals_torch_distributions(name: str) -> None:
    torch.manual_seed(1)
    model = build_model(name, image_size=32, latent_dim=6)
    x = torch.rand(8, 3, 32, 32)
    out = model.loss(x, generator=torch.Generator().manual_seed(0))
    mu, logvar = model.encode(x)
    q = Normal(mu, torch.exp(0.5 * logvar))
    expected = kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(mu)))
    torch.testing.assert_close(out["kl_per_dim"], expected.mean(0), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out["kl"], expected.sum(1).mean(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out["loss"], out["recon"] + model.beta * out["kl"])
    assert out["kl_per_dim"].shape == (6,)


def test_pixel_losses_sum_over_pixels_and_average_over_batch() -> None:
    torch.manual_seed(2)
    output = torch.randn(4, 3, 16, 16)
    target = torch.rand(4, 3, 16, 16)
    bce = F.binary_cross_entropy_with_logits(output, target, reduction="sum") / 4
    se = F.mse_loss(output, target, reduction="sum") / 4
    torch.testing.assert_close(pixel_reconstruction_loss(output, target, "bernoulli"), bce)
    torch.testing.assert_close(pixel_reconstruction_loss(output, target, "gaussian"), se)


def test_feature_loss_is_squared_error_summed_over_features() -> None:
    a, b = torch.randn(5, 2, 3, 3), torch.randn(5, 2, 3, 3)
    torch.testing.assert_close(feature_reconstruction_loss(a, b), ((a - b) ** 2).sum() / 5)


def test_reparameterize_is_reproducible_and_differentiable() -> None:
    mu = torch.zeros(3, 4, requires_grad=True)
    logvar = torch.zeros(3, 4, requires_grad=True)
    z1 = reparameterize(mu, logvar, torch.Generator().manual_seed(7))
    z2 = reparameterize(mu, logvar, torch.Generator().manual_seed(7))
    assert torch.equal(z1, z2)
    z1.sum().backward()
    assert mu.grad is not None and logvar.grad is not None

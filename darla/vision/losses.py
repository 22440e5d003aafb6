"""Loss terms shared by the DAE and the VAE family, as pure tensor functions.

Conventions (those of β-VAE and DARLA): every term is summed over its feature dimensions
(pixels, latents, DAE features) and averaged over the batch, so β has the same meaning whatever
the batch size and so a term's value is "nats (or squared error) per image".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from darla.errors import DarlaError

LIKELIHOODS: tuple[str, ...] = ("bernoulli", "gaussian")


def check_likelihood(likelihood: str) -> str:
    if likelihood not in LIKELIHOODS:
        raise DarlaError(f"unknown likelihood {likelihood!r}: use one of {', '.join(LIKELIHOODS)}")
    return likelihood


def output_to_image(output: torch.Tensor, likelihood: str) -> torch.Tensor:
    """Decoder output -> image in [0, 1]: ``sigmoid`` of Bernoulli logits, clamped Gaussian mean."""
    if likelihood == "bernoulli":
        return torch.sigmoid(output)
    return output.clamp(0.0, 1.0)


def pixel_reconstruction_loss(
    output: torch.Tensor, target: torch.Tensor, likelihood: str
) -> torch.Tensor:
    """Negative log-likelihood of ``target`` in [0, 1] given the raw decoder ``output``.

    ``bernoulli``: ``output`` are logits; BCE with logits (stable for saturated pixels), summed
    over pixels. ``gaussian``: ``output`` is the mean itself; squared error summed over pixels (a
    fixed-variance Gaussian up to a constant). The mean is deliberately not squashed by a
    sigmoid: on mostly dark frames the sigmoid saturates early and squared error then has no
    gradient left to pull the bright pixels back (the model gets stuck on a black image).
    """
    check_likelihood(likelihood)
    if likelihood == "bernoulli":
        per_pixel = F.binary_cross_entropy_with_logits(output, target, reduction="none")
    else:
        per_pixel = (output - target).pow(2)
    return per_pixel.flatten(1).sum(dim=1).mean()


def feature_reconstruction_loss(features_hat: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """DARLA's ‖J(x̂) − J(x)‖²: squared error summed over feature dims, averaged over the batch."""
    return (features_hat - features).pow(2).flatten(1).sum(dim=1).mean()


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per latent, averaged over the batch: shape ``[D]``.

    Reported per dimension because β-VAE's disentangled latents show up as the few with
    non-zero KL; TensorBoard plots it and traversal grids sort rows by it.
    """
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)
    return kl.mean(dim=0)


def reparameterize(
    mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Sample z = mu + sigma * eps with eps ~ N(0, I), differentiable in mu and logvar.

    With a ``generator``, eps is drawn on the generator's device and moved, so a CPU generator
    seeds a CUDA model too.
    """
    device = mu.device if generator is None else generator.device
    eps = torch.randn(mu.shape, generator=generator, device=device, dtype=mu.dtype).to(mu.device)
    return mu + torch.exp(0.5 * logvar) * eps

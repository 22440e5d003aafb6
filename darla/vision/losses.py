"""Loss terms shared by the DAE and the VAE family, as pure tensor functions.

Conventions (those of β-VAE and DARLA): every term is summed over its feature dimensions
(pixels, latents, DAE features) and averaged over the batch, so β has the same meaning whatever
the batch size and so a term's value is "nats (or squared error) per image".
"""

from __future__ import annotations

import math

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


def check_loss_weight(name: str, value: float, example: float) -> float:
    """A loss term's weight (γ, α, a capacity in nats): a number >= 0, else a one-line error."""
    # `not value >= 0` also rejects NaN.
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
        raise DarlaError(f"{name} must be a number >= 0, got {value!r}: use e.g. {example}")
    return float(value)


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Elementwise log N(z; mu, exp(logvar)), broadcasting; not summed over anything."""
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu).pow(2) * torch.exp(-logvar))


TC_ESTIMATORS: tuple[str, ...] = ("mws", "mss")


def check_tc_estimator(estimator: str) -> str:
    if estimator not in TC_ESTIMATORS:
        raise DarlaError(
            f"unknown estimator {estimator!r}: use mss (minibatch stratified sampling) or mws "
            "(minibatch weighted sampling)"
        )
    return estimator


def log_importance_weights(batch_size: int, dataset_size: int, estimator: str) -> torch.Tensor:
    """``[B, B]`` log weights w_ij with q(z_i) ≈ Σ_j w_ij q(z_i | x_j) over a minibatch (float64).

    Row i belongs to the sample z_i drawn from x_i's posterior; the other B - 1 frames are a
    uniform draw from the N - 1 others. β-TCVAE's two estimators (Chen et al. 2018, App. C):

    - ``mws``, minibatch weighted sampling: w_ij = 1 / (N·B) for every j, as in the paper. This
      is a lower bound on q(z_i): where all posteriors coincide it gives q(z)/N, where they do
      not overlap q(z_i|x_i)/(N·B) against the true q(z_i|x_i)/N. So log q(z) and each
      log q(z_d) are biased low by between log B and log N: the logged MI is inflated by up to
      log N, dim_kl deflated by up to D·log N and TC shifted by the difference. It is the
      paper's estimator and trains as there, but the values it logs are not the true terms.
    - ``mss``, minibatch stratified sampling: z_i's own posterior gets its true weight 1/N, one
      other frame (j = i+1, cyclically) the stratum's remainder (N - M)/(N·M) and the other
      M - 1 frames 1/M, with M = B - 1. Each row sums to 1, so the estimate is exact when all
      posteriors coincide. (rtqichen/beta-tcvae, the reference code, puts the cyclic entry of
      the last row in the one before it; that row then sums to more than 1 and the last to less.)
    """
    check_tc_estimator(estimator)
    n, b = dataset_size, batch_size
    if estimator == "mws" or b == 1:  # one frame: only its own term, at its weight 1/N
        return torch.full((b, b), -math.log(n * b), dtype=torch.float64)
    if n < b:
        raise DarlaError(
            f"dataset_size {n} is smaller than the batch ({b}): mss needs N >= batch size; "
            "pass the number of training frames"
        )
    m = b - 1
    weights = torch.full((b, b), 1.0 / m, dtype=torch.float64)
    rows = torch.arange(b)
    weights[rows, rows] = 1.0 / n
    weights[rows, (rows + 1) % b] = (n - m) / (n * m)
    return weights.log()


def tc_decomposition(
    z: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    dataset_size: int,
    estimator: str = "mss",
) -> dict[str, torch.Tensor]:
    """β-TCVAE's split of the KL into index-code MI, total correlation and dimension-wise KL.

    With z_i ~ q(z|x_i) (``z``, ``mu``, ``logvar``: ``[B, D]``), batch means of

    - ``mi``     = log q(z_i|x_i) − log q(z_i)
    - ``tc``     = log q(z_i) − Σ_d log q(z_id)
    - ``dim_kl`` = Σ_d log q(z_id) − log p(z_i)

    where q(z_i) and q(z_id) are estimated over the minibatch (:func:`log_importance_weights`).
    Every log density is summed over the latent dimensions before the three are formed, so the
    terms telescope: ``mi + tc + dim_kl`` is the sampled KL E[log q(z|x) − log p(z)] exactly,
    whatever the estimator, and weights applied to the terms afterwards mean what they say.
    (Weighting per-dimension pieces before that sum, a known bug elsewhere, breaks this.)
    """
    batch, _ = z.shape
    log_qz_given_x = gaussian_log_density(z, mu, logvar).sum(dim=1)
    log_pz = gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z)).sum(dim=1)
    # [B, B, D]: log q(z_id | x_j) for every sample i, frame j and latent d
    pairwise = gaussian_log_density(z.unsqueeze(1), mu.unsqueeze(0), logvar.unsqueeze(0))
    log_w = log_importance_weights(batch, dataset_size, estimator).to(z.device, z.dtype)
    log_qz = torch.logsumexp(log_w + pairwise.sum(dim=2), dim=1)
    log_qz_product = torch.logsumexp(log_w.unsqueeze(2) + pairwise, dim=1).sum(dim=1)
    return {
        "mi": (log_qz_given_x - log_qz).mean(),
        "tc": (log_qz - log_qz_product).mean(),
        "dim_kl": (log_qz_product - log_pz).mean(),
    }

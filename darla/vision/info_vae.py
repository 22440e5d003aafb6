"""InfoVAE: a VAE whose aggregate posterior q(z) is pulled to the prior by an MMD penalty.

Zhao, Song & Ermon 2019, "InfoVAE: Balancing Learning and Inference in Variational
Autoencoders". The paper's general objective, written as a loss to minimise, is

    loss = recon + (1 − α)·KL(q(z|x) || p(z)) + (α + λ − 1)·D(q(z) || p(z))

with p(z) = N(0, I) and D the maximum mean discrepancy here. α = 1 drops the per-image KL (which
also squeezes the information each code keeps about its image) and leaves the MMD-VAE,
``recon + λ·MMD``; α = 0, λ = 1 is the plain VAE. The paper asks for λ > 0 and α + λ − 1 ≥ 0 (a
negative MMD weight would push q(z) away from the prior).

MMD² is estimated between the batch's reparameterised samples z ~ q(z|x) and as many samples from
the prior, with the unbiased U-statistic (the diagonal k(z_i, z_i) left out). Unlike the KL, it is
one number per batch rather than a per-image term, at most about 0.2 (all codes collapsed to
one point, 32 latents), against a reconstruction of thousands of nats per 64x64 frame, which is
why λ is large. Its kernel's scale is the usual heuristic C = 2·D·σ² with σ = 1, the mean
squared distance between two prior samples (WAE, Tolstikhin et al. 2018, and disentanglement
practice since), so the kernel neither saturates nor flattens at the prior's own spread whatever
the latent size D.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from darla.errors import DarlaError
from darla.vision.checks import check_positive_number, check_unit_interval
from darla.vision.losses import kl_per_dim, reparameterize
from darla.vision.vae import BetaVAE

KERNELS: tuple[str, ...] = ("imq", "rbf")


def check_kernel(kernel: str) -> str:
    if kernel not in KERNELS:
        raise DarlaError(
            f"unknown kernel {kernel!r}: use imq (inverse multiquadratic) or rbf (Gaussian)"
        )
    return kernel


def kernel_matrix(x: torch.Tensor, y: torch.Tensor, kernel: str, scale: float) -> torch.Tensor:
    """``[N, M]`` kernel values k(x_i, y_j) for ``x`` ``[N, D]`` and ``y`` ``[M, D]``.

    ``imq``: C / (C + ‖x − y‖²), whose heavy tails keep a gradient for codes far from the prior
    (why WAE prefers it); ``rbf``: exp(−‖x − y‖² / C). ``scale`` is C.
    """
    check_kernel(kernel)
    squared = (x.unsqueeze(1) - y.unsqueeze(0)).pow(2).sum(dim=2)
    if kernel == "imq":
        return scale / (scale + squared)
    return torch.exp(-squared / scale)


def mmd(
    x: torch.Tensor, y: torch.Tensor, kernel: str = "imq", scale: float | None = None
) -> torch.Tensor:
    """Unbiased estimate of MMD²(P, Q) from samples ``x`` ~ P ``[N, D]`` and ``y`` ~ Q ``[M, D]``.

    mean_{i≠j} k(x_i, x_j) + mean_{i≠j} k(y_i, y_j) − 2·mean_{i,j} k(x_i, y_j): the U-statistic,
    whose expectation is exactly MMD² (0 when P = Q), so a single estimate can be slightly
    negative. ``scale`` defaults to 2·D (C = 2·D·σ² for the N(0, I) prior, σ = 1).
    """
    n, m = len(x), len(y)
    if n < 2 or m < 2:
        raise DarlaError(
            f"the unbiased MMD needs at least 2 samples on each side, got {n} and {m}: "
            "use a batch of 2 frames or more (train.batch_size)"
        )
    c = 2.0 * x.shape[1] if scale is None else float(scale)
    k_xx = kernel_matrix(x, x, kernel, c)
    k_yy = kernel_matrix(y, y, kernel, c)
    within_x = (k_xx.sum() - k_xx.diagonal().sum()) / (n * (n - 1))
    within_y = (k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return within_x + within_y - 2.0 * kernel_matrix(x, y, kernel, c).mean()


def sample_prior(like: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Samples of N(0, I) shaped like ``like``, drawn like the reparameterisation noise (on the
    generator's device, then moved), so a seeded or resumed run draws the same ones."""
    device = like.device if generator is None else generator.device
    return torch.randn(like.shape, generator=generator, device=device, dtype=like.dtype).to(
        like.device
    )


class InfoVAE(BetaVAE):
    """β-VAE encoder and decoder trained with the InfoVAE objective (MMD divergence).

    Args:
        image_size, latent_dim, hidden_dim, likelihood, decoder: as for :class:`BetaVAE`.
        alpha: α in [0, 1]; the per-image KL weighs 1 − α (1, the default: the MMD-VAE, no KL).
        lambda_: λ > 0; the MMD weighs α + λ − 1 (λ itself at α = 1). Spelled with a trailing
            underscore because ``lambda`` is a Python keyword.
        kernel: the MMD's kernel, ``imq`` (inverse multiquadratic) or ``rbf`` (Gaussian), both at
            scale 2·D.
    """

    OPTION_HINTS: ClassVar[dict[str, str]] = {
        "beta": "info_vae has no beta: alpha sets the KL weight (1 - alpha) and lambda_ the MMD "
        "weight (alpha + lambda_ - 1); use vision.model.lambda_=... instead of beta=...",
        "lambda": "info_vae's λ is spelled lambda_ (lambda is a Python keyword): "
        "vision.model.lambda_",
    }

    def __init__(
        self,
        image_size: int = 64,
        latent_dim: int = 32,
        hidden_dim: int = 256,
        alpha: float = 1.0,
        lambda_: float = 1000.0,
        kernel: str = "imq",
        likelihood: str = "bernoulli",
        decoder: str = "transposed",
    ) -> None:
        super().__init__(
            image_size, latent_dim, hidden_dim, beta=1.0, likelihood=likelihood, decoder=decoder
        )
        alpha = check_unit_interval("alpha", alpha, "use 1 (the MMD-VAE, no KL) or 0 (KL weight 1)")
        lambda_ = check_positive_number("lambda_", lambda_, "1000 (the MMD weight)")
        if alpha + lambda_ - 1 < 0:
            raise DarlaError(
                f"alpha + lambda_ - 1 = {alpha + lambda_ - 1:g} is the MMD weight and must be "
                f">= 0 (alpha {alpha:g}, lambda_ {lambda_:g}): raise lambda_ to at least "
                f"{1 - alpha:g}"
            )
        del self._config["beta"]
        self._config.update(
            name="info_vae", alpha=alpha, lambda_=lambda_, kernel=check_kernel(kernel)
        )

    @property
    def kl_weight(self) -> float:
        """1 − α, the weight of KL(q(z|x) || p(z))."""
        return 1.0 - self._config["alpha"]

    @property
    def mmd_weight(self) -> float:
        """α + λ − 1, the weight of MMD(q(z) || p(z))."""
        return self._config["alpha"] + self._config["lambda_"] - 1.0

    def loss(
        self, batch: torch.Tensor, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """``loss = recon + (1 − α)·kl + (α + λ − 1)·mmd``.

        ``mmd`` compares the batch's z ~ q(z|x) with as many prior samples, both drawn from
        ``generator`` (the reparameterisation noise first); ``kl`` and ``kl_per_dim`` are logged
        whatever α is (TensorBoard, traversal order).
        """
        mu, logvar = self.encode(batch)
        z = reparameterize(mu, logvar, generator)
        prior = sample_prior(z, generator)
        recon = self.reconstruction_loss(batch, self.decode_raw(z))
        kl_dims = kl_per_dim(mu, logvar)
        kl = kl_dims.sum()
        divergence = mmd(z, prior, self._config["kernel"])
        loss = recon + self.kl_weight * kl + self.mmd_weight * divergence
        return {"loss": loss, "recon": recon, "kl": kl, "mmd": divergence, "kl_per_dim": kl_dims}

"""β-TCVAE: the VAE's KL split into index-code MI, total correlation and dimension-wise KL.

Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs":
``loss = recon + α·MI + β·TC + γ·dim_kl``. Only the total correlation (the dependence between
latents) is what disentangling should penalise; β-VAE's β also squeezes MI, the information the
code keeps about the image. The paper uses α = γ = 1 and tunes β. The three terms need q(z),
estimated over the minibatch from a dataset of N frames with minibatch weighted (``mws``) or
stratified (``mss``) sampling: see :func:`darla.vision.losses.tc_decomposition`.
"""

from __future__ import annotations

import torch

from darla.errors import DarlaError
from darla.vision.checks import check_positive_int
from darla.vision.losses import (
    check_loss_weight,
    check_tc_estimator,
    kl_per_dim,
    reparameterize,
    tc_decomposition,
)
from darla.vision.vae import BetaVAE


class BetaTCVAE(BetaVAE):
    """β-VAE encoder and decoder trained with the decomposed, separately weighted KL.

    Args:
        image_size, latent_dim, hidden_dim, likelihood, decoder: as for :class:`BetaVAE`.
        alpha: weight of the index-code mutual information (the paper: 1).
        beta: weight of the total correlation (disentanglement_lib sweeps 1 to 10).
        gamma: weight of the dimension-wise KL (the paper: 1).
        estimator: ``mss`` (minibatch stratified sampling) or ``mws`` (minibatch weighted
            sampling, whose logged terms are offset: see
            :func:`~darla.vision.losses.log_importance_weights`).
        dataset_size: N, the number of training frames; ``darla see`` fills it in. Needed by
            :meth:`loss` only, not to encode.
    """

    def __init__(
        self,
        image_size: int = 64,
        latent_dim: int = 32,
        hidden_dim: int = 256,
        alpha: float = 1.0,
        beta: float = 6.0,
        gamma: float = 1.0,
        estimator: str = "mss",
        dataset_size: int | None = None,
        likelihood: str = "bernoulli",
        decoder: str = "transposed",
    ) -> None:
        super().__init__(
            image_size, latent_dim, hidden_dim, beta=beta, likelihood=likelihood, decoder=decoder
        )
        if dataset_size is not None:
            check_positive_int("dataset_size", dataset_size, 18000)
        self._config.update(
            name="beta_tcvae",
            alpha=check_loss_weight("alpha", alpha, 1.0),
            gamma=check_loss_weight("gamma", gamma, 1.0),
            estimator=check_tc_estimator(estimator),
            dataset_size=dataset_size,
        )

    def loss(
        self, batch: torch.Tensor, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """``loss = recon + α·mi + β·tc + γ·dim_kl``; ``kl`` is the analytic KL, for comparison."""
        c = self._config
        if c["dataset_size"] is None:
            raise DarlaError(
                "beta_tcvae needs dataset_size (N, the number of training frames) for its "
                "estimate of q(z): pass dataset_size=N (darla see fills it in)"
            )
        mu, logvar = self.encode(batch)
        z = reparameterize(mu, logvar, generator)
        recon = self.reconstruction_loss(batch, self.decode_raw(z))
        terms = tc_decomposition(z, mu, logvar, c["dataset_size"], c["estimator"])
        # The weights act on whole terms, each already summed over the latent dimensions.
        loss = recon + c["alpha"] * terms["mi"] + c["beta"] * terms["tc"]
        loss = loss + c["gamma"] * terms["dim_kl"]
        kl_dims = kl_per_dim(mu, logvar)
        return {"loss": loss, "recon": recon, **terms, "kl": kl_dims.sum(), "kl_per_dim": kl_dims}

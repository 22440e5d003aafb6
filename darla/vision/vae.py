"""β-VAE with a pixel likelihood; the VAE is the same class with β = 1.

conv 32-32-64-64 -> FC ``hidden_dim`` -> (μ, log σ²); decoder FC ``hidden_dim`` -> FC 4*4*64 ->
transposed convs. The loss is ``recon + β·KL(q(z|x) || N(0, I))``. DARLA's β-VAE_DAE
(:mod:`darla.vision.darla_vae`) subclasses this and replaces only :meth:`reconstruction_loss`.
"""

from __future__ import annotations

import torch
from torch import nn

from darla.vision.base import VisionModel
from darla.vision.checks import check_beta, check_positive_int
from darla.vision.losses import (
    check_likelihood,
    kl_per_dim,
    output_to_image,
    pixel_reconstruction_loss,
    reparameterize,
)
from darla.vision.trunk import ConvDecoder, ConvTrunk, check_upsampling, trunk_out_features


class BetaVAE(VisionModel):
    """Gaussian-latent VAE with a β-weighted KL term.

    Args:
        image_size: side of the square input images; a multiple of 16.
        latent_dim: number of latents D (DARLA: 32).
        hidden_dim: width of the FC layer between trunk and latents, mirrored in the decoder
            (DARLA: 256).
        beta: weight of the KL term; 1 is the plain VAE, >1 pressures towards disentangling.
        likelihood: ``bernoulli`` (BCE on logits) or ``gaussian`` (squared error), summed over
            pixels.
        decoder: how the decoder upsamples, ``transposed`` or ``resize`` (see
            :class:`~darla.vision.trunk.ConvDecoder`).
    """

    def __init__(
        self,
        image_size: int = 64,
        latent_dim: int = 32,
        hidden_dim: int = 256,
        beta: float = 4.0,
        likelihood: str = "bernoulli",
        decoder: str = "transposed",
    ) -> None:
        super().__init__()
        check_positive_int("latent_dim", latent_dim, 32)
        check_positive_int("hidden_dim", hidden_dim, 256)
        self._config = {
            "name": "beta_vae",
            "image_size": image_size,
            "latent_dim": latent_dim,
            "hidden_dim": hidden_dim,
            "beta": check_beta(beta),
            "likelihood": check_likelihood(likelihood),
            "decoder": check_upsampling(decoder),
        }
        # Kept outside the config too: DARLA decodes like the Bernoulli model (sigmoid of logits)
        # but has no pixel likelihood in its config.
        self.likelihood = likelihood
        self.trunk = ConvTrunk(image_size)
        self.fc = nn.Sequential(nn.Linear(trunk_out_features(image_size), hidden_dim), nn.ReLU())
        # One head for both moments, split in half: μ is the first D outputs, log σ² the last D.
        self.head = nn.Linear(hidden_dim, 2 * latent_dim)
        self.decoder = ConvDecoder(image_size, latent_dim, (hidden_dim,), decoder)

    @property
    def latent_dim(self) -> int:
        return self._config["latent_dim"]

    @property
    def beta(self) -> float:
        return self._config["beta"]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.head(self.fc(self.trunk(x).flatten(1))).chunk(2, dim=1)
        return mu, logvar

    def decode_raw(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder output before squashing: Bernoulli logits or the Gaussian mean."""
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return output_to_image(self.decoder(z), self.likelihood)

    def reconstruction_loss(self, x: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """-log p(x|z) summed over pixels, averaged over the batch; the one term DARLA changes."""
        return pixel_reconstruction_loss(output, x, self.likelihood)

    def loss(
        self, batch: torch.Tensor, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """``loss = recon + β·kl`` with one reparameterised sample per image.

        Also returns ``kl_per_dim`` ``[D]`` (batch mean) for TensorBoard and for ordering
        traversal rows; it still carries gradients, so call ``.detach()`` before logging.
        """
        mu, logvar = self.encode(batch)
        z = reparameterize(mu, logvar, generator)
        recon = self.reconstruction_loss(batch, self.decode_raw(z))
        kl_dims = kl_per_dim(mu, logvar)
        kl = kl_dims.sum()
        return {"loss": recon + self.beta * kl, "recon": recon, "kl": kl, "kl_per_dim": kl_dims}

"""FactorVAE: a VAE with a discriminator's estimate of the latents' total correlation as penalty.

Kim & Mnih 2018, "Disentangling by Factorising": ``loss = recon + KL + γ·TC``. The total
correlation TC = KL(q(z) || Π_d q(z_d)) has no closed form, so a discriminator D learns to tell
samples of q(z) from samples of Π_d q(z_d), the latter made by permuting each latent dimension
independently across the batch; with D's two logits (class 0: q(z), class 1: permuted),
TC ≈ E_q(z)[logit_0 − logit_1] (the density-ratio trick). D has its own Adam optimizer and
minimises the cross-entropy of that classification; the VAE's optimizer never touches D.

As in disentanglement_lib, both updates use the same minibatch (the paper permutes a second one).
The paper's D is an MLP of 6 layers of 1000 units with leaky ReLUs, trained with Adam(lr 1e-4,
betas (0.5, 0.9)); the sizes are configurable and the config's default is smaller, for CPUs.
D's weights are saved in the model file but ``latent_mean`` never uses them.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from darla.errors import DarlaError
from darla.vision.checks import check_positive_int
from darla.vision.losses import check_loss_weight, kl_per_dim, reparameterize
from darla.vision.vae import BetaVAE


def permute_dims(z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shuffle every latent dimension independently across the batch: a sample of Π_d q(z_d).

    Column d of the result is a permutation of column d of ``z``, each column with its own
    permutation, so a row mixes coordinates of different samples (permuting within a sample, a
    known bug elsewhere, would keep the dependence between dimensions that TC measures).
    """
    device = z.device if generator is None else generator.device
    order = torch.rand(z.shape, generator=generator, device=device).argsort(dim=0)
    return z.gather(0, order.to(z.device))


def discriminator_mlp(latent_dim: int, width: int, layers: int) -> nn.Sequential:
    """``layers`` hidden layers of ``width`` units with leaky ReLU (0.2), then 2 logits."""
    sizes = (latent_dim, *[width] * layers)
    modules: list[nn.Module] = []
    for f_in, f_out in itertools.pairwise(sizes):
        modules += [nn.Linear(f_in, f_out), nn.LeakyReLU(0.2)]
    modules.append(nn.Linear(sizes[-1], 2))
    return nn.Sequential(*modules)


class FactorVAE(BetaVAE):
    """β-VAE encoder and decoder (β = 1) plus a TC discriminator with its own optimizer.

    Args:
        image_size, latent_dim, hidden_dim, likelihood, decoder: as for :class:`BetaVAE`.
        gamma: weight of the TC estimate (disentanglement_lib sweeps 10 to 100).
        discriminator_width: units per hidden layer of D (the paper: 1000).
        discriminator_layers: hidden layers of D (the paper: 6).
        discriminator_lr: D's Adam learning rate (the paper: 1e-4); the VAE uses ``train.lr``.
        discriminator_betas: D's Adam betas (the paper: 0.5, 0.9).
    """

    OPTION_HINTS: ClassVar[dict[str, str]] = {
        "beta": "factor_vae has no beta: its KL weight is 1 and gamma weighs the total "
        "correlation; use vision.model.gamma=... instead of beta=..."
    }

    def __init__(
        self,
        image_size: int = 64,
        latent_dim: int = 32,
        hidden_dim: int = 256,
        gamma: float = 10.0,
        discriminator_width: int = 256,
        discriminator_layers: int = 4,
        discriminator_lr: float = 1e-4,
        discriminator_betas: Sequence[float] = (0.5, 0.9),
        likelihood: str = "bernoulli",
        decoder: str = "transposed",
    ) -> None:
        super().__init__(
            image_size, latent_dim, hidden_dim, beta=1.0, likelihood=likelihood, decoder=decoder
        )
        check_positive_int("discriminator_width", discriminator_width, 1000)
        check_positive_int("discriminator_layers", discriminator_layers, 6)
        if not (isinstance(discriminator_lr, (int, float)) and discriminator_lr > 0):
            raise DarlaError(f"discriminator_lr must be positive, got {discriminator_lr!r}")
        betas = list(discriminator_betas)
        if len(betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas):
            raise DarlaError(
                f"discriminator_betas must be two numbers in [0, 1), got {discriminator_betas!r}:"
                " use e.g. [0.5, 0.9]"
            )
        del self._config["beta"]
        self._config.update(
            name="factor_vae",
            gamma=check_loss_weight("gamma", gamma, 10.0),
            discriminator_width=discriminator_width,
            discriminator_layers=discriminator_layers,
            discriminator_lr=float(discriminator_lr),
            discriminator_betas=[float(b) for b in betas],
        )
        self.discriminator = discriminator_mlp(
            latent_dim, discriminator_width, discriminator_layers
        )

    def vae_parameters(self) -> list[nn.Parameter]:
        """Encoder and decoder weights: what the VAE's optimizer updates (not D's)."""
        return [p for n, p in self.named_parameters() if not n.startswith("discriminator.")]

    def make_optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        c = self._config
        return {
            "model": torch.optim.Adam(self.vae_parameters(), lr=lr),
            "discriminator": torch.optim.Adam(
                self.discriminator.parameters(),
                lr=c["discriminator_lr"],
                betas=tuple(c["discriminator_betas"]),
            ),
        }

    def step_optimizers(
        self, terms: dict[str, torch.Tensor], optimizers: dict[str, torch.optim.Optimizer]
    ) -> None:
        super().step_optimizers(terms, optimizers)  # the VAE on recon + KL + γ·TC
        # D's gradients from the VAE's loss (through the TC estimate) are dropped here.
        optimizer = optimizers["discriminator"]
        optimizer.zero_grad(set_to_none=True)
        terms["discriminator_loss"].backward()
        optimizer.step()

    def loss(
        self, batch: torch.Tensor, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """``loss = recon + kl + γ·tc`` for the VAE and ``discriminator_loss`` for D.

        ``discriminator_loss`` sees the latents detached, so it trains D only;
        ``discriminator_accuracy`` is D's accuracy on the real and the permuted samples.
        """
        mu, logvar = self.encode(batch)
        z = reparameterize(mu, logvar, generator)
        recon = self.reconstruction_loss(batch, self.decode_raw(z))
        kl_dims = kl_per_dim(mu, logvar)
        kl = kl_dims.sum()
        logits = self.discriminator(z)
        tc = (logits[:, 0] - logits[:, 1]).mean()

        z_real = z.detach()
        both = self.discriminator(torch.cat([z_real, permute_dims(z_real, generator)]))
        labels = torch.arange(2, device=both.device).repeat_interleave(len(z))
        discriminator_loss = F.cross_entropy(both, labels)
        accuracy = (both.argmax(dim=1) == labels).float().mean()
        return {
            "loss": recon + kl + self._config["gamma"] * tc,
            "recon": recon,
            "kl": kl,
            "tc": tc,
            "discriminator_loss": discriminator_loss,
            "discriminator_accuracy": accuracy,
            "kl_per_dim": kl_dims,
        }

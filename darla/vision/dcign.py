"""DC-IGN: supervised disentangling from clamped batches (Kulkarni et al. 2015).

Kulkarni, Whitney, Kohli & Tenenbaum 2015, "Deep Convolutional Inverse Graphics Network". Each
factor of variation owns a block of latents. Every training batch varies ONE factor and holds all
others fixed (``darla see`` renders such batches from the factor dataset, see
:class:`darla.vision.training.batches.ClampedBatches`). The latents of every other factor should
then be constant across the batch, and the training step makes them so:

- forward: their sampled values are replaced by their batch mean, so the decoder can explain
  what varies only through the varying factor's block (and any free latents);
- backward: their gradient is replaced by their deviation from the batch mean (scaled), the
  paper's invariance signal, which pulls each of them towards that mean; they carry no
  reconstruction gradient.

The deviation is taken on the encoder's output, the posterior means μ, and reaches the encoder
through μ only. Taking it on the samples z = μ + σ·ε instead would also push σ down for every
clamped latent (the noise is a deviation too): against the KL that settles at σ² = 1/(1 + w),
a KL cost for no information. :func:`clamp_to_batch_mean` with no separate ``deviation_of`` is
the literal ``z − z̄`` version.

Only the varying factor's block (and the free latents, which no factor owns and which are never
clamped) receives the reconstruction gradient. The rest is a VAE: β-weighted KL over all latents.
Without ``varying_factor`` (ordinary frames) :meth:`DCIGN.loss` is the plain β-VAE loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from darla.errors import DarlaError
from darla.vision.checks import check_positive_int
from darla.vision.losses import check_loss_weight, kl_per_dim, reparameterize
from darla.vision.vae import BetaVAE


class ClampToBatchMean(torch.autograd.Function):
    """Latents ``z [B, D]`` with the columns in ``clamped [D]`` clamped to their batch mean.

    forward(z, clamped, scale, m): clamped columns of ``z`` are replaced by their batch mean, the
    others pass through. backward: the other columns of ``z`` get the incoming gradient; the
    clamped columns of ``z`` get none, and the clamped columns of ``m`` get ``scale · (m − m̄)``.
    With ``m`` = ``z`` (the same tensor) that is the literal rule, gradient ``scale · (z − z̄)``.
    The incoming gradient of the clamped columns is dropped on purpose: DC-IGN's trick, which
    replaces their reconstruction gradient by an invariance gradient.
    """

    @staticmethod
    def forward(
        ctx: Any, z: torch.Tensor, clamped: torch.Tensor, scale: float, m: torch.Tensor
    ) -> torch.Tensor:
        ctx.save_for_backward(m, clamped)
        ctx.scale = scale
        return torch.where(clamped, z.mean(dim=0, keepdim=True), z)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None, None, Any]:
        m, clamped = ctx.saved_tensors
        grad_z = torch.where(clamped, torch.zeros_like(grad_output), grad_output)
        invariance = ctx.scale * (m - m.mean(dim=0, keepdim=True))
        grad_m = torch.where(clamped, invariance, torch.zeros_like(invariance))
        return grad_z, None, None, grad_m


def clamp_to_batch_mean(
    z: torch.Tensor,
    scale: float,
    clamped: torch.Tensor | None = None,
    deviation_of: torch.Tensor | None = None,
) -> torch.Tensor:
    """Clamp columns ``clamped`` (bool ``[D]``, default all) of ``z`` to their batch mean; their
    gradient becomes ``scale · (m − m̄)`` on ``m = deviation_of`` (default ``z`` itself)."""
    if clamped is None:
        clamped = torch.ones(z.shape[1], dtype=torch.bool, device=z.device)
    m = z if deviation_of is None else deviation_of
    return ClampToBatchMean.apply(z, clamped.to(z.device), scale, m)


def _check_factor_names(factor_names: Any) -> list[str]:
    if factor_names is None:
        raise DarlaError(
            "dcign needs factor_names (one latent block per factor): `darla see` fills them from "
            "the factor dataset; pass e.g. factor_names=['shape', 'scale', 'x', 'y', 'colour']"
        )
    if isinstance(factor_names, str) or not isinstance(factor_names, Sequence):
        raise DarlaError(f"factor_names must be a list of names, got {factor_names!r}")
    names = [str(n) for n in factor_names]
    if not names or len(set(names)) != len(names):
        raise DarlaError(f"factor_names must be distinct and non-empty, got {names}")
    return names


class DCIGN(BetaVAE):
    """β-VAE encoder and decoder whose latents are split into one block per factor.

    Latent layout: factor k owns ``[k·L, (k+1)·L)`` with L = ``latents_per_factor``; the last
    ``free_latents`` belong to no factor. ``latent_dim = len(factor_names)·L + free_latents``.

    Args:
        factor_names: the factors of the dataset the clamped batches come from, in its order
            (``varying_factor`` indexes this list).
        image_size, hidden_dim, likelihood, decoder: as for :class:`BetaVAE`.
        latents_per_factor: L, the size of each factor's block.
        free_latents: latents no factor owns; they are never clamped, so they see the
            reconstruction gradient of every batch (a few can absorb what the factors do not
            name; many let the decoder bypass the factor blocks).
        beta: KL weight (DC-IGN is a VAE: 1).
        invariance_weight: w; the clamped latents' gradient is ``w·(μ − μ̄)/B``, the gradient of
            ``w·½·mean_b‖μ_b − μ̄‖²``, on the same per-image scale as the other (batch-averaged)
            terms.
    """

    OPTION_HINTS: ClassVar[dict[str, str]] = {
        "latent_dim": "dcign has no latent_dim: it is len(factor_names) * latents_per_factor + "
        "free_latents; set vision.model.latents_per_factor and vision.model.free_latents"
    }
    training_data: ClassVar[str] = "clamped"

    def __init__(
        self,
        factor_names: Sequence[str] | None = None,
        image_size: int = 64,
        latents_per_factor: int = 3,
        free_latents: int = 0,
        hidden_dim: int = 256,
        beta: float = 1.0,
        invariance_weight: float = 1.0,
        likelihood: str = "bernoulli",
        decoder: str = "transposed",
    ) -> None:
        names = _check_factor_names(factor_names)
        check_positive_int("latents_per_factor", latents_per_factor, 3)
        if not isinstance(free_latents, int) or isinstance(free_latents, bool) or free_latents < 0:
            raise DarlaError(f"free_latents must be an integer >= 0, got {free_latents!r}")
        latent_dim = len(names) * latents_per_factor + free_latents
        super().__init__(image_size, latent_dim, hidden_dim, beta, likelihood, decoder=decoder)
        del self._config["latent_dim"]
        self._config.update(
            name="dcign",
            factor_names=names,
            latents_per_factor=latents_per_factor,
            free_latents=free_latents,
            invariance_weight=check_loss_weight("invariance_weight", invariance_weight, 1.0),
        )
        self._latent_dim = latent_dim

    @property
    def latent_dim(self) -> int:
        return self._latent_dim

    @property
    def factor_names(self) -> list[str]:
        return list(self._config["factor_names"])

    def factor_block(self, factor: int) -> slice:
        """The latents factor ``factor`` owns."""
        size = self._config["latents_per_factor"]
        return slice(factor * size, (factor + 1) * size)

    def active_latents(self, varying_factor: int) -> torch.Tensor:
        """Bool ``[D]``: the varying factor's block and the free latents (never clamped)."""
        k = int(varying_factor)
        if not 0 <= k < len(self._config["factor_names"]):
            raise DarlaError(
                f"varying_factor {k} out of range: this model has "
                f"{len(self._config['factor_names'])} factors ({', '.join(self.factor_names)})"
            )
        active = torch.zeros(self.latent_dim, dtype=torch.bool)
        active[self.factor_block(k)] = True
        if self._config["free_latents"]:
            active[-self._config["free_latents"] :] = True
        return active

    def clamp_latents(
        self, z: torch.Tensor, varying_factor: int, mu: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``z`` with every latent outside the active ones clamped to its batch mean; their
        invariance gradient goes to ``mu`` (the posterior means ``z`` was sampled around), or to
        ``z`` itself without one (see :class:`ClampToBatchMean`)."""
        scale = self._config["invariance_weight"] / len(z)
        return clamp_to_batch_mean(z, scale, ~self.active_latents(varying_factor), mu)

    def loss(
        self,
        batch: torch.Tensor,
        generator: torch.Generator | None = None,
        varying_factor: int | None = None,
    ) -> dict[str, torch.Tensor]:
        """``loss = recon + β·kl (+ w·invariance)`` for a batch in which ``varying_factor`` varies.

        ``invariance`` = ½·mean_b‖μ_b − μ̄‖² over the clamped latents is reported and added to
        ``loss`` as a value only: its gradient reaches the encoder through the clamp, not through
        this term. Without ``varying_factor``, no latent is clamped (a plain β-VAE step).
        """
        mu, logvar = self.encode(batch)
        z = reparameterize(mu, logvar, generator)
        kl_dims = kl_per_dim(mu, logvar)
        kl = kl_dims.sum()
        if varying_factor is None:
            recon = self.reconstruction_loss(batch, self.decode_raw(z))
            return {"loss": recon + self.beta * kl, "recon": recon, "kl": kl, "kl_per_dim": kl_dims}
        clamped = ~self.active_latents(varying_factor).to(z.device)
        recon = self.reconstruction_loss(
            batch, self.decode_raw(self.clamp_latents(z, varying_factor, mu))
        )
        with torch.no_grad():
            deviation = mu[:, clamped] - mu[:, clamped].mean(dim=0, keepdim=True)
            invariance = 0.5 * deviation.pow(2).sum(dim=1).mean()
        weight = self._config["invariance_weight"]
        return {
            "loss": recon + self.beta * kl + weight * invariance,
            "recon": recon,
            "kl": kl,
            "invariance": invariance,
            "kl_per_dim": kl_dims,
        }

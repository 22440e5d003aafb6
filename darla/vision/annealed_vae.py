"""AnnealedVAE (CCI-VAE): a VAE whose KL is held near a capacity C that grows during training.

Burgess et al. 2018, "Understanding disentangling in β-VAE": ``loss = recon + γ·|KL − C|``,
with C raised linearly from 0 to ``capacity_max`` nats between steps ``capacity_start`` and
``capacity_end``. A large γ (the paper: 1000) pins the KL to C, so the encoder gains information
capacity gradually and spends it on the factors that improve reconstruction most first, one after
another, rather than all at once as a plain VAE does. The paper grows C to 25 nats over 100,000
steps on dSprites.

The capacity is a pure function of the optimizer step, which the trainer passes in through
:meth:`~darla.vision.base.VisionModel.set_step`, so a run resumed from a checkpoint sees the same
schedule as an uninterrupted one.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from darla.errors import DarlaError
from darla.vision.losses import check_loss_weight, kl_per_dim, reparameterize
from darla.vision.vae import BetaVAE


def capacity_at(step: int, capacity_max: float, start: int, end: int) -> float:
    """C at optimizer step ``step``: 0 until ``start``, linear to ``capacity_max`` at ``end``."""
    if step >= end:
        return float(capacity_max)
    if step <= start:
        return 0.0
    return capacity_max * (step - start) / (end - start)


class AnnealedVAE(BetaVAE):
    """β-VAE encoder and decoder trained with ``recon + γ·|KL − C(step)|``.

    Args:
        image_size, latent_dim, hidden_dim, likelihood, decoder: as for :class:`BetaVAE`.
        gamma: weight of ``|KL − C|``; large, so that the KL follows C (the paper: 1000).
        capacity_max: C_max, the capacity in nats that C reaches (the paper: 25).
        capacity_start: optimizer step at which C starts growing from 0.
        capacity_end: step at which C reaches ``capacity_max`` and then stays.
    """

    # There is no β: γ weighs the distance of the KL from C, not the KL itself.
    OPTION_HINTS: ClassVar[dict[str, str]] = {
        "beta": "annealed_vae has no beta: gamma weighs |KL - C| and capacity_max sets C; use "
        "vision.model.gamma=... and vision.model.capacity_max=... instead of beta=..."
    }

    def __init__(
        self,
        image_size: int = 64,
        latent_dim: int = 32,
        hidden_dim: int = 256,
        gamma: float = 1000.0,
        capacity_max: float = 25.0,
        capacity_start: int = 0,
        capacity_end: int = 3000,
        likelihood: str = "bernoulli",
        decoder: str = "transposed",
    ) -> None:
        super().__init__(
            image_size, latent_dim, hidden_dim, beta=1.0, likelihood=likelihood, decoder=decoder
        )
        for name, step in (("capacity_start", capacity_start), ("capacity_end", capacity_end)):
            if not isinstance(step, int) or isinstance(step, bool) or step < 0:
                raise DarlaError(f"{name} must be a step >= 0, got {step!r}: use e.g. 3000")
        if capacity_end < capacity_start:
            raise DarlaError(
                f"capacity_end {capacity_end} is before capacity_start {capacity_start}: "
                "C grows from 0 at capacity_start to capacity_max at capacity_end"
            )
        del self._config["beta"]
        self._config.update(
            name="annealed_vae",
            gamma=check_loss_weight("gamma", gamma, 1000.0),
            capacity_max=check_loss_weight("capacity_max", capacity_max, 25.0),
            capacity_start=capacity_start,
            capacity_end=capacity_end,
        )
        self._step = 0

    def set_step(self, step: int) -> None:
        self._step = int(step)

    @property
    def capacity(self) -> float:
        """C at the current step (0 for a model the trainer never stepped)."""
        c = self._config
        return capacity_at(self._step, c["capacity_max"], c["capacity_start"], c["capacity_end"])

    def loss(
        self, batch: torch.Tensor, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """``loss = recon + γ·|kl − C|``; also logs C as ``capacity``."""
        mu, logvar = self.encode(batch)
        z = reparameterize(mu, logvar, generator)
        recon = self.reconstruction_loss(batch, self.decode_raw(z))
        kl_dims = kl_per_dim(mu, logvar)
        kl = kl_dims.sum()
        capacity = torch.tensor(self.capacity, device=kl.device, dtype=kl.dtype)
        loss = recon + self._config["gamma"] * (kl - capacity).abs()
        return {"loss": loss, "recon": recon, "kl": kl, "capacity": capacity, "kl_per_dim": kl_dims}

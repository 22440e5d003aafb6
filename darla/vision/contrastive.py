"""A SimCLR-style contrastive encoder: two augmented views of a frame should share one code.

Chen et al. 2020, "A Simple Framework for Contrastive Learning of Visual Representations". The
repo's conv trunk and an FC layer give the representation h (``latent_mean``, D dims); a small
MLP projection head g maps h to z, and the NT-Xent loss pulls the two views' z together against
the other 2(B − 1) views of the batch. The paper's finding, kept here: the loss is applied to
g(h), yet h is the better representation downstream, so the agent gets h.

The model is not generative: it has no decoder, so ``generative`` is False and :meth:`decode`
raises. Reconstruction and traversal grids do not exist for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from darla.errors import DarlaError
from darla.vision.augment import Augmentations, augment
from darla.vision.base import VisionModel
from darla.vision.checks import check_positive_int, check_positive_number
from darla.vision.trunk import ConvTrunk, trunk_out_features


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's normalized-temperature cross-entropy over the 2B views ``z1 ∪ z2`` (``[B, P]`` each).

    For view i with positive j (its other view), ℓ_i = −log(exp(s_ij/τ) / Σ_{k≠i} exp(s_ik/τ))
    with s the cosine similarity; the loss is the mean of ℓ over all 2B views (both directions
    of each pair, as in the paper).
    """
    batch = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    # a view is never its own negative
    logits = logits.masked_fill(torch.eye(2 * batch, dtype=torch.bool, device=z.device), -torch.inf)
    positives = torch.arange(2 * batch, device=z.device).roll(batch)  # i <-> i + B
    return F.cross_entropy(logits, positives)


class ContrastiveEncoder(VisionModel):
    """Conv trunk -> FC -> h (the code) -> projection head -> z, trained with NT-Xent.

    Args:
        image_size: side of the square frames; a multiple of 16.
        latent_dim: size D of the representation h that ``latent_mean`` returns.
        hidden_dim: width of the FC layer between the trunk and h.
        projection_dim: size of the projection z the loss compares (SimCLR: 128).
        projection_hidden_dim: width of the projection head's hidden layer.
        temperature: τ of NT-Xent (SimCLR: 0.5 on CIFAR-10, 0.1 with very large batches);
            must be > 0.
        crop_scale, crop_ratio, shift_pad, horizontal_flip, jitter, jitter_prob: the
            augmentations, see :class:`~darla.vision.augment.Augmentations`.
    """

    generative: ClassVar[bool] = False
    OPTION_HINTS: ClassVar[dict[str, str]] = {
        "beta": "contrastive has no beta: it is not a VAE; its knob is vision.model.temperature",
        "likelihood": "contrastive has no likelihood: it does not reconstruct pixels",
    }

    def __init__(
        self,
        image_size: int = 64,
        latent_dim: int = 32,
        hidden_dim: int = 256,
        projection_dim: int = 64,
        projection_hidden_dim: int = 256,
        temperature: float = 0.5,
        crop_scale: Sequence[float] = (0.5, 1.0),
        crop_ratio: Sequence[float] = (3 / 4, 4 / 3),
        shift_pad: int = 4,
        horizontal_flip: bool = False,
        jitter: float = 0.4,
        jitter_prob: float = 0.8,
    ) -> None:
        super().__init__()
        for name, value, example in (
            ("latent_dim", latent_dim, 32),
            ("hidden_dim", hidden_dim, 256),
            ("projection_dim", projection_dim, 64),
            ("projection_hidden_dim", projection_hidden_dim, 256),
        ):
            check_positive_int(name, value, example)
        check_positive_number("temperature", temperature, 0.5)
        self.augmentations = Augmentations.from_options(
            crop_scale, crop_ratio, shift_pad, horizontal_flip, jitter, jitter_prob
        )
        self._config = {
            "name": "contrastive",
            "image_size": image_size,
            "latent_dim": latent_dim,
            "hidden_dim": hidden_dim,
            "projection_dim": projection_dim,
            "projection_hidden_dim": projection_hidden_dim,
            "temperature": float(temperature),
            **self.augmentations.options(),
        }
        self.trunk = ConvTrunk(image_size)
        self.fc = nn.Sequential(nn.Linear(trunk_out_features(image_size), hidden_dim), nn.ReLU())
        self.head = nn.Linear(hidden_dim, latent_dim)
        # SimCLR's g(h) = W2 σ(W1 h)
        self.projection = nn.Sequential(
            nn.Linear(latent_dim, projection_hidden_dim),
            nn.ReLU(),
            nn.Linear(projection_hidden_dim, projection_dim),
        )

    @property
    def latent_dim(self) -> int:
        return self._config["latent_dim"]

    @property
    def temperature(self) -> float:
        return self._config["temperature"]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        """The representation h, deterministic: ``(h, None)``."""
        return self.head(self.fc(self.trunk(x).flatten(1))), None

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise DarlaError(
            "contrastive has no decoder (it is not generative): there are no reconstructions "
            "or traversals; use latent_mean for its codes"
        )

    def views(
        self, batch: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Two independent augmented views of every frame of ``batch``."""
        return (
            augment(batch, self.augmentations, generator),
            augment(batch, self.augmentations, generator),
        )

    def loss(
        self, batch: torch.Tensor, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """``loss`` = NT-Xent of the two views' projections.

        Also ``positive_similarity`` (mean cosine of a frame's two projections) and
        ``accuracy`` (how often a view's most similar other view is its own pair: the
        contrastive task's top-1 accuracy, 1/(2B − 1) by chance).
        """
        if self.training and len(batch) < 2:
            raise DarlaError(
                f"contrastive needs at least 2 frames per training batch (the other frames are "
                f"the negatives), got {len(batch)}: set train.batch_size to e.g. 64"
            )
        view1, view2 = self.views(batch, generator)
        h, _ = self.encode(torch.cat([view1, view2]))
        z1, z2 = self.projection(h).chunk(2)
        loss = nt_xent(z1, z2, self.temperature)
        with torch.no_grad():
            z = F.normalize(torch.cat([z1, z2]), dim=1)
            similarity = z @ z.T
            similarity.fill_diagonal_(-torch.inf)
            pair = torch.arange(len(z), device=z.device).roll(len(z1))
            accuracy = (similarity.argmax(dim=1) == pair).float().mean()
            positive = F.cosine_similarity(z1, z2, dim=1).mean()
        return {"loss": loss, "positive_similarity": positive, "accuracy": accuracy}

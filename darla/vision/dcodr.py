"""DCoDR: a contrastive code whose negatives share the anchor's source domain, so the domain
cannot tell frames apart and the code learns what the domain does not explain.

Kahana & Hoshen, ECCV 2022, "A Contrastive Objective for Learning Disentangled Representations".
The label is a frame's domain; here it is the source domain it was collected in (``domain_ids``,
known at collection; target domains are never among the training frames). With e the unit-norm
code of a frame x, e⁺ that of an augmented view of x and d the domains, each anchor i of a batch
contributes

    ℓ_i = −log( exp(e_i·e_i⁺/τ) / (exp(e_i·e_i⁺/τ) + Σ_{j≠i, d_j = d_i} exp(e_i·e_j/τ)) )

an InfoNCE whose negatives are only the other frames of the anchor's domain. A standard
contrastive loss can separate frames of different domains by their domain alone (wall texture,
lighting); this one never compares across domains, so what separates negatives must be what
varies within a domain (the layout, the objects, the agent's pose), and the code has no reason to
carry the domain. The loss is the mean of ℓ over the anchors that have a negative.

What differs from the paper, and why:

- This is the paper's DCoDR-norec variant: the full DCoDR adds a generator that rebuilds x from
  the code and a learned per-domain embedding (AdaIN, a VGG perceptual loss, weight 0.3 in the
  authors' scripts) against feature suppression. The agent only uses the code, the repo has no
  ImageNet-trained VGG offline, and the paper finds norec as good in some settings and much
  cheaper; so the model has no decoder: ``generative`` is False and :meth:`decode` raises.
- The encoder is the repo's conv trunk -> FC -> head trained from scratch, not an
  ImageNet-pretrained MoCo-v2 ResNet-50 with a 3-layer FC head (the paper's no-pretraining
  ablation loses some informativeness). The contrasted code is the code the agent gets: no
  projection head between them, so the invariance the loss asks for is the code's (a head could
  drop the domain while h kept it). ``latent_mean`` is the unit-normalised code, as the paper
  evaluates it; its norm is free under a cosine loss and could carry the domain.
- The anchor is the frame itself and the positive one augmented view, as in the authors' code;
  the views use the contrastive encoder's augmentations (resized crop, DrQ-style shift, colour
  jitter without hue, no flip; see :class:`~darla.vision.augment.Augmentations`). Brightness,
  contrast and saturation jitter also makes the code ignore lighting, one way domains differ.
- Negatives are every other frame of the anchor's domain in the batch. The authors sample up to
  64 of them per anchor from batches of 4 domains × 32 frames; ``darla see`` draws batches
  uniformly, as for every model, so a domain gets about B/D of B frames (train.batch_size must
  exceed the number of source domains, checked before training; 64 with 3 domains gives ~21).
- A frame alone of its domain in a batch has no negative: its term is log 1 = 0, it is left out
  of the mean and counted in ``anchors_without_negatives``. A training batch where no frame has
  a same-domain partner is refused in one line (the authors' code refuses it too); an evaluation
  batch of that kind has loss 0.
- τ = 0.2, the authors' released setting.
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


def same_domain_info_nce(
    anchors: torch.Tensor, positives: torch.Tensor, domains: torch.Tensor, temperature: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """DCoDR's ℓ_i for every anchor (``[B, D]`` codes, their positives and int ``domains`` ``[B]``)
    and whether it has a negative (``[B]`` bool). Codes are compared by cosine; the negatives of
    anchor i are the other anchors of its domain. An anchor without one gets exactly 0."""
    a = F.normalize(anchors, dim=1)
    p = F.normalize(positives, dim=1)
    positive = (a * p).sum(dim=1, keepdim=True) / temperature
    same = domains[:, None] == domains[None, :]
    same.fill_diagonal_(False)
    negatives = (a @ a.T / temperature).masked_fill(~same, -torch.inf)
    terms = torch.logsumexp(torch.cat([positive, negatives], dim=1), dim=1) - positive[:, 0]
    return terms, same.any(dim=1)


class DCoDR(VisionModel):
    """Conv trunk -> FC -> code (unit norm), trained with DCoDR's same-domain InfoNCE.

    Args:
        image_size: side of the square frames; a multiple of 16.
        latent_dim: size D of the code that ``latent_mean`` returns.
        hidden_dim: width of the FC layer between the trunk and the code.
        temperature: τ of the InfoNCE (the authors: 0.2); must be > 0.
        crop_scale, crop_ratio, shift_pad, horizontal_flip, jitter, jitter_prob: the
            augmentation that makes the positive, see :class:`~darla.vision.augment.Augmentations`.
    """

    generative: ClassVar[bool] = False
    training_data: ClassVar[str] = "domain_labelled"
    OPTION_HINTS: ClassVar[dict[str, str]] = {
        "beta": "dcodr has no beta: it is not a VAE; its knob is vision.model.temperature",
        "likelihood": "dcodr has no likelihood: it is the paper's norec variant and does not "
        "reconstruct pixels",
    }

    def __init__(
        self,
        image_size: int = 64,
        latent_dim: int = 32,
        hidden_dim: int = 256,
        temperature: float = 0.2,
        crop_scale: Sequence[float] = (0.5, 1.0),
        crop_ratio: Sequence[float] = (3 / 4, 4 / 3),
        shift_pad: int = 4,
        horizontal_flip: bool = False,
        jitter: float = 0.4,
        jitter_prob: float = 0.8,
    ) -> None:
        super().__init__()
        check_positive_int("latent_dim", latent_dim, 32)
        check_positive_int("hidden_dim", hidden_dim, 256)
        check_positive_number("temperature", temperature, 0.2)
        self.augmentations = Augmentations.from_options(
            crop_scale, crop_ratio, shift_pad, horizontal_flip, jitter, jitter_prob
        )
        self._config = {
            "name": "dcodr",
            "image_size": image_size,
            "latent_dim": latent_dim,
            "hidden_dim": hidden_dim,
            "temperature": float(temperature),
            **self.augmentations.options(),
        }
        self.trunk = ConvTrunk(image_size)
        self.fc = nn.Sequential(nn.Linear(trunk_out_features(image_size), hidden_dim), nn.ReLU())
        self.head = nn.Linear(hidden_dim, latent_dim)

    @property
    def latent_dim(self) -> int:
        return self._config["latent_dim"]

    @property
    def temperature(self) -> float:
        return self._config["temperature"]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        """The unit-norm code, deterministic: ``(e, None)``."""
        return F.normalize(self.head(self.fc(self.trunk(x).flatten(1))), dim=1), None

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise DarlaError(
            "dcodr has no decoder (it is the paper's norec variant, not generative): there are "
            "no reconstructions or traversals; use latent_mean for its codes"
        )

    def anchor_terms(
        self,
        batch: torch.Tensor,
        domains: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """ℓ_i per frame, whether it has a negative, and the codes of the frames and of their
        augmented views."""
        view = augment(batch, self.augmentations, generator)
        codes, _ = self.encode(torch.cat([batch, view]))
        anchors, positives = codes.chunk(2)
        terms, has_negative = same_domain_info_nce(anchors, positives, domains, self.temperature)
        return terms, has_negative, anchors, positives

    def loss(
        self,
        batch: torch.Tensor,
        domains: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        """``loss`` = the mean of ℓ_i over the anchors with a same-domain negative.

        ``domains``: each frame's source domain index (int ``[B]``). Also
        ``positive_similarity`` (mean cosine of a frame's code and its view's),
        ``negative_similarity`` (mean cosine of two frames of one domain), ``accuracy`` (how
        often a frame's view is closer to it than every other frame of its domain) and
        ``anchors_without_negatives`` (the fraction of frames alone of their domain); the
        similarities and accuracy are 0 in a batch without a same-domain pair.
        """
        domains = self._check_domains(batch, domains)
        terms, has_negative, anchors, positives = self.anchor_terms(batch, domains, generator)
        if self.training and not has_negative.any():
            raise DarlaError(
                f"dcodr found no two frames of one source domain in a training batch of "
                f"{len(batch)} (its negatives share the anchor's domain): raise "
                "train.batch_size, e.g. to 64"
            )
        count = has_negative.sum().clamp(min=1)
        loss = terms.sum() / count  # an anchor without a negative adds exactly 0
        with torch.no_grad():
            similarity = anchors @ anchors.T
            same = domains[:, None] == domains[None, :]
            same.fill_diagonal_(False)
            positive = (anchors * positives).sum(dim=1)
            pairs = same.sum().clamp(min=1)
            negative = similarity.masked_fill(~same, 0.0).sum() / pairs
            hardest = similarity.masked_fill(~same, -torch.inf).amax(dim=1)
            accuracy = ((positive > hardest) & has_negative).sum() / count
        return {
            "loss": loss,
            "positive_similarity": positive.mean(),
            "negative_similarity": negative,
            "accuracy": accuracy.to(loss.dtype),
            "anchors_without_negatives": (~has_negative).to(loss.dtype).mean(),
        }

    @staticmethod
    def _check_domains(batch: torch.Tensor, domains: torch.Tensor | None) -> torch.Tensor:
        if domains is None:
            raise DarlaError(
                "dcodr needs each frame's source domain: call loss(x, domains=...) with the "
                "frames' domain_ids (darla see passes them)"
            )
        domains = torch.as_tensor(domains, device=batch.device)
        if domains.shape != (len(batch),) or domains.is_floating_point() or domains.is_complex():
            raise DarlaError(
                f"dcodr's domains must be one integer domain index per frame, shape "
                f"({len(batch)},), got {domains.dtype} of shape {tuple(domains.shape)}: pass the "
                "frames' domain_ids"
            )
        return domains

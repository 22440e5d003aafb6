"""BYOL: an online network learns to predict a slowly moving average of itself on another view.

Grill et al. 2020, "Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning". Two
augmented views of a frame go through two networks. The online network is the repo's conv trunk
-> FC -> h (``latent_mean``, D dims) -> a projection MLP -> a predictor MLP; the target network
is trunk -> FC -> h -> projection, with weights ξ that are an exponential moving average of the
online weights θ, never trained by the optimizer. The loss regresses the online prediction of
one view onto the target projection of the other with the normalised MSE
``‖p̂ − ẑ‖² = 2 − 2·cos(p, z)``, the target behind a stop-gradient, and is symmetrised by swapping
the views: ``L = L(v1 → v2) + L(v2 → v1)``, the sum as in the paper. There are no negatives;
the predictor and the slow target are what keep the code from collapsing to a constant.

After each optimizer step the target moves as ``ξ ← τ·ξ + (1 − τ)·θ`` with the paper's cosine
schedule ``τ_k = 1 − (1 − τ_base)·(cos(πk/K) + 1)/2`` from ``tau_base`` at step 0 to 1 at step
K = ``ema_steps``; τ is a pure function of the step, so a resumed run is exact. The target is a
registered submodule (saved and checkpointed with the model) whose parameters have
``requires_grad`` False and sit in no optimizer.

Adapted here: the paper's ResNet-50 and 4096-wide MLPs are the repo's conv trunk and MLPs a few
hundred wide (batch norm after the hidden layer, as in the paper); Adam at ``train.lr`` instead of
LARS with weight decay; the views use the contrastive encoder's augmentations (resized crop,
DrQ-style shift, colour jitter without hue, no flip: see
:class:`~darla.vision.augment.Augmentations`) rather than the paper's asymmetric ImageNet set.
Like the contrastive encoder, the agent gets h, not the projection.

The model is not generative: it has no decoder, so ``generative`` is False and :meth:`decode`
raises.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from darla.errors import DarlaError
from darla.vision.augment import Augmentations, augment
from darla.vision.base import VisionModel
from darla.vision.checks import check_positive_int, check_unit_interval
from darla.vision.trunk import ConvTrunk, trunk_out_features

# the online modules the target copies, by the names the target holds them under
TARGET_PARTS: tuple[str, ...] = ("trunk", "fc", "head", "projection")


def ema_rate(step: int, tau_base: float, total_steps: int) -> float:
    """BYOL's τ at optimizer step ``step``: ``1 − (1 − τ_base)·(cos(πk/K) + 1)/2`` with k the
    step clamped to [0, K] and K = ``total_steps``; ``tau_base`` at step 0, 1 from step K on."""
    k = min(max(int(step), 0), total_steps)
    return 1.0 - (1.0 - tau_base) * (math.cos(math.pi * k / total_steps) + 1.0) / 2.0


def normalized_mse(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``‖p/‖p‖ − z/‖z‖‖² = 2 − 2·cos(p, z)`` per row of ``[B, P]`` inputs: ``[B]``."""
    return 2.0 - 2.0 * F.cosine_similarity(prediction, target, dim=1)


def _mlp(in_dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    # the paper's projector and predictor: Linear, batch norm, ReLU, Linear
    return nn.Sequential(
        nn.Linear(in_dim, hidden_dim),
        nn.BatchNorm1d(hidden_dim),
        nn.ReLU(),
        nn.Linear(hidden_dim, out_dim),
    )


class BYOL(VisionModel):
    """Online trunk -> FC -> h (the code) -> projection -> predictor; an EMA target without the
    predictor; trained with BYOL's symmetrised normalised MSE.

    Args:
        image_size: side of the square frames; a multiple of 16.
        latent_dim: size D of the representation h that ``latent_mean`` returns.
        hidden_dim: width of the FC layer between the trunk and h.
        projection_dim: size of the projection z and of the prediction (the paper: 256).
        projection_hidden_dim: hidden width of the projection MLP (the paper: 4096).
        predictor_hidden_dim: hidden width of the predictor MLP (the paper: 4096, as the
            projection's).
        tau_base: the target's EMA rate at step 0, in [0, 1] (the paper: 0.996); it rises to 1
            along a cosine over ``ema_steps`` steps.
        ema_steps: K, the steps of the cosine schedule (``darla see``: train.steps).
        crop_scale, crop_ratio, shift_pad, horizontal_flip, jitter, jitter_prob: the
            augmentations, see :class:`~darla.vision.augment.Augmentations`.
    """

    generative: ClassVar[bool] = False
    OPTION_HINTS: ClassVar[dict[str, str]] = {
        "beta": "byol has no beta: it is not a VAE; its knob is vision.model.tau_base",
        "likelihood": "byol has no likelihood: it does not reconstruct pixels",
        "temperature": "byol has no temperature: it uses no negatives; its knob is "
        "vision.model.tau_base",
    }

    def __init__(
        self,
        image_size: int = 64,
        latent_dim: int = 32,
        hidden_dim: int = 256,
        projection_dim: int = 64,
        projection_hidden_dim: int = 256,
        predictor_hidden_dim: int = 256,
        tau_base: float = 0.996,
        ema_steps: int = 4000,
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
            ("predictor_hidden_dim", predictor_hidden_dim, 256),
        ):
            check_positive_int(name, value, example)
        if not isinstance(ema_steps, int) or isinstance(ema_steps, bool) or ema_steps <= 0:
            raise DarlaError(
                f"ema_steps must be a positive integer, got {ema_steps!r}: leave it null in the "
                "config to take train.steps, or use e.g. 4000"
            )
        tau_base = check_unit_interval("tau_base", tau_base, "use e.g. 0.996")
        self.augmentations = Augmentations.from_options(
            crop_scale, crop_ratio, shift_pad, horizontal_flip, jitter, jitter_prob
        )
        self._config = {
            "name": "byol",
            "image_size": image_size,
            "latent_dim": latent_dim,
            "hidden_dim": hidden_dim,
            "projection_dim": projection_dim,
            "projection_hidden_dim": projection_hidden_dim,
            "predictor_hidden_dim": predictor_hidden_dim,
            "tau_base": tau_base,
            "ema_steps": ema_steps,
            **self.augmentations.options(),
        }
        self.trunk = ConvTrunk(image_size)
        self.fc = nn.Sequential(nn.Linear(trunk_out_features(image_size), hidden_dim), nn.ReLU())
        self.head = nn.Linear(hidden_dim, latent_dim)
        self.projection = _mlp(latent_dim, projection_hidden_dim, projection_dim)
        self.predictor = _mlp(projection_dim, predictor_hidden_dim, projection_dim)
        # ξ starts as a copy of θ (the paper initialises both alike); a registered submodule, so
        # state_dict, checkpoints and model.safetensors hold it, outside every optimizer
        self.target = nn.ModuleDict(
            {name: copy.deepcopy(getattr(self, name)) for name in TARGET_PARTS}
        ).requires_grad_(False)
        self._step = 0

    @property
    def latent_dim(self) -> int:
        return self._config["latent_dim"]

    @property
    def tau(self) -> float:
        """τ at the current step (``tau_base`` for a model the trainer never stepped)."""
        c = self._config
        return ema_rate(self._step, c["tau_base"], c["ema_steps"])

    def set_step(self, step: int) -> None:
        self._step = int(step)

    def online_parameters(self) -> list[nn.Parameter]:
        """θ: every parameter but the target's (the predictor included)."""
        target = {id(p) for p in self.target.parameters()}
        return [p for p in self.parameters() if id(p) not in target]

    def make_optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        return {"model": torch.optim.Adam(self.online_parameters(), lr=lr)}

    def step_optimizers(
        self, terms: dict[str, torch.Tensor], optimizers: dict[str, torch.optim.Optimizer]
    ) -> None:
        """The online update, then the target's EMA step ``ξ ← τ·ξ + (1 − τ)·θ`` at this step's τ."""
        super().step_optimizers(terms, optimizers)
        self.update_target()

    @torch.no_grad()
    def update_target(self) -> None:
        tau = self.tau
        for name in TARGET_PARTS:
            online = dict(getattr(self, name).named_parameters())
            for key, xi in self.target[name].named_parameters():
                xi.mul_(tau).add_(online[key].detach(), alpha=1.0 - tau)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        """The online representation h, deterministic: ``(h, None)``."""
        return self.head(self.fc(self.trunk(x).flatten(1))), None

    def target_projection(self, x: torch.Tensor) -> torch.Tensor:
        t = self.target
        return t["projection"](t["head"](t["fc"](t["trunk"](x).flatten(1))))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise DarlaError(
            "byol has no decoder (it is not generative): there are no reconstructions "
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
        """``loss`` = ``mean(2 − 2cos(q(v1), z'(v2))) + mean(2 − 2cos(q(v2), z'(v1)))``, q the
        online prediction and z' the target projection (no gradient).

        Also ``positive_similarity`` (mean cosine of a prediction and its target, 1 when the
        loss is 0), ``tau`` (the EMA rate this step's update uses) and ``projection_std`` (the
        spread of the online projections' unit vectors across the batch, per dimension: about
        1/√projection_dim when they spread out, 0 when the code collapses to a constant).
        """
        if self.training and len(batch) < 2:
            raise DarlaError(
                f"byol needs at least 2 frames per training batch (batch norm in its MLPs), "
                f"got {len(batch)}: set train.batch_size to e.g. 64"
            )
        view1, view2 = self.views(batch, generator)
        both = torch.cat([view1, view2])
        h, _ = self.encode(both)
        projections = self.projection(h)
        p1, p2 = self.predictor(projections).chunk(2)
        with torch.no_grad():
            z1, z2 = self.target_projection(both).chunk(2)
        loss = normalized_mse(p1, z2).mean() + normalized_mse(p2, z1).mean()
        with torch.no_grad():
            positive = torch.cat(
                [F.cosine_similarity(p1, z2, dim=1), F.cosine_similarity(p2, z1, dim=1)]
            ).mean()
            spread = F.normalize(projections, dim=1).std(dim=0, correction=0).mean()
        return {
            "loss": loss,
            "positive_similarity": positive,
            "tau": torch.tensor(self.tau, device=loss.device, dtype=loss.dtype),
            "projection_std": spread,
        }

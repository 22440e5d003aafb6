"""InfoGAN: a GAN whose generator's codes a network Q recovers from its images.

Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by Information Maximizing
Generative Adversarial Nets". The generator G draws an image from incompressible noise ε and from
codes c (categorical one-hots and continuous values in [-1, 1]); the discriminator D tells real
frames from G's; Q, a head on D's conv trunk, predicts c from G(ε, c). Maximising a lower bound
on the mutual information I(c; G(ε, c)), i.e. minimising Q's negative log-likelihood of the codes,
makes each code control something Q can see, which tends to be one factor of the scene.

Losses per step (one minibatch of real frames x, one of codes):

- ``discriminator_loss`` = BCE(D(x), real_label) + BCE(D(G(ε, c)), 0) + ``info_loss`` on the
  detached fakes: D's trunk learns the codes too, as in the paper's reference code.
- ``loss`` = BCE(D(G(ε, c)), 1) (the non-saturating generator loss) + ``info_loss``, where
  ``info_loss`` = λ_cat · CE(categorical codes) + λ_cont · Gaussian NLL(continuous codes).

Stabilisers (the usual DCGAN tricks, on the repo's conv 32-32-64-64 trunk): spectral norm on every
layer of D (Miyato et al. 2018), one-sided label smoothing (real label 0.9, Salimans et al. 2016),
batch norm in G, Adam betas (0.5, 0.999) for both optimizers, and D's learning rate lower than
G's by default. Q's predicted log-variance is squashed into (-5, 5) so the NLL is bounded below.

Code layout, shared by ``latent_mean``, ``encode`` and ``decode``: the first ``continuous_dim``
entries are the continuous codes (Q's means), then one block per categorical code holding its
probabilities (each block sums to 1). ``decode(z)`` is G with the noise ε at its mean, 0, so the
"reconstruction" of a frame is G(Q(x), ε = 0): what the codes alone say about it.

What to expect on the 64px room frames (8000 steps, batch 64, on a GPU): samples show walls,
ceiling, floor and coloured objects, blurry; the categorical code picks the room's look (brick
close-up, wood walls with a chequered floor). Q recovers the continuous codes almost exactly
while a traversal barely changes the image: G hides them in faint pixel patterns, a known
InfoGAN failure, so do not expect one factor per continuous code here.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from darla.errors import DarlaError
from darla.vision.base import VisionModel
from darla.vision.checks import check_positive_int
from darla.vision.losses import check_loss_weight
from darla.vision.trunk import TRUNK_CHANNELS, feature_side, trunk_out_features

LOGVAR_BOUND = 5.0  # Q's log σ² lies in (-5, 5): the continuous NLL cannot run off to -inf


def check_rate(name: str, value: float, example: float) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise DarlaError(f"{name} must be a positive number, got {value!r}: use e.g. {example}")
    return float(value)


def check_betas(name: str, betas: Sequence[float]) -> list[float]:
    values = list(betas)
    if len(values) != 2 or not all(
        isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in values
    ):
        raise DarlaError(
            f"{name} must be two numbers in [0, 1), got {betas!r}: use e.g. [0.5, 0.999]"
        )
    return [float(b) for b in values]


def check_codes(continuous_dim: int, categorical_dims: Sequence[int]) -> list[int]:
    if (
        not isinstance(continuous_dim, int)
        or isinstance(continuous_dim, bool)
        or continuous_dim < 0
    ):
        raise DarlaError(
            f"continuous_dim must be an integer >= 0, got {continuous_dim!r}: use e.g. 8"
        )
    sizes = list(categorical_dims)
    if not all(isinstance(k, int) and not isinstance(k, bool) and k >= 2 for k in sizes):
        raise DarlaError(
            f"categorical_dims must be category counts >= 2, got {categorical_dims!r}: "
            "use e.g. [10], or [] for none"
        )
    if continuous_dim == 0 and not sizes:
        raise DarlaError(
            "InfoGAN needs at least one code: set continuous_dim > 0 or categorical_dims "
            "(e.g. continuous_dim=8) - without codes it is a plain GAN with no representation"
        )
    return sizes


class Generator(nn.Module):
    """DCGAN generator mirroring the trunk: FC -> FC 4*4*64 -> transposed convs 64-32-32-3.

    Batch norm after every layer but the last, ReLU, and a sigmoid out (images in [0, 1]).
    """

    def __init__(self, image_size: int, in_features: int, hidden_dim: int) -> None:
        super().__init__()
        self.side = feature_side(image_size)
        out = trunk_out_features(image_size)
        self.fc = nn.Sequential(
            nn.Linear(in_features, hidden_dim),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, out),
            nn.BatchNorm1d(out),
            nn.ReLU(),
        )
        channels = (*reversed(TRUNK_CHANNELS), 3)
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(itertools.pairwise(channels)):
            layers.append(nn.ConvTranspose2d(c_in, c_out, kernel_size=4, stride=2, padding=1))
            if i < len(channels) - 2:
                layers += [nn.BatchNorm2d(c_out), nn.ReLU()]
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(-1, TRUNK_CHANNELS[-1], self.side, self.side)
        return torch.sigmoid(self.deconv(h))


def discriminator_trunk(image_size: int, hidden_dim: int) -> nn.Sequential:
    """conv 32-32-64-64 (4x4, stride 2) -> FC ``hidden_dim``; spectral norm, leaky ReLU 0.2."""
    channels = (3, *TRUNK_CHANNELS)
    layers: list[nn.Module] = []
    for c_in, c_out in itertools.pairwise(channels):
        layers += [
            spectral_norm(nn.Conv2d(c_in, c_out, kernel_size=4, stride=2, padding=1)),
            nn.LeakyReLU(0.2),
        ]
    layers += [
        nn.Flatten(),
        spectral_norm(nn.Linear(trunk_out_features(image_size), hidden_dim)),
        nn.LeakyReLU(0.2),
    ]
    return nn.Sequential(*layers)


class InfoGAN(VisionModel):
    """Generator, discriminator and Q head; ``latent_mean`` is Q's prediction of the codes.

    Args:
        image_size: side of the square frames; a multiple of 16.
        noise_dim: size of the incompressible noise ε ~ N(0, I) (the paper: 62 for MNIST).
        continuous_dim: number of continuous codes, each ~ U(-1, 1) (the paper: 2 to 5).
        categorical_dims: number of categories of each categorical code (the paper: [10]).
        hidden_dim: width of the FC layer in G, in D's trunk and in Q's head.
        lambda_cat: weight of the categorical codes' cross-entropy (the paper: 1).
        lambda_cont: weight of the continuous codes' Gaussian NLL (the paper: "smaller", e.g.
            0.1, so it does not dominate the categorical term).
        real_label: the target for real frames in D's loss; 0.9 is one-sided label smoothing,
            1.0 turns it off.
        discriminator_lr: Adam learning rate of D (trunk and real/fake head); G and Q use
            ``train.lr``.
        betas: Adam betas of both optimizers (DCGAN: 0.5, 0.999).
    """

    OPTION_HINTS: ClassVar[dict[str, str]] = {
        "beta": "infogan has no beta: it is not a VAE; its code weights are "
        "vision.model.lambda_cat and vision.model.lambda_cont",
        "latent_dim": "infogan has no latent_dim: its code has continuous_dim + "
        "sum(categorical_dims) entries; set vision.model.continuous_dim / categorical_dims",
    }

    def __init__(
        self,
        image_size: int = 64,
        noise_dim: int = 64,
        continuous_dim: int = 8,
        categorical_dims: Sequence[int] = (10,),
        hidden_dim: int = 256,
        lambda_cat: float = 1.0,
        lambda_cont: float = 0.1,
        real_label: float = 0.9,
        discriminator_lr: float = 2e-4,
        betas: Sequence[float] = (0.5, 0.999),
    ) -> None:
        super().__init__()
        check_positive_int("noise_dim", noise_dim, 64)
        check_positive_int("hidden_dim", hidden_dim, 256)
        categorical = check_codes(continuous_dim, categorical_dims)
        if (
            not isinstance(real_label, (int, float))
            or isinstance(real_label, bool)
            or not 0.5 < real_label <= 1.0
        ):
            raise DarlaError(
                f"real_label must be in (0.5, 1], got {real_label!r}: use 0.9 (one-sided label "
                "smoothing) or 1.0 (none)"
            )
        self._config = {
            "name": "infogan",
            "image_size": image_size,
            "noise_dim": noise_dim,
            "continuous_dim": continuous_dim,
            "categorical_dims": categorical,
            "hidden_dim": hidden_dim,
            "lambda_cat": check_loss_weight("lambda_cat", lambda_cat, 1.0),
            "lambda_cont": check_loss_weight("lambda_cont", lambda_cont, 0.1),
            "real_label": float(real_label),
            "discriminator_lr": check_rate("discriminator_lr", discriminator_lr, 2e-4),
            "betas": check_betas("betas", betas),
        }
        self.code_dim = continuous_dim + sum(categorical)
        self.generator = Generator(image_size, self.code_dim + noise_dim, hidden_dim)
        self.trunk = discriminator_trunk(image_size, hidden_dim)
        self.d_head = spectral_norm(nn.Linear(hidden_dim, 1))
        # Q: one more FC on D's trunk, then the continuous means and log-variances and the
        # categorical logits (the paper's Q shares all of D's conv layers).
        self.q_head = nn.Sequential(
            nn.Linear(hidden_dim, hidden_dim),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden_dim, 2 * continuous_dim + sum(categorical)),
        )

    @property
    def latent_dim(self) -> int:
        return self.code_dim

    # --- codes ---------------------------------------------------------------------------------

    def sample_codes(
        self, batch: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(continuous [B, C] ~ U(-1, 1), category indices [B, K] (long), noise [B, N])``."""
        c = self._config
        device = self.device if generator is None else generator.device
        continuous = torch.rand(batch, c["continuous_dim"], generator=generator, device=device)
        continuous = continuous * 2 - 1
        indices = [
            torch.randint(k, (batch,), generator=generator, device=device)
            for k in c["categorical_dims"]
        ]
        categories = torch.stack(indices, dim=1) if indices else torch.zeros(batch, 0).long()
        noise = torch.randn(batch, c["noise_dim"], generator=generator, device=device)
        return continuous.to(self.device), categories.to(self.device), noise.to(self.device)

    def code_vector(self, continuous: torch.Tensor, categories: torch.Tensor) -> torch.Tensor:
        """Codes in the ``latent_mean`` layout: continuous values, then one one-hot per code."""
        one_hots = [
            F.one_hot(categories[:, i], k).to(continuous.dtype)
            for i, k in enumerate(self._config["categorical_dims"])
        ]
        return torch.cat([continuous, *one_hots], dim=1)

    def generate(self, codes: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """G(ε, c) for codes ``[B, D]`` in the ``latent_mean`` layout; images in [0, 1]."""
        return self.generator(torch.cat([codes, noise], dim=1))

    # --- the VisionModel interface -------------------------------------------------------------

    def q_outputs(
        self, features: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Q's continuous means, log-variances (bounded) and per-code categorical logits."""
        c = self._config
        out = self.q_head(features)
        n = c["continuous_dim"]
        mean, raw_logvar = out[:, :n], out[:, n : 2 * n]
        logvar = LOGVAR_BOUND * torch.tanh(raw_logvar / LOGVAR_BOUND)
        logits = list(out[:, 2 * n :].split(c["categorical_dims"], dim=1))
        return mean, logvar, logits

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Q's code posterior in the ``latent_mean`` layout: ``(means, log-variances)``.

        For a categorical entry the mean is the category's probability p and the log-variance
        that of its one-hot indicator, log p(1 − p); this is what traversal grids sort by.
        """
        mean, logvar, logits = self.q_outputs(self.trunk(x))
        probs = [logit.softmax(dim=1) for logit in logits]
        variances = [(p * (1 - p)).clamp_min(1e-6).log() for p in probs]
        return torch.cat([mean, *probs], dim=1), torch.cat([logvar, *variances], dim=1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """G(z, ε = 0): the generator at the noise's mean, so decoding is deterministic."""
        noise = z.new_zeros(len(z), self._config["noise_dim"])
        return self.generate(z, noise)

    # --- training ------------------------------------------------------------------------------

    def info_loss(
        self, features: torch.Tensor, continuous: torch.Tensor, categories: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(weighted total, categorical CE, continuous NLL)``: Q's loss on codes it should recover.

        Each term is summed over its codes and averaged over the batch (the repo's convention);
        the NLL drops the constant ½·log 2π per code, so it is 0 for a unit-variance exact guess.
        """
        c = self._config
        mean, logvar, logits = self.q_outputs(features)
        zero = features.new_zeros(())
        categorical = sum(
            (F.cross_entropy(logit, categories[:, i]) for i, logit in enumerate(logits)), zero
        )
        nll = 0.5 * (logvar + (continuous - mean).pow(2) * torch.exp(-logvar))
        continuous_nll = nll.sum(dim=1).mean() if c["continuous_dim"] else zero
        total = c["lambda_cat"] * categorical + c["lambda_cont"] * continuous_nll
        return total, categorical, continuous_nll

    def loss(
        self, batch: torch.Tensor, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """``loss`` (G and Q's objective) and ``discriminator_loss`` (D's), from one set of fakes.

        Also: ``generator_loss`` (non-saturating GAN term), ``info_loss`` and its parts
        ``categorical_loss`` / ``continuous_loss``, and D's mean probability of "real" on the
        real frames (``d_real``) and on the fakes (``d_fake``).
        """
        c = self._config
        if self.training and len(batch) < 2:
            raise DarlaError(
                f"infogan needs at least 2 frames per training batch (batch norm in G), got "
                f"{len(batch)}: set train.batch_size to e.g. 64"
            )
        continuous, categories, noise = self.sample_codes(len(batch), generator)
        fake = self.generate(self.code_vector(continuous, categories), noise)

        # G and Q: through D's (frozen for this step) trunk into G.
        features = self.trunk(fake)
        fake_logit = self.d_head(features).squeeze(1)
        generator_loss = F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit))
        info, categorical, continuous_nll = self.info_loss(features, continuous, categories)

        # D: real frames against detached fakes, plus Q's loss through the shared trunk.
        real_logit = self.d_head(self.trunk(batch)).squeeze(1)
        detached = self.trunk(fake.detach())
        detached_logit = self.d_head(detached).squeeze(1)
        real_target = torch.full_like(real_logit, c["real_label"])
        discriminator_loss = (
            F.binary_cross_entropy_with_logits(real_logit, real_target)
            + F.binary_cross_entropy_with_logits(detached_logit, torch.zeros_like(detached_logit))
            + self.info_loss(detached, continuous, categories)[0]
        )
        return {
            "loss": generator_loss + info,
            "generator_loss": generator_loss,
            "info_loss": info,
            "categorical_loss": categorical,
            "continuous_loss": continuous_nll,
            "discriminator_loss": discriminator_loss,
            "d_real": torch.sigmoid(real_logit).mean(),
            "d_fake": torch.sigmoid(detached_logit).mean(),
        }

    def generator_parameters(self) -> list[nn.Parameter]:
        """G's and Q's weights: what ``train.lr``'s optimizer updates."""
        return [*self.generator.parameters(), *self.q_head.parameters()]

    def discriminator_parameters(self) -> list[nn.Parameter]:
        """D's trunk (shared with Q) and real/fake head."""
        return [*self.trunk.parameters(), *self.d_head.parameters()]

    def make_optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        c = self._config
        betas = tuple(c["betas"])
        return {
            "model": torch.optim.Adam(self.generator_parameters(), lr=lr, betas=betas),
            "discriminator": torch.optim.Adam(
                self.discriminator_parameters(), lr=c["discriminator_lr"], betas=betas
            ),
        }

    def step_optimizers(
        self, terms: dict[str, torch.Tensor], optimizers: dict[str, torch.optim.Optimizer]
    ) -> None:
        """One simultaneous update: G and Q on ``loss``, D on ``discriminator_loss``.

        Both gradients are taken before either optimizer steps, because each loss reads the
        other's weights (G's loss goes through D's trunk, D's info term through Q's head) and an
        optimizer step changes them in place. Each optimizer sees only its own loss's gradient.
        """
        if not torch.isfinite(terms["discriminator_loss"]):
            raise DarlaError(
                f"infogan discriminator loss became {terms['discriminator_loss'].item()}; "
                "lower vision.model.discriminator_lr or train.lr and run again"
            )
        updates = (
            ("model", terms["loss"], self.generator_parameters()),
            ("discriminator", terms["discriminator_loss"], self.discriminator_parameters()),
        )
        grads = [torch.autograd.grad(loss, params) for _, loss, params in updates]
        for (name, _, params), param_grads in zip(updates, grads, strict=True):
            optimizer = optimizers[name]
            optimizer.zero_grad(set_to_none=True)
            for param, grad in zip(params, param_grads, strict=True):
                param.grad = grad
            optimizer.step()

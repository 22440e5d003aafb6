"""SCAN: symbols grounded in a frozen disentangled visual model (Higgins et al. 2018).

Higgins et al. 2018, "SCAN: Learning Hierarchical Compositional Visual Concepts". A symbol VAE
over k-hot descriptions y (one one-hot group per factor, concatenated) learns q(z|y) in the latent
space of a pretrained, frozen β-VAE / β-VAE_DAE q(z|x):

    loss = recon(y) + β·KL(q(z|y) || N(0, I)) + λ·KL(q(z|x) || q(z|y))

The last term is the forward KL from the visual posterior: it is mode-covering, so for a latent
that a description leaves open (every image of a "red object" has its own wall texture) q(z|y)
grows broad enough to cover all the visual posteriors it is paired with. That is what lets a
partial description be decoded into images that fill the unspecified factors in from the data.
To learn it, each training label leaves each factor out with probability ``label_dropout`` (its
one-hot group all zero) and the symbol reconstruction scores only the factors it specified.

- ``img2sym``: image -> μ of the visual encoder -> symbol decoder -> a value per factor.
- ``sym2img``: a (partial) description -> q(z|y) -> samples -> the visual decoder -> images.
- ``latent_mean`` (what ``darla act`` feeds the agent) is the visual model's μ(x): SCAN adds
  symbols on top of the visual latents, it does not change them.

The visual model is frozen for good, as the DAE inside β-VAE_DAE: deep-copied, no gradients,
always in eval mode, outside ``parameters()``/``state_dict()``; ``save_model`` stores its weights
in the same file (prefix ``frozen_visual.``), so one file restores img2sym, sym2img and act.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from darla.errors import DarlaError
from darla.vision.base import PretrainedPart, VisionModel, eval_mode, tensor_to_images
from darla.vision.checks import check_beta, check_positive_int
from darla.vision.losses import check_loss_weight, kl_per_dim, reparameterize

VISUAL_PREFIX = "frozen_visual."
# The visual model: the `darla see` run of `vision.visual` (a β-VAE_DAE by default), trained or
# reused first, or `visual_run=PATH`. SCAN's latents are its latents, and so are its scores.
VISUAL = PretrainedPart(
    name="visual",
    run_option="visual_run",
    prefix=VISUAL_PREFIX,
    kind=VisionModel,
    what="visual model",
    trained_by=("darla", "beta_vae"),
    hint="pass visual=<VisionModel> or the path to a β-VAE / β-VAE_DAE run "
    "(`darla see vision=scan visual_run=PATH`)",
    shares_latents=True,
)


def gaussian_kl(
    mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor, logvar_p: torch.Tensor
) -> torch.Tensor:
    """Elementwise KL(N(mu_q, e^logvar_q) || N(mu_p, e^logvar_p)); sum over latents yourself."""
    return 0.5 * (
        logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p).pow(2)) / logvar_p.exp() - 1.0
    )


def _check_visual(visual: Any) -> VisionModel:
    """A trained VAE-type vision model (``build_model`` resolves a path to one first)."""
    if not isinstance(visual, VisionModel):
        raise DarlaError(
            f"scan needs a trained visual model, got a {type(visual).__name__}: {VISUAL.hint}"
        )
    if isinstance(visual, SCAN):
        raise DarlaError("scan's visual model cannot itself be a scan model: use its visual run")
    size = visual.config.get("image_size")
    with eval_mode(visual):
        _, logvar = visual.encode(torch.zeros(1, 3, size, size, device=visual.device))
    if logvar is None:
        raise DarlaError(
            f"scan needs a VAE-type visual model (an encoder giving μ and log σ²), got "
            f"{visual.config.get('name')}: use a darla, beta_vae or vae run"
        )
    return visual


def _check_vocabulary(factor_names: Any, factor_values: Any) -> tuple[list[str], list[list[Any]]]:
    if factor_names is None or factor_values is None:
        raise DarlaError(
            "scan needs factor_names and factor_values (the symbols' vocabulary): `darla see` "
            "fills them from the data; pass e.g. factor_names=['colour'], "
            "factor_values=[['red', 'green']]"
        )
    names = [str(n) for n in factor_names]
    values = [list(v) for v in factor_values]
    if not names or len(set(names)) != len(names):
        raise DarlaError(f"factor_names must be distinct and non-empty, got {names}")
    if len(values) != len(names):
        raise DarlaError(
            f"factor_values has {len(values)} lists for {len(names)} factor_names: one list of "
            "values per factor"
        )
    for name, vals in zip(names, values, strict=True):
        if not vals or len({repr(v) for v in vals}) != len(vals):
            raise DarlaError(f"factor {name!r} needs distinct values, got {vals}")
    return names, values


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (f_in, f_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(f_in, f_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class SCAN(VisionModel):
    """A symbol VAE whose latent space is a frozen visual VAE's.

    Args:
        visual: the trained visual model (β-VAE_DAE, β-VAE, VAE ...); ``build_model`` also
            takes the path to its run folder or model file.
        factor_names: the symbol factors, in the order of the ``factors`` label columns.
        factor_values: the values of each factor; a label is an index into its factor's list.
        image_size: defaults to the visual model's; must equal it.
        hidden_dim: width of the two hidden layers of the symbol encoder and decoder MLPs.
        beta: weight of KL(q(z|y) || N(0, I)).
        lambda_: λ, weight of the grounding term KL(q(z|x) || q(z|y)).
        label_dropout: probability that a training label leaves a factor unspecified, so that
            partial descriptions are in-distribution (0: every label specifies every factor).
    """

    OPTION_HINTS: ClassVar[dict[str, str]] = {
        "latent_dim": "scan has no latent_dim: its latents are the visual model's",
        "lambda": "scan's λ is spelled lambda_ (lambda is a Python keyword): vision.model.lambda_",
    }
    training_data: ClassVar[str] = "labelled"
    pretrained: ClassVar[tuple[PretrainedPart, ...]] = (VISUAL,)

    def __init__(
        self,
        visual: VisionModel,
        factor_names: Sequence[str] | None = None,
        factor_values: Sequence[Sequence[Any]] | None = None,
        image_size: int | None = None,
        hidden_dim: int = 128,
        beta: float = 1.0,
        lambda_: float = 10.0,
        label_dropout: float = 0.5,
    ) -> None:
        super().__init__()
        visual = _check_visual(visual)
        names, values = _check_vocabulary(factor_names, factor_values)
        check_positive_int("hidden_dim", hidden_dim, 128)
        visual_size = visual.config.get("image_size")
        if image_size is None:
            image_size = visual_size
        if image_size != visual_size:
            raise DarlaError(
                f"image_size {image_size} differs from the visual model's {visual_size}: "
                "train the visual model on the same frames or leave image_size unset"
            )
        dropout_ok = isinstance(label_dropout, (int, float)) and not isinstance(label_dropout, bool)
        if not (dropout_ok and 0 <= label_dropout < 1):
            raise DarlaError(
                f"label_dropout must be in [0, 1), got {label_dropout!r}: use e.g. 0.5"
            )
        self._config = {
            "name": "scan",
            "visual": visual.config,
            "factor_names": names,
            "factor_values": values,
            "image_size": image_size,
            "hidden_dim": hidden_dim,
            "beta": check_beta(beta),
            "lambda_": check_loss_weight("lambda_", lambda_, 10.0),
            "label_dropout": float(label_dropout),
        }
        self.factor_sizes = tuple(len(v) for v in values)
        self._offsets = np.concatenate([[0], np.cumsum(self.factor_sizes)]).tolist()
        symbols, latents = self._offsets[-1], visual.latent_dim
        self.symbol_encoder = _mlp((symbols, hidden_dim, hidden_dim, 2 * latents))
        self.symbol_decoder = _mlp((latents, hidden_dim, hidden_dim, symbols))
        self.hold_frozen(VISUAL, visual)  # outside parameters() and state_dict(); saved

    # --- the frozen visual model -----------------------------------------------------------
    @property
    def visual(self) -> VisionModel:
        return self.frozen_part(VISUAL)

    @property
    def latent_dim(self) -> int:
        return self.visual.latent_dim

    @property
    def factor_names(self) -> list[str]:
        return list(self._config["factor_names"])

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """q(z|x) of the frozen visual model."""
        return self.visual.encode(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The frozen visual decoder."""
        return self.visual.decode(z)

    # --- symbols -------------------------------------------------------------------------
    def khot(self, factors: torch.Tensor, specified: torch.Tensor | None = None) -> torch.Tensor:
        """k-hot ``[B, Σ sizes]`` of int labels ``[B, K]``; unspecified factors stay all zero."""
        y = torch.zeros(len(factors), self._offsets[-1], device=factors.device)
        offsets = torch.tensor(self._offsets[:-1], device=factors.device)
        keep = torch.ones_like(factors, dtype=torch.bool) if specified is None else specified
        rows = torch.arange(len(factors), device=factors.device)[:, None].expand_as(factors)
        y[rows[keep], (factors + offsets)[keep]] = 1.0
        return y

    def encode_symbols(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|y): μ and log σ² for k-hot descriptions ``y``."""
        mu, logvar = self.symbol_encoder(y).chunk(2, dim=1)
        return mu, logvar

    def symbol_logits(self, z: torch.Tensor) -> list[torch.Tensor]:
        """p(y|z): one ``[B, size_k]`` logit block per factor."""
        out = self.symbol_decoder(z)
        return [out[:, a:b] for a, b in zip(self._offsets[:-1], self._offsets[1:], strict=True)]

    def _check_labels(self, factors: torch.Tensor | None, batch: int) -> torch.Tensor:
        if factors is None:
            raise DarlaError(
                "scan trains on frames with their factor labels: call loss(x, factors=...) "
                "(`darla see vision=scan` passes the labels stored with the frames)"
            )
        factors = torch.as_tensor(factors).long()
        if factors.shape != (batch, len(self.factor_sizes)):
            raise DarlaError(
                f"factors must have shape [{batch}, {len(self.factor_sizes)}] (one column per "
                f"factor: {', '.join(self.factor_names)}), got {tuple(factors.shape)}"
            )
        return factors

    def loss(
        self,
        batch: torch.Tensor,
        generator: torch.Generator | None = None,
        factors: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """``loss = recon + β·kl + λ·grounding`` for frames and their int labels ``[B, K]``.

        ``recon`` is the symbols' cross-entropy, one categorical per specified factor, summed
        over factors; ``kl`` = KL(q(z|y) || N(0, I)); ``grounding`` = KL(q(z|x) || q(z|y)); all
        summed over latents and averaged over the batch. The visual encoder runs without
        gradients.
        """
        factors = self._check_labels(factors, len(batch)).to(batch.device)
        with torch.no_grad():
            mu_x, logvar_x = self.visual.encode(batch)
        device = batch.device if generator is None else generator.device
        draws = torch.rand(factors.shape, generator=generator, device=device).to(batch.device)
        specified = draws >= self._config["label_dropout"]
        mu_y, logvar_y = self.encode_symbols(self.khot(factors, specified))
        z = reparameterize(mu_y, logvar_y, generator)
        ce = torch.stack(
            [
                F.cross_entropy(logits, factors[:, k], reduction="none")
                for k, logits in enumerate(self.symbol_logits(z))
            ],
            dim=1,
        )
        recon = (ce * specified).sum(dim=1).mean()
        kl_dims = kl_per_dim(mu_y, logvar_y)
        kl = kl_dims.sum()
        grounding = gaussian_kl(mu_x, logvar_x, mu_y, logvar_y).sum(dim=1).mean()
        c = self._config
        return {
            "loss": recon + c["beta"] * kl + c["lambda_"] * grounding,
            "recon": recon,
            "kl": kl,
            "grounding": grounding,
        }

    # --- bi-directional inference ----------------------------------------------------------
    def img2sym_indices(self, obs_uint8: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Int ``[N, K]``: the most likely value index of every factor for each frame."""
        mu = torch.from_numpy(self.latent_mean(obs_uint8, batch_size))
        out = np.empty((len(mu), len(self.factor_sizes)), dtype=np.int64)
        with eval_mode(self):
            for start in range(0, len(mu), batch_size):
                logits = self.symbol_logits(mu[start : start + batch_size].to(self.device))
                out[start : start + len(logits[0])] = (
                    torch.stack([lg.argmax(dim=1) for lg in logits], dim=1).cpu().numpy()
                )
        return out

    def img2sym(self, obs_uint8: np.ndarray, batch_size: int = 256) -> list[dict[str, Any]]:
        """One ``{factor: value}`` per uint8 frame ``[N, H, W, 3]``: visual μ -> symbol decoder."""
        names, values = self._config["factor_names"], self._config["factor_values"]
        return [
            {name: values[k][row[k]] for k, name in enumerate(names)}
            for row in self.img2sym_indices(obs_uint8, batch_size)
        ]

    def describe(self, factors: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Int labels ``[1, K]`` and the specified mask ``[1, K]`` of a partial description."""
        names, values = self._config["factor_names"], self._config["factor_values"]
        labels = torch.zeros(1, len(names), dtype=torch.long)
        specified = torch.zeros(1, len(names), dtype=torch.bool)
        for name, value in factors.items():
            if name not in names:
                raise DarlaError(
                    f"unknown factor {name!r} for sym2img: use one of {', '.join(names)}"
                )
            k = names.index(name)
            matches = [i for i, v in enumerate(values[k]) if v == value or str(v) == str(value)]
            if not matches:
                raise DarlaError(
                    f"unknown value {value!r} for factor {name}: use one of "
                    f"{', '.join(str(v) for v in values[k])}"
                )
            labels[0, k], specified[0, k] = matches[0], True
        return labels, specified

    def sym2img(self, factors: Mapping[str, Any], n: int = 1, seed: int = 0) -> np.ndarray:
        """``n`` uint8 images ``[n, H, W, 3]`` of a (partial) description ``{factor: value}``.

        Factors left out are marginalised: their one-hot groups stay zero and the samples of
        q(z|y) fill them in (with ``{}`` as the least specific description of all). Sampling uses
        a generator seeded with ``seed``, so the same call gives the same images.
        """
        check_positive_int("n", n, 8)
        labels, specified = self.describe(factors)
        generator = torch.Generator(device=self.device).manual_seed(int(seed))
        with eval_mode(self):
            y = self.khot(labels.to(self.device), specified.to(self.device))
            mu, logvar = self.encode_symbols(y)
            z = reparameterize(mu.expand(n, -1), logvar.expand(n, -1), generator)
            return tensor_to_images(self.decode(z))

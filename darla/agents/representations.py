"""What an agent acts on: the representation names ``darla act`` accepts, and how each is built.

``latent`` representations run a frozen vision module in :class:`~darla.agents.LatentVecEnv`
(the agent sees D floats); ``finetune`` trains the encoder with the RL loss through
:class:`~darla.agents.DarlaFeaturesExtractor`; ``pixels`` is SB3's NatureCNN trained end to end; ``pixels_aug`` is the same with its
observations augmented in the update (:mod:`darla.agents.augmentation`).
"""

from __future__ import annotations

from dataclasses import dataclass

from darla.errors import DarlaError


@dataclass(frozen=True)
class Representation:
    name: str
    mode: str  # "latent" | "finetune" | "pixels"
    vision: str | None  # the `darla see vision=...` that makes its encoder; None: none needed
    doc: str
    # the observations are augmented in the RL update (act's `augment:` settings, in its key)
    augments: bool = False


REPRESENTATIONS: dict[str, Representation] = {
    r.name: r
    for r in (
        Representation("darla", "latent", "darla", "β-VAE_DAE latent means μ(x), frozen (DARLA)"),
        Representation("beta_vae", "latent", "beta_vae", "β-VAE (pixel loss) latent means, frozen"),
        Representation("vae", "latent", "vae", "VAE (β = 1) latent means, frozen"),
        Representation("dae", "latent", "dae", "the DAE's bottleneck code, frozen"),
        Representation(
            "random", "latent", None, "an untrained encoder of DARLA's architecture, frozen"
        ),
        Representation(
            "vision_run",
            "latent",
            None,
            "the latent means of the vision run given as vision_run=PATH, whatever its model",
        ),
        Representation("pixels", "pixels", None, "SB3's NatureCNN on pixels, trained end to end"),
        Representation(
            "pixels_aug",
            "pixels",
            None,
            "NatureCNN on pixels, end to end, its frames randomly shifted in the update (DrQ/RAD)",
            augments=True,
        ),
        Representation(
            "darla_ft", "finetune", "darla", "the DARLA encoder, fine-tuned by the RL loss"
        ),
    )
}


def get_representation(name: str) -> Representation:
    if name not in REPRESENTATIONS:
        raise DarlaError(
            f"unknown representation {name!r}: use one of {', '.join(REPRESENTATIONS)} "
            "(or representation=vision_run vision_run=PATH for any other vision model)"
        )
    return REPRESENTATIONS[name]

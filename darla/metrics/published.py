"""Published disentanglement scores: the yardstick a sweep's table is read against.

Source: Locatello et al., "Challenging Common Assumptions in the Unsupervised Learning of
Disentangled Representations", ICML 2019 (arXiv:1811.12359), the disentanglement_lib study:
β-VAE, AnnealedVAE, FactorVAE, β-TCVAE, DIP-VAE-I and -II, each at 6 regularisation strengths x
50 seeds, 300,000 steps of batch 64 on 64x64 dSprites, scored with disentanglement_lib's own
implementations, the FactorVAE score's indexing bug included (:mod:`darla.metrics` fixes it, see
the README), so a FactorVAE score here and there can differ for a model with inactive latents. The paper publishes these as per-metric score distributions (violin plots),
not as a table: the ranges below are the bulk of the dSprites distributions pooled over the six
models, transcribed approximately (to about 0.05) from those figures. They say what a properly
trained model scores on a dSprites-like dataset, not what any one model should score.

Comparable setting: ``data.dataset=shapes`` (procedural 2D shapes: shape, scale, x, y, colour)
is the closest to dSprites (shape, scale, orientation, x, y). CollectGoodObjects has no published
counterpart.
"""

from __future__ import annotations

SOURCE = (
    "Locatello et al. 2019 (ICML, arXiv:1811.12359), disentanglement_lib study: dSprites, "
    "6 unsupervised models x 6 strengths x 50 seeds pooled; approximate, read off the paper's "
    "score distributions"
)

#: ``{headline label: (low, high)}`` on dSprites; labels as :data:`darla.metrics.HEADLINE`.
DSPRITES: dict[str, tuple[float, float]] = {
    "beta_vae": (0.55, 0.90),
    "factor_vae": (0.45, 0.85),
    "mig": (0.00, 0.40),
    "dci_disentanglement": (0.05, 0.60),
    "sap": (0.00, 0.10),
    "modularity": (0.75, 0.95),
}

#: Which published setting each of our datasets is comparable to.
COMPARABLE = {"shapes": ("dSprites", DSPRITES)}


def published_ranges(dataset: str) -> tuple[str, dict[str, tuple[float, float]]] | None:
    """The published (setting name, ranges) comparable to ``dataset``, or None where none is."""
    return COMPARABLE.get(dataset)

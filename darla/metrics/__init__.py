"""Disentanglement metrics (β-VAE, FactorVAE, MIG, DCI, SAP, Modularity & Explicitness) and the
object probe.

Numpy and scikit-learn only (no torch): a representation is any callable from uint8 images
``[n, H, W, 3]`` to float codes ``[n, D]``, and a dataset is anything with
``factor_names``, ``factor_sizes``, ``sample_factors(n, rng)`` and ``render(factors)``.

Each metric has a pure array core (``mig``, ``dci``, ``sap``, ``modularity_explicitness`` on
``codes [N, D]`` and ``factors [N, K]``; ``beta_vae_from_features`` and
``factor_vae_from_votes`` for the two sampling-based scores) and a sampling wrapper
(``*_score(dataset, represent, *, rng, ...)``) with disentanglement_lib's defaults. The object
probe's core is ``object_probe`` (codes and object places of train and test frames); its wrapper
renders random-agent episodes in an env factor dataset's domains.
:func:`evaluate` runs them all and records every parameter beside every score.
"""

from darla.metrics.active_dims import active_dimensions
from darla.metrics.beta_vae import beta_vae_features, beta_vae_from_features, beta_vae_score
from darla.metrics.dci import (
    completeness,
    completeness_per_factor,
    dci,
    dci_score,
    disentanglement,
    disentanglement_per_code,
    importance_gbt,
)
from darla.metrics.evaluate import (
    ALL,
    ENV_METRICS,
    FAST,
    HEADLINE,
    evaluate,
    headline_scores,
    metrics_for,
    to_jsonable,
    write_metrics,
)
from darla.metrics.factor_vae import (
    factor_vae_from_votes,
    factor_vae_score,
    factor_vae_votes,
    majority_vote,
    prune_dims,
    vote_accuracy,
)
from darla.metrics.ground_truth import (
    IdentityDataset,
    StampedDataset,
    identity_represent,
    read_stamp,
)
from darla.metrics.mig import mig, mig_from_mutual_info, mig_score
from darla.metrics.modularity import (
    explicitness_per_factor,
    modularity,
    modularity_explicitness,
    modularity_explicitness_score,
    modularity_per_code,
)
from darla.metrics.object_probe import (
    object_probe,
    object_probe_score,
    pixel_pca,
    probe_accuracy,
    render_probe_frames,
)
from darla.metrics.sampling import (
    FactorDataset,
    RepresentationFunction,
    encode_images,
    represent_factors,
    sample_codes,
)
from darla.metrics.sap import sap, sap_from_score_matrix, sap_score
from darla.metrics.utils import discrete_entropy, discrete_mutual_info, histogram_discretize

__all__ = [
    "ALL",
    "ENV_METRICS",
    "FAST",
    "HEADLINE",
    "FactorDataset",
    "IdentityDataset",
    "RepresentationFunction",
    "StampedDataset",
    "active_dimensions",
    "beta_vae_features",
    "beta_vae_from_features",
    "beta_vae_score",
    "completeness",
    "completeness_per_factor",
    "dci",
    "dci_score",
    "discrete_entropy",
    "discrete_mutual_info",
    "disentanglement",
    "disentanglement_per_code",
    "encode_images",
    "evaluate",
    "explicitness_per_factor",
    "factor_vae_from_votes",
    "factor_vae_score",
    "factor_vae_votes",
    "headline_scores",
    "histogram_discretize",
    "identity_represent",
    "importance_gbt",
    "majority_vote",
    "metrics_for",
    "mig",
    "mig_from_mutual_info",
    "mig_score",
    "modularity",
    "modularity_explicitness",
    "modularity_explicitness_score",
    "modularity_per_code",
    "object_probe",
    "object_probe_score",
    "pixel_pca",
    "probe_accuracy",
    "prune_dims",
    "read_stamp",
    "render_probe_frames",
    "represent_factors",
    "sample_codes",
    "sap",
    "sap_from_score_matrix",
    "sap_score",
    "to_jsonable",
    "vote_accuracy",
    "write_metrics",
]

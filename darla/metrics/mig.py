"""Mutual Information Gap (Chen et al., 2018, "Isolating Sources of Disentanglement in VAEs").

For each factor v_k: the gap between the code with the highest mutual information with v_k and
the runner-up, divided by H(v_k); MIG is the mean over factors. A factor captured by exactly one
code scores 1; a factor spread over (or duplicated in) two codes scores near 0. This is why MIG,
unlike DCI disentanglement, punishes a representation that encodes a factor twice.

As in disentanglement_lib, codes are discretised with a 20-bin histogram per code before the
plug-in MI estimate (``discretizer = histogram_discretizer, num_bins = 20``, 10000 points).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from darla.errors import DarlaError
from darla.metrics.sampling import (
    FactorDataset,
    RepresentationFunction,
    check_dataset,
    factor_names,
    sample_codes,
)
from darla.metrics.utils import (
    check_pair,
    check_varying_factors,
    discrete_entropy,
    discrete_mutual_info,
    histogram_discretize,
)

DEFAULTS: dict[str, Any] = {"num_train": 10000, "num_bins": 20, "batch_size": 64}


def mig_from_mutual_info(mutual_info: np.ndarray, entropy: np.ndarray) -> np.ndarray:
    """Per-factor normalised gap from an MI matrix ``[num_codes, num_factors]`` and ``H(v_k)``.

    The sort runs down the *codes* axis (axis 0), for each factor separately. Pitfall behind a
    known bug in other re-implementations: computing MI as ``[K, D]`` and reshaping it with
    ``.view(D, K)`` instead of transposing scrambles which code belongs to which factor whenever
    D != K, and the gap is then taken between unrelated numbers. With a single code the
    runner-up is taken as 0 (no second code can share the factor).
    """
    mutual_info = np.asarray(mutual_info, dtype=np.float64)
    entropy = np.asarray(entropy, dtype=np.float64)
    if mutual_info.ndim != 2 or entropy.shape != (mutual_info.shape[1],):
        raise DarlaError(
            f"mutual_info must be [num_codes, num_factors] and entropy [num_factors]; got "
            f"{mutual_info.shape} and {entropy.shape}"
        )
    if np.any(entropy <= 0):
        raise DarlaError(
            f"factor(s) {np.flatnonzero(entropy <= 0).tolist()} have zero entropy, so their MIG "
            "is undefined; drop constant factors or sample more points"
        )
    top_two = -np.sort(-mutual_info, axis=0)[:2]
    runner_up = top_two[1] if len(top_two) > 1 else np.zeros(mutual_info.shape[1])
    return (top_two[0] - runner_up) / entropy


def mig(codes: np.ndarray, factors: np.ndarray, *, num_bins: int = 20) -> dict[str, Any]:
    """MIG of codes ``[N, D]`` against discrete factors ``[N, K]``.

    Returns ``mig`` (mean over factors), ``mig_per_factor`` [K], ``mutual_info`` [D, K] (nats,
    after discretisation) and ``factor_entropy`` [K] (nats).
    """
    codes, factors = check_pair(codes, factors)
    check_varying_factors(factors)
    discretized = histogram_discretize(codes, num_bins)
    mutual_info = discrete_mutual_info(discretized, factors)
    entropy = discrete_entropy(factors)
    per_factor = mig_from_mutual_info(mutual_info, entropy)
    return {
        "mig": float(per_factor.mean()),
        "mig_per_factor": per_factor,
        "mutual_info": mutual_info,
        "factor_entropy": entropy,
    }


def mig_score(
    dataset: FactorDataset,
    represent: RepresentationFunction,
    *,
    rng: np.random.Generator,
    num_train: int = DEFAULTS["num_train"],
    num_bins: int = DEFAULTS["num_bins"],
    batch_size: int = DEFAULTS["batch_size"],
) -> dict[str, Any]:
    """Sample ``num_train`` observations, encode them and compute :func:`mig`.

    Returns ``{"scores": {"mig"}, "per_factor": {name: gap}, "mutual_info": [[...]],
    "params": {...}}``, all JSON-ready.
    """
    check_dataset(dataset)
    codes, factors = sample_codes(dataset, represent, num_train, rng=rng, batch_size=batch_size)
    result = mig(codes, factors, num_bins=num_bins)
    names = factor_names(dataset)
    return {
        "scores": {"mig": result["mig"]},
        "per_factor": dict(zip(names, result["mig_per_factor"].tolist(), strict=True)),
        "mutual_info": result["mutual_info"].tolist(),
        "factor_entropy": result["factor_entropy"].tolist(),
        "params": {
            "num_train": int(num_train),
            "num_bins": int(num_bins),
            "discretizer": "histogram",
            "batch_size": int(batch_size),
            "num_codes": int(codes.shape[1]),
        },
    }

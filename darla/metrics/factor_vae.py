"""The FactorVAE disentanglement score (Kim & Mnih, ICML 2018, "Disentangling by Factorising").

1. Standardise: estimate each code's variance over ``num_variance_estimate`` = 10000 random
   observations and divide by it (the paper normalises each dimension by its empirical std);
   *prune* collapsed dimensions whose std is below 0.05 (disentanglement_lib's
   ``prune_dims.threshold = 0.05``, applied to the std, i.e. variance below 0.0025), because a
   dimension that never moves would otherwise win every argmin below.
2. One vote: fix a factor k to one random value across ``batch_size`` = 64 observations (all
   other factors random), encode them, and take the active dimension with the smallest
   normalised variance, d*. Record a vote (k, d*).
3. Classifier: majority vote. Each code dimension d predicts the factor that most often had d
   as its argmin in the training votes (``argmax`` over the *factor* axis of the
   ``[K, D]`` vote table, one column per dimension). The score is the fraction of evaluation
   votes this mapping gets right.

Defaults: 10000 training votes, 5000 evaluation votes. Two bugs of disentanglement_lib's
version are fixed here and tested: its argmin indexes the active dimensions but is stored as
if it indexed all of them (wrong votes once any dimension is pruned), and its
``num_active_dims`` is the length of the boolean mask, i.e. every dimension.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from darla.errors import DarlaError
from darla.metrics.sampling import (
    FactorDataset,
    RepresentationFunction,
    check_batch_size,
    check_count,
    check_dataset,
    fix_factor,
    represent_factors,
    sample_factors,
)

DEFAULTS: dict[str, Any] = {
    "batch_size": 64,
    "num_train": 10000,
    "num_eval": 5000,
    "num_variance_estimate": 10000,
    "prune_threshold": 0.05,
}

_POINTS_PER_CHUNK = 64


def prune_dims(variances: np.ndarray, threshold: float = 0.05) -> np.ndarray:
    """Boolean mask of active dimensions: std = sqrt(variance) >= ``threshold``."""
    return np.sqrt(np.asarray(variances, dtype=np.float64)) >= threshold


def argmin_normalised_variance(
    local_variances: np.ndarray, global_variances: np.ndarray, active: np.ndarray
) -> np.ndarray:
    """For each row of ``local_variances`` [P, D], the active dimension (an index into all D)
    with the smallest variance relative to ``global_variances``."""
    active_index = np.flatnonzero(active)
    if len(active_index) == 0:
        raise DarlaError("no active code dimensions; every dimension was pruned")
    ratios = local_variances[:, active_index] / global_variances[active_index]
    return active_index[np.argmin(ratios, axis=1)]


def majority_vote(votes: np.ndarray) -> np.ndarray:
    """The FactorVAE classifier from a vote table ``[num_factors, num_codes]``.

    Entry ``[k, d]`` counts the votes in which factor k was fixed and dimension d had the
    smallest normalised variance. The classifier maps each *dimension* d to the factor with
    most votes in column d: ``argmax`` over axis 0. (Taking the argmax over axis 1 instead, a
    "best dimension per factor", answers a different question and cannot classify a vote.)
    Returns int ``[num_codes]``; a dimension with no votes maps to factor 0, which is harmless
    because no vote can then be scored through it.
    """
    votes = np.asarray(votes)
    if votes.ndim != 2:
        raise DarlaError(f"votes must be 2-D [num_factors, num_codes], got shape {votes.shape}")
    return np.argmax(votes, axis=0)


def vote_accuracy(votes: np.ndarray, classifier: np.ndarray) -> float:
    """Fraction of the votes in table ``[K, D]`` whose factor is ``classifier[d]``."""
    votes = np.asarray(votes)
    total = votes.sum()
    if total == 0:
        return 0.0
    return float(votes[classifier, np.arange(votes.shape[1])].sum() / total)


def factor_vae_from_votes(train_votes: np.ndarray, eval_votes: np.ndarray) -> dict[str, float]:
    """Train and eval accuracy of the majority-vote classifier fitted on ``train_votes``."""
    classifier = majority_vote(train_votes)
    return {
        "train_accuracy": vote_accuracy(train_votes, classifier),
        "eval_accuracy": vote_accuracy(eval_votes, classifier),
    }


def global_variances(
    dataset: FactorDataset,
    represent: RepresentationFunction,
    num_points: int,
    *,
    rng: np.random.Generator,
    batch_size: int = 64,
) -> np.ndarray:
    """Variance (ddof=1) of each code over ``num_points`` random observations."""
    num_points = check_count(num_points, "num_variance_estimate", 2)
    factors = sample_factors(dataset, num_points, rng)
    return represent_factors(dataset, represent, factors, batch_size).var(axis=0, ddof=1)


def factor_vae_votes(
    dataset: FactorDataset,
    represent: RepresentationFunction,
    num_points: int,
    *,
    rng: np.random.Generator,
    variances: np.ndarray,
    active: np.ndarray,
    batch_size: int = 64,
) -> np.ndarray:
    """A ``[num_factors, num_codes]`` table of ``num_points`` votes.

    Per vote, ``batch_size`` factor vectors come from ``sample_factors``; the fixed factor then
    takes the first row's value in every row, so it is constant across the batch
    (:func:`~darla.metrics.sampling.fix_factor`: the column overwritten, every other factor
    keeping its random values, for independent factors; a conditional draw from the dataset's
    support otherwise).
    """
    sizes = check_dataset(dataset)
    num_points = check_count(num_points, "num_points")
    batch_size = check_batch_size(batch_size)
    if batch_size < 2:
        raise DarlaError("FactorVAE needs batch_size >= 2 to estimate a variance per vote")
    num_factors = len(sizes)
    fixed_factor = rng.integers(0, num_factors, size=num_points)
    votes = np.zeros((num_factors, len(variances)), dtype=np.int64)
    for start in range(0, num_points, _POINTS_PER_CHUNK):
        chunk_factor = fixed_factor[start : start + _POINTS_PER_CHUNK]
        p = len(chunk_factor)
        drawn = sample_factors(dataset, p * batch_size, rng)
        fixed = np.repeat(chunk_factor, batch_size)
        anchors = drawn[np.arange(p) * batch_size, chunk_factor]  # each batch's first row
        factors = fix_factor(dataset, drawn, fixed, np.repeat(anchors, batch_size), rng)
        codes = represent_factors(dataset, represent, factors, batch_size)
        if codes.shape[1] != len(variances):
            raise DarlaError(
                f"represent returned {codes.shape[1]} codes but the variance estimate had "
                f"{len(variances)}; it must return a fixed number of codes"
            )
        local = codes.reshape(p, batch_size, -1).var(axis=1, ddof=1)
        np.add.at(votes, (chunk_factor, argmin_normalised_variance(local, variances, active)), 1)
    return votes


def factor_vae_score(
    dataset: FactorDataset,
    represent: RepresentationFunction,
    *,
    rng: np.random.Generator,
    batch_size: int = DEFAULTS["batch_size"],
    num_train: int = DEFAULTS["num_train"],
    num_eval: int = DEFAULTS["num_eval"],
    num_variance_estimate: int = DEFAULTS["num_variance_estimate"],
    prune_threshold: float = DEFAULTS["prune_threshold"],
) -> dict[str, Any]:
    """The FactorVAE score of ``represent`` on ``dataset``: ``scores.eval_accuracy`` is the metric.

    If every dimension is pruned (a collapsed or constant representation) both accuracies are 0
    and ``num_active_dims`` is 0, as in disentanglement_lib.
    """
    sizes = check_dataset(dataset)
    variances = global_variances(
        dataset, represent, num_variance_estimate, rng=rng, batch_size=batch_size
    )
    active = prune_dims(variances, prune_threshold)
    params = {
        "batch_size": int(batch_size),
        "num_train": int(num_train),
        "num_eval": int(num_eval),
        "num_variance_estimate": int(num_variance_estimate),
        "prune_threshold": float(prune_threshold),
        "prune_on": "std",
        "classifier": "majority_vote",
        "chance": 1.0 / len(sizes),
        "num_codes": len(variances),
    }
    if not active.any():
        return {
            "scores": {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0},
            "params": params,
        }
    kwargs = {"rng": rng, "variances": variances, "active": active, "batch_size": batch_size}
    train_votes = factor_vae_votes(dataset, represent, num_train, **kwargs)
    eval_votes = factor_vae_votes(dataset, represent, num_eval, **kwargs)
    scores: dict[str, Any] = dict(factor_vae_from_votes(train_votes, eval_votes))
    scores["num_active_dims"] = int(active.sum())
    return {
        "scores": scores,
        "train_votes": train_votes.tolist(),
        "params": params,
    }

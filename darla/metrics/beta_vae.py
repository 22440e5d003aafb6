"""The β-VAE disentanglement score (Higgins et al., ICLR 2017, "β-VAE: Learning Basic Visual
Concepts with a Constrained Variational Framework").

One training point: pick a factor k uniformly; draw ``batch_size`` pairs of factor vectors that
agree on factor k only; encode both sides; the feature is the mean absolute code difference
over the pairs, ``mean_b |z1_b - z2_b|`` [D]. In a disentangled code the dimension holding
factor k is (nearly) zero in that feature, so a *linear* classifier can read k off it. The
score is that classifier's accuracy on fresh points; chance is 1/K.

Defaults as disentanglement_lib's ``beta_vae_sklearn``: ``batch_size=64`` pairs per point,
10000 train and 5000 eval points, ``sklearn.linear_model.LogisticRegression`` with default
settings. That is 1.92 M encoded observations: the most sampling-hungry metric.

One deliberate difference: the features are standardised (train mean and std) before the
logistic regression. disentanglement_lib fits raw features; with today's lbfgs solver that
often stops at ``max_iter`` (a ConvergenceWarning) and makes the score depend on the units of
the codes. Standardising keeps the same model class, converges in a few dozen iterations and
makes the score invariant to rescaling a code.

Pitfall: the score is lenient. A linear classifier can often tell which factor was fixed from a
rotated (entangled) code as well, so an invertible linear mixing of the factors can score 1.0;
read it beside MIG and DCI, not alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

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
from darla.metrics.utils import check_codes, default_solver_budget, draw_seed

DEFAULTS: dict[str, Any] = {"batch_size": 64, "num_train": 10000, "num_eval": 5000}
CLASSIFIER = "StandardScaler() + sklearn.linear_model.LogisticRegression()"

#: Points whose pairs are sampled, rendered and encoded together; bounds memory to a few
#: thousand observations per side whatever ``num_train`` is.
_POINTS_PER_CHUNK = 64


def beta_vae_features(
    dataset: FactorDataset,
    represent: RepresentationFunction,
    num_points: int,
    *,
    rng: np.random.Generator,
    batch_size: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """``num_points`` (feature [D], fixed-factor label) training points for the β-VAE score.

    Factors are drawn with ``sample_factors`` for both sides of every pair; the second side then
    takes the first side's values of the fixed factor (:func:`~darla.metrics.sampling.fix_factor`:
    a column overwritten for independent factors, a conditional draw from the dataset's support
    otherwise). Each side of one point is rendered and encoded as one batch of ``batch_size``
    observations.
    """
    sizes = check_dataset(dataset)
    num_points = check_count(num_points, "num_points")
    batch_size = check_batch_size(batch_size)
    num_factors = len(sizes)
    labels = rng.integers(0, num_factors, size=num_points)
    features: np.ndarray | None = None
    for start in range(0, num_points, _POINTS_PER_CHUNK):
        chunk_labels = labels[start : start + _POINTS_PER_CHUNK]
        p = len(chunk_labels)
        first = sample_factors(dataset, p * batch_size, rng)
        fixed = np.repeat(chunk_labels, batch_size)
        second = fix_factor(
            dataset,
            sample_factors(dataset, p * batch_size, rng),
            fixed,
            first[np.arange(len(fixed)), fixed],
            rng,
        )
        z1 = represent_factors(dataset, represent, first, batch_size)
        z2 = represent_factors(dataset, represent, second, batch_size)
        chunk = np.abs(z1 - z2).reshape(p, batch_size, -1).mean(axis=1)
        if features is None:
            features = np.empty((num_points, chunk.shape[1]))
        features[start : start + p] = chunk
    assert features is not None
    return features, labels


def beta_vae_from_features(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    eval_features: np.ndarray,
    eval_labels: np.ndarray,
    *,
    rng: np.random.Generator,
) -> dict[str, float]:
    """Train and eval accuracy of a logistic regression from features [N, D] to factor labels.

    Features are standardised with the training mean and std first (see the module docstring);
    a constant feature is left at 0.
    """
    train_features = check_codes(train_features, "train_features")
    eval_features = check_codes(eval_features, "eval_features")
    train_labels = np.asarray(train_labels)
    eval_labels = np.asarray(eval_labels)
    if len(train_labels) != len(train_features) or len(eval_labels) != len(eval_features):
        raise DarlaError("β-VAE features and labels must have the same number of rows")
    if len(np.unique(train_labels)) < 2:
        raise DarlaError(
            "all β-VAE training points fixed the same factor; use more points (num_train)"
        )
    model = make_pipeline(StandardScaler(), LogisticRegression(random_state=draw_seed(rng)))
    with default_solver_budget():
        model.fit(train_features, train_labels)
    return {
        "train_accuracy": float(np.mean(model.predict(train_features) == train_labels)),
        "eval_accuracy": float(np.mean(model.predict(eval_features) == eval_labels)),
    }


def beta_vae_score(
    dataset: FactorDataset,
    represent: RepresentationFunction,
    *,
    rng: np.random.Generator,
    batch_size: int = DEFAULTS["batch_size"],
    num_train: int = DEFAULTS["num_train"],
    num_eval: int = DEFAULTS["num_eval"],
) -> dict[str, Any]:
    """The β-VAE score of ``represent`` on ``dataset``: ``scores.eval_accuracy`` is the metric."""
    sizes = check_dataset(dataset)
    num_train = check_count(num_train, "num_train", 2)
    train = beta_vae_features(dataset, represent, num_train, rng=rng, batch_size=batch_size)
    evaluation = beta_vae_features(dataset, represent, num_eval, rng=rng, batch_size=batch_size)
    scores = beta_vae_from_features(*train, *evaluation, rng=rng)
    return {
        "scores": scores,
        "params": {
            "batch_size": int(batch_size),
            "num_train": int(num_train),
            "num_eval": int(num_eval),
            "classifier": CLASSIFIER,
            "sklearn_version": sklearn.__version__,
            "chance": 1.0 / len(sizes),
            "num_codes": int(train[0].shape[1]),
        },
    }

"""Separated Attribute Predictability (Kumar et al., ICLR 2018, "Variational Inference of
Disentangled Latent Concepts from Unlabeled Observations").

Score matrix S ``[num_codes, num_factors]``: how well each *single* code predicts each factor.
SAP is the mean over factors of the gap between the best and the second-best code. Like MIG, a
factor encoded twice scores near 0, because its two codes predict it equally well.

disentanglement_lib's study setting (``continuous_factors=False``): S[d, k] is the test accuracy
of ``LinearSVC(C=0.01, class_weight="balanced")`` trained on code d alone, 10000 train / 5000
test points. Two pitfalls make this version's numbers small even for a perfect code, so
compare SAP between models, never against 1:

- the runner-up is a code that knows nothing about the factor, and a balanced classifier still
  gets chance accuracy 1/k from it, so the gap is at most 1 - 1/k (0.5 for a binary factor);
- a linear one-vs-rest classifier on a 1-D input can only carve out the extreme classes
  cleanly, so the best code's accuracy falls for factors with many values (about 0.3 for ten).

With ``continuous_factors=True`` S[d, k] is the squared correlation (R^2 of a linear fit)
instead: an uninformative code scores 0 and a perfect one 1, which is what
disentanglement_lib's own tests use on identity data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sklearn
from sklearn.svm import LinearSVC

from darla.metrics.sampling import (
    FactorDataset,
    RepresentationFunction,
    check_dataset,
    factor_names,
    sample_train_test,
)
from darla.metrics.utils import check_train_test, draw_seed

DEFAULTS: dict[str, Any] = {
    "num_train": 10000,
    "num_test": 5000,
    "continuous_factors": False,
    "batch_size": 64,
}
CLASSIFIER = "sklearn.svm.LinearSVC(C=0.01, class_weight='balanced')"


def sap_from_score_matrix(score_matrix: np.ndarray) -> np.ndarray:
    """Per-factor gap between the best and second-best code (down axis 0 of ``[D, K]``)."""
    score_matrix = np.asarray(score_matrix, dtype=np.float64)
    top_two = -np.sort(-score_matrix, axis=0)[:2]
    runner_up = top_two[1] if len(top_two) > 1 else np.zeros(score_matrix.shape[1])
    return top_two[0] - runner_up


def _r_squared_matrix(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """cov(z_d, v_k)^2 / (var z_d var v_k), 0 for a code with variance <= 1e-12."""
    zc = codes - codes.mean(axis=0)
    yc = factors - factors.mean(axis=0)
    n = len(codes) - 1
    cov = zc.T @ yc / n
    var_z = np.sum(zc**2, axis=0) / n
    var_y = np.sum(yc**2, axis=0) / n
    live = var_z > 1e-12
    scores = np.zeros_like(cov)
    scores[live] = cov[live] ** 2 / (var_z[live, None] * var_y[None, :])
    return scores


def _accuracy_matrix(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    seed: int,
) -> np.ndarray:
    """Test accuracy of a 1-D LinearSVC per (code, factor) pair.

    One ``random_state`` for every fit: each score is then a function of its own code and
    factor only, so permuting the codes permutes the rows of S and nothing else.
    """
    num_codes, num_factors = codes_train.shape[1], factors_train.shape[1]
    scores = np.zeros((num_codes, num_factors))
    for d in range(num_codes):
        x_train = codes_train[:, d : d + 1]
        x_test = codes_test[:, d : d + 1]
        for k in range(num_factors):
            classifier = LinearSVC(C=0.01, class_weight="balanced", random_state=seed)
            classifier.fit(x_train, factors_train[:, k])
            scores[d, k] = np.mean(classifier.predict(x_test) == factors_test[:, k])
    return scores


def sap(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    *,
    rng: np.random.Generator,
    continuous_factors: bool = False,
) -> dict[str, Any]:
    """SAP from a train/test split; returns ``sap``, ``sap_per_factor`` [K], ``score_matrix`` [D, K].

    With ``continuous_factors=True`` the test split is not used (R^2 needs no held-out data) and
    ``rng`` is not consumed.
    """
    codes_train, factors_train, codes_test, factors_test = check_train_test(
        codes_train, factors_train, codes_test, factors_test
    )
    if continuous_factors:
        score_matrix = _r_squared_matrix(codes_train, factors_train.astype(np.float64))
    else:
        score_matrix = _accuracy_matrix(
            codes_train, factors_train, codes_test, factors_test, draw_seed(rng)
        )
    per_factor = sap_from_score_matrix(score_matrix)
    return {
        "sap": float(per_factor.mean()),
        "sap_per_factor": per_factor,
        "score_matrix": score_matrix,
    }


def sap_score(
    dataset: FactorDataset,
    represent: RepresentationFunction,
    *,
    rng: np.random.Generator,
    num_train: int = DEFAULTS["num_train"],
    num_test: int = DEFAULTS["num_test"],
    continuous_factors: bool = DEFAULTS["continuous_factors"],
    batch_size: int = DEFAULTS["batch_size"],
) -> dict[str, Any]:
    """Sample train and test observations, encode them and compute :func:`sap`."""
    check_dataset(dataset)
    codes_train, factors_train, codes_test, factors_test = sample_train_test(
        dataset, represent, num_train, num_test, rng=rng, batch_size=batch_size
    )
    result = sap(
        codes_train,
        factors_train,
        codes_test,
        factors_test,
        rng=rng,
        continuous_factors=continuous_factors,
    )
    return {
        "scores": {"sap": result["sap"]},
        "per_factor": dict(
            zip(factor_names(dataset), result["sap_per_factor"].tolist(), strict=True)
        ),
        "score_matrix": result["score_matrix"].tolist(),
        "params": {
            "num_train": int(num_train),
            "num_test": int(num_test),
            "continuous_factors": bool(continuous_factors),
            "classifier": "r_squared" if continuous_factors else CLASSIFIER,
            "sklearn_version": sklearn.__version__,
            "batch_size": int(batch_size),
            "num_codes": int(codes_train.shape[1]),
        },
    }

"""Disentanglement, Completeness, Informativeness (Eastwood & Williams, ICLR 2018).

One classifier per factor predicts it from all codes; its feature importances fill column k of
the importance matrix R ``[num_codes, num_factors]``.

- *Disentanglement*: each code should matter for one factor. Per code, 1 - H_K(R[d, :] / sum)
  (entropy in base K, so a code useful for all factors equally scores 0); averaged with weights
  proportional to the code's total importance, so dead codes do not count.
- *Completeness*: each factor should be captured by one code; the same with rows and columns
  swapped (base D).
- *Informativeness*: the classifiers' accuracy (train and test, mean over factors). Despite the
  name disentanglement_lib stores accuracy, not error; so do we: higher is better.

Like disentanglement_lib we use ``sklearn.ensemble.GradientBoostingClassifier()`` with its
defaults (100 depth-3 trees per class) on 10000 train / 5000 test points. It is the slow metric:
on 2 cores and 32 codes it takes minutes, hence ``n_jobs`` (one process per factor; the scores
do not depend on it). Because trees pick one code per split, a factor encoded twice still gives
a near one-hot importance row, which is why duplicated codes keep D high while MIG and SAP drop.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sklearn
from sklearn.ensemble import GradientBoostingClassifier

from darla.errors import DarlaError
from darla.metrics.sampling import (
    FactorDataset,
    RepresentationFunction,
    check_dataset,
    factor_names,
    sample_train_test,
)
from darla.metrics.utils import check_train_test, draw_seed

DEFAULTS: dict[str, Any] = {"num_train": 10000, "num_test": 5000, "batch_size": 64}
CLASSIFIER = "sklearn.ensemble.GradientBoostingClassifier()"


def _normalised_entropy(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy in base ``base`` of each row of nonnegative weights (rows normalised here).

    0 log 0 = 0 exactly, so a one-hot row scores exactly 0 (disentanglement_lib adds 1e-11 to
    every entry instead, which is only approximately 0). An all-zero row is given entropy 1:
    a code that predicts nothing is not disentangled (its weight is 0 anyway).
    """
    totals = p.sum(axis=1, keepdims=True)
    out = np.ones(p.shape[0])
    if base < 2:
        # One factor (or one code): nothing to be confused with; a nonzero row is pure.
        out[totals[:, 0] > 0] = 0.0
        return out
    nonzero = totals[:, 0] > 0
    q = p[nonzero] / totals[nonzero]
    logs = np.log(q, out=np.zeros_like(q), where=q > 0)
    out[nonzero] = -np.sum(q * logs, axis=1) / np.log(base)
    return out


def _check_importance(importance_matrix: np.ndarray) -> np.ndarray:
    importance_matrix = np.asarray(importance_matrix, dtype=np.float64)
    if importance_matrix.ndim != 2 or 0 in importance_matrix.shape:
        raise DarlaError(
            "importance_matrix must be 2-D [num_codes, num_factors], got shape "
            f"{importance_matrix.shape}"
        )
    if not np.all(np.isfinite(importance_matrix)) or np.any(importance_matrix < 0):
        raise DarlaError("importance_matrix must hold finite, nonnegative importances")
    return importance_matrix


def disentanglement_per_code(importance_matrix: np.ndarray) -> np.ndarray:
    """1 - H_K(R[d, :]) for each code d; 0 for a code with no importance at all."""
    r = _check_importance(importance_matrix)
    return 1.0 - _normalised_entropy(r, base=r.shape[1])


def completeness_per_factor(importance_matrix: np.ndarray) -> np.ndarray:
    """1 - H_D(R[:, k]) for each factor k; 0 for a factor no code predicts."""
    r = _check_importance(importance_matrix)
    return 1.0 - _normalised_entropy(r.T, base=r.shape[0])


def disentanglement(importance_matrix: np.ndarray) -> float:
    """Importance-weighted mean of :func:`disentanglement_per_code` (0 if R is all zero)."""
    r = _check_importance(importance_matrix)
    if r.sum() == 0:
        return 0.0
    weights = r.sum(axis=1) / r.sum()
    return float(np.sum(disentanglement_per_code(r) * weights))


def completeness(importance_matrix: np.ndarray) -> float:
    """Importance-weighted mean of :func:`completeness_per_factor` (0 if R is all zero)."""
    r = _check_importance(importance_matrix)
    if r.sum() == 0:
        return 0.0
    weights = r.sum(axis=0) / r.sum()
    return float(np.sum(completeness_per_factor(r) * weights))


def _fit_factor(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, seed: int
) -> tuple[np.ndarray, float, float]:
    model = GradientBoostingClassifier(random_state=seed)
    model.fit(x_train, y_train)
    importance = np.abs(model.feature_importances_)
    train_acc = float(np.mean(model.predict(x_train) == y_train))
    test_acc = float(np.mean(model.predict(x_test) == y_test))
    return importance, train_acc, test_acc


def importance_gbt(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    *,
    rng: np.random.Generator,
    n_jobs: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Importance matrix ``[D, K]`` and per-factor train/test accuracy of one GBT per factor.

    The trees' ``random_state`` (it breaks ties between equally good splits) is one int per
    factor drawn from ``rng`` before any fit, so ``n_jobs`` cannot change the result.
    """
    codes_train, factors_train, codes_test, factors_test = check_train_test(
        codes_train, factors_train, codes_test, factors_test
    )
    num_factors = factors_train.shape[1]
    seeds = [draw_seed(rng) for _ in range(num_factors)]
    args = [
        (codes_train, factors_train[:, k], codes_test, factors_test[:, k], seeds[k])
        for k in range(num_factors)
    ]
    if n_jobs == 1 or num_factors == 1:
        fits = [_fit_factor(*a) for a in args]
    else:
        from joblib import Parallel, delayed

        fits = Parallel(n_jobs=min(n_jobs, num_factors) if n_jobs > 0 else n_jobs)(
            delayed(_fit_factor)(*a) for a in args
        )
    importance = np.stack([f[0] for f in fits], axis=1)
    train_acc = np.array([f[1] for f in fits])
    test_acc = np.array([f[2] for f in fits])
    return importance, train_acc, test_acc


def dci(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    *,
    rng: np.random.Generator,
    n_jobs: int = 1,
) -> dict[str, Any]:
    """DCI from a train/test split of codes ``[N, D]`` and factors ``[N, K]``.

    Returns ``disentanglement``, ``completeness``, ``informativeness_train`` and
    ``informativeness_test`` (accuracies), ``informativeness_test_per_factor`` [K] and the
    ``importance_matrix`` [D, K].
    """
    importance, train_acc, test_acc = importance_gbt(
        codes_train, factors_train, codes_test, factors_test, rng=rng, n_jobs=n_jobs
    )
    return {
        "disentanglement": disentanglement(importance),
        "completeness": completeness(importance),
        "informativeness_train": float(train_acc.mean()),
        "informativeness_test": float(test_acc.mean()),
        "informativeness_test_per_factor": test_acc,
        "importance_matrix": importance,
    }


def dci_score(
    dataset: FactorDataset,
    represent: RepresentationFunction,
    *,
    rng: np.random.Generator,
    num_train: int = DEFAULTS["num_train"],
    num_test: int = DEFAULTS["num_test"],
    batch_size: int = DEFAULTS["batch_size"],
    n_jobs: int = 1,
) -> dict[str, Any]:
    """Sample train and test observations, encode them and compute :func:`dci`."""
    check_dataset(dataset)
    codes_train, factors_train, codes_test, factors_test = sample_train_test(
        dataset, represent, num_train, num_test, rng=rng, batch_size=batch_size
    )
    result = dci(codes_train, factors_train, codes_test, factors_test, rng=rng, n_jobs=n_jobs)
    names = factor_names(dataset)
    return {
        "scores": {
            k: result[k]
            for k in (
                "disentanglement",
                "completeness",
                "informativeness_train",
                "informativeness_test",
            )
        },
        "per_factor": {
            "informativeness_test": dict(
                zip(names, result["informativeness_test_per_factor"].tolist(), strict=True)
            ),
            "completeness": dict(
                zip(
                    names,
                    completeness_per_factor(result["importance_matrix"]).tolist(),
                    strict=True,
                )
            ),
        },
        "importance_matrix": result["importance_matrix"].tolist(),
        "params": {
            "num_train": int(num_train),
            "num_test": int(num_test),
            "batch_size": int(batch_size),
            "classifier": CLASSIFIER,
            "sklearn_version": sklearn.__version__,
            "informativeness": "accuracy",
            "num_codes": int(codes_train.shape[1]),
        },
    }

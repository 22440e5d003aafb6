"""Modularity and Explicitness (Ridgeway & Mozer, NeurIPS 2018, "Learning Deep Disentangled
Embeddings With the F-Statistic Loss").

- *Modularity*: each code should depend on at most one factor. From the MI matrix m ``[D, K]``
  (histogram-discretised codes, 20 bins): per code, 1 - (sum_k m^2 - max_k m^2) /
  (max_k m^2 (K - 1)), i.e. how far the code's squared-MI profile is from a one-hot; a code with
  no information scores 0. Mean over codes. Note it says nothing about *completeness*: a
  representation that duplicates every factor is perfectly modular.
- *Explicitness*: how linearly decodable each factor is from all codes: ROC-AUC
  (one-vs-rest, macro over the factor's values) of ``sklearn.linear_model.LogisticRegression()``
  on standardised codes; mean over factors. Chance is 0.5, not 0, so a constant representation
  scores 0.5 here.

Defaults as disentanglement_lib: 10000 train / 5000 test points, 20 histogram bins. Modern
sklearn fits a multinomial (softmax) regression where the 2018 default was one-vs-rest
liblinear; the AUC is still one-vs-rest.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from darla.errors import DarlaError
from darla.metrics.sampling import (
    FactorDataset,
    RepresentationFunction,
    check_dataset,
    factor_names,
    sample_train_test,
)
from darla.metrics.utils import (
    check_train_test,
    default_solver_budget,
    discrete_mutual_info,
    histogram_discretize,
    normalize_codes,
)

DEFAULTS: dict[str, Any] = {"num_train": 10000, "num_test": 5000, "num_bins": 20, "batch_size": 64}
CLASSIFIER = "sklearn.linear_model.LogisticRegression()"


def modularity_per_code(mutual_info: np.ndarray) -> np.ndarray:
    """Modularity of each code from an MI matrix ``[num_codes, num_factors]``."""
    mutual_info = np.asarray(mutual_info, dtype=np.float64)
    if mutual_info.ndim != 2 or 0 in mutual_info.shape:
        raise DarlaError(
            f"mutual_info must be 2-D [num_codes, num_factors], got shape {mutual_info.shape}"
        )
    squared = mutual_info**2
    top = squared.max(axis=1)
    live = top > 0
    scores = np.zeros(len(squared))
    if squared.shape[1] == 1:
        scores[live] = 1.0  # One factor: any informative code depends on that factor only.
        return scores
    deviation = (squared.sum(axis=1)[live] - top[live]) / (top[live] * (squared.shape[1] - 1))
    scores[live] = 1.0 - deviation
    return scores


def modularity(mutual_info: np.ndarray) -> float:
    """Mean of :func:`modularity_per_code`."""
    return float(modularity_per_code(mutual_info).mean())


def _auc(labels: np.ndarray, probabilities: np.ndarray, classes: np.ndarray) -> float:
    """Macro one-vs-rest ROC-AUC over the classes that occur (and not all rows) in ``labels``.

    disentanglement_lib binarises with ``MultiLabelBinarizer`` on the labels it is given, which
    breaks (column mismatch) when a class is absent from one split; skipping such columns is the
    only meaningful choice, since AUC is undefined for a column with one label.
    """
    onehot = labels[:, None] == classes[None, :]
    present = onehot.any(axis=0) & ~onehot.all(axis=0)
    if not present.any():
        return 0.5
    return float(roc_auc_score(onehot[:, present], probabilities[:, present], average="macro"))


def explicitness_per_factor(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test ROC-AUC ``[K]`` of a logistic regression per factor on standardised codes.

    The test codes are standardised with the *train* mean and std.
    """
    x_train, mean, std = normalize_codes(codes_train)
    x_test, _, _ = normalize_codes(codes_test, mean, std)
    num_factors = factors_train.shape[1]
    auc_train, auc_test = np.zeros(num_factors), np.zeros(num_factors)
    for k in range(num_factors):
        with default_solver_budget():
            classifier = LogisticRegression().fit(x_train, factors_train[:, k])
        classes = classifier.classes_
        auc_train[k] = _auc(factors_train[:, k], classifier.predict_proba(x_train), classes)
        auc_test[k] = _auc(factors_test[:, k], classifier.predict_proba(x_test), classes)
    return auc_train, auc_test


def modularity_explicitness(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    *,
    num_bins: int = 20,
) -> dict[str, Any]:
    """Modularity (train split) and explicitness (train and test AUC).

    Returns ``modularity``, ``explicitness_train``, ``explicitness_test``,
    ``explicitness_test_per_factor`` [K], ``modularity_per_code`` [D] and ``mutual_info`` [D, K].
    Deterministic: lbfgs logistic regression draws no random numbers, so there is no ``rng``.
    """
    codes_train, factors_train, codes_test, factors_test = check_train_test(
        codes_train, factors_train, codes_test, factors_test
    )
    mutual_info = discrete_mutual_info(histogram_discretize(codes_train, num_bins), factors_train)
    per_code = modularity_per_code(mutual_info)
    auc_train, auc_test = explicitness_per_factor(
        codes_train, factors_train, codes_test, factors_test
    )
    return {
        "modularity": float(per_code.mean()),
        "explicitness_train": float(auc_train.mean()),
        "explicitness_test": float(auc_test.mean()),
        "explicitness_test_per_factor": auc_test,
        "modularity_per_code": per_code,
        "mutual_info": mutual_info,
    }


def modularity_explicitness_score(
    dataset: FactorDataset,
    represent: RepresentationFunction,
    *,
    rng: np.random.Generator,
    num_train: int = DEFAULTS["num_train"],
    num_test: int = DEFAULTS["num_test"],
    num_bins: int = DEFAULTS["num_bins"],
    batch_size: int = DEFAULTS["batch_size"],
) -> dict[str, Any]:
    """Sample train and test observations, encode them, compute :func:`modularity_explicitness`."""
    check_dataset(dataset)
    codes_train, factors_train, codes_test, factors_test = sample_train_test(
        dataset, represent, num_train, num_test, rng=rng, batch_size=batch_size
    )
    result = modularity_explicitness(
        codes_train, factors_train, codes_test, factors_test, num_bins=num_bins
    )
    return {
        "scores": {k: result[k] for k in ("modularity", "explicitness_train", "explicitness_test")},
        "per_factor": {
            "explicitness_test": dict(
                zip(
                    factor_names(dataset),
                    result["explicitness_test_per_factor"].tolist(),
                    strict=True,
                )
            )
        },
        "modularity_per_code": result["modularity_per_code"].tolist(),
        "params": {
            "num_train": int(num_train),
            "num_test": int(num_test),
            "num_bins": int(num_bins),
            "discretizer": "histogram",
            "classifier": CLASSIFIER,
            "sklearn_version": sklearn.__version__,
            "batch_size": int(batch_size),
            "num_codes": int(codes_train.shape[1]),
        },
    }

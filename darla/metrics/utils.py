"""Shared arithmetic of the metrics: input checks, the histogram discretiser, discrete MI and entropy,
and the classifiers' iteration budget.

Conventions (sample-major, unlike disentanglement_lib's transposed ``[num_codes, num_points]``):
``codes`` is float ``[N, D]`` (one row per observation, one column per latent), ``factors`` is int
``[N, K]`` (column k holds indices into factor k's values). Matrices relating the two are
``[D, K]``: codes down, factors across, as disentanglement_lib's importance and MI matrices.

Mutual information and entropy are in nats; every metric that uses them divides nats by nats, so
the base cancels.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from darla.errors import DarlaError

#: The sklearn ``random_state`` range: ints drawn from the caller's Generator keep a fixed seed
#: reproducible without handing sklearn a global or legacy RandomState.
_MAX_SEED = 2**31 - 1


@contextmanager
def default_solver_budget() -> Iterator[None]:
    """Fit sklearn's classifiers with their default iteration budget, as disentanglement_lib did,
    without a ConvergenceWarning per factor: the score is defined by that budget, and lbfgs on
    weakly informative codes (the interesting case) routinely hits it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def draw_seed(rng: np.random.Generator) -> int:
    """One ``random_state`` int for an sklearn estimator, drawn from ``rng``."""
    return int(rng.integers(0, _MAX_SEED))


def check_codes(codes: np.ndarray, name: str = "codes") -> np.ndarray:
    """A finite float64 ``[N, D]`` copy-free view of ``codes``, or a DarlaError saying what is wrong."""
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise DarlaError(
            f"{name} must be a 2-D float array [num_points, num_codes], got shape {codes.shape}; "
            "reshape it (one row per observation)"
        )
    if codes.shape[0] < 2 or codes.shape[1] < 1:
        raise DarlaError(
            f"{name} has shape {codes.shape}; metrics need at least 2 points and 1 code dimension"
        )
    if not np.issubdtype(codes.dtype, np.number) or np.iscomplexobj(codes):
        raise DarlaError(f"{name} must be real numbers, got dtype {codes.dtype}")
    codes = codes.astype(np.float64, copy=False)
    if not np.all(np.isfinite(codes)):
        bad = np.flatnonzero(~np.all(np.isfinite(codes), axis=0))
        raise DarlaError(
            f"{name} contain NaN or inf in code dimension(s) {bad.tolist()}; "
            "fix the encoder (a diverged model?) before scoring it"
        )
    return codes


def check_factors(factors: np.ndarray, name: str = "factors") -> np.ndarray:
    """An int64 ``[N, K]`` view of ``factors``, or a DarlaError saying what is wrong."""
    factors = np.asarray(factors)
    if factors.ndim != 2:
        raise DarlaError(
            f"{name} must be a 2-D int array [num_points, num_factors], got shape {factors.shape}; "
            "reshape it (one row per observation)"
        )
    if factors.shape[1] < 1:
        raise DarlaError(f"{name} has no factor columns (shape {factors.shape})")
    if np.issubdtype(factors.dtype, np.integer) or factors.dtype == np.bool_:
        return factors.astype(np.int64, copy=False)
    if (
        np.issubdtype(factors.dtype, np.floating)
        and np.all(np.isfinite(factors))
        and np.all(factors == np.round(factors))
    ):
        return factors.astype(np.int64)
    raise DarlaError(
        f"{name} must hold integer class indices, got dtype {factors.dtype} with non-integer "
        "values; discretise continuous factors first"
    )


def check_pair(
    codes: np.ndarray, factors: np.ndarray, split: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """Check one (codes, factors) pair: shapes, finiteness and matching lengths."""
    suffix = f"_{split}" if split else ""
    codes = check_codes(codes, f"codes{suffix}")
    factors = check_factors(factors, f"factors{suffix}")
    if len(codes) != len(factors):
        raise DarlaError(
            f"codes{suffix} has {len(codes)} rows but factors{suffix} has {len(factors)}; "
            "pass the factors of exactly the observations that were encoded, in the same order"
        )
    return codes, factors


def check_varying_factors(factors: np.ndarray, split: str = "") -> None:
    """Every factor must take at least two values: a constant factor has zero entropy (MIG divides
    by it) and no classifier can be trained to predict it."""
    constant = [k for k in range(factors.shape[1]) if np.all(factors[:, k] == factors[0, k])]
    if constant:
        where = f"factors_{split}" if split else "factors"
        raise DarlaError(
            f"factor column(s) {constant} of {where} take a single value (zero entropy); "
            "drop them or sample more points so every factor varies"
        )


def check_train_test(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Check a train/test split: each pair valid, the same code and factor dimensions in both."""
    codes_train, factors_train = check_pair(codes_train, factors_train, "train")
    codes_test, factors_test = check_pair(codes_test, factors_test, "test")
    if codes_train.shape[1] != codes_test.shape[1]:
        raise DarlaError(
            f"codes_train has {codes_train.shape[1]} dimensions but codes_test has "
            f"{codes_test.shape[1]}; encode both splits with the same model"
        )
    if factors_train.shape[1] != factors_test.shape[1]:
        raise DarlaError(
            f"factors_train has {factors_train.shape[1]} columns but factors_test has "
            f"{factors_test.shape[1]}; use the same factor dataset for both splits"
        )
    check_varying_factors(factors_train, "train")
    return codes_train, factors_train, codes_test, factors_test


def histogram_discretize(codes: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Bin each code into ``num_bins`` equal-width bins over its own observed range.

    This is disentanglement_lib's ``_histogram_discretize``: ``np.digitize`` against the left
    edges of ``np.histogram(code, num_bins)``, so labels run from 1 to ``num_bins`` and the
    maximum falls into the last bin. Pitfall: equal-width bins are invariant to affine rescaling
    of a code but not to arbitrary monotone maps (an outlier squeezes everything else into one
    bin), so MIG and modularity inherit that sensitivity, exactly as in the published numbers.

    Returns int64 ``[N, D]``.
    """
    codes = check_codes(codes)
    if int(num_bins) != num_bins or num_bins < 1:
        raise DarlaError(f"num_bins must be a positive integer, got {num_bins!r}")
    discretized = np.empty(codes.shape, dtype=np.int64)
    for j in range(codes.shape[1]):
        edges = np.histogram_bin_edges(codes[:, j], bins=int(num_bins))
        discretized[:, j] = np.digitize(codes[:, j], edges[:-1])
    return discretized


def _dense_labels(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Relabel each column to 0..n_k-1; return the labels and the number of classes per column."""
    dense = np.empty(labels.shape, dtype=np.int64)
    counts = np.empty(labels.shape[1], dtype=np.int64)
    for j in range(labels.shape[1]):
        values, dense[:, j] = np.unique(labels[:, j], return_inverse=True)
        counts[j] = len(values)
    return dense, counts


def discrete_mutual_info(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mutual information (nats) between every column of ``a`` [N, Da] and of ``b`` [N, Db].

    Plug-in estimate from the joint histogram, the same number as
    ``sklearn.metrics.mutual_info_score`` (which disentanglement_lib calls pair by pair), but one
    ``bincount`` per column of ``a``. Returns ``[Da, Db]``, clipped at 0 against round-off.
    """
    a = check_factors(a, "a")
    b = check_factors(b, "b")
    if len(a) != len(b):
        raise DarlaError(f"a has {len(a)} rows but b has {len(b)}; pass aligned samples")
    n = len(a)
    a_dense, a_counts = _dense_labels(a)
    b_dense, b_counts = _dense_labels(b)
    nb = int(b_counts.max())
    p_b = np.zeros((b.shape[1], nb))
    for j in range(b.shape[1]):
        p_b[j, : b_counts[j]] = np.bincount(b_dense[:, j], minlength=b_counts[j]) / n
    column_offset = np.arange(b.shape[1]) * nb
    mi = np.empty((a.shape[1], b.shape[1]))
    for i in range(a.shape[1]):
        na = int(a_counts[i])
        p_a = np.bincount(a_dense[:, i], minlength=na) / n
        # joint[j, x, y] = P(a_i = x, b_j = y), all columns of b at once.
        flat = (a_dense[:, i, None] * nb + b_dense + column_offset * na).ravel()
        joint = np.bincount(flat, minlength=b.shape[1] * na * nb).reshape(b.shape[1], na, nb) / n
        outer = p_a[None, :, None] * p_b[:, None, :]
        nonzero = joint > 0
        ratio = np.ones_like(joint)
        ratio[nonzero] = joint[nonzero] / outer[nonzero]
        mi[i] = np.sum(joint * np.log(ratio), axis=(1, 2))
    return np.clip(mi, 0.0, None)


def discrete_entropy(factors: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each column of an int ``[N, K]`` array; ``H(y) = I(y; y)``."""
    factors = check_factors(factors)
    entropy = np.empty(factors.shape[1])
    for k in range(factors.shape[1]):
        _, counts = np.unique(factors[:, k], return_counts=True)
        p = counts / counts.sum()
        entropy[k] = -np.sum(p * np.log(p))
    return np.clip(entropy, 0.0, None)


def normalize_codes(
    codes: np.ndarray, mean: np.ndarray | None = None, std: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardise each code with the given (or its own) mean and std.

    A constant code has std 0; disentanglement_lib divides by it and gets NaN. Here it is
    divided by 1 instead, so it becomes the constant 0 and carries no information, as it should.
    """
    if mean is None:
        mean = codes.mean(axis=0)
    if std is None:
        std = codes.std(axis=0)
    safe_std = np.where(std > 0, std, 1.0)
    return (codes - mean) / safe_std, mean, std

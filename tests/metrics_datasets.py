"""Test helpers for the metrics: codes with known structure and representations with known answers.

The datasets themselves live in :mod:`darla.metrics.ground_truth` (``IdentityDataset``: the
observation is the factor vector; ``StampedDataset``: real images that carry their factors in a
few pixels). Here are the representations the tests compare on them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from darla.metrics import identity_represent, read_stamp


def identity_codes(
    n: int, factor_sizes: tuple[int, ...], seed: int = 0, noise: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Factors drawn uniformly and codes equal to them (plus Gaussian noise of sd ``noise``)."""
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(0, s, n) for s in factor_sizes], axis=1)
    codes = factors + noise * rng.normal(size=factors.shape)
    return codes, factors


def train_test_identity(
    n_train: int, n_test: int, factor_sizes: tuple[int, ...], seed: int = 0, noise: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    codes, factors = identity_codes(n_train + n_test, factor_sizes, seed, noise)
    return codes[:n_train], factors[:n_train], codes[n_train:], factors[n_train:]


def random_rotation(dim: int, seed: int = 0) -> np.ndarray:
    """A random orthogonal matrix (Haar, via QR with the sign fix)."""
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, dim)))
    return q * np.sign(np.diag(r))


def identity(images: np.ndarray) -> np.ndarray:
    return identity_represent(images)


def constant(num_codes: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda images: np.zeros((len(images), num_codes))


def duplicated(images: np.ndarray) -> np.ndarray:
    codes = identity_represent(images)
    return np.hstack([codes, codes])


def stamped_factors(
    factor_sizes: tuple[int, ...],
    mixing: np.ndarray | None = None,
    noise: float = 0.0,
    seed: int = 0,
) -> Callable[[np.ndarray], np.ndarray]:
    """A representation of ``StampedDataset`` images: the standardised true factors, optionally
    mixed by ``mixing`` [K, D], plus Gaussian noise from its own seeded generator (so a fresh
    one replays the same codes for the same calls)."""
    sizes = np.asarray(factor_sizes, dtype=np.float64)
    mean = (sizes - 1) / 2
    std = np.sqrt((sizes**2 - 1) / 12)  # of a uniform index in 0..size-1
    rng = np.random.default_rng(seed)

    def represent(images: np.ndarray) -> np.ndarray:
        codes = (read_stamp(images, len(sizes)) - mean) / std
        if mixing is not None:
            codes = codes @ mixing
        return codes + noise * rng.normal(size=codes.shape)

    return represent

"""The ground-truth factor dataset interface, after disentanglement_lib's ``GroundTruthData``.

Disentanglement metrics need to render an observation from chosen factor values (to hold one
factor fixed while the others vary), so a dataset here is a renderer of discrete factors, not a
fixed array of images.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class FactorDataset(Protocol):
    """Discrete, independent factors of variation and a deterministic renderer for them.

    ``factors`` arrays are int [n, K], column k an index into ``factor_values[k]``.
    """

    factor_names: tuple[str, ...]
    factor_sizes: tuple[int, ...]
    factor_values: tuple[tuple[object, ...], ...]
    observation_shape: tuple[int, int, int]

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` factor vectors uniformly and independently, int64 [n, K]."""
        ...

    def render(self, factors: np.ndarray) -> np.ndarray:
        """Render uint8 [n, H, W, 3] observations; the same factors always give the same pixels."""
        ...


def sample_uniform_factors(
    factor_sizes: tuple[int, ...], n: int, rng: np.random.Generator
) -> np.ndarray:
    """Independent uniform draws per factor: what makes the metrics' conditioning valid."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return np.stack([rng.integers(0, size, n) for size in factor_sizes], axis=1).astype(np.int64)


def check_factors(factors: np.ndarray, factor_sizes: tuple[int, ...]) -> np.ndarray:
    """Validate an int [n, K] factor array against the dataset's sizes; one clear error if not."""
    factors = np.asarray(factors)
    if factors.ndim != 2 or factors.shape[1] != len(factor_sizes):
        raise ValueError(
            f"factors must have shape [n, {len(factor_sizes)}], got {factors.shape}; "
            "pass one column per factor in factor_names order"
        )
    if not np.issubdtype(factors.dtype, np.integer):
        raise ValueError(f"factors must be integer indices, got dtype {factors.dtype}")
    sizes = np.asarray(factor_sizes)
    if factors.size and (factors.min() < 0 or np.any(factors.max(axis=0) >= sizes)):
        raise ValueError(
            f"factor indices out of range; each column k must lie in [0, {list(factor_sizes)}[k])"
        )
    return factors.astype(np.int64, copy=False)


class RenderCache:
    """Each distinct factor vector rendered once, then served from memory.

    The sampling metrics draw the same few thousand scenes over and over (disentanglement_lib's
    β-VAE score alone asks for about two million images). ``np.empty`` only reserves address
    space: a scene takes memory once drawn. Past ``cache_bytes`` the cache is off.
    """

    def __init__(
        self, factor_sizes: tuple[int, ...], observation_shape: tuple[int, ...], cache_bytes: int
    ) -> None:
        self.factor_sizes = factor_sizes
        num_scenes = int(np.prod(factor_sizes))
        fits = num_scenes * int(np.prod(observation_shape)) <= cache_bytes
        self._images = np.empty((num_scenes, *observation_shape), np.uint8) if fits else None
        self._rendered = np.zeros(num_scenes if fits else 0, dtype=bool)

    def render(self, factors: np.ndarray, render_rows) -> np.ndarray:
        """``render_rows(factors) -> uint8 images`` is called for scenes not drawn before."""
        if self._images is None:
            return render_rows(factors)
        flat = np.ravel_multi_index(tuple(factors.T), self.factor_sizes)
        missing = np.unique(flat[~self._rendered[flat]])
        if len(missing):
            rows = np.stack(np.unravel_index(missing, self.factor_sizes), axis=1)
            self._images[missing] = render_rows(rows)
            self._rendered[missing] = True
        return self._images[flat]

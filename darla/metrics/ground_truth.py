"""Factor datasets with known answers, for sanity checks of the metrics themselves.

- :class:`IdentityDataset`: the observation *is* the factor vector (disentanglement_lib's
  ``IdentityObservationsData``), and :func:`identity_represent` reads it back, so a correct
  metric must give a near-perfect score.
- :class:`StampedDataset`: wraps any factor dataset (e.g. ``envs.shapes.Shapes2D``) and writes
  each image's factor indices into the red channel of its first K pixels of row 0;
  :func:`read_stamp` recovers them from the pixels alone. This gives real images an exactly
  known "ground-truth encoder" to compare a trained model, or a random mixing, against.

Both encode factors in uint8 pixels, so factor sizes must be at most 256.
"""

from __future__ import annotations

import numpy as np

from darla.errors import DarlaError
from darla.metrics.sampling import FactorDataset, check_dataset, factor_names


def _check_uint8_sizes(sizes: tuple[int, ...]) -> None:
    if max(sizes) > 256:
        raise DarlaError(f"factor sizes {sizes} exceed 256; they cannot be stored in uint8 pixels")


class IdentityDataset:
    """Observations ``[n, 1, K, 3]`` whose pixel ``[0, k]`` holds factor k's index."""

    def __init__(self, factor_sizes: tuple[int, ...] = (10,) * 10) -> None:
        self.factor_sizes = tuple(int(s) for s in factor_sizes)
        _check_uint8_sizes(self.factor_sizes)
        self.factor_names = tuple(f"factor{k}" for k in range(len(self.factor_sizes)))
        self.factor_values = tuple(tuple(range(s)) for s in self.factor_sizes)
        self.observation_shape = (1, len(self.factor_sizes), 3)

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.stack([rng.integers(0, s, n) for s in self.factor_sizes], axis=1)

    def render(self, factors: np.ndarray) -> np.ndarray:
        factors = np.asarray(factors)
        images = np.repeat(factors[:, None, :, None], 3, axis=3)
        return images.astype(np.uint8)


def identity_represent(images: np.ndarray) -> np.ndarray:
    """The factors of :class:`IdentityDataset` images, as float codes ``[n, K]``."""
    return images[:, 0, :, 0].astype(np.float64)


class StampedDataset:
    """``dataset`` with each image's factor indices stamped into its first pixels."""

    def __init__(self, dataset: FactorDataset) -> None:
        sizes = check_dataset(dataset)
        _check_uint8_sizes(sizes)
        self.dataset = dataset
        self.factor_names = factor_names(dataset)
        self.factor_sizes = sizes
        for attribute in ("factor_values", "observation_shape"):
            if hasattr(dataset, attribute):
                setattr(self, attribute, getattr(dataset, attribute))

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.dataset.sample_factors(n, rng)

    def __getattr__(self, name: str) -> object:
        # the optional conditional samplers (``sample_factors_with``, ``allowed_values``) of a
        # dataset with dependent factors: hiding them would let a metric overwrite a column and
        # draw a combination the dataset does not hold
        if name in ("sample_factors_with", "allowed_values"):
            return getattr(self.dataset, name)
        raise AttributeError(name)

    def render(self, factors: np.ndarray) -> np.ndarray:
        images = np.array(self.dataset.render(factors), dtype=np.uint8, copy=True)
        if images.shape[2] < len(self.factor_sizes):
            raise DarlaError(
                f"images are {images.shape[2]} pixels wide, too narrow to stamp "
                f"{len(self.factor_sizes)} factors"
            )
        images[:, 0, : len(self.factor_sizes), 0] = np.asarray(factors)
        return images


def read_stamp(images: np.ndarray, num_factors: int) -> np.ndarray:
    """The factor indices a :class:`StampedDataset` wrote into ``images``, int ``[n, K]``."""
    return images[:, 0, :num_factors, 0].astype(np.int64)

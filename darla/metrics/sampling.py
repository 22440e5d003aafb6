"""Sampling observations from a factor dataset and encoding them with a representation function.

The metrics never see a model: they see a ``represent`` callable from uint8 images
``[n, H, W, 3]`` to float codes ``[n, D]`` (for a VAE, usually the latent mean), and a factor
dataset with disentanglement_lib's ``GroundTruthData`` contract (``factor_names``,
``factor_sizes``, ``sample_factors(n, rng)``, ``render(factors)``). Sampling lives here, apart
from the arithmetic, so every metric's core can be tested on exact arrays.

A dataset whose factors are not independent (the CollectGoodObjects scenes restricted to the
chosen domains' combinations, ``envs.scene_factors``) also offers ``sample_factors_with(k,
values, rng)``: rows of its support whose factor ``k`` has the given values. The metrics that fix
a factor and resample the others (β-VAE, FactorVAE) go through :func:`fix_factor`, which uses it
when present: overwriting one column of independent draws would make combinations the dataset
does not hold (a held-out target domain's, say).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from darla.errors import DarlaError
from darla.metrics.utils import check_factors
from darla.settings import whole_number

#: Maps uint8 images ``[n, H, W, 3]`` to float codes ``[n, D]``; must return numpy (or
#: array-like) values, so a torch encoder wraps its output in ``.detach().cpu().numpy()``.
RepresentationFunction = Callable[[np.ndarray], np.ndarray]


@runtime_checkable
class FactorDataset(Protocol):
    """What the sampling wrappers need from a dataset (``envs.factor_dataset`` has the full one)."""

    factor_names: tuple[str, ...]
    factor_sizes: tuple[int, ...]

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray: ...

    def render(self, factors: np.ndarray) -> np.ndarray: ...


def check_dataset(dataset: object) -> tuple[int, ...]:
    """The dataset's factor sizes, after checking it can be sampled and rendered."""
    missing = [a for a in ("factor_sizes", "sample_factors", "render") if not hasattr(dataset, a)]
    if missing:
        raise DarlaError(
            f"{type(dataset).__name__} lacks {missing}; a metrics dataset needs factor_names, "
            "factor_sizes, sample_factors(n, rng) and render(factors) (see envs.factor_dataset)"
        )
    sizes = tuple(int(s) for s in dataset.factor_sizes)  # type: ignore[attr-defined]
    names = factor_names(dataset)
    single = [names[k] for k, s in enumerate(sizes) if s < 2]
    if not sizes or single:
        raise DarlaError(
            f"factor(s) {single or '(none)'} of {type(dataset).__name__} take fewer than 2 values; "
            "a metric needs every factor to vary: drop constant factors from the dataset"
        )
    return sizes


def factor_names(dataset: object) -> tuple[str, ...]:
    sizes = dataset.factor_sizes  # type: ignore[attr-defined]
    names = getattr(dataset, "factor_names", None)
    return tuple(names) if names is not None else tuple(f"factor{k}" for k in range(len(sizes)))


def check_batch_size(batch_size: int) -> int:
    if int(batch_size) != batch_size or batch_size < 1:
        raise DarlaError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def check_count(value: int, name: str, minimum: int = 1) -> int:
    """A metric's sample count, checked as every numeric setting is (:mod:`darla.settings`)."""
    return whole_number(name, value, minimum)


def sample_factors(dataset: FactorDataset, n: int, rng: np.random.Generator) -> np.ndarray:
    """``dataset.sample_factors`` with its output checked: int ``[n, K]``."""
    sizes = tuple(dataset.factor_sizes)
    factors = check_factors(dataset.sample_factors(n, rng), "sampled factors")
    if factors.shape != (n, len(sizes)):
        raise DarlaError(
            f"{type(dataset).__name__}.sample_factors({n}, rng) returned shape {factors.shape}, "
            f"expected ({n}, {len(sizes)})"
        )
    return factors


def fix_factor(
    dataset: FactorDataset,
    drawn: np.ndarray,
    factor: int | np.ndarray,
    values: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """``drawn`` (int ``[n, K]``, from :func:`sample_factors`) with factor ``factor[i]`` of row i
    set to ``values[i]``, every row in the dataset's support.

    Without ``dataset.sample_factors_with`` the factors are independent and the column is
    overwritten in place: disentanglement_lib's way, the same numbers as before. With it, the
    rows are drawn again from the support given the fixed values (``drawn`` is only a shape).
    """
    values = np.asarray(values, dtype=np.int64).reshape(-1)
    n = len(values)
    factor = np.broadcast_to(np.asarray(factor, dtype=np.int64), (n,))
    if drawn.shape[0] != n:
        raise DarlaError(f"{n} fixed values for {drawn.shape[0]} rows; give one value per row")
    conditional = getattr(dataset, "sample_factors_with", None)
    if conditional is None:
        drawn[np.arange(n), factor] = values
        return drawn
    factors = check_factors(conditional(factor, values, rng), "conditionally sampled factors")
    if factors.shape != drawn.shape or not np.array_equal(factors[np.arange(n), factor], values):
        raise DarlaError(
            f"{type(dataset).__name__}.sample_factors_with returned shape {factors.shape} or "
            f"other values of the fixed factor; it must return {drawn.shape} rows holding them"
        )
    return factors


def represent_factors(
    dataset: FactorDataset,
    represent: RepresentationFunction,
    factors: np.ndarray,
    batch_size: int = 64,
) -> np.ndarray:
    """Render ``factors`` [n, K] and encode them, ``batch_size`` observations per call.

    Only one batch of images is alive at a time, so memory does not grow with the number of
    points; the result does not depend on ``batch_size`` as long as ``represent`` treats the
    rows of a batch independently (true for a VAE in eval mode; not for BatchNorm in train mode).
    """
    return _encode_in_batches(
        represent, len(factors), lambda a, b: dataset.render(factors[a:b]), batch_size
    )


def encode_images(
    represent: RepresentationFunction, images: np.ndarray, batch_size: int = 64
) -> np.ndarray:
    """Codes ``[n, D]`` of images already in memory (frames an env rendered, not a factor
    dataset's scenes), ``batch_size`` images per call, checked as :func:`represent_factors`'."""
    return _encode_in_batches(represent, len(images), lambda a, b: images[a:b], batch_size)


def _encode_in_batches(
    represent: RepresentationFunction,
    n: int,
    images: Callable[[int, int], np.ndarray],
    batch_size: int,
) -> np.ndarray:
    """Codes ``[n, D]`` of ``images(start, stop)``, one batch at a time, each batch checked and
    every batch the same number of codes."""
    batch_size = check_batch_size(batch_size)
    codes: np.ndarray | None = None
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        batch = _encode(represent, images(start, stop), stop - start)
        if codes is None:
            codes = np.empty((n, batch.shape[1]), dtype=np.float64)
        elif batch.shape[1] != codes.shape[1]:
            raise DarlaError(
                f"represent returned {batch.shape[1]} code dimensions for one batch and "
                f"{codes.shape[1]} for another; it must return a fixed number of codes"
            )
        codes[start:stop] = batch
    if codes is None:
        raise DarlaError("no observations to encode; ask for at least one point")
    return codes


def _encode(represent: RepresentationFunction, images: np.ndarray, n: int) -> np.ndarray:
    codes = np.asarray(represent(images))
    if codes.ndim != 2 or codes.shape[0] != n:
        raise DarlaError(
            f"represent returned shape {codes.shape} for {n} images; it must return float codes "
            f"of shape [{n}, num_codes]"
        )
    if not np.issubdtype(codes.dtype, np.number):
        raise DarlaError(f"represent returned dtype {codes.dtype}; it must return float codes")
    codes = codes.astype(np.float64, copy=False)
    if not np.all(np.isfinite(codes)):
        raise DarlaError(
            "represent returned NaN or inf codes; fix the encoder (a diverged model?) first"
        )
    return codes


def sample_codes(
    dataset: FactorDataset,
    represent: RepresentationFunction,
    num_points: int,
    *,
    rng: np.random.Generator,
    batch_size: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``num_points`` factor vectors, render and encode them: ``(codes [N, D], factors [N, K])``.

    disentanglement_lib's ``generate_batch_factor_code``, but sample-major and with all factors
    drawn in one call, so the sample depends on the seed only, not on ``batch_size``.
    """
    check_dataset(dataset)
    num_points = check_count(num_points, "num_points", 2)
    factors = sample_factors(dataset, num_points, rng)
    return represent_factors(dataset, represent, factors, batch_size), factors


def sample_train_test(
    dataset: FactorDataset,
    represent: RepresentationFunction,
    num_train: int,
    num_test: int,
    *,
    rng: np.random.Generator,
    batch_size: int = 64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Independent train and test samples, ``(codes_train, factors_train, codes_test, factors_test)``:
    what the classifier-based metrics (DCI, SAP, explicitness) fit and score on."""
    codes_train, factors_train = sample_codes(
        dataset, represent, num_train, rng=rng, batch_size=batch_size
    )
    codes_test, factors_test = sample_codes(
        dataset, represent, num_test, rng=rng, batch_size=batch_size
    )
    return codes_train, factors_train, codes_test, factors_test

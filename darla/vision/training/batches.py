"""Training batches for the vision trainer, prefetched on a background thread.

Batch ``step`` is a pure function of ``(seed, step)``: a resumed run draws exactly the batches
the uninterrupted run would have, with no sampler state to checkpoint. Two sources:

- :class:`BatchSource`: frames drawn from a memory-mapped frame store (most models), optionally
  with their factor labels (SCAN) or source-domain ids (DCoDR);
- :class:`ClampedBatches`: scenes rendered from a factor dataset with one factor varying and all
  others fixed (DC-IGN).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from darla.errors import DarlaError

VALIDATION_STREAM = 2**31  # seeds validation draws apart from every training step's
_SUPPORT_PROBE = 4096  # rows drawn to check that every factor of a restricted dataset can vary
_MAX_BASE_DRAWS = 1000  # base scenes tried per clamped batch before giving up


@dataclass(frozen=True)
class Batch:
    """uint8 frames ``[B, H, W, 3]`` and what ``model.loss`` takes with them.

    ``loss_kwargs`` is empty for most models; SCAN gets ``factors`` (int labels ``[B, K]``),
    DCoDR ``domains`` (int ``[B]``), DC-IGN ``varying_factor``. ``factors`` records the factor
    indices a rendered batch was drawn from, for inspection (None for collected frames).
    """

    images: np.ndarray
    loss_kwargs: dict[str, Any] = field(default_factory=dict)
    factors: np.ndarray | None = None


class BatchSampler(Protocol):
    """What :func:`~darla.vision.training.trainer.train_vision` draws its batches from."""

    def get(self, step: int) -> Batch:
        """Training batch ``step``; a pure function of the sampler's seed and ``step``."""
        ...

    def validation(self) -> list[Batch]:
        """Fixed held-out batches (the same every call)."""
        ...

    def close(self) -> None: ...


class BatchSource:
    """Batches of frames drawn with replacement from ``indices``, with labels when given.

    ``labels`` (int ``[N, K]``, e.g. the factors stored with the frames) rides along as
    ``loss_kwargs["factors"]``; a mapping of per-frame int arrays rides along under its own keys
    (``{"domains": domain_ids}``: ``loss_kwargs["domains"]``). Validation: up to ``val_batches``
    batches of distinct frames from ``val_indices`` (or from ``indices`` when there are none).
    """

    def __init__(
        self,
        frames: np.ndarray,
        indices: np.ndarray,
        batch_size: int,
        seed: int,
        *,
        labels: np.ndarray | Mapping[str, np.ndarray] | None = None,
        val_indices: np.ndarray | None = None,
        val_batches: int = 1,
    ) -> None:
        if len(indices) == 0:
            raise ValueError("no frames to draw batches from")
        self.frames = frames
        self.labels = labels
        self.indices = np.asarray(indices)
        self.val_indices = (
            self.indices if val_indices is None or not len(val_indices) else val_indices
        )
        self.batch_size = batch_size
        self.val_batches = val_batches
        self.seed = seed
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batches")
        self._pending: dict[int, Future] = {}

    def indices_for(self, step: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, step])
        # sorted: reading a memory map in file order is faster, and a mean loss ignores order
        return np.sort(self.indices[rng.integers(0, len(self.indices), self.batch_size)])

    def _batch(self, indices: np.ndarray) -> Batch:
        images = np.ascontiguousarray(self.frames[indices])
        if self.labels is None:
            return Batch(images)
        labels = self.labels if isinstance(self.labels, Mapping) else {"factors": self.labels}
        return Batch(images, {k: np.asarray(v[indices], dtype=np.int64) for k, v in labels.items()})

    def _gather(self, step: int) -> Batch:
        return self._batch(self.indices_for(step))

    def get(self, step: int) -> Batch:
        """Batch ``step``, and start gathering batch ``step + 1`` while the caller trains."""
        future = self._pending.pop(step, None)
        batch = future.result() if future is not None else self._gather(step)
        self._pending = {step + 1: self._pool.submit(self._gather, step + 1)}
        return batch

    def validation(self) -> list[Batch]:
        indices = self.val_indices
        count = min(len(indices), self.val_batches * self.batch_size)
        rng = np.random.default_rng([self.seed, VALIDATION_STREAM])
        chosen = np.sort(rng.choice(indices, count, replace=False))
        return [
            self._batch(chosen[start : start + self.batch_size])
            for start in range(0, len(chosen), self.batch_size)
        ]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class ClampedBatches:
    """DC-IGN's batches: ONE factor varies across the batch, every other is fixed.

    Batch ``step`` is a pure function of ``(seed, step)``: the varying factor is drawn uniformly
    among the factors with two or more values, the base scene uniformly, and the varying factor
    runs through a random permutation of all its values, repeated to fill the batch (every value
    appears when the batch is at least that large). Validation batches come from their own
    stream. ``loss_kwargs["varying_factor"]`` indexes ``factor_names``.

    A dataset whose factors are not independent (``allowed_values(k, row)``: the CollectGoodObjects
    scenes, restricted to the chosen domains' own combinations) must not be varied into a
    combination it does not hold (a held-out target's: room 2 with pair A). There the base scene
    is drawn from its support (``sample_factors``), redrawn until factor k can take two or more
    values with the others fixed, and the batch runs through those values only. A factor that
    never varies alone among the support's combinations is refused when the sampler is built.

    Rendering happens on one background thread, which also builds the dataset: an OpenGL context
    belongs to the thread that made it, and CollectGoodObjects frames rendered from another
    thread come out wrong. The next batch renders while the current one trains; each distinct
    scene is rendered once (the dataset's ``RenderCache``).
    """

    def __init__(
        self,
        make_dataset: Callable[[], Any],
        batch_size: int,
        seed: int,
        *,
        val_batches: int = 1,
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clamped-batches")
        try:
            self.dataset = self._pool.submit(make_dataset).result()
        except BaseException:
            self._pool.shutdown(wait=True)
            raise
        self._closed = False
        self._pending: dict[int, Future] = {}
        self.factor_names = tuple(self.dataset.factor_names)
        self.factor_sizes = tuple(int(s) for s in self.dataset.factor_sizes)
        self.varying = tuple(k for k, size in enumerate(self.factor_sizes) if size > 1)
        if not self.varying:
            self.close()
            raise DarlaError(
                "the factor dataset has no factor with two or more values, so no batch can vary "
                "one: pick data.domains that differ in some factor"
            )
        self.batch_size = batch_size
        self.val_batches = val_batches
        self.seed = seed
        self._validation: list[Batch] | None = None
        self._restricted = hasattr(self.dataset, "allowed_values")
        if self._restricted:
            self._check_every_factor_can_vary_alone()

    def _check_every_factor_can_vary_alone(self) -> None:
        # the env support is a few domain combinations times independent layout factors, so
        # this many draws hold every combination (and a base for each factor) many times over
        rows = self.dataset.sample_factors(_SUPPORT_PROBE, np.random.default_rng(0))
        stuck = [
            self.factor_names[k]
            for k in self.varying
            if not any(
                len(self.dataset.allowed_values(k, row)) > 1 for row in np.unique(rows, axis=0)
            )
        ]
        if stuck:
            self.close()
            raise DarlaError(
                f"factor(s) {stuck} of the factor dataset never vary alone among its domains' "
                "combinations (no two domains differ in them only), so no clamped batch can vary "
                "them: add a data.domains entry that differs from another in that factor only"
            )

    def _draw(self, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        k = self.varying[int(rng.integers(len(self.varying)))]
        if not self._restricted:
            base = np.array([rng.integers(size) for size in self.factor_sizes], dtype=np.int64)
            values = np.arange(self.factor_sizes[k])
        else:
            for _ in range(_MAX_BASE_DRAWS):
                base = np.asarray(self.dataset.sample_factors(1, rng)[0], dtype=np.int64)
                values = np.asarray(self.dataset.allowed_values(k, base), dtype=np.int64)
                if len(values) > 1:
                    break
            else:  # the check in __init__ makes this all but impossible
                raise DarlaError(
                    f"no base scene lets {self.factor_names[k]} vary in {_MAX_BASE_DRAWS} draws"
                )
        factors = np.tile(base, (self.batch_size, 1))
        factors[:, k] = np.resize(rng.permutation(values), self.batch_size)
        return factors, k

    def factors_for(self, step: int) -> tuple[np.ndarray, int]:
        """The factor indices ``[B, K]`` of batch ``step`` and the factor that varies in it."""
        return self._draw(np.random.default_rng([self.seed, step]))

    def _render(self, factors: np.ndarray, varying: int) -> Batch:
        images = self.dataset.render(factors)
        return Batch(images, {"varying_factor": int(varying)}, factors=factors)

    def _submit(self, step: int) -> Future:
        return self._pool.submit(self._render, *self.factors_for(step))

    def get(self, step: int) -> Batch:
        """Batch ``step``, and start rendering batch ``step + 1`` while the caller trains."""
        future = self._pending.pop(step, None) or self._submit(step)
        batch = future.result()
        self._pending = {step + 1: self._submit(step + 1)}
        return batch

    def validation(self) -> list[Batch]:
        if self._validation is None:
            draws = [
                self._draw(np.random.default_rng([self.seed, VALIDATION_STREAM, i]))
                for i in range(self.val_batches)
            ]
            self._validation = [self._pool.submit(self._render, *d).result() for d in draws]
        return self._validation

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for future in self._pending.values():
            future.cancel()
        close = getattr(self.dataset, "close", None)
        try:
            if close is not None:
                self._pool.submit(close).result()  # on the thread that owns its GL context
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

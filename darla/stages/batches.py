"""Training batches from a memory-mapped frame store, prefetched on a background thread.

Batch ``step`` is a pure function of ``(seed, step)``: a resumed run draws exactly the batches
the uninterrupted run would have, with no sampler state to checkpoint.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np


class BatchSource:
    """uint8 batches ``[B, H, W, 3]`` of frames drawn with replacement from ``indices``."""

    def __init__(self, frames: np.ndarray, indices: np.ndarray, batch_size: int, seed: int) -> None:
        if len(indices) == 0:
            raise ValueError("no frames to draw batches from")
        self.frames = frames
        self.indices = np.asarray(indices)
        self.batch_size = batch_size
        self.seed = seed
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batches")
        self._pending: dict[int, Future] = {}

    def indices_for(self, step: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, step])
        # sorted: reading a memory map in file order is faster, and a mean loss ignores order
        return np.sort(self.indices[rng.integers(0, len(self.indices), self.batch_size)])

    def _gather(self, step: int) -> np.ndarray:
        return np.ascontiguousarray(self.frames[self.indices_for(step)])

    def get(self, step: int) -> np.ndarray:
        """Batch ``step``, and start gathering batch ``step + 1`` while the caller trains."""
        future = self._pending.pop(step, None)
        batch = future.result() if future is not None else self._gather(step)
        self._pending = {step + 1: self._pool.submit(self._gather, step + 1)}
        return batch

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

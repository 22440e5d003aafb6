"""Memoized representation functions: each distinct image encoded once.

A factor dataset of environment scenes has a few thousand distinct images, but the sampling
metrics ask for the codes of hundreds of thousands of draws of them. For a deterministic
representation (a model's latent means, in eval mode) each distinct image need be encoded once.
"""

from __future__ import annotations

import hashlib

import numpy as np

from darla.metrics.sampling import RepresentationFunction


class MemoizedRepresentationFunction:
    """Wraps a deterministic ``represent``; encodes each distinct image once.

    Images are keyed by a 128-bit BLAKE2b digest of their bytes, so a collision is not a
    practical concern. Do not wrap a stochastic representation (sampled latents): every draw
    of an image would then get the first draw's code.
    """

    def __init__(self, represent: RepresentationFunction, max_entries: int = 1_000_000) -> None:
        self.represent = represent
        self.max_entries = max_entries
        self._codes: dict[bytes, np.ndarray] = {}
        self.hits = self.misses = 0

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = np.ascontiguousarray(images)
        keys = [hashlib.blake2b(image.tobytes(), digest_size=16).digest() for image in images]
        missing: dict[bytes, int] = {}
        for i, key in enumerate(keys):
            if key not in self._codes and key not in missing:
                missing[key] = i
        if missing:
            codes = np.asarray(self.represent(images[list(missing.values())]))
            if len(self._codes) + len(missing) > self.max_entries:
                self._codes.clear()
            self._codes.update(zip(missing, codes, strict=True))
        self.misses += len(missing)
        self.hits += len(keys) - len(missing)
        if not keys:
            return np.asarray(self.represent(images))
        return np.stack([self._codes[key] for key in keys])

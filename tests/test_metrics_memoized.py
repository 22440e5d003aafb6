"""Memoized representations: same codes as the wrapped function, each distinct image encoded once."""

import numpy as np

from darla.metrics.memoized import MemoizedRepresentationFunction


def test_memoized_codes_equal_direct_codes_and_encode_each_image_once():
    rng = np.random.default_rng(0)
    distinct = rng.integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    seen = []

    def represent(images):
        seen.append(len(images))
        return images.reshape(len(images), -1)[:, :4].astype(np.float32) / 255

    memo = MemoizedRepresentationFunction(represent)
    draws = distinct[rng.integers(0, 5, 200)]
    np.testing.assert_array_equal(memo(draws), represent(draws))
    np.testing.assert_array_equal(memo(draws[::-1]), represent(draws[::-1]))
    assert seen[0] == 5  # the first call encoded the 5 distinct images only
    assert memo.misses == 5 and memo.hits == 395

"""A procedural 2D shapes dataset (shape, scale, x, y, colour), generated in numpy.

It plays the role dSprites plays in disentanglement_lib's tests: independent, exactly known
factors and rendering fast enough that a metric test runs in seconds. Nothing is downloaded.
"""

from __future__ import annotations

import numpy as np

from envs.factor_dataset import RenderCache, check_factors, sample_uniform_factors

SHAPES = ("square", "circle", "triangle")
COLOURS = {
    "red": (230, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 90, 235),
    "yellow": (235, 220, 40),
}


class Shapes2D:
    """Coloured shapes on a black canvas.

    Scales are radii as fractions of the image side; positions span the canvas minus the
    largest radius, so every shape at every position is fully visible.
    """

    factor_names = ("shape", "scale", "x", "y", "colour")

    def __init__(
        self,
        image_size: int = 64,
        num_scales: int = 4,
        num_positions: int = 8,
        cache_bytes: int = 1 << 28,
    ) -> None:
        if image_size < 16:
            raise ValueError(f"image_size must be >= 16, got {image_size}")
        self.image_size = image_size
        self.scales = tuple(float(s) for s in np.linspace(0.08, 0.18, num_scales))
        margin = max(self.scales) * image_size + 1
        self.positions = tuple(
            float(p) for p in np.linspace(margin, image_size - 1 - margin, num_positions)
        )
        self.factor_values = (SHAPES, self.scales, self.positions, self.positions, tuple(COLOURS))
        self.factor_sizes = tuple(len(v) for v in self.factor_values)
        self.observation_shape = (image_size, image_size, 3)
        self._palette = np.array(list(COLOURS.values()), dtype=np.uint8)
        self._cache = RenderCache(self.factor_sizes, self.observation_shape, cache_bytes)

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return sample_uniform_factors(self.factor_sizes, n, rng)

    def render(self, factors: np.ndarray) -> np.ndarray:
        return self._cache.render(check_factors(factors, self.factor_sizes), self._render_rows)

    def _render_rows(self, factors: np.ndarray, chunk_size: int = 1024) -> np.ndarray:
        out = np.zeros((len(factors), *self.observation_shape), dtype=np.uint8)
        for start in range(0, len(factors), chunk_size):
            chunk = factors[start : start + chunk_size]
            out[start : start + len(chunk)] = self._render_chunk(chunk)
        return out

    def _render_chunk(self, factors: np.ndarray) -> np.ndarray:
        size = self.image_size
        coords = np.arange(size, dtype=np.float32) + 0.5
        radius = np.asarray(self.scales, dtype=np.float32)[factors[:, 1]][:, None, None] * size
        dx = (
            coords[None, None, :]
            - np.asarray(self.positions, dtype=np.float32)[factors[:, 2]][:, None, None]
        )
        dy = (
            coords[None, :, None]
            - np.asarray(self.positions, dtype=np.float32)[factors[:, 3]][:, None, None]
        )
        square = np.maximum(np.abs(dx), np.abs(dy)) <= radius
        circle = dx**2 + dy**2 <= radius**2
        # Apex up, base at the bottom: the half-width grows linearly from 0 to the radius.
        triangle = (np.abs(dy) <= radius) & (np.abs(dx) <= (dy + radius) / 2)
        shape = factors[:, 0][:, None, None]
        mask = np.where(shape == 0, square, np.where(shape == 1, circle, triangle))
        return mask[..., None] * self._palette[factors[:, 4]][:, None, None, :]

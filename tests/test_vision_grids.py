"""Reconstruction and traversal grids: uint8 images of the right layout, mode restored."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from darla.errors import DarlaError
from darla.vision import (
    build_model,
    reconstruction_grid,
    tile_images,
    traversal_grid,
    traversal_order,
)

SIZE = 32


def frames(n: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, SIZE, SIZE, 3), dtype=np.uint8)


def test_tile_images_layout() -> None:
    tiles = np.zeros((2, 3, 4, 5, 3), np.uint8)
    tiles[1, 2] = 7
    grid = tile_images(tiles, pad=1, pad_value=255)
    assert grid.shape == (2 * 4 + 3, 3 * 5 + 4, 3) and grid.dtype == np.uint8
    assert (grid[1 + 4 + 1 : 1 + 4 + 1 + 4, 1 + 2 * 6 : 1 + 2 * 6 + 5] == 7).all()
    assert (grid[0] == 255).all()


def test_reconstruction_grid_shows_originals_above_reconstructions() -> None:
    torch.manual_seed(0)
    model = build_model("beta_vae", image_size=SIZE, latent_dim=4).train()
    obs = frames(5)
    grid = reconstruction_grid(model, obs, max_images=4, pad=0)
    assert grid.shape == (2 * SIZE, 4 * SIZE, 3) and grid.dtype == np.uint8
    assert np.array_equal(grid[:SIZE, :SIZE], obs[0])
    assert model.training


def test_traversal_grid_rows_follow_kl_order() -> None:
    torch.manual_seed(0)
    model = build_model("beta_vae", image_size=SIZE, latent_dim=4)
    kl = torch.tensor([0.1, 3.0, 0.0, 1.0])
    assert traversal_order(kl) == [1, 3, 0, 2]
    grid = traversal_grid(model, frames(1)[0], n_steps=5, kl_per_dim=kl, max_rows=2, pad=0)
    assert grid.shape == (2 * SIZE, 5 * SIZE, 3) and grid.dtype == np.uint8
    explicit = traversal_grid(model, frames(1), n_steps=5, dims=[1, 3], pad=0)
    assert np.array_equal(grid, explicit)
    # Along a row the decoded images change with the traversed latent.
    assert not np.array_equal(grid[:SIZE, :SIZE], grid[:SIZE, -SIZE:])


def test_traversal_grid_rejects_bad_dims() -> None:
    model = build_model("vae", image_size=SIZE, latent_dim=4)
    with pytest.raises(DarlaError, match="out of range"):
        traversal_grid(model, frames(1), dims=[4])

"""Image grids for inspecting a vision model: reconstructions and latent traversals.

They return uint8 ``[H, W, 3]`` arrays, so the caller chooses the sink (``imageio.imwrite`` for
``recon.png``/``traversals.png``, ``SummaryWriter.add_image(..., dataformats="HWC")``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from darla.errors import DarlaError
from darla.vision.base import VisionModel, eval_mode, images_to_tensor, tensor_to_images


def tile_images(tiles: np.ndarray, pad: int = 1, pad_value: int = 255) -> np.ndarray:
    """Tile uint8 images ``[rows, cols, H, W, 3]`` into one ``[H', W', 3]`` image with borders."""
    rows, cols, h, w, c = tiles.shape
    out = np.full(
        (rows * h + (rows + 1) * pad, cols * w + (cols + 1) * pad, c), pad_value, dtype=np.uint8
    )
    for r in range(rows):
        for col in range(cols):
            top, left = pad + r * (h + pad), pad + col * (w + pad)
            out[top : top + h, left : left + w] = tiles[r, col]
    return out


def reconstruction_grid(
    model: VisionModel, obs_uint8: np.ndarray, max_images: int = 8, pad: int = 1
) -> np.ndarray:
    """Two rows: up to ``max_images`` frames, and below each its reconstruction through μ."""
    frames = obs_uint8[:max_images]
    with eval_mode(model):
        recon = tensor_to_images(model.reconstruct(images_to_tensor(frames, model.device)))
    return tile_images(np.stack([frames, recon]), pad=pad)


def traversal_order(kl_per_dim: Sequence[float] | np.ndarray | torch.Tensor) -> list[int]:
    """Latent indices by decreasing KL: informative latents first, collapsed ones last."""
    kl = torch.as_tensor(kl_per_dim).detach().cpu().double().flatten()
    return torch.argsort(kl, descending=True, stable=True).tolist()


def traversal_grid(
    model: VisionModel,
    seed_uint8: np.ndarray,
    n_steps: int = 7,
    limit: float = 3.0,
    kl_per_dim: Sequence[float] | np.ndarray | torch.Tensor | None = None,
    dims: Sequence[int] | None = None,
    max_rows: int | None = None,
    pad: int = 1,
) -> np.ndarray:
    """Latent traversals: row i varies one latent over ``linspace(-limit, limit, n_steps)``.

    All other latents stay at the seed frame's μ, the standard β-VAE figure: a disentangled
    latent changes one factor of the scene along its row. Rows are ``dims`` if given, else all
    latents ordered by ``kl_per_dim`` (decreasing) when given, else in index order; at most
    ``max_rows`` of them.

    Args:
        seed_uint8: one frame ``[H, W, 3]`` (or ``[1, H, W, 3]``).
    """
    if seed_uint8.ndim == 3:
        seed_uint8 = seed_uint8[None]
    if n_steps < 2:
        raise DarlaError(f"n_steps must be at least 2, got {n_steps}: use e.g. 7")
    if dims is None:
        dims = traversal_order(kl_per_dim) if kl_per_dim is not None else range(model.latent_dim)
    dims = list(dims)[:max_rows]
    bad = [d for d in dims if not 0 <= d < model.latent_dim]
    if bad:
        raise DarlaError(f"latent dims {bad} out of range: the model has {model.latent_dim}")
    values = torch.linspace(-limit, limit, n_steps)
    with eval_mode(model):
        mu, _ = model.encode(images_to_tensor(seed_uint8[:1], model.device))
        z = mu.repeat(len(dims) * n_steps, 1)
        for row, d in enumerate(dims):
            z[row * n_steps : (row + 1) * n_steps, d] = values.to(z)
        images = tensor_to_images(model.decode(z))
    h, w = images.shape[1:3]
    return tile_images(images.reshape(len(dims), n_steps, h, w, 3), pad=pad)

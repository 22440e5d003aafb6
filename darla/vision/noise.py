"""Masking noise for the DAE: one random occluding rectangle per image.

DARLA trains its DAE with occlusion-style masking noise (after Pathak et al., 2016, context
encoders): to fill in a hidden patch the DAE must model what scenes contain, not copy pixels, so
its features become semantic. The paper samples the rectangle's corners uniformly; here the
rectangle's side is a fixed fraction of the image side (``fraction``), which makes the occluded
area exact and testable, and ``fraction=None`` gives the paper's random-corner rectangle.
"""

from __future__ import annotations

import torch

from darla.errors import DarlaError


def check_mask_fraction(fraction: float | tuple[float, float] | None) -> None:
    """Raise unless ``fraction`` is None or one or two numbers in (0, 1]."""
    if fraction is None:
        return
    values = fraction if isinstance(fraction, (tuple, list)) else (fraction,)
    if len(values) not in (1, 2) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 1 for v in values
    ):
        raise DarlaError(
            f"mask_fraction {fraction!r} not supported: use a fraction of the image side in "
            "(0, 1] (e.g. 0.5), a (height, width) pair of them, or null for random corners"
        )


def mask_size(height: int, width: int, fraction: float | tuple[float, float]) -> tuple[int, int]:
    """Rectangle ``(h, w)`` in pixels for a side ``fraction``; at least one pixel each way."""
    fh, fw = fraction if isinstance(fraction, (tuple, list)) else (fraction, fraction)
    return max(1, round(fh * height)), max(1, round(fw * width))


def _random_extent(
    n: int, side: int, size: int | None, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Start and stop (exclusive) of the rectangle along one axis, for ``n`` images."""
    if size is None:
        # The paper: two values uniform in [0, side]; the rectangle spans between them.
        ends = torch.randint(0, side + 1, (n, 2), generator=generator)
        return ends.min(dim=1).values, ends.max(dim=1).values
    start = torch.randint(0, side - size + 1, (n,), generator=generator)
    return start, start + size


def random_masks(
    n: int,
    height: int,
    width: int,
    fraction: float | tuple[float, float] | None = 0.5,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Boolean masks ``[n, height, width]``, True inside one random rectangle per image.

    Positions are drawn on the CPU from ``generator`` (torch's global RNG when None), so a seeded
    generator gives the same masks on every device.
    """
    check_mask_fraction(fraction)
    if fraction is None:
        h = w = None
    else:
        h, w = mask_size(height, width, fraction)
    top, bottom = _random_extent(n, height, h, generator)
    left, right = _random_extent(n, width, w, generator)
    rows = torch.arange(height)
    cols = torch.arange(width)
    in_rows = (rows >= top[:, None]) & (rows < bottom[:, None])
    in_cols = (cols >= left[:, None]) & (cols < right[:, None])
    return in_rows[:, :, None] & in_cols[:, None, :]


def mask_images(
    x: torch.Tensor,
    fraction: float | tuple[float, float] | None = 0.5,
    fill: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Return a copy of images ``x`` ``[B, C, H, W]`` with one rectangle per image set to ``fill``.

    Every channel of the rectangle is occluded, as an object in front of the camera would.
    """
    if x.ndim != 4:
        raise DarlaError(f"expected images [B, C, H, W], got shape {tuple(x.shape)}")
    b, _, h, w = x.shape
    masks = random_masks(b, h, w, fraction, generator).to(x.device)
    return x.masked_fill(masks[:, None], fill)

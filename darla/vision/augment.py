"""Image augmentations for contrastive learning, in torch on a whole batch.

Every random draw comes from ``generator`` (or torch's global RNG when it is None), so a training
step seeded by the trainer makes the same views again when a run resumes. Each image gets its own
parameters. Geometry is one ``grid_sample`` per batch: a random resized crop (SimCLR's main
augmentation), a shift of a few pixels (DrQ's, with the border repeated), and an optional
horizontal flip; then colour jitter (brightness, contrast, saturation; no hue, see
:class:`Augmentations`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from darla.errors import DarlaError

# ITU-R 601 luma, as torchvision's rgb_to_grayscale
LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class Augmentations:
    """What :func:`augment` does to each image.

    Attributes:
        crop_scale: range of the crop's area as a fraction of the image (SimCLR: 0.08 to 1 on
            ImageNet; small crops of a 64px room often hold no object, so 0.5 to 1 here);
            ``(1, 1)`` turns cropping off.
        crop_ratio: range of the crop's aspect ratio, sampled log-uniformly (SimCLR: 3/4 to 4/3).
        shift_pad: largest shift in pixels along each axis, the border repeated (DrQ: 4); 0 off.
        horizontal_flip: flip half the images left-right. Off by default: a flipped view pairs a
            scene with its mirror, so the code would stop telling left from right, and the agent
            needs that to choose between turning left and right.
        jitter: colour jitter strength s: brightness, contrast and saturation factors are drawn
            from [1 - s, 1 + s] (SimCLR: 0.8·strength). 0 turns it off. There is no hue jitter:
            in these domains an object's hue is what tells a good object from a bad one.
        jitter_prob: probability that an image is colour-jittered at all (SimCLR: 0.8).
    """

    crop_scale: tuple[float, float] = (0.5, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    shift_pad: int = 4
    horizontal_flip: bool = False
    jitter: float = 0.4
    jitter_prob: float = 0.8

    @classmethod
    def from_options(
        cls,
        crop_scale: Sequence[float],
        crop_ratio: Sequence[float],
        shift_pad: int,
        horizontal_flip: bool,
        jitter: float,
        jitter_prob: float,
    ) -> Augmentations:
        """From a model's options, as its YAML config gives them (lists for the ranges)."""
        return cls(
            crop_scale=tuple(crop_scale) if isinstance(crop_scale, (list, tuple)) else crop_scale,
            crop_ratio=tuple(crop_ratio) if isinstance(crop_ratio, (list, tuple)) else crop_ratio,
            shift_pad=shift_pad,
            horizontal_flip=horizontal_flip,
            jitter=jitter,
            jitter_prob=jitter_prob,
        )

    def options(self) -> dict[str, Any]:
        """The options again, JSON-able: what a model's saved config holds."""
        return {
            "crop_scale": [float(v) for v in self.crop_scale],
            "crop_ratio": [float(v) for v in self.crop_ratio],
            "shift_pad": self.shift_pad,
            "horizontal_flip": self.horizontal_flip,
            "jitter": float(self.jitter),
            "jitter_prob": float(self.jitter_prob),
        }

    def __post_init__(self) -> None:
        lo, hi = _pair("crop_scale", self.crop_scale, "[0.5, 1.0]")
        if not 0 < lo <= hi <= 1:
            raise DarlaError(
                f"crop_scale must satisfy 0 < low <= high <= 1, got {list(self.crop_scale)}: "
                "use e.g. [0.5, 1.0] ([1.0, 1.0] turns cropping off)"
            )
        lo, hi = _pair("crop_ratio", self.crop_ratio, "[0.75, 1.333]")
        if not 0 < lo <= hi:
            raise DarlaError(
                f"crop_ratio must satisfy 0 < low <= high, got {list(self.crop_ratio)}: "
                "use e.g. [0.75, 1.333]"
            )
        if (
            not isinstance(self.shift_pad, int)
            or isinstance(self.shift_pad, bool)
            or (self.shift_pad < 0)
        ):
            raise DarlaError(f"shift_pad must be an integer >= 0, got {self.shift_pad!r}: use 4")
        if not isinstance(self.horizontal_flip, bool):
            raise DarlaError(f"horizontal_flip must be true or false, got {self.horizontal_flip!r}")
        if not _number(self.jitter) or not 0 <= self.jitter < 1:
            raise DarlaError(f"jitter must be in [0, 1), got {self.jitter!r}: use e.g. 0.4")
        if not _number(self.jitter_prob) or not 0 <= self.jitter_prob <= 1:
            raise DarlaError(f"jitter_prob must be in [0, 1], got {self.jitter_prob!r}: use 0.8")


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _pair(name: str, value: Sequence[float], example: str) -> tuple[float, float]:
    values = list(value) if isinstance(value, (list, tuple)) else []
    if len(values) != 2 or not all(_number(v) for v in values):
        raise DarlaError(f"{name} must be two numbers [low, high], got {value!r}: use {example}")
    return float(values[0]), float(values[1])


def _uniform(
    low: float, high: float, n: int, generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def augment(
    x: torch.Tensor, spec: Augmentations, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One random view of each image of ``x`` (float ``[B, 3, H, W]`` in [0, 1]); same shape,
    values in [0, 1]. A ``generator`` on another device than ``x`` is used there and its draws
    moved, so a CPU generator seeds a CUDA batch too."""
    n, _, height, width = x.shape
    device = x.device if generator is None else generator.device

    # Random resized crop: area fraction s and aspect ratio r give a crop of sqrt(s·r) by
    # sqrt(s/r) (fractions of the width and height), placed uniformly inside the image. r is
    # clamped to [s, 1/s] so the crop fits with its area intact: s = 1 is the whole image.
    area = _uniform(*spec.crop_scale, n, generator, device)
    log_ratio = _uniform(*(math.log(r) for r in spec.crop_ratio), n, generator, device)
    ratio = torch.minimum(torch.maximum(log_ratio.exp(), area), 1 / area)
    crop_w = (area * ratio).sqrt().clamp(max=1.0)
    crop_h = (area / ratio).sqrt().clamp(max=1.0)
    # centres in grid coordinates [-1, 1]: the crop may sit anywhere it fits
    centre_x = (1 - crop_w) * _uniform(-1.0, 1.0, n, generator, device)
    centre_y = (1 - crop_h) * _uniform(-1.0, 1.0, n, generator, device)
    if spec.shift_pad:
        pad = spec.shift_pad
        shift = torch.randint(-pad, pad + 1, (n, 2), generator=generator, device=device)
        centre_x = centre_x + 2 * shift[:, 0] / width  # whole pixels: 2/W grid units each
        centre_y = centre_y + 2 * shift[:, 1] / height
    flip = torch.ones(n, device=device)
    if spec.horizontal_flip:
        flip = torch.where(torch.rand(n, generator=generator, device=device) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3, device=device)
    theta[:, 0, 0] = crop_w * flip
    theta[:, 0, 2] = centre_x
    theta[:, 1, 1] = crop_h
    theta[:, 1, 2] = centre_y
    grid = F.affine_grid(theta.to(x), list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    if spec.jitter > 0 and spec.jitter_prob > 0:
        s = spec.jitter
        factors = _uniform(1 - s, 1 + s, 3 * n, generator, device).view(3, n, 1, 1, 1)
        apply = torch.rand(n, generator=generator, device=device) < spec.jitter_prob
        factors = torch.where(apply.view(1, n, 1, 1, 1), factors, torch.ones_like(factors))
        factors = factors.to(x)
        brightness, contrast, saturation = factors
        luma = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        out = (out * brightness).clamp(0.0, 1.0)
        mean_grey = (out * luma).sum(dim=1, keepdim=True).mean(dim=(2, 3), keepdim=True)
        out = ((out - mean_grey) * contrast + mean_grey).clamp(0.0, 1.0)
        grey = (out * luma).sum(dim=1, keepdim=True)
        out = ((out - grey) * saturation + grey).clamp(0.0, 1.0)
    return out.clamp(0.0, 1.0)

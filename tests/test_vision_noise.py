"""Masking noise: exact occluded area, one rectangle, reproducible by generator seed."""

from __future__ import annotations

import pytest
import torch

from darla.errors import DarlaError
from darla.vision import build_model, mask_images, random_masks


@pytest.mark.parametrize(
    ("fraction", "expected_hw"), [(0.5, (16, 16)), (0.25, (8, 8)), ((0.5, 0.25), (16, 8))]
)
def test_mask_covers_exactly_the_configured_area(fraction, expected_hw) -> None:
    x = torch.ones(10, 3, 32, 32)
    out = mask_images(x, fraction, fill=0.0, generator=torch.Generator().manual_seed(0))
    h, w = expected_hw
    occluded = out == 0
    assert occluded.flatten(1).sum(1).tolist() == [3 * h * w] * 10
    # All channels at once, and a single axis-aligned rectangle of exactly h x w.
    assert torch.equal(occluded[:, 0], occluded[:, 1]) and torch.equal(
        occluded[:, 0], occluded[:, 2]
    )
    for m in occluded[:, 0]:
        rows = m.any(1).nonzero().flatten()
        cols = m.any(0).nonzero().flatten()
        assert (rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) == (h, w)


def test_mask_is_reproducible_by_generator_seed() -> None:
    a = random_masks(16, 32, 32, 0.25, torch.Generator().manual_seed(3))
    b = random_masks(16, 32, 32, 0.25, torch.Generator().manual_seed(3))
    c = random_masks(16, 32, 32, 0.25, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_mask_positions_vary_across_images() -> None:
    masks = random_masks(32, 32, 32, 0.25, torch.Generator().manual_seed(0))
    assert len({tuple(m.nonzero()[0].tolist()) for m in masks}) > 5


def test_mask_fill_value_and_input_untouched() -> None:
    x = torch.rand(4, 3, 32, 32)
    before = x.clone()
    out = mask_images(x, 0.5, fill=0.5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, before)
    changed = out != x
    assert (out[changed] == 0.5).all()
    assert changed.flatten(1).sum(1).max() <= 3 * 16 * 16


def test_paper_random_corner_mask_stays_in_bounds_and_is_reproducible() -> None:
    a = random_masks(50, 32, 32, None, torch.Generator().manual_seed(1))
    b = random_masks(50, 32, 32, None, torch.Generator().manual_seed(1))
    assert a.shape == (50, 32, 32) and torch.equal(a, b)
    assert len(set(a.flatten(1).sum(1).tolist())) > 10  # sizes vary


def test_dae_applies_its_configured_noise() -> None:
    dae = build_model("dae", image_size=32, mask_fraction=0.25, mask_fill=0.0)
    out = dae.corrupt(torch.ones(2, 3, 32, 32), torch.Generator().manual_seed(0))
    assert (out == 0).flatten(1).sum(1).tolist() == [3 * 8 * 8] * 2


@pytest.mark.parametrize("fraction", [0.0, 1.5, -0.1, (0.5, 0.5, 0.5), "half"])
def test_bad_mask_fraction_is_a_user_error(fraction) -> None:
    with pytest.raises(DarlaError, match="mask_fraction"):
        random_masks(2, 32, 32, fraction)
    with pytest.raises(DarlaError, match="mask_fraction"):
        build_model("dae", image_size=32, mask_fraction=fraction)

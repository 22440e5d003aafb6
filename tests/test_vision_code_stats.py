"""A vision run's code statistics: each latent's mean and std over its training frames."""

from __future__ import annotations

import numpy as np
import pytest
from vision_models import shapes_data, tiny_model

from darla.errors import DarlaError
from darla.vision.code_stats import code_statistics, read_code_stats, write_code_stats


def test_standardised_codes_of_the_training_frames_have_zero_mean_and_unit_spread(tmp_path):
    frames, _ = shapes_data(64)
    model = tiny_model("dae")  # an unbounded code: what standardising is for
    train = np.arange(0, 64, 2)
    stats = code_statistics(model, frames, train)
    codes = stats.standardise(model.latent_mean(frames[train]))
    np.testing.assert_allclose(codes.mean(axis=0), 0.0, atol=1e-4)
    moving = model.latent_mean(frames[train]).std(axis=0) > 1e-5
    np.testing.assert_allclose(codes.std(axis=0)[moving], 1.0, rtol=1e-3)
    assert stats.frames == len(train)
    again = read_code_stats(write_code_stats(tmp_path / "code_stats.json", stats), model.latent_dim)
    np.testing.assert_allclose(again.mean, stats.mean)
    np.testing.assert_allclose(again.std, stats.std)


def test_statistics_of_another_code_size_are_refused(tmp_path):
    frames, _ = shapes_data(8)
    stats = code_statistics(tiny_model("vae"), frames, np.arange(8))
    path = write_code_stats(tmp_path / "code_stats.json", stats)
    with pytest.raises(DarlaError, match="belongs to another vision run"):
        read_code_stats(path, len(stats.mean) + 1)
    path.write_text("{not json")
    with pytest.raises(DarlaError, match="is not a code statistics file"):
        read_code_stats(path, len(stats.mean))

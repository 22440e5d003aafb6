"""`train_curve.png` plots the source-domain evaluations `darla act` recorded."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np

from darla.agents.train_curve import write_train_curve


def test_curve_is_drawn_from_the_evaluations_and_skipped_without_them(tmp_path) -> None:
    evaluations = tmp_path / "evaluations.npz"
    assert write_train_curve(evaluations, tmp_path / "curve.png", "none yet") is None
    rng = np.random.default_rng(0)
    np.savez(
        evaluations,
        timesteps=np.array([1000, 2000, 3000]),
        results=rng.normal(size=(3, 5)),
        ep_lengths=np.full((3, 5), 50),
        good_pickups=rng.integers(0, 4, (3, 5)),
        bad_pickups=rng.integers(0, 4, (3, 5)),
    )
    path = write_train_curve(evaluations, tmp_path / "curve.png", "run: source evaluations")
    assert path == tmp_path / "curve.png"
    image = iio.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.std() > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curve.png", "evaluations.npz"]

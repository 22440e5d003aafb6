"""Encoding on a second thread while envs render gives the latents of the frames the agent sees."""

from __future__ import annotations

import numpy as np
import pytest
from act_fixtures import SIZE, vision_run

import envs
from darla.agents import LatentVecEnv, encode_frames, make_vec_env
from darla.agents.overlap import OverlappedEncoder, chunk_bounds
from darla.vision import load_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def row_sums(frames: np.ndarray) -> np.ndarray:
    """A stand-in encoder whose code of a frame is its pixel sum: exact, easy to check."""
    return frames.reshape(len(frames), -1).sum(axis=1, dtype=np.int64)[:, None]


def test_chunks_cover_every_index_once() -> None:
    assert chunk_bounds(5, 2) == [(0, 2), (2, 4), (4, 5)]
    assert chunk_bounds(4, 8) == [(0, 4)]


def test_results_follow_index_order_whatever_order_frames_arrive() -> None:
    rng = np.random.default_rng(0)
    overlap = OverlappedEncoder(row_sums, 5, (2, 2, 3), chunk=2)
    try:
        for _ in range(3):  # several steps: each result starts the next step
            frames = rng.integers(0, 255, (5, 2, 2, 3), dtype=np.uint8)
            for i in rng.permutation(5):
                overlap.put(int(i), frames[i])
            np.testing.assert_array_equal(overlap.result(), row_sums(frames))
    finally:
        overlap.close()


def test_a_newer_frame_before_result_replaces_the_older_one() -> None:
    overlap = OverlappedEncoder(row_sums, 4, (1, 1, 3), chunk=2)
    try:
        first = np.ones((4, 1, 1, 3), dtype=np.uint8)
        for i in range(4):
            overlap.put(i, first[i])  # every chunk complete and submitted
        overlap.put(1, np.full((1, 1, 3), 7, dtype=np.uint8))  # e.g. a reset called directly
        codes = overlap.result()
        np.testing.assert_array_equal(codes[:, 0], [3, 21, 3, 3])
        # rows never put this step keep their newest frame
        overlap.put(0, np.zeros((1, 1, 3), dtype=np.uint8))
        np.testing.assert_array_equal(overlap.result()[:, 0], [0, 21, 3, 3])
    finally:
        overlap.close()


def test_an_encoder_error_reaches_the_caller() -> None:
    def broken(frames: np.ndarray) -> np.ndarray:
        raise RuntimeError("encoder failed")

    overlap = OverlappedEncoder(broken, 2, (1, 1, 3), chunk=1)
    try:
        overlap.put(0, np.zeros((1, 1, 3), dtype=np.uint8))
        with pytest.raises(RuntimeError, match="encoder failed"):
            overlap.result()
    finally:
        overlap.close()


def test_wrapper_latents_match_one_batch_encoding_of_the_frames_it_returns(tmp_path) -> None:
    """Over the one-process vec env (overlapped) and over subprocesses (encoded after the step)."""
    model = load_model(vision_run(tmp_path, "darla"))
    kwargs = {"obs_size": SIZE, "max_episode_steps": 6}  # episodes end: reset frames are reported
    actions = np.array([2, 0, 1, 2, 2])
    seen = {}
    for vec_env in ("dummy", "subproc"):
        wrapped = LatentVecEnv(make_vec_env(envs.source_domains(), 5, 3, kwargs, vec_env), model)
        steps = [(wrapped.reset(), wrapped.last_frames)]
        for _ in range(8):
            latents, *_ = wrapped.step(actions)
            steps.append((latents, wrapped.last_frames))
        wrapped.close()
        for latents, frames in steps:
            np.testing.assert_allclose(latents, encode_frames(model, frames), rtol=0, atol=1e-6)
        seen[vec_env] = steps
    for (a, frames_a), (b, frames_b) in zip(seen["dummy"], seen["subproc"], strict=True):
        np.testing.assert_array_equal(frames_a, frames_b)  # the same episodes either way
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)

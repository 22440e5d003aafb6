"""Rollout videos: they decode, with one frame per observation and the three panels."""

from __future__ import annotations

from dataclasses import replace

import imageio.v2 as imageio
import numpy as np
from transfer_fixtures import SETTINGS, SIZE, STEPS, LatentPPOPolicy, domain

from darla.transfer import RandomPolicy, episode_seeds, run_episodes
from darla.transfer.video import (
    CAPTION,
    NEGATIVE,
    PANEL,
    POSITIVE,
    rollout_frames,
    upscale,
    vision_panels,
    write_rollout_video,
)


def _decode(path) -> np.ndarray:
    reader = imageio.get_reader(path)
    try:
        return np.stack([frame for frame in reader.iter_data()])  # list(reader) asks len(): inf
    finally:
        reader.close()


def test_video_decodes_with_expected_frames_and_three_panels(tmp_path) -> None:
    policy = LatentPPOPolicy()
    seeds = episode_seeds(0, 2)
    _, recordings = run_episodes(policy, domain("A_room2"), seeds, SETTINGS, record=2)
    path = write_rollout_video(
        policy, recordings, "A_room2", path=tmp_path / "v.mp4", episodes=2, fps=10
    )
    assert path.suffix == ".mp4" and path.is_file()
    decoded = _decode(path)
    assert decoded.shape == (2 * (STEPS + 1), PANEL + CAPTION, 3 * PANEL, 3)

    drawn = rollout_frames(policy, recordings[0], "A_room2")
    # the decoded video is the drawn frames, up to H.264 compression
    assert np.abs(decoded[: STEPS + 1].astype(int) - drawn).mean() < 8
    body = slice(12, PANEL)  # below each panel's label
    seen = upscale(recordings[0].frames)
    recon, latents = vision_panels(policy.vision, recordings[0].frames)
    np.testing.assert_array_equal(drawn[:, body, :PANEL], seen[:, body])  # what the agent sees
    np.testing.assert_array_equal(
        drawn[:, body, PANEL : 2 * PANEL], upscale(recon)[:, body]
    )  # reconstruction
    bars = drawn[:, body, 2 * PANEL :]  # the latent bar chart: one coloured bar per nonzero latent
    coloured = np.all(bars == POSITIVE, axis=-1) | np.all(bars == NEGATIVE, axis=-1)
    assert coloured.any(axis=(1, 2)).all() and latents.shape[1] == policy.vision.latent_dim
    assert drawn[:, PANEL:].std() > 0  # the caption


def test_pixels_agent_frames_say_there_is_no_vision_module() -> None:
    policy = RandomPolicy(SIZE, name="pixels-agent")
    policy.method = "pixels"
    _, recordings = run_episodes(policy, domain("A_room1"), episode_seeds(0, 1), SETTINGS, record=1)
    drawn = rollout_frames(policy, recordings[0], "A_room1")
    assert drawn.shape == (STEPS + 1, PANEL + CAPTION, 3 * PANEL, 3)
    for panel in (1, 2):  # text on a plain background, no reconstruction, no bars
        region = drawn[0, 12:PANEL, panel * PANEL : (panel + 1) * PANEL]
        assert len(np.unique(region.reshape(-1, 3), axis=0)) > 2


def test_episode_bound_and_caption_changes_with_the_return(tmp_path) -> None:
    policy = RandomPolicy(SIZE)
    _, recordings = run_episodes(policy, domain("A_room1"), episode_seeds(0, 3), SETTINGS, record=3)
    path = write_rollout_video(policy, recordings, "A_room1", path=tmp_path / "r.mp4", episodes=1)
    assert len(_decode(path)) == STEPS + 1  # one episode, not the three recorded

    # the same episode with a pickup at step 5: the status line of every later frame says so,
    # and nothing but the status line changes
    recording = recordings[0]
    picked = replace(
        recording,
        returns=recording.returns + (np.arange(STEPS + 1) >= 5),
        good=recording.good + (np.arange(STEPS + 1) >= 5),
    )
    before = rollout_frames(policy, recording, "A_room1")
    after = rollout_frames(policy, picked, "A_room1")
    status = slice(PANEL + 16, PANEL + CAPTION)
    np.testing.assert_array_equal(before[:5], after[:5])
    np.testing.assert_array_equal(before[:, : status.start], after[:, : status.start])
    assert all((before[t, status] != after[t, status]).any() for t in range(5, STEPS + 1))


def test_without_ffmpeg_the_video_falls_back_to_a_gif(tmp_path, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # `import imageio_ffmpeg` fails
    policy = LatentPPOPolicy()
    _, recordings = run_episodes(policy, domain("A_room1"), episode_seeds(0, 1), SETTINGS, record=1)
    path = write_rollout_video(policy, recordings, "A_room1", path=tmp_path / "v.mp4", fps=10)
    assert path == tmp_path / "v.gif" and not (tmp_path / "v.mp4").exists()
    decoded = _decode(path)
    assert decoded.shape[0] == STEPS + 1 and decoded.shape[1:3] == (PANEL + CAPTION, 3 * PANEL)

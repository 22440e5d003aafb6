"""How much of the random agent's data shows the task, per action repeat.

``python -m benchmarks.view_shares [frames=3000] [repeats=1,2,3,4,6,8] [episode_length=100]
[seed=0]`` collects ``frames`` frames with the random agent of ``darla see``'s data
(:func:`darla.data.collection.play_episode`, the source domains, the env's defaults) at each
action repeat and prints the share of frames with any object in view and with a good object in
view, by the object probe's rule (:mod:`envs.view`: an object's centre in the 60-degree view).
The default ``data.action_repeat`` was chosen from these figures. Nothing is written to disk.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import numpy as np

from darla.data.collection import CollectionConfig, play_episode
from envs.view import NONE, places_in_view


def view_shares(
    action_repeat: int, frames: int = 3000, episode_length: int = 100, seed: int = 0
) -> dict[str, float]:
    """Shares of ``frames`` random-agent frames with a good object, a bad object and any object
    in view, and the seconds it took."""
    config = CollectionConfig(
        num_frames=frames, episode_length=episode_length, seed=seed, action_repeat=action_repeat
    )
    places: list[tuple[int, int]] = []
    start = time.perf_counter()
    for episode in range(config.num_episodes):
        play_episode(config, episode, lambda env: places.append(places_in_view(env)))
    good, bad = (np.array(places) != NONE).T
    return {
        "good_in_view": float(good.mean()),
        "bad_in_view": float(bad.mean()),
        "object_in_view": float((good | bad).mean()),
        "seconds": time.perf_counter() - start,
    }


def main(argv: Sequence[str] | None = None) -> None:
    settings = dict(arg.split("=", 1) for arg in (sys.argv[1:] if argv is None else argv))
    frames = int(settings.pop("frames", 3000))
    repeats = [int(k) for k in settings.pop("repeats", "1,2,3,4,6,8").split(",")]
    episode_length = int(settings.pop("episode_length", 100))
    seed = int(settings.pop("seed", 0))
    if settings:
        raise SystemExit(
            f"unknown setting(s) {sorted(settings)}: use frames, repeats, episode_length, seed"
        )
    print(
        f"{frames} random-agent frames in the source domains, episodes of {episode_length}, seed {seed}"
    )
    for k in repeats:
        shares = view_shares(k, frames, episode_length, seed)
        print(
            f"action_repeat {k}: object in view {shares['object_in_view']:.1%}, good object in view "
            f"{shares['good_in_view']:.1%}, bad object in view {shares['bad_in_view']:.1%} "
            f"({shares['seconds']:.0f} s)"
        )


if __name__ == "__main__":
    main()

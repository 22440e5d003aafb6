"""Vectorised CollectGoodObjects for training and evaluating agents in the source domains.

Each episode's seed derives from (seed, sub-env index, episode number) alone, whatever reset is
asked for. Two things follow: the same config gives the same episodes in every run, and a run
resumed from a checkpoint taken at an episode boundary replays exactly the episodes the
uninterrupted run would have played (the checkpoint records only the episode numbers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv, VecMonitor

PICKUP_KEYS = ("good_pickups", "bad_pickups")


class EpisodeSeeds(gym.Wrapper):
    """Seed every episode from ``(seed, index, episode)``; ``episode`` counts resets.

    A ``seed`` passed to ``reset`` is ignored on purpose: SB3 re-seeds envs on load and on each
    ``learn`` set-up, which would break the episode sequence a resume relies on.
    """

    def __init__(self, env: gym.Env, seed: int, index: int, episode: int = 0) -> None:
        super().__init__(env)
        self.base_seed = int(seed)
        self.index = int(index)
        self.episode = int(episode)

    def episode_seed(self, episode: int) -> int:
        return int(
            np.random.SeedSequence([self.base_seed, self.index, episode]).generate_state(1)[0] >> 1
        )

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        episode_seed = self.episode_seed(self.episode)
        self.episode += 1
        return self.env.reset(seed=episode_seed, options=options)

    def set_episode(self, episode: int) -> None:
        """Make the next reset play episode number ``episode`` (resume, fixed evaluation sets)."""
        self.episode = int(episode)


def _env_factory(domains: Sequence[Any], env_kwargs: dict[str, Any], seed: int, index: int):
    def make() -> gym.Env:
        import envs  # noqa: F401  (headless GL before MiniWorld, in subprocesses too)
        from envs.collect_good_objects import CollectGoodObjects

        return EpisodeSeeds(CollectGoodObjects(domain=list(domains), **env_kwargs), seed, index)

    return make


def make_vec_env(
    domains: Sequence[Any],
    n_envs: int,
    seed: int,
    env_kwargs: dict[str, Any] | None = None,
    vec_env: str = "dummy",
    first_index: int = 0,
) -> VecEnv:
    """``n_envs`` CollectGoodObjects, each drawing one of ``domains`` per episode, monitored.

    ``vec_env``: ``dummy`` (one process) or ``subproc`` (one process per env, started with
    ``forkserver``: a forked child would inherit this process's OpenGL state). Sub-env ``i``
    plays the episode stream ``(seed, first_index + i)``; an evaluation env takes another
    ``first_index`` so it never replays training episodes. Episode returns, lengths and pickups
    reach SB3 through ``VecMonitor`` (``info["episode"]``).
    """
    factories = [
        _env_factory(domains, dict(env_kwargs or {}), seed, first_index + i) for i in range(n_envs)
    ]
    if vec_env == "subproc":
        from envs import render_process_context

        render_process_context()  # forkserver, also inside a sweep's joblib worker
        venv: VecEnv = SubprocVecEnv(factories, start_method="forkserver")
    elif vec_env == "dummy":
        venv = DummyVecEnv(factories)
    else:
        from darla.errors import DarlaError

        raise DarlaError(f"unknown vec_env {vec_env!r}: use dummy or subproc")
    return VecMonitor(venv, info_keywords=PICKUP_KEYS)


def set_episodes(venv: VecEnv, episode: int) -> None:
    """Point every sub-env's next reset at episode number ``episode``."""
    venv.env_method("set_episode", episode)

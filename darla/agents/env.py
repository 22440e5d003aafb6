"""Vectorised CollectGoodObjects for training and evaluating agents in the source domains.

Each episode's seed derives from (seed, sub-env index, episode number) alone, whatever reset is
asked for, and the env is deterministic given its episode seed and the actions taken. Two things
follow: the same config gives the same episodes in every run, and a sub-env's state is nothing
but its episode number and the actions of its current episode, which :class:`EpisodeSeeds`
records. A resumed run replays them (:func:`restore_env_state`), so a checkpoint is exact
mid-episode too, whatever the episodes' lengths (a time limit, or an early end after N pickups).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import (
    DummyVecEnv,
    SubprocVecEnv,
    VecEnv,
    VecEnvWrapper,
    VecFrameStack,
    VecMonitor,
)

from darla.errors import DarlaError

PICKUP_KEYS = ("good_pickups", "bad_pickups")


class EpisodeSeeds(gym.Wrapper):
    """Seed every episode from ``(seed, index, episode)``; ``episode`` counts resets.

    A ``seed`` passed to ``reset`` is ignored on purpose: SB3 re-seeds envs on load and on each
    ``learn`` set-up, which would break the episode sequence a resume relies on. ``actions``
    holds the current episode's actions (what :meth:`replay` needs to rebuild its state).
    """

    def __init__(self, env: gym.Env, seed: int, index: int, episode: int = 0) -> None:
        super().__init__(env)
        self.base_seed = int(seed)
        self.index = int(index)
        self.episode = int(episode)
        self.actions: list[int] = []
        self._last_obs: np.ndarray | None = None

    def episode_seed(self, episode: int) -> int:
        return int(
            np.random.SeedSequence([self.base_seed, self.index, episode]).generate_state(1)[0] >> 1
        )

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        episode_seed = self.episode_seed(self.episode)
        self.episode += 1
        self.actions = []
        obs, info = self.env.reset(seed=episode_seed, options=options)
        self._last_obs = obs
        return obs, info

    def step(self, action):
        self.actions.append(int(action))
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._last_obs = obs
        return obs, reward, terminated, truncated, info

    def set_episode(self, episode: int) -> None:
        """Make the next reset play episode number ``episode`` (resume, fixed evaluation sets)."""
        self.episode = int(episode)

    def episode_state(self) -> dict[str, Any]:
        """The episode being played, its actions so far and a digest of its latest frame."""
        return {
            "episode": self.episode - 1,
            "actions": list(self.actions),
            "frame_sha256": _digest(self._last_obs),
        }

    def replay(self, state: dict[str, Any]) -> str:
        """Play episode ``state["episode"]`` again up to where :meth:`episode_state` saw it;
        returns its latest frame's digest (equal to the recorded one unless the env changed)."""
        self.set_episode(int(state["episode"]))
        self.reset()
        for action in state["actions"]:
            _, _, terminated, truncated, _ = self.step(int(action))
            if terminated or truncated:
                break  # a changed env: the digest check reports it
        return _digest(self._last_obs)


def _digest(frame: np.ndarray | None) -> str:
    return (
        "" if frame is None else hashlib.sha256(np.ascontiguousarray(frame).tobytes()).hexdigest()
    )


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
) -> VecEnv:
    """``n_envs`` CollectGoodObjects, each drawing one of ``domains`` per episode, monitored.

    ``vec_env``: ``dummy`` (one process) or ``subproc`` (one process per env, started with
    ``forkserver``: a forked child would inherit this process's OpenGL state). Sub-env ``i``
    plays the episode stream ``(seed, i)`` (evaluation plays transfer's own seeds instead:
    :mod:`darla.transfer.evaluation`). Episode returns, lengths and pickups reach SB3 through
    ``VecMonitor`` (``info["episode"]``).
    """
    factories = [_env_factory(domains, dict(env_kwargs or {}), seed, i) for i in range(n_envs)]
    if vec_env == "subproc":
        from envs import render_process_context

        render_process_context()  # forkserver, also inside a sweep's joblib worker
        venv: VecEnv = SubprocVecEnv(factories, start_method="forkserver")
    elif vec_env == "dummy":
        venv = DummyVecEnv(factories)
    else:
        raise DarlaError(f"unknown vec_env {vec_env!r}: use dummy or subproc")
    return VecMonitor(venv, info_keywords=PICKUP_KEYS)


def stack_frames(venv: VecEnv, frame_stack: int) -> VecEnv:
    """The last ``frame_stack`` observations side by side (1: the venv as it is).

    SB3's ``VecFrameStack`` on the last axis: latents ``[D]`` become ``[K * D]`` and frames
    ``[H, W, 3]`` become ``[H, W, 3K]``, oldest first; a new episode starts from zeros with its
    first observation last (what :class:`darla.agents.Agent` rebuilds from raw frames).
    """
    if int(frame_stack) <= 1:
        return venv
    return VecFrameStack(venv, int(frame_stack), channels_order="last")


def set_episodes(venv: VecEnv, episode: int) -> None:
    """Point every sub-env's next reset at episode number ``episode``."""
    venv.env_method("set_episode", episode)


def _wrappers(venv: VecEnv) -> list[VecEnv]:
    chain = [venv]
    while isinstance(chain[-1], VecEnvWrapper):
        chain.append(chain[-1].venv)
    return chain


def env_state(venv: VecEnv) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """What resuming ``venv`` mid-episode needs: JSON (each sub-env's episode, its actions and
    frame digest; the monitor's episode count) and arrays (the monitor's running returns and
    lengths, the frame stack's buffer)."""
    state: dict[str, Any] = {"sub_envs": venv.env_method("episode_state")}
    arrays: dict[str, np.ndarray] = {}
    for wrapper in _wrappers(venv):
        if isinstance(wrapper, VecMonitor):
            state["monitor_episode_count"] = int(wrapper.episode_count)
            arrays["monitor_returns"] = np.array(wrapper.episode_returns)
            arrays["monitor_lengths"] = np.array(wrapper.episode_lengths)
        elif isinstance(wrapper, VecFrameStack):
            arrays["frame_stack"] = np.array(wrapper.stacked_obs.stacked_obs)
    return state, arrays


def restore_env_state(
    venv: VecEnv, state: dict[str, Any], arrays: dict[str, np.ndarray], where: str = ""
) -> None:
    """Bring a freshly built ``venv`` to where :func:`env_state` saw it: each sub-env replays its
    current episode (reset with that episode's seed, then the recorded actions); the wrappers'
    buffers are set from the saved arrays. A sub-env whose replay ends on another frame than the
    recorded one (the env's code changed since) is a :class:`DarlaError`."""
    sub_envs = state["sub_envs"]
    if len(sub_envs) != venv.num_envs:
        raise ValueError(f"{len(sub_envs)} sub-envs saved, the run has {venv.num_envs}")
    for i, sub in enumerate(sub_envs):
        (digest,) = venv.env_method("replay", sub, indices=[i])
        if digest != sub["frame_sha256"]:
            raise DarlaError(
                f"sub-env {i} replayed episode {sub['episode']} ({len(sub['actions'])} actions) "
                f"to another frame than it saw{' in ' + where if where else ''}: the env changed "
                "since the checkpoint; delete the run's checkpoints folder to restart from step 0"
            )
    for wrapper in _wrappers(venv):
        if isinstance(wrapper, VecMonitor):
            wrapper.episode_count = int(state["monitor_episode_count"])
            wrapper.episode_returns = _fit(arrays["monitor_returns"], wrapper.episode_returns)
            wrapper.episode_lengths = _fit(arrays["monitor_lengths"], wrapper.episode_lengths)
        elif isinstance(wrapper, VecFrameStack):
            stack = wrapper.stacked_obs
            stack.stacked_obs = _fit(arrays["frame_stack"], stack.stacked_obs)


def _fit(array: np.ndarray, like: np.ndarray) -> np.ndarray:
    if array.shape != like.shape or array.dtype != like.dtype:
        raise ValueError(f"saved {array.dtype}{array.shape}, expected {like.dtype}{like.shape}")
    return np.array(array)

"""Random-agent data collection across the vision domains, stored under a content hash.

DARLA's vision module never sees rewards or target domains: it learns from frames a uniformly
random agent collects in the source domains. The agent holds each uniformly drawn action for
``action_repeat`` steps, recording every frame (:func:`random_agent`): DMLab's random agent acts
at an action repeat of 4, so it crosses the open room, where a new uniform action every step
mostly turns back and forth near where it started (two of the three actions turn). Each
episode's seed, domain and actions derive from (seed, episode index) alone, so the same config
gives the same bytes whether one process or several collect it, and a second ``see`` with the
same config reuses the folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

import envs
from darla.data.frames import array_digests
from darla.errors import DarlaError
from darla.io import sha256_json, write_json
from darla.workers import imap_unordered
from envs.domains import value_index

FORMAT_VERSION = 1

#: Steps the random agent holds each action for; chosen by measurement (the share of frames with
#: an object in view, ``python -m benchmarks.view_shares``; see the README's ``darla see``).
ACTION_REPEAT = 4


@dataclass(frozen=True)
class CollectionConfig:
    """What determines a dataset's content; its hash names the folder."""

    domains: tuple[Any, ...] = tuple(envs.source_domains())
    num_frames: int = 20000
    episode_length: int = 100  # frames per episode: the random agent's horizon
    obs_size: int = 64
    seed: int = 0
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    action_repeat: int = ACTION_REPEAT  # steps the random agent holds each action for

    def __post_init__(self) -> None:
        if self.num_frames < 2:
            raise DarlaError(f"num_frames must be at least 2, got {self.num_frames}")
        if self.episode_length < 1:
            raise DarlaError(f"episode_length must be at least 1, got {self.episode_length}")
        if isinstance(self.action_repeat, bool) or not isinstance(self.action_repeat, int):
            raise DarlaError(f"action_repeat must be a whole number, got {self.action_repeat!r}")
        if self.action_repeat < 1:
            raise DarlaError(f"action_repeat must be at least 1, got {self.action_repeat}")
        try:
            resolved = envs.domains.resolve_domains(list(self.domains))
        except envs.DomainError as error:
            raise DarlaError(str(error)) from error
        object.__setattr__(self, "domains", tuple(self.domains))
        object.__setattr__(self, "_resolved", resolved)

    @property
    def num_episodes(self) -> int:
        return -(-self.num_frames // self.episode_length)

    def identity(self) -> dict[str, Any]:
        """Everything that changes the bytes: resolved domain factors, not just their names, and
        every env setting, defaults included (a changed default is a changed dataset)."""
        return {
            "format": FORMAT_VERSION,
            "domains": [[name, factors] for name, factors in self._resolved],
            **{k: v for k, v in asdict(self).items() if k != "domains"},
            "env": envs.env_settings(**self.env_kwargs),
        }


def collection_hash(config: CollectionConfig) -> str:
    return sha256_json(config.identity())[:16]


def _episode_seed(seed: int, episode: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, episode])


def random_agent(rng: np.random.Generator, num_actions: int, action_repeat: int) -> Iterator[int]:
    """DARLA's data policy, one action per step: a uniform draw from ``rng``, held for
    ``action_repeat`` steps. Draws happen only when a new action is due, so with
    ``action_repeat=1`` the stream is one ``rng.integers(num_actions)`` a step. It sees no
    observation and no reward."""
    while True:
        action = int(rng.integers(num_actions))
        for _ in range(action_repeat):
            yield action


def play_episode(
    config: CollectionConfig,
    episode: int,
    on_frame: Callable[[Any], None] | None = None,
) -> tuple[np.ndarray, dict[str, Any], int]:
    """Episode ``episode`` of ``config``'s random agent: its frames ``[length, H, W, 3]``, the
    last step's info and the domain's index in the config's domains.

    The domain, the env seeds and the actions derive from ``(config.seed, episode)`` alone.
    ``on_frame(env)`` is called after each frame is drawn, to read the env's true state for
    that frame (the object probe's labels); it must not act on the env.
    """
    env = _worker_env(config)
    rng = np.random.default_rng(_episode_seed(config.seed, episode))
    domain_id = int(rng.integers(len(config._resolved)))
    name, factors = config._resolved[domain_id]
    length = min(config.episode_length, config.num_frames - episode * config.episode_length)
    obs, info = env.reset(
        seed=int(rng.integers(2**31)), options={"domain": {**factors, "name": name}}
    )
    frames = np.empty((length, *obs.shape), dtype=np.uint8)
    frames[0] = obs
    if on_frame is not None:
        on_frame(env)
    actions = random_agent(rng, int(env.action_space.n), config.action_repeat)
    for t in range(1, length):
        obs, _, terminated, truncated, info = env.step(next(actions))
        if terminated or truncated:
            obs, info = env.reset(
                seed=int(rng.integers(2**31)), options={"domain": {**factors, "name": name}}
            )
        frames[t] = obs
        if on_frame is not None:
            on_frame(env)
    return frames, info, domain_id


def _collect_episode(args: tuple[CollectionConfig, int]) -> tuple[int, np.ndarray, np.ndarray, int]:
    config, episode = args
    frames, info, domain_id = play_episode(config, episode)
    vocabulary = envs.factor_values(config._resolved)
    factor_row = np.array(
        [value_index(vocabulary[k], v) for k, v in info["factors"].items()], dtype=np.int16
    )
    return episode, frames, factor_row, domain_id


_ENV_CACHE: dict[str, Any] = {}


def _worker_env(config: CollectionConfig):
    """One env per process, reused across its episodes (creating one costs a GL context)."""
    from envs.collect_good_objects import CollectGoodObjects

    key = sha256_json([config.obs_size, config.episode_length, config.env_kwargs])
    if key not in _ENV_CACHE:
        for env in _ENV_CACHE.values():
            env.close()
        _ENV_CACHE.clear()
        _ENV_CACHE[key] = CollectGoodObjects(
            domain=config._resolved[0][1],
            obs_size=config.obs_size,
            # the collector decides episode boundaries; the env must not end an episode first
            max_episode_steps=config.episode_length + 1,
            **config.env_kwargs,
        )
    return _ENV_CACHE[key]


def collect(
    config: CollectionConfig, root: str | Path, *, workers: int = 1, progress: bool = True
) -> Path:
    """Collect into ``root/<hash>``; the folder appears only once complete (temp dir + rename)."""
    root = Path(root)
    final = root / collection_hash(config)
    if _is_complete(final):
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
    try:
        _collect_into(config, tmp, workers=workers, progress=progress)
        if _is_complete(final):  # another process finished first: keep theirs
            shutil.rmtree(tmp)
        else:
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _collect_into(config: CollectionConfig, folder: Path, *, workers: int, progress: bool) -> None:
    n, length = config.num_frames, config.episode_length
    size = config.obs_size
    frames = np.lib.format.open_memmap(
        folder / "frames.npy", mode="w+", dtype=np.uint8, shape=(n, size, size, 3)
    )
    factors = np.empty((n, len(envs.factor_vocabulary())), dtype=np.int16)
    domain_ids = np.empty(n, dtype=np.int16)
    episode_ids = np.repeat(np.arange(config.num_episodes, dtype=np.int32), length)[:n]
    jobs = [(config, episode) for episode in range(config.num_episodes)]
    bar = tqdm(total=n, desc="collecting frames", unit="frame", disable=not progress)
    if workers > 1:
        _store(
            imap_unordered(_collect_episode, jobs, workers),
            frames,
            factors,
            domain_ids,
            length,
            bar,
        )
    else:
        _store(map(_collect_episode, jobs), frames, factors, domain_ids, length, bar)
    bar.close()
    frames.flush()
    del frames
    np.save(folder / "factors.npy", factors)
    np.save(folder / "domain_ids.npy", domain_ids)
    np.save(folder / "episode_ids.npy", episode_ids)
    write_json(
        folder / "meta.json",
        {
            "hash": folder.name.split(".")[1] if folder.name.startswith(".") else folder.name,
            "config": config.identity(),
            "domain_names": [name for name, _ in config._resolved],
            "factor_names": list(envs.factor_vocabulary()),
            "factor_values": {k: list(v) for k, v in envs.factor_values(config._resolved).items()},
            **array_digests(folder),
        },
    )


def _store(results, frames, factors, domain_ids, length, bar) -> None:
    for episode, episode_frames, factor_row, domain_id in results:
        start = episode * length
        stop = start + len(episode_frames)
        frames[start:stop] = episode_frames
        factors[start:stop] = factor_row
        domain_ids[start:stop] = domain_id
        bar.update(len(episode_frames))


def _is_complete(folder: Path) -> bool:
    return (folder / "meta.json").is_file()


def load_or_collect(
    config: CollectionConfig, root: str | Path, *, workers: int = 1, progress: bool = True
):
    """The dataset for ``config``: reused when its folder exists, collected otherwise."""
    from darla.data.frames import open_frames
    from darla.reuse import run_lock

    folder = Path(root) / collection_hash(config)
    with run_lock(folder):  # sweep jobs on the same domains share one collection
        reused = _is_complete(folder)
        if not reused:
            collect(config, root, workers=workers, progress=progress)
    return open_frames(folder, expected_hash=collection_hash(config)), reused

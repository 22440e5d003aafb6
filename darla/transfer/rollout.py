"""Evaluation episodes: fixed seeds, lock-step batches, a process pool, per-cell results.

Every (policy, domain) *cell* plays the same episode seeds, so comparisons are paired: episode
``i`` has the same room layout for every agent in every domain (a layout depends on the seed
only). A cell's episodes are split into batches that one process plays in lock step (one env per
episode, one batched ``predict`` per step), and batches of all cells share one pool of
``forkserver`` processes (a forked child would inherit the parent's OpenGL state). An episode's
result depends on its policy, domain and seed only, never on the batch or the worker that
played it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from darla.io import sha256_json


@dataclass(frozen=True)
class EnvSettings:
    """What every evaluation env shares: frame size, fixed episode length, other env arguments."""

    obs_size: int
    episode_steps: int
    env_kwargs: tuple[tuple[str, Any], ...] = ()

    def kwargs(self) -> dict[str, Any]:
        return {
            "obs_size": self.obs_size,
            "max_episode_steps": self.episode_steps,
            **dict(self.env_kwargs),
        }


def episode_seeds(seed: int, episodes: int) -> list[int]:
    """The evaluation seeds: episode ``i`` of every agent and domain uses ``seeds[i]``."""
    return [
        int(np.random.SeedSequence([int(seed), 0xE7A1, i]).generate_state(1)[0] >> 1)
        for i in range(episodes)
    ]


def action_digest(actions: Sequence[int]) -> str:
    """A short digest of an episode's action sequence: equal digests, equal episodes (the env is
    deterministic given the seed and the actions)."""
    return hashlib.sha256(bytes(actions)).hexdigest()[:16]


@dataclass
class Recording:
    """One recorded episode: every frame the agent saw, with running return and pickups."""

    seed: int
    frames: np.ndarray  # uint8 [T + 1, H, W, 3]: the reset frame and one per step
    returns: np.ndarray  # float [T + 1]: return so far, aligned with frames
    good: np.ndarray  # int [T + 1]
    bad: np.ndarray  # int [T + 1]


_ENVS: dict[str, list[Any]] = {}


def _envs(settings: EnvSettings, count: int) -> list[Any]:
    """``count`` envs for these settings, made once per process (each holds a GL context)."""
    from envs.collect_good_objects import CollectGoodObjects

    key = sha256_json(settings.kwargs())
    pool = _ENVS.setdefault(key, [])
    while len(pool) < count:
        pool.append(CollectGoodObjects(**settings.kwargs()))
    return pool[:count]


def run_episodes(
    policy: Any,
    domain: tuple[str, dict[str, str]],
    seeds: Sequence[int],
    settings: EnvSettings,
    *,
    deterministic: bool = True,
    record: int = 0,
) -> tuple[list[dict[str, Any]], list[Recording]]:
    """Play one episode per seed in ``domain`` in lock step; record the first ``record`` of them.

    Returns one dict per episode (``seed, return, good_pickups, bad_pickups, length``, and
    ``actions``: a digest of its action sequence, so two plays of a seed can be told apart or
    found identical) and the recordings.
    """
    import torch

    name, factors = domain
    spec = {**factors, "name": name}
    n = len(seeds)
    envs_ = _envs(settings, n)
    if hasattr(policy, "reset"):
        policy.reset(list(seeds))
    obs = np.stack(
        [
            env.reset(seed=int(s), options={"domain": spec})[0]
            for env, s in zip(envs_, seeds, strict=True)
        ]
    )
    returns = np.zeros(n)
    good = np.zeros(n, dtype=np.int64)
    bad = np.zeros(n, dtype=np.int64)
    lengths = np.zeros(n, dtype=np.int64)
    active = np.ones(n, dtype=bool)
    taken: list[list[int]] = [[] for _ in range(n)]
    record = min(record, n)
    tapes = [[(obs[i].copy(), 0.0, 0, 0)] for i in range(record)]
    # A policy with privileged state (the reference) plays from the envs' true states, None
    # for a finished episode's row.
    privileged = getattr(policy, "privileged", False)
    while active.any():
        kwargs: dict[str, Any] = {"deterministic": deterministic}
        if privileged:
            kwargs["states"] = [
                e.privileged_state() if on else None for e, on in zip(envs_, active, strict=True)
            ]
        with torch.no_grad():
            actions = np.asarray(policy.predict(obs, **kwargs)).reshape(-1)
        for i in np.flatnonzero(active):
            frame, reward, terminated, truncated, info = envs_[i].step(int(actions[i]))
            taken[i].append(int(actions[i]))
            obs[i] = frame
            returns[i] += reward
            good[i], bad[i] = info["good_pickups"], info["bad_pickups"]
            lengths[i] += 1
            if i < record:
                tapes[i].append((frame.copy(), returns[i], good[i], bad[i]))
            if terminated or truncated:
                active[i] = False
    results = [
        {
            "seed": int(s),
            "return": float(returns[i]),
            "good_pickups": int(good[i]),
            "bad_pickups": int(bad[i]),
            "length": int(lengths[i]),
            "actions": action_digest(taken[i]),
        }
        for i, s in enumerate(seeds)
    ]
    recordings = [
        Recording(
            seed=int(seeds[i]),
            frames=np.stack([t[0] for t in tape]),
            returns=np.array([t[1] for t in tape], dtype=np.float64),
            good=np.array([t[2] for t in tape]),
            bad=np.array([t[3] for t in tape]),
        )
        for i, tape in enumerate(tapes)
    ]
    return results, recordings


@dataclass
class Cell:
    """One (policy, domain) pair to evaluate on ``seeds``; ``video`` asks for a rollout video."""

    key: str
    policy: Any
    domain: tuple[str, dict[str, str]]
    seeds: list[int]
    video: dict[str, Any] | None = None  # {"path", "episodes", "fps", "caption"}


@dataclass
class _Task:
    cell: str
    policy: Any
    domain: tuple[str, dict[str, str]]
    indices: list[int]
    seeds: list[int]
    settings: EnvSettings
    deterministic: bool
    video: dict[str, Any] | None = field(default=None)


def _run_task(task: _Task) -> tuple[str, list[int], list[dict[str, Any]], str | None]:
    record = task.video["episodes"] if task.video else 0
    results, recordings = run_episodes(
        task.policy, task.domain, task.seeds, task.settings,
        deterministic=task.deterministic, record=record,
    )  # fmt: skip
    video = None
    if task.video and recordings:
        from darla.transfer.video import write_rollout_video

        video = str(write_rollout_video(task.policy, recordings, task.domain[0], **task.video))
    return task.cell, task.indices, results, video


def _init_worker(threads: int) -> None:
    import torch

    import envs  # noqa: F401  (headless GL before MiniWorld loads in this process)

    torch.set_num_threads(threads)


def evaluate_cells(
    cells: Iterable[Cell],
    settings: EnvSettings,
    *,
    deterministic: bool = True,
    workers: int = 1,
    batch_episodes: int = 5,
    threads: int = 1,
    on_cell: Callable[[Cell, list[dict[str, Any]], str | None], None] | None = None,
    progress: bool = False,
) -> dict[str, tuple[list[dict[str, Any]], str | None]]:
    """Play every cell's episodes; returns ``{cell key: (episodes in seed order, video path)}``.

    ``on_cell`` is called as soon as a cell's last batch is in (to store it: a resumed
    evaluation skips stored cells). The first batch of a cell records its video episodes, so
    ``batch_episodes`` is at least ``video["episodes"]``.
    """
    from tqdm import tqdm

    cells = list(cells)
    tasks: list[_Task] = []
    for cell in cells:
        size = max(batch_episodes, cell.video["episodes"] if cell.video else 1)
        for start in range(0, len(cell.seeds), size):
            idx = list(range(start, min(start + size, len(cell.seeds))))
            tasks.append(
                _Task(
                    cell.key, cell.policy, cell.domain, idx, [cell.seeds[i] for i in idx],
                    settings, deterministic, cell.video if start == 0 else None,
                )
            )  # fmt: skip
    by_key = {cell.key: cell for cell in cells}
    pending = {cell.key: sum(1 for t in tasks if t.cell == cell.key) for cell in cells}
    episodes: dict[str, dict[int, dict[str, Any]]] = {cell.key: {} for cell in cells}
    videos: dict[str, str | None] = {cell.key: None for cell in cells}
    out: dict[str, tuple[list[dict[str, Any]], str | None]] = {}
    bar = tqdm(
        total=sum(len(c.seeds) for c in cells),
        desc="transfer episodes",
        unit="ep",
        disable=not progress,
    )

    def collect(result) -> None:
        key, indices, results, video = result
        episodes[key].update(zip(indices, results, strict=True))
        videos[key] = video or videos[key]
        pending[key] -= 1
        bar.update(len(indices))
        if pending[key] == 0:
            ordered = [episodes[key][i] for i in sorted(episodes[key])]
            out[key] = (ordered, videos[key])
            if on_cell is not None:
                on_cell(by_key[key], ordered, videos[key])

    try:
        if workers <= 1 or len(tasks) <= 1:
            import torch

            previous = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                for task in tasks:
                    collect(_run_task(task))
            finally:
                torch.set_num_threads(previous)
        else:
            from darla.workers import imap_unordered

            for result in imap_unordered(
                _run_task, tasks, min(workers, len(tasks)), _init_worker, (threads,)
            ):
                collect(result)
    finally:
        bar.close()
    return out

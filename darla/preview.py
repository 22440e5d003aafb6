"""A contact sheet of domains: a short real rollout in each, tiled into one labelled PNG.

It is the quickest way to see what a split asks an agent to transfer across, and it checks that
headless rendering works on this machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

import envs
from darla.io import write_figure
from envs.collect_good_objects import CollectGoodObjects


def rollout_frames(
    domain: envs.domains.DomainSpec, *, frames: int, steps_between: int, seed: int, obs_size: int
) -> np.ndarray:
    """Frames of a seeded random agent, one every ``steps_between`` steps, uint8 [frames, H, W, 3]."""
    env = CollectGoodObjects(domain=domain, obs_size=obs_size)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    while len(out) < frames:
        for _ in range(steps_between):
            obs, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
            if terminated or truncated:
                obs, _ = env.reset()
        out.append(obs)
    env.close()
    return np.stack(out)


def write_contact_sheet(
    path: str | Path,
    domains: Sequence[str] | None = None,
    *,
    frames: int = 6,
    steps_between: int = 4,
    seed: int = 0,
    obs_size: int = 64,
    progress: bool = True,
) -> Path:
    """One row per domain, labelled with its name and split; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(domains) if domains else envs.domain_names()
    split = {name: "source" for name in envs.source_domains()} | {
        name: "target" for name in envs.target_domains()
    }
    rows = [
        rollout_frames(
            name, frames=frames, steps_between=steps_between, seed=seed, obs_size=obs_size
        )
        for name in tqdm(names, desc="rendering domains", disable=not progress)
    ]
    fig, axes = plt.subplots(
        len(rows), 1, figsize=(1.3 * frames + 1.5, 1.4 * len(rows)), squeeze=False
    )
    for ax, name, row in zip(axes[:, 0], names, rows, strict=True):
        ax.imshow(np.concatenate(list(row), axis=1), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(
            f"{name}\n({split.get(name, 'other')})", rotation=0, ha="right", va="center", fontsize=8
        )
    fig.suptitle(f"CollectGoodObjects domains: random agent, seed {seed}", fontsize=9)
    fig.tight_layout()
    return write_figure(path, fig, tight=False)

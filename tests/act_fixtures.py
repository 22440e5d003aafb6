"""Shared helpers for the act tests: tiny vision runs and tiny act configs (32px, few steps)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import vision_models

from darla.config import compose
from darla.manifest import write_manifest
from darla.vision import save_model
from darla.vision.code_stats import CODE_STATS, code_statistics, write_code_stats

SIZE = vision_models.SIZE
FROZEN_VISION = ("darla", "beta_vae", "vae", "dae")


def tiny_model(name: str, seed: int = 0):
    """The shared tiny model (tests/vision_models.py) with 6 codes: the latent size the act tests
    check observations against."""
    return vision_models.tiny_model(name, seed, **{_CODE_SIZE.get(name, "latent_dim"): 6})


_CODE_SIZE = {"dae": "bottleneck_dim"}


def vision_run(root: Path, name: str, *, finished: bool = True, seed: int = 0) -> Path:
    """A folder that looks like a finished `darla see` run holding an untrained tiny model and,
    as `darla see` writes them, its codes' statistics (here over a few Shapes2D frames)."""
    run = Path(root) / "see" / f"{name}-test{seed}"
    run.mkdir(parents=True, exist_ok=True)
    model = tiny_model(name, seed)
    save_model(model, run)
    write_code_stats(run / CODE_STATS, fixture_code_stats(model, seed))
    if finished:
        write_manifest(run, stage="see", config={"vision": {"name": name}}, inputs={})
    return run


def fixture_code_stats(model, seed: int = 0):
    frames, _ = vision_models.shapes_data(16, seed)
    return code_statistics(model, frames, np.arange(len(frames)))


def act_config(
    root: Path,
    representation: str,
    *extra: str,
    agent: str = "ppo",
    vision: Path | None = None,
    steps: int = 160,
):
    overrides = [
        f"representation={representation}",
        f"agent={agent}",
        f"runs_root={root}",
        f"act.obs_size={SIZE}",
        "act.episode_steps=20",
        "act.n_envs=2",
        f"act.total_timesteps={steps}",
        "act.eval_every=80",
        "act.eval_episodes=1",
        "act.checkpoint_every=40",
        "act.threads=1",
        "act.random_encoder.latent_dim=6",
        "act.random_encoder.hidden_dim=32",
    ]
    if vision is not None:
        overrides.append(f"vision_run={vision}")
    if agent == "ppo":
        overrides += [
            "agent.hyperparams.n_steps=20",
            "agent.hyperparams.batch_size=20",
            "agent.hyperparams.n_epochs=2",
        ]
    else:
        overrides += [
            "agent.hyperparams.learning_starts=30",
            "agent.hyperparams.buffer_size=1000",
            "agent.hyperparams.target_update_interval=20",
        ]
    return compose("act", [*overrides, *extra])

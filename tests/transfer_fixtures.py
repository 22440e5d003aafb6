"""Shared helpers for the transfer tests: real policies and real (tiny) `darla act` runs.

``LatentPPOPolicy`` is an untrained, seeded SB3 PPO acting on a real β-VAE encoder's latent
means, wrapped in the :class:`darla.transfer.Policy` protocol; ``agent_runs`` trains a few
`darla act` runs of a few dozen steps at 32 px. Nothing here is a fake: only the sizes are small.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from gymnasium import spaces

import envs
from darla.config import compose
from darla.io import write_json
from darla.manifest import write_manifest
from darla.transfer import EnvSettings
from darla.vision import build_model, save_model
from darla.vision.code_stats import CODE_STATS, code_statistics, write_code_stats

SIZE = 32
STEPS = 12  # evaluation episode length in the fast tests
SETTINGS = EnvSettings(obs_size=SIZE, episode_steps=STEPS)


def tiny_encoder(seed: int = 0):
    torch.manual_seed(seed)
    return build_model("beta_vae", image_size=SIZE, latent_dim=6, hidden_dim=32).eval()


class LatentPPOPolicy:
    """An untrained, seeded SB3 PPO MLP policy on a real β-VAE encoder's μ(x)."""

    method = "beta_vae"
    representation = "beta_vae"
    algo = "ppo"

    def __init__(self, seed: int = 0, name: str | None = None) -> None:
        from stable_baselines3.common.policies import ActorCriticPolicy

        self.seed = seed
        self.name = name or f"ppo-beta_vae-{seed}"
        self.obs_size = SIZE
        self.vision = tiny_encoder(seed)
        torch.manual_seed(seed)
        space = spaces.Box(-np.inf, np.inf, shape=(self.vision.latent_dim,), dtype=np.float32)
        self.policy = ActorCriticPolicy(space, spaces.Discrete(3), lambda _: 0.0, net_arch=[16])
        self.policy.set_training_mode(False)

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        actions, _ = self.policy.predict(self.vision.latent_mean(obs), deterministic=deterministic)
        return actions


def domain(name: str):
    return envs.resolve_domain(name)


# -- real `darla act` runs -------------------------------------------------------------------


def vision_run(root: Path, seed: int = 0) -> Path:
    """A finished `darla see`-style run folder holding a real (untrained) tiny β-VAE."""
    run = Path(root) / "see" / f"beta_vae-test{seed}"
    run.mkdir(parents=True, exist_ok=True)
    encoder = tiny_encoder(seed)
    save_model(encoder, run)
    # code_stats.json as `darla see` writes it, here over a few random frames
    frames = np.random.default_rng(seed).integers(0, 256, (16, SIZE, SIZE, 3), dtype=np.uint8)
    write_code_stats(run / CODE_STATS, code_statistics(encoder, frames, np.arange(len(frames))))
    # metrics.json as `darla see` writes it (only the shape matters here)
    write_json(
        run / "metrics.json", {"mig": {"scores": {"mig": 0.25}}, "sap": {"scores": {"sap": 0.1}}}
    )
    write_manifest(run, stage="see", config={"vision": {"name": "beta_vae"}}, inputs={})
    return run


def act_config(
    root: Path,
    representation: str,
    seed: int,
    vision: Path | None = None,
    size: int = SIZE,
    *extra: str,
):
    overrides = [
        f"representation={representation}",
        "agent=ppo",
        f"seed={seed}",
        f"runs_root={root}",
        f"act.obs_size={size}",
        f"act.episode_steps={STEPS}",
        "act.n_envs=2",
        "act.total_timesteps=24",
        "act.eval_every=1000",
        "act.eval_episodes=1",
        "act.checkpoint_every=1000",
        "act.random_encoder.latent_dim=6",
        "act.random_encoder.hidden_dim=32",
        "agent.hyperparams.n_steps=12",
        "agent.hyperparams.batch_size=12",
        "agent.hyperparams.n_epochs=1",
        "agent.policy.net_arch=[16]",
    ]
    if vision is not None:
        overrides.append(f"vision_run={vision}")
    return compose("act", [*overrides, *extra])


def agent_runs(root: Path) -> list[Path]:
    """Three finished act runs at 32 px: β-VAE seeds 0 and 1, and a random-encoder agent (seed 2)."""
    from darla.stages.act import run_act

    vision = vision_run(root)
    runs = [
        run_act(act_config(root, "beta_vae", seed, vision), progress=False).run_dir
        for seed in (0, 1)
    ]
    runs.append(run_act(act_config(root, "random", 2), progress=False).run_dir)  # seed 0 would
    # rebuild tiny_encoder(0) exactly: the random encoder is an untrained β-VAE of that seed
    return runs


def transfer_config(root: Path, *overrides: str):
    return compose(
        "transfer",
        [
            f"runs_root={root}",
            "episodes=2",
            f"transfer.episode_steps={STEPS}",
            "transfer.workers=1",
            "transfer.batch_episodes=2",
            "transfer.bootstrap.reps=100",
            "transfer.baseline_method=random",
            "transfer.shift.layouts=2",
            "transfer.shift.steps=4",
            "transfer.shift.recon_frames=2",
            "transfer.video_fps=10",
            *overrides,
        ],
    )

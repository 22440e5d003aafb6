"""Stage 3 throughput, as a ratio measured in one run.

- ``transfer_eval_vs_random``: evaluation episodes/s of an agent on a frozen DARLA encoder (64 px,
  32 latents, PPO's default 64-64 MLP; encoding and the policy included) ÷ episodes/s of the
  uniformly random policy, in the same env with the same episode seeds, batch and thread count
  (what one ``darla transfer`` worker does). Target ≥ 0.8: the agent costs little beside the
  rendering.

Encoder weights do not change the speed, so the model is untrained (no `darla see` run needed).
Rates are medians of alternating rounds, so load drift hits both contenders alike.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import torch
from gymnasium import spaces

import envs
from benchmarks.results import figure
from darla.agents import Agent, freeze
from darla.transfer import EnvSettings, RandomPolicy, episode_seeds, run_episodes
from darla.vision import build_model

OBS_SIZE = 64
EPISODE_STEPS = 100
BATCH = 5  # the default transfer.batch_episodes
ROUNDS = 4


class FrozenEncoderAgent:
    """A ``darla.agents.Agent`` (frozen DARLA encoder + SB3 PPO policy) as a transfer Policy."""

    name = method = "darla"
    seed = 0
    obs_size = OBS_SIZE

    def __init__(self) -> None:
        from stable_baselines3.common.policies import ActorCriticPolicy

        torch.manual_seed(0)
        dae = build_model("dae", image_size=OBS_SIZE)
        encoder = freeze(build_model("darla", dae=dae, latent_dim=32, hidden_dim=256))
        space = spaces.Box(-np.inf, np.inf, shape=(32,), dtype=np.float32)
        policy = ActorCriticPolicy(
            space, spaces.Discrete(3), lambda _: 0.0, net_arch=[64, 64], activation_fn=torch.nn.Tanh
        )
        policy.set_training_mode(False)
        self.agent = Agent("darla", "ppo", policy, encoder, OBS_SIZE, Path("bench"))
        self.vision = encoder

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        return np.asarray(self.agent.predict(obs, deterministic=deterministic)).reshape(-1)


def _rate(policy, settings: EnvSettings, seeds: list[int]) -> float:
    start = time.perf_counter()
    run_episodes(policy, envs.resolve_domain("A_room2"), seeds, settings)
    return len(seeds) / (time.perf_counter() - start)


def run(results: dict) -> None:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # as in a transfer worker
    try:
        settings = EnvSettings(OBS_SIZE, EPISODE_STEPS)
        agent, baseline = FrozenEncoderAgent(), RandomPolicy(OBS_SIZE)
        _rate(baseline, settings, episode_seeds(99, BATCH))  # warm up: GL contexts, first passes
        _rate(agent, settings, episode_seeds(99, BATCH))
        rates: dict[str, list[float]] = {"agent": [], "random": []}
        for k in range(ROUNDS):
            seeds = episode_seeds(k, BATCH)
            rates["random"].append(_rate(baseline, settings, seeds))
            rates["agent"].append(_rate(agent, settings, seeds))
    finally:
        torch.set_num_threads(previous)
    agent_rate, random_rate = (statistics.median(rates[k]) for k in ("agent", "random"))
    print(
        f"transfer eval: frozen-encoder agent {agent_rate:.2f} episodes/s, random policy "
        f"{random_rate:.2f} episodes/s ({EPISODE_STEPS} steps, {OBS_SIZE}px, batch {BATCH})"
    )
    results["transfer_eval_vs_random"] = figure(agent_rate / random_rate, "ratio", 0.8, True)


if __name__ == "__main__":
    from benchmarks.results import run_standalone

    run_standalone(run)

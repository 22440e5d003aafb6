"""Stage 3 throughput, as a ratio measured in one run.

- ``transfer_eval_vs_env_and_encoder``: evaluation episodes/s of an agent on a frozen DARLA
  encoder (64 px, 32 latents, PPO's default 64-64 MLP, frame stack and code standardisation as
  a loaded agent does them; encoding in transfer's ``inference`` runtime) ÷ episodes/s of the
  uniformly random policy that also runs the same encoder on every frame, in the same env with
  the same episode seeds, batch and thread count (what one ``darla transfer`` worker does).
  The env and the encoder are what any frozen-encoder agent pays; target ≥ 0.9.
- ``transfer_eval_vs_random``: the same agent ÷ the random policy without the encoder. No
  target: shown for scale.

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
from darla.config import compose, to_plain
from darla.transfer import EnvSettings, RandomPolicy, episode_seeds, run_episodes
from darla.vision import FrozenEncoder, build_model
from darla.vision.code_stats import CodeStats

OBS_SIZE = 64
EPISODE_STEPS = 100
_DEFAULTS = to_plain(compose("transfer", []))["transfer"]
BATCH = int(_DEFAULTS["batch_episodes"])
INFERENCE = _DEFAULTS["inference"]
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
        stack = int(to_plain(compose("act", []))["act"]["frame_stack"])
        space = spaces.Box(-np.inf, np.inf, shape=(stack * 32,), dtype=np.float32)
        policy = ActorCriticPolicy(
            space, spaces.Discrete(3), lambda _: 0.0, net_arch=[64, 64], activation_fn=torch.nn.Tanh
        )
        policy.set_training_mode(False)
        unit = CodeStats(np.zeros(32, np.float32), np.ones(32, np.float32), 1)
        self.agent = Agent(
            "darla", "ppo", policy, encoder, OBS_SIZE, Path("bench"),
            frame_stack=stack, code_stats=unit, inference=INFERENCE,
        )  # fmt: skip
        self.vision = encoder

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        return np.asarray(self.agent.predict(obs, deterministic=deterministic)).reshape(-1)


class EncodingRandomPolicy(RandomPolicy):
    """The random policy that also encodes each frame with the agent's frozen encoder."""

    def __init__(self, eyes: FrozenEncoder) -> None:
        super().__init__(OBS_SIZE)
        self.eyes = eyes

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        self.eyes(obs)
        return super().predict(obs, deterministic)


def _rate(policy, settings: EnvSettings, seeds: list[int]) -> float:
    start = time.perf_counter()
    run_episodes(policy, envs.resolve_domain("A_room2"), seeds, settings)
    return len(seeds) / (time.perf_counter() - start)


def run(results: dict) -> None:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # as in a transfer worker
    try:
        settings = EnvSettings(OBS_SIZE, EPISODE_STEPS)
        agent = FrozenEncoderAgent()
        contenders = {
            "agent": agent,
            "random + encoder": EncodingRandomPolicy(FrozenEncoder(agent.vision, INFERENCE)),
            "random": RandomPolicy(OBS_SIZE),
        }
        for policy in contenders.values():  # warm up: GL contexts, first passes, the export
            _rate(policy, settings, episode_seeds(99, BATCH))
        rates: dict[str, list[float]] = {name: [] for name in contenders}
        for k in range(ROUNDS):
            seeds = episode_seeds(k, BATCH)
            for name, policy in contenders.items():
                rates[name].append(_rate(policy, settings, seeds))
    finally:
        torch.set_num_threads(previous)
    median = {name: statistics.median(r) for name, r in rates.items()}
    print(
        "transfer eval, episodes/s: "
        + ", ".join(f"{name} {rate:.2f}" for name, rate in median.items())
        + f" ({EPISODE_STEPS} steps, {OBS_SIZE}px, batch {BATCH})"
    )
    results["transfer_eval_vs_env_and_encoder"] = figure(
        median["agent"] / median["random + encoder"],
        "ratio",
        0.9,
        True,
        what="evaluation episodes/s of a frozen-encoder agent vs a random policy that runs the same encoder",
    )
    results["transfer_eval_vs_random"] = figure(
        median["agent"] / median["random"],
        "ratio",
        None,
        True,
        what="evaluation episodes/s of a frozen-encoder agent vs a random policy (for scale)",
    )


if __name__ == "__main__":
    from benchmarks.results import run_standalone

    run_standalone(run)

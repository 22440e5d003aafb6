"""Environment step rate as a ratio to MiniWorld-OneRoom-v0, measured in the same run.

Absolute steps/s drift with the machine's load; measuring both envs in alternating rounds of
the same process and keeping the median per env makes the ratio the stable figure.
Figures: ``env_vs_oneroom`` (the slowest domain, one process), ``env_vs_oneroom_subproc``
(the source set in a 2-process SubprocVecEnv against OneRoom in the same set-up) and
``reference_policy_vs_random_env`` (evaluation episodes of the privileged reference policy
against the random policy's, same env and seeds, through the transfer stage's rollout loop:
what scoring every domain's reference costs). Its target, 0.6, allows for the planner (0.1 to
0.2 ms a step) and for the reference's steps being dearer than random ones in the env itself
(measured: 0.69 against 0.57 ms; a pickup every 6 steps recompiles the scene, most steps move,
and episodes end at the 10th pickup, so resets come 3x as often). The random policy is the
cheapest evaluation there is; every trained agent also runs a network per step.
"""

from __future__ import annotations

import time

import numpy as np

import envs
from benchmarks.results import figure, vec_steps_per_second

OBS_SIZE = 64


def _steps_per_second(env, steps: int, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, 3, steps)
    env.reset(seed=seed)
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(int(action))
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def _make_oneroom():
    from miniworld.envs.oneroom import OneRoom

    return OneRoom(obs_width=OBS_SIZE, obs_height=OBS_SIZE)


def _make_ours(domain):
    from envs.collect_good_objects import CollectGoodObjects

    return CollectGoodObjects(domain=domain, obs_size=OBS_SIZE)


def _make_source():
    return _make_ours(envs.source_domains())


def run(results: dict, steps: int = 1000, rounds: int = 3) -> None:
    from stable_baselines3.common.vec_env import SubprocVecEnv

    names = envs.domain_names()
    contenders = {"OneRoom": _make_oneroom(), **{name: _make_ours(name) for name in names}}
    for env in contenders.values():
        _steps_per_second(env, 100)  # warm-up: textures, display lists
    rates = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, env in contenders.items():
            rates[name].append(_steps_per_second(env, steps))
    median = {name: float(np.median(r)) for name, r in rates.items()}
    for env in contenders.values():
        env.close()
    print(f"{'env':<20} {'steps/s':>9} {'vs OneRoom':>10}")
    for name, rate in median.items():
        print(f"{name:<20} {rate:9.0f} {rate / median['OneRoom']:10.2f}")
    slowest = min(names, key=median.__getitem__)
    results["env_vs_oneroom"] = figure(
        median[slowest] / median["OneRoom"],
        "ratio",
        0.8,
        True,
        what="slowest domain's steps/s vs `MiniWorld-OneRoom-v0`'s, 64x64, one process",
    )

    # Subprocesses need forkserver (or spawn): a forked child would inherit the parent's GL state.
    # Both vec envs stay open and are stepped in alternating rounds, like the envs above: one
    # pass each would measure whatever else the machine was doing at the time.
    factories = {"OneRoom": _make_oneroom, "source": _make_source}
    vecs = {
        label: SubprocVecEnv([factory, factory], start_method="forkserver")
        for label, factory in factories.items()
    }
    for vec in vecs.values():
        vec_steps_per_second(vec, 200)
    vec_rounds = {label: [] for label in vecs}
    for _ in range(rounds):
        for label, vec in vecs.items():
            vec_rounds[label].append(vec_steps_per_second(vec, 2 * steps))
    for vec in vecs.values():
        vec.close()
    vec_rates = {label: float(np.median(r)) for label, r in vec_rounds.items()}
    ratio = vec_rates["source"] / vec_rates["OneRoom"]
    print(
        f"2-process SubprocVecEnv: OneRoom {vec_rates['OneRoom']:.0f}/s, source set {vec_rates['source']:.0f}/s ({ratio:.2f})"
    )
    results["env_vs_oneroom_subproc"] = figure(
        ratio, "ratio", 0.8, True, what="source set vs OneRoom, each in a 2-process `SubprocVecEnv`"
    )
    _reference_vs_random(results, rounds=rounds)


def _rollout_steps_per_second(policy, seeds: list[int], settings) -> float:
    """Env steps/s of evaluation episodes, in the transfer stage's batches of five."""
    from darla.transfer.rollout import run_episodes

    domain = envs.resolve_domain(envs.source_domains()[0])
    steps, start = 0, time.perf_counter()
    for first in range(0, len(seeds), 5):
        episodes, _ = run_episodes(policy, domain, seeds[first : first + 5], settings)
        steps += sum(e["length"] for e in episodes)
    return steps / (time.perf_counter() - start)


def _reference_vs_random(results: dict, episodes: int = 10, rounds: int = 3) -> None:
    from darla.transfer.policies import RandomPolicy
    from darla.transfer.rollout import EnvSettings, episode_seeds
    from envs.reference import ReferencePolicy

    settings = EnvSettings(
        obs_size=OBS_SIZE, episode_steps=envs.env_settings()["max_episode_steps"]
    )
    seeds = episode_seeds(0, episodes)
    policies = {"random": RandomPolicy(OBS_SIZE), "reference": ReferencePolicy(OBS_SIZE)}
    for policy in policies.values():
        _rollout_steps_per_second(policy, seeds[:5], settings)  # warm-up: the envs, textures
    rates = {name: [] for name in policies}
    for _ in range(rounds):
        for name, policy in policies.items():
            rates[name].append(_rollout_steps_per_second(policy, seeds, settings))
    median = {name: float(np.median(r)) for name, r in rates.items()}
    ratio = median["reference"] / median["random"]
    print(
        f"evaluation episodes: random {median['random']:.0f} steps/s, reference "
        f"{median['reference']:.0f} steps/s ({ratio:.2f})"
    )
    results["reference_policy_vs_random_env"] = figure(
        ratio,
        "ratio",
        0.6,
        True,
        what="the reference policy's env steps/s vs the random policy's, same env and seeds",
    )


if __name__ == "__main__":
    from benchmarks.results import run_standalone

    run_standalone(run)

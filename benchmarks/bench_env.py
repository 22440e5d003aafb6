"""Environment step rate as a ratio to MiniWorld-OneRoom-v0, measured in the same run.

Absolute steps/s drift with the machine's load; measuring both envs in alternating rounds of
the same process and keeping the median per env makes the ratio the stable figure.
Figures: ``env_vs_oneroom`` (the slowest domain, one process) and ``env_vs_oneroom_subproc``
(the source set in a 2-process SubprocVecEnv against OneRoom in the same set-up).
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
    results["env_vs_oneroom"] = figure(median[slowest] / median["OneRoom"], "ratio", 0.8, True)

    # Subprocesses need forkserver (or spawn): a forked child would inherit the parent's GL state.
    vec_rates = {}
    for label, factory in (
        ("OneRoom", _make_oneroom),
        ("source", lambda: _make_ours(envs.source_domains())),
    ):
        vec = SubprocVecEnv([factory, factory], start_method="forkserver")
        vec_steps_per_second(vec, 200)
        vec_rates[label] = vec_steps_per_second(vec, 2 * steps)
        vec.close()
    ratio = vec_rates["source"] / vec_rates["OneRoom"]
    print(
        f"2-process SubprocVecEnv: OneRoom {vec_rates['OneRoom']:.0f}/s, source set {vec_rates['source']:.0f}/s ({ratio:.2f})"
    )
    results["env_vs_oneroom_subproc"] = figure(ratio, "ratio", 0.8, True)


if __name__ == "__main__":
    from benchmarks.results import run_standalone

    run_standalone(run)

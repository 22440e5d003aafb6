"""Stage 2 throughput and memory, as ratios measured in one run.

- ``act_ppo_vs_env_and_encoder``: PPO on a frozen DARLA encoder's latents (``LatentVecEnv`` in
  act's default ``act.inference`` runtime and ``act.frame_stack``, default PPO settings,
  updates included) ÷ the same latent vec env stepping random actions: the env and the encoder
  are what any frozen-encoder agent must pay, so this is PPO's own overhead. Target ≥ 0.9.
- ``act_ppo_vs_raw_env``: the same PPO ÷ the frame vec env alone, random actions, no encoder
  (what the env costs against everything an agent adds). No target: shown for scale.
- ``act_ppo_update_share``: the share of PPO's wall-clock spent in its updates (``train``:
  10 epochs of minibatches over each rollout) rather than collecting the rollout.
- ``act_ppo_vs_pixel_ppo``: the same PPO on latents ÷ SB3 PPO with ``CnnPolicy`` (NatureCNN)
  on the pixels, same env, n_envs, frame stack and PPO settings. Target ≥ 4.
- ``act_pixels_aug_vs_pixels``: ``pixels_aug`` (NatureCNN, its minibatches randomly shifted by
  kornia in every update; act's default ``augment:``) ÷ the same PPO on pixels without
  augmentation, same env. What the augmentation costs in env steps/s. Target ≥ 0.8.
- ``act_stacked_vs_unstacked``: PPO on latents with the default frame stack ÷ the same PPO on
  one frame's latents (``act.frame_stack=1``), same env: what the stack costs in env steps/s.
  Target ≥ 0.9.
- ``dqn_buffer_1m_mb``: resident memory of a process holding DQN on latents with a filled
  1M-transition replay buffer, in MB. Target < 1024.

Encoder weights do not change the speed, so the DARLA model here is untrained (no `darla see`
run needed). Rates are medians of alternating rounds, so load drift hits every contender alike.
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch

import envs
from benchmarks.results import figure, vec_steps_per_second
from darla.agents import LatentVecEnv, make_vec_env
from darla.agents.env import stack_frames
from darla.config import compose, to_plain
from darla.vision import build_model

OBS_SIZE = 64


def _act_settings() -> tuple[dict, dict]:
    cfg = to_plain(compose("act", []))
    return cfg["act"], cfg["agent"]


def _darla_encoder():
    torch.manual_seed(0)
    dae = build_model("dae", image_size=OBS_SIZE)
    return build_model("darla", dae=dae, latent_dim=32, hidden_dim=256)


def _venv(n_envs: int, vec_env: str, episode_steps: int):
    return make_vec_env(
        envs.source_domains(),
        n_envs,
        0,
        {"obs_size": OBS_SIZE, "max_episode_steps": episode_steps},
        vec_env,
    )


def _learn_rate(model, steps: int) -> float:
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.perf_counter() - start)


def _update_share(model, steps: int) -> float:
    """The share of ``model.learn(steps)``'s wall-clock spent inside ``model.train``."""
    spent = [0.0]
    train = model.train

    def timed_train() -> None:
        start = time.perf_counter()
        train()
        spent[0] += time.perf_counter() - start

    model.train = timed_train
    try:
        start = time.perf_counter()
        model.learn(steps, reset_num_timesteps=False)
        return spent[0] / (time.perf_counter() - start)
    finally:
        del model.train


def _rss_mb() -> float:
    import psutil

    return psutil.Process(os.getpid()).memory_info().rss / 2**20


def run(results: dict, rounds: int = 3) -> None:
    from stable_baselines3 import PPO

    from darla.agents.algos import policy_kwargs, policy_spec

    act, agent = _act_settings()
    n_envs, vec_env = int(act["n_envs"]), act["vec_env"]
    stack = int(act["frame_stack"])
    torch.set_num_threads(int(act["threads"]))
    hyper = dict(agent["hyperparams"])
    rollout = n_envs * int(hyper["n_steps"])
    print(
        f"PPO settings: n_envs={n_envs} ({vec_env}), n_steps={hyper['n_steps']}, "
        f"threads={act['threads']}, frame_stack={stack}"
    )

    episode_steps = int(act["episode_steps"])
    raw_env = _venv(n_envs, vec_env, episode_steps)
    inference = act["inference"]
    latent_env = stack_frames(
        LatentVecEnv(_venv(n_envs, vec_env, episode_steps), _darla_encoder(), None, inference),
        stack,
    )
    single_env = LatentVecEnv(
        _venv(n_envs, vec_env, episode_steps), _darla_encoder(), None, inference
    )
    pixel_env = stack_frames(_venv(n_envs, vec_env, episode_steps), stack)
    aug_env = stack_frames(_venv(n_envs, vec_env, episode_steps), stack)
    latent_random = stack_frames(
        LatentVecEnv(_venv(n_envs, vec_env, episode_steps), _darla_encoder(), None, inference),
        stack,
    )
    spec = policy_spec("latent", agent["policy"], None)
    latent_ppo = PPO("MlpPolicy", latent_env, seed=0, policy_kwargs=policy_kwargs(spec), **hyper)
    single_ppo = PPO("MlpPolicy", single_env, seed=0, policy_kwargs=policy_kwargs(spec), **hyper)
    pixel_ppo = PPO(
        "CnnPolicy",
        pixel_env,
        seed=0,
        policy_kwargs=policy_kwargs(policy_spec("pixels", agent["policy"], None)),
        **hyper,
    )
    augment = to_plain(compose("act", []))["augment"]
    aug_ppo = PPO(
        "CnnPolicy",
        aug_env,
        seed=0,
        policy_kwargs=policy_kwargs(policy_spec("pixels", agent["policy"], None, augment=augment)),
        **hyper,
    )
    # warm-up: textures, display lists, first rollout allocations
    vec_steps_per_second(raw_env, n_envs * 20)
    vec_steps_per_second(latent_random, n_envs * 20)
    latent_ppo.learn(rollout)
    single_ppo.learn(rollout)
    pixel_ppo.learn(rollout)
    aug_ppo.learn(rollout)

    rates: dict[str, list[float]] = {
        "raw env": [],
        "env + encoder": [],
        "PPO latents": [],
        "PPO latents, 1 frame": [],
        "PPO pixels": [],
        "PPO pixels_aug": [],
    }
    for _ in range(rounds):
        rates["raw env"].append(vec_steps_per_second(raw_env, 2 * rollout))
        rates["env + encoder"].append(vec_steps_per_second(latent_random, 2 * rollout))
        rates["PPO latents"].append(_learn_rate(latent_ppo, 2 * rollout))
        rates["PPO latents, 1 frame"].append(_learn_rate(single_ppo, 2 * rollout))
        rates["PPO pixels"].append(_learn_rate(pixel_ppo, rollout))
        rates["PPO pixels_aug"].append(_learn_rate(aug_ppo, rollout))
    update_share = _update_share(latent_ppo, 2 * rollout)
    for venv in (raw_env, latent_random, latent_env, single_env, pixel_env, aug_env):
        venv.close()
    median = {name: float(np.median(r)) for name, r in rates.items()}
    print(f"{'contender':<22} {'steps/s':>9}")
    for name, rate in median.items():
        print(f"{name:<22} {rate:9.0f}")
    results["act_ppo_vs_env_and_encoder"] = figure(
        median["PPO latents"] / median["env + encoder"],
        "ratio",
        0.9,
        True,
        what="PPO on frozen `darla` latents vs the same latent vec env (env + encoder) stepping random actions",
    )
    results["act_ppo_vs_raw_env"] = figure(
        median["PPO latents"] / median["raw env"],
        "ratio",
        None,
        True,
        what="PPO on frozen `darla` latents vs the frame vec env alone stepping random actions (for scale)",
    )
    print(f"PPO on latents: {100 * update_share:.0f}% of its time in updates")
    results["act_ppo_update_share"] = figure(
        update_share,
        "share",
        None,
        False,
        what="share of PPO-on-latents wall-clock spent in its updates (10 epochs of minibatches per rollout)",
    )
    results["act_ppo_vs_pixel_ppo"] = figure(
        median["PPO latents"] / median["PPO pixels"],
        "ratio",
        4.0,
        True,
        what="PPO on latents vs SB3 PPO `CnnPolicy` on pixels, same env, n_envs and frame stack",
    )
    results["act_pixels_aug_vs_pixels"] = figure(
        median["PPO pixels_aug"] / median["PPO pixels"],
        "ratio",
        0.8,
        True,
        what="`pixels_aug` (default: shift, DrAC) vs `pixels`, PPO env steps/s, same env",
    )
    results["act_stacked_vs_unstacked"] = figure(
        median["PPO latents"] / median["PPO latents, 1 frame"],
        "ratio",
        0.9,
        True,
        what="PPO env steps/s with the default 4-frame stack vs without",
    )

    # In a fresh process, so what the PPO contenders left behind is not counted.
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        rss, arrays, baseline = pool.apply(_dqn_buffer_rss, (int(act["episode_steps"]),))
    print(
        f"DQN on latents, 1M-transition buffer filled: buffer arrays {arrays:.0f} MB; "
        f"process RSS {rss:.0f} MB (a bare process with torch, SB3 and an env: {baseline:.0f} MB)"
    )
    results["dqn_buffer_1m_mb"] = figure(
        rss,
        "MB",
        1024.0,
        False,
        what="resident memory of DQN on latents with a filled 1M-transition buffer",
    )


def _dqn_buffer_rss(episode_steps: int) -> tuple[float, float, float]:
    """RSS of a process holding DQN on latents with every page of a 1M buffer written."""
    from stable_baselines3 import DQN

    torch.set_num_threads(1)
    env = LatentVecEnv(_venv(1, "dummy", episode_steps), _darla_encoder())
    baseline = _rss_mb()
    dqn = DQN("MlpPolicy", env, buffer_size=1_000_000, learning_starts=0, seed=0)
    buffer = dqn.replay_buffer
    names = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")
    rng = np.random.default_rng(0)
    for start in range(0, buffer.buffer_size, 100_000):
        block = slice(start, start + 100_000)
        for name in names:
            array = getattr(buffer, name)
            if name == "actions":
                array[block] = rng.integers(0, 3, array[block].shape)
            else:
                array[block] = rng.standard_normal(array[block].shape).astype(array.dtype)
    buffer.full, buffer.pos = True, 0
    dqn.learn(200)  # sample and train from the full buffer
    arrays = sum(getattr(buffer, name).nbytes for name in names) / 2**20
    rss = _rss_mb()
    env.close()
    return rss, arrays, baseline


if __name__ == "__main__":
    from benchmarks.results import run_standalone

    run_standalone(run)

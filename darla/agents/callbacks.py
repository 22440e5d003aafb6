"""SB3 callbacks for ``darla act``: pickups in TensorBoard, a progress bar and evaluation on the
source domains (the resumable checkpoints are in :mod:`darla.agents.checkpoints`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback, EvalCallback

from darla.agents.checkpoints import rng_state, set_rng_state
from darla.agents.env import PICKUP_KEYS, set_episodes
from darla.io import atomic_path


class PickupLogger(BaseCallback):
    """``rollout/ep_good_pickups_mean`` and ``rollout/ep_bad_pickups_mean`` over SB3's episode
    buffer (the last 100 episodes), beside SB3's ``rollout/ep_rew_mean`` and ``time/fps``."""

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        episodes = [e for e in self.model.ep_info_buffer if PICKUP_KEYS[0] in e]
        if episodes:
            for key in PICKUP_KEYS:
                self.logger.record(
                    f"rollout/ep_{key}_mean", float(np.mean([e[key] for e in episodes]))
                )


class TqdmProgress(BaseCallback):
    """A tqdm bar over env steps, starting at the step count a resumed run already has."""

    def __init__(self, total_timesteps: int, label: str) -> None:
        super().__init__()
        self.total_timesteps = int(total_timesteps)
        self.label = label
        self.bar = None

    def _on_training_start(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=self.total_timesteps,
            initial=self.model.num_timesteps,
            desc=self.label,
            unit="step",
        )

    def _on_step(self) -> bool:
        self.bar.update(self.model.num_timesteps - self.bar.n)
        episodes = [e for e in self.model.ep_info_buffer if PICKUP_KEYS[0] in e][-20:]
        if episodes and self.n_calls % 50 == 0:
            self.bar.set_postfix(
                good=f"{np.mean([e['good_pickups'] for e in episodes]):.2f}",
                bad=f"{np.mean([e['bad_pickups'] for e in episodes]):.2f}",
                refresh=False,
            )
        return True

    def _on_training_end(self) -> None:
        if self.bar is not None:
            self.bar.close()


class SourceEvalCallback(EvalCallback):
    """SB3's EvalCallback, made resumable and told about pickups.

    It evaluates every ``eval_every`` env steps counted from the run's start (SB3 counts calls
    from this ``learn``, which restarts at zero on resume), on the same ``n_eval_episodes``
    episodes each time (so a curve compares policies, not episode draws), with its own seeded
    random stream when it samples actions (so evaluating never shifts training's RNG).
    It logs ``eval/mean_reward``, ``eval/mean_ep_length``, ``eval/good_pickups`` and
    ``eval/bad_pickups``, and appends them to ``evaluations.npz``, which a resumed run reloads.
    """

    def __init__(
        self,
        eval_env,
        eval_every: int,
        n_eval_episodes: int,
        log_path: str,
        deterministic: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__(
            eval_env,
            n_eval_episodes=n_eval_episodes,
            eval_freq=0,
            log_path=log_path,
            deterministic=deterministic,
            verbose=0,
        )
        self.seed = int(seed)
        self.eval_every = int(eval_every)
        self.last_eval = 0
        self.history: dict[str, list] = {
            "timesteps": [],
            "results": [],
            "ep_lengths": [],
            "good_pickups": [],
            "bad_pickups": [],
        }

    def _init_callback(self) -> None:
        super()._init_callback()
        self.last_eval = self.model.num_timesteps
        path = Path(self.log_path + ".npz")
        if path.is_file():
            with np.load(path) as old:
                keep = old["timesteps"] <= self.model.num_timesteps
                self.history = {k: old[k][keep].tolist() for k in self.history if k in old}

    def _on_step(self) -> bool:
        steps = self.num_timesteps
        if self.eval_every <= 0 or steps // self.eval_every <= self.last_eval // self.eval_every:
            return True
        self.last_eval = steps
        result = evaluate(
            self.model, self.eval_env, self.n_eval_episodes, self.deterministic, self.seed
        )
        for key, value in (
            ("timesteps", steps),
            ("results", result["returns"]),
            ("ep_lengths", result["lengths"]),
        ):
            self.history[key].append(value)
        for key in PICKUP_KEYS:
            self.history[key].append(result[key])
        with atomic_path(self.log_path + ".npz") as tmp:
            np.savez(tmp, **{k: np.asarray(v) for k, v in self.history.items()})
        self.last_mean_reward = float(np.mean(result["returns"]))
        self.logger.record("eval/mean_reward", self.last_mean_reward)
        self.logger.record("eval/mean_ep_length", float(np.mean(result["lengths"])))
        for key in PICKUP_KEYS:
            self.logger.record(f"eval/{key}", float(np.mean(result[key])))
        self.logger.record("time/total_timesteps", steps, exclude="tensorboard")
        self.logger.dump(steps)
        return True


def evaluate(
    model, eval_env, n_episodes: int, deterministic: bool = True, seed: int = 0
) -> dict[str, list]:
    """Returns, lengths and pickups of episodes 0..n-1 of ``eval_env``'s episode stream.

    A stochastic evaluation samples from its own stream seeded by ``seed``; every global RNG
    (torch, numpy, the action space's) is restored afterwards, so evaluating mid-training
    leaves the training run's numbers unchanged.
    """
    from stable_baselines3.common.evaluation import evaluate_policy

    set_episodes(eval_env, 0)
    pickups: dict[str, list] = {key: [] for key in PICKUP_KEYS}

    def on_step(locals_: dict, _globals: dict) -> None:
        if locals_["done"] and len(pickups[PICKUP_KEYS[0]]) < n_episodes:
            for key in PICKUP_KEYS:
                pickups[key].append(int(locals_["info"][key]))

    saved = rng_state(model)
    try:
        torch.manual_seed(seed)
        np.random.seed(seed)
        returns, lengths = evaluate_policy(
            model,
            eval_env,
            n_eval_episodes=n_episodes,
            deterministic=deterministic,
            return_episode_rewards=True,
            callback=on_step,
        )
    finally:
        set_rng_state(model, saved)
    return {"returns": list(returns), "lengths": list(lengths), **pickups}

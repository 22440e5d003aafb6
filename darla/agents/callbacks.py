"""SB3 callbacks for ``darla act``: pickups in TensorBoard, a progress bar and evaluation on the
source domains (the resumable checkpoints are in :mod:`darla.agents.checkpoints`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from darla.agents.env import PICKUP_KEYS
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


class SourceEvalCallback(BaseCallback):
    """Evaluate on the source domains every ``eval_every`` env steps; resumable.

    ``evaluate(model)`` plays the evaluation episodes and returns per-episode lists
    (``returns``, ``lengths``, ``good_pickups``, ``bad_pickups``, ``scores``): ``darla act``
    passes the loop ``darla transfer`` uses (:mod:`darla.transfer.evaluation`), so the curve's
    points are transfer's numbers for the policy at that step. Steps count from the run's start
    (SB3 counts calls from this ``learn``, which restarts at zero on resume). It logs
    ``eval/mean_reward``, ``eval/mean_score``, ``eval/mean_ep_length``, ``eval/good_pickups`` and
    ``eval/bad_pickups``, and appends every episode to ``evaluations.npz``, which a resumed run
    reloads.
    """

    KEYS = ("results", "scores", "ep_lengths", "good_pickups", "bad_pickups")

    def __init__(
        self, evaluate: Callable[[Any], dict[str, list]], eval_every: int, log_path: str
    ) -> None:
        super().__init__()
        self.evaluate = evaluate
        self.eval_every = int(eval_every)
        self.path = Path(log_path) / "evaluations.npz"
        self.last_eval = 0
        self.history: dict[str, list] = {"timesteps": [], **{k: [] for k in self.KEYS}}

    def _init_callback(self) -> None:
        self.last_eval = self.model.num_timesteps
        if self.path.is_file():
            with np.load(self.path, allow_pickle=False) as old:
                keep = old["timesteps"] <= self.model.num_timesteps
                self.history = {k: old[k][keep].tolist() for k in self.history if k in old}

    def _on_step(self) -> bool:
        steps = self.model.num_timesteps
        if self.eval_every <= 0 or steps // self.eval_every <= self.last_eval // self.eval_every:
            return True
        self.last_eval = steps
        result = self.evaluate(self.model)
        self.history["timesteps"].append(steps)
        for key, name in zip(
            self.KEYS, ("returns", "scores", "lengths", *PICKUP_KEYS), strict=True
        ):
            self.history[key].append(result[name])
        with atomic_path(self.path) as tmp:
            np.savez(tmp, **{k: np.asarray(v, dtype=float) for k, v in self.history.items()})
        self.logger.record("eval/mean_reward", float(np.mean(result["returns"])))
        self.logger.record("eval/mean_score", float(np.nanmean(result["scores"])))
        self.logger.record("eval/mean_ep_length", float(np.mean(result["lengths"])))
        for key in PICKUP_KEYS:
            self.logger.record(f"eval/{key}", float(np.mean(result[key])))
        self.logger.record("time/total_timesteps", steps, exclude="tensorboard")
        self.logger.dump(steps)
        return True

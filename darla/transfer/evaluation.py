"""One evaluation rule and one loop, for act's curve and for transfer: source-domain scores.

``darla act`` evaluates its agent every ``act.eval_every`` steps, and at the end, with exactly
what ``darla transfer`` uses: :func:`darla.transfer.rollout.run_episodes` in each source domain,
on the evaluation seeds :func:`darla.transfer.rollout.episode_seeds` gives, with the same action
rule (sampled from each episode's own stream, or greedy), beside the uniformly random and the
reference policy on the same episodes. So an agent's last curve point and transfer's score of it
in the source domains are the same numbers when the seeds and episode counts agree (a test
checks), and the curve is drawn in normalised scores, 0 = random, 1 = the reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from darla.transfer.policies import BlindPolicy, RandomPolicy, blind_share
from darla.transfer.rollout import EnvSettings, episode_seeds, run_episodes
from darla.transfer.stats import mean_if_known, normalised_scores


def baseline_returns(
    domains: Sequence[tuple[str, dict[str, str]]], seeds: Sequence[int], settings: EnvSettings
) -> dict[str, dict[str, float]]:
    """Mean return of the random and the reference policy per domain, on these episodes."""
    from envs.reference import ReferencePolicy

    out: dict[str, dict[str, float]] = {}
    for policy in (RandomPolicy(settings.obs_size), ReferencePolicy(settings.obs_size)):
        out[policy.name] = {
            name: float(np.mean([e["return"] for e in run_episodes(policy, (name, f), seeds, settings)[0]]))
            for name, f in domains
        }  # fmt: skip
    return out


def evaluate_policy(
    policy: Any,
    domains: Sequence[tuple[str, dict[str, str]]],
    seeds: Sequence[int],
    settings: EnvSettings,
    *,
    deterministic: bool,
    baselines: dict[str, dict[str, float]],
    blind: bool = False,
) -> dict[str, Any]:
    """``policy`` on every seed in every domain: per episode (domain-major order) its return,
    length, pickups and normalised score, and per domain the mean return and score. With
    ``blind``, also the blind diagnostic as transfer measures it: its blank-frame twin plays the
    seeds once (in the first domain: it sees grey in any), and ``blind_share`` (per domain and
    overall) is the share of episodes the policy played with exactly the twin's actions."""
    out: dict[str, Any] = {k: [] for k in ("returns", "lengths", "good_pickups", "bad_pickups")}
    out["scores"], out["domains"] = [], {}
    twin = None
    if blind:
        twin, _ = run_episodes(
            BlindPolicy(policy), domains[0], seeds, settings, deterministic=deterministic
        )
    for name, factors in domains:
        episodes, _ = run_episodes(
            policy, (name, factors), seeds, settings, deterministic=deterministic
        )
        returns = np.array([e["return"] for e in episodes], dtype=float)
        scores = normalised_scores(returns, baselines["random"][name], baselines["reference"][name])
        out["returns"] += returns.tolist()
        out["lengths"] += [e["length"] for e in episodes]
        out["good_pickups"] += [e["good_pickups"] for e in episodes]
        out["bad_pickups"] += [e["bad_pickups"] for e in episodes]
        out["scores"] += scores.tolist()
        out["domains"][name] = {
            "mean_return": float(returns.mean()),
            "score": None if np.isnan(scores.mean()) else float(scores.mean()),
        }
        if twin is not None:
            out["domains"][name]["blind_share"] = blind_share(episodes, twin)
    if twin is not None:
        out["blind_share"] = mean_if_known([d["blind_share"] for d in out["domains"].values()])
    return out


__all__ = ["baseline_returns", "episode_seeds", "evaluate_policy"]

"""Stage 3 (DARLA's "transfer"): agents, unchanged, in held-out target domains.

Typical use::

    from darla.transfer import RandomPolicy, load_policy, episode_seeds, run_episodes, EnvSettings
    policy = load_policy("runs/act/darla-ppo-<key>")        # any object with the Policy protocol
    settings = EnvSettings(obs_size=64, episode_steps=150)
    results, _ = run_episodes(policy, envs.resolve_domain("A_room2"), episode_seeds(0, 10), settings)

``darla transfer`` (:func:`darla.stages.transfer.run_transfer`) evaluates many agents in every
domain, in parallel, and writes the report; :mod:`darla.transfer.stats` holds the statistics
(rliable's definitions), :mod:`darla.transfer.shift` the latent-shift measure,
:mod:`darla.transfer.video` the rollout videos; :mod:`darla.transfer.tables`,
:mod:`darla.transfer.plots` and :mod:`darla.transfer.render` turn results into the report, and
:mod:`darla.transfer.merge` merges transfer runs for ``darla report``.
"""

from darla.transfer.policies import (
    AgentPolicy,
    BlindPolicy,
    Policy,
    RandomPolicy,
    blind_share,
    check_agent_run,
    load_policy,
)
from darla.transfer.rollout import (
    Cell,
    EnvSettings,
    Recording,
    episode_seeds,
    evaluate_cells,
    run_episodes,
)
from darla.transfer.stats import (
    LEARNED_SOURCE_SCORE,
    aggregate_iqm,
    aggregate_mean,
    interval_estimates,
    paired_statistics,
    probability_of_improvement,
    summarise_methods,
    transfer_ratio,
)

__all__ = [
    "LEARNED_SOURCE_SCORE",
    "AgentPolicy",
    "BlindPolicy",
    "Cell",
    "EnvSettings",
    "Policy",
    "RandomPolicy",
    "Recording",
    "aggregate_iqm",
    "aggregate_mean",
    "blind_share",
    "check_agent_run",
    "episode_seeds",
    "evaluate_cells",
    "interval_estimates",
    "load_policy",
    "paired_statistics",
    "probability_of_improvement",
    "run_episodes",
    "summarise_methods",
    "transfer_ratio",
]

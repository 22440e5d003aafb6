"""From per-agent, per-domain returns to every number in a transfer report.

One path for ``darla transfer`` (one evaluation) and ``darla report`` (many evaluations merged):
both build the same ``results`` skeleton (``domains``, ``random``, ``reference``, ``agents``
with their per-domain episode summaries, ``latent_shift``, ``config``, ``bootstrap``) and call
:func:`summarise`, which fills in each agent's source and target return and normalised score,
the method statistics with their CIs and probability of improvement
(:mod:`darla.transfer.stats`), and the disentanglement-vs-transfer correlations.

The normalised score of a return R in a domain is (R − random) / (reference − random), with the
uniformly random policy and the privileged reference policy (this task's "human", as in
DMLab-30) measured on the same paired episodes: 0 is random, 1 the reference. Results written
before the reference policy existed have no ``reference``; their scores are None.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from darla.transfer.stats import (
    mean_if_known,
    normalised_scores,
    spearman_interval,
    summarise_methods,
    transfer_ratio,
)

# Spearman's ρ across vision modules needs a few modules to mean anything.
MIN_MODULES = 3


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    """Fill in per-agent returns, ``methods`` and ``disentanglement_vs_transfer`` (in place).

    The statistics' settings come from ``results`` itself: ``bootstrap`` (reps, seed,
    confidence) and ``config["baseline_method"]``.
    """
    agent_returns(results)
    names = [d["name"] for d in results["domains"]]
    boot = results["bootstrap"]
    reference = results.get("reference")
    results["methods"] = summarise_methods(
        method_scores(results),
        names,
        {d["name"]: d["split"] for d in results["domains"]},
        {n: results["random"][n]["mean_return"] for n in names},
        None if reference is None else {n: reference[n]["mean_return"] for n in names},
        baseline=results["config"].get("baseline_method"),
        reps=int(boot["reps"]),
        seed=int(boot["seed"]),
        confidence=float(boot["confidence"]),
    )
    for method, m in results["methods"].items():
        m["blind_share"] = mean_if_known(
            [a.get("blind_share") for a in results["agents"] if a["method"] == method]
        )
    if "latent_shift" in results:
        results["disentanglement_vs_transfer"] = disentanglement_vs_transfer(results)
    return results


def agent_returns(results: dict[str, Any]) -> None:
    """Each agent's source and target return (mean over the domains of each split), its
    transfer ratio and generalisation gap, and the random policy's source and target returns."""
    src = [d["name"] for d in results["domains"] if d["split"] == "source"]
    tgt = [d["name"] for d in results["domains"] if d["split"] == "target"]

    def split_means(per: dict[str, Any]) -> tuple[float, float]:
        return (
            float(np.mean([per[n]["mean_return"] for n in src])),
            float(np.mean([per[n]["mean_return"] for n in tgt])),
        )

    random_src, random_tgt = split_means(results["random"])
    results["random_source_return"] = random_src
    results["random_target_return"] = random_tgt
    reference = results.get("reference")
    if reference is not None:
        results["reference_source_return"], results["reference_target_return"] = split_means(
            reference
        )
    for agent in results["agents"]:
        source, target = split_means(agent["domains"])
        ratio = transfer_ratio(source, target, random_src, random_tgt)
        scores = {}
        for name, cell in agent["domains"].items():
            cell["score"] = None if reference is None else _score(results, name, cell)
            scores[name] = cell["score"]
        agent.update(
            {
                "source_return": source,
                "target_return": target,
                "source_score": mean_if_known([scores[n] for n in src]),
                "target_score": mean_if_known([scores[n] for n in tgt]),
                "source_above_random": source - random_src,
                "target_above_random": target - random_tgt,
                "transfer_ratio": None if np.isnan(ratio) else ratio,
                "generalisation_gap": source - target,
                # the blind diagnostic: the share of its episodes (every domain) it played with
                # the actions it takes when every frame is blank
                "blind_share": mean_if_known(
                    [cell.get("blind_share") for cell in agent["domains"].values()]
                ),
            }
        )


def _score(results: dict[str, Any], domain: str, cell: dict[str, Any]) -> float | None:
    """One cell's normalised score (None where the reference is not above random there)."""
    score = normalised_scores(
        np.array([cell["mean_return"]]),
        np.array([results["random"][domain]["mean_return"]]),
        np.array([results["reference"][domain]["mean_return"]]),
    )[0]
    return None if np.isnan(score) else float(score)


def method_scores(results: dict[str, Any]) -> dict[str, np.ndarray]:
    """``{method: [runs, domains]}`` mean returns, rows ordered by seed then agent name."""
    names = [d["name"] for d in results["domains"]]
    by_method: dict[str, list[dict[str, Any]]] = {}
    for agent in results["agents"]:
        by_method.setdefault(agent["method"], []).append(agent)
    return {
        method: np.array(
            [
                [a["domains"][n]["mean_return"] for n in names]
                for a in sorted(rows, key=lambda a: (str(a["seed"]), a["name"]))
            ]
        )
        for method, rows in sorted(by_method.items())
    }


def disentanglement_vs_transfer(results: dict[str, Any]) -> dict[str, Any] | None:
    """The paper's figure as numbers: each vision module's disentanglement scores beside its
    agents' mean target return, and per score Spearman's ρ with that return across modules,
    with a bootstrap CI over modules (when at least :data:`MIN_MODULES` modules have it)."""
    agents = {a["name"]: a for a in results["agents"]}
    rows = []
    for label, entry in sorted((results.get("latent_shift") or {}).items()):
        if not entry.get("disentanglement"):
            continue
        mine = [agents[name] for name in entry["agents"]]
        ratios = [a["transfer_ratio"] for a in mine if a["transfer_ratio"] is not None]
        rows.append(
            {
                "vision_module": label,
                "agents": list(entry["agents"]),
                "scores": entry["disentanglement"],
                "target_return": float(np.mean([a["target_return"] for a in mine])),
                "transfer_ratio": float(np.mean(ratios)) if ratios else None,
            }
        )
    if not rows:
        return None
    boot = results["bootstrap"]
    correlations = {}
    for score in sorted({k for r in rows for k in r["scores"]}):
        scored = [r for r in rows if r["scores"].get(score) is not None]
        if len(scored) >= MIN_MODULES:
            correlations[score] = spearman_interval(
                [r["scores"][score] for r in scored],
                [r["target_return"] for r in scored],
                reps=int(boot["reps"]),
                seed=int(boot["seed"]),
                confidence=float(boot["confidence"]),
            )
    return {
        "modules": rows,
        "spearman_with_target_return": correlations,
        "bootstrap": "vision modules resampled with replacement (percentile interval); "
        "resamples with a constant score or return are left out ('degenerate')",
    }

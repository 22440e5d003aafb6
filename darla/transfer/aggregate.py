"""From per-agent, per-domain returns to every number in a transfer report.

One path for ``darla transfer`` (one evaluation) and ``darla report`` (many evaluations merged):
both build the same ``results`` skeleton (``domains``, ``random``, ``reference``, ``agents``
with their per-domain episode summaries, ``latent_shift``, ``config``, ``bootstrap``) and call
:func:`summarise`, which fills in the headline domain, each agent's source and held-out numbers,
the method statistics with their CIs and probability of improvement
(:mod:`darla.transfer.stats`), each method's vision modules, and the disentanglement-vs-transfer
correlations.

The headline is the held-out combination of seen values (``A_room2``: DMLab's and DARLA's test;
:func:`headline_domain`). Every other target domain is an extrapolation target, reported in its
own column: no number here pools the target domains together.

The normalised score of a return R in a domain is (R − random) / (reference − random), with the
uniformly random policy and the privileged reference policy (this task's "human", as in
DMLab-30) measured on the same paired episodes: 0 is random, 1 the reference. Results written
before the reference policy existed have no ``reference``; their scores are None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import envs
from darla.errors import DarlaError
from darla.transfer.stats import (
    BOOTSTRAP_METHOD,
    LEARNED_SOURCE_SCORE,
    learned,
    mean_if_known,
    normalised_scores,
    spearman_interval,
    summarise_methods,
    transfer_ratio,
)

# Spearman's ρ across vision modules needs a few modules to mean anything.
MIN_MODULES = 3


def headline_domain(results: Mapping[str, Any]) -> str:
    """The target domain every summary leads with: ``config["headline_domain"]`` where the
    transfer config names one; else the first target domain of the package's split
    (``envs/domains.yaml``: ``A_room2``, the held-out combination of seen values) that these
    results evaluated as a target; else their first target domain."""
    targets = [d["name"] for d in results["domains"] if d["split"] == "target"]
    chosen = (results.get("config") or {}).get("headline_domain")
    if chosen is not None:
        if chosen not in targets:
            raise DarlaError(
                f"headline_domain={chosen!r} is not an evaluated target domain: use one of "
                f"{', '.join(targets)}"
            )
        return str(chosen)
    return next((d for d in envs.target_domains() if d in targets), targets[0])


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    """Fill in ``headline_domain``, per-agent numbers, ``methods`` and
    ``disentanglement_vs_transfer`` (in place).

    The statistics' settings come from ``results`` itself: ``bootstrap`` (reps, seed,
    confidence) and ``config["baseline_method"]``.
    """
    results["headline_domain"] = headline_domain(results)
    results["learned_source_score"] = LEARNED_SOURCE_SCORE
    results["bootstrap"] = {**results["bootstrap"], "method": BOOTSTRAP_METHOD}
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
        headline=results["headline_domain"],
        baseline=results["config"].get("baseline_method"),
        reps=int(boot["reps"]),
        seed=int(boot["seed"]),
        confidence=float(boot["confidence"]),
    )
    for method, m in results["methods"].items():
        mine = [a for a in results["agents"] if a["method"] == method]
        m["headline"] = method_headline(results, m, mine)
        m["vision_modules"] = vision_modules(results, mine)
        m["blind_share"] = mean_if_known([a.get("blind_share") for a in mine])
    if "latent_shift" in results:
        results["disentanglement_vs_transfer"] = disentanglement_vs_transfer(results)
    return results


def agent_returns(results: dict[str, Any]) -> None:
    """Each agent's source numbers (mean over the source domains), its numbers on the headline
    domain, whether it learned the source task, its transfer ratio on the headline domain and
    its generalisation gap; and the random and reference policies' source returns."""
    src = [d["name"] for d in results["domains"] if d["split"] == "source"]
    head = results["headline_domain"]

    def source_mean(per: Mapping[str, Any]) -> float:
        return float(np.mean([per[n]["mean_return"] for n in src]))

    random_src, random_head = source_mean(results["random"]), results["random"][head]["mean_return"]
    results["random_source_return"] = random_src
    reference = results.get("reference")
    if reference is not None:
        results["reference_source_return"] = source_mean(reference)
    for agent in results["agents"]:
        for name, cell in agent["domains"].items():
            cell["score"] = None if reference is None else _score(results, name, cell)
        source, held = source_mean(agent["domains"]), agent["domains"][head]["mean_return"]
        source_score = mean_if_known([agent["domains"][n]["score"] for n in src])
        held_score = agent["domains"][head]["score"]
        did_learn = learned(source_score, source - random_src)
        ratio = transfer_ratio(source, held, random_src, random_head) if did_learn else np.nan
        agent.update(
            {
                "source_return": source,
                "source_score": source_score,
                "source_above_random": source - random_src,
                "headline_return": held,
                "headline_score": held_score,
                "headline_above_random": held - random_head,
                "learned": did_learn,
                # on the headline domain; None where the agent did not learn the source task
                "transfer_ratio": None if np.isnan(ratio) else float(ratio),
                "generalisation_gap": source - held,
                "generalisation_gap_score": None
                if source_score is None or held_score is None
                else source_score - held_score,
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
    return {
        method: np.array([[a["domains"][n]["mean_return"] for n in names] for a in rows])
        for method, rows in agents_by_method(results).items()
    }


def agents_by_method(results: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each method's agents (methods sorted; agents by seed, then name: one row per run)."""
    by_method: dict[str, list[dict[str, Any]]] = {}
    for agent in results["agents"]:
        by_method.setdefault(agent["method"], []).append(agent)
    return {
        method: sorted(rows, key=lambda a: (str(a["seed"]), a["name"]))
        for method, rows in sorted(by_method.items())
    }


def method_headline(
    results: Mapping[str, Any], method: Mapping[str, Any], agents: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """What every summary leads with, per method: the normalised source score (mean over the
    source domains) and headline-domain score (means across runs, stratified-bootstrap CIs),
    the transfer ratio and gaps on the headline domain (whole-run bootstrap CIs), and the share
    of its agents that did not learn the source task."""
    head, stats = results["headline_domain"], method["stats"]
    unlearned = sum(1 for a in agents if not a["learned"])
    return {
        "domain": head,
        "source_score": stats.get("source/score_mean"),
        "score": stats.get(f"{head}/score_mean"),
        "source_return": stats["source/mean"],
        "return": stats[f"{head}/mean"],
        **method["paired"],
        "did_not_learn": {
            "agents": unlearned,
            "of": len(agents),
            "share": unlearned / len(agents) if agents else None,
            "threshold": LEARNED_SOURCE_SCORE,
        },
    }


def vision_modules(
    results: Mapping[str, Any], agents: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """How a method's agents share vision modules, from the data: each agent's ``vision_sha``
    (its frozen encoder's weights hash; None for an end-to-end pixels agent), else the
    ``latent_shift`` entry that lists it. ``mode``: ``shared`` (one module, several agents),
    ``per_seed`` (one module per agent), ``mixed``, ``none`` (no agent has a module) or
    ``unknown`` (results that record neither)."""
    listed = {
        name: str(entry.get("vision_sha") or label)
        for label, entry in (results.get("latent_shift") or {}).items()
        for name in entry.get("agents", [])
    }
    modules, unknown = [], 0
    for agent in agents:
        if "vision_sha" in agent:
            module = agent["vision_sha"]
        elif "latent_shift" in results:
            module = listed.get(agent["name"])
        else:
            unknown += 1
            continue
        modules.append(module)
    n, count = len(agents), len({m for m in modules if m is not None})
    with_module = sum(1 for m in modules if m is not None)
    if unknown:
        mode, text = "unknown", "unknown (not recorded)"
    elif count == 0:
        mode, text = "none", "none (end to end)"
    elif with_module < n:
        mode, text = "mixed", f"{count} for {with_module} of {n} agents"
    elif count == n:
        mode, text = "per_seed", "1 (one agent)" if n == 1 else f"{n} (one per agent seed)"
    elif count == 1:
        mode, text = "shared", f"1 shared by {n} agents"
    else:
        mode, text = "mixed", f"{count} for {n} agents"
    return {"count": count, "agents": n, "mode": mode, "text": text}


def _ratio_of_means(agents: Sequence[Mapping[str, Any]]) -> float | None:
    """A group's transfer ratio as a method's is taken: its mean held-out margin over random ÷
    its mean source margin, None where its mean source score is below the learned threshold."""
    scores = [a.get("source_score") for a in agents]
    source_score = mean_if_known(scores)
    above = float(np.mean([a["source_above_random"] for a in agents]))
    if not learned(source_score, above) or above <= 0:
        return None
    return float(np.mean([a["headline_above_random"] for a in agents]) / above)


def disentanglement_vs_transfer(results: dict[str, Any]) -> dict[str, Any] | None:
    """The paper's figure as numbers: each vision module's disentanglement scores (object probe
    included: whatever its metrics.json headlines) beside its agents' mean normalised score on
    the headline domain and their transfer ratio there, and per score Spearman's ρ across
    modules with each, with a bootstrap CI over modules (when at least :data:`MIN_MODULES`
    modules have both). The held-out score is what the paper plots; the ratio divides out how
    well the agents learned the source task, which a score across model families also carries.
    Reference scores (:data:`~darla.metrics.evaluate.REFERENCE_SCORES`) stay in the rows and get
    no ρ. Without a reference policy the headline domain's return stands in for its score
    (``against``)."""
    from darla.metrics.evaluate import REFERENCE_SCORES

    agents = {a["name"]: a for a in results["agents"]}
    head = results["headline_domain"]
    rows = []
    for label, entry in sorted((results.get("latent_shift") or {}).items()):
        if not entry.get("disentanglement"):
            continue
        mine = [agents[name] for name in entry["agents"]]
        rows.append(
            {
                "vision_module": label,
                "method": entry.get("method"),
                "agents": list(entry["agents"]),
                "scores": entry["disentanglement"],
                "headline_score": mean_if_known([a["headline_score"] for a in mine]),
                "headline_return": float(np.mean([a["headline_return"] for a in mine])),
                "transfer_ratio": _ratio_of_means(mine),
            }
        )
    if not rows:
        return None
    quantity = "score" if all(r["headline_score"] is not None for r in rows) else "return"
    scores = sorted({k for r in rows for k in r["scores"]} - REFERENCE_SCORES)
    boot = results["bootstrap"]

    def correlations(against: str) -> dict[str, dict[str, Any]]:
        out = {}
        for score in scores:
            both = [
                r for r in rows if r["scores"].get(score) is not None and r[against] is not None
            ]
            if len(both) >= MIN_MODULES:
                out[score] = spearman_interval(
                    [r["scores"][score] for r in both],
                    [r[against] for r in both],
                    reps=int(boot["reps"]),
                    seed=int(boot["seed"]),
                    confidence=float(boot["confidence"]),
                )
        return out

    return {
        "modules": rows,
        "against": {"domain": head, "quantity": quantity},
        "scores": scores,
        "spearman_with_headline": correlations(f"headline_{quantity}"),
        "spearman_with_transfer_ratio": correlations("transfer_ratio"),
        "bootstrap": "vision modules resampled with replacement (percentile interval); "
        "resamples with a constant score or headline value are left out ('degenerate')",
    }

"""A transfer report's numbers as text: every table (header and rows of strings), the console
summary, the rows of ``results.csv``, and the one Markdown and the one HTML table writer.

A table builder reads a ``results.json`` dict (after :func:`darla.transfer.aggregate.summarise`)
and returns ``(header, rows)``, or None where the results hold nothing to show; how a table is
drawn is :func:`md_table`'s or :func:`html_table`'s business, so the Markdown and HTML reports
show the same cells.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

Table = tuple[list[str], list[list[str]]]


# -- numbers as text -------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def fmt_ci(estimate: Mapping[str, Any] | None, digits: int = 2) -> str:
    """``value [lo, hi]``; ``value (1 run)`` where there is no interval (one run has no spread)."""
    if not estimate or estimate.get("value") is None:
        return "n/a"
    if estimate.get("ci") is None:
        return f"{fmt(estimate['value'], digits)} (1 run)"
    lo, hi = estimate["ci"]
    return f"{fmt(estimate['value'], digits)} [{fmt(lo, digits)}, {fmt(hi, digits)}]"


DID_NOT_LEARN = "n/a (did not learn)"


def fmt_ratio(estimate: Mapping[str, Any] | None, digits: int = 2) -> str:
    """A method's transfer ratio: ``n/a (did not learn)`` below the learned source score."""
    if estimate and estimate.get("did_not_learn"):
        return DID_NOT_LEARN
    text = fmt_ci(estimate, digits)
    excluded = (estimate or {}).get("excluded_resamples") or 0
    if excluded and estimate.get("ci") is not None:
        # resamples of runs whose mean source score falls below the threshold have no ratio
        text += f" ({excluded} resamples did not learn)"
    return text


def fmt_agent_ratio(agent: Mapping[str, Any]) -> str:
    return DID_NOT_LEARN if agent.get("learned") is False else fmt(agent.get("transfer_ratio"))


def fmt_share(share: Mapping[str, Any]) -> str:
    """``1/5 (20%)``: the agents of a method that did not learn the source task."""
    if not share.get("of"):
        return "n/a"
    return f"{share['agents']}/{share['of']} ({100 * share['share']:.0f}%)"


def headline(results: Mapping[str, Any]) -> str:
    return str(results["headline_domain"])


def extrapolation(results: Mapping[str, Any]) -> list[str]:
    head = headline(results)
    return [n for n in domain_names(results, "target") if n != head]


def unit(results: Mapping[str, Any]) -> str:
    """What the headline columns show: normalised scores, or returns in results from before the
    reference policy (no scale to normalise by)."""
    return "score" if results.get("reference") is not None else "return"


def stat_name(results: Mapping[str, Any], kind: str = "mean") -> str:
    return f"score_{kind}" if unit(results) == "score" else kind


def domain_names(results: Mapping[str, Any], split: str | None = None) -> list[str]:
    return [d["name"] for d in results["domains"] if split is None or d["split"] == split]


# -- drawing a table -------------------------------------------------------------------------


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table; a ``|`` inside a cell is escaped."""
    esc = [[str(c).replace("|", "\\|") for c in row] for row in [header, *rows]]
    lines = ["| " + " | ".join(esc[0]) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in esc[1:]]
    return "\n".join(lines)


def html_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# -- the report's tables ---------------------------------------------------------------------


def method_table(results: Mapping[str, Any]) -> Table:
    """Methods x domains: mean return [95% CI] across runs, and the random policy's row."""
    domains = results["domains"]
    header = ["method", "runs", *[f"{d['name']} ({d['split']})" for d in domains]]
    rows = []
    for method, m in results["methods"].items():
        rows.append(
            [method, str(m["runs"]), *[fmt_ci(m["stats"][f"{d['name']}/mean"]) for d in domains]]
        )
    rows.append(
        ["random policy", "-", *[fmt(results["random"][d["name"]]["mean_return"]) for d in domains]]
    )
    return header, rows


def score_table(results: Mapping[str, Any]) -> Table | None:
    """Methods x domains: mean normalised score [95% CI] across runs (0 = the random policy,
    1 = the reference policy, on the same episodes), then both policies' raw returns."""
    reference = results.get("reference")
    if reference is None:
        return None
    domains = results["domains"]
    header = ["method", "runs", *[f"{d['name']} ({d['split']})" for d in domains]]
    rows = [
        [method, str(m["runs"]), *[fmt_ci(m["stats"][f"{d['name']}/score_mean"]) for d in domains]]
        for method, m in results["methods"].items()
    ]
    for label, per in (
        ("random policy (return)", results["random"]),
        ("reference policy (return)", reference),
    ):
        rows.append([label, "-", *[fmt(per[d["name"]]["mean_return"]) for d in domains]])
    return header, rows


def headline_table(results: Mapping[str, Any]) -> Table:
    """What every summary leads with, per method: its vision modules, the source score (mean over
    the source domains), the held-out combination's score and the transfer ratio on it, the
    share of agents that did not learn the source task, the gap, then each extrapolation target
    in its own column (never pooled). Means across runs [95% CI]."""
    head, u, kind = headline(results), unit(results), stat_name(results)
    gap = "generalisation_gap_score" if u == "score" else "generalisation_gap"
    header = [
        "method", "runs", "vision modules", f"source {u}", f"{head} {u} (held out)",
        f"transfer ratio ({head})", "did not learn", f"gap (source − {head})",
        *[f"{d} {u}" for d in extrapolation(results)], "played blind",
    ]  # fmt: skip
    rows = []
    for method, m in results["methods"].items():
        h, s = m["headline"], m["stats"]
        rows.append(
            [
                method, str(m["runs"]), m["vision_modules"]["text"], fmt_ci(s[f"source/{kind}"]),
                fmt_ci(s[f"{head}/{kind}"]), fmt_ratio(h["transfer_ratio"]),
                fmt_share(h["did_not_learn"]), fmt_ci(h[gap]),
                *[fmt_ci(s[f"{d}/{kind}"]) for d in extrapolation(results)],
                fmt(m.get("blind_share")),
            ]
        )  # fmt: skip
    return header, rows


def aggregate_table(results: Mapping[str, Any]) -> Table:
    """rliable's robust aggregates: IQM [95% CI] of the source domains together and of each
    target domain on its own, and the probability of improvement over the baseline on each."""
    baseline = results["config"].get("baseline_method") or "-"
    u, kind = unit(results), stat_name(results, "iqm")
    groups = ["source", headline(results), *extrapolation(results)]
    header = ["method", "runs", *[f"{g} {u} IQM" for g in groups],
              *[f"P(> {baseline}) {g}" for g in groups]]  # fmt: skip
    rows = []
    for method, m in results["methods"].items():
        poi = m.get("poi_over_baseline") or {}
        rows.append(
            [method, str(m["runs"]), *[fmt_ci(m["stats"][f"{g}/{kind}"]) for g in groups],
             *[fmt_ci(poi.get(g)) for g in groups]]
        )  # fmt: skip
    return header, rows


def agent_table(results: Mapping[str, Any]) -> Table:
    head = headline(results)
    extra = extrapolation(results)
    header = ["agent", "method", "seed", "source score", f"{head} score", "learned",
              f"transfer ratio ({head})", f"gap (source − {head}, return)",
              *[f"{d} score" for d in extra], "source return", f"{head} return",
              "played blind"]  # fmt: skip
    rows = [
        [
            a["name"], a["method"], str(a["seed"]), fmt(a.get("source_score")),
            fmt(a.get("headline_score")), "yes" if a["learned"] else "no", fmt_agent_ratio(a),
            fmt(a["generalisation_gap"]), *[fmt(a["domains"][d].get("score")) for d in extra],
            fmt(a["source_return"]), fmt(a["headline_return"]), fmt(a.get("blind_share")),
        ]
        for a in results["agents"]
    ]  # fmt: skip
    return header, rows


def cell_table(results: Mapping[str, Any]) -> Table:
    header = ["agent", "domain", "split", "episodes", "return (mean ± std)", "score",
              "good pickups", "bad pickups", "episode length", "played blind"]  # fmt: skip
    split = {d["name"]: d["split"] for d in results["domains"]}
    rows = []
    for label, per in _policies(results):
        for domain, c in per.items():
            rows.append(
                [
                    label, domain, split[domain], str(c["episodes"]),
                    f"{c['mean_return']:.2f} ± {c['std_return']:.2f}", fmt(c.get("score")),
                    fmt(c["mean_good_pickups"]), fmt(c["mean_bad_pickups"]), fmt(c["mean_length"], 1),
                    fmt(c.get("blind_share")),
                ]
            )  # fmt: skip
    return header, rows


def _policies(results: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(label, per-domain summaries) of the random and reference policies, then every agent."""
    fixed = [("random policy", results["random"])]
    if results.get("reference") is not None:
        fixed.append(("reference policy", results["reference"]))
    return fixed + [(a["name"], a["domains"]) for a in results["agents"]]


def shift_table(results: Mapping[str, Any]) -> Table | None:
    shift = results.get("latent_shift") or {}
    if not shift:
        return None
    domains = domain_names(results)
    header = ["vision module", "agents", *domains]
    rows = []
    for label, entry in shift.items():
        cells = []
        for d in domains:
            s = entry["domains"][d]
            cells.append(
                f"{fmt(s['relative'])} (vs {s['reference']}; latents {s['most_moved_latents']})"
            )
        rows.append([label, ", ".join(entry["agents"]), *cells])
    return header, rows


def disentanglement_table(results: Mapping[str, Any]) -> Table | None:
    data = results.get("disentanglement_vs_transfer")
    if not data:
        return None
    against = f"{data['against']['domain']} {data['against']['quantity']}"
    scores = sorted({k for row in data["modules"] for k in row["scores"]})
    header = ["vision module", against, f"transfer ratio ({data['against']['domain']})", *scores]
    rows = [
        [r["vision_module"], fmt(r[f"headline_{data['against']['quantity']}"]),
         fmt(r["transfer_ratio"])] + [fmt(r["scores"].get(k)) for k in scores]
        for r in data["modules"]
    ]  # fmt: skip
    correlated = set(data.get("scores") or [])
    for name, label in (("spearman_with_headline", against),
                        ("spearman_with_transfer_ratio", header[2])):  # fmt: skip
        corr = data.get(name) or {}
        if corr:
            rows.append([f"Spearman ρ with {label} [95% CI]", "", ""]
                        + [fmt_ci(corr.get(k)) if k in correlated else "reference" for k in scores])  # fmt: skip
    return header, rows


def video_table(results: Mapping[str, Any]) -> Table | None:
    """Agents x domains: each rollout video's path, relative to the report's folder."""
    domains = domain_names(results)
    rows = [
        [a["name"], *[a["domains"][d].get("video") or "" for d in domains]]
        for a in results["agents"]
        if any(a["domains"][d].get("video") for d in domains)
    ]
    if not rows:
        return None
    split = {d["name"]: d["split"] for d in results["domains"]}
    return ["agent", *[f"{d} ({split[d]})" for d in domains]], rows


def inputs_table(results: Mapping[str, Any]) -> Table | None:
    """A merged report's transfer runs: key, folder, agents, episodes, domains."""
    if not results.get("inputs"):
        return None
    header = ["transfer run", "folder", "agents", "domains", "results.json sha256"]
    rows = [
        [r["run_key"], r["run_dir"], ", ".join(r["agents"]), ", ".join(r["domains"]), r["results_sha256"][:12]]
        for r in results["inputs"]
    ]  # fmt: skip
    return header, rows


def summary_table(results: Mapping[str, Any]) -> str:
    """The console summary: :func:`headline_table`, then the random and reference policies."""
    header, rows = headline_table(results)
    rows = [list(r) for r in rows]
    if unit(results) == "score":
        for name, value in (("random", "0"), ("reference", "1")):
            # scores are 0 and 1 by definition; every other column has nothing to say
            cells = ["-"] * len(header)
            cells[0] = f"{name} policy"
            for k, title in enumerate(header):
                if title.startswith("source") or title.endswith(" score") or "(held out)" in title:
                    cells[k] = value
            rows.append(cells)
    else:
        cells = ["-"] * len(header)
        cells[0], cells[3] = "random policy", fmt(results["random_source_return"])
        cells[4] = fmt(results["random"][headline(results)]["mean_return"])
        rows.append(cells)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


# -- results.csv -----------------------------------------------------------------------------

CSV_FIELDS = [
    "level", "method", "agent", "seed", "domain", "split", "statistic", "value", "ci_low",
    "ci_high", "episodes", "mean_return", "std_return", "score", "mean_good_pickups",
    "mean_bad_pickups", "mean_length", "blind_share",
]  # fmt: skip


def _ci(est: Mapping[str, Any] | None) -> dict[str, Any]:
    """An estimate's value and interval as CSV fields (empty where there is no interval)."""
    ci = (est or {}).get("ci") or [None, None]
    return {"value": (est or {}).get("value"), "ci_low": ci[0], "ci_high": ci[1]}


def csv_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per agent x domain (episode aggregates), per random-policy domain, per agent
    aggregate, per method headline number and statistic (with its CI) and per latent-shift
    measurement. The headline rows (``level`` = headline) come first among the method rows."""
    split = {d["name"]: d["split"] for d in results["domains"]}
    head = headline(results)
    rows: list[dict[str, Any]] = []

    def cell(level, method, agent, seed, domain, c):
        rows.append({
            "level": level, "method": method, "agent": agent, "seed": seed, "domain": domain,
            "split": split[domain], "episodes": c["episodes"], "mean_return": c["mean_return"],
            "std_return": c["std_return"], "score": c.get("score"), "mean_good_pickups": c["mean_good_pickups"],
            "mean_bad_pickups": c["mean_bad_pickups"], "mean_length": c["mean_length"],
            "blind_share": c.get("blind_share"),
        })  # fmt: skip

    for domain, c in results["random"].items():
        cell("random", "random", "random", "", domain, c)
    for domain, c in (results.get("reference") or {}).items():
        cell("reference", "reference", "reference", "", domain, c)
    for a in results["agents"]:
        for domain, c in a["domains"].items():
            cell("agent_domain", a["method"], a["name"], a["seed"], domain, c)
        for stat in (
            "source_score",
            "source_return",
            "headline_score",
            "headline_return",
            "learned",
            "transfer_ratio",
            "generalisation_gap",
            "generalisation_gap_score",
            "blind_share",
        ):
            where = (
                {"domain": head, "split": "target"}
                if stat.startswith(("headline", "transfer", "generalisation"))
                else {}
            )
            rows.append({"level": "agent", "method": a["method"], "agent": a["name"], "seed": a["seed"],
                         "statistic": stat, "value": a.get(stat), **where})  # fmt: skip
    for method, m in results["methods"].items():
        h = m["headline"]
        for stat in ("source_score", "score", "transfer_ratio", "generalisation_gap",
                     "generalisation_gap_score"):  # fmt: skip
            rows.append({"level": "headline", "method": method, "domain": head, "split": "target",
                         "statistic": stat, **_ci(h.get(stat))})  # fmt: skip
        rows.append({"level": "headline", "method": method, "domain": head, "split": "target",
                     "statistic": "did_not_learn_share", "value": h["did_not_learn"]["share"]})  # fmt: skip
        rows.append({"level": "headline", "method": method, "statistic": "vision_modules",
                     "value": m["vision_modules"]["count"]})  # fmt: skip
        for name, est in m["stats"].items():
            domain, _, stat = name.rpartition("/")
            rows.append({
                "level": "method", "method": method, "domain": domain, "split": split.get(domain, domain),
                "statistic": stat or name, **_ci(est),
            })  # fmt: skip
        for group, est in (m.get("poi_over_baseline") or {}).items():
            rows.append({
                "level": "method", "method": method, "domain": group, "split": split.get(group, group),
                "statistic": f"poi_over_{results['config'].get('baseline_method')}", **_ci(est),
            })  # fmt: skip
    data = results.get("disentanglement_vs_transfer") or {}
    against = data.get("against") or {}
    for name, versus in (("spearman_with_headline", f"headline_{against.get('quantity')}"),
                         ("spearman_with_transfer_ratio", "transfer_ratio")):  # fmt: skip
        for score, est in (data.get(name) or {}).items():
            rows.append({"level": "disentanglement", "domain": against.get("domain"), "split": "target",
                         "statistic": f"spearman_{score}_vs_{versus}", **_ci(est)})  # fmt: skip
    for label, entry in (results.get("latent_shift") or {}).items():
        for domain, s in entry["domains"].items():
            for stat in ("distance", "relative"):
                rows.append({"level": "latent_shift", "method": entry["method"], "agent": label, "domain": domain,
                             "split": split[domain], "statistic": stat, "value": s[stat]})  # fmt: skip
    return rows

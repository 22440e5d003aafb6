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
    if not estimate or estimate.get("value") is None:
        return "n/a"
    lo, hi = estimate["ci"]
    return f"{fmt(estimate['value'], digits)} [{fmt(lo, digits)}, {fmt(hi, digits)}]"


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


def aggregate_table(results: Mapping[str, Any]) -> Table:
    baseline = results["config"].get("baseline_method") or "-"
    header = [
        "method", "runs", "source score IQM", "target score IQM", "source IQM", "target IQM",
        "source mean", "target mean", "transfer ratio", "generalisation gap",
        f"P(> {baseline}) target", f"P(> {baseline}) source", "played blind",
    ]  # fmt: skip
    rows = []
    for method, m in results["methods"].items():
        s, poi = m["stats"], m.get("poi_over_baseline") or {}
        rows.append(
            [
                method, str(m["runs"]), fmt_ci(s.get("source/score_iqm")), fmt_ci(s.get("target/score_iqm")),
                fmt_ci(s["source/iqm"]), fmt_ci(s["target/iqm"]),
                fmt_ci(s["source/mean"]), fmt_ci(s["target/mean"]), fmt_ci(s["transfer_ratio"]),
                fmt_ci(s["generalisation_gap"]), fmt_ci(poi.get("target")), fmt_ci(poi.get("source")),
                fmt(m.get("blind_share")),
            ]
        )  # fmt: skip
    return header, rows


def agent_table(results: Mapping[str, Any]) -> Table:
    header = ["agent", "method", "seed", "source score", "target score", "source return",
              "target return", "above random (source)", "above random (target)", "transfer ratio",
              "generalisation gap", "played blind"]  # fmt: skip
    rows = [
        [
            a["name"], a["method"], str(a["seed"]), fmt(a.get("source_score")), fmt(a.get("target_score")),
            fmt(a["source_return"]), fmt(a["target_return"]),
            fmt(a["source_above_random"]), fmt(a["target_above_random"]), fmt(a["transfer_ratio"]),
            fmt(a["generalisation_gap"]), fmt(a.get("blind_share")),
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
    scores = sorted({k for row in data["modules"] for k in row["scores"]})
    header = ["vision module", "target return", "transfer ratio", *scores]
    rows = [
        [r["vision_module"], fmt(r["target_return"]), fmt(r["transfer_ratio"])]
        + [fmt(r["scores"].get(k)) for k in scores]
        for r in data["modules"]
    ]
    corr = data.get("spearman_with_target_return") or {}
    if corr:
        rows.append(
            ["Spearman ρ with target return [95% CI]", "", ""]
            + [fmt_ci(corr.get(k)) for k in scores]
        )
    return header, rows


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
    """The console summary: one line per method (IQMs with 95% CIs), then the random policy."""
    header = [
        "method", "runs", "source score IQM", "target score IQM", "source IQM [95% CI]",
        "target IQM [95% CI]", "transfer ratio", "gap", "played blind",
    ]  # fmt: skip
    rows = [
        [
            method, str(m["runs"]), fmt_ci(m["stats"].get("source/score_iqm")),
            fmt_ci(m["stats"].get("target/score_iqm")), fmt_ci(m["stats"]["source/iqm"]),
            fmt_ci(m["stats"]["target/iqm"]), fmt_ci(m["stats"]["transfer_ratio"]),
            fmt(m["stats"]["generalisation_gap"]["value"]), fmt(m.get("blind_share")),
        ]
        for method, m in results["methods"].items()
    ]  # fmt: skip
    for name in ("random", "reference"):
        if f"{name}_source_return" in results:
            rows.append(
                [f"{name} policy", "-", "0" if name == "random" else "1",
                 "0" if name == "random" else "1", fmt(results[f"{name}_source_return"]),
                 fmt(results[f"{name}_target_return"]), "-", "-", "-"]
            )  # fmt: skip
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


def csv_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per agent x domain (episode aggregates), per random-policy domain, per agent
    aggregate, per method statistic (with its CI) and per latent-shift measurement."""
    split = {d["name"]: d["split"] for d in results["domains"]}
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
            "target_score",
            "source_return",
            "target_return",
            "transfer_ratio",
            "generalisation_gap",
            "blind_share",
        ):
            rows.append({"level": "agent", "method": a["method"], "agent": a["name"], "seed": a["seed"],
                         "statistic": stat, "value": a.get(stat)})  # fmt: skip
    for method, m in results["methods"].items():
        for name, est in m["stats"].items():
            domain, _, stat = name.rpartition("/")
            rows.append({
                "level": "method", "method": method, "domain": domain, "split": split.get(domain, domain),
                "statistic": stat or name, "value": est["value"], "ci_low": est["ci"][0], "ci_high": est["ci"][1],
            })  # fmt: skip
        for group, est in (m.get("poi_over_baseline") or {}).items():
            rows.append({
                "level": "method", "method": method, "domain": group, "split": group,
                "statistic": f"poi_over_{results['config'].get('baseline_method')}",
                "value": est["value"], "ci_low": est["ci"][0], "ci_high": est["ci"][1],
            })  # fmt: skip
    data = results.get("disentanglement_vs_transfer") or {}
    for score, est in (data.get("spearman_with_target_return") or {}).items():
        rows.append({"level": "disentanglement", "domain": "target", "split": "target",
                     "statistic": f"spearman_{score}_vs_target_return", "value": est["value"],
                     "ci_low": est["ci"][0], "ci_high": est["ci"][1]})  # fmt: skip
    for label, entry in (results.get("latent_shift") or {}).items():
        for domain, s in entry["domains"].items():
            for stat in ("distance", "relative"):
                rows.append({"level": "latent_shift", "method": entry["method"], "agent": label, "domain": domain,
                             "split": split[domain], "statistic": stat, "value": s[stat]})  # fmt: skip
    return rows

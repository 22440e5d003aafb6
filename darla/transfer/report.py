"""The transfer report: ``results.json``, ``results.csv``, plots, ``report.md`` and ``report.html``.

``report.html`` is self-contained: styles inline, every image a base64 ``data:`` URI, no script,
no link to anything outside the file, so it opens offline and survives being mailed around.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from darla.io import atomic_path, write_figure, write_json, write_text


def save_png(path: Path, image: np.ndarray) -> Path:
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")
    return Path(path)


# -- numbers as text -------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def fmt_ci(estimate: Mapping[str, Any] | None, digits: int = 2) -> str:
    if not estimate or estimate.get("value") is None:
        return "n/a"
    lo, hi = estimate["ci"]
    return f"{fmt(estimate['value'], digits)} [{fmt(lo, digits)}, {fmt(hi, digits)}]"


def _domain_names(results: Mapping[str, Any], split: str | None = None) -> list[str]:
    return [d["name"] for d in results["domains"] if split is None or d["split"] == split]


def method_table(results: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
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


def aggregate_table(results: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    baseline = results["config"].get("baseline_method") or "-"
    header = [
        "method", "runs", "source IQM", "target IQM", "source mean", "target mean",
        "transfer ratio", "generalisation gap", f"P(> {baseline}) target", f"P(> {baseline}) source",
    ]  # fmt: skip
    rows = []
    for method, m in results["methods"].items():
        s, poi = m["stats"], m.get("poi_over_baseline") or {}
        rows.append(
            [
                method, str(m["runs"]), fmt_ci(s["source/iqm"]), fmt_ci(s["target/iqm"]),
                fmt_ci(s["source/mean"]), fmt_ci(s["target/mean"]), fmt_ci(s["transfer_ratio"]),
                fmt_ci(s["generalisation_gap"]), fmt_ci(poi.get("target")), fmt_ci(poi.get("source")),
            ]
        )  # fmt: skip
    return header, rows


def agent_table(results: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["agent", "method", "seed", "source return", "target return", "above random (source)",
              "above random (target)", "transfer ratio", "generalisation gap"]  # fmt: skip
    rows = [
        [
            a["name"], a["method"], str(a["seed"]), fmt(a["source_return"]), fmt(a["target_return"]),
            fmt(a["source_above_random"]), fmt(a["target_above_random"]), fmt(a["transfer_ratio"]),
            fmt(a["generalisation_gap"]),
        ]
        for a in results["agents"]
    ]  # fmt: skip
    return header, rows


def cell_table(results: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["agent", "domain", "split", "episodes", "return (mean ± std)", "good pickups",
              "bad pickups", "episode length"]  # fmt: skip
    split = {d["name"]: d["split"] for d in results["domains"]}
    rows = []
    for label, per in [("random policy", results["random"])] + [
        (a["name"], a["domains"]) for a in results["agents"]
    ]:
        for domain, c in per.items():
            rows.append(
                [
                    label, domain, split[domain], str(c["episodes"]),
                    f"{c['mean_return']:.2f} ± {c['std_return']:.2f}", fmt(c["mean_good_pickups"]),
                    fmt(c["mean_bad_pickups"]), fmt(c["mean_length"], 1),
                ]
            )  # fmt: skip
    return header, rows


def shift_table(results: Mapping[str, Any]) -> tuple[list[str], list[list[str]]] | None:
    shift = results.get("latent_shift") or {}
    if not shift:
        return None
    domains = _domain_names(results)
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


def disentanglement_table(results: Mapping[str, Any]) -> tuple[list[str], list[list[str]]] | None:
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


def inputs_table(results: Mapping[str, Any]) -> tuple[list[str], list[list[str]]] | None:
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
        "method",
        "runs",
        "source IQM [95% CI]",
        "target IQM [95% CI]",
        "transfer ratio",
        "gap",
    ]
    rows = [
        [
            method, str(m["runs"]), fmt_ci(m["stats"]["source/iqm"]), fmt_ci(m["stats"]["target/iqm"]),
            fmt_ci(m["stats"]["transfer_ratio"]), fmt(m["stats"]["generalisation_gap"]["value"]),
        ]
        for method, m in results["methods"].items()
    ]  # fmt: skip
    rows.append(
        [
            "random policy",
            "-",
            fmt(results["random_source_return"]),
            fmt(results["random_target_return"]),
            "-",
            "-",
        ]
    )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


# -- files -----------------------------------------------------------------------------------

CSV_FIELDS = [
    "level", "method", "agent", "seed", "domain", "split", "statistic", "value", "ci_low",
    "ci_high", "episodes", "mean_return", "std_return", "mean_good_pickups", "mean_bad_pickups",
    "mean_length",
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
            "std_return": c["std_return"], "mean_good_pickups": c["mean_good_pickups"],
            "mean_bad_pickups": c["mean_bad_pickups"], "mean_length": c["mean_length"],
        })  # fmt: skip

    for domain, c in results["random"].items():
        cell("random", "random", "random", "", domain, c)
    for a in results["agents"]:
        for domain, c in a["domains"].items():
            cell("agent_domain", a["method"], a["name"], a["seed"], domain, c)
        for stat in ("source_return", "target_return", "transfer_ratio", "generalisation_gap"):
            rows.append({"level": "agent", "method": a["method"], "agent": a["name"], "seed": a["seed"],
                         "statistic": stat, "value": a[stat]})  # fmt: skip
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


def write_csv(path: Path, results: Mapping[str, Any]) -> Path:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in csv_rows(results):
            writer.writerow({k: ("" if row.get(k) is None else row.get(k, "")) for k in CSV_FIELDS})
    return path


# -- plots -----------------------------------------------------------------------------------


def _err(stats: Mapping[str, Any], name: str) -> tuple[float, float, float]:
    est = stats[name]
    v = est["value"] if est["value"] is not None else np.nan
    lo, hi = (c if c is not None else v for c in est["ci"])
    return v, max(v - lo, 0) if np.isfinite(v) else 0, max(hi - v, 0) if np.isfinite(v) else 0


def returns_plot(results: Mapping[str, Any], path: Path) -> Path:
    """Source vs target IQM return per method, 95% CIs, the random policy as dashed lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(results["methods"])
    fig, ax = plt.subplots(figsize=(max(4.5, 1.3 * len(methods) + 2), 3.6))
    x = np.arange(len(methods))
    for offset, group, color in ((-0.2, "source", "#4c72b0"), (0.2, "target", "#dd8452")):
        vals = [_err(results["methods"][m]["stats"], f"{group}/iqm") for m in methods]
        ax.bar(x + offset, [v[0] for v in vals], 0.38, yerr=np.array([[v[1] for v in vals], [v[2] for v in vals]]),
               capsize=4, color=color, label=f"{group} (IQM, 95% CI)")  # fmt: skip
        for m_i, m in enumerate(methods):  # each run's return, so a reader sees the spread
            runs = [a[f"{group}_return"] for a in results["agents"] if a["method"] == m]
            ax.scatter(np.full(len(runs), m_i + offset), runs, s=10, color="black", zorder=3)
        ax.axhline(
            results[f"random_{group}_return"],
            color=color,
            ls="--",
            lw=1,
            label=f"random policy ({group})",
        )
    ax.set_xticks(x, methods)
    ax.set_ylabel("episode return")
    ax.set_title("Source vs target return per method")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
    return write_figure(path, fig)


def ratio_plot(results: Mapping[str, Any], path: Path) -> Path:
    """Transfer ratio per method (95% CI) with each run's ratio; 1 = all source skill transfers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(results["methods"])
    fig, ax = plt.subplots(figsize=(max(4.5, 1.1 * len(methods) + 2), 3.4))
    for i, m in enumerate(methods):
        v, lo, hi = _err(results["methods"][m]["stats"], "transfer_ratio")
        if np.isfinite(v):
            ax.errorbar([i], [v], yerr=[[lo], [hi]], fmt="o", color="#4c72b0", capsize=5, ms=7)
        else:
            ax.annotate("n/a: source not\nabove random", (i, 0), ha="center", fontsize=7)
        runs = [
            a["transfer_ratio"]
            for a in results["agents"]
            if a["method"] == m and a["transfer_ratio"] is not None
        ]
        ax.scatter(np.full(len(runs), i + 0.15), runs, s=10, color="black", zorder=3)
    ax.axhline(1.0, color="green", ls="--", lw=1, label="1: no loss under the shift")
    ax.axhline(0.0, color="grey", ls=":", lw=1, label="0: random-policy level")
    ax.set_xticks(range(len(methods)), methods)
    ax.set_xlim(-0.6, len(methods) - 0.4)
    ax.set_ylabel("(target − random) / (source − random)")
    ax.set_title("Transfer ratio")
    ax.legend(fontsize=7, loc="best")
    return write_figure(path, fig)


def shift_plot(results: Mapping[str, Any], path: Path) -> Path | None:
    """Relative latent shift per vision module and domain."""
    shift = results.get("latent_shift") or {}
    if not shift:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    domains = _domain_names(results)
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(domains) + 2), 3.4))
    width = 0.8 / len(shift)
    for k, (label, entry) in enumerate(shift.items()):
        vals = [entry["domains"][d]["relative"] or 0.0 for d in domains]
        ax.bar(
            np.arange(len(domains)) + (k - (len(shift) - 1) / 2) * width, vals, width, label=label
        )
    ax.set_xticks(range(len(domains)), domains, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("latent shift / between-view spread")
    ax.set_title("How far each vision module's latents move (vs the nearest source domain)")
    ax.legend(fontsize=7)
    return write_figure(path, fig)


def disentanglement_plot(results: Mapping[str, Any], path: Path) -> Path | None:
    """Per disentanglement score, each vision module's score against its agents' target return
    (the module's mean, and each agent's), with Spearman's ρ [95% CI] in the panel's title."""
    data = results.get("disentanglement_vs_transfer")
    if not data:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = sorted({k for row in data["modules"] for k in row["scores"]})
    target = {a["name"]: a["target_return"] for a in results["agents"]}
    corr = data.get("spearman_with_target_return") or {}
    fig, axes = plt.subplots(
        1, len(scores), figsize=(3.3 * len(scores) + 0.5, 3.4), squeeze=False, sharey=True
    )
    for ax, score in zip(axes[0], scores, strict=True):
        rows = [r for r in data["modules"] if r["scores"].get(score) is not None]
        for k, r in enumerate(rows):
            runs = [target[a] for a in r.get("agents", []) if a in target]
            ax.scatter([r["scores"][score]] * len(runs), runs, s=8, color="grey", zorder=2,
                       label=None if k else "one agent")  # fmt: skip
        ax.scatter([r["scores"][score] for r in rows], [r["target_return"] for r in rows], s=40,
                   color="#4c72b0", zorder=3, label="vision module (its agents' mean)")  # fmt: skip
        ax.axhline(results["random_target_return"], color="grey", ls="--", lw=1,
                   label="random policy")  # fmt: skip
        ax.set_xlabel(score)
        rho = f"Spearman ρ = {fmt_ci(corr[score])}" if score in corr else "ρ: n/a (< 3 modules)"
        ax.set_title(rho, fontsize=8)
    axes[0][0].set_ylabel("target return")
    axes[0][0].legend(fontsize=7, loc="best")
    fig.suptitle("Disentanglement vs transfer (one point per vision module)", fontsize=10)
    return write_figure(path, fig)


# -- documents -------------------------------------------------------------------------------


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    esc = [[str(c).replace("|", "\\|") for c in row] for row in [header, *rows]]
    lines = ["| " + " | ".join(esc[0]) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in esc[1:]]
    return "\n".join(lines)


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


INTRO = (
    "Each agent ran unchanged (zero-shot) on the same evaluation episodes in every domain: "
    "episode *i* has the same room layout for every agent and domain. Returns are per episode "
    "(+1 per good object, −1 per bad one). Method statistics follow rliable (Agarwal et al., "
    "2021): runs = agent seeds, tasks = domains, IQM = 25% trimmed mean, 95% CIs from a "
    "stratified percentile bootstrap. Transfer ratio = (target − random) / (source − random), "
    "on mean returns, with the uniformly random policy's returns measured on the same episodes."
)


def _title(results: Mapping[str, Any]) -> str:
    kind = "Comparison report" if results.get("inputs") else "Transfer report"
    return f"{kind} {results['run_key']}"


def _merge_notes(results: Mapping[str, Any]) -> str:
    inputs = results["inputs"]
    notes = [
        f"One comparison of {len(inputs)} transfer run(s), {len(results['agents'])} agent(s) in all. "
        "An agent (one `darla act` run, by its manifest's sha256) evaluated in several of them "
        "counts once."
    ]
    dups = results.get("duplicate_agents") or []
    if dups:
        notes.append(
            "Evaluated more than once (counted once): "
            + "; ".join(f"{d['agent']} (in {', '.join(d['runs'])})" for d in dups)
            + "."
        )
    dropped = results.get("dropped_domains") or {}
    if dropped:
        notes.append(
            "Only the domains every run evaluated are compared; dropped: "
            + "; ".join(f"{n} (only in {', '.join(runs)})" for n, runs in dropped.items())
            + "."
        )
    return " ".join(notes)


def _sections(results: Mapping[str, Any], images: Mapping[str, Path]) -> list[tuple[str, str, Any]]:
    """(title, kind, payload) in report order; kind is text, table or image."""
    b = results["bootstrap"]
    split = {s: ", ".join(_domain_names(results, s)) for s in ("source", "target")}
    sections: list[tuple[str, str, Any]] = [("", "text", INTRO)]
    if results.get("inputs"):
        sections += [("", "text", _merge_notes(results))]
    sections += [
        ("", "text", f"Source domains: {split['source']}. Target domains: {split['target']}. "
                     f"{len(results['seeds'])} episodes per agent and domain, {results['env']['max_episode_steps']} "
                     f"steps each, {results['env']['obs_size']}px frames. Bootstrap: {b['reps']} reps, seed {b['seed']}."),
        ("Summary", "table", aggregate_table(results)),
        ("Returns by method and domain (mean [95% CI] across runs)", "table", method_table(results)),
        ("Source vs target", "image", images.get("returns")),
        ("Transfer ratio", "image", images.get("ratio")),
        ("Agents", "table", agent_table(results)),
    ]  # fmt: skip
    if results.get("latent_shift"):
        sections += [
            ("Latent shift", "text",
             "How far each vision module's latent means move between paired frames (same layout, "
             "same actions) of a domain and its nearest source domain, divided by how far they move "
             "between two different views of that source domain: 0 = untouched by the shift, 1 = as "
             "different as another room. In brackets: the latents the shift moves most."),
            ("", "table", shift_table(results)),
            ("", "image", images.get("shift")),
            ("Reconstructions (source and target frames, paired layouts)", "text",
             "Each vision module's reconstruction through μ(x) of the same views in every domain."),
        ]  # fmt: skip
        for name, path in images.items():
            if name.startswith("recon_"):
                sections.append((name.removeprefix("recon_"), "image", path))
        if results.get("disentanglement_vs_transfer"):
            sections += [
                ("Disentanglement vs transfer", "text",
                 "Each vision module's disentanglement scores (its `darla see` run's metrics.json) "
                 "beside its agents' mean target return: DARLA's claim is that the more "
                 "disentangled module transfers better. Spearman's ρ across modules (at least 3), "
                 f"{100 * b['confidence']:g}% CI from {b['reps']} bootstrap resamples of the modules (with replacement, "
                 f"seed {b['seed']}); resamples with a constant score or return are left out."),
                ("", "table", disentanglement_table(results)),
                ("", "image", images.get("disentanglement")),
            ]  # fmt: skip
    sections.append(("Episodes per agent and domain", "table", cell_table(results)))
    if results.get("inputs"):
        sections.append(("Transfer runs compared", "table", inputs_table(results)))
    videos = sorted(
        c["video"] for a in results["agents"] for c in a["domains"].values() if c.get("video")
    )
    if videos:
        where = "in the transfer runs' folders" if results.get("inputs") else "in this folder"
        sections.append((f"Rollout videos ({where})", "list", videos))
    return sections


def write_markdown(path: Path, results: Mapping[str, Any], images: Mapping[str, Path]) -> Path:
    parts = [f"# {_title(results)}"]
    for title, kind, payload in _sections(results, images):
        if title:
            parts.append(f"## {title}")
        if kind == "text":
            parts.append(payload)
        elif kind == "table" and payload:
            parts.append(_md_table(*payload))
        elif kind == "image" and payload:
            parts.append(f"![{title or Path(payload).stem}]({Path(payload).name})")
        elif kind == "list":
            parts.append("\n".join(f"- [{v}]({v})" for v in payload))
    return write_text(path, "\n\n".join(parts) + "\n")


STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1200px; color: #222; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; }
th { background: #f2f2f2; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def write_html(path: Path, results: Mapping[str, Any], images: Mapping[str, Path]) -> Path:
    """One file, no external references: styles inline, images as base64 data URIs."""
    out = io.StringIO()
    title = _title(results)
    out.write(
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
    )
    out.write(f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>\n")
    for heading, kind, payload in _sections(results, images):
        if heading:
            out.write(f"<h2>{html.escape(heading)}</h2>\n")
        if kind == "text":
            text = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(payload))
            out.write(f"<p>{text.replace('*i*', '<em>i</em>')}</p>\n")
        elif kind == "table" and payload:
            out.write(_html_table(*payload) + "\n")
        elif kind == "image" and payload:
            alt = html.escape(heading or Path(payload).stem)
            out.write(f'<img alt="{alt}" src="{_data_uri(payload)}">\n')
        elif kind == "list":
            out.write(
                "<ul>"
                + "".join(f"<li><code>{html.escape(v)}</code></li>" for v in payload)
                + "</ul>\n"
            )
    out.write("</body></html>\n")
    return write_text(path, out.getvalue())


def write_report(run_dir: Path, results: dict[str, Any], images: dict[str, Path]) -> Path:
    """Plots, ``results.json``, ``results.csv``, ``report.md``; returns ``report.html``'s path."""
    run_dir = Path(run_dir)
    images = {
        "returns": returns_plot(results, run_dir / "returns.png"),
        "ratio": ratio_plot(results, run_dir / "transfer_ratio.png"),
        **({"shift": p} if (p := shift_plot(results, run_dir / "latent_shift.png")) else {}),
        **(
            {"disentanglement": p}
            if (p := disentanglement_plot(results, run_dir / "disentanglement.png"))
            else {}
        ),
        **images,
    }
    write_json(run_dir / "results.json", results)
    write_csv(run_dir / "results.csv", results)
    write_markdown(run_dir / "report.md", results, images)
    return write_html(run_dir / "report.html", results, images)

"""A transfer report's plots, each a PNG written atomically (:func:`darla.io.write_figure`).

matplotlib is imported only when a plot is drawn, with the non-interactive Agg backend: a report
is written on headless cluster nodes too.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from darla.io import write_figure
from darla.transfer.tables import (
    domain_names,
    extrapolation,
    fmt_ci,
    headline,
    stat_name,
    unit,
)

# Each plot's name in the report and its file in the report folder.
PLOT_FILES = {
    "returns": "returns.png",
    "ratio": "transfer_ratio.png",
    "shift": "latent_shift.png",
    "disentanglement": "disentanglement.png",
}


def write_plots(results: Mapping[str, Any], run_dir: Path) -> dict[str, Path]:
    """Every plot the results have data for, by its name in :data:`PLOT_FILES`."""
    draw = {
        "returns": returns_plot,
        "ratio": ratio_plot,
        "shift": shift_plot,
        "disentanglement": disentanglement_plot,
    }
    written = {name: plot(results, Path(run_dir) / PLOT_FILES[name]) for name, plot in draw.items()}
    return {name: path for name, path in written.items() if path is not None}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _err(stats: Mapping[str, Any], name: str) -> tuple[float, float, float]:
    """(value, lower error, upper error); no error bar where there is no interval (one run)."""
    est = stats[name]
    v = est["value"] if est["value"] is not None else np.nan
    lo, hi = (c if c is not None else v for c in (est.get("ci") or [v, v]))
    return v, max(v - lo, 0) if np.isfinite(v) else 0, max(hi - v, 0) if np.isfinite(v) else 0


def returns_plot(results: Mapping[str, Any], path: Path) -> Path:
    """Per method: the source score (source domains together), the held-out combination's score
    and each extrapolation target's, means with 95% CIs and each run's value; random = 0 and the
    reference = 1 as lines (raw returns, random dashed, in results without a reference)."""
    plt = _pyplot()
    methods = list(results["methods"])
    head, u, kind = headline(results), unit(results), stat_name(results)
    groups = ["source", head, *extrapolation(results)]
    colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3"]
    width = 0.8 / len(groups)
    fig, ax = plt.subplots(figsize=(max(5.5, (0.5 + 0.35 * len(groups)) * len(methods) + 2), 3.8))
    x = np.arange(len(methods))
    for k, group in enumerate(groups):
        offset = (k - (len(groups) - 1) / 2) * width
        vals = [_err(results["methods"][m]["stats"], f"{group}/{kind}") for m in methods]
        label = f"{group} (held out)" if group == head else group
        ax.bar(x + offset, [v[0] for v in vals], width * 0.95, yerr=np.array([[v[1] for v in vals], [v[2] for v in vals]]),
               capsize=3, color=colors[k % len(colors)], label=label)  # fmt: skip
        for m_i, m in enumerate(methods):  # each run's value, so a reader sees the spread
            runs = [_agent_value(results, a, group) for a in results["agents"] if a["method"] == m]
            runs = [r for r in runs if r is not None]
            ax.scatter(np.full(len(runs), m_i + offset), runs, s=8, color="black", zorder=3)
    if u == "score":
        ax.axhline(0.0, color="grey", ls="--", lw=1, label="random policy (0)")
        ax.axhline(1.0, color="green", ls=":", lw=1, label="reference policy (1)")
    else:
        ax.axhline(results["random_source_return"], color="grey", ls="--", lw=1,
                   label="random policy (source)")  # fmt: skip
    ax.set_xticks(x, methods)
    ax.set_ylabel("normalised score" if u == "score" else "episode return")
    ax.set_title(f"Source, held-out {head} and extrapolation targets per method (mean, 95% CI)",
                 fontsize=9)  # fmt: skip
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=4, frameon=False)
    return write_figure(path, fig)


def _agent_value(results: Mapping[str, Any], agent: Mapping[str, Any], group: str) -> Any:
    if group == "source":
        return agent.get(f"source_{unit(results)}")
    cell = agent["domains"][group]
    return cell.get("score") if unit(results) == "score" else cell["mean_return"]


def ratio_plot(results: Mapping[str, Any], path: Path) -> Path:
    """Transfer ratio on the held-out domain per method (whole-run bootstrap 95% CI) with each
    agent's ratio; 1 = all source skill transfers. A method or agent that did not learn the
    source task has none."""
    plt = _pyplot()
    methods = list(results["methods"])
    head = headline(results)
    fig, ax = plt.subplots(figsize=(max(4.5, 1.1 * len(methods) + 2), 3.4))
    for i, m in enumerate(methods):
        h = results["methods"][m]["headline"]
        v, lo, hi = _err(h, "transfer_ratio")
        if np.isfinite(v):
            ax.errorbar([i], [v], yerr=[[lo], [hi]], fmt="o", color="#4c72b0", capsize=5, ms=7)
        else:
            ax.annotate("n/a: did not\nlearn the source", (i, 0), ha="center", fontsize=7)
        runs = [
            a["transfer_ratio"]
            for a in results["agents"]
            if a["method"] == m and a["transfer_ratio"] is not None
        ]
        ax.scatter(np.full(len(runs), i + 0.15), runs, s=10, color="black", zorder=3)
        share = h["did_not_learn"]
        if share["agents"]:
            ax.annotate(f"{share['agents']}/{share['of']} did not learn", (i, 0.02),
                        xycoords=("data", "axes fraction"), ha="center", fontsize=6)  # fmt: skip
    ax.axhline(1.0, color="green", ls="--", lw=1, label="1: no loss under the shift")
    ax.axhline(0.0, color="grey", ls=":", lw=1, label="0: random-policy level")
    ax.set_xticks(range(len(methods)), methods)
    ax.set_xlim(-0.6, len(methods) - 0.4)
    ax.set_ylabel(f"({head} − random) / (source − random)", fontsize=8)
    ax.set_title(f"Transfer ratio on {head} (held out)")
    ax.legend(fontsize=7, loc="best")
    return write_figure(path, fig)


def shift_plot(results: Mapping[str, Any], path: Path) -> Path | None:
    """Relative latent shift per vision module and domain."""
    shift = results.get("latent_shift") or {}
    if not shift:
        return None
    plt = _pyplot()
    domains = domain_names(results)
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
    """One panel per disentanglement score (object probe included): each vision module's score
    against its agents' held-out score (the module's mean, and each agent's; a colour per
    method, since a ρ across model families can be the families' difference), with Spearman's ρ
    [95% CI] with that score and with the transfer ratio in the panel's title; the panels in a
    grid of at most 4 columns."""
    data = results.get("disentanglement_vs_transfer")
    if not data:
        return None
    plt = _pyplot()
    scores = data["scores"]
    quantity, head = data["against"]["quantity"], data["against"]["domain"]
    per_agent = {
        a["name"]: a[f"headline_{quantity}"]
        for a in results["agents"]
        if a.get(f"headline_{quantity}") is not None
    }
    corr = data.get("spearman_with_headline") or {}
    corr_ratio = data.get("spearman_with_transfer_ratio") or {}
    methods = sorted({str(r.get("method")) for r in data["modules"]})
    cols = min(4, len(scores))
    rows_n = -(-len(scores) // cols)
    fig, axes = plt.subplots(
        rows_n,
        cols,
        figsize=(3.3 * cols + 0.5, 3.2 * rows_n + 0.6),
        squeeze=False,
        sharey=True,
        layout="constrained",  # room for each panel's two-line title above the row below
    )
    for ax in axes.flat[len(scores) :]:
        ax.set_visible(False)
    for ax, score in zip(axes.flat, scores, strict=False):
        rows = [
            r
            for r in data["modules"]
            if r["scores"].get(score) is not None and r[f"headline_{quantity}"] is not None
        ]
        for k, r in enumerate(rows):
            runs = [per_agent[a] for a in r.get("agents", []) if a in per_agent]
            ax.scatter([r["scores"][score]] * len(runs), runs, s=8, color="grey", zorder=2,
                       label=None if k else "one agent")  # fmt: skip
        for k, method in enumerate(methods):  # one colour per method, the same in every panel
            mine = [r for r in rows if str(r.get("method")) == method]
            ax.scatter([r["scores"][score] for r in mine], [r[f"headline_{quantity}"] for r in mine],
                       s=40, zorder=3, color=f"C{k % 10}", label=f"{method} module (its agents' mean)")  # fmt: skip
        ax.axhline(0.0 if quantity == "score" else results["random"][head]["mean_return"],
                   color="grey", ls="--", lw=1, label="random policy")  # fmt: skip
        ax.set_xlabel(score)
        rho = f"ρ = {fmt_ci(corr[score])}" if score in corr else "ρ: n/a (< 3 modules)"
        if score in corr_ratio:
            rho += f"\nρ with transfer ratio = {fmt_ci(corr_ratio[score])}"
        ax.set_title(rho, fontsize=8)
    for row in axes:
        row[0].set_ylabel(f"{head} {quantity}")
    handles, labels = axes[0][0].get_legend_handles_labels()  # below the grid, off the points
    fig.legend(handles, labels, fontsize=8, loc="outside lower center", ncols=min(4, len(labels)))
    fig.suptitle(
        f"Disentanglement vs held-out {head} {quantity} (one point per vision module; "
        "Spearman's ρ [95% CI])",
        fontsize=9,
    )
    return write_figure(path, fig)

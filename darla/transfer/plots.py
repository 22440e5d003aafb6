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
from darla.transfer.tables import domain_names, fmt_ci

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
    est = stats[name]
    v = est["value"] if est["value"] is not None else np.nan
    lo, hi = (c if c is not None else v for c in est["ci"])
    return v, max(v - lo, 0) if np.isfinite(v) else 0, max(hi - v, 0) if np.isfinite(v) else 0


def returns_plot(results: Mapping[str, Any], path: Path) -> Path:
    """Source vs target IQM return per method, 95% CIs, the random policy as dashed lines."""
    plt = _pyplot()
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
    plt = _pyplot()
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
    """Per disentanglement score, each vision module's score against its agents' target return
    (the module's mean, and each agent's), with Spearman's ρ [95% CI] in the panel's title."""
    data = results.get("disentanglement_vs_transfer")
    if not data:
        return None
    plt = _pyplot()
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

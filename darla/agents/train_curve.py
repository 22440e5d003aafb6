"""``train_curve.png``: how an agent's source-domain evaluations moved during ``darla act``.

Drawn from ``evaluations.npz`` (what :class:`~darla.agents.callbacks.SourceEvalCallback` writes
every ``act.eval_every`` steps), so it shows held-out evaluation episodes, not the noisy
training episodes that TensorBoard already plots: return, good and bad pickups per episode, the
mean with the spread of the middle half of the episodes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from darla.io import write_figure

TRAIN_CURVE = "train_curve.png"
CURVES = (("results", "return"), ("good_pickups", "good pickups"), ("bad_pickups", "bad pickups"))


def write_train_curve(evaluations: Path, path: Path, title: str) -> Path | None:
    """Plot ``evaluations`` (an ``evaluations.npz``) to ``path``; None when there is none yet.

    Left, when the evaluations hold them: the normalised score (0 = the random policy, 1 = the
    reference policy, on the same episodes); right: return, good and bad pickups per episode.
    """
    if not evaluations.is_file():
        return None
    with np.load(evaluations, allow_pickle=False) as data:
        steps = data["timesteps"]
        series = {key: data[key] for key, _ in CURVES if key in data}
        scores = data.get("scores")
    if len(steps) == 0:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 2 if scores is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 3.4), squeeze=False)
    if scores is not None:
        ax = axes[0, 0]
        _band(ax, steps, scores, "normalised score")
        ax.axhline(0.0, color="grey", ls=":", lw=1, label="random policy")
        ax.axhline(1.0, color="grey", ls="--", lw=1, label="reference policy")
        ax.set_ylabel("normalised score (0 random, 1 reference)")
        _finish(ax)
    ax = axes[0, -1]
    for key, label in CURVES:
        if key in series:
            episodes = _band(ax, steps, series[key], label)
    ax.set_ylabel(f"per episode (mean of {episodes}; band: middle half)")
    _finish(ax)
    fig.suptitle(title, fontsize=9)
    return write_figure(path, fig)


def _band(ax, steps: np.ndarray, values: np.ndarray, label: str) -> int:
    """The mean over episodes with the middle half as a band; returns the episode count."""
    values = np.asarray(values, dtype=float).reshape(len(steps), -1)
    low, high = np.nanpercentile(values, [25, 75], axis=1)
    (line,) = ax.plot(steps, np.nanmean(values, axis=1), marker="o", markersize=3, label=label)
    ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.15, linewidth=0)
    return values.shape[1]


def _finish(ax) -> None:
    ax.xaxis.set_major_formatter(lambda x, _: f"{x / 1000:g}k")
    ax.set_xlabel("environment steps")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)

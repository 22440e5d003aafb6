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
    """Plot ``evaluations`` (an ``evaluations.npz``) to ``path``; None when there is none yet."""
    if not evaluations.is_file():
        return None
    with np.load(evaluations) as data:
        steps = data["timesteps"]
        series = {key: data[key] for key, _ in CURVES if key in data}
    if len(steps) == 0:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for key, label in CURVES:
        if key not in series:
            continue
        values = np.asarray(series[key], dtype=float).reshape(len(steps), -1)
        low, high = np.percentile(values, [25, 75], axis=1)
        (line,) = ax.plot(steps, values.mean(axis=1), marker="o", markersize=3, label=label)
        ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.15, linewidth=0)
    episodes = values.shape[1]
    ax.xaxis.set_major_formatter(lambda x, _: f"{x / 1000:g}k")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"per episode (mean of {episodes}; band: middle half)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return write_figure(path, fig)

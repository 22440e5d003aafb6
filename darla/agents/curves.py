"""Learning curves over seeds: ``darla report runs/act/...`` on agent runs.

Each finished ``darla act`` run holds its source-domain evaluations (``evaluations.npz``: every
``act.eval_every`` steps, the same evaluation episodes each time). Runs of one representation
and agent (one *method*) with different seeds are replicates: the report draws, per method, the
mean normalised score against steps with the spread over seeds (min to max), and tabulates the
last evaluation and the final evaluation's blind diagnostic (``summary.json``). A run evaluated
before normalised scores existed is drawn in raw returns. A method with one seed gets a line, no
band: one run gives no interval.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from darla.errors import DarlaError
from darla.io import write_figure, write_json, write_text
from darla.manifest import is_finished, read_manifest
from darla.transfer.stats import mean_if_known
from darla.transfer.tables import fmt

EVALUATIONS = "evaluations.npz"


@dataclass(frozen=True)
class Curve:
    run_dir: Path
    method: str
    seed: int | None
    steps: np.ndarray  # [E]
    values: np.ndarray  # [E]: mean over the evaluation episodes
    kind: str  # "score" (normalised) or "return"
    blind_share: float | None  # the final evaluation's blind diagnostic (None: not measured)


def is_agent_run(path: Path) -> bool:
    manifest = read_manifest(path)
    return bool(manifest and manifest.get("stage") == "act" and is_finished(path))


def find_agent_runs(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Every finished agent run at or directly under each path (``runs/act``, one run)."""
    found: set[Path] = set()
    for arg in paths:
        path = Path(arg)
        candidates = (
            [path] if is_agent_run(path) else sorted(p for p in path.glob("*") if p.is_dir())
        )
        found.update(p.resolve() for p in candidates if is_agent_run(p))
    return sorted(found)


def load_curve(run_dir: Path) -> Curve:
    spec = json.loads((run_dir / "agent.json").read_text())
    config = (read_manifest(run_dir) or {}).get("config") or {}
    path = run_dir / EVALUATIONS
    if not path.is_file():
        raise DarlaError(
            f"{run_dir} has no {EVALUATIONS} (act.eval_every=0?): nothing to draw; re-run it with "
            "act.eval_every > 0"
        )
    with np.load(path, allow_pickle=False) as data:
        steps = np.asarray(data["timesteps"], dtype=float)
        kind = "score" if "scores" in data else "return"
        raw = np.asarray(data["scores"] if kind == "score" else data["results"], dtype=float)
    values = raw.reshape(len(steps), -1).mean(axis=1) if len(steps) else raw
    method = f"{spec['representation']}-{spec['algo']}"
    augment = spec["policy"]["kwargs"].get("augment")
    if augment is not None:  # pixels_aug's update rules are different agents: drawn apart
        method = f"{spec['representation']} ({augment.get('rule', 'rad')})-{spec['algo']}"
    summary = run_dir / "summary.json"
    blind = json.loads(summary.read_text()).get("blind_share") if summary.is_file() else None
    return Curve(run_dir, method, config.get("seed"), steps, values, kind, blind)


def write_curves(run_dirs: Sequence[Path], out: Path) -> dict[str, Any]:
    """``curves.png``, ``curves.json`` and ``curves.md`` in ``out`` for the given agent runs."""
    curves = [load_curve(Path(r)) for r in run_dirs]
    if not curves:
        raise DarlaError("no finished agent runs to draw: pass runs/act/<run> folders or runs/act")
    kinds = {c.kind for c in curves}
    kind = "score" if kinds == {"score"} else "return"
    by_method: dict[str, list[Curve]] = {}
    for curve in curves:
        by_method.setdefault(curve.method, []).append(curve)
    summary: dict[str, Any] = {"kind": kind, "methods": {}}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for method, group in sorted(by_method.items()):
        steps = sorted(set.intersection(*(set(c.steps.tolist()) for c in group)))
        if not steps:
            raise DarlaError(
                f"the {method} runs share no evaluation step (other act.eval_every?): draw them "
                "separately"
            )
        matrix = np.array(
            [[c.values[list(c.steps).index(s)] for s in steps] for c in group]
        )  # [seeds, E]
        mean = matrix.mean(axis=0)
        (line,) = ax.plot(steps, mean, marker="o", markersize=3, label=f"{method} ({len(group)})")
        if len(group) > 1:
            ax.fill_between(
                steps, matrix.min(axis=0), matrix.max(axis=0), color=line.get_color(),
                alpha=0.15, linewidth=0,
            )  # fmt: skip
        summary["methods"][method] = {
            "seeds": [c.seed for c in group],
            "runs": [str(c.run_dir) for c in group],
            "steps": steps,
            "mean": mean.tolist(),
            "per_seed": matrix.tolist(),
            "last": {"mean": float(mean[-1]), "min": float(matrix[:, -1].min()),
                     "max": float(matrix[:, -1].max())},
            "blind_share": mean_if_known([c.blind_share for c in group]),
        }  # fmt: skip
    if kind == "score":
        ax.axhline(0.0, color="grey", ls=":", lw=1)
        ax.axhline(1.0, color="grey", ls="--", lw=1)
    ax.xaxis.set_major_formatter(lambda x, _: f"{x / 1000:g}k")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(
        "normalised source score (0 random, 1 reference)" if kind == "score" else "source return"
    )
    ax.set_title("learning curves: mean over seeds, band min to max", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    out.mkdir(parents=True, exist_ok=True)
    write_figure(out / "curves.png", fig)
    write_json(out / "curves.json", summary)
    lines = [
        f"| method | seeds | steps | last {kind} (mean) | min | max | played blind (final) |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, m in summary["methods"].items():
        last = m["last"]
        lines.append(
            f"| {method} | {len(m['seeds'])} | {int(m['steps'][-1])} | {last['mean']:.2f} | "
            f"{last['min']:.2f} | {last['max']:.2f} | {fmt(m['blind_share'])} |"
        )
    write_text(out / "curves.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"report: {out / 'curves.png'}")
    return summary

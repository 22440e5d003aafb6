"""The figures file, ``runs/bench/results.json``: ``{name: {value, unit, target, higher_is_better,
what, measured}}``, from which the README's benchmark table is generated (:mod:`benchmarks.table`)."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from darla.io import write_json

RESULTS_PATH = Path("runs/bench/results.json")


def figure(
    value: float, unit: str, target: float | None, higher_is_better: bool, *, what: str
) -> dict:
    """One measured figure; ``what`` is the README table's description of it (one line)."""
    return {
        "value": float(value),
        "unit": unit,
        "target": target,
        "higher_is_better": higher_is_better,
        "what": what,
        "measured": datetime.date.today().isoformat(),
    }


def merge_results(new: dict, path: Path = RESULTS_PATH) -> dict:
    """Add this run's figures to the file, keeping figures other benchmarks wrote."""
    results = json.loads(path.read_text()) if path.exists() else {}
    results.update(new)
    write_json(path, results)
    return results


def meets_target(entry: dict) -> bool | None:
    if entry["target"] is None:
        return None
    return (
        entry["value"] >= entry["target"]
        if entry["higher_is_better"]
        else entry["value"] <= entry["target"]
    )


def report(figures: dict) -> None:
    """Merge this run's figures into the file and print them beside their targets."""
    merge_results(figures)
    print(f"\n{'figure':<36} {'value':>10} {'target':>8}  met")
    for name, entry in sorted(figures.items()):
        target = "-" if entry["target"] is None else f"{entry['target']:g}"
        print(f"{name:<36} {entry['value']:10.3f} {target:>8}  {meets_target(entry)}")
    print(f"written to {RESULTS_PATH}")


def run_standalone(run) -> None:
    """``python -m benchmarks.bench_x``: one benchmark, reported like ``make bench`` does."""
    figures: dict = {}
    run(figures)
    report(figures)


def vec_steps_per_second(vec, steps: int) -> float:
    """Steps/s of a vec env stepping uniformly random actions: the no-agent baseline."""
    import time

    import numpy as np

    rng = np.random.default_rng(0)
    vec.reset()
    start = time.perf_counter()
    for _ in range(steps // vec.num_envs):
        vec.step(rng.integers(0, 3, vec.num_envs))
    return steps / (time.perf_counter() - start)

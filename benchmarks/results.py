"""The figures file, ``runs/bench/results.json``: ``{name: {value, unit, target, higher_is_better}}``."""

from __future__ import annotations

import json
from pathlib import Path

from darla.io import write_json

RESULTS_PATH = Path("runs/bench/results.json")


def figure(value: float, unit: str, target: float | None, higher_is_better: bool) -> dict:
    return {
        "value": float(value),
        "unit": unit,
        "target": target,
        "higher_is_better": higher_is_better,
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

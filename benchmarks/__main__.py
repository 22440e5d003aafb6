"""``python -m benchmarks``: run every benchmark, print the figures, write runs/bench/results.json."""

from __future__ import annotations

import importlib
import pkgutil

import benchmarks
from benchmarks.results import RESULTS_PATH, meets_target, merge_results


def main() -> None:
    figures: dict = {}
    for module in sorted(
        m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_")
    ):
        print(f"== {module}")
        importlib.import_module(f"benchmarks.{module}").run(figures)
    merge_results(figures)
    print(f"\n{'figure':<36} {'value':>10} {'target':>8}  met")
    for name, entry in sorted(figures.items()):
        target = "-" if entry["target"] is None else f"{entry['target']:g}"
        print(f"{name:<36} {entry['value']:10.3f} {target:>8}  {meets_target(entry)}")
    print(f"written to {RESULTS_PATH}")


if __name__ == "__main__":
    main()

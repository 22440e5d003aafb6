"""``python -m benchmarks``: run every benchmark, print the figures, write runs/bench/results.json,
then regenerate the README's benchmark table from it (:mod:`benchmarks.table`)."""

from __future__ import annotations

import importlib
import pkgutil

import benchmarks
from benchmarks.results import report
from benchmarks.table import regenerate


def main() -> None:
    figures: dict = {}
    for module in sorted(
        m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_")
    ):
        print(f"== {module}")
        importlib.import_module(f"benchmarks.{module}").run(figures)
    report(figures)
    regenerate()


if __name__ == "__main__":
    main()

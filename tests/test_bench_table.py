"""The README's benchmark table is generated from the committed figures, not typed by hand."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.results import figure
from benchmarks.table import RECORD_PATH, readme_table, render

ROOT = Path(__file__).resolve().parents[1]


def test_readme_table_is_the_rendering_of_the_recorded_figures() -> None:
    record = json.loads((ROOT / RECORD_PATH).read_text())
    assert "act_ppo_vs_env_and_encoder" in record and "encoder_vs_roofline" in record
    assert readme_table((ROOT / "README.md").read_text()) == render(record)


def test_a_row_says_whether_its_target_was_met() -> None:
    results = {
        "slow_ratio": figure(0.5, "ratio", 0.9, True, what="a ratio below its target"),
        "seconds": figure(93.4, "s", 120.0, False, what="a time under its budget"),
        "rate": figure(971.0, "images/s", None, True, what="no target"),
    }
    rows = render(results).splitlines()[2:]
    assert rows == [
        f"| `rate` | no target | 971 images/s | — | — | {results['rate']['measured']} |",
        f"| `seconds` | a time under its budget | 93.40 s | ≤ 120 | yes | "
        f"{results['seconds']['measured']} |",
        f"| `slow_ratio` | a ratio below its target | 0.5 | ≥ 0.9 | **missed** | "
        f"{results['slow_ratio']['measured']} |",
    ]

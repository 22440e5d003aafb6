"""Sweeps (``darla see -m``, ``darla run -m``): each job's outcome file, and the one report the
sweep ends with.

A job records what it made in ``<sweep dir>/<job>/outcome.json`` (the vision run of a see job;
the transfer run and every stage's run folder of a pipeline job). A job that failed wrote none,
and a job killed while writing left an unreadable one: the closing report covers the jobs that
finished (their run folders are complete on disk either way). Hydra imports the two callbacks by
name from ``darla/configs/see.yaml`` and ``darla/configs/run.yaml``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from darla.errors import DarlaError
from darla.io import write_json

OUTCOME = "outcome.json"


def write_outcome(job_dir: Path, outcome: dict[str, Any]) -> Path:
    """A sweep job's ``outcome.json`` (written atomically)."""
    return write_json(Path(job_dir) / OUTCOME, outcome)


def read_outcome(path: Path) -> dict[str, Any] | None:
    """One job's outcome, or None for a file a killed job left half-written."""
    try:
        outcome = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return outcome if isinstance(outcome, dict) else None


def read_outcomes(sweep_dir: Path) -> list[dict[str, Any]]:
    """Every finished job's outcome under a sweep folder, in job order."""
    found = (read_outcome(path) for path in sorted(Path(sweep_dir).glob(f"*/{OUTCOME}")))
    return [outcome for outcome in found if outcome is not None]


class VisionSweepReport(Callback):
    """After a ``darla see -m`` sweep: one table over every job's vision run."""

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        from darla.stages.vision_report import run_vision_report

        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            run_vision_report([sweep_dir], runs_root=str(config.runs_root))
        except DarlaError as error:
            print(f"darla: error: {error}")


class SweepReport(Callback):
    """After a ``darla run -m`` sweep: one report over every job's transfer run."""

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        from darla.stages.report import run_report

        sweep_dir = Path(str(config.hydra.sweep.dir))
        outcomes = read_outcomes(sweep_dir)
        if not outcomes:
            print(f"sweep: no job finished; nothing to report (see {sweep_dir})")
            return
        runs = sorted({o["transfer_run"] for o in outcomes})
        print(
            f"\nsweep: {len(outcomes)} job(s) finished; one report over {len(runs)} transfer run(s)"
        )
        try:
            run_report(runs, runs_root=str(config.runs_root))
        except DarlaError as error:
            print(f"darla: error: {error}")

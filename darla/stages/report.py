"""``darla report RUN_DIR...``: many transfer runs, one comparison.

Read top to bottom: find every finished transfer run under the arguments, load each one's
``results.json``, check that their returns are comparable and merge them
(:mod:`darla.transfer.merge`: an agent evaluated in several runs counts once; only the domains
every run evaluated are compared), reduce them exactly as ``darla transfer`` reduces one run
(:func:`darla.transfer.aggregate.summarise`), and write the same report
(:mod:`darla.transfer.render`): ``results.json``, ``results.csv``, plots, ``report.md``, a
self-contained ``report.html``, and the inputs' rollout videos linked into ``videos/``.

The output folder ``runs/report/<key>`` is keyed by the sorted sha256s of the inputs'
``results.json`` and the report's settings, and everything in the merge is sorted: the same
transfer runs, named in any order or found through any parent folder, give the same folder and
the same files. One report writes a folder at a time (its run lock). A new report there replaces
the previous one file by file, each written atomically, and then removes only the previous
report's files it did not rewrite: a killed report leaves every file whole, and a file a user
put in the folder stays.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from darla.config import run_key
from darla.io import write_bytes
from darla.manifest import write_manifest
from darla.reuse import run_lock
from darla.transfer.aggregate import summarise
from darla.transfer.merge import (
    find_transfer_runs,
    link_videos,
    load_transfer_runs,
    merge_results,
    report_settings,
)
from darla.transfer.render import previous_report_files, write_report
from darla.transfer.tables import summary_table


@dataclass
class ReportResult:
    run_dir: Path
    results: dict[str, Any]
    report_html: Path
    summary: str


def run_report(
    paths: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str] | None = None,
    *,
    runs_root: str | os.PathLike[str] = "runs",
    reps: int | None = None,
    seed: int | None = None,
    baseline: str | None = None,
) -> ReportResult:
    """Merge every finished transfer run under ``paths`` into one report in ``out``
    (default ``<runs_root>/report/<key>``). ``reps``, ``seed``, ``baseline``: the bootstrap and
    the probability-of-improvement baseline; by default the inputs' own, where they all agree."""
    runs = load_transfer_runs(find_transfer_runs(paths))
    settings = report_settings(runs, reps=reps, seed=seed, baseline=baseline)
    key = run_key(sorted(run.sha256 for run in runs), settings)
    run_dir = Path(out) if out is not None else Path(runs_root) / "report" / key
    inputs = {str(run.run_dir): run.sha256 for run in runs}
    with run_lock(run_dir):  # one report writes a folder at a time
        previous = previous_report_files(run_dir)
        results, recon = merge_results(runs, settings, key=key, run_dir=run_dir)
        link_videos(results, run_dir)  # beside the report, so report.html plays them from disk
        summarise(results)
        # unfinished until the last line: a killed report is a report folder, to be redone
        write_manifest(run_dir, stage="report", config=settings, inputs=inputs, finished=False)
        images = {
            f"recon_{label}": write_bytes(run_dir / f"recon_{label}.png", png.read_bytes())
            for label, png in recon.items()
        }
        report = write_report(run_dir, results, images)
        for stale in previous - set(report.files):  # e.g. a vision module no input has now
            stale.unlink(missing_ok=True)
        write_manifest(run_dir, stage="report", config=settings, inputs=inputs)
    summary = summary_table(results)
    print(summary)
    print(f"report: {report.html}")
    return ReportResult(run_dir, results, report.html, summary)

"""``darla report`` over vision runs: a model x hyperparameter table of disentanglement scores.

Read top to bottom: find every finished, scored ``darla see`` run under the arguments (or named by
a sweep job's ``outcome.json``), check that runs on one dataset were trained and scored alike,
group them by dataset, model and main hyperparameter value (``vision.strengths``' knob), and
reduce each group over its seeds to every metric's median and range, next to the published
ranges of a comparable setting (:mod:`darla.metrics.published`). Written as ``vision_table.md``,
``.csv`` and ``.json`` under ``runs/report/vision-<key>``; the key covers the inputs' metrics
files, so the same runs give the same folder.

``darla see -m experiment=vision_sweep`` ends with this table (:class:`darla.sweeps.VisionSweepReport`).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from darla.config import run_key
from darla.errors import DarlaError
from darla.io import sha256_file, write_json, write_text
from darla.manifest import is_finished, read_manifest, write_manifest
from darla.metrics.evaluate import HEADLINE, headline_scores
from darla.metrics.published import SOURCE, published_ranges
from darla.stages.see import SEE_KEY
from darla.sweeps import OUTCOME, read_outcome
from darla.transfer.merge import report_folders
from darla.transfer.tables import md_table
from darla.vision.registry import pretrained_parts

# Settings every run on one dataset must share for their scores to sit in one table.
COMPARED = ("train", "obs_size", "metrics")


@dataclass(frozen=True)
class VisionRun:
    """One finished, scored vision run: what the table needs of it."""

    run_dir: Path
    model: str
    dataset: str  # "shapes", or "env:" + the vision domains
    knob: str | None  # the main hyperparameter (None: a model without a grid, e.g. vae)
    value: float | None
    variant: str  # the model config without the knob, to tell apart runs that differ elsewhere
    seed: int
    settings: dict[str, Any]
    scores: dict[str, float]
    sha256: str  # of metrics.json


def is_vision_run(path: Path) -> bool:
    manifest = read_manifest(path)
    return bool(
        manifest
        and manifest.get("stage") == "see"
        and is_finished(path)
        and (path / "metrics.json").is_file()
    )


def find_vision_runs(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Every finished, scored vision run at or under each path, or named by a sweep job's
    ``outcome.json`` there (a see sweep's runs live in runs/see, not in the sweep folder)."""
    found: set[Path] = set()
    expected = "run folders or folders holding them (runs/see, a sweep folder)"
    for _arg, path in report_folders(paths, "runs/see/<run>", expected):
        for folder, subfolders, files in os.walk(path):
            subfolders.sort()
            here = Path(folder)
            if is_vision_run(here):
                found.add(here.resolve())
                subfolders.clear()  # a run folder holds no further runs
            elif OUTCOME in files:
                named = (read_outcome(here / OUTCOME) or {}).get("vision_run")
                if named and is_vision_run(Path(named)):
                    found.add(Path(named).resolve())
    return sorted(found)


def load_vision_run(run_dir: Path) -> VisionRun:
    try:
        config = yaml.safe_load((run_dir / "config.yaml").read_text())
        metrics = json.loads((run_dir / "metrics.json").read_text())
        scores = headline_scores(metrics)
    except (OSError, yaml.YAMLError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise DarlaError(
            f"{run_dir}: unreadable config.yaml or metrics.json ({error}); "
            f"rescore it with `darla metrics {run_dir}` or delete it"
        ) from error
    vision = config["vision"]
    model = dict(vision.get("model") or {})
    grid = vision.get("strengths") or {}
    knob = grid.get("knob")
    value = float(model.pop(knob)) if knob in model else None
    for part in pretrained_parts(vision["name"]):  # weights files: their digests are in the key
        model.pop(part.name, None)
    data = config["data"]
    dataset = data.get("dataset", "env")
    if dataset == "env":
        dataset = "env:" + ",".join(data["domains"])
    train = SEE_KEY.settings(config["train"])  # what changes the weights
    return VisionRun(
        run_dir=run_dir,
        model=vision["name"],
        dataset=dataset,
        knob=knob if value is not None else None,
        value=value,
        variant=json.dumps(model, sort_keys=True, default=str),
        seed=int(config["seed"]),
        settings={"train": train, "obs_size": data["obs_size"], "metrics": config["metrics"]},
        scores=scores,
        sha256=sha256_file(run_dir / "metrics.json"),
    )


def check_comparable(runs: Sequence[VisionRun]) -> None:
    """Runs on one dataset must share training and scoring settings: one line naming the
    first difference otherwise."""
    first: dict[str, VisionRun] = {}
    for run in runs:
        reference = first.setdefault(run.dataset, run)
        for name in COMPARED:
            if run.settings[name] != reference.settings[name]:
                raise DarlaError(
                    f"{run.run_dir.name} and {reference.run_dir.name} differ in {name} "
                    f"({_difference(run.settings[name], reference.settings[name])}): their scores "
                    "do not belong in one table; report them separately"
                )


def _difference(a: Any, b: Any) -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return f"{key}: {a.get(key)!r} vs {b.get(key)!r}"
    return f"{a!r} vs {b!r}"


def vision_table(runs: Sequence[VisionRun]) -> dict[str, Any]:
    """Per dataset, one row per (model, hyperparameter value, other model settings): every
    metric's median, min and max over the group's seeds; with the comparable published ranges."""
    if not runs:
        raise DarlaError("no finished, scored vision run to report on")
    check_comparable(runs)
    metrics = [label for label in HEADLINE if any(label in run.scores for run in runs)]
    groups: dict[tuple, list[VisionRun]] = {}
    for run in runs:
        groups.setdefault((run.dataset, run.model, run.knob, run.value, run.variant), []).append(
            run
        )
    # label a row by its knob; add the model's settings only where two rows of one dataset's
    # table would read the same
    labels = {key: _label(key[1], key[2], key[3]) for key in groups}
    seen = [(key[0], label) for key, label in labels.items()]
    clashing = {pair for pair in seen if seen.count(pair) > 1}
    datasets: dict[str, dict[str, Any]] = {}
    for key in sorted(groups, key=_order):
        dataset, model, knob, value, variant = key
        members = sorted(groups[key], key=lambda r: (r.seed, str(r.run_dir)))
        label = labels[key] + (f" {variant}" if (dataset, labels[key]) in clashing else "")
        scores = {}
        for metric in metrics:
            values = np.array([r.scores[metric] for r in members if metric in r.scores])
            if len(values):
                scores[metric] = {
                    "median": float(np.median(values)),
                    "min": float(values.min()),
                    "max": float(values.max()),
                    "n": len(values),
                }
        entry = datasets.setdefault(dataset, {"published": _published(dataset), "rows": []})
        entry["rows"].append(
            {
                "row": label,
                "model": model,
                "knob": knob,
                "value": value,
                "seeds": [r.seed for r in members],
                "runs": [_shown(r.run_dir) for r in members],
                "scores": scores,
            }
        )
    return {
        "metrics": metrics,
        "datasets": datasets,
        "settings": {d: _settings_of(runs, d) for d in datasets},
        "published_source": SOURCE,
    }


def _shown(path: Path) -> str:
    """A run folder as the user would type it: relative to the working directory when inside
    it (so a committed table names ``runs/see/...``, not this machine's absolute path)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _label(model: str, knob: str | None, value: float | None) -> str:
    return model if knob is None else f"{model} {knob}={value:g}"


def _order(key: tuple) -> tuple:
    dataset, model, _knob, value, variant = key
    return (dataset != "shapes", dataset, model, -1.0 if value is None else value, variant)


def _published(dataset: str) -> dict[str, Any] | None:
    found = published_ranges(dataset)
    if found is None:
        return None
    setting, ranges = found
    return {"setting": setting, "ranges": {k: list(v) for k, v in ranges.items()}}


def _settings_of(runs: Sequence[VisionRun], dataset: str) -> dict[str, Any]:
    return next(run.settings for run in runs if run.dataset == dataset)


def dataset_title(dataset: str) -> str:
    if dataset == "shapes":
        return "2D shapes (`data.dataset=shapes`)"
    return f"CollectGoodObjects factors ({dataset.removeprefix('env:').replace(',', ', ')})"


def format_markdown(table: dict[str, Any]) -> str:
    """The table as Markdown: per dataset, median (min-max) over seeds of every metric."""
    metrics = table["metrics"]
    lines = []
    for dataset, entry in table["datasets"].items():
        settings = table["settings"][dataset]
        train = settings["train"]
        lines += [
            f"### {dataset_title(dataset)}",
            "",
            f"{train['steps']} steps of batch {train['batch_size']} at {settings['obs_size']}px; "
            f"metrics {'fast' if settings['metrics'].get('fast') else 'full'} sample counts. "
            "Each cell: median (min-max) over seeds.",
            "",
        ]
        rows = []
        published = entry["published"]
        if published:
            cells = [
                "{:.2f}-{:.2f}".format(*published["ranges"][m]) if m in published["ranges"] else "-"
                for m in metrics
            ]
            rows.append([f"*published, {published['setting']}*", "-", *cells])
        for row in entry["rows"]:
            cells = []
            for metric in metrics:
                s = row["scores"].get(metric)
                cells.append(
                    "-" if s is None else f"{s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f})"
                )
            rows.append([row["row"], len(row["seeds"]), *cells])
        lines += [md_table(["model", "seeds", *metrics], rows), ""]
    if any(entry["published"] for entry in table["datasets"].values()):
        lines.append(f"Published ranges: {table['published_source']}.")
    return "\n".join(lines).rstrip() + "\n"


def format_csv(table: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["dataset", "model", "knob", "value", "metric", "median", "min", "max", "n"])
    for dataset, entry in table["datasets"].items():
        for row in entry["rows"]:
            for metric, s in row["scores"].items():
                writer.writerow(
                    [
                        dataset,
                        row["model"],
                        row["knob"] or "",
                        "" if row["value"] is None else row["value"],
                        metric,
                        s["median"],
                        s["min"],
                        s["max"],
                        s["n"],
                    ]
                )
    return out.getvalue()


def run_vision_report(
    paths: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str] | None = None,
    *,
    runs_root: str | os.PathLike[str] = "runs",
) -> Path:
    """The table over every vision run under ``paths``, written to ``out`` (default
    ``<runs_root>/report/vision-<key>``); prints it and ``report: <path>`` last."""
    run_dirs = find_vision_runs(paths)
    if not run_dirs:
        raise DarlaError(
            f"{', '.join(map(str, paths))} holds no finished, scored vision run: run `darla see` "
            "(with metrics.enabled=true) or `darla metrics RUN_DIR` first"
        )
    runs = [load_vision_run(run_dir) for run_dir in run_dirs]
    table = vision_table(runs)
    key = run_key(sorted(run.sha256 for run in runs))
    run_dir = Path(out) if out is not None else Path(runs_root) / "report" / f"vision-{key}"
    markdown = format_markdown(table)
    write_json(run_dir / "vision_table.json", table)
    write_text(run_dir / "vision_table.csv", format_csv(table))
    write_text(run_dir / "vision_table.md", markdown)
    write_manifest(
        run_dir,
        stage="report",
        config={"kind": "vision", "runs": [str(r) for r in run_dirs]},
        inputs={str(run.run_dir): run.sha256 for run in runs},
    )
    print(markdown)
    print(f"report: {run_dir / 'vision_table.md'}")
    return run_dir

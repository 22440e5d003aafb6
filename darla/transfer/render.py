"""A transfer report's files: ``results.json``, ``results.csv``, the plots, ``report.md`` and
``report.html``, each written atomically.

Both pages are one list of sections (:func:`_sections`: text, tables from
:mod:`darla.transfer.tables`, images), drawn once as Markdown and once as HTML. ``report.html``
is self-contained: styles inline, every image a base64 ``data:`` URI, no script, no link to
anything outside the file, so it opens offline and survives being mailed around.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from darla.errors import DarlaError
from darla.io import atomic_path, write_json, write_text
from darla.manifest import read_manifest
from darla.transfer.plots import PLOT_FILES, write_plots
from darla.transfer.tables import (
    CSV_FIELDS,
    agent_table,
    aggregate_table,
    cell_table,
    csv_rows,
    disentanglement_table,
    domain_names,
    html_table,
    inputs_table,
    md_table,
    method_table,
    score_table,
    shift_table,
)

DOCUMENTS = ("results.json", "results.csv", "report.md", "report.html")


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    files: tuple[Path, ...]  # every file of the report: the images given, plots, documents


def write_report(run_dir: Path, results: dict[str, Any], images: dict[str, Path]) -> ReportFiles:
    """Plots, ``results.json``, ``results.csv``, ``report.md`` and ``report.html`` beside
    ``images`` (already in ``run_dir``: the reconstruction grids)."""
    run_dir = Path(run_dir)
    images = {**write_plots(results, run_dir), **images}
    documents = (
        write_json(run_dir / "results.json", results),
        write_csv(run_dir / "results.csv", results),
        write_markdown(run_dir / "report.md", results, images),
        write_html(run_dir / "report.html", results, images),
    )
    return ReportFiles(documents[-1], (*images.values(), *documents))


def previous_report_files(run_dir: Path) -> set[Path]:
    """The files of the report already in ``run_dir``, which a new report there replaces (any
    other file stays); a non-empty folder that is not a darla report is never written into."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir() or not any(run_dir.iterdir()):
        return set()
    manifest = read_manifest(run_dir) or {}
    if manifest.get("stage") != "report":
        raise DarlaError(
            f"--out {run_dir} is a non-empty folder that is not a darla report: choose a new folder"
        )
    names = set(DOCUMENTS) | set(PLOT_FILES.values())
    return {
        run_dir / name
        for name in manifest.get("files") or {}
        if name in names or re.fullmatch(r"recon_[^/]+\.png", name)
    }


def write_csv(path: Path, results: Mapping[str, Any]) -> Path:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in csv_rows(results):
            writer.writerow({k: ("" if row.get(k) is None else row.get(k, "")) for k in CSV_FIELDS})
    return path


# -- the pages' contents ---------------------------------------------------------------------

INTRO = (
    "Each agent ran unchanged (zero-shot) on the same evaluation episodes in every domain: "
    "episode *i* has the same room layout for every agent and domain. Returns are per episode "
    "(+1 per good object, −1 per bad one). Method statistics follow rliable (Agarwal et al., "
    "2021): runs = agent seeds, tasks = domains, IQM = 25% trimmed mean, 95% CIs from a "
    "stratified percentile bootstrap. Normalised score = (return − random) / (reference − "
    "random) per domain, as DMLab-30 normalises by human and random scores: the reference is a "
    "scripted policy that knows where the objects are, and it and a uniformly random policy "
    "play the same episodes as the agents. Transfer ratio = (target − random) / (source − "
    "random), on mean returns. Played blind = the share of an agent's episodes in which it took "
    "exactly the actions it takes, on the same seed, when every frame it sees is a blank grey: "
    "episodes it played whatever it saw (a blind policy's transfer ratio is near 1 by "
    "construction, so a high share makes its ratio meaningless)."
)


def _title(results: Mapping[str, Any]) -> str:
    kind = "Comparison report" if results.get("inputs") else "Transfer report"
    return f"{kind} {results['run_key']}"


def _merge_notes(results: Mapping[str, Any]) -> str:
    inputs = results["inputs"]
    notes = [
        f"One comparison of {len(inputs)} transfer run(s), {len(results['agents'])} agent(s) in all. "
        "An agent (one `darla act` run, by its manifest's sha256) evaluated in several of them "
        "counts once."
    ]
    dups = results.get("duplicate_agents") or []
    if dups:
        notes.append(
            "Evaluated more than once (counted once): "
            + "; ".join(f"{d['agent']} (in {', '.join(d['runs'])})" for d in dups)
            + "."
        )
    dropped = results.get("dropped_domains") or {}
    if dropped:
        notes.append(
            "Only the domains every run evaluated are compared; dropped: "
            + "; ".join(f"{n} (only in {', '.join(runs)})" for n, runs in dropped.items())
            + "."
        )
    return " ".join(notes)


def _sections(results: Mapping[str, Any], images: Mapping[str, Path]) -> list[tuple[str, str, Any]]:
    """(title, kind, payload) in report order; kind is text, table, image or list."""
    b = results["bootstrap"]
    split = {s: ", ".join(domain_names(results, s)) for s in ("source", "target")}
    sections: list[tuple[str, str, Any]] = [("", "text", INTRO)]
    if results.get("inputs"):
        sections += [("", "text", _merge_notes(results))]
    sections += [
        ("", "text", f"Source domains: {split['source']}. Target domains: {split['target']}. "
                     f"{len(results['seeds'])} episodes per agent and domain, {results['env']['max_episode_steps']} "
                     f"steps each, {results['env']['obs_size']}px frames. Bootstrap: {b['reps']} reps, seed {b['seed']}."),
        ("Summary", "table", aggregate_table(results)),
        ("Returns by method and domain (mean [95% CI] across runs)", "table", method_table(results)),
        ("Source vs target", "image", images.get("returns")),
        ("Transfer ratio", "image", images.get("ratio")),
        ("Agents", "table", agent_table(results)),
    ]  # fmt: skip
    if results.get("reference") is not None:  # runs from before the reference policy have none
        at = next(k for k, section in enumerate(sections) if section[0].startswith("Returns by"))
        sections.insert(at, (
            "Normalised scores by method and domain (mean [95% CI] across runs; 0 = random, "
            "1 = reference)", "table", score_table(results),
        ))  # fmt: skip
    if results.get("latent_shift"):
        sections += [
            ("Latent shift", "text",
             "How far each vision module's latent means move between paired frames (same layout, "
             "same actions) of a domain and its nearest source domain, divided by how far they move "
             "between two different views of that source domain: 0 = untouched by the shift, 1 = as "
             "different as another room. In brackets: the latents the shift moves most."),
            ("", "table", shift_table(results)),
            ("", "image", images.get("shift")),
            ("Reconstructions (source and target frames, paired layouts)", "text",
             "Each vision module's reconstruction through μ(x) of the same views in every domain."),
        ]  # fmt: skip
        for name, path in images.items():
            if name.startswith("recon_"):
                sections.append((name.removeprefix("recon_"), "image", path))
        if results.get("disentanglement_vs_transfer"):
            sections += [
                ("Disentanglement vs transfer", "text",
                 "Each vision module's disentanglement scores (its `darla see` run's metrics.json) "
                 "beside its agents' mean target return: DARLA's claim is that the more "
                 "disentangled module transfers better. Spearman's ρ across modules (at least 3), "
                 f"{100 * b['confidence']:g}% CI from {b['reps']} bootstrap resamples of the modules (with replacement, "
                 f"seed {b['seed']}); resamples with a constant score or return are left out."),
                ("", "table", disentanglement_table(results)),
                ("", "image", images.get("disentanglement")),
            ]  # fmt: skip
    sections.append(("Episodes per agent and domain", "table", cell_table(results)))
    if results.get("inputs"):
        sections.append(("Transfer runs compared", "table", inputs_table(results)))
    videos = sorted(
        c["video"] for a in results["agents"] for c in a["domains"].values() if c.get("video")
    )
    if videos:
        where = "in the transfer runs' folders" if results.get("inputs") else "in this folder"
        sections.append((f"Rollout videos ({where})", "list", videos))
    return sections


# -- report.md -------------------------------------------------------------------------------


def write_markdown(path: Path, results: Mapping[str, Any], images: Mapping[str, Path]) -> Path:
    parts = [f"# {_title(results)}"]
    for title, kind, payload in _sections(results, images):
        if title:
            parts.append(f"## {title}")
        if kind == "text":
            parts.append(payload)
        elif kind == "table" and payload:
            parts.append(md_table(*payload))
        elif kind == "image" and payload:
            parts.append(f"![{title or Path(payload).stem}]({Path(payload).name})")
        elif kind == "list":
            parts.append("\n".join(f"- [{v}]({v})" for v in payload))
    return write_text(path, "\n\n".join(parts) + "\n")


# -- report.html -----------------------------------------------------------------------------

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1200px; color: #222; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; }
th { background: #f2f2f2; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""

PAGE = string.Template(
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>$title</title>'
    "<style>$style</style></head><body><h1>$title</h1>\n$body</body></html>\n"
)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def write_html(path: Path, results: Mapping[str, Any], images: Mapping[str, Path]) -> Path:
    """One file, no external references: styles inline, images as base64 data URIs."""
    body = io.StringIO()
    for heading, kind, payload in _sections(results, images):
        if heading:
            body.write(f"<h2>{html.escape(heading)}</h2>\n")
        if kind == "text":
            text = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(payload))
            body.write(f"<p>{text.replace('*i*', '<em>i</em>')}</p>\n")
        elif kind == "table" and payload:
            body.write(html_table(*payload) + "\n")
        elif kind == "image" and payload:
            alt = html.escape(heading or Path(payload).stem)
            body.write(f'<img alt="{alt}" src="{_data_uri(payload)}">\n')
        elif kind == "list":
            body.write(
                "<ul>"
                + "".join(f"<li><code>{html.escape(v)}</code></li>" for v in payload)
                + "</ul>\n"
            )
    page = PAGE.substitute(title=html.escape(_title(results)), style=STYLE, body=body.getvalue())
    return write_text(path, page)

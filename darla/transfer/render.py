"""A transfer report's files: ``results.json``, ``results.csv``, the plots, ``report.md`` and
``report.html``, each written atomically.

Both pages are one list of sections (:func:`_sections`: text, tables from
:mod:`darla.transfer.tables`, images, the grid of rollout videos), drawn once as Markdown and
once as HTML. ``report.html`` is self-contained but for its videos: styles inline, every image a
base64 ``data:`` URI, no script, nothing on the network; the rollout videos (megabytes each) are
``<video>`` elements whose ``src`` is a path relative to the report's folder, where the videos
are (``videos/<agent>__<domain>.mp4``: a transfer run links them there from its episode cache, a
merged report from its transfer runs), so the folder opened from disk plays them.
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
from darla.transfer.stats import LEARNED_SOURCE_SCORE
from darla.transfer.tables import (
    CSV_FIELDS,
    agent_table,
    aggregate_table,
    cell_table,
    csv_rows,
    disentanglement_table,
    domain_names,
    extrapolation,
    headline,
    headline_table,
    html_table,
    inputs_table,
    md_table,
    method_table,
    score_table,
    shift_table,
    video_table,
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
    videos = tuple(run_dir / v for v in video_paths(results) if (run_dir / v).is_file())
    return ReportFiles(documents[-1], (*images.values(), *videos, *documents))


def video_paths(results: Mapping[str, Any]) -> list[str]:
    """Every rollout video the results point to, relative to their run folder, sorted."""
    return sorted(
        c["video"] for a in results["agents"] for c in a["domains"].values() if c.get("video")
    )


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
        if name in names
        or re.fullmatch(r"recon_[^/]+\.png", name)
        or re.fullmatch(r"videos/[^/]+\.(mp4|gif)", name)
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
    "(+1 per good object, −1 per bad one). Normalised score = (return − random) / (reference − "
    "random) per domain, as DMLab-30 normalises by human and random scores: the reference is a "
    "scripted policy that knows where the objects are, and it and a uniformly random policy "
    "play the same episodes as the agents. The headline is the held-out combination "
    "{head} (pair and room each seen in a source domain, never together: DMLab's and DARLA's "
    "test); each extrapolation target ({extra}) tests something else and has its own column: "
    "no number pools the target domains. Source score = the mean over the source domains. "
    "Transfer ratio = ({head} − random) / (source − random) on returns, shown only where the "
    'normalised source score is at least {learned:g} (clearly above random; else "n/a (did not '
    "learn)\": a ratio over a source margin near zero is noise); a method's ratio is the ratio "
    "of its means over all its runs (not the learners only, which would select runs on the "
    'outcome), and "did not learn" counts its agents below {learned:g}. Method statistics follow '
    "rliable (Agarwal et al., 2021): runs = agent seeds, tasks = domains, IQM = 25% trimmed mean; "
    "95% CIs of per-domain and source aggregates and of the probability of improvement from "
    "rliable's stratified percentile bootstrap; those of the paired quantities (transfer ratio, "
    "gap) from resampling whole runs, keeping each run's source and held-out numbers together. "
    'One run has no interval: its value is shown with "(1 run)". Played blind = the share of an '
    "agent's episodes in which it took exactly the actions it takes, on the same seed, when every "
    "frame it sees is a blank grey: episodes it played whatever it saw (a blind policy's transfer "
    "ratio is near 1 by construction, so a high share makes its ratio meaningless)."
)


def _intro(results: Mapping[str, Any]) -> str:
    return INTRO.format(
        head=headline(results),
        extra=", ".join(extrapolation(results)) or "none evaluated",
        learned=results.get("learned_source_score", LEARNED_SOURCE_SCORE),
    )


def _vision_note(results: Mapping[str, Any]) -> str:
    """Per method, how many vision modules its agents use (derived from the results)."""
    parts = [f"{method}: {m['vision_modules']['text']}" for method, m in results["methods"].items()]
    shared = [
        method
        for method, m in results["methods"].items()
        if m["vision_modules"]["mode"] == "shared"
    ]
    note = "Vision modules per method: " + "; ".join(parts) + "."
    if shared:
        note += (
            f" {', '.join(shared)}: one module shared by every seed, so the intervals resample "
            "agent seeds only, not vision modules (a study trains one module per seed, "
            "`vision_seed`, so that each run is a full replicate)."
        )
    return note


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
    """(title, kind, payload) in report order; kind is text, table, image or videos."""
    b = results["bootstrap"]
    split = {s: ", ".join(domain_names(results, s)) for s in ("source", "target")}
    sections: list[tuple[str, str, Any]] = [("", "text", _intro(results))]
    if results.get("inputs"):
        sections += [("", "text", _merge_notes(results))]
    sections += [
        ("", "text", f"Source domains: {split['source']}. Target domains: {split['target']}. "
                     f"{len(results['seeds'])} episodes per agent and domain, {results['env']['max_episode_steps']} "
                     f"steps each, {results['env']['obs_size']}px frames. Bootstrap: {b['reps']} reps, seed {b['seed']}."),
        (f"Summary: held-out {headline(results)} first (mean [95% CI] across runs)", "table", headline_table(results)),
        ("", "text", _vision_note(results)),
        ("Source, held-out and extrapolation targets", "image", images.get("returns")),
        (f"Transfer ratio on {headline(results)}", "image", images.get("ratio")),
        ("Robust aggregates (IQM [95% CI]) and probability of improvement", "table", aggregate_table(results)),
        ("Returns by method and domain (mean [95% CI] across runs)", "table", method_table(results)),
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
                 "Each vision module's disentanglement scores and object probe (its `darla see` run's "
                 f"metrics.json) beside its agents' mean {headline(results)} "
                 f"{results['disentanglement_vs_transfer']['against']['quantity']} (the held-out "
                 "combination): DARLA's claim is that the more disentangled module transfers "
                 "better. One panel per score; Spearman's ρ across modules (at least 3) with the "
                 "held-out score and with the transfer ratio (which divides out how well the agents "
                 "learned the source task), "
                 f"{100 * b['confidence']:g}% CI from {b['reps']} bootstrap resamples of the modules (with replacement, "
                 f"seed {b['seed']}); resamples with a constant score or return are left out. "
                 "The object probe's PCA of the pixels is a yardstick for the probe, not a score of "
                 "the module: it has no ρ."),
                ("", "table", disentanglement_table(results)),
                ("", "image", images.get("disentanglement")),
            ]  # fmt: skip
    sections.append(("Episodes per agent and domain", "table", cell_table(results)))
    if results.get("inputs"):
        sections.append(("Transfer runs compared", "table", inputs_table(results)))
    videos = video_table(results)
    if videos:
        sections += [
            ("Rollout videos", "text",
             "What each agent sees (left), its vision module's reconstruction through μ(x) "
             "(middle) and its latent means (right), with return and pickups, on the first "
             "evaluation episodes; files in `videos/` beside this report."),
            ("", "videos", videos),
        ]  # fmt: skip
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
        elif kind == "videos":
            header, rows = payload
            parts.append(
                md_table(
                    header, [[r[0], *[f"[{v}]({v})" if v else "" for v in r[1:]]] for r in rows]
                )
            )
    return write_text(path, "\n\n".join(parts) + "\n")


# -- report.html -----------------------------------------------------------------------------

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1200px; color: #222; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; }
th { background: #f2f2f2; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
table.videos td { vertical-align: top; }
video, img.rollout { width: 320px; max-width: 100%; display: block; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""

PAGE = string.Template(
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>$title</title>'
    "<style>$style</style></head><body><h1>$title</h1>\n$body</body></html>\n"
)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def video_grid(header: list[str], rows: list[list[str]]) -> str:
    """Agents x domains of ``<video controls muted loop>`` (a gif, written without ffmpeg, as an
    image), each ``src`` relative to the report's folder."""

    def player(src: str) -> str:
        if not src:
            return ""
        ref = html.escape(src, quote=True)
        if src.endswith(".gif"):
            return f'<img class="rollout" alt="{ref}" src="{ref}">'
        return (
            f'<video controls muted loop preload="metadata" src="{ref}">'
            f'<a href="{ref}">{ref}</a></video>'
        )

    head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
    body = "".join(
        f"<tr><td>{html.escape(r[0])}</td>"
        + "".join(f"<td>{player(v)}</td>" for v in r[1:])
        + "</tr>"
        for r in rows
    )
    return f'<table class="videos"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def write_html(path: Path, results: Mapping[str, Any], images: Mapping[str, Path]) -> Path:
    """One file: styles inline, images as base64 data URIs; only the videos are files beside it."""
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
        elif kind == "videos":
            body.write(video_grid(*payload) + "\n")
    page = PAGE.substitute(title=html.escape(_title(results)), style=STYLE, body=body.getvalue())
    return write_text(path, page)

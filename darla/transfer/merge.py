"""Many ``darla transfer`` runs into one transfer-results skeleton, for ``darla report``.

Find every finished transfer run under the arguments (:func:`find_transfer_runs`), load each
one's ``results.json`` checked against its manifest (:func:`load_transfer_runs`), settle the
report's own settings (:func:`report_settings`), and merge them (:func:`merge_results`): their
returns must be comparable (the same evaluation episodes, episode length, frame size, env, and
domain factors and split), an agent evaluated in several runs counts once, and only the domains
every run evaluated are compared. The skeleton is then reduced exactly as one transfer run's is
(:func:`darla.transfer.aggregate.summarise`). Everything is sorted: the same transfer runs,
named in any order or found through any parent folder, give the same results.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from darla.errors import DarlaError
from darla.io import link_or_copy, safe_name, sha256_file
from darla.manifest import is_finished, read_manifest
from darla.transfer.stats import BOOTSTRAP_METHOD

# When the inputs disagree on the report's own settings (not on their numbers), these apply.
DEFAULT_BOOTSTRAP = {"reps": 2000, "seed": 0, "confidence": 0.95}
DEFAULT_BASELINE = "pixels"


@dataclass(frozen=True)
class TransferRun:
    """One finished ``darla transfer`` run folder and its results."""

    run_dir: Path
    sha256: str  # of its results.json: what identifies the evaluation
    results: dict[str, Any]

    @property
    def key(self) -> str:
        return str(self.results.get("run_key") or self.run_dir.name)


# -- finding and reading transfer runs ----------------------------------------------------------


def is_transfer_run(path: Path) -> bool:
    """A folder ``darla transfer`` finished (its manifest says so, written last)."""
    manifest = read_manifest(path)
    return bool(manifest and manifest.get("stage") == "transfer" and is_finished(path))


def report_folders(
    paths: Sequence[str | os.PathLike[str]], example: str, expected: str
) -> list[tuple[str | os.PathLike[str], Path]]:
    """``darla report``'s arguments as folders, each with its argument as typed; one line naming
    the first that is not a folder, and what to pass instead (over vision runs too)."""
    if not paths:
        raise DarlaError(f"no folders to report on: `darla report {example} [more ...]`")
    folders = []
    for arg in paths:
        path = Path(arg)
        if not path.is_dir():
            raise DarlaError(
                f"{arg} {'is not a folder' if path.exists() else 'does not exist'}: pass {expected}"
            )
        folders.append((arg, path))
    return folders


def find_transfer_runs(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Every finished transfer run at or under each path (resolved, sorted, without repeats)."""
    found: set[Path] = set()
    for arg, path in report_folders(
        paths,
        "runs/transfer/<key>",
        "transfer run folders (runs/transfer/<key>) or folders holding them (runs/transfer, a sweep)",
    ):
        mine = []
        for folder, subfolders, _ in os.walk(path):
            subfolders.sort()
            if is_transfer_run(Path(folder)):
                mine.append(Path(folder).resolve())
                subfolders.clear()  # a run folder holds no further runs
        if not mine:
            raise DarlaError(
                f"{arg} holds no finished transfer run (a folder whose manifest.json says stage "
                "transfer, finished): run `darla transfer AGENT_RUN...` first"
            )
        found.update(mine)
    return sorted(found)


REQUIRED = ("run_key", "config", "env", "seeds", "domains", "random", "agents", "bootstrap")


def load_transfer_runs(run_dirs: Sequence[Path]) -> list[TransferRun]:
    """Each run's results.json, checked against its manifest; one per distinct results file,
    ordered by its sha256 (so the order of the arguments never matters)."""
    runs: dict[str, TransferRun] = {}
    for run_dir in run_dirs:
        path = run_dir / "results.json"
        try:
            sha = sha256_file(path)
            results = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise DarlaError(
                f"{path} is unreadable ({type(error).__name__}: {error}); re-run that transfer "
                "with --force"
            ) from error
        recorded = ((read_manifest(run_dir) or {}).get("files") or {}).get("results.json")
        if recorded is not None and recorded != sha:
            raise DarlaError(
                f"{path} does not match the sha256 its manifest recorded (edited or corrupted "
                "since the run); re-run that transfer with --force"
            )
        _check_shape(path, results)
        runs.setdefault(sha, TransferRun(run_dir, sha, results))
    return [runs[sha] for sha in sorted(runs)]


def _check_shape(path: Path, results: Any) -> None:
    """Fail in one line on a results.json that is not a transfer run's."""
    try:
        missing = [k for k in REQUIRED if k not in results]
        if missing:
            raise DarlaError(f"{path} is not a transfer results file (no {', '.join(missing)})")
        # touch every field the merge reads, so a damaged file fails here, in one line
        names = [d["name"] for d in results["domains"]]
        _ = [(d["split"], d["factors"]) for d in results["domains"]]
        _ = [(a["name"], a["method"], a["seed"]) for a in results["agents"]]
        for per in [results["random"], *(a["domains"] for a in results["agents"])]:
            _ = [float(per[n]["mean_return"]) for n in names]
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise DarlaError(
            f"{path} is not a complete transfer results file (bad or missing {error}); re-run "
            "that transfer with --force"
        ) from error


# -- merging -----------------------------------------------------------------------------------


def report_settings(
    runs: Sequence[TransferRun],
    *,
    reps: int | None = None,
    seed: int | None = None,
    baseline: str | None = None,
) -> dict[str, Any]:
    """The bootstrap and the baseline: as given, else the inputs' where they all agree."""

    def agreed(values: list[Any], default: Any) -> Any:
        distinct = {json.dumps(v, sort_keys=True) for v in values}
        return values[0] if len(distinct) == 1 and values[0] is not None else default

    given = {"reps": reps, "seed": seed, "confidence": None}
    bootstrap = {
        name: given[name]
        if given[name] is not None
        else agreed([r.results["bootstrap"].get(name) for r in runs], default)
        for name, default in DEFAULT_BOOTSTRAP.items()
    }
    if int(bootstrap["reps"]) < 1:
        raise DarlaError(f"reps={bootstrap['reps']}: the bootstrap needs at least one resample")
    return {
        "baseline_method": baseline
        or agreed([r.results["config"].get("baseline_method") for r in runs], DEFAULT_BASELINE),
        "bootstrap": bootstrap,
    }


def comparable_settings(results: dict[str, Any], domains: Sequence[str]) -> dict[str, Any]:
    """What has to be equal for two runs' returns to be comparable, by name."""
    env = dict(results["env"])
    out = {
        "episodes": len(results["seeds"]),
        "episode seeds": results["seeds"],
        "episode_steps": env.pop("max_episode_steps", None),
        "obs_size": env.pop("obs_size", None),
        **{f"env.{k}": v for k, v in sorted(env.items())},
        "deterministic": results["config"].get("deterministic"),
        "method_name": results["config"].get("method_name"),
    }
    for d in results["domains"]:
        if d["name"] in domains:
            out[f"domain {d['name']} factors"] = d["factors"]
            out[f"domain {d['name']} split"] = d["split"]
    return out


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def common_domains(runs: Sequence[TransferRun]) -> tuple[list[str], dict[str, list[str]]]:
    """The domains every run evaluated (in the first run's order), and the rest with their runs."""
    per_run = [[d["name"] for d in r.results["domains"]] for r in runs]
    common = [n for n in per_run[0] if all(n in names for names in per_run[1:])]
    dropped: dict[str, list[str]] = {}
    for run, names in zip(runs, per_run, strict=True):
        for n in names:
            if n not in common:
                dropped.setdefault(n, []).append(run.key)
    return common, dict(sorted(dropped.items()))


def check_comparable(runs: Sequence[TransferRun], domains: Sequence[str]) -> None:
    reference = comparable_settings(runs[0].results, domains)
    for run in runs[1:]:
        mine = comparable_settings(run.results, domains)
        for name in [*reference, *(k for k in mine if k not in reference)]:
            if reference.get(name) != mine.get(name):
                raise DarlaError(
                    f"transfer runs {runs[0].run_dir} and {run.run_dir} differ in {name} "
                    f"({_short(reference.get(name))} vs {_short(mine.get(name))}): their returns "
                    "are not comparable; report them separately"
                )


def merge_results(
    runs: Sequence[TransferRun], settings: dict[str, Any], *, key: str, run_dir: Path
) -> tuple[dict[str, Any], dict[str, Path]]:
    """One transfer-results skeleton (before :func:`summarise`) from many runs, and each vision
    module's reconstruction grid to show. ``runs`` in sha256 order: the first copy of an agent,
    of the random policy's returns and of a vision module's latent shift is kept."""
    domains, dropped = common_domains(runs)
    check_comparable(runs, domains)
    first = runs[0].results
    splits = {d["name"]: d["split"] for d in first["domains"] if d["name"] in domains}
    for split in ("source", "target"):
        if split not in splits.values():
            raise DarlaError(
                f"the transfer runs have no {split} domain in common (shared: {', '.join(domains) or 'none'}; "
                f"dropped: {', '.join(dropped)}): a transfer ratio needs both"
            )

    # agents: one per `darla act` run (its manifest's sha256), whichever transfer runs hold it
    agents: dict[str, dict[str, Any]] = {}
    ident_of: dict[tuple[str, str], str] = {}
    seen_in: dict[str, list[str]] = {}
    for run in runs:
        for agent in run.results["agents"]:
            ident = str(agent.get("manifest_sha256") or agent.get("run_dir") or agent["name"])
            ident_of[(run.sha256, agent["name"])] = ident
            seen_in.setdefault(ident, []).append(run.key)
            if ident not in agents:
                cells = {n: _cell(agent["domains"][n], run.run_dir) for n in domains}
                agents[ident] = {**agent, "domains": cells}
    name_of = _unique_names(agents)
    for ident, agent in agents.items():
        agent["name"] = name_of[ident]
    ordered = sorted(
        agents.values(),
        key=lambda a: (a["method"], str(a["seed"]), a["name"], str(a.get("manifest_sha256"))),
    )

    # vision modules: one per weights hash; its agents from every run
    shift: dict[str, dict[str, Any]] = {}
    label_of: dict[str, str] = {}
    recon: dict[str, Path] = {}
    for run in runs:
        for label, entry in (run.results.get("latent_shift") or {}).items():
            vision = str(entry.get("vision_sha") or label)
            names = {name_of[ident_of[(run.sha256, n)]] for n in entry["agents"]}
            if vision in label_of:
                mine = shift[label_of[vision]]
                mine["agents"] = sorted(set(mine["agents"]) | names)
                continue
            png = run.run_dir / f"recon_{label}.png"
            if label in shift:  # two modules with one short label: use the full hash
                label = f"{entry.get('method')}-{vision}"
            label_of[vision] = label
            shift[label] = {
                **entry,
                "agents": sorted(names),
                "domains": {n: entry["domains"][n] for n in domains},
            }
            if png.is_file():
                recon[label] = png

    results: dict[str, Any] = {
        "run_key": key,
        "run_dir": str(run_dir),
        "config": {
            "baseline_method": settings["baseline_method"],
            "method_name": first["config"].get("method_name"),
            "deterministic": first["config"].get("deterministic"),
        },
        "env": first["env"],
        "seeds": first["seeds"],
        "domains": [d for d in first["domains"] if d["name"] in domains],
        "dropped_domains": dropped,
        "inputs": [
            {
                "run_key": run.key,
                "run_dir": str(run.run_dir),
                "results_sha256": run.sha256,
                "agents": sorted(
                    name_of[ident_of[(run.sha256, a["name"])]] for a in run.results["agents"]
                ),
                "domains": [d["name"] for d in run.results["domains"]],
            }
            for run in runs
        ],
        "duplicate_agents": [
            {"agent": name_of[ident], "manifest_sha256": ident, "runs": keys}
            for ident, keys in sorted(seen_in.items(), key=lambda kv: name_of[kv[0]])
            if len(keys) > 1
        ],
        "random": {n: first["random"][n] for n in domains},
        "agents": ordered,
        "bootstrap": {**settings["bootstrap"], "method": BOOTSTRAP_METHOD},
    }
    # the reference policy played the same episodes in every run; a run from before it existed
    # has none, and then the merged report shows raw returns only
    if all(run.results.get("reference") is not None for run in runs):
        results["reference"] = {n: first["reference"][n] for n in domains}
    if any("latent_shift" in run.results for run in runs):
        results["latent_shift"] = dict(sorted(shift.items()))
    return results, dict(sorted(recon.items()))


def _cell(cell: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """An episode summary whose video path (relative to its transfer run) still resolves: made
    absolute here, and relative to the report's folder again by :func:`link_videos`."""
    if not cell.get("video"):
        return dict(cell)
    return {**cell, "video": str(run_dir / cell["video"])}


def link_videos(results: dict[str, Any], run_dir: Path) -> list[Path]:
    """Each agent's rollout videos linked (a hard link, else a copy) into ``run_dir/videos/``
    as ``<agent>__<domain>.mp4``, and its cells' ``video`` made relative to ``run_dir``: the
    report's folder plays them from disk wherever it is opened or moved. A video no longer in its
    transfer run is dropped (``video`` None) rather than pointed to."""
    written = []
    for agent in results["agents"]:
        for domain, cell in agent["domains"].items():
            source = cell.get("video")
            if not source:
                continue
            source = Path(source)
            if not source.is_file():
                cell["video"] = None
                continue
            name = safe_name(f"{agent['name']}__{domain}")
            linked = Path(run_dir) / "videos" / f"{name}{source.suffix}"
            if not (linked.is_file() and linked.samefile(source)):
                link_or_copy(source, linked)
            cell["video"] = linked.relative_to(run_dir).as_posix()
            written.append(linked)
    return written


def _unique_names(agents: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Agent labels, unique across runs: a label two different agents share gets a hash suffix."""
    count: dict[str, int] = {}
    for agent in agents.values():
        count[agent["name"]] = count.get(agent["name"], 0) + 1
    return {
        ident: agent["name"] if count[agent["name"]] == 1 else f"{agent['name']}-{ident[:8]}"
        for ident, agent in agents.items()
    }

"""Stage 3, ``darla transfer``: every agent, unchanged, in every source and target domain.

Read top to bottom: check the agent runs and the config, resolve the domains and their split,
name the run folder, play the evaluation episodes (the same seeds for every agent and domain, a
uniformly random and the reference policy beside them, and each agent's blind twin once),
reduce them per agent and per method (rliable's statistics, normalised scores, the share of
episodes played blind), measure how far each vision module's latents move under each shift,
write the report, then the manifest.

A run folder ``runs/transfer/<key>/`` is keyed by the resolved config and the sha256 of each
agent run's manifest. Each finished (agent, domain) cell's episodes are stored at once in
``runs/transfer/episodes/``, keyed by what decides them (the agent's digest, the domain's
factors, the seeds, the env settings, greedy or sampled actions), and recorded in the run's
``cells/<agent>__<domain>.json``: an interrupted evaluation resumes where it stopped, and a
report with other statistics (bootstrap, baseline) replays no episode. A finished folder
(manifest written last) is reused unless ``force=true``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import envs
from darla.config import run_key, to_plain
from darla.errors import DarlaError
from darla.io import link_or_copy, safe_name, write_json, write_png
from darla.manifest import verified_file, write_manifest
from darla.reuse import RunKey, announce, run_lock
from darla.settings import check_section
from darla.transfer.aggregate import summarise
from darla.transfer.policies import (
    BlindPolicy,
    RandomPolicy,
    blind_share,
    check_agent_run,
    load_policy,
)
from darla.transfer.rollout import Cell, EnvSettings, episode_seeds, evaluate_cells
from darla.transfer.stats import BOOTSTRAP_METHOD
from darla.vision import FrozenEncoder
from darla.vision.inference import check_runtime
from envs.reference import ReferencePolicy

# A transfer run's key: the transfer settings less these, the evaluated domains resolved (names
# and factors), the source set's factors, every env setting and each agent run's manifest digest.
# (Each cell's episodes are cached apart, under a key of what decides them: see EPISODE_CACHE.)
TRANSFER_KEY = RunKey(
    "transfer",
    "transfer",
    ignored={
        "workers": "speed only: every episode's seed is fixed, whoever plays it",
        "threads": "speed only",
        "batch_episodes": "speed only: episodes in lock step play as they do alone",
    },
    held_apart={
        "domains": "held resolved: names and factors",
        "extra_domains": "held resolved: names and factors",
        "source_domains": "held resolved, as the source set's factors",
    },
)
SHORTCUTS = ("domains", "extra_domains", "episodes", "videos", "episodes_per_video")


def transfer_settings(cfg: dict[str, Any]) -> dict[str, Any]:
    """The ``transfer:`` section with the top-level shortcuts (``episodes=...``) applied."""
    return {**cfg["transfer"], **{k: cfg[k] for k in SHORTCUTS if k in cfg}}


def check_transfer_settings(t: dict[str, Any]) -> None:
    """transfer's numbers (with the shortcuts applied), before any agent is loaded."""
    check_section(
        "transfer",
        t,
        whole={
            "episodes": 1,
            "seed": 0,
            "obs_size": 8,
            "episode_steps": 1,
            "workers": 1,
            "batch_episodes": 1,
            "threads": 1,
            "episodes_per_video": 0,
            "video_fps": 1,
        },
        nullable=("obs_size", "episode_steps"),
    )
    check_runtime(t["inference"], "transfer.inference")
    check_section(
        "transfer.bootstrap",
        t["bootstrap"],
        whole={"reps": 1, "seed": 0},
        real={"confidence": (0.0, 1.0)},
        positive=("confidence",),
    )
    check_section("transfer.shift", t["shift"], whole={"layouts": 1, "steps": 1, "recon_frames": 0})


@dataclass
class TransferResult:
    run_dir: Path
    reused: bool
    results: dict[str, Any]
    report_html: Path
    summary: str = ""
    videos: list[Path] = field(default_factory=list)


def run_transfer(
    cfg: Any, agent_runs: list[str] | None = None, *, progress: bool = True
) -> TransferResult:
    """Run stage 3 for a composed ``transfer`` config on ``agent_runs`` (default: ``cfg.agent_runs``)."""
    from darla.transfer.render import write_report
    from darla.transfer.tables import summary_table

    cfg = to_plain(cfg)
    t = transfer_settings(cfg)
    runs = list(agent_runs if agent_runs is not None else cfg.get("agent_runs") or [])
    if not runs:
        raise DarlaError(
            "no agent runs to evaluate: `darla transfer runs/act/<name> [more runs] [overrides]`"
        )
    check_transfer_settings(t)
    episodes = int(t["episodes"])
    runs = _unique([check_agent_run(r) for r in runs])  # fail fast, before loading any weights
    domains = resolve_domains(t)
    policies = [load_policy(r, inference=t["inference"]) for r in runs]
    _label_policies(policies, t["method_name"])
    sources = source_set(t, policies)
    split = {
        name: "source" if any(dict(f) == dict(factors) for _, f in sources) else "target"
        for name, factors in domains
    }
    if "source" not in split.values() or "target" not in split.values():
        raise DarlaError(
            f"domains={[d for d, _ in domains]} has no {'source' if 'source' not in split.values() else 'target'} "
            "domain: a transfer ratio needs both; add one (e.g. domains=null for all named domains)"
        )
    settings = env_settings(t, policies)
    t = {**t, "deterministic": action_rule(t, policies)}  # resolved: the key holds it
    env = envs.env_settings(**settings.kwargs())  # every env setting, defaults included

    key = TRANSFER_KEY.key(
        t,
        # the domains as resolved (names and factors: an edited domain is another evaluation)
        [[name, factors] for name, factors in domains],
        [factors for _, factors in sources],
        env,
        sorted(p.manifest_sha256 for p in policies),
        EPISODE_FORMAT,  # what a results.json holds follows what its episodes hold
    )
    run_dir = Path(cfg["runs_root"]) / "transfer" / key
    # one writer per run folder: a sweep job evaluating the same agents waits, then reuses
    with run_lock(run_dir):
        if announce("transfer", TRANSFER_KEY, run_dir, {**cfg, "transfer": t}, force=cfg["force"]):
            results = json.loads((run_dir / "results.json").read_text())
            summary = summary_table(results)
            print(summary)
            print(f"report: {run_dir / 'report.html'}")
            return TransferResult(run_dir, True, results, run_dir / "report.html", summary)
        if cfg["force"] and run_dir.exists():
            shutil.rmtree(run_dir)
        (run_dir / "cells").mkdir(parents=True, exist_ok=True)
        torch.set_num_threads(int(t["threads"]))

        seeds = episode_seeds(int(t["seed"]), episodes)
        # the floor and the ceiling of the normalised score, on the same episodes as the agents
        baselines = [RandomPolicy(settings.obs_size), ReferencePolicy(settings.obs_size)]
        # Episodes are cached apart from this run folder, by what decides them: another report of
        # the same episodes (more bootstrap reps, another baseline) replays none of them.
        cache = Path(cfg["runs_root"]) / "transfer" / EPISODE_CACHE
        # Every agent and both baselines in every domain, and each agent's blind twin (blank
        # frames: the blind diagnostic) once, in the first source domain: what it sees is blank
        # whatever the domain, so that play stands for every domain.
        plan = [
            (f"{p.name}__{safe_name(name)}", p, (name, factors), _identity(p, policies))
            for p in [*baselines, *policies]
            for name, factors in domains
        ]
        plan += [
            (blind_cell(p.name), BlindPolicy(p), sources[0], [p.manifest_sha256, "blind", BlindPolicy.BLANK])
            for p in policies
        ]  # fmt: skip
        cells, stored, episode_files = [], {}, {}
        for cell_key, policy, (name, factors), identity in plan:
            digest = run_key(
                identity, factors, seeds, env, bool(t["deterministic"]), EPISODE_FORMAT
            )
            video = None
            if t["videos"] and int(t["episodes_per_video"]) > 0 and policy in policies:
                video = {
                    "episodes": min(int(t["episodes_per_video"]), episodes),
                    "fps": int(t["video_fps"]),
                }
                # its caption names the agent and domain as labelled here
                label = run_key(video, policy.name, name)
                video["path"] = str(cache / f"{digest}.{label}.mp4")
            episodes_file = episode_files[cell_key] = cache / f"{digest}.json"
            path = run_dir / "cells" / f"{cell_key}.json"
            video_file = _cached_video(video)
            if (
                not cfg["force"]
                and not path.is_file()
                and episodes_file.is_file()
                and (video is None or video_file is not None)
            ):
                episodes_played = json.loads(episodes_file.read_text())["episodes"]
                _record(run_dir, cell_key, policy.name, name, seeds, episodes_played,
                        episodes_file.stem, video_file)  # fmt: skip
            if path.is_file():
                stored[cell_key] = json.loads(path.read_text())
                continue
            cells.append(Cell(cell_key, policy, (name, factors), seeds, video))
        if stored:
            print(
                f"transfer: {run_dir}: {len(stored)} of {len(stored) + len(cells)} cells done "
                "already (episodes are stored once, by agent, domain factors, seeds and env, and "
                "never replayed)"
            )

        def store(cell: Cell, results: list[dict[str, Any]], video: str | None) -> None:
            episodes_file = episode_files[cell.key]
            write_json(episodes_file, {"seeds": cell.seeds, "episodes": results})
            stored[cell.key] = _record(
                run_dir, cell.key, cell.policy.name, cell.domain[0], cell.seeds, results,
                episodes_file.stem, None if video is None else Path(video),
            )  # fmt: skip

        evaluate_cells(
            cells, settings, deterministic=bool(t["deterministic"]), workers=int(t["workers"]),
            batch_episodes=int(t["batch_episodes"]), threads=int(t["threads"]), on_cell=store,
            progress=progress,
        )  # fmt: skip

        results = assemble(
            t, key, run_dir, domains, split, settings, seeds, policies, baselines, stored
        )
        images = {}
        if t["shift"]["enabled"]:
            results["latent_shift"], images = measure_shift(
                t, run_dir, domains, sources, settings, policies
            )
        summarise(results)  # the same reduction as `darla report`'s (darla.transfer.aggregate)
        report_html = write_report(run_dir, results, images).html
        write_manifest(
            run_dir,
            stage="transfer",
            config={**cfg, "transfer": t, "agent_runs": [str(r) for r in runs]},
            inputs={str(p.run_dir): p.manifest_sha256 for p in policies},
        )
        summary = summary_table(results)
        print(summary)
        print(f"report: {report_html}")
        videos = sorted(run_dir.glob("videos/*"))
        return TransferResult(run_dir, False, results, report_html, summary, videos)


# Under runs_root/transfer/: one JSON of episodes per (agent digest, domain factors, seeds, env
# settings, action rule, episode format), and one video per such cell and video setting.
EPISODE_CACHE = "episodes"
# 2: each episode carries its action sequence's digest (the blind diagnostic compares them)
EPISODE_FORMAT = 2


def blind_cell(agent: str) -> str:
    """The cell key of an agent's blind twin ('@' is in no domain's cell key)."""
    return f"{agent}@blind"


def _cached_video(video: dict[str, Any] | None) -> Path | None:
    """The cached video a cell asks for (mp4, or the gif written without ffmpeg), or None when
    none is asked for or it is not in the cache (then the cell is played)."""
    if video is None:
        return None
    for file in (Path(video["path"]), Path(video["path"]).with_suffix(".gif")):
        if file.is_file():
            return file
    return None


def _record(
    run_dir: Path,
    cell_key: str,
    agent: str,
    domain: str,
    seeds: list[int],
    episodes: list[dict[str, Any]],
    episodes_key: str,
    video: Path | None,
) -> dict[str, Any]:
    """This run's record of a cell (``cells/<agent>__<domain>.json``) of episodes from the cache
    entry ``episodes_key``, its video linked into ``videos/`` so the run folder stands alone."""
    relative = None
    if video is not None:
        linked = link_or_copy(video, run_dir / "videos" / f"{cell_key}{video.suffix}")
        relative = str(linked.relative_to(run_dir))
    record = {
        "agent": agent,
        "domain": domain,
        "seeds": seeds,
        "episodes": episodes,
        "episodes_key": episodes_key,  # the cache entry they came from
        "video": relative,
    }
    write_json(run_dir / "cells" / f"{cell_key}.json", record)
    return record


def _unique(runs: list[Path]) -> list[Path]:
    seen, out = set(), []
    for run in runs:
        if run.resolve() not in seen:
            seen.add(run.resolve())
            out.append(run)
    return out


def _label_policies(policies: list[Any], method_name: str) -> None:
    """Method names from ``method_name`` (e.g. ``{representation}-{algo}``); unique agent labels."""
    counts: dict[str, int] = {}
    for policy in policies:
        try:
            policy.method = method_name.format(
                representation=policy.representation, algo=policy.algo
            )
        except (KeyError, IndexError) as error:
            raise DarlaError(
                f"method_name={method_name!r} uses an unknown field {error}: use {{representation}} and {{algo}}"
            ) from error
        counts[policy.name] = counts.get(policy.name, 0) + 1
        if counts[policy.name] > 1 or policy.name in ("random", "reference"):
            policy.name = f"{policy.name}_{counts[policy.name]}"


def resolve_domains(cfg: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """``domains`` (null: every named domain) plus ``extra_domains``, resolved, without repeats."""
    specs = cfg["domains"] if cfg["domains"] is not None else envs.domain_names()
    if isinstance(specs, str):
        specs = [specs]
    specs = [*specs, *(cfg.get("extra_domains") or [])]
    if not specs:
        raise DarlaError("domains is empty: name the domains to evaluate (or domains=null for all)")
    out: list[tuple[str, dict[str, str]]] = []
    for spec in specs:
        try:
            name, factors = envs.resolve_domain(spec)
        except envs.DomainError as error:
            raise DarlaError(str(error)) from error
        if name not in {n for n, _ in out}:
            out.append((name, factors))
    return out


def source_set(cfg: dict[str, Any], policies: list[Any]) -> list[tuple[str, dict[str, str]]]:
    """The agents' training domains: ``source_domains``, else what the agents were trained on."""
    specs = cfg.get("source_domains")
    if specs is None:
        trained = {
            json.dumps(p.source_domains, sort_keys=True) for p in policies if p.source_domains
        }
        if len(trained) > 1:
            raise DarlaError(
                "the agents were trained on different source domains: set source_domains=[...] "
                "to say which domains count as source"
            )
        specs = json.loads(trained.pop()) if trained else envs.source_domains()
    try:
        return [envs.resolve_domain(s) for s in specs]
    except envs.DomainError as error:
        raise DarlaError(str(error)) from error


def action_rule(cfg: dict[str, Any], policies: list[Any]) -> bool:
    """Greedy (True) or sampled (False): ``deterministic``, else the rule act evaluated the
    agents with (so transfer scores the policy whose curve act drew), which they must share."""
    rule = _agreed("deterministic", [p.eval_deterministic for p in policies], cfg["deterministic"])
    return bool(rule)


def _agreed(field_name: str, values: list[Any], override: Any) -> Any:
    """``override`` when set, else the one value the agents share (None if none says)."""
    if override is not None:
        return override
    distinct = {json.dumps(v, sort_keys=True) for v in values if v is not None}
    if len(distinct) > 1:
        raise DarlaError(
            f"the agents were trained with different {field_name} ({', '.join(sorted(distinct))}): "
            f"set {field_name}=... to evaluate them in one env, or transfer them separately"
        )
    return json.loads(distinct.pop()) if distinct else None


def env_settings(cfg: dict[str, Any], policies: list[Any]) -> EnvSettings:
    """Frame size, episode length and env arguments: the config's, else the agents' (one set)."""
    obs_size = _agreed("obs_size", [p.obs_size for p in policies], cfg["obs_size"])
    for policy in policies:
        if policy.obs_size != obs_size:
            raise DarlaError(
                f"agent {policy.run_dir} takes {policy.obs_size}x{policy.obs_size} frames but the "
                f"domains render {obs_size}x{obs_size} (obs_size={obs_size}): drop obs_size=... or "
                "transfer that agent on its own"
            )
    steps = (
        _agreed("episode_steps", [p.episode_steps for p in policies], cfg["episode_steps"])
        or envs.env_settings()["max_episode_steps"]
    )
    env = _agreed("env", [p.env_kwargs or None for p in policies], cfg["env"] or None) or {}
    if steps < 1:
        raise DarlaError(f"episode_steps={steps}: episodes need at least one step")
    return EnvSettings(int(obs_size), int(steps), tuple(sorted(env.items())))


def _episode_summary(record: dict[str, Any], blind: dict[str, Any] | None = None) -> dict[str, Any]:
    """A cell's means over its episodes; with the agent's ``blind`` twin's record, the share of
    episodes it played exactly as blind (``blind_share``)."""
    eps = record["episodes"]
    returns = np.array([e["return"] for e in eps], dtype=float)
    return {
        "episodes": len(eps),
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "mean_good_pickups": float(np.mean([e["good_pickups"] for e in eps])),
        "mean_bad_pickups": float(np.mean([e["bad_pickups"] for e in eps])),
        "mean_length": float(np.mean([e["length"] for e in eps])),
        "returns": returns.tolist(),
        "video": record.get("video"),
        **({} if blind is None else {"blind_share": blind_share(eps, blind["episodes"])}),
    }


def _identity(policy: Any, agents: list[Any]) -> Any:
    """What decides a policy's episodes: an agent's manifest digest; for a baseline (it has no
    run folder to hash) its kind and version."""
    if policy in agents:
        return policy.manifest_sha256
    return [policy.name, getattr(policy, "version", 1), getattr(policy, "n_actions", 3)]


def assemble(cfg, key, run_dir, domains, split, settings, seeds, policies, baselines, stored):
    """Per-domain episode summaries from the stored cells; :func:`summarise` does the rest."""
    names = [n for n, _ in domains]
    random, reference = (
        {n: _episode_summary(stored[f"{baseline.name}__{safe_name(n)}"]) for n in names}
        for baseline in baselines
    )
    agents = [
        {
            "name": policy.name,
            "method": policy.method,
            "representation": policy.representation,
            "algo": policy.algo,
            "seed": policy.seed,
            "run_dir": str(policy.run_dir),
            "manifest_sha256": policy.manifest_sha256,
            # its frozen vision module's weights hash (None: pixels end to end): whether a
            # method's seeds share one module or each has its own is read from these
            "vision_sha": None if policy.vision is None else _vision_identity(policy.vision),
            "domains": {
                n: _episode_summary(
                    stored[f"{policy.name}__{safe_name(n)}"], stored[blind_cell(policy.name)]
                )
                for n in names
            },
            "blind": _episode_summary(stored[blind_cell(policy.name)]),
        }
        for policy in policies
    ]
    return {
        "run_key": key,
        "run_dir": str(run_dir),
        "config": cfg,
        "env": settings.kwargs(),
        "seeds": seeds,
        "domains": [{"name": n, "split": split[n], "factors": f} for n, f in domains],
        "random": random,
        "reference": reference,
        "agents": agents,
        "bootstrap": {**cfg["bootstrap"], "method": BOOTSTRAP_METHOD},
    }


def _vision_identity(vision: Any) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(vision.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def _disentanglement(vision_run: Path | None) -> dict[str, float] | None:
    """Headline disentanglement scores from the vision run's metrics.json, when it has one."""
    from darla.metrics import headline_scores

    path = None if vision_run is None else Path(vision_run) / "metrics.json"
    if path is None or not path.is_file():
        return None
    verified_file(Path(vision_run), "metrics.json")  # as `darla see` or `darla metrics` wrote it
    try:
        return headline_scores(json.loads(path.read_text())) or None
    except (KeyError, TypeError, ValueError):
        return None


def measure_shift(cfg, run_dir, domains, sources, settings, policies):  # cfg: transfer settings
    """Latent shift per vision module and domain, and each module's reconstruction grid."""
    from darla.transfer.shift import latent_shift, nearest_source, paired_frames, recon_grid

    shift_cfg = cfg["shift"]
    modules: dict[str, dict[str, Any]] = {}
    for policy in policies:
        if policy.vision is None:
            continue
        ident = _vision_identity(policy.vision)
        entry = modules.setdefault(
            ident,
            {
                "vision": policy.vision,
                "method": policy.method,
                "agents": [],
                "scores": _disentanglement(getattr(policy, "vision_run", None)),
            },
        )
        entry["agents"].append(policy.name)
    if not modules:
        return {}, {}
    names = {n for n, _ in domains}
    references = {n: nearest_source(n, f, sources) for n, f in domains}
    needed = list(domains) + [s for s in sources if s[0] in set(references.values()) - names]
    steps = int(shift_cfg["steps"])
    frames = paired_frames(
        needed, settings, layouts=int(shift_cfg["layouts"]), steps=steps, seed=int(cfg["seed"])
    )
    picks = [
        k * (steps + 1) + steps // 2
        for k in range(min(int(shift_cfg["recon_frames"]), int(shift_cfg["layouts"])))
    ]
    out, images = {}, {}
    for ident, entry in modules.items():
        vision = entry["vision"]
        eyes = FrozenEncoder(vision, cfg["inference"])  # as the agents see
        latents = {n: eyes.in_batches(f) for n, f in frames.items()}
        label = f"{entry['method']}-{ident[:6]}"
        out[label] = {
            "method": entry["method"],
            "vision_sha": ident,
            "agents": entry["agents"],
            "latent_dim": int(vision.latent_dim),
            "disentanglement": entry["scores"],
            "domains": latent_shift(latents, references, steps + 1),
        }
        if vision.generative:  # a contrastive encoder has no decoder: shift numbers only
            grid = recon_grid(vision, {n: frames[n] for n, _ in domains}, picks)
            images[f"recon_{label}"] = write_png(run_dir / f"recon_{label}.png", grid)
    return out, images

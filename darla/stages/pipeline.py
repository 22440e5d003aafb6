"""``darla run``: see -> act -> transfer for several methods and seeds, in one command.

Nothing here trains or evaluates: each stage's own function does, and each names its run folder
by a hash of its resolved config and inputs, so a finished stage is reused and only what a
changed setting touches re-runs (an agent setting: act and transfer; a vision setting: see, act
and transfer). Baselines share what they can because their folders coincide: one data
collection for every vision model on the same domains, one DAE for every β-VAE_DAE of a seed.

Vision modules per agent seed (``vision_seed``): an integer trains one vision module with that
see seed, shared by every agent seed of a method (cheap, but intervals over agent seeds then
leave out the variance of vision training); ``vision_seed=agent`` trains one per agent seed,
with the agent's seed (its own DAE too, for DARLA), so each run is a full replicate.

Every stage config is composed before anything runs, so a bad method or override fails in one
line before minutes of work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from darla.config import compose, config_dir, quoted, to_plain
from darla.errors import DarlaError

if TYPE_CHECKING:
    from darla.stages.see import SeeResult


@dataclass(frozen=True)
class Method:
    """How one ``methods=`` entry maps onto the stages."""

    name: str
    representation: str  # what `darla act representation=` gets
    vision: str | None  # the `darla see vision=` it needs; None: no vision module


@dataclass
class StageOutcome:
    stage: str  # "see", "act" or "transfer"
    label: str  # e.g. "darla", "dae (for darla)", "darla-ppo seed 1"
    run_dir: Path
    reused: bool


@dataclass
class PipelineResult:
    outcomes: list[StageOutcome]
    transfer_run: Path
    report_html: Path
    agent_runs: list[Path] = field(default_factory=list)

    def ran(self) -> list[StageOutcome]:
        """The stages computed (not reused) by this call."""
        return [o for o in self.outcomes if not o.reused]


def resolve_method(name: str) -> Method:
    """A method is an act representation (``darla``, ``pixels``...) or any vision model."""
    from darla.agents import REPRESENTATIONS

    rep = REPRESENTATIONS.get(name)
    if rep is not None and name != "vision_run":
        return Method(name, name, rep.vision)
    if (config_dir() / "vision" / f"{name}.yaml").is_file():
        return Method(name, "vision_run", name)  # any other vision model: its latent means
    models = sorted(p.stem for p in (config_dir() / "vision").glob("*.yaml"))
    choices = sorted({*REPRESENTATIONS, *models} - {"vision_run"})
    raise DarlaError(f"unknown method {name!r}: use one of {', '.join(choices)}")


def run_pipeline(cfg: Any, *, progress: bool = True) -> PipelineResult:
    """Run (or reuse) every stage of a composed ``run`` config; returns what each stage did."""
    from darla.stages.act import check_act_settings, run_act
    from darla.stages.see import check_see_settings, run_see
    from darla.stages.transfer import check_transfer_settings, run_transfer, transfer_settings

    cfg = to_plain(cfg)
    methods = [resolve_method(str(m)) for m in cfg["methods"] or []]
    seeds = [int(s) for s in cfg["seeds"] or []]
    if not methods or not seeds:
        raise DarlaError(
            "darla run needs at least one method and one seed (methods=[darla] seeds=[0])"
        )
    if len({m.name for m in methods}) != len(methods):
        raise DarlaError(f"methods={[m.name for m in methods]} names a method twice")
    vision_seeds = vision_seed_of(cfg["vision_seed"], seeds)
    see_seeds = sorted(set(vision_seeds.values()))
    common = [f"runs_root={quoted(cfg['runs_root'])}"]
    if cfg.get("preset"):
        common.append(f"experiment={cfg['preset']}")
    if cfg.get("force"):
        common.append("force=true")

    # Compose every stage first: a bad override or preset fails here, before any work.
    see_cfgs = {
        (m.vision, vision_seed): compose(
            "see",
            [
                *common,
                f"vision={m.vision}",
                f"seed={vision_seed}",
                *([f"beta={cfg['beta']}"] if cfg.get("beta") is not None else []),
                *cfg["see_overrides"],
            ],
        )
        for m in methods
        if m.vision is not None
        for vision_seed in see_seeds
    }
    act_overrides = [*common, f"agent={cfg['agent']}", *cfg["act_overrides"]]
    act_cfgs = {
        m.name: compose("act", [*act_overrides, f"representation={m.representation}"])
        for m in methods
    }
    transfer_cfg = compose("transfer", [*common, *cfg["transfer_overrides"]])
    for see_cfg in see_cfgs.values():
        check_see_settings(to_plain(see_cfg))
    for act_cfg in act_cfgs.values():
        check_act_settings(to_plain(act_cfg))
    check_transfer_settings(transfer_settings(to_plain(transfer_cfg)))

    outcomes: list[StageOutcome] = []
    vision_runs: dict[tuple[str, int], SeeResult] = {}
    for (vision, vision_seed), see_cfg in see_cfgs.items():
        result = run_see(see_cfg, progress=progress)
        label = vision if len(see_seeds) == 1 else f"{vision} seed {vision_seed}"
        for part, part_run in result.all_part_runs():  # the models it is built on, e.g. a DAE
            outcomes.append(
                StageOutcome("see", f"{part} (for {label})", part_run.run_dir, part_run.reused)
            )
        outcomes.append(StageOutcome("see", label, result.run_dir, result.reused))
        vision_runs[vision, vision_seed] = result

    agent_runs: list[Path] = []
    for method in methods:
        for seed in seeds:
            act_cfg = {**to_plain(act_cfgs[method.name]), "seed": seed}
            vision = (
                None
                if method.vision is None
                else vision_runs[method.vision, vision_seeds[seed]].weights
            )
            result = run_act(act_cfg, vision=vision, progress=progress)
            if not result.finished:
                raise DarlaError(f"agent run {result.run_dir} stopped before its last step")
            label = f"{method.name}-{cfg['agent']} seed {seed}"
            outcomes.append(StageOutcome("act", label, result.run_dir, result.reused))
            agent_runs.append(result.run_dir)

    transfer = run_transfer(
        transfer_cfg, agent_runs=[str(r) for r in agent_runs], progress=progress
    )
    outcomes.append(StageOutcome("transfer", "all agents", transfer.run_dir, transfer.reused))
    return PipelineResult(outcomes, transfer.run_dir, transfer.report_html, agent_runs)


def vision_seed_of(setting: Any, seeds: list[int]) -> dict[int, int]:
    """The see seed of each agent seed: ``agent`` gives each agent seed its own vision module
    (trained with that seed); an integer, one module with that seed for all of them."""
    if setting == "agent":
        return {seed: seed for seed in seeds}
    if isinstance(setting, bool) or not isinstance(setting, int) or setting < 0:
        raise DarlaError(
            f"vision_seed={setting!r}: use a see seed (an integer >= 0, one vision module shared "
            "by every agent seed) or vision_seed=agent (one per agent seed)"
        )
    return {seed: setting for seed in seeds}


def print_outcomes(result: PipelineResult) -> None:
    """The last lines of ``darla run``: per stage, reused or ran, then the report's path."""
    print("\nstages:")
    for outcome in result.outcomes:
        status = "reused" if outcome.reused else "ran"
        print(f"  {outcome.stage:<9} {outcome.label:<28} {status:<7} {outcome.run_dir}")
    print(f"report: {result.report_html}")


def pipeline_outcome(result: PipelineResult) -> dict[str, Any]:
    """What a ``darla run -m`` job records for the sweep's closing report (:mod:`darla.sweeps`)."""
    return {
        "transfer_run": str(result.transfer_run),
        "report_html": str(result.report_html),
        "outcomes": [
            {"stage": o.stage, "label": o.label, "run_dir": str(o.run_dir), "reused": o.reused}
            for o in result.outcomes
        ],
    }

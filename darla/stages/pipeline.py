"""``darla run``: see -> act -> transfer for several methods and seeds, in one command.

Nothing here trains or evaluates: each stage's own function does, and each names its run folder
by a hash of its resolved config and inputs, so a finished stage is reused and only what a
changed setting touches re-runs (an agent setting: act and transfer; a vision setting: see, act
and transfer). Baselines share what they can because their folders coincide: one data
collection for every vision model on the same domains, one DAE for every β-VAE_DAE, one vision
module for every agent seed.

Every stage config is composed before anything runs, so a bad method or override fails in one
line before minutes of work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from darla.config import compose, config_dir, to_plain
from darla.errors import DarlaError


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
    if rep is not None and name != "frozen":
        return Method(name, name, rep.vision)
    if (config_dir() / "vision" / f"{name}.yaml").is_file():
        return Method(name, "frozen", name)  # any other vision model: its frozen latent means
    models = sorted(p.stem for p in (config_dir() / "vision").glob("*.yaml"))
    choices = sorted({*REPRESENTATIONS, *models} - {"frozen"})
    raise DarlaError(f"unknown method {name!r}: use one of {', '.join(choices)}")


def _quoted(value: Any) -> str:
    """A value Hydra's override grammar reads back unchanged (paths, strings with '=')."""
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def run_pipeline(cfg: Any, *, progress: bool = True) -> PipelineResult:
    """Run (or reuse) every stage of a composed ``run`` config; returns what each stage did."""
    from darla.stages.act import run_act
    from darla.stages.see import run_see
    from darla.stages.transfer import run_transfer

    cfg = to_plain(cfg)
    methods = [resolve_method(str(m)) for m in cfg["methods"] or []]
    seeds = [int(s) for s in cfg["seeds"] or []]
    if not methods or not seeds:
        raise DarlaError(
            "darla run needs at least one method and one seed (methods=[darla] seeds=[0])"
        )
    if len({m.name for m in methods}) != len(methods):
        raise DarlaError(f"methods={[m.name for m in methods]} names a method twice")
    common = [f"runs_root={_quoted(cfg['runs_root'])}"]
    if cfg.get("preset"):
        common.append(f"experiment={cfg['preset']}")
    if cfg.get("force"):
        common.append("force=true")

    # Compose every stage first: a bad override or preset fails here, before any work.
    see_cfgs = {
        m.vision: compose(
            "see",
            [
                *common,
                f"vision={m.vision}",
                f"seed={int(cfg['vision_seed'])}",
                *([f"beta={cfg['beta']}"] if cfg.get("beta") is not None else []),
                *cfg["see_overrides"],
            ],
        )
        for m in methods
        if m.vision is not None
    }
    act_overrides = [*common, f"agent={cfg['agent']}", *cfg["act_overrides"]]
    for method in methods:
        compose("act", [*act_overrides, f"representation={method.representation}"])
    transfer_cfg = compose("transfer", [*common, *cfg["transfer_overrides"]])

    outcomes: list[StageOutcome] = []
    vision_runs: dict[str, Path] = {}
    for vision, see_cfg in see_cfgs.items():
        result = run_see(see_cfg, progress=progress)
        if result.dae_run is not None and result.dae_reused is not None:
            outcomes.append(
                StageOutcome("see", f"dae (for {vision})", result.dae_run, result.dae_reused)
            )
        outcomes.append(StageOutcome("see", vision, result.run_dir, result.reused))
        vision_runs[vision] = result.run_dir

    agent_runs: list[Path] = []
    for method in methods:
        for seed in seeds:
            overrides = [
                *act_overrides,
                f"representation={method.representation}",
                f"seed={seed}",
            ]
            if method.vision is not None:
                overrides.append(f"vision_run={_quoted(vision_runs[method.vision])}")
            result = run_act(compose("act", overrides), progress=progress)
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


def print_outcomes(result: PipelineResult) -> None:
    """The last lines of ``darla run``: per stage, reused or ran, then the report's path."""
    print("\nstages:")
    for outcome in result.outcomes:
        status = "reused" if outcome.reused else "ran"
        print(f"  {outcome.stage:<9} {outcome.label:<28} {status:<7} {outcome.run_dir}")
    print(f"report: {result.report_html}")


def write_outcome(folder: Path, result: PipelineResult) -> Path:
    """``outcome.json`` in a sweep job's folder: how the multirun callback finds its results."""
    from darla.io import write_json

    return write_json(
        Path(folder) / "outcome.json",
        {
            "transfer_run": str(result.transfer_run),
            "report_html": str(result.report_html),
            "outcomes": [
                {"stage": o.stage, "label": o.label, "run_dir": str(o.run_dir), "reused": o.reused}
                for o in result.outcomes
            ],
        },
    )


def read_outcomes(sweep_dir: Path) -> list[dict[str, Any]]:
    """Every finished job's ``outcome.json`` under a sweep folder, in job order."""
    found = []
    for path in sorted(Path(sweep_dir).glob("*/outcome.json")):
        try:
            found.append(json.loads(path.read_text()))
        except json.JSONDecodeError:
            continue  # a job killed while writing: its runs are resumable, not reported
    return found


class SweepReport(Callback):
    """Hydra callback: after a ``darla run -m`` sweep, one report over every job's transfer run.

    Jobs record their transfer run in ``<sweep dir>/<job>/outcome.json``; a job that failed wrote
    none, and the report covers the others (their run folders are complete on disk either way).
    Hydra imports this class by name from ``darla/configs/run.yaml``.
    """

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

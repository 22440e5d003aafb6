"""The ``darla`` command. Thin: parse, call the library, turn expected mistakes into one line.

Expected mistakes (unknown domain, missing file, bad config) print ``darla: error: ...`` and exit
with code 2, with no traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from darla.errors import DarlaError


def _domains(args: argparse.Namespace) -> None:
    import envs
    from darla.preview import write_contact_sheet

    domains = args.domains.split(",") if args.domains else None
    for name in domains or ():
        envs.get_domain(name)  # fail before printing or rendering anything
    source, target = set(envs.source_domains()), set(envs.target_domains())
    defaults = envs.get_domain("A_room1")
    print(f"{'domain':<20} {'split':<7} factors (differences from A_room1)")
    for name in domains or envs.domain_names():
        factors = envs.get_domain(name)
        split = "source" if name in source else "target" if name in target else "-"
        changes = ", ".join(f"{k}={v}" for k, v in factors.items() if v != defaults[k]) or "-"
        print(f"{name:<20} {split:<7} {changes}")
    if args.sheet:
        path = write_contact_sheet(
            args.sheet, domains, frames=args.frames, seed=args.seed, obs_size=args.obs_size
        )
        print(f"contact sheet: {path}")


# Stages whose arguments are all Hydra overrides: (command, help, description).
HYDRA_STAGES = (
    (
        "see",
        "stage 1: collect frames and train a vision module (Hydra overrides, e.g. vision=darla beta=2)",
        "Stage 1. Arguments are Hydra overrides of darla/configs/see.yaml, e.g. "
        "`darla see vision=darla beta=2 seed=1`, `vision=factor_vae strength=3`, "
        "`experiment=smoke`, `--force` to retrain, `-m` to sweep "
        "(`darla see -m experiment=vision_sweep`: every model x strength x seed, then one table).",
    ),
    (
        "act",
        "stage 2: train an SB3 agent on a frozen vision module (Hydra overrides)",
        "Stage 2. Hydra overrides of darla/configs/act.yaml, e.g. `darla act representation=darla "
        "agent=dqn seed=1`, `vision_run=PATH`, `experiment=smoke`, `--force` to retrain, `-m` to sweep.",
    ),
    (
        "run",
        "all stages for several methods and seeds, reusing every finished stage (Hydra overrides)",
        "see -> act -> transfer in one command. Hydra overrides of darla/configs/run.yaml, e.g. "
        "`experiment=quickstart`, `methods=[darla,beta_vae,pixels] seeds=[0,1,2]`, "
        "\"act_overrides=['act.total_timesteps=50000']\"; `-m` sweeps (joblib; `hydra/launcher=ray` for Ray).",
    ),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="darla", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    domains = commands.add_parser(
        "domains", help="list the named domains; optionally render a contact sheet"
    )
    domains.add_argument(
        "--sheet", metavar="PNG", help="write a contact sheet of short rollouts here"
    )
    domains.add_argument(
        "--domains", metavar="A,B", help="comma-separated domain names (default: all)"
    )
    domains.add_argument("--frames", type=int, default=6, help="frames per domain")
    domains.add_argument("--seed", type=int, default=0)
    domains.add_argument("--obs-size", type=int, default=64)
    domains.set_defaults(run=_domains)

    for stage, help_text, description in HYDRA_STAGES:
        sub = commands.add_parser(stage, help=help_text, description=description)
        sub.add_argument("overrides", nargs=argparse.REMAINDER, help="Hydra overrides")
        sub.set_defaults(run=lambda args, stage=stage: _hydra_stage(stage, args.overrides))

    transfer = commands.add_parser(
        "transfer",
        help="stage 3: evaluate agents, unchanged, in every source and target domain",
        description="Stage 3. `darla transfer AGENT_RUN [AGENT_RUN ...] [overrides]`, e.g. "
        "`episodes=20`, `domains=[A_room1,A_room2]`, `videos=false`, `transfer.workers=4`, "
        "`experiment=smoke`, `--force`.",
    )
    transfer.add_argument(
        "args", nargs=argparse.REMAINDER, help="agent run folders, then Hydra overrides"
    )
    transfer.set_defaults(run=_transfer)

    metrics = commands.add_parser(
        "metrics", help="score a vision run's disentanglement on its domains' factor dataset"
    )
    metrics.add_argument("run_dir", help="a finished `darla see` run folder")
    metrics.add_argument(
        "--fast", action="store_true", help="smaller sample counts (seconds, noisier)"
    )
    metrics.add_argument("--metrics", help="comma-separated subset, e.g. mig,dci (default: all)")
    metrics.add_argument("--seed", type=int, default=0)
    metrics.add_argument(
        "--ood",
        action="store_true",
        help="also score on every combination of the domains' factor values, held-out ones "
        "included, as ood/<metric> (never for choosing a model)",
    )
    metrics.add_argument(
        "--inference",
        default="onnx",
        help="the encoder's runtime: onnx (ONNX Runtime, default) or eager (PyTorch)",
    )
    metrics.set_defaults(run=_metrics)

    report = commands.add_parser(
        "report",
        help="merge transfer runs into one comparison report, vision runs into a score table, or "
        "agent runs into learning curves",
        description="`darla report RUN_DIR [RUN_DIR ...]`: every finished transfer run at or under "
        "each folder (runs/transfer/<key>, runs/transfer, a sweep folder), merged into one report; "
        "given vision runs instead (runs/see, a `darla see -m` sweep folder), one table of their "
        "disentanglement scores per model and hyperparameter, median and range over seeds; given "
        "agent runs (runs/act/<run>, runs/act), their learning curves per method over seeds.",
    )
    report.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="transfer runs or parents")
    report.add_argument("--out", metavar="DIR", help="default: runs/report/<key of the inputs>")
    report.add_argument("--reps", type=int, help="bootstrap resamples (default: the inputs')")
    report.add_argument("--seed", type=int, help="bootstrap seed (default: the inputs')")
    report.add_argument("--baseline", metavar="METHOD", help="P(improvement) over this method")
    report.set_defaults(run=_report)
    return parser


def _metrics(args: argparse.Namespace) -> None:
    import json

    from darla.metrics import headline_scores
    from darla.stages.score import score_run

    names = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    path = score_run(
        args.run_dir,
        metrics=names,
        fast=args.fast,
        seed=args.seed,
        inference=args.inference,
        ood=args.ood,
    )
    for label, value in headline_scores(json.loads(path.read_text())).items():
        print(f"{label:<26} {value:.3f}")
    print(f"metrics: {path}")


def _report(args: argparse.Namespace) -> None:
    from darla.agents.curves import find_agent_runs, write_curves
    from darla.stages.report import run_report
    from darla.stages.vision_report import find_vision_runs, run_vision_report

    agents = find_agent_runs(args.run_dirs)
    if agents and not _holds_transfer_runs(args.run_dirs):  # learning curves over seeds
        from pathlib import Path

        write_curves(agents, Path(args.out or "runs/report/curves"))
        return
    if find_vision_runs(args.run_dirs) and not _holds_transfer_runs(args.run_dirs):
        run_vision_report(args.run_dirs, args.out)  # the disentanglement table of a see sweep
        return
    run_report(
        args.run_dirs, args.out, reps=args.reps, seed=args.seed, baseline=args.baseline
    )  # prints the summary table and `report: <path>` last


def _holds_transfer_runs(paths: Sequence[str]) -> bool:
    from darla.transfer.merge import find_transfer_runs

    try:
        return bool(find_transfer_runs(paths))
    except DarlaError:
        return False


def _transfer(args: argparse.Namespace) -> None:
    runs = [a for a in args.args if "=" not in a and not a.startswith("-")]
    overrides = [a for a in args.args if a not in runs]
    if runs:
        overrides.append("agent_runs=[" + ",".join(f"'{r}'" for r in runs) + "]")
    _hydra_stage("transfer", overrides)


def _hydra_stage(stage: str, overrides: list[str]) -> None:
    from darla.hydra_stage import run_stage

    run_stage(stage, overrides)


def main(argv: Sequence[str] | None = None) -> int:
    import envs

    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    # Hydra flags before the overrides (`darla run -m ...`, `darla see --cfg job`) are Hydra's
    passthrough = (
        "overrides" if hasattr(args, "overrides") else "args" if hasattr(args, "args") else None
    )
    if unknown and passthrough is None:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if unknown:
        setattr(args, passthrough, [*unknown, *getattr(args, passthrough)])
    try:
        args.run(args)
    except (DarlaError, envs.DomainError, envs.RenderingUnavailableError) as error:
        print(f"darla: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "darla: interrupted: finished files are kept; run the same command again to resume "
            "(finished stages are reused, unfinished ones continue from their last checkpoint)",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

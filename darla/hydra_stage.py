"""Running a stage under ``hydra.main``, so sweeps (``-m``) and launchers work from ``darla``.

The config is composed once beforehand so that a bad override becomes one line and exit code 2;
inside the job, an expected mistake also exits 2 without a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from darla.config import compose, config_dir
from darla.errors import DarlaError


def _stage_task(stage: str) -> Callable[[Any], Any]:
    if stage == "see":
        from darla.stages.see import run_see

        def task(cfg: Any) -> None:
            from hydra.core.hydra_config import HydraConfig
            from hydra.types import RunMode

            from darla.sweeps import write_outcome

            result = run_see(cfg)
            hydra_cfg = HydraConfig.get()
            if hydra_cfg.mode == RunMode.MULTIRUN:  # for the sweep's closing table
                job_dir = Path(hydra_cfg.runtime.output_dir)
                write_outcome(job_dir, {"vision_run": str(result.run_dir)})
            print(f"vision run: {result.run_dir}")

        return task
    if stage == "act":
        from darla.stages.act import run_act

        def task(cfg: Any) -> None:
            print(f"agent run: {run_act(cfg).run_dir}")

        return task
    if stage == "transfer":
        from darla.stages.transfer import run_transfer

        def task(cfg: Any) -> None:
            run_transfer(cfg)  # prints the summary table and `report: <path>` last

        return task
    if stage == "run":
        from darla.stages.pipeline import pipeline_outcome, print_outcomes, run_pipeline
        from darla.sweeps import write_outcome

        def task(cfg: Any) -> None:
            from hydra.core.hydra_config import HydraConfig
            from hydra.types import RunMode

            result = run_pipeline(cfg)
            hydra_cfg = HydraConfig.get()
            if hydra_cfg.mode == RunMode.MULTIRUN:  # for the sweep's closing report
                write_outcome(Path(hydra_cfg.runtime.output_dir), pipeline_outcome(result))
            print_outcomes(result)

        return task
    raise DarlaError(f"unknown stage {stage!r}")


def run_stage(stage: str, overrides: Sequence[str]) -> int:
    import hydra

    overrides = ["force=true" if arg == "--force" else arg for arg in overrides]
    compose(
        stage, _first_of_each_sweep([o for o in overrides if "=" in o and not o.startswith("-")])
    )
    task = _stage_task(stage)

    errors: list[DarlaError] = []

    def guarded(cfg: Any) -> None:
        try:
            task(cfg)
        except DarlaError as error:  # expected mistakes: one line from the CLI, no traceback
            errors.append(error)

    main = hydra.main(config_path=str(config_dir()), config_name=stage, version_base="1.3")(guarded)
    saved_argv = sys.argv
    sys.argv = [f"darla {stage}", *overrides]
    try:
        main()
    finally:
        sys.argv = saved_argv
    if errors:
        raise errors[0]
    return 0


def _first_of_each_sweep(overrides: list[str]) -> list[str]:
    """``seed=0,1,2`` -> ``seed=0``: a sweep is checked by composing its first job up front."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as error:
        raise DarlaError(" ".join(str(error).split())) from error
    first = []
    for override, text in zip(parsed, overrides, strict=True):
        if override.is_sweep_override():
            value = next(iter(override.sweep_string_iterator()))
            first.append(f"{override.get_key_element()}={value}")
        else:
            first.append(text)
    return first

"""Scoring a vision module: disentanglement on the factor dataset of its vision domains, and
the object probe on random-agent episodes there.

The factor dataset holds the vision domains' own factor combinations (``combinations="domains"``,
``envs.scene_factors``): a model is chosen on what it was trained on, never on a held-out target
domain's combination. ``ood=True`` also scores the disentanglement metrics on every combination
of those domains' values (``combinations="all"``: in the source set, pair A in room 2, the
held-out target, included), stored beside the others as ``ood/<metric>`` in ``metrics.json``:
for reading how a code generalises, not for choosing a model.

``darla see`` calls this after training (and again on a reused run when the metric settings
asked for differ from those its ``metrics.json`` was scored with) and ``darla metrics RUN_DIR``
calls it on any finished vision run, so both write the same ``metrics.json``. Whoever rewrites
it records the settings and the file's new sha256 in the run's manifest.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

import envs
from darla.errors import DarlaError
from darla.manifest import is_finished, read_manifest, verified_file, write_manifest
from darla.metrics.memoized import MemoizedRepresentationFunction
from darla.vision import FrozenEncoder, VisionModel, load_model
from darla.vision.inference import check_runtime
from envs.scene_factors import COMBINATIONS

#: Where ``ood=True``'s results sit in ``metrics.json``: ``ood/mig``, ``ood/dci``, ...
OOD_PREFIX = "ood/"


def score_model(
    model: VisionModel,
    domains: Sequence[Any],
    obs_size: int,
    *,
    metrics: Sequence[str] | None = None,
    fast: bool = False,
    seed: int = 0,
    progress: bool = True,
    dataset: str = "env",
    action_repeat: int | None = None,
    inference: str = "onnx",
    combinations: str = "domains",
    ood: bool = False,
) -> dict[str, Any]:
    """Metrics of ``model`` on the factor dataset of ``domains`` (``dataset="env"``) or on the
    2D shapes (``dataset="shapes"``, for models trained with ``data.dataset=shapes``).

    ``metrics=None`` is every metric that applies; the object probe renders random-agent
    episodes in ``domains`` at ``action_repeat`` (the run's ``data.action_repeat``; None: the
    collection's default), and is left out, with a line saying so, on the shapes.
    ``combinations`` is the env factor dataset's support (see the module docstring); ``ood``
    adds the disentanglement metrics on ``combinations="all"`` under ``ood/<metric>`` (same
    seed, so only the dataset differs; the object probe has no OOD column). The shapes'
    factors are independent, so there ``ood`` adds nothing and is skipped with a line.
    """
    from darla.metrics import ALL, ENV_METRICS, evaluate

    check_scoring_options(combinations, ood)
    names = tuple(metrics) if metrics else None
    if dataset == "shapes":
        factors = envs.Shapes2D(image_size=obs_size)
        skipped = [m for m in names or () if m in ENV_METRICS]
        if skipped and names is not None:
            names = tuple(m for m in names if m not in ENV_METRICS)
            if not names:
                raise DarlaError(
                    f"{', '.join(skipped)} needs the env's objects and the 2D shapes have none; "
                    "ask for a disentanglement metric (mig, dci, ...)"
                )
            print(f"metrics: {', '.join(skipped)} skipped: the 2D shapes have no objects")
        if ood:
            print("metrics: ood skipped: the 2D shapes' factors are independent already")
    else:
        factors = envs.make_factor_dataset(
            list(domains), obs_size=obs_size, combinations=combinations
        )
    overrides = {} if action_repeat is None else {"object_probe": {"action_repeat": action_repeat}}
    # latent means are deterministic; the same runtime as act's and transfer's
    represent = MemoizedRepresentationFunction(FrozenEncoder(model, inference).in_batches)
    kwargs = {"fast": fast, "progress": progress}
    try:
        results = evaluate(
            factors,
            represent,
            rng=np.random.default_rng(seed),
            metrics=names,
            overrides=overrides,
            **kwargs,
        )
    finally:
        if hasattr(factors, "close"):
            factors.close()
    if not ood or dataset == "shapes":
        return results
    ood_names = tuple(m for m in (names or ALL) if m not in ENV_METRICS)
    if not ood_names:
        print("metrics: ood skipped: the object probe has no OOD column; ask for mig, dci, ...")
        return results
    everything = envs.make_factor_dataset(list(domains), obs_size=obs_size, combinations="all")
    try:
        scored = evaluate(
            everything, represent, rng=np.random.default_rng(seed), metrics=ood_names, **kwargs
        )
    finally:
        everything.close()
    return {**results, **{f"{OOD_PREFIX}{name}": result for name, result in scored.items()}}


def check_scoring_options(combinations: Any, ood: Any) -> None:
    """``metrics.combinations`` and ``metrics.ood``, with the fix in the message."""
    if combinations not in COMBINATIONS:
        raise DarlaError(
            f"metrics.combinations must be one of {', '.join(COMBINATIONS)}, got "
            f"{combinations!r}: domains (the vision domains' own factor combinations, what a "
            "model is chosen on) or all (every combination of their values, held-out ones too)"
        )
    if not isinstance(ood, bool):
        raise DarlaError(f"metrics.ood must be true or false, got {ood!r}")
    if ood and combinations == "all":
        raise DarlaError(
            "metrics.ood=true adds the combinations=all scores, which metrics.combinations=all "
            "already gives: set metrics.combinations=domains, or metrics.ood=false"
        )


def score_run(
    run_dir: str | Path,
    *,
    metrics: Sequence[str] | None = None,
    fast: bool = False,
    seed: int = 0,
    progress: bool = True,
    inference: str = "onnx",
    combinations: str = "domains",
    ood: bool = False,
) -> Path:
    """Score a finished vision run and write ``metrics.json`` into it (atomically); its encoder
    runs in ``inference`` (onnx or eager); ``combinations`` and ``ood`` as for
    :func:`score_model`."""
    from darla.metrics import ALL, write_metrics

    unknown = sorted(set(metrics or ()) - set(ALL))
    if unknown:
        raise DarlaError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(ALL)}")
    run_dir = Path(run_dir)
    config_path = run_dir / "config.yaml"
    if not (run_dir / "model.safetensors").is_file() or not config_path.is_file():
        raise DarlaError(
            f"{run_dir} is not a finished vision run (no model.safetensors or config.yaml); "
            "make one with `darla see`"
        )
    config = yaml.safe_load(config_path.read_text())
    if not is_finished(run_dir):
        raise DarlaError(
            f"{run_dir} is not a finished vision run (no finished manifest.json): let `darla see` "
            "finish (re-run it to resume), then score it"
        )
    model = load_model(verified_file(run_dir, "model.safetensors").path)
    results = score_model(
        model,
        config["data"]["domains"],
        int(config["data"]["obs_size"]),
        metrics=metrics,
        fast=fast,
        seed=seed,
        progress=progress,
        dataset=config["data"].get("dataset", "env"),
        action_repeat=config["data"].get("action_repeat"),
        inference=check_runtime(inference),
        combinations=combinations,
        ood=ood,
    )
    path = run_dir / "metrics.json"
    if path.is_file():  # scoring a subset keeps the other metrics; a corrupt file is replaced
        with contextlib.suppress(json.JSONDecodeError):
            kept = json.loads(path.read_text())
            if not ood:  # OOD columns of an earlier scoring would outlive the settings recorded
                kept = {k: v for k, v in kept.items() if not k.startswith(OOD_PREFIX)}
            results = {**kept, **results}
    write_metrics(path, results)
    scoring = {
        "fast": fast,
        "names": metrics,
        "seed": seed,
        "inference": inference,
        "combinations": combinations,
        "ood": ood,
    }
    record_scoring(run_dir, {"enabled": True, **scoring})
    return path


# The metric settings a metrics.json depends on (``enabled`` only says whether to score). A
# metrics.json recorded before ``combinations`` existed was scored on every combination of the
# domains' values (held-out ones included): its None differs from "domains", so it is rescored.
SCORING = ("fast", "names", "seed", "inference", "combinations", "ood")


def record_scoring(run_dir: Path, settings: dict[str, Any]) -> None:
    """After ``metrics.json`` was rewritten: the manifest names the settings it was scored with
    and holds the file's new sha256, so the run folder stays verifiable."""
    manifest = read_manifest(run_dir)
    if manifest is None:
        return
    write_manifest(
        run_dir,
        stage=manifest["stage"],
        config={**manifest["config"], "metrics": dict(settings)},
        inputs=manifest["inputs"],
        finished=bool(manifest["finished"]),
    )


def scored_with(run_dir: Path) -> dict[str, Any] | None:
    """The metric settings of a run's ``metrics.json`` (from its manifest), or None if unscored."""
    if not (Path(run_dir) / "metrics.json").is_file():
        return None
    settings = ((read_manifest(run_dir) or {}).get("config") or {}).get("metrics") or {}
    return {key: settings.get(key) for key in SCORING}

"""Stage 1, ``darla see``: frames from a random agent in the vision domains -> a vision module.

Read top to bottom: the config becomes a plan of see runs (:func:`_plan`): the model asked for
and, made before it, each trained model it is built on (its ``pretrained`` parts, see
:class:`~darla.vision.base.PretrainedPart`: ``vision=darla``'s DAE, ``vision=scan``'s visual
β-VAE_DAE). A part is either the finished run the user names (``dae_run=PATH``,
``visual_run=PATH``) or a see run of its own config (``vision.dae``, ``vision.visual``) on the
same frames and settings, trained or reused. Every model is built once, untrained, so a bad
option fails before any frame is collected; then the frames are collected (or reused) and the
plan's runs are made, parts first. ``vision=dcign`` trains on clamped batches rendered from the
factor dataset instead of the collected frames (:mod:`darla.vision.training.inputs`).

A run folder is named by a key of everything that determines its weights (model config, training
settings, data hash, seed, its parts' weights): a finished folder with the same key is reused.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from darla.config import to_plain
from darla.data import FrameDataset
from darla.data.sources import dataset_name, frames_hash, load_frames
from darla.errors import DarlaError
from darla.io import write_png, write_text
from darla.manifest import Artifact, is_finished, recorded_file, verified_file, write_manifest
from darla.reuse import RunKey, announce, run_lock
from darla.settings import check_section, whole_number
from darla.stages.score import (
    SCORING,
    check_scoring_options,
    record_scoring,
    score_model,
    scored_with,
)
from darla.vision import (
    VisionModel,
    build_model,
    eval_mode,
    images_to_tensor,
    kl_per_dim,
    load_model,
    reconstruction_grid,
    resolve_device,
    save_model,
    traversal_grid,
)
from darla.vision.base import PretrainedPart
from darla.vision.code_stats import CODE_STATS, code_statistics, write_code_stats
from darla.vision.inference import check_runtime
from darla.vision.registry import pretrained_parts
from darla.vision.serialization import WEIGHTS_NAME
from darla.vision.training.inputs import complete_model_kwargs, trainer_inputs
from darla.vision.training.scan_eval import write_scan_outputs
from darla.vision.training.trainer import TRAIN_MINIMUMS, TrainSettings, train_vision

# A vision run's key: the model's options, the training settings below less these, the
# validation split, the seed, the data's hash and its pretrained parts' weights.
SEE_KEY = RunKey(
    "see",
    "train",
    ignored={
        "checkpoint_every": "where a killed run resumes from; resume is exact",
        "log_every": "TensorBoard only",
        "image_every": "TensorBoard only",
        "val_batches": "the reported validation loss only, not the weights",
        "threads": "speed only",
    },
)


@dataclass
class SeeResult:
    run_dir: Path
    reused: bool
    # The see runs of the pretrained parts this call trained or reused for the model, by part
    # name (a part given as ``dae_run=``/``visual_run=`` has none): ``darla run`` lists each.
    part_runs: dict[str, SeeResult] = field(default_factory=dict)

    @property
    def weights(self) -> Artifact:
        """The vision module's weights with the digest recorded when they were written: what
        ``darla act`` takes (``run_act(cfg, vision=result.weights)``)."""
        return recorded_file(self.run_dir, WEIGHTS_NAME)

    def all_part_runs(self) -> list[tuple[str, SeeResult]]:
        """Every part run below this one with its part's name, a part's own parts before it."""
        found: list[tuple[str, SeeResult]] = []
        for name, part in self.part_runs.items():
            found += [*part.all_part_runs(), (name, part)]
        return found


@dataclass(frozen=True)
class VisionPlan:
    """One see run to make: its config, its model's options and its pretrained parts, in the
    order the model declares them: each the verified weights of a run the user named, or the
    plan of a run of its own, made first."""

    cfg: dict[str, Any]  # the see config of this run (a part's: its `vision:` section)
    name: str
    model_kwargs: dict[str, Any]  # without the parts: their weights' digests are in the key
    parts: dict[str, VisionPlan | Artifact]


@dataclass(frozen=True)
class Training:
    """What every run of one ``darla see`` trains on, and how."""

    data: FrameDataset
    train_idx: np.ndarray
    val_idx: np.ndarray
    settings: TrainSettings
    device: torch.device


def run_see(cfg: Any, *, progress: bool = True) -> SeeResult:
    """Run stage 1 for a composed ``see`` config; returns the vision run folder."""
    cfg = to_plain(cfg)
    # torch's thread count is process-wide: restore it, so a caller (a test, a notebook, a
    # pipeline running act next) keeps its own
    previous = torch.get_num_threads()
    torch.set_num_threads(int(cfg["train"]["threads"]))
    try:
        return _run_see(cfg, progress)
    finally:
        torch.set_num_threads(previous)


def check_see_settings(cfg: dict[str, Any]) -> None:
    """see's numbers, before any frame is collected (a model's own options are checked when it
    is built, untrained, just after)."""
    whole_number("seed", cfg["seed"], 0)
    check_section(
        "train",
        cfg["train"],
        whole={**TRAIN_MINIMUMS, "threads": 1},
        real={"lr": (0.0, None)},
        positive=("lr",),
    )
    check_section(
        "data",
        cfg["data"],
        whole={
            "num_frames": 2,
            "episode_length": 1,
            "action_repeat": 1,
            "obs_size": 8,
            "workers": 1,
        },
        real={"val_fraction": (0.0, 0.9)},
    )
    whole_number("metrics.seed", cfg["metrics"]["seed"], 0)
    check_runtime(cfg["metrics"]["inference"], "metrics.inference")
    check_scoring_options(
        cfg["metrics"].get("combinations", "domains"), cfg["metrics"].get("ood", False)
    )


def _run_see(cfg: dict[str, Any], progress: bool) -> SeeResult:
    check_see_settings(cfg)
    plan, _ = _plan(cfg)
    data, reused_data = load_frames(cfg, progress=progress)
    print(f"data: {'reused' if reused_data else 'collected'} {len(data)} frames in {data.folder}")
    train_idx, val_idx = data.split(cfg["data"]["val_fraction"], int(cfg["seed"]))
    settings = TrainSettings(**{k: v for k, v in cfg["train"].items() if k != "threads"})
    training = Training(data, train_idx, val_idx, settings, resolve_device(cfg["device"]))
    return _make(plan, training, progress)


def _plan(cfg: dict[str, Any]) -> tuple[VisionPlan, VisionModel]:
    """The plan of ``cfg``'s run, and its model built once, untrained, on its parts (untrained
    ones, or those of the runs the user named) so that a bad config fails before any frame is
    collected."""
    vision = cfg["vision"]
    name = vision["name"]
    obs_size = cfg["data"]["obs_size"]
    model_kwargs = complete_model_kwargs(
        name, _model_kwargs(vision, cfg.get("beta"), obs_size, cfg.get("strength")), cfg
    )
    parts: dict[str, VisionPlan | Artifact] = {}
    built: dict[str, VisionModel] = {}
    for part in pretrained_parts(name):
        if cfg.get(part.run_option):
            given = Path(cfg[part.run_option])
            parts[part.name], built[part.name] = _given_run(part, given, obs_size)
        else:
            parts[part.name], built[part.name] = _plan(_part_config(cfg, part))
    model = build_model(name, **{**model_kwargs, **built})
    return VisionPlan(cfg, name, model_kwargs, parts), model


def _model_kwargs(
    vision: dict[str, Any], beta: float | None, obs_size: int, strength: int | None = None
) -> dict[str, Any]:
    kwargs = dict(vision.get("model") or {})
    kwargs["image_size"] = obs_size
    if beta is not None:
        if strength is not None:
            raise DarlaError("beta and strength both set the main hyperparameter; drop one")
        kwargs["beta"] = float(beta)  # a model without one says so (OPTION_HINTS) when built
    if strength is not None:
        knob, value = strength_setting(vision, strength)
        kwargs[knob] = value
    return kwargs


def strength_setting(vision: dict[str, Any], strength: int) -> tuple[str, float]:
    """``strength=K``: the model's main hyperparameter and the K-th value of its grid
    (``vision.strengths``), so one sweep axis means "more regularisation" for every model, as
    in disentanglement_lib's study, and the run key holds the value, not the index."""
    grid = vision.get("strengths")
    name = vision["name"]
    if not grid:
        raise DarlaError(f"vision={name} has no strength grid; drop strength=...")
    values = list(grid["values"])
    if (
        isinstance(strength, bool)
        or not isinstance(strength, int)
        or not 0 <= strength < len(values)
    ):
        raise DarlaError(
            f"strength={strength!r} is not an index into vision={name}'s grid "
            f"{grid['knob']} {values}; use 0 to {len(values) - 1}"
        )
    return str(grid["knob"]), float(values[strength])


def _part_config(cfg: dict[str, Any], part: PretrainedPart) -> dict[str, Any]:
    """The see config of a part's own run: the same frames, training and scoring settings, and
    the model of ``vision.<part>``; ``beta`` and ``strength`` set the model's hyperparameter,
    not its part's."""
    vision = cfg["vision"]
    if not isinstance(vision.get(part.name), dict):
        raise DarlaError(
            f"vision={vision['name']} is built on a trained {part.what}: configure it as "
            f"vision.{part.name} (a vision config) or give a finished run as {part.run_option}=PATH"
        )
    return {**cfg, "vision": vision[part.name], "beta": None, "strength": None}


def _given_run(part: PretrainedPart, path: Path, obs_size: int) -> tuple[Artifact, VisionModel]:
    """The finished run a user names for ``part`` (``dae_run=PATH``): its weights, checked
    against the run's manifest, and the model they hold, of the part's kind and image size."""
    option = part.run_option
    file = path / WEIGHTS_NAME if path.is_dir() else path
    if not file.exists():
        also = f" (or {', '.join(part.trained_by[1:])})" if len(part.trained_by) > 1 else ""
        raise DarlaError(
            f"{option} {path} has no {WEIGHTS_NAME}; train one with "
            f"`darla see vision={part.trained_by[0]}`{also} or drop {option}"
        )
    weights = verified_file(file.parent, file.name)
    model = load_model(weights.path)
    if not isinstance(model, part.kind):
        raise DarlaError(
            f"{option} {path} holds a {model.config.get('name')} model, not a {part.what}; "
            f"point it at a `vision={part.trained_by[0]}` run"
        )
    size = model.config.get("image_size")
    if size != obs_size:
        raise DarlaError(
            f"{option} {path} was trained on {size}px frames but data.obs_size is {obs_size}; "
            f"set data.obs_size={size} or train a {part.what} at {obs_size}px"
        )
    return weights, model


def _make(plan: VisionPlan, training: Training, progress: bool) -> SeeResult:
    """Train or reuse ``plan``'s run, its parts' runs first; a part made here hands its weights
    over with the digest its manifest recorded."""
    part_runs: dict[str, SeeResult] = {}
    weights: dict[str, Artifact] = {}
    for name, part in plan.parts.items():
        if isinstance(part, VisionPlan):
            part_runs[name] = _make(part, training, progress)
            part = part_runs[name].weights
        weights[name] = part
    run_dir, reused = _train_run(plan, weights, training, progress)
    return SeeResult(run_dir, reused, part_runs)


def _train_run(
    plan: VisionPlan, weights: dict[str, Artifact], training: Training, progress: bool
) -> tuple[Path, bool]:
    """The run folder of ``plan`` given its parts' weights, and whether it was reused."""
    cfg, name, data = plan.cfg, plan.name, training.data
    seed = int(cfg["seed"])
    inputs = _key_inputs(data.hash, weights)
    run_dir = _run_dir(plan, inputs)
    key = run_dir.name.rsplit("-", 1)[1]
    model_kwargs = {**plan.model_kwargs, **{part: str(w.path) for part, w in weights.items()}}
    if "dataset_size" in model_kwargs and model_kwargs["dataset_size"] is None:
        # N for estimators over the data (β-TCVAE's q(z)): fixed by the data hash, val_fraction
        # and seed, all in the key already, so filled in after it (and `see_run_dir` agrees).
        model_kwargs = {**model_kwargs, "dataset_size": len(training.train_idx)}
    run_config = {
        **cfg,
        "vision": {**cfg["vision"], "name": name, "model": model_kwargs},
        "run_key": key,
    }
    with run_lock(run_dir):  # a sweep job needing the same model waits, then reuses it
        if announce(f"see {name}", SEE_KEY, run_dir, run_config, force=cfg["force"]):
            _rescore_if_asked(run_dir, cfg, progress)
            return run_dir, True
        if cfg["force"] and run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text(run_dir / "config.yaml", yaml.safe_dump(run_config, sort_keys=False))
        write_text(run_dir / "data_hash", data.hash + "\n")

        torch.manual_seed(seed)  # initial weights
        model = build_model(name, **model_kwargs).to(training.device)
        with trainer_inputs(name, data, model_kwargs, cfg) as batches:
            terms = train_vision(
                model,
                data.frames,
                training.train_idx,
                training.val_idx,
                training.settings,
                run_dir,
                seed=seed,
                label=name,
                progress=progress,
                **batches,
            )
        save_model(model, run_dir)
        # the scale darla act standardises this module's codes with (training frames only)
        stats = code_statistics(model, data.frames, training.train_idx)
        write_code_stats(run_dir / CODE_STATS, stats)
        shown = training.val_idx if len(training.val_idx) else training.train_idx
        _write_images(model, data, shown, run_dir, seed)
        summary = {k: float(v) for k, v in terms.items()}
        if cfg["metrics"]["enabled"] and not _copy_part_metrics(plan, weights, run_dir):
            _write_metrics(model, cfg, run_dir, progress)
        if hasattr(model, "img2sym"):  # scan: img2sym accuracy on held-out frames, sym2img grid
            write_scan_outputs(model, data, training.train_idx, cfg, run_dir)
        write_text(run_dir / "train_summary.yaml", yaml.safe_dump(summary, sort_keys=True))
        write_manifest(run_dir, stage="see", config=run_config, inputs=inputs)
        print(f"{name}: trained {run_dir} (val loss {summary['val_loss']:.4g})")
        return run_dir, False


def _key_inputs(data_hash: str, weights: dict[str, Artifact]) -> dict[str, str]:
    """A run's inputs: the frames' hash and each part's weights' digest (``dae_sha256``)."""
    return {"data_hash": data_hash, **{f"{part}_sha256": w.sha256 for part, w in weights.items()}}


def _run_dir(plan: VisionPlan, inputs: dict[str, str]) -> Path:
    """``runs/see/<name>-<key>``: the key covers everything that determines the weights."""
    cfg = plan.cfg
    key = SEE_KEY.key(
        cfg["train"], plan.name, plan.model_kwargs, cfg["data"]["val_fraction"], cfg["seed"], inputs
    )
    return Path(cfg["runs_root"]) / "see" / f"{plan.name}-{key}"


def see_run_dir(cfg: Any) -> Path | None:
    """The run folder ``darla see`` writes for ``cfg``, found without training anything.

    A model built on pretrained parts has their weights in its key, so its folder is known only
    once each part's run is finished (``darla``'s DAE, ``scan``'s visual model): None before.
    """
    plan, _ = _plan(to_plain(cfg))
    return _planned_run_dir(plan)


def _planned_run_dir(plan: VisionPlan) -> Path | None:
    weights: dict[str, Artifact] = {}
    for name, part in plan.parts.items():
        if isinstance(part, VisionPlan):
            part_dir = _planned_run_dir(part)
            if part_dir is None or not is_finished(part_dir):
                return None
            part = recorded_file(part_dir, WEIGHTS_NAME)
        weights[name] = part
    return _run_dir(plan, _key_inputs(frames_hash(plan.cfg), weights))


def _write_images(model, data: FrameDataset, indices: np.ndarray, run_dir: Path, seed: int) -> None:
    if not model.generative:  # no decoder (a contrastive encoder): no grids to draw
        return

    chosen = np.sort(
        np.random.default_rng([seed, 7]).choice(indices, min(8, len(indices)), replace=False)
    )
    frames = np.ascontiguousarray(data.frames[chosen])
    write_png(run_dir / "recon.png", reconstruction_grid(model, frames))
    with eval_mode(model):
        mu, logvar = model.encode(images_to_tensor(frames, model.device))
    if logvar is not None:  # a deterministic code (the DAE's) has no posterior to order rows by
        write_png(
            run_dir / "traversals.png",
            traversal_grid(model, frames[0], kl_per_dim=kl_per_dim(mu, logvar), max_rows=10),
        )


def _copy_part_metrics(plan: VisionPlan, weights: dict[str, Artifact], run_dir: Path) -> bool:
    """A model whose latents are a part's (SCAN's are its visual model's μ(x)) has the part's
    scores: copy that run's ``metrics.json`` when it was scored with the same settings on the
    same factor dataset (True), instead of scoring the same latents again."""
    cfg = plan.cfg
    for part in pretrained_parts(plan.name):
        if not part.shares_latents:
            continue
        part_dir = weights[part.name].path.parent
        config_path, metrics_path = part_dir / "config.yaml", part_dir / "metrics.json"
        if not (config_path.is_file() and metrics_path.is_file()):
            continue
        theirs = yaml.safe_load(config_path.read_text())
        data = theirs.get("data", {})
        same_data = (
            data.get("dataset", "env") == dataset_name(cfg)
            and data.get("domains") == cfg["data"]["domains"]
            and data.get("obs_size") == cfg["data"]["obs_size"]
        )
        if same_data and theirs.get("metrics") == cfg["metrics"]:
            write_text(run_dir / "metrics.json", metrics_path.read_text())
            print(f"metrics: the {part.what}'s, copied from {metrics_path} (same latents)")
            return True
    return False


def _rescore_if_asked(run_dir: Path, cfg: dict[str, Any], progress: bool) -> None:
    """A reused run whose ``metrics.json`` was scored with other settings (``metrics.fast=false``
    after a fast run, other names, seed, combinations or ood) is scored again; its weights are
    not retrained."""
    asked = cfg["metrics"]
    done = scored_with(run_dir)
    if not asked["enabled"] or done == {key: asked.get(key) for key in SCORING}:
        return
    changed = ", ".join(
        f"metrics.{key} {None if done is None else done[key]} -> {asked.get(key)}"
        for key in SCORING
        if done is None or done[key] != asked.get(key)
    )
    print(f"metrics: scoring {run_dir} again ({changed})")
    _write_metrics(load_model(run_dir), cfg, run_dir, progress)
    record_scoring(run_dir, asked)


def _write_metrics(model, cfg: dict[str, Any], run_dir: Path, progress: bool) -> None:
    from darla.metrics import write_metrics

    results = score_model(
        model,
        cfg["data"]["domains"],
        int(cfg["data"]["obs_size"]),
        metrics=cfg["metrics"].get("names"),
        fast=bool(cfg["metrics"]["fast"]),
        seed=int(cfg["metrics"]["seed"]),
        progress=progress,
        dataset=dataset_name(cfg),
        action_repeat=cfg["data"].get("action_repeat"),
        inference=cfg["metrics"]["inference"],
        combinations=cfg["metrics"].get("combinations", "domains"),
        ood=cfg["metrics"].get("ood", False),
    )
    write_metrics(run_dir / "metrics.json", results)

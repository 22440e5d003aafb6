"""Stage 1, ``darla see``: frames from a random agent in the vision domains -> a vision module.

``vision=darla`` is the whole DARLA vision module in one command: it first trains (or reuses, or
takes ``dae_run=``) the denoising autoencoder whose features are the β-VAE_DAE's reconstruction
target, then trains the β-VAE_DAE on the same frames.

``vision=scan`` likewise trains (or reuses, or takes ``visual_run=``) the β-VAE / β-VAE_DAE its
symbols are grounded in; ``vision=dcign`` trains on clamped batches rendered from the factor
dataset instead of the collected frames (see :mod:`darla.stages.see_data`).

A run folder is named by a key of everything that determines its weights (model config, training
settings, data hash, seed, the DAE's or visual model's weights): a finished folder with the same
key is reused.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from darla.config import run_key, to_plain
from darla.data import FrameDataset
from darla.errors import DarlaError
from darla.io import atomic_path, sha256_file, write_text
from darla.manifest import is_finished, write_manifest
from darla.reuse import announce, run_lock
from darla.stages.score import SCORING, record_scoring, score_model, scored_with
from darla.stages.see_data import (
    complete_model_kwargs,
    copy_visual_metrics,
    dataset_name,
    frames_hash,
    load_frames,
    trainer_inputs,
    write_scan_outputs,
)
from darla.stages.vision_trainer import TrainSettings, train_vision
from darla.vision import (
    DenoisingAutoencoder,
    build_model,
    eval_mode,
    images_to_tensor,
    kl_per_dim,
    load_model,
    read_config,
    reconstruction_grid,
    resolve_device,
    save_model,
    traversal_grid,
)
from darla.vision.serialization import WEIGHTS_NAME

# Settings that change logging only, not the weights: left out of the run key.
LOGGING_ONLY = ("checkpoint_every", "log_every", "image_every", "val_batches", "threads")


@dataclass
class SeeResult:
    run_dir: Path
    reused: bool
    dae_run: Path | None
    dae_reused: bool | None = None  # darla: whether its DAE was reused (None: given or no DAE)


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


def _run_see(cfg: dict[str, Any], progress: bool) -> SeeResult:
    vision = cfg["vision"]
    name = vision["name"]
    model_kwargs = complete_model_kwargs(
        name,
        _model_kwargs(vision, cfg.get("beta"), cfg["data"]["obs_size"], cfg.get("strength")),
        cfg,
    )
    settings = TrainSettings(**{k: v for k, v in cfg["train"].items() if k != "threads"})
    device = resolve_device(cfg["device"])
    seed = int(cfg["seed"])

    dae_file = None
    if name == "darla" and cfg.get("dae_run"):
        dae_file = _check_dae_run(Path(cfg["dae_run"]), cfg["data"]["obs_size"])
    visual_file = None
    if name == "scan" and cfg.get("visual_run"):
        visual_file = _check_visual_run(Path(cfg["visual_run"]), cfg["data"]["obs_size"])
    elif name == "scan":  # the visual model's config, before any frame is collected
        visual = vision["visual"]
        _validate_model(
            visual["name"], _model_kwargs(visual, None, cfg["data"]["obs_size"]), visual
        )
    _validate_model(name, model_kwargs, vision)

    data, reused_data = load_frames(cfg, progress=progress)
    print(f"data: {'reused' if reused_data else 'collected'} {len(data)} frames in {data.folder}")
    train_idx, val_idx = data.split(cfg["data"]["val_fraction"], seed)

    dae_run, dae_reused = None, None
    if name == "darla":
        if dae_file is None:
            dae_kwargs = _model_kwargs(vision["dae"], None, cfg["data"]["obs_size"])
            dae_result = _train_run(
                "dae", dae_kwargs, data, train_idx, val_idx, settings, cfg, device, progress
            )
            dae_file = dae_result.run_dir / WEIGHTS_NAME
            dae_run = dae_result.run_dir
            dae_reused = dae_result.reused
        else:
            dae_run = dae_file.parent
        model_kwargs["dae"] = str(dae_file)
    if name == "scan":
        if visual_file is None:  # the see run of vision.visual on the same data and settings
            visual_cfg = {**cfg, "vision": vision["visual"], "beta": None, "strength": None}
            visual_file = run_see(visual_cfg, progress=progress).run_dir / WEIGHTS_NAME
        model_kwargs["visual"] = str(visual_file)
    result = _train_run(
        name, model_kwargs, data, train_idx, val_idx, settings, cfg, device, progress
    )
    result.dae_run = dae_run
    result.dae_reused = dae_reused
    return result


def _model_kwargs(
    vision: dict[str, Any], beta: float | None, obs_size: int, strength: int | None = None
) -> dict[str, Any]:
    kwargs = dict(vision.get("model") or {})
    kwargs["image_size"] = obs_size
    if beta is not None:
        if vision["name"] == "dae":
            raise DarlaError(
                "beta applies to VAE-type models, not vision=dae; drop beta=... or pick vision=darla"
            )
        if strength is not None:
            raise DarlaError("beta and strength both set the main hyperparameter; drop one")
        kwargs["beta"] = float(beta)
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


def _validate_model(name: str, kwargs: dict[str, Any], vision: dict[str, Any]) -> None:
    """Build the model once, untrained, so a bad config fails before any frame is collected."""
    if name == "darla":
        dae = build_model("dae", **_model_kwargs(vision["dae"], None, kwargs["image_size"]))
        build_model("darla", dae=dae, **kwargs)
    elif name == "scan":  # its own options, on a stand-in for the visual model it will get
        build_model("scan", visual=build_model("vae", image_size=kwargs["image_size"]), **kwargs)
    else:
        build_model(name, **kwargs)


def _check_dae_run(path: Path, obs_size: int) -> Path:
    file = path / WEIGHTS_NAME if path.is_dir() else path
    if not file.exists():
        raise DarlaError(
            f"dae_run {path} has no {WEIGHTS_NAME}; train one with `darla see vision=dae` or drop dae_run"
        )
    dae = load_model(file)
    if not isinstance(dae, DenoisingAutoencoder):
        raise DarlaError(
            f"dae_run {path} holds a {dae.config.get('name')} model, not a DAE; point it at a `vision=dae` run"
        )
    if dae.config["image_size"] != obs_size:
        raise DarlaError(
            f"dae_run {path} was trained on {dae.config['image_size']}px frames but data.obs_size is {obs_size}; "
            f"set data.obs_size={dae.config['image_size']} or train a DAE at {obs_size}px"
        )
    return file


def _check_visual_run(path: Path, obs_size: int) -> Path:
    file = path / WEIGHTS_NAME if path.is_dir() else path
    if not file.exists():
        raise DarlaError(
            f"visual_run {path} has no {WEIGHTS_NAME}; train one with `darla see vision=darla` "
            "(or beta_vae) or drop visual_run"
        )
    size = read_config(file).get("image_size")
    if size != obs_size:
        raise DarlaError(
            f"visual_run {path} was trained on {size}px frames but data.obs_size is {obs_size}; "
            f"set data.obs_size={size}"
        )
    return file


def _train_run(
    name: str,
    model_kwargs: dict[str, Any],
    data: FrameDataset,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    settings: TrainSettings,
    cfg: dict[str, Any],
    device: torch.device,
    progress: bool,
) -> SeeResult:
    inputs = {"data_hash": data.hash}
    if "dae" in model_kwargs:
        inputs["dae_sha256"] = sha256_file(model_kwargs["dae"])
    if "visual" in model_kwargs:
        inputs["visual_sha256"] = sha256_file(model_kwargs["visual"])
    run_dir = _run_dir(cfg, name, model_kwargs, inputs)
    key = run_dir.name.rsplit("-", 1)[1]
    if "dataset_size" in model_kwargs and model_kwargs["dataset_size"] is None:
        # N for estimators over the data (β-TCVAE's q(z)): fixed by the data hash, val_fraction
        # and seed, all in the key already, so filled in after it (and `see_run_dir` agrees).
        model_kwargs = {**model_kwargs, "dataset_size": len(train_idx)}
    run_config = {
        **cfg,
        "vision": {**cfg["vision"], "name": name, "model": model_kwargs},
        "run_key": key,
    }
    with run_lock(run_dir):  # a sweep job needing the same model waits, then reuses it
        if announce(f"see {name}", run_dir, run_config, force=cfg["force"]):
            _rescore_if_asked(run_dir, cfg, progress)
            return SeeResult(run_dir, True, None)
        if cfg["force"] and run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text(run_dir / "config.yaml", yaml.safe_dump(run_config, sort_keys=False))
        write_text(run_dir / "data_hash", data.hash + "\n")

        torch.manual_seed(int(cfg["seed"]))  # initial weights
        model = build_model(name, **model_kwargs).to(device)
        with trainer_inputs(name, data, model_kwargs, cfg) as batches:
            terms = train_vision(
                model,
                data.frames,
                train_idx,
                val_idx,
                settings,
                run_dir,
                seed=int(cfg["seed"]),
                label=name,
                progress=progress,
                **batches,
            )
        save_model(model, run_dir)
        _write_images(
            model, data, val_idx if len(val_idx) else train_idx, run_dir, int(cfg["seed"])
        )
        summary = {k: float(v) for k, v in terms.items()}
        if cfg["metrics"]["enabled"] and not copy_visual_metrics(model_kwargs, cfg, run_dir):
            _write_metrics(model, cfg, run_dir, progress)
        if hasattr(model, "img2sym"):  # scan: img2sym accuracy on held-out frames, sym2img grid
            write_scan_outputs(model, data, train_idx, cfg, run_dir)
        write_text(run_dir / "train_summary.yaml", yaml.safe_dump(summary, sort_keys=True))
        write_manifest(run_dir, stage="see", config=run_config, inputs=inputs)
        print(f"{name}: trained {run_dir} (val loss {summary['val_loss']:.4g})")
        return SeeResult(run_dir, False, None)


def _run_dir(
    cfg: dict[str, Any], name: str, model_kwargs: dict[str, Any], inputs: dict[str, str]
) -> Path:
    """``runs/see/<name>-<key>``: the key covers everything that determines the weights."""
    key_train = {k: v for k, v in cfg["train"].items() if k not in LOGGING_ONLY}
    # the DAE's and the visual model's weights are in inputs
    architecture = {k: v for k, v in model_kwargs.items() if k not in ("dae", "visual")}
    key = run_key(name, architecture, key_train, cfg["data"]["val_fraction"], cfg["seed"], inputs)
    return Path(cfg["runs_root"]) / "see" / f"{name}-{key}"


def see_run_dir(cfg: Any) -> Path | None:
    """The run folder ``darla see`` writes for ``cfg``, found without training anything.

    For ``darla`` the key includes the DAE's weights, so it is known only once that DAE exists:
    None before; likewise for ``scan`` and its visual model.
    """
    cfg = to_plain(cfg)
    vision = cfg["vision"]
    name = vision["name"]
    inputs = {"data_hash": frames_hash(cfg)}
    model_kwargs = complete_model_kwargs(
        name,
        _model_kwargs(vision, cfg.get("beta"), cfg["data"]["obs_size"], cfg.get("strength")),
        cfg,
    )
    if name == "darla":
        if cfg.get("dae_run"):
            dae_file = _check_dae_run(Path(cfg["dae_run"]), cfg["data"]["obs_size"])
        else:
            dae_dir = see_run_dir({**cfg, "vision": vision["dae"], "beta": None, "strength": None})
            dae_file = dae_dir / WEIGHTS_NAME
            if not is_finished(dae_dir) or not dae_file.is_file():
                return None
        inputs["dae_sha256"] = sha256_file(dae_file)
    if name == "scan":
        if cfg.get("visual_run"):
            visual_file = _check_visual_run(Path(cfg["visual_run"]), cfg["data"]["obs_size"])
        else:
            visual_dir = see_run_dir(
                {**cfg, "vision": vision["visual"], "beta": None, "strength": None}
            )
            if visual_dir is None or not is_finished(visual_dir):
                return None
            visual_file = visual_dir / WEIGHTS_NAME
        inputs["visual_sha256"] = sha256_file(visual_file)
    return _run_dir(cfg, name, model_kwargs, inputs)


def _write_images(model, data: FrameDataset, indices: np.ndarray, run_dir: Path, seed: int) -> None:
    import imageio.v3 as iio

    if not model.generative:  # no decoder (a contrastive encoder): no grids to draw
        return

    chosen = np.sort(
        np.random.default_rng([seed, 7]).choice(indices, min(8, len(indices)), replace=False)
    )
    frames = np.ascontiguousarray(data.frames[chosen])
    with atomic_path(run_dir / "recon.png") as tmp:
        iio.imwrite(tmp, reconstruction_grid(model, frames))
    if model.config["name"] != "dae":
        with eval_mode(model):
            kl = kl_per_dim(*model.encode(images_to_tensor(frames, model.device)))
        with atomic_path(run_dir / "traversals.png") as tmp:
            iio.imwrite(tmp, traversal_grid(model, frames[0], kl_per_dim=kl, max_rows=10))


def _rescore_if_asked(run_dir: Path, cfg: dict[str, Any], progress: bool) -> None:
    """A reused run whose ``metrics.json`` was scored with other settings (``metrics.fast=false``
    after a fast run, other names or seed) is scored again; its weights are not retrained."""
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
    )
    write_metrics(run_dir / "metrics.json", results)

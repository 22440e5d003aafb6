"""Shared helpers for the vision tests: a tiny model for every registered name (32 px, narrow
layers), the Shapes2D frames they train on, runs made from them, and the checks every model's
`darla see` run shares."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

import envs
from darla.manifest import write_manifest
from darla.vision import VisionModel, build_model, load_model, save_model
from darla.vision.code_stats import CODE_STATS, code_statistics, write_code_stats
from darla.vision.training.batches import ClampedBatches
from darla.vision.training.inputs import training_data
from darla.vision.training.trainer import TrainSettings

SIZE = 32
SHAPE_NAMES = list(envs.Shapes2D.factor_names)


def shapes() -> envs.Shapes2D:
    return envs.Shapes2D(image_size=SIZE)


def shape_values() -> list[list]:
    return [[v if isinstance(v, str) else float(v) for v in vs] for vs in shapes().factor_values]


def shapes_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` Shapes2D frames (uint8, 32 px) and their factor indices."""
    data = shapes()
    factors = data.sample_factors(n, np.random.default_rng(seed))
    return data.render(factors), factors


# Small enough for a 2-core CPU; the schedules, estimators and discriminators still do something
# in a few steps. darla gets a tiny DAE and scan a tiny VAE unless dae= / visual= is given.
_VAE = dict(latent_dim=4, hidden_dim=32)
TINY: dict[str, dict[str, Any]] = {
    "dae": dict(bottleneck_dim=8),
    "darla": _VAE,
    "beta_vae": _VAE,
    "vae": _VAE,
    "annealed_vae": dict(_VAE, capacity_max=5.0, capacity_start=1, capacity_end=4),
    "factor_vae": dict(_VAE, discriminator_width=32, discriminator_layers=2),
    "beta_tcvae": dict(_VAE, dataset_size=64),
    "info_vae": _VAE,
    "dcign": dict(factor_names=SHAPE_NAMES, latents_per_factor=2, free_latents=1, hidden_dim=32),
    "scan": dict(factor_names=SHAPE_NAMES, factor_values=shape_values(), hidden_dim=32),
    "infogan": dict(
        noise_dim=8, continuous_dim=3, categorical_dims=[4], hidden_dim=32, lambda_cont=1.0
    ),
    "contrastive": dict(latent_dim=4, hidden_dim=32, projection_dim=8, projection_hidden_dim=16),
    # tau_base 0.9 and ema_steps 6 (SETTINGS.steps): the target moves and τ runs its schedule
    "byol": dict(
        latent_dim=4,
        hidden_dim=32,
        projection_dim=8,
        projection_hidden_dim=16,
        predictor_hidden_dim=16,
        tau_base=0.9,
        ema_steps=6,
    ),
    "dcodr": dict(latent_dim=4, hidden_dim=32),
}


def tiny_model(name: str, seed: int = 0, **overrides: Any) -> VisionModel:
    """``build_model(name)`` with the tiny options above (``overrides`` replace them), its weights
    drawn from ``seed``."""
    torch.manual_seed(seed)
    return _build(name, **overrides)


def _build(name: str, **overrides: Any) -> VisionModel:
    options = {"image_size": SIZE, **TINY[name], **overrides}
    if name == "darla" and "dae" not in overrides:
        options["dae"] = _build("dae")
    if name == "scan" and "visual" not in overrides:
        options["visual"] = _build("vae", latent_dim=6)
    return build_model(name, **options)


# A run short enough to repeat: checkpoints after steps 3 and 6.
SETTINGS = TrainSettings(
    steps=6, batch_size=8, lr=1e-3, checkpoint_every=3, log_every=2, image_every=3, val_batches=1
)


def synthetic_domains(n: int) -> np.ndarray:
    """A made-up source domain per frame (alternating 0, 1) for DCoDR's unit tests only:
    Shapes2D has no source domains, and real runs take them from the collected frames."""
    return np.arange(n) % 2


def trainer_inputs(name: str, factors: np.ndarray, batch_size: int, seed: int) -> dict[str, Any]:
    """What ``train_vision`` needs besides the frames: SCAN the frames' labels, DCoDR their
    (synthetic) domains, DC-IGN a sampler of clamped Shapes2D batches (the trainer closes it)."""
    kind = training_data(name)
    if kind == "labelled":
        return {"labels": factors}
    if kind == "domain_labelled":
        return {"labels": {"domains": synthetic_domains(len(factors))}}
    if kind == "clamped":
        return {"sampler": ClampedBatches(shapes, batch_size, seed=seed)}
    return {}


def loss_inputs(name: str, factors: np.ndarray) -> dict[str, Any]:
    """What ``model.loss`` needs besides the images (SCAN: the labels; DCoDR: domains)."""
    kind = training_data(name)
    if kind == "domain_labelled":
        return {"domains": torch.as_tensor(synthetic_domains(len(factors)))}
    return {"factors": torch.as_tensor(factors)} if kind == "labelled" else {}


def assert_same_state(a: Any, b: Any, where: str = "") -> None:
    """``a`` and ``b`` (nested dicts, lists, tensors and numbers, as in a state dict or a
    checkpoint) hold the same keys and bit-identical values."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_same_state(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_state(x, y, f"{where}/{i}")
    elif isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    else:
        assert a == b, where


def see_run(root: Path, model: VisionModel) -> Path:
    """A folder that looks like a finished `darla see` run of ``model`` (its code statistics
    over a few Shapes2D frames, as `darla see` writes them over its training frames)."""
    name = model.config["name"]
    run = Path(root) / "see" / f"{name}-test"
    save_model(model, run)
    frames, _ = shapes_data(16)
    write_code_stats(run / CODE_STATS, code_statistics(model, frames, np.arange(len(frames))))
    write_manifest(run, stage="see", config={"vision": {"name": name}}, inputs={})
    return run


@dataclass(frozen=True)
class SmokeRun:
    cfg: Any
    run: Path
    summary: dict[str, float]
    model: VisionModel
    reused: bool


def smoke_see(root: Path, name: str, *overrides: str) -> SmokeRun:
    """`darla see vision=NAME experiment=smoke`: a finished run where `see_run_dir` finds it, with
    finite training terms and a model that loads."""
    import yaml

    from darla.config import compose
    from darla.manifest import is_finished
    from darla.stages.see import run_see, see_run_dir

    cfg = compose("see", [f"vision={name}", "experiment=smoke", f"runs_root={root}", *overrides])
    result = run_see(cfg, progress=False)
    run = result.run_dir
    assert run.name.startswith(f"{name}-") and is_finished(run) and see_run_dir(cfg) == run
    assert (run / "model.safetensors").is_file()
    summary = yaml.safe_load((run / "train_summary.yaml").read_text())
    assert all(math.isfinite(v) for v in summary.values()), summary
    model = load_model(run)
    assert model.config["name"] == name
    return SmokeRun(cfg, run, summary, model, reused=result.reused)

"""The training loop shared by every vision model: checkpoints, exact resume, NaN guard, logging.

Resuming is exact on CPU: batches are a function of (seed, step) and the noise of step ``t`` comes
from ``torch.manual_seed(f(seed, t))``, so a killed run continued from its last checkpoint ends
with the same weights as an uninterrupted one. Batches come from collected frames by default, or
from any :class:`~darla.vision.training.batches.BatchSampler` (DC-IGN's clamped batches); what a batch
carries besides images (SCAN's labels, DCoDR's domain ids) goes to ``model.loss`` as keyword arguments.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from darla.errors import DarlaError
from darla.io import atomic_path
from darla.settings import check_section
from darla.vision import (
    VisionModel,
    eval_mode,
    images_to_tensor,
    reconstruction_grid,
    traversal_grid,
)
from darla.vision.training.batches import Batch, BatchSampler, BatchSource

CHECKPOINT_DIR = "checkpoints"
ACTIVE_KL_THRESHOLD = 0.01  # nats; a latent below it carries (almost) no information


@dataclass(frozen=True)
class TrainSettings:
    steps: int
    batch_size: int
    lr: float
    checkpoint_every: int
    log_every: int
    image_every: int
    val_batches: int

    def __post_init__(self) -> None:
        check_section(
            "train", asdict(self), whole=TRAIN_MINIMUMS, real={"lr": (0.0, None)}, positive=("lr",)
        )


# The training settings' smallest sensible values.
TRAIN_MINIMUMS = {
    "steps": 1,
    "batch_size": 1,
    "checkpoint_every": 1,
    "log_every": 1,
    "image_every": 1,
    "val_batches": 1,
}


StepCallback = Callable[[int, dict[str, float]], None]


def _step_seed(seed: int, step: int) -> int:
    return int(np.random.SeedSequence([seed, step]).generate_state(1)[0])


def _checkpoint_path(run_dir: Path, step: int) -> Path:
    return run_dir / CHECKPOINT_DIR / f"step_{step:08d}.pt"


def latest_vision_checkpoint(run_dir: Path) -> Path | None:
    """The newest training checkpoint of a vision run folder (None before the first); an agent
    run's is :func:`darla.agents.checkpoints.latest_checkpoint`."""
    checkpoints = sorted((run_dir / CHECKPOINT_DIR).glob("step_*.pt"))
    return checkpoints[-1] if checkpoints else None


def _save_checkpoint(
    run_dir: Path, step: int, model: VisionModel, optimizers: dict[str, torch.optim.Optimizer]
) -> Path:
    path = _checkpoint_path(run_dir, step)
    states = {name: optimizer.state_dict() for name, optimizer in optimizers.items()}
    with atomic_path(path) as tmp:
        torch.save({"step": step, "model": model.state_dict(), "optimizers": states}, tmp)
    for old in (run_dir / CHECKPOINT_DIR).glob("step_*.pt"):
        if old != path:
            old.unlink(missing_ok=True)
    return path


def _load_checkpoint(
    path: Path, model: VisionModel, optimizers: dict[str, torch.optim.Optimizer]
) -> int:
    try:
        # weights_only: loading a checkpoint never executes pickled code
        state = torch.load(path, map_location=model.device, weights_only=True)
        model.load_state_dict(state["model"])
        # checkpoints from before models could have several optimizers hold just the one
        states = state.get("optimizers") or {"model": state["optimizer"]}
        if set(states) != set(optimizers):
            raise KeyError(f"optimizers {sorted(states)}, expected {sorted(optimizers)}")
        for name, optimizer in optimizers.items():
            optimizer.load_state_dict(states[name])
    except Exception as error:
        raise DarlaError(
            f"checkpoint {path} is corrupt ({type(error).__name__}); delete it to restart from the previous one"
        ) from error
    return int(state["step"])


def train_vision(
    model: VisionModel,
    frames: np.ndarray,
    train_indices: np.ndarray,
    val_indices: np.ndarray,
    settings: TrainSettings,
    run_dir: Path,
    *,
    seed: int,
    label: str = "",
    progress: bool = True,
    callbacks: Sequence[StepCallback] = (),
    labels: np.ndarray | Mapping[str, np.ndarray] | None = None,
    sampler: BatchSampler | None = None,
) -> dict[str, float]:
    """Train ``model`` for ``settings.steps`` optimizer steps, resuming from the run's checkpoint.

    Each step: ``model.set_step(step)``, ``terms = model.loss(x, **batch.loss_kwargs)``, the NaN
    guard on ``terms["loss"]``, then ``model.step_optimizers(terms, optimizers)`` with the
    optimizers from ``model.make_optimizers(settings.lr)`` (see
    :class:`~darla.vision.base.VisionModel`); every scalar term is logged. Returns the last
    logged training terms and the validation loss.

    Batches: frames ``train_indices`` of ``frames`` (validation: ``val_indices``), each with its
    row of ``labels`` as ``factors=`` when labels are an array, or under each key of a mapping
    (DCoDR's ``{"domains": ids}`` as ``domains=``); or, when ``sampler`` is given, its
    batches (``frames`` and the indices are then unused). The trainer closes the sampler.
    """
    from torch.utils.tensorboard import SummaryWriter

    optimizers = model.make_optimizers(settings.lr)
    checkpoint = latest_vision_checkpoint(run_dir)
    start = _load_checkpoint(checkpoint, model, optimizers) if checkpoint else 0
    writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=start or None)
    if sampler is None:
        sampler = BatchSource(
            frames, train_indices, settings.batch_size, seed, labels=labels,
            val_indices=val_indices, val_batches=settings.val_batches,
        )  # fmt: skip
    try:
        val_batches = sampler.validation()
    except BaseException:
        sampler.close()
        raise
    preview = val_batches[0].images[:8]
    last: dict[str, float] = {}
    bar = tqdm(
        total=settings.steps,
        initial=start,
        desc=f"training {label}".strip(),
        unit="step",
        disable=not progress,
    )
    window_start, window_images = time.perf_counter(), 0
    model.train()
    try:
        for step in range(start, settings.steps):
            torch.manual_seed(_step_seed(seed, step))
            batch = sampler.get(step)
            x = images_to_tensor(batch.images, model.device)
            model.set_step(step)
            terms = model.loss(x, **_loss_kwargs(batch, model.device))
            loss = terms["loss"]
            if not torch.isfinite(loss):
                kept = latest_vision_checkpoint(run_dir)
                where = (
                    f"the last good checkpoint {kept} is kept"
                    if kept
                    else "no checkpoint was written yet"
                )
                raise DarlaError(
                    f"{label or 'vision'} loss became {loss.item()} at step {step + 1}; {where}; "
                    "lower train.lr or beta and run again"
                )
            model.step_optimizers(terms, optimizers)
            window_images += len(x)
            done = step + 1
            if done % settings.log_every == 0 or done == settings.steps:
                elapsed = time.perf_counter() - window_start
                last = _log_terms(writer, terms, done)
                last["images_per_s"] = window_images / max(elapsed, 1e-9)
                writer.add_scalar("perf/images_per_s", last["images_per_s"], done)
                window_start, window_images = time.perf_counter(), 0
                bar.set_postfix(loss=f"{last['loss']:.4g}", img_s=f"{last['images_per_s']:.0f}")
            if done % settings.image_every == 0 or done == settings.steps:
                _log_images(writer, model, preview, terms, done)
            if done % settings.checkpoint_every == 0 or done == settings.steps:
                last["val_loss"] = validation_loss(model, val_batches)
                writer.add_scalar("val/loss", last["val_loss"], done)
                _save_checkpoint(run_dir, done, model, optimizers)
            bar.update(1)
            for callback in callbacks:
                callback(done, last)
    finally:
        bar.close()
        sampler.close()
        writer.close()
    if "val_loss" not in last:  # resumed at the end: nothing ran, report the finished model
        model.set_step(settings.steps - 1)  # the schedule's last value, as the full run saw
        last["val_loss"] = validation_loss(model, val_batches)
    model.eval()
    return last


def _loss_kwargs(batch: Batch, device: torch.device) -> dict[str, Any]:
    """A batch's extras for ``model.loss``: arrays as tensors on ``device``, the rest as is."""
    return {
        key: torch.as_tensor(value).to(device) if isinstance(value, np.ndarray) else value
        for key, value in batch.loss_kwargs.items()
    }


def validation_loss(model: VisionModel, batches: Sequence[Batch]) -> float:
    """Mean loss on held-out batches, with fixed noise so that numbers compare across steps."""
    outer_rng = torch.random.get_rng_state()
    torch.manual_seed(0)
    total, count = 0.0, 0
    with eval_mode(model):
        for batch in batches:
            x = images_to_tensor(batch.images, model.device)
            total += model.loss(x, **_loss_kwargs(batch, model.device))["loss"].item() * len(x)
            count += len(x)
    torch.random.set_rng_state(outer_rng)
    return total / max(count, 1)


def _log_terms(writer, terms: dict[str, torch.Tensor], step: int) -> dict[str, float]:
    scalars: dict[str, float] = {}
    for name, value in terms.items():
        value = value.detach()
        if value.ndim == 0:
            scalars[name] = value.item()
            writer.add_scalar(f"loss/{name}", scalars[name], step)
    if "kl_per_dim" in terms:
        kl = terms["kl_per_dim"].detach().cpu()
        for i, value in enumerate(kl.tolist()):
            writer.add_scalar(f"kl_per_dim/{i:02d}", value, step)
        scalars["active_latents"] = int((kl > ACTIVE_KL_THRESHOLD).sum())
        writer.add_scalar("latents/active", scalars["active_latents"], step)
    return scalars


def _log_images(
    writer, model: VisionModel, preview: np.ndarray, terms: dict[str, torch.Tensor], step: int
) -> None:
    if not model.generative:  # no decoder (a contrastive encoder): nothing to reconstruct
        return
    writer.add_image(
        "reconstructions", reconstruction_grid(model, preview), step, dataformats="HWC"
    )
    if "kl_per_dim" in terms:
        grid = traversal_grid(
            model, preview[0], kl_per_dim=terms["kl_per_dim"].detach(), max_rows=10
        )
        writer.add_image("traversals", grid, step, dataformats="HWC")

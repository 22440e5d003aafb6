"""Vision training throughput, and the data pipeline's overhead over a bare loop.

``see_data_overhead``: the full ``darla see`` loop (memory-mapped frames, batches drawn per step,
uint8 -> float conversion, logging, checkpoints, validation) against a bare loop over a float
tensor already in memory, same model, batch size and number of steps, measured alternately in
one process. ``see_images_per_s_<model>``: the bare loop's training images/s per model.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.results import figure
from darla.data import CollectionConfig, collect, open_frames
from darla.vision import build_model, images_to_tensor
from darla.vision.training.trainer import TrainSettings, train_vision

BATCH = 64
STEPS = 60


def _bare_loop(model, frames_float: torch.Tensor, steps: int) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(steps):
        x = frames_float[torch.from_numpy(rng.integers(0, len(frames_float), BATCH))]
        loss = model.loss(x)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def _full_loop(model, data, train_idx, val_idx, run_dir: Path, steps: int) -> float:
    # the default see cadences, scaled to this run's length
    settings = TrainSettings(
        steps=steps, batch_size=BATCH, lr=1e-4, checkpoint_every=steps // 2, log_every=10,
        image_every=steps, val_batches=2,
    )  # fmt: skip
    start = time.perf_counter()
    train_vision(model, data.frames, train_idx, val_idx, settings, run_dir, seed=0, progress=False)
    return time.perf_counter() - start


def _models(image_size: int):
    dae = build_model("dae", image_size=image_size)
    return {
        "dae": lambda: build_model("dae", image_size=image_size),
        "beta_vae": lambda: build_model("beta_vae", image_size=image_size),
        "vae": lambda: build_model("vae", image_size=image_size),
        "darla": lambda: build_model("darla", dae=dae),
    }


def run(results: dict, rounds: int = 3) -> None:
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = open_frames(
            collect(
                CollectionConfig(num_frames=3000, episode_length=100, seed=0),
                tmp / "data",
                progress=False,
            )
        )
        train_idx, val_idx = data.split(0.1, seed=0)
        frames_float = images_to_tensor(np.ascontiguousarray(data.frames[train_idx]))
        models = _models(64)

        print(f"{'model':<10} {'images/s (bare loop, 2 threads)':>32}")
        for name, make in models.items():
            torch.manual_seed(0)
            model = make()
            _bare_loop(model, frames_float, 5)  # warm-up
            seconds = _bare_loop(model, frames_float, STEPS // 2)
            rate = STEPS // 2 * BATCH / seconds
            print(f"{name:<10} {rate:32.0f}")
            results[f"see_images_per_s_{name}"] = figure(
                rate, "images/s", None, True, what=f"{name} training images/s, 2 threads"
            )

        bare, full = [], []
        for r in range(rounds):
            torch.manual_seed(0)
            bare.append(_bare_loop(models["darla"](), frames_float, STEPS))
            torch.manual_seed(0)
            full.append(
                _full_loop(models["darla"](), data, train_idx, val_idx, tmp / f"run{r}", STEPS)
            )
        overhead = float(np.median(full) / np.median(bare) - 1)
        print(
            f"see loop {np.median(full):.2f}s vs bare {np.median(bare):.2f}s for {STEPS} steps: overhead {overhead:.1%}"
        )
        results["see_data_overhead"] = figure(
            overhead,
            "fraction",
            0.10,
            False,
            what="full `see` loop vs a bare loop over in-memory tensors, same model and batch",
        )


if __name__ == "__main__":
    from benchmarks.results import run_standalone

    run_standalone(run)

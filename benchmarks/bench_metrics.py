"""Disentanglement metrics: each metric's time as a ratio to MIG's, and the full evaluate time.

The representation is a fixed random linear map of the true factors to 32 codes (the size of
DARLA's latent space), read from factor stamps in Shapes2D's 64x64 images, so the cost measured
is the metrics' own (sampling, rendering, classifiers), not a network's. All times come from one
default ``evaluate`` run: ``seconds`` per metric inside it, and the wall time around it.

Figures: ``metrics_time_ratio_<metric>`` (time / MIG time, same run) and
``metrics_evaluate_seconds`` (target 120 s on 2 CPU cores).
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.results import figure
from darla.metrics import StampedDataset, evaluate, headline_scores, read_stamp

NUM_CODES = 32


def linear_representation(num_factors: int, num_codes: int = NUM_CODES, seed: int = 0):
    """Codes = stamped factor indices times a fixed random [K, D] matrix."""
    mixing = np.random.default_rng(seed).normal(size=(num_factors, num_codes))

    def represent(images: np.ndarray) -> np.ndarray:
        return read_stamp(images, num_factors).astype(np.float64) @ mixing

    return represent


def run(results: dict, *, fast: bool = False, progress: bool = True) -> dict:
    """Time a default ``evaluate`` on Shapes2D(64) and add the figures to ``results``."""
    from envs.shapes import Shapes2D

    dataset = StampedDataset(Shapes2D(image_size=64))
    represent = linear_representation(len(dataset.factor_sizes))
    start = time.perf_counter()
    scores = evaluate(
        dataset, represent, rng=np.random.default_rng(0), fast=fast, progress=progress
    )
    wall = time.perf_counter() - start
    mig_seconds = scores["mig"]["seconds"]
    for name in scores:  # the metrics that apply to the shapes (no object probe)
        if name == "mig":
            continue
        results[f"metrics_time_ratio_{name}"] = figure(
            scores[name]["seconds"] / mig_seconds,
            "x MIG time",
            None,
            False,
            what=f"{name}'s time with defaults on 32 latents vs MIG's, same `evaluate` run",
        )
    results["metrics_evaluate_seconds"] = figure(
        wall, "s", 120.0, False, what="full default `evaluate` on the 2D shapes dataset, 2 cores"
    )
    print(f"evaluate wall time {wall:.1f} s (fast={fast}); per metric:")
    for name in scores:  # the metrics that apply to the shapes (no object probe)
        print(f"  {name:<26} {scores[name]['seconds']:8.1f} s")
    print("scores:", {k: round(v, 3) for k, v in headline_scores(scores).items()})
    return scores


if __name__ == "__main__":
    from benchmarks.results import run_standalone

    run_standalone(run)

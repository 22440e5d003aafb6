"""Each latent's mean and spread over a vision run's training frames, for standardising codes.

Vision modules' codes live on different scales: a VAE's means sit near unit scale, while the
DAE's 100-d bottleneck is linear and unbounded. An agent's first layer and PPO's orthogonal
initialisation assume inputs of about unit scale, so ``darla act`` standardises a frozen
module's codes with these statistics: computed once, when the vision run is written, over the
frames it was trained on (never target-domain frames), stored beside its weights as
``code_stats.json`` and recorded in its manifest. They are fixed, not learned online, so an
agent sees the same input for the same frame from its first step to transfer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from darla.errors import DarlaError
from darla.io import write_json

CODE_STATS = "code_stats.json"
MAX_FRAMES = 10_000  # evenly spaced training frames: enough for a mean and std per latent
MIN_STD = 1e-6  # a latent that never moves is centred, not blown up


@dataclass(frozen=True)
class CodeStats:
    mean: np.ndarray  # float32 [D]
    std: np.ndarray  # float32 [D], at least MIN_STD
    frames: int

    def standardise(self, codes: np.ndarray) -> np.ndarray:
        """``(codes - mean) / std`` per latent, float32."""
        return ((np.asarray(codes, dtype=np.float32) - self.mean) / self.std).astype(np.float32)


def code_statistics(model, frames: np.ndarray, indices: np.ndarray) -> CodeStats:
    """Mean and std of ``model.latent_mean`` over (at most :data:`MAX_FRAMES` of) ``frames[indices]``."""
    indices = np.sort(np.asarray(indices))
    if len(indices) > MAX_FRAMES:
        indices = indices[np.linspace(0, len(indices) - 1, MAX_FRAMES).round().astype(int)]
    codes = model.latent_mean(np.ascontiguousarray(frames[indices])).astype(np.float64)
    return CodeStats(
        mean=codes.mean(axis=0).astype(np.float32),
        std=np.maximum(codes.std(axis=0), MIN_STD).astype(np.float32),
        frames=len(indices),
    )


def stats_record(stats: CodeStats) -> dict[str, Any]:
    """The statistics as JSON: ``code_stats.json``, and an agent's ``agent.json`` entry."""
    return {"mean": stats.mean.tolist(), "std": stats.std.tolist(), "frames": stats.frames}


def stats_from_record(record: Any, latent_dim: int, where: Path | str, fix: str) -> CodeStats:
    """Statistics from :func:`stats_record`'s JSON, checked against the code size; a one-line
    error naming ``where`` and the ``fix`` otherwise."""
    try:
        stats = CodeStats(
            np.asarray(record["mean"], dtype=np.float32),
            np.maximum(np.asarray(record["std"], dtype=np.float32), MIN_STD),
            int(record["frames"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise DarlaError(
            f"{where} holds no readable code statistics ({type(error).__name__}): {fix}"
        ) from error
    if stats.mean.shape != (latent_dim,) or stats.std.shape != (latent_dim,):
        raise DarlaError(
            f"{where} holds statistics of {stats.mean.size} latents, but the model's code has "
            f"{latent_dim}: it belongs to another vision run; {fix}"
        )
    return stats


def write_code_stats(path: Path, stats: CodeStats) -> Path:
    record = {**stats_record(stats), "of": "latent_mean over the vision run's training frames"}
    return write_json(Path(path), record)


def read_code_stats(path: Path, latent_dim: int) -> CodeStats:
    """Statistics written by :func:`write_code_stats`, checked against the code size."""
    fix = "re-run `darla see --force` for that vision run"
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise DarlaError(
            f"{path} is not a code statistics file ({type(error).__name__}): {fix}"
        ) from error
    return stats_from_record(record, latent_dim, path, fix)

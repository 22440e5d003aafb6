"""The procedural 2D shapes rendered into a frame store, for `darla see data=shapes`.

The same on-disk format as a collection (``frames.npy``, ``factors.npy``, ``domain_ids.npy``,
``episode_ids.npy``, ``meta.json`` with sha256s), so training, validation and metrics treat it
like collected frames. Frames are distinct scenes: a seeded permutation of every factor
combination, cut at ``num_frames``; each frame is its own "episode", so the validation split
holds out scenes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from darla.data.frames import array_digests
from darla.errors import DarlaError
from darla.io import sha256_json, write_json

FORMAT_VERSION = 1


@dataclass(frozen=True)
class ShapesConfig:
    """What determines the stored shapes frames; its hash names the folder."""

    num_frames: int = 20000  # at most every scene once (Shapes2D has 3072 at the defaults)
    obs_size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_frames < 2:
            raise DarlaError(f"num_frames must be at least 2, got {self.num_frames}")

    def identity(self) -> dict:
        return {"format": FORMAT_VERSION, "dataset": "shapes", **asdict(self)}


def shapes_hash(config: ShapesConfig) -> str:
    return sha256_json(config.identity())[:16]


def _dataset(obs_size: int):
    import envs

    try:
        return envs.Shapes2D(image_size=obs_size, cache_bytes=0)
    except ValueError as error:
        raise DarlaError(f"shapes: {error}") from error


def _render_into(config: ShapesConfig, folder: Path) -> None:
    dataset = _dataset(config.obs_size)
    total = int(np.prod(dataset.factor_sizes))
    order = np.random.default_rng(config.seed).permutation(total)[: config.num_frames]
    factors = np.stack(np.unravel_index(order, dataset.factor_sizes), axis=1)
    np.save(folder / "frames.npy", dataset.render(factors))
    np.save(folder / "factors.npy", factors.astype(np.int16))
    np.save(folder / "domain_ids.npy", np.zeros(len(order), dtype=np.int16))
    np.save(folder / "episode_ids.npy", np.arange(len(order), dtype=np.int32))
    write_json(
        folder / "meta.json",
        {
            "hash": shapes_hash(config),
            "config": config.identity(),
            "domain_names": ["shapes"],
            "factor_names": list(dataset.factor_names),
            "factor_values": {
                name: [v if isinstance(v, str) else float(v) for v in values]
                for name, values in zip(dataset.factor_names, dataset.factor_values, strict=True)
            },
            **array_digests(folder),
        },
    )


def load_or_render_shapes(config: ShapesConfig, root: str | Path):
    """The stored shapes frames for ``config``: reused when present, rendered otherwise."""
    from darla.data.frames import open_frames
    from darla.reuse import run_lock

    root = Path(root)
    folder = root / shapes_hash(config)
    with run_lock(folder):
        reused = (folder / "meta.json").is_file()
        if not reused:
            root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=root))
            try:
                _render_into(config, tmp)
                shutil.rmtree(folder, ignore_errors=True)
                os.replace(tmp, folder)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    return open_frames(folder, expected_hash=shapes_hash(config)), reused

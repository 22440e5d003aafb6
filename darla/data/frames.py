"""A collected dataset opened for training: memory-mapped frames, factors and an episode split."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from darla.errors import DarlaError
from darla.io import sha256_file


@dataclass
class FrameDataset:
    """uint8 frames [N, H, W, 3] (memory-mapped), int factors [N, K], domain and episode ids."""

    folder: Path
    frames: np.ndarray
    factors: np.ndarray
    domain_ids: np.ndarray
    episode_ids: np.ndarray
    meta: dict

    @property
    def hash(self) -> str:
        return self.meta["hash"]

    def __len__(self) -> int:
        return len(self.frames)

    def split(self, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Train and validation frame indices, split by episode: consecutive frames of one
        episode are near-duplicates, so a frame-level split would leak them into validation."""
        if not 0 <= val_fraction < 1:
            raise DarlaError(f"val_fraction must be in [0, 1), got {val_fraction}")
        episodes = np.unique(self.episode_ids)
        num_val = round(val_fraction * len(episodes))
        if val_fraction > 0 and len(episodes) > 1:
            num_val = min(max(num_val, 1), len(episodes) - 1)
        val_episodes = np.random.default_rng(seed).permutation(episodes)[:num_val]
        is_val = np.isin(self.episode_ids, val_episodes)
        return np.flatnonzero(~is_val), np.flatnonzero(is_val)


ARRAYS = ("frames", "factors", "domain_ids", "episode_ids")


def array_digests(folder: Path) -> dict[str, dict[str, Any]]:
    """For ``meta.json``: each array file's sha256, hashed once when written, and its size and
    modification time, so that opening the folder again re-hashes only a file that changed
    since (245 MB of frames at the defaults)."""
    files = [folder / f"{name}.npy" for name in ARRAYS]
    return {
        "sha256": {path.name: sha256_file(path) for path in files},
        "stat": {path.name: _stat(path) for path in files},
    }


def _stat(path: Path) -> list[int]:
    info = path.stat()
    return [info.st_size, info.st_mtime_ns]


def open_frames(
    folder: str | Path, *, expected_hash: str | None = None, verify: bool = True
) -> FrameDataset:
    """Open a collected folder; a folder whose hash or files do not match is refused."""
    folder = Path(folder)
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise DarlaError(
            f"{folder} is not a collected dataset (no meta.json); run `darla see` to collect one"
        )
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as error:
        raise DarlaError(
            f"{meta_path} is corrupt ({error}); delete {folder} and run `darla see` again"
        ) from error
    if expected_hash is not None and meta.get("hash") != expected_hash:
        raise DarlaError(
            f"data folder {folder} holds hash {meta.get('hash')}, expected {expected_hash}; "
            f"delete it and run `darla see` again to recollect"
        )
    if verify:
        stats = meta.get("stat") or {}
        for name, digest in meta["sha256"].items():
            path = folder / name
            if path.is_file() and _stat(path) == stats.get(name):
                continue  # untouched since it was written and hashed: not hashed again
            if not path.is_file() or sha256_file(path) != digest:
                raise DarlaError(
                    f"{path} does not match the hash in meta.json (changed or truncated); "
                    f"delete {folder} and run `darla see` again to recollect"
                )
    arrays = {
        name: np.load(folder / f"{name}.npy", mmap_mode="r")
        for name in ("frames", "factors", "domain_ids", "episode_ids")
    }
    return FrameDataset(folder=folder, meta=meta, **arrays)

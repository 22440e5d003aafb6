"""Where a ``darla see`` config's frames come from, and the factor dataset behind them.

``data.dataset``: ``env`` (frames a random agent collects in CollectGoodObjects' ``data.domains``,
whose factor dataset renders those domains' scenes) or ``shapes`` (the procedural 2D shapes,
rendered into the same frame-store format; no environment involved).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import envs
from darla.data.collection import CollectionConfig, collection_hash, load_or_collect
from darla.data.frames import FrameDataset
from darla.data.shapes import ShapesConfig, load_or_render_shapes, shapes_hash
from darla.errors import DarlaError
from envs.domains import resolve_domains

DATASETS = ("env", "shapes")


def dataset_name(cfg: dict[str, Any]) -> str:
    name = cfg["data"].get("dataset", "env")
    if name not in DATASETS:
        raise DarlaError(f"unknown data.dataset {name!r}: use one of {', '.join(DATASETS)}")
    return name


def collection_config(cfg: dict[str, Any]) -> CollectionConfig:
    data = cfg["data"]
    return CollectionConfig(
        domains=tuple(data["domains"]),
        num_frames=int(data["num_frames"]),
        episode_length=int(data["episode_length"]),
        obs_size=int(data["obs_size"]),
        seed=int(cfg["seed"]),
        action_repeat=int(data["action_repeat"]),
    )


def _shapes_config(cfg: dict[str, Any]) -> ShapesConfig:
    data = cfg["data"]
    return ShapesConfig(int(data["num_frames"]), int(data["obs_size"]), int(cfg["seed"]))


def frames_hash(cfg: dict[str, Any]) -> str:
    """The hash of the frames ``load_frames`` gives, known without loading them."""
    if dataset_name(cfg) == "shapes":
        return shapes_hash(_shapes_config(cfg))
    return collection_hash(collection_config(cfg))


def load_frames(cfg: dict[str, Any], *, progress: bool = True) -> tuple[FrameDataset, bool]:
    """The training frames and whether they were reused from ``runs_root/data``."""
    root = Path(cfg["runs_root"]) / "data"
    if dataset_name(cfg) == "shapes":
        return load_or_render_shapes(_shapes_config(cfg), root)
    return load_or_collect(
        collection_config(cfg), root, workers=cfg["data"]["workers"], progress=progress
    )


def make_factor_dataset(cfg: dict[str, Any]):
    """The factor dataset of the training data: the domains' scenes (their own factor
    combinations only, ``combinations="domains"``: what DC-IGN trains on and a model is chosen
    on), or the shapes."""
    size = int(cfg["data"]["obs_size"])
    if dataset_name(cfg) == "shapes":
        return envs.Shapes2D(image_size=size)
    return envs.make_factor_dataset(list(cfg["data"]["domains"]), obs_size=size)


def factor_dataset_names(cfg: dict[str, Any]) -> list[str]:
    """``make_factor_dataset(cfg).factor_names`` without building it (no GL context): DC-IGN's
    ``factor_names``. Co-varying domain factors are one (``room``, ``objects``; see
    ``envs.scene_factors``); the frames' stored factors, SCAN's symbols, stay the nine domain
    factors of ``domains.yaml`` (:func:`label_vocabulary`)."""
    if dataset_name(cfg) == "shapes":
        return list(envs.Shapes2D.factor_names)
    from envs.scene_factors import LAYOUT_FACTORS, varying_domain_factors

    try:
        return [*varying_domain_factors(list(cfg["data"]["domains"])), *LAYOUT_FACTORS]
    except envs.DomainError as error:
        raise DarlaError(str(error)) from error


def label_vocabulary(cfg: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Names and values of the factor labels stored with the frames (SCAN's symbols)."""
    if dataset_name(cfg) == "shapes":
        shapes = envs.Shapes2D(image_size=int(cfg["data"]["obs_size"]), cache_bytes=0)
        values = [
            [v if isinstance(v, str) else float(v) for v in vs] for vs in shapes.factor_values
        ]
        return list(shapes.factor_names), values
    try:
        vocabulary = envs.factor_values(resolve_domains(list(cfg["data"]["domains"])))
    except envs.DomainError as error:
        raise DarlaError(str(error)) from error
    return list(vocabulary), [list(values) for values in vocabulary.values()]

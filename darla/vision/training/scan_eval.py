"""SCAN's own outputs of a ``darla see`` run: ``scan_accuracy.json`` (img2sym accuracy per
factor on held-out frames, against chance) and ``sym2img.png`` (images of single-factor
descriptions)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import envs
from darla.data import CollectionConfig, FrameDataset, load_or_collect
from darla.data.sources import dataset_name
from darla.errors import DarlaError
from darla.io import write_json, write_png
from darla.vision.grids import tile_images


def write_scan_outputs(
    model, data: FrameDataset, train_idx: np.ndarray, cfg: dict[str, Any], run_dir: Path
) -> dict[str, Any]:
    """``scan_accuracy.json`` (img2sym on held-out frames, per factor) and ``sym2img.png``."""
    accuracy = scan_accuracy(model, data.factors[train_idx], cfg)
    write_json(run_dir / "scan_accuracy.json", accuracy)
    for domain, scores in accuracy["domains"].items():
        shown = ", ".join(f"{k} {v:.2f}" for k, v in scores.items())
        print(f"scan img2sym accuracy on {domain}: {shown}")
    write_png(run_dir / "sym2img.png", sym2img_grid(model, data.factors[train_idx]))
    return accuracy


def _held_out(cfg: dict[str, Any]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{domain: (frames, labels)}``: target-domain frames a random agent sees in the env, or
    fresh draws of the shapes; labels index the same vocabulary as the training frames'."""
    options = cfg["vision"].get("accuracy") or {}
    count = int(options.get("frames_per_domain", 200))
    if count < 1:
        raise DarlaError(f"vision.accuracy.frames_per_domain must be positive, got {count}")
    size, seed = int(cfg["data"]["obs_size"]), int(cfg["seed"])
    if dataset_name(cfg) == "shapes":
        shapes = envs.Shapes2D(image_size=size, cache_bytes=0)
        factors = shapes.sample_factors(count, np.random.default_rng([seed, 1]))
        return {"shapes": (shapes.render(factors), factors)}
    domains = options.get("domains") or envs.target_domains()
    held_out = {}
    for domain in domains:
        config = CollectionConfig(
            domains=(domain,),
            num_frames=max(count, 2),
            episode_length=int(options.get("episode_length", 50)),
            obs_size=size,
            seed=seed + 1,  # other episodes than the training collection's
        )
        frames, _ = load_or_collect(config, Path(cfg["runs_root"]) / "data", progress=False)
        name = domain if isinstance(domain, str) else frames.meta["domain_names"][0]
        held_out[name] = (np.asarray(frames.frames[:count]), np.asarray(frames.factors[:count]))
    return held_out


def scan_accuracy(model, train_labels: np.ndarray, cfg: dict[str, Any]) -> dict[str, Any]:
    """img2sym accuracy per factor and domain, with chance = 1 / values seen in training."""
    names = model.factor_names
    seen = [np.unique(train_labels[:, k]) for k in range(len(names))]
    out: dict[str, Any] = {
        "factors": names,
        "chance": {n: 1.0 / len(s) for n, s in zip(names, seen, strict=True)},
        "seen_in_training": {
            n: [model.config["factor_values"][k][int(i)] for i in s]
            for k, (n, s) in enumerate(zip(names, seen, strict=True))
        },
        "domains": {},
    }
    hits, total = np.zeros(len(names)), 0
    for domain, (frames, labels) in _held_out(cfg).items():
        correct = model.img2sym_indices(frames) == labels
        out["domains"][domain] = {
            **{n: float(c) for n, c in zip(names, correct.mean(axis=0), strict=True)},
            "mean": float(correct.mean()),
        }
        hits, total = hits + correct.sum(axis=0), total + len(labels)
    out["overall"] = {
        **{n: float(h / total) for n, h in zip(names, hits, strict=True)},
        "mean": float(hits.sum() / (total * len(names))),
    }
    out["frames_per_domain"] = total // max(len(out["domains"]), 1)
    return out


def sym2img_grid(model, train_labels: np.ndarray, samples: int = 8, max_rows: int = 12):
    """One row per single-factor description ``{factor: value}`` over the factors that vary in
    training, ``samples`` images each, after a first row for the empty description ``{}``."""
    values = model.config["factor_values"]
    rows = [model.sym2img({}, samples)]
    for k, name in enumerate(model.factor_names):
        seen = np.unique(train_labels[:, k])
        if len(seen) < 2:
            continue
        for i in seen:
            if len(rows) < max_rows:
                rows.append(model.sym2img({name: values[k][int(i)]}, samples, seed=len(rows)))
    return tile_images(np.stack(rows))

"""What ``darla see`` trains on, and the outputs only some models have.

- ``data.dataset``: ``env`` (frames a random agent collects in CollectGoodObjects' ``data.domains``,
  whose factor dataset renders those domains' scenes) or ``shapes`` (the procedural 2D shapes,
  rendered into the same frame-store format; no environment involved).
- A model's ``training_data`` (see :class:`~darla.vision.base.VisionModel`) says what a batch
  holds: ``frames``; ``labelled`` frames with their stored factors (SCAN); or ``clamped`` batches
  rendered from the factor dataset with one factor varying (DC-IGN).
- SCAN's extra outputs: ``scan_accuracy.json`` (img2sym accuracy per factor on held-out frames)
  and ``sym2img.png``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import yaml

import envs
from darla.data import CollectionConfig, FrameDataset, collection_hash, load_or_collect
from darla.data.shapes import ShapesConfig, load_or_render_shapes, shapes_hash
from darla.errors import DarlaError
from darla.io import atomic_path, write_json, write_text
from darla.stages.batches import ClampedBatches
from darla.vision import model_class, tile_images

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
    """The factor dataset of the training data: the domains' scenes, or the shapes."""
    size = int(cfg["data"]["obs_size"])
    if dataset_name(cfg) == "shapes":
        return envs.Shapes2D(image_size=size)
    return envs.make_factor_dataset(list(cfg["data"]["domains"]), obs_size=size)


def factor_dataset_names(cfg: dict[str, Any]) -> list[str]:
    """``make_factor_dataset(cfg).factor_names`` without building it (no GL context)."""
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
    vocabulary = envs.factor_vocabulary()
    return list(vocabulary), [list(values) for values in vocabulary.values()]


def training_data(name: str) -> str:
    return getattr(model_class(name), "training_data", "frames")


def complete_model_kwargs(name: str, kwargs: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    """Fill in what the data and training length decide: DC-IGN's factor blocks, SCAN's symbol
    vocabulary, AnnealedVAE's capacity schedule.

    They follow from ``data.domains``/``data.dataset`` (already in the run key through the data
    hash) and ``train.steps``, so they are filled before the key is computed and `see_run_dir`
    agrees.
    """
    if "capacity_end" in kwargs and kwargs["capacity_end"] is None:
        # C reaches C_max 3/4 of the way through training, however long it is (a sweep's short
        # runs too), then the last quarter trains at full capacity
        kwargs = {**kwargs, "capacity_end": 3 * int(cfg["train"]["steps"]) // 4}
    kind = training_data(name)
    if kind == "clamped":
        names = factor_dataset_names(cfg)
        given = kwargs.get("factor_names")
        if given is not None and list(given) != names:
            raise DarlaError(
                f"vision.model.factor_names {list(given)} do not match the factor dataset's "
                f"{names}: leave factor_names null to take them from the data"
            )
        return {**kwargs, "factor_names": names}
    if kind == "labelled":
        names, values = label_vocabulary(cfg)
        if kwargs.get("factor_names") is not None or kwargs.get("factor_values") is not None:
            raise DarlaError(
                f"{name} takes its symbols from the frames' stored factors: leave "
                "vision.model.factor_names and factor_values null"
            )
        return {**kwargs, "factor_names": names, "factor_values": values}
    return kwargs


@contextlib.contextmanager
def trainer_inputs(
    name: str, data: FrameDataset, model_kwargs: dict[str, Any], cfg: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """Keyword arguments for ``train_vision``: none, the frames' labels, or a clamped sampler
    (closed, with its rendering thread, when the block ends)."""
    kind = training_data(name)
    if kind == "labelled":
        stored = list(data.meta.get("factor_names", []))
        if stored != model_kwargs["factor_names"]:
            raise DarlaError(
                f"the frames in {data.folder} store factors {stored}, not the model's "
                f"{model_kwargs['factor_names']}: delete that folder and run `darla see` again"
            )
        yield {"labels": data.factors}
    elif kind == "clamped":
        train = cfg["train"]
        sampler = ClampedBatches(
            _factor_dataset_maker(cfg),
            int(train["batch_size"]),
            int(cfg["seed"]),
            val_batches=int(train["val_batches"]),
        )
        try:
            yield {"sampler": sampler}
        finally:
            sampler.close()
    else:
        yield {}


def _factor_dataset_maker(cfg: dict[str, Any]) -> Callable[[], Any]:
    return lambda: make_factor_dataset(cfg)


# --- SCAN's outputs ------------------------------------------------------------------------------


def copy_visual_metrics(model_kwargs: dict[str, Any], cfg: dict[str, Any], run_dir: Path) -> bool:
    """SCAN's ``latent_mean`` is its visual model's μ(x), so its metrics are the visual run's:
    copy that run's ``metrics.json`` when it was scored with the same settings on the same factor
    dataset (True), instead of scoring the same latents again."""
    if "visual" not in model_kwargs:
        return False
    visual_dir = Path(model_kwargs["visual"]).parent
    config_path, metrics_path = visual_dir / "config.yaml", visual_dir / "metrics.json"
    if not (config_path.is_file() and metrics_path.is_file()):
        return False
    theirs = yaml.safe_load(config_path.read_text())
    data = theirs.get("data", {})
    same_data = (
        data.get("dataset", "env") == dataset_name(cfg)
        and data.get("domains") == cfg["data"]["domains"]
        and data.get("obs_size") == cfg["data"]["obs_size"]
    )
    if not (same_data and theirs.get("metrics") == cfg["metrics"]):
        return False
    write_text(run_dir / "metrics.json", metrics_path.read_text())
    print(f"metrics: the visual model's, copied from {metrics_path} (same latents)")
    return True


def write_scan_outputs(
    model, data: FrameDataset, train_idx: np.ndarray, cfg: dict[str, Any], run_dir: Path
) -> dict[str, Any]:
    """``scan_accuracy.json`` (img2sym on held-out frames, per factor) and ``sym2img.png``."""
    import imageio.v3 as iio

    accuracy = scan_accuracy(model, data.factors[train_idx], cfg)
    write_json(run_dir / "scan_accuracy.json", accuracy)
    for domain, scores in accuracy["domains"].items():
        shown = ", ".join(f"{k} {v:.2f}" for k, v in scores.items())
        print(f"scan img2sym accuracy on {domain}: {shown}")
    with atomic_path(run_dir / "sym2img.png") as tmp:
        iio.imwrite(tmp, sym2img_grid(model, data.factors[train_idx]))
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

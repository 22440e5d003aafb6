"""Save and load vision models as one safetensors file, never through pickle.

Format (``format = darla.vision``, ``format_version = 1``): a safetensors file whose tensors are
the model's weights (``model.tensors_to_save()``: its ``state_dict``, plus each pretrained part's
tensors under that part's prefix, ``frozen_dae.`` for ``darla``) and whose metadata entry
``darla`` is a JSON object of ``format``, ``format_version``, ``config`` (the model's config as
JSON, holding each part's config under the part's name), ``darla_version`` and
``torch_version``; the same weights always give the same bytes.
One file restores the whole vision module, so an agent checkpoint needs exactly one path.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import darla
from darla.errors import DarlaError
from darla.io import atomic_path
from darla.vision.base import VisionModel
from darla.vision.device import resolve_device
from darla.vision.registry import build_model, model_class, pretrained_parts

WEIGHTS_NAME = "model.safetensors"
FORMAT = "darla.vision"
FORMAT_VERSION = "1"
METADATA_KEY = "darla"  # the one metadata entry: a JSON object of the fields below


def weights_path(path: str | os.PathLike[str]) -> Path:
    """A ``.safetensors`` path as is; anything else is a folder holding ``model.safetensors``."""
    path = Path(path)
    return path if path.suffix == ".safetensors" else path / WEIGHTS_NAME


def save_model(model: VisionModel, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` atomically to ``path`` (a folder or a ``.safetensors`` file); return the file."""
    target = weights_path(path)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.tensors_to_save().items()}
    fields = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": json.dumps(model.config, sort_keys=True),
        "darla_version": darla.__version__,
        "torch_version": torch.__version__,
    }
    # One metadata entry: safetensors writes its metadata map in a per-process random order, so
    # several entries give the same weights different file bytes, and a file's sha256 keys the
    # runs built on it (a retrained, identical module must not look like a new one).
    metadata = {METADATA_KEY: json.dumps(fields, sort_keys=True)}
    with atomic_path(target) as tmp:
        save_file(tensors, tmp, metadata=metadata)
    return target


def read_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The config stored in a saved model, without loading its weights."""
    return _read_metadata(weights_path(path))[1]


def load_model(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> VisionModel:
    """Rebuild a saved model on ``device`` (``auto`` allowed), in eval mode.

    Eval mode because a loaded model is almost always frozen for acting or scoring; call
    ``.train()`` to keep training it.
    """
    file, config = _read_metadata(weights_path(path))
    model = _build_from_config(config, file)
    try:
        tensors = load_file(file, device="cpu")
        model.load_saved_tensors(tensors)
    except DarlaError:
        raise
    except Exception as err:
        raise DarlaError(
            f"{file} has weights that do not fit its config ({_first_line(err)}): "
            "re-run `darla see` to write it again"
        ) from err
    return model.to(resolve_device(device)).eval()


def _read_metadata(file: Path) -> tuple[Path, dict[str, Any]]:
    if not file.is_file():
        raise DarlaError(
            f"no vision model at {file}: run `darla see` first or pass the path to a "
            f"{WEIGHTS_NAME} (or the run folder holding one)"
        )
    try:
        with safe_open(file, framework="pt") as f:
            metadata = f.metadata() or {}
        if METADATA_KEY in metadata:  # else an older file: the fields are the entries themselves
            metadata = json.loads(metadata[METADATA_KEY])
        if metadata.get("format") != FORMAT:
            raise ValueError("no darla.vision metadata")
        if metadata.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format_version {metadata.get('format_version')!r}")
        config = json.loads(metadata["config"])
        if not isinstance(config, dict) or "name" not in config:
            raise ValueError("config without a model name")
    except Exception as err:
        raise DarlaError(
            f"{file} is not a readable darla vision model ({_first_line(err)}): "
            "it is corrupt, truncated or from another tool; delete it and re-run `darla see`"
        ) from err
    return file, config


def _build_from_config(config: dict[str, Any], file: Path) -> VisionModel:
    try:
        return _build(config)
    except DarlaError as err:
        raise DarlaError(f"{file}: {err}") from err
    except (KeyError, TypeError, AttributeError) as err:
        raise DarlaError(
            f"{file} has an incomplete config ({_first_line(err)}): re-run `darla see`"
        ) from err


def _build(config: dict[str, Any]) -> VisionModel:
    config = dict(config)
    for part in pretrained_parts(config["name"]):
        # an untrained part of the saved architecture; its weights come from the same file
        config[part.name] = _build(config[part.name])
    for option, value in getattr(model_class(config["name"]), "LEGACY_DEFAULTS", {}).items():
        config.setdefault(option, value)
    return build_model(**config)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__

"""The Hydra config tree: where it lives, composing it with clean errors, and run keys.

Stages run under ``hydra.main`` (so multirun and launchers work); the CLI composes the same
config first so that a bad override is one line and exit code 2, not Hydra's traceback.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from darla.errors import DarlaError
from darla.io import sha256_json


def config_dir() -> Path:
    """The config tree shipped inside the package (``darla/configs/``), or ``$DARLA_CONFIG_DIR``.

    Inside the package, so an installed darla (editable or not) composes the same configs from
    any working directory.
    """
    override = os.environ.get("DARLA_CONFIG_DIR")
    path = Path(override) if override else Path(__file__).resolve().parent / "configs"
    if not (path / "see.yaml").is_file():
        raise DarlaError(
            f"no darla config tree at {path}: reinstall darla, or set DARLA_CONFIG_DIR to a copy "
            "of its darla/configs/ folder"
        )
    return path


def compose(config_name: str, overrides: Sequence[str] = ()) -> Any:
    """Compose ``darla/configs/<config_name>.yaml`` with overrides; a bad override is a DarlaError."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    overrides = [o for o in overrides if not o.startswith(("-", "hydra/launcher", "hydra."))]
    from hydra.core.global_hydra import GlobalHydra

    try:
        if GlobalHydra.instance().is_initialized():
            # inside a running `darla <stage>` job (act composing see's config): same tree
            return hydra_compose(config_name=config_name, overrides=list(overrides))
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            return hydra_compose(config_name=config_name, overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as error:
        raise DarlaError(_one_line_hydra_error(error)) from error


def _one_line_hydra_error(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    message = " ".join(lines)
    if "Could not find" in message and "Available options" in message:
        return message.replace("Available options in", "; available options in")
    if "Could not override" in message or "Key '" in message:
        return f"{message} (list the valid keys with `--cfg job`)"
    return message


def to_plain(cfg: Any) -> Any:
    """Resolved plain containers: what run keys and saved configs are made of."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else cfg


def quoted(value: Any) -> str:
    """A value Hydra's override grammar reads back unchanged (paths, strings with '=')."""
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def run_key(*parts: Any) -> str:
    """A short stable key for a run folder: the same resolved inputs, the same key."""
    return sha256_json([to_plain(p) for p in parts])[:12]

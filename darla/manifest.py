"""The run manifest: what a run folder holds and what produced it.

Written last, so a folder with a manifest marked finished is complete: stages reuse such a
folder and redo anything else.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from darla.errors import DarlaError
from darla.io import sha256_file, write_json

MANIFEST = "manifest.json"
# The layout of run folders. Bump it when a stage's files or their meaning change: a finished
# folder of another format is then refused, not silently reused (its hash may be the same).
RUN_FORMAT = 1
PACKAGES = (
    "darla",
    "torch",
    "numpy",
    "gymnasium",
    "miniworld",
    "stable-baselines3",
    "hydra-core",
    "scikit-learn",
    "safetensors",
)


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["python"] = sys.version.split()[0]
    return versions


def git_commit() -> str | None:
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def write_manifest(
    run_dir: Path, *, stage: str, config: Any, inputs: dict[str, str], finished: bool = True
) -> Path:
    """sha256 of every file in the run folder (checkpoints aside), the config and the inputs."""
    files = {
        str(path.relative_to(run_dir)): sha256_file(path)
        for path in sorted(run_dir.rglob("*"))
        if path.is_file()
        and path.name != MANIFEST
        and "checkpoints" not in path.parts
        and not path.name.startswith(".")
    }
    return write_json(
        run_dir / MANIFEST,
        {
            "stage": stage,
            "format": RUN_FORMAT,
            "finished": finished,
            "config": config,
            "inputs": inputs,
            "files": files,
            "versions": package_versions(),
            "git_commit": git_commit(),
            "platform": platform.platform(),
        },
    )


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    import json

    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def is_finished(run_dir: Path) -> bool:
    """True for a complete run folder of this darla's format; a DarlaError for another format."""
    manifest = read_manifest(run_dir)
    if not (manifest and manifest.get("finished")):
        return False
    if manifest.get("format") != RUN_FORMAT:
        raise DarlaError(
            f"{run_dir} was written by an incompatible darla (run format "
            f"{manifest.get('format', 'none')}, this darla writes {RUN_FORMAT}), so it is not "
            "reused: delete it, or re-run the same command with --force to recompute it"
        )
    return True


@dataclass(frozen=True)
class Artifact:
    """A file of a finished run folder and its sha256, hashed once when the file was written
    (the manifest's record): what one stage hands the next, so nothing is hashed twice."""

    path: Path
    sha256: str


def recorded_file(run_dir: Path, name: str) -> Artifact:
    """``run_dir/name`` with the digest its manifest recorded (a run this process just wrote or
    reused by its key); a DarlaError when the manifest does not list it."""
    files = (read_manifest(run_dir) or {}).get("files") or {}
    if name not in files:
        raise DarlaError(
            f"{run_dir} has no {name} in its {MANIFEST}: it is not a finished run; re-run the "
            "stage that writes it"
        )
    return Artifact(Path(run_dir) / name, files[name])


def verified_file(run_dir: Path, name: str) -> Artifact:
    """``run_dir/name`` after checking its bytes against the manifest: for a file a user points
    a command at (it may have been edited, truncated or swapped since it was written)."""
    artifact = recorded_file(run_dir, name)
    if not artifact.path.is_file() or sha256_file(artifact.path) != artifact.sha256:
        raise DarlaError(
            f"{artifact.path} changed since it was written (its sha256 differs from {run_dir}'s "
            f"{MANIFEST}): restore it, or recompute the run with --force"
        )
    return artifact

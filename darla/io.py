"""Atomic file writes, content hashes, and the names and links of files placed beside a run.

Every artifact is written to a temporary file in the destination folder and renamed into place,
so a killed run never leaves a half-written file where a finished one used to be.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    The temporary file keeps the destination's suffix, because some writers (matplotlib,
    imageio) choose the format from it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes the file private (0600); artifacts get the usual permissions, so the
        # other nodes and users of a shared runs folder can read them
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_png(path: str | os.PathLike[str], image: Any) -> Path:
    """Save a uint8 ``[H, W]`` or ``[H, W, 3]`` array as a PNG atomically."""
    import imageio.v3 as iio  # here, not at the top: every stage imports this module

    with atomic_path(path) as tmp:
        iio.imwrite(tmp, image)
    return Path(path)


def write_figure(path: str | os.PathLike[str], fig: Any, *, tight: bool = True) -> Path:
    """Save a matplotlib figure as a PNG atomically, then close it (figures hold memory)."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight" if tight else None)
    plt.close(fig)
    return Path(path)


def sha256_file(path: str | os.PathLike[str]) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def sha256_json(obj: Any) -> str:
    """Hash of a JSON-able object with sorted keys: a stable key for configs."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def safe_name(name: str) -> str:
    """``name`` as a file name: runs of other characters than letters, digits, ``_.-`` become
    one ``_``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "domain"


def link_or_copy(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """``target`` replaced by a hard link to ``source`` (a copy across filesystems or where hard
    links are refused): a run folder that stands alone without doubling a cache's bytes."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another filesystem, or no hard links: a copy
        shutil.copy2(source, target)
    return target

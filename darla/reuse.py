"""Whether a stage reuses its run folder or computes it, why, and who may write it meanwhile.

Every stage names its run folder by a hash of its resolved config and its inputs' hashes, so
"reuse" is simply "a finished folder with this name exists". What this module adds is the
explanation a user wants when something re-runs (which setting changed, compared with the
nearest finished run of the same kind) and a lock per run folder: sweep jobs that need the same
data, DAE or vision module wait for the one job computing it, then reuse it, instead of
computing it twice into the same folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from darla.errors import DarlaError
from darla.manifest import is_finished, read_manifest

# Settings that change no result (where files go, how loudly, how many processes).
_NOT_A_CAUSE = {
    "force",
    "runs_root",
    "run_key",
    "base_key",
    "agent_runs",
    "progress",
    "vision_file",
}


@contextlib.contextmanager
def run_lock(run_dir: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock on ``run_dir`` (a sibling ``.<name>.lock`` file) for the block.

    An advisory ``flock``: it holds between processes on one machine and on shared filesystems
    that support it (NFSv4, Lustre); the kernel releases it if the holder dies, so a killed job
    never leaves a stale lock behind.
    """
    run_dir = Path(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_file = run_dir.parent / f".{run_dir.name}.lock"
    with open(lock_file, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def announce(stage: str, run_dir: Path, config: Mapping[str, Any], *, force: bool) -> bool:
    """Print whether ``stage`` reuses ``run_dir`` or runs, and why; True when it reuses it."""
    run_dir = Path(run_dir)
    if not force and is_finished(run_dir):
        print(f"{stage}: reused {run_dir} (finished, same config and inputs)")
        return True
    if force and run_dir.exists():
        why = "force=true"
    elif run_dir.exists():
        why = "resuming the unfinished run there (interrupted earlier)"
    else:
        why = _why_new(run_dir, config)
    print(f"{stage}: running {run_dir} ({why})")
    return False


def _why_new(run_dir: Path, config: Mapping[str, Any]) -> str:
    """Name what differs from the closest finished run of the same kind, if there is one."""
    prefix = run_dir.name.rsplit("-", 1)[0] if "-" in run_dir.name else ""
    siblings = [
        path
        for path in run_dir.parent.glob(f"{prefix}-*" if prefix else "*")
        if path.is_dir() and path != run_dir and _comparable(path)
    ]
    best: tuple[int, list[str], Path] | None = None
    mine = flatten(config)
    for sibling in siblings:
        theirs = flatten((read_manifest(sibling) or {}).get("config") or {})
        changed = sorted(
            key
            for key in set(mine) | set(theirs)
            if mine.get(key) != theirs.get(key) and key.split(".")[-1] not in _NOT_A_CAUSE
        )
        if best is None or len(changed) < best[0]:
            best = (len(changed), changed, sibling)
    if best is None:
        return "no finished run of this kind yet"
    _, changed, sibling = best
    if not changed:
        return f"an input changed since {sibling} (same settings; other data, weights or agents)"
    shown = ", ".join(
        f"{key} {_short(flatten_get(sibling, key))} -> {_short(mine.get(key))}"
        for key in changed[:3]
    )
    more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
    return f"changed since {sibling}: {shown}{more}"


def _comparable(run_dir: Path) -> bool:
    try:
        return is_finished(run_dir)
    except DarlaError:  # another format: nothing to compare with
        return False


def flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists stay values."""
    if not isinstance(config, Mapping):
        return {prefix: config} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def flatten_get(run_dir: Path, key: str) -> Any:
    return flatten((read_manifest(run_dir) or {}).get("config") or {}).get(key)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."

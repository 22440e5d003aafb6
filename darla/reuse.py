"""Whether a stage reuses its run folder or computes it, why, and who may write it meanwhile.

Every stage names its run folder by a hash of its resolved config and its inputs' hashes, so
"reuse" is simply "a finished folder with this name exists". Each stage declares once, in a
:class:`RunKey`, which of its settings the key leaves out and why (speed, logging, settings the
key holds resolved instead); this module applies that declaration to compute the key and to
explain, when something re-runs, which setting changed compared with the nearest finished run of
the same kind. It also holds the lock per run folder: sweep jobs that need the same data, DAE or
vision module wait for the one job computing it, then reuse it, instead of computing it twice
into the same folder.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from darla.config import run_key
from darla.errors import DarlaError
from darla.manifest import is_finished, read_manifest

# Top-level entries of every stage's recorded config that are bookkeeping, not settings: where
# files go, whether to recompute, and the keys and paths the stage itself filled in.
BOOKKEEPING = ("force", "runs_root", "run_key", "base_key", "agent_runs", "vision_file")


@dataclass(frozen=True)
class RunKey:
    """One stage's declaration of what its run key holds.

    The key is the stage's settings section (``section``: ``train``, ``act``, ``transfer``)
    less the settings named in ``ignored`` and ``held_apart``, plus the inputs the stage passes
    to :meth:`key` (resolved domains, upstream digests, model options). Each name maps to the
    reason: ``ignored`` settings change no artifact the key names (speed, logging, resume
    points; or an artifact kept and re-made apart, as metrics and evaluations are);
    ``held_apart`` settings do change it but enter the key in another form (a domain list as
    its resolved factors, the step count beside the base key).
    """

    stage: str
    section: str
    ignored: Mapping[str, str] = field(default_factory=dict)
    held_apart: Mapping[str, str] = field(default_factory=dict)

    def settings(self, section: Mapping[str, Any]) -> dict[str, Any]:
        """The section's settings that the key holds as they are."""
        return {
            k: v for k, v in section.items() if k not in self.ignored and k not in self.held_apart
        }

    def key(self, section: Mapping[str, Any], *inputs: Any) -> str:
        """The run key: the held settings and the stage's resolved inputs."""
        return run_key(self.settings(section), *inputs)

    def is_cause(self, dotted: str) -> bool:
        """Whether a change to the flattened config entry ``dotted`` can change the artifact."""
        head, _, rest = dotted.partition(".")
        if head in BOOKKEEPING:
            return False
        return not (head == self.section and rest.split(".")[0] in self.ignored)


@contextlib.contextmanager
def run_lock(run_dir: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock on ``run_dir`` (a sibling ``.<name>.lock`` file) for the block.

    ``filelock``'s advisory ``flock``: it holds between processes on one machine and on shared
    filesystems that support it (NFSv4, Lustre); the kernel releases it if the holder dies, so a
    killed job never leaves a stale lock behind.
    """
    from filelock import FileLock

    run_dir = Path(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(run_dir.parent / f".{run_dir.name}.lock"):
        yield


def announce(
    label: str, key: RunKey, run_dir: Path, config: Mapping[str, Any], *, force: bool
) -> bool:
    """Print whether ``label`` reuses ``run_dir`` or runs, and why; True when it reuses it."""
    run_dir = Path(run_dir)
    if not force and is_finished(run_dir):
        print(f"{label}: reused {run_dir} (finished, same config and inputs)")
        return True
    if force and run_dir.exists():
        why = "force=true"
    elif run_dir.exists():
        why = "resuming the unfinished run there (interrupted earlier)"
    else:
        why = _why_new(key, run_dir, config)
    print(f"{label}: running {run_dir} ({why})")
    return False


def _why_new(key: RunKey, run_dir: Path, config: Mapping[str, Any]) -> str:
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
            name
            for name in set(mine) | set(theirs)
            if mine.get(name) != theirs.get(name) and key.is_cause(name)
        )
        if best is None or len(changed) < best[0]:
            best = (len(changed), changed, sibling)
    if best is None:
        return "no finished run of this kind yet"
    _, changed, sibling = best
    if not changed:
        return f"an input changed since {sibling} (same settings; other data, weights or agents)"
    shown = ", ".join(
        f"{name} {_short(flatten_get(sibling, name))} -> {_short(mine.get(name))}"
        for name in changed[:3]
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

"""Wall-clock minutes of the commands users run, each in a fresh runs root on this machine.

``python -m benchmarks.wallclock demo|act|study [runs_root=DIR]`` (not part of ``make bench``:
they take from minutes to hours). Each runs the command as a user types it, in a runs root of
its own (default ``runs/bench/wallclock/<name>``, removed first) so nothing is reused, and
writes ``wallclock_<name>_minutes`` to ``runs/bench/results.json``:

- ``demo``: ``darla run experiment=quickstart`` (what ``make demo`` runs after set-up). Target
  ≤ 10 minutes.
- ``act``: one default ``darla act`` (125k steps of PPO on DARLA's latents) on the vision run
  the demo trained, so only the act stage is timed (run ``demo`` first, same machine).
- ``study``: ``darla run experiment=study -m``, the study's full sweep. Target ≤ 150 minutes
  (issue: about 2 hours on 2 cores, never more than 2.5).

Absolute minutes drift with the machine's load; run them on quiet cores and say so.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.results import figure, merge_results

COMMANDS = {
    "demo": (["run", "experiment=quickstart"], 10.0, "`make demo` after set-up"),
    "act": (["act"], None, "one default `darla act` (125k PPO steps on latents)"),
    "study": (["run", "experiment=study", "-m"], 150.0, "the study preset's full sweep"),
}


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m benchmarks.wallclock {{{'|'.join(COMMANDS)}}} [runs_root=DIR]")
        raise SystemExit(2)
    name = argv[0]
    roots = [a.split("=", 1)[1] for a in argv[1:] if a.startswith("runs_root=")]
    root = Path(roots[0] if roots else f"runs/bench/wallclock/{name}")
    args, target, what = COMMANDS[name]
    if name == "act":
        demo = Path(roots[0] if roots else "runs/bench/wallclock/demo")
        visions = sorted((demo / "see").glob("darla-*/model.safetensors"))
        if not visions:
            print(f"error: no darla vision run under {demo}/see: run `wallclock demo` first")
            raise SystemExit(2)
        args = [*args, f"vision_run={visions[0].parent}", "seed=100"]
        root = demo  # the act stage alone: the vision run is there, the agent is new (seed)
    elif root.exists():
        shutil.rmtree(root)
    darla = Path(sys.executable).with_name("darla")
    command = [str(darla), *args, f"runs_root={root}"]
    print("timing:", " ".join(command))
    start = time.perf_counter()
    subprocess.run(command, check=True)
    minutes = (time.perf_counter() - start) / 60
    print(f"{name}: {minutes:.1f} minutes")
    merge_results({f"wallclock_{name}_minutes": figure(minutes, "min", target, False, what=what)})


if __name__ == "__main__":
    main(sys.argv[1:])

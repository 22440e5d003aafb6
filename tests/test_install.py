"""darla installed as a package (not this checkout) runs its stages from any folder: the config
tree ships inside it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_a_non_editable_install_runs_the_smoke_pipeline_from_another_folder(
    tmp_path, smoke_runs
) -> None:
    # a real, non-editable install of a copy of this source tree (a build in the checkout would
    # leave build/ behind, whose stale files a later build installs); dependencies: this venv's
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for part in ("darla", "envs"):
        shutil.copytree(REPO / part, source / part, ignore=ignore)
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / part, source / part)
    target = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    assert (target / "darla" / "configs" / "see.yaml").is_file()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("DARLA_CONFIG_DIR", None)
    where = subprocess.run(
        [sys.executable, "-c", "import darla.config as c; print(c.__file__); print(c.config_dir())"],
        cwd=elsewhere, capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    module, configs = where.stdout.split()
    assert Path(module).is_relative_to(target) and Path(configs).is_relative_to(target)

    see = subprocess.run(
        [sys.executable, "-m", "darla.cli", "see", "experiment=smoke", f"runs_root={smoke_runs}"],
        cwd=elsewhere, capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert see.returncode == 0, see.stderr[-2000:]
    run_dir = Path(see.stdout.strip().splitlines()[-1].split("vision run: ")[1])
    assert run_dir.parent == smoke_runs / "see" and (run_dir / "manifest.json").is_file()
    # the installed tree composes the checkout's configs exactly: the same run key
    from darla.config import compose
    from darla.stages.see import see_run_dir

    assert see_run_dir(compose("see", ["experiment=smoke", f"runs_root={smoke_runs}"])) == run_dir

    # and the whole pipeline (a method without a vision module: act and transfer run here)
    pipeline = subprocess.run(
        [sys.executable, "-m", "darla.cli", "run", "experiment=smoke", "methods=[random]",
         "seeds=[7]", "transfer_overrides=['videos=false','transfer.shift.enabled=false','domains=[A_room1,A_room2]']",
         f"runs_root={smoke_runs}"],
        cwd=elsewhere, capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert pipeline.returncode == 0, pipeline.stderr[-2000:]
    stages = pipeline.stdout.split("\nstages:\n")[1].splitlines()
    assert [line.split()[0] for line in stages[:2]] == ["act", "transfer"]
    assert (Path(stages[1].split()[-1]) / "report.html").is_file()

"""`darla run`: stage reuse, what re-runs after a change, sweeps (joblib and Ray), bad input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from darla.cli import main
from darla.config import compose
from darla.errors import DarlaError
from darla.manifest import MANIFEST, is_finished
from darla.stages.pipeline import PipelineResult, read_outcomes, run_pipeline

# Cheap methods: a vision module (vae) and one without (random); the smoke preset's sizes.
BASE = ["experiment=smoke", "methods=[vae,random]"]


def _run(runs_root: Path, *overrides: str) -> PipelineResult:
    cfg = compose("run", [*BASE, f"runs_root={runs_root}", *overrides])
    return run_pipeline(cfg, progress=False)


def _darla(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", "import sys; from darla.cli import main; sys.exit(main())"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [*command, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture(scope="module")
def first(tmp_path_factory) -> tuple[Path, PipelineResult]:
    root = tmp_path_factory.mktemp("runs")
    return root, _run(root)


@pytest.mark.slow
def test_first_run_runs_every_stage_and_ends_with_a_report(first) -> None:
    _root, result = first
    assert [(o.stage, o.reused) for o in result.outcomes] == [
        ("see", False),
        ("act", False),
        ("act", False),
        ("transfer", False),
    ]
    assert all(is_finished(o.run_dir) for o in result.outcomes)
    assert result.report_html.is_file()
    results = json.loads((result.transfer_run / "results.json").read_text())
    assert set(results["methods"]) == {"vae", "random"}


@pytest.mark.slow
def test_second_identical_run_recomputes_nothing(first) -> None:
    root, result = first
    again = _run(root)
    assert again.ran() == []
    assert [o.run_dir for o in again.outcomes] == [o.run_dir for o in result.outcomes]


@pytest.mark.slow
def test_changed_agent_setting_reruns_act_and_transfer_only(first, capsys) -> None:
    root, result = first
    changed = _run(root, "act_overrides=['agent.hyperparams.learning_rate=0.001']")
    assert [o.stage for o in changed.ran()] == ["act", "act", "transfer"]
    assert changed.outcomes[0].run_dir == result.outcomes[0].run_dir  # the vision module
    out = capsys.readouterr().out
    assert "agent.hyperparams.learning_rate 0.0003 -> 0.001" in out  # says why it re-runs


@pytest.mark.slow
def test_run_folder_of_another_format_is_refused_then_forced(first, tmp_path) -> None:
    root, result = first
    copy = tmp_path / "runs"
    shutil.copytree(root, copy)
    act_run = copy / "act" / result.outcomes[1].run_dir.name
    manifest = json.loads((act_run / MANIFEST).read_text())
    manifest["format"] = 0
    (act_run / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(DarlaError, match=r"incompatible darla .* --force"):
        _run(copy)
    forced = _run(copy, "force=true")  # what `darla run --force` composes: every stage again
    assert [o.stage for o in forced.ran()] == ["see", "act", "act", "transfer"]
    assert is_finished(act_run) and json.loads((act_run / MANIFEST).read_text())["format"] != 0


def _assert_sweep(root: Path, proc: subprocess.CompletedProcess, jobs: int) -> None:
    assert proc.returncode == 0, proc.stderr[-2000:]
    sweeps = list((root / ".sweeps").iterdir())
    assert len(sweeps) == 1
    outcomes = read_outcomes(sweeps[0])
    assert len(outcomes) == jobs
    for outcome in outcomes:
        assert all(is_finished(Path(o["run_dir"])) for o in outcome["outcomes"])
        assert Path(outcome["report_html"]).is_file()
    # the merged report (Ray may print its jobs' buffered output after it, so not always last)
    merged_lines = [
        line
        for line in proc.stdout.splitlines()
        if line.startswith("report: ") and str(root / "report") in line
    ]
    assert len(merged_lines) == 1
    report = Path(merged_lines[0].split(" ", 1)[1])
    merged = json.loads((report.parent / "results.json").read_text())
    assert len(merged["agents"]) == jobs


@pytest.mark.slow
def test_two_job_local_sweep_writes_complete_run_folders(tmp_path) -> None:
    root = tmp_path / "runs"
    proc = _darla("run", "-m", "experiment=smoke", "methods=[random]", "seeds=[1],[2]",
                  f"runs_root={root}", cwd=tmp_path)  # fmt: skip
    _assert_sweep(root, proc, jobs=2)


@pytest.mark.slow
def test_two_job_ray_sweep_on_a_local_ray_instance(tmp_path) -> None:
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")  # installed by the Makefile
    root = tmp_path / "runs"
    try:
        proc = _darla("run", "-m", "experiment=smoke", "methods=[random]", "seeds=[3],[4]",
                      f"runs_root={root}", "hydra/launcher=ray",
                      "+hydra.launcher.ray.init.num_cpus=2", cwd=tmp_path)  # fmt: skip
        _assert_sweep(root, proc, jobs=2)
    finally:
        ray = Path(sys.executable).parent / "ray"
        subprocess.run([str(ray), "stop", "--force"], capture_output=True, timeout=60)


@pytest.mark.slow
def test_ctrl_c_mid_stage_then_the_next_run_picks_up(tmp_path) -> None:
    root = tmp_path / "runs"
    args = ["run", "experiment=smoke", "methods=[random]", f"runs_root={root}",
            "act_overrides=['act.total_timesteps=3000','act.checkpoint_every=100']"]  # fmt: skip
    command = [sys.executable, "-c", "import sys; from darla.cli import main; sys.exit(main())"]
    proc = subprocess.Popen(
        [*command, *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 120
    while not list(root.glob("act/*/checkpoints/*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err[-2000:]
    assert "interrupted" in err and "Traceback" not in err
    assert not list(root.glob("transfer/*"))  # nothing after the interrupted stage ran

    resumed = _darla(*args, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming" in resumed.stdout
    assert "report: " in resumed.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("methods=[darla,nonsense]", "unknown method 'nonsense'"),
        ("experiment=nonsense", "experiment/nonsense"),
        ("methods=[]", "at least one method"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(override, message, tmp_path, capsys) -> None:
    assert main(["run", override, f"runs_root={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("darla: error: ") and message in err and "\n" not in err
    assert not list(tmp_path.iterdir())  # failed before any work

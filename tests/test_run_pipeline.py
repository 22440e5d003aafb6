"""`darla run`: stage reuse, what re-runs after a change, sweeps (joblib and Ray), bad input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from darla.cli import main
from darla.config import compose
from darla.errors import DarlaError
from darla.manifest import MANIFEST, is_finished
from darla.stages.pipeline import PipelineResult, run_pipeline
from darla.sweeps import read_outcomes

# Cheap methods: a vision module (vae) and one without (random); the smoke preset's sizes, one
# disentanglement metric (the pipeline passes see_overrides on; the metrics have tests of their own).
BASE = [
    "experiment=smoke",
    "methods=[vae,random]",
    "see_overrides=['metrics.names=[mig]']",
    "transfer_overrides=['videos=false']",  # videos have tests of their own
]


def _run(runs_root: Path, *overrides: str) -> PipelineResult:
    cfg = compose("run", [*BASE, f"runs_root={runs_root}", *overrides])
    return run_pipeline(cfg, progress=False)


def _darla(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", "import sys; from darla.cli import main; sys.exit(main())"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [*command, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def _finished_runs(root: Path) -> set[Path]:
    return {run for run in root.glob("*/*") if is_finished(run)}


@pytest.fixture(scope="module")
def first(smoke_runs) -> tuple[Path, PipelineResult, set[Path]]:
    """The pipeline in the session's smoke runs root, and the runs that were there before."""
    existed = _finished_runs(smoke_runs)
    return smoke_runs, _run(smoke_runs), existed


@pytest.mark.slow
def test_first_run_runs_every_stage_and_ends_with_a_report(first) -> None:
    _root, result, existed = first
    assert [o.stage for o in result.outcomes] == ["see", "act", "act", "transfer"]
    # a stage is reused exactly when its run was already there (an earlier smoke test may have
    # trained the same vision module); these agents and their transfer are this test's own
    assert all(o.reused == (o.run_dir in existed) for o in result.outcomes)
    assert not any(o.reused for o in result.outcomes[1:])
    assert all(is_finished(o.run_dir) for o in result.outcomes)
    assert result.report_html.is_file()
    results = json.loads((result.transfer_run / "results.json").read_text())
    assert set(results["methods"]) == {"vae", "random"}


@pytest.mark.slow
def test_second_identical_run_recomputes_nothing(first) -> None:
    root, result, _ = first
    again = _run(root)
    assert again.ran() == []
    assert [o.run_dir for o in again.outcomes] == [o.run_dir for o in result.outcomes]


@pytest.mark.slow
def test_changed_agent_setting_reruns_act_and_transfer_only(first, capsys) -> None:
    root, result, _ = first
    changed = _run(root, "act_overrides=['agent.hyperparams.learning_rate=0.001']")
    assert [o.stage for o in changed.ran()] == ["act", "act", "transfer"]
    assert changed.outcomes[0].run_dir == result.outcomes[0].run_dir  # the vision module
    out = capsys.readouterr().out
    assert "agent.hyperparams.learning_rate 0.00025 -> 0.001" in out  # says why it re-runs


@pytest.mark.slow
def test_run_folder_of_another_format_is_refused_then_forced(first, tmp_path) -> None:
    root, result, _ = first
    copy = tmp_path / "runs"
    shutil.copytree(root, copy)
    act_run = copy / "act" / result.outcomes[2].run_dir.name  # the random-encoder agent
    manifest = json.loads((act_run / MANIFEST).read_text())
    manifest["format"] = 0
    (act_run / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(DarlaError, match=r"incompatible darla .* --force"):
        _run(copy)
    # what `darla run --force` composes: every stage again (of one method, to keep it short)
    forced = _run(copy, "methods=[random]", "force=true")
    assert [o.stage for o in forced.ran()] == ["act", "transfer"]
    assert is_finished(act_run) and json.loads((act_run / MANIFEST).read_text())["format"] != 0


@pytest.mark.slow
def test_vision_seed_agent_trains_one_vision_module_per_agent_seed(first) -> None:
    root, result, _ = first
    shared_module = result.outcomes[0].run_dir  # vision_seed=0: the vae of every agent seed
    own = _run(root, "methods=[vae]", "seeds=[0,1]", "vision_seed=agent")
    see = [o for o in own.outcomes if o.stage == "see"]
    assert [o.label for o in see] == ["vae seed 0", "vae seed 1"]
    # agent seed 0's module is the see seed 0 one already trained; seed 1 trains its own
    assert see[0].run_dir == shared_module and see[0].reused
    assert see[1].run_dir != shared_module and not see[1].reused
    agents = [json.loads((run / MANIFEST).read_text()) for run in own.agent_runs]
    vision_inputs = [json.dumps(m["inputs"], sort_keys=True) for m in agents]
    assert len(set(vision_inputs)) == 2  # each agent was trained on its own module


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
    # two evaluation workers: rendering processes started inside a joblib (loky) sweep job
    proc = _darla("run", "-m", "experiment=smoke", "methods=[random]", "seeds=[1],[2]",
                  "transfer_overrides=['transfer.workers=2','videos=false','domains=[A_room1,A_room2]']", f"runs_root={root}",
                  cwd=tmp_path)  # fmt: skip
    _assert_sweep(root, proc, jobs=2)


def _processes_mentioning(text: str) -> list[int]:
    """Pids of this machine's processes whose command line contains ``text``."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes():
                pids.append(int(cmdline.parent.name))
        except OSError:  # the process ended while we looked
            continue
    return pids


@pytest.mark.slow
def test_two_job_ray_sweep_on_a_local_ray_instance(tmp_path) -> None:
    """The cluster path: the sweep connects to a running Ray instance by its address, as on a
    cluster. The test starts that instance itself (its own temp dir, ports Ray picks free) and
    stops it with ``ray.shutdown()``, leaving any other Ray on the machine alone."""
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")  # installed by the Makefile
    ray = pytest.importorskip("ray")
    root = tmp_path / "runs"
    # short: Ray's socket paths under it must fit in 107 characters
    temp_dir = tempfile.mkdtemp(prefix="darla-ray-", dir="/tmp")
    try:
        ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp_dir, log_to_driver=False)
        address = ray.get_runtime_context().gcs_address
        proc = _darla("run", "-m", "experiment=smoke", "methods=[random]", "seeds=[3],[4]",
                      "transfer_overrides=['videos=false','domains=[A_room1,A_room2]']", f"runs_root={root}", "hydra/launcher=ray",
                      f"+hydra.launcher.ray.init.address={address}",
                      # the launcher sets an object store size, which Ray refuses when joining a
                      # running instance: null leaves the instance's own
                      "+hydra.launcher.ray.init.object_store_memory=null", cwd=tmp_path)  # fmt: skip
        _assert_sweep(root, proc, jobs=2)
    finally:
        ray.shutdown()
    deadline = time.monotonic() + 30
    while _processes_mentioning(temp_dir) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _processes_mentioning(temp_dir), "the test's Ray instance outlived ray.shutdown()"
    shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.mark.slow
def test_ctrl_c_mid_stage_then_the_next_run_picks_up(tmp_path) -> None:
    root = tmp_path / "runs"
    args = ["run", "experiment=smoke", "methods=[random]", f"runs_root={root}",
            "act_overrides=['act.total_timesteps=3000','act.checkpoint_every=100']",
            "transfer_overrides=['videos=false','domains=[A_room1,A_room2]']"]  # fmt: skip
    command = [sys.executable, "-c", "import sys; from darla.cli import main; sys.exit(main())"]
    proc = subprocess.Popen(
        [*command, *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # a shell starts background jobs with SIGINT ignored, and children inherit that (the
        # suite run as `make test &` would): give the run the default, as in a terminal
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # a resumable checkpoint: state.json is written last and names a complete one
    deadline = time.monotonic() + 120
    while not list(root.glob("act/*/checkpoints/state.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err[-2000:]
    assert "interrupted" in err and "Traceback" not in err
    assert not list(root.glob("transfer/*"))  # nothing after the interrupted stage ran
    # the last checkpoint the interrupted run left (another may have landed after the first)
    (state_file,) = root.glob("act/*/checkpoints/state.json")
    step = json.loads(state_file.read_text())["num_timesteps"]
    assert 0 < step < 3000

    resumed = _darla(*args, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"act: resuming {state_file.parent.parent} at step {step}/3000" in resumed.stdout
    assert "report: " in resumed.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("methods=[darla,nonsense]", "unknown method 'nonsense'"),
        ("experiment=nonsense", "experiment/nonsense"),
        ("methods=[]", "at least one method"),
        ("vision_seed=sometimes", "vision_seed='sometimes'"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(override, message, tmp_path, capsys) -> None:
    assert main(["run", override, f"runs_root={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("darla: error: ") and message in err and "\n" not in err
    assert not list(tmp_path.iterdir())  # failed before any work

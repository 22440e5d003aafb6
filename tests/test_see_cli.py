"""`darla see` and `darla metrics` as a user runs them: artifacts, reuse, and one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from darla.cli import main
from darla.io import sha256_file
from darla.manifest import is_finished


def darla(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "darla.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["vision=nope"], "Could not find 'vision/nope'"),
        (["beta=-1"], "beta must be a number >= 0"),
        (["vision=beta_vae", "vision.model.latent_dim=0"], "latent_dim"),
        (["data.obs_size=50"], "image size 50"),
        (["dae_run=/nonexistent/dae"], "dae_run /nonexistent/dae has no model.safetensors"),
        (["vision=vae", "beta=4"], "vae fixes beta"),
        (["data.domains=[A_room1,C_room5]"], "unknown domain 'C_room5'"),
        (["vision=beta_vae", "strength=6"], "use 0 to 5"),
        (["vision=dae", "strength=0"], "vision=dae has no strength grid"),
        (["vision=beta_vae", "beta=2", "strength=1"], "beta and strength both set"),
        (["train.steps=0"], "train.steps=0: use a whole number >= 1"),
        (["train.lr=-0.1"], "train.lr=-0.1: use a number > 0"),
        (["data.val_fraction=0.95"], "data.val_fraction=0.95: use a number >= 0 and <= 0.9"),
        (["data.num_frames=ten"], "data.num_frames='ten': use a whole number >= 2"),
        (["data.action_repeat=0"], "data.action_repeat=0: use a whole number >= 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(overrides, message, tmp_path, capsys):
    code = main(["see", f"runs_root={tmp_path}", *overrides])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("darla: error:") and "\n" not in err
    assert message in err
    assert not (tmp_path / "see").exists(), "nothing is trained for a bad config"


@pytest.mark.slow
def test_smoke_see_writes_every_artifact_is_reused_and_feeds_act(smoke_runs, tmp_path):
    first = darla("see", "experiment=smoke", f"runs_root={smoke_runs}", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    run_dir = Path(first.stdout.strip().splitlines()[-1].split("vision run: ")[1])
    run_dir = run_dir if run_dir.is_absolute() else tmp_path / run_dir
    assert run_dir.name.startswith("darla-")
    for name in (
        "model.safetensors",
        "config.yaml",
        "recon.png",
        "traversals.png",
        "data_hash",
        "metrics.json",
    ):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert (
        manifest["finished"]
        and manifest["inputs"]["data_hash"] == (run_dir / "data_hash").read_text().strip()
    )
    for name, digest in manifest["files"].items():
        assert sha256_file(run_dir / name) == digest, name
    # its DAE is a finished run of the same runs root, named in its manifest by its weights
    dae_runs = [
        run
        for run in (smoke_runs / "see").glob("dae-*")
        if sha256_file(run / "model.safetensors") == manifest["inputs"]["dae_sha256"]
    ]
    assert len(dae_runs) == 1 and is_finished(dae_runs[0])

    again = darla("see", "experiment=smoke", f"runs_root={smoke_runs}", cwd=tmp_path)
    assert again.returncode == 0
    assert (
        "dae: reused" in again.stdout
        and "darla: reused" in again.stdout
        and "data: reused" in again.stdout
    )

    # stage 2 from the command line finds this vision run by its config (inside a Hydra job)
    acted = darla("act", "experiment=smoke", f"runs_root={smoke_runs}", cwd=tmp_path)
    assert acted.returncode == 0, acted.stderr[-2000:]
    assert "agent run:" in acted.stdout

    scored = darla("metrics", str(run_dir), "--fast", "--metrics", "mig", "--ood", cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr[-2000:]
    assert "mig" in scored.stdout
    # the source combinations' score, and beside it the one on every combination (A_room2's too)
    assert set(json.loads((run_dir / "metrics.json").read_text())) >= {"mig", "ood/mig"}


def _manifest_is_true(run_dir: Path) -> dict:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    for name, digest in manifest["files"].items():
        assert sha256_file(run_dir / name) == digest, name
    return manifest


@pytest.mark.slow
def test_other_metric_settings_rescore_a_reused_run_and_the_manifest_follows(smoke_runs, capsys):
    from darla.config import compose
    from darla.stages.score import score_run
    from darla.stages.see import run_see

    base = ["experiment=smoke", "vision=vae", "data=shapes", f"runs_root={smoke_runs}",
            "metrics.names=[mig]"]  # fmt: skip
    first = run_see(compose("see", base), progress=False)
    metrics = first.run_dir / "metrics.json"
    assert json.loads(metrics.read_text())["mig"]["params"]["num_train"] == 1000  # fast
    full = run_see(compose("see", [*base, "metrics.fast=false"]), progress=False)
    assert full.reused and full.run_dir == first.run_dir  # the weights are not retrained...
    assert "metrics.fast True -> False" in capsys.readouterr().out
    assert json.loads(metrics.read_text())["mig"]["params"]["num_train"] == 10000  # ...re-scored
    assert _manifest_is_true(first.run_dir)["config"]["metrics"]["fast"] is False
    run_see(compose("see", [*base, "metrics.fast=false"]), progress=False)
    assert "scoring" not in capsys.readouterr().out  # the same settings again: nothing to do

    score_run(first.run_dir, metrics=["sap"], fast=True, progress=False)  # `darla metrics RUN`
    assert set(json.loads(metrics.read_text())) == {"mig", "sap"}
    _manifest_is_true(first.run_dir)

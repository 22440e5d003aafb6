"""`darla see` then `darla act` with the smoke preset, end to end (slow: it trains a vision model)."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest

import envs
from darla.agents import load_agent, make_vec_env
from darla.config import compose
from darla.manifest import is_finished, read_manifest
from darla.stages.act import run_act, see_config
from darla.stages.see import run_see, see_run_dir


@pytest.mark.slow
def test_smoke_see_then_act(smoke_runs) -> None:
    see = run_see(
        compose("see", ["experiment=smoke", "vision=beta_vae", f"runs_root={smoke_runs}"]),
        progress=False,
    )
    cfg = compose(
        "act",
        [
            "experiment=smoke",
            "representation=beta_vae",
            f"runs_root={smoke_runs}",
        ],
    )
    # act finds the vision run from its settings alone, by the same key `darla see` used
    assert (
        see_run_dir(
            see_config(
                {"runs_root": str(smoke_runs), "see_overrides": list(cfg.see_overrides)}, "beta_vae"
            )
        )
        == see.run_dir
    )

    result = run_act(cfg, progress=False)
    assert result.finished and result.num_timesteps == 512 and is_finished(result.run_dir)
    manifest = read_manifest(result.run_dir)
    assert manifest["stage"] == "act" and manifest["inputs"]["vision_sha256"]
    assert {
        "model.zip",
        "agent.json",
        "config.yaml",
        "summary.json",
        "evaluations.npz",
        "train_curve.png",
    } <= set(manifest["files"])
    curve = iio.imread(result.run_dir / "train_curve.png")
    assert curve.ndim == 3 and curve.shape[0] > 100 and curve.std() > 0  # a drawn plot
    assert any(p.name.startswith("events.out.tfevents") for p in (result.run_dir / "tb").rglob("*"))
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["num_timesteps"] == 512 and summary["eval_episodes"] == 1
    # the reward is +1 per good and -1 per bad pickup and nothing else, so the source return
    # the summary reports is its pickups' difference
    good, bad = summary["mean_good_pickups"], summary["mean_bad_pickups"]
    assert summary["mean_return"] == pytest.approx(good - bad)
    # one episode in each of the 3 source domains: whole pickups in all
    assert float(3 * good).is_integer() and float(3 * bad).is_integer()
    assert set(summary["domains"]) == set(envs.source_domains())
    with np.load(result.run_dir / "evaluations.npz") as curve:  # evaluated every 256 steps
        assert curve["timesteps"].tolist() == [256, 512]
        np.testing.assert_allclose(curve["results"], curve["good_pickups"] - curve["bad_pickups"])

    agent = load_agent(result.run_dir)
    venv = make_vec_env(envs.source_domains(), 2, 9, {"obs_size": 64, "max_episode_steps": 50})
    actions = agent.predict(venv.reset())
    venv.close()
    assert actions.shape == (2,) and set(np.unique(actions)) <= {0, 1, 2}
    assert run_act(cfg, progress=False).reused

"""`darla run` with the baselines a reviewer asks for, end to end at smoke sizes: DARLA beside
pixels, augmented pixels, InfoVAE, BYOL and DCoDR."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from darla.config import compose
from darla.manifest import is_finished
from darla.stages.pipeline import run_pipeline
from darla.vision import load_model

METHODS = ["darla", "pixels", "pixels_aug", "info_vae", "byol", "dcodr"]


@pytest.mark.slow
def test_darla_and_every_baseline_run_end_to_end(smoke_runs) -> None:
    cfg = compose(
        "run",
        [
            "experiment=smoke",
            f"methods=[{','.join(METHODS)}]",
            # half the smoke preset's training: what is checked is that every stage runs
            "see_overrides=['metrics.names=[object_probe]','train.steps=20']",
            "act_overrides=['act.total_timesteps=256']",
            # a source and the held-out combination; videos and the latent shift have their tests
            "transfer_overrides=['videos=false','domains=[A_room1,A_room2]','transfer.shift.enabled=false']",
            f"runs_root={smoke_runs}",
        ],
    )
    result = run_pipeline(cfg, progress=False)
    assert all(is_finished(o.run_dir) for o in result.outcomes)
    agents = {
        o.label.split(" seed")[0].removesuffix("-ppo"): o
        for o in result.outcomes
        if o.stage == "act"
    }
    assert sorted(agents) == sorted(METHODS)
    vision = [o for o in result.outcomes if o.stage == "see"]
    # each vision baseline was trained and scored by the object probe (the DAE is darla's part)
    runs = {}
    for name in ("darla", "info_vae", "byol", "dcodr"):
        (runs[name],) = [o.run_dir for o in vision if o.run_dir.name.startswith(f"{name}-")]
        metrics = json.loads((runs[name] / "metrics.json").read_text())
        assert "object_probe" in json.dumps(metrics)
    for name, terms in {
        "info_vae": {"recon", "kl", "mmd"},
        "byol": {"positive_similarity", "tau", "projection_std"},
        # dcodr's domains are the collected frames' own: the smoke preset's three source domains
        "dcodr": {"negative_similarity", "anchors_without_negatives"},
    }.items():
        summary = yaml.safe_load((runs[name] / "train_summary.yaml").read_text())
        assert terms <= set(summary) and all(math.isfinite(v) for v in summary.values())
    for name in ("byol", "dcodr"):  # not generative: no reconstructions
        assert not (runs[name] / "recon.png").exists()
    assert load_model(runs["byol"]).config["ema_steps"] == 20  # train.steps
    # pixels_aug is pixels plus augmentation: its agent file says so, pixels' does not
    aug = json.loads((agents["pixels_aug"].run_dir / "agent.json").read_text())
    plain = json.loads((agents["pixels"].run_dir / "agent.json").read_text())
    assert "augment" in json.dumps(aug) and "augment" not in json.dumps(plain)
    results = json.loads((result.transfer_run / "results.json").read_text())
    assert set(results["methods"]) == set(METHODS)
    assert result.report_html.is_file()

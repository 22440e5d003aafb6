"""Run keys hold what an artifact depends on: a domain's factors and the env's settings, not
their names, so editing `envs/domains.yaml` or an env default re-runs exactly what it touches."""

from __future__ import annotations

import pytest
from transfer_fixtures import STEPS, act_config, transfer_config, vision_run

import envs
from darla.stages.act import run_act
from darla.stages.transfer import run_transfer


def _agent(root, vision, source: str):
    cfg = act_config(root, "beta_vae", 0, vision, 32, f"act.source_domains=[{source}]")
    return run_act(cfg, progress=False)


def _transfer(root, agent, domains: str):
    cfg = transfer_config(
        root, f"domains=[{domains}]", "videos=false", "transfer.shift.enabled=false"
    )
    return run_transfer(cfg, [str(agent)], progress=False)


@pytest.mark.slow
def test_editing_a_domains_factors_invalidates_exactly_the_runs_that_used_it(
    tmp_path, monkeypatch
) -> None:
    vision = vision_run(tmp_path)
    on_a, on_b = _agent(tmp_path, vision, "A_room1"), _agent(tmp_path, vision, "B_room1")
    with_a = _transfer(tmp_path, on_b.run_dir, "B_room1,A_room1,A_room2")
    without_a = _transfer(tmp_path, on_b.run_dir, "B_room1,A_room2")

    # A_room1 under another light: the same name, other pixels
    monkeypatch.setitem(envs.domains._catalogue()["domains"]["A_room1"], "light_color", "warm")
    assert _agent(tmp_path, vision, "B_room1").reused
    again_a = _agent(tmp_path, vision, "A_room1")
    assert not again_a.reused and again_a.run_dir != on_a.run_dir
    assert _transfer(tmp_path, on_b.run_dir, "B_room1,A_room2").run_dir == without_a.run_dir
    edited = _transfer(tmp_path, on_b.run_dir, "B_room1,A_room1,A_room2")
    assert not edited.reused and edited.run_dir != with_a.run_dir


def test_the_env_settings_a_key_holds_include_every_default() -> None:
    settings = envs.env_settings(obs_size=32, max_episode_steps=STEPS)
    assert settings["obs_size"] == 32 and settings["max_episode_steps"] == STEPS
    # the defaults a run did not set are there, so changing one changes the key
    assert {"room_size", "num_good", "num_bad", "forward_step", "turn_step"} <= set(settings)
    assert "render_mode" not in settings and "domain" not in settings
    with pytest.raises(envs.DomainError, match="num_goodies"):
        envs.env_settings(num_goodies=3)


def test_other_evaluation_settings_reuse_the_agent_and_evaluate_it_again(tmp_path, capsys) -> None:
    import json

    from darla.manifest import read_manifest, verified_file

    vision = vision_run(tmp_path)
    first = _agent(tmp_path, vision, "A_room1")
    weights = (first.run_dir / "model.zip").read_bytes()
    cfg = act_config(
        tmp_path, "beta_vae", 0, vision, 32, "act.source_domains=[A_room1]",
        "act.eval_episodes=3", "act.eval_every=12", "act.eval_deterministic=true",
    )  # fmt: skip
    again = run_act(cfg, progress=False)
    assert again.reused and again.run_dir == first.run_dir
    assert (first.run_dir / "model.zip").read_bytes() == weights  # not retrained
    summary = json.loads((first.run_dir / "summary.json").read_text())
    assert summary["eval_episodes"] == 3 and summary["eval_deterministic"] is True
    assert "evaluating" in capsys.readouterr().out
    verified_file(first.run_dir, "summary.json")  # the manifest holds the new file's digest
    assert read_manifest(first.run_dir)["config"]["act"]["eval_episodes"] == 3
    assert run_act(cfg, progress=False).reused
    assert "evaluating" not in capsys.readouterr().out  # asked and done: nothing to redo

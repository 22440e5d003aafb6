"""Bad input to `darla act` is one line naming the problem and the fix (DarlaError, exit 2)."""

from __future__ import annotations

import pytest
from act_fixtures import act_config, vision_run

from darla.config import compose
from darla.errors import DarlaError
from darla.stages.act import run_act


def fails(cfg, match: str) -> str:
    with pytest.raises(DarlaError, match=match) as info:
        run_act(cfg, progress=False)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_vision_run(tmp_path) -> None:
    fails(act_config(tmp_path, "darla", vision=tmp_path / "nowhere"), "does not exist")


def test_unfinished_vision_run(tmp_path) -> None:
    run = vision_run(tmp_path, "darla", finished=False)
    fails(act_config(tmp_path, "darla", vision=run), "not a finished `darla see` run")


def test_vision_run_of_another_model(tmp_path) -> None:
    run = vision_run(tmp_path, "beta_vae")
    fails(
        act_config(tmp_path, "darla", vision=run),
        "holds a beta_vae model, not darla: use representation=beta_vae",
    )


def test_encoder_input_size_differs_from_observations(tmp_path) -> None:
    run = vision_run(tmp_path, "darla")  # 32px
    fails(
        act_config(tmp_path, "darla", "act.obs_size=48", vision=run),
        "takes 32x32 frames but the env gives 48x48",
    )


def test_unknown_representation(tmp_path) -> None:
    fails(act_config(tmp_path, "pixles"), "unknown representation 'pixles'")


def test_unknown_agent(tmp_path) -> None:
    with pytest.raises(DarlaError, match="agent"):
        compose("act", ["agent=a2c"])


@pytest.mark.parametrize("target", ["A_room2", "A_unseen_colors"])
def test_target_domain_in_source_list(tmp_path, target) -> None:
    message = fails(
        act_config(tmp_path, "random", f"act.source_domains=[A_room1,{target}]"), "TARGET domain"
    )
    assert target in message


def test_target_domain_under_another_name(tmp_path) -> None:
    cfg = act_config(tmp_path, "random", "act.source_domains=[{base: A_room2, name: my_room}]")
    fails(cfg, "'A_room2', a TARGET domain")


def test_unknown_domain(tmp_path) -> None:
    fails(act_config(tmp_path, "random", "act.source_domains=[A_room9]"), "A_room9")


def test_no_vision_run_names_the_see_command(tmp_path) -> None:
    message = fails(
        act_config(tmp_path, "beta_vae", "see_overrides=['train.steps=77']"),
        "no finished vision run",
    )
    assert f"`darla see vision=beta_vae train.steps=77 runs_root={tmp_path}`" in message


def test_pixels_refuse_frames_too_small_for_nature_cnn(tmp_path) -> None:
    fails(act_config(tmp_path, "pixels"), "at least 36px")


def test_random_and_pixels_take_no_vision_run(tmp_path) -> None:
    fails(
        act_config(tmp_path, "random", vision=vision_run(tmp_path, "darla")), "uses no vision run"
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("act.total_timesteps=-5", "act.total_timesteps=-5: use a whole number >= 1"),
        ("act.n_envs=0", "act.n_envs=0: use a whole number >= 1"),
        ("act.eval_episodes=0", "act.eval_episodes=0: use a whole number >= 1"),
        ("act.eval_every=-1", "act.eval_every=-1: use a whole number >= 0"),
        ("act.episode_steps=2.5", "act.episode_steps=2.5: use a whole number >= 1"),
        ("act.frame_stack=0", "act.frame_stack=0: use a whole number >= 1"),
        ("act.threads=true", "act.threads=True: use a whole number >= 1"),
        ("seed=-1", "seed=-1: use a whole number >= 0"),
    ],
)
def test_numeric_settings_out_of_range(tmp_path, override, message) -> None:
    fails(act_config(tmp_path, "random", override), message)
    assert not (tmp_path / "act").exists()  # refused before any run folder


def test_an_unknown_env_setting_is_named(tmp_path) -> None:
    from envs import DomainError

    with pytest.raises(DomainError, match="unknown CollectGoodObjects setting 'num_goodies'"):
        run_act(act_config(tmp_path, "random", "+act.env.num_goodies=3"), progress=False)

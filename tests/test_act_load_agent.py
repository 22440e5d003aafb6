"""`load_agent(run).predict` acts on raw pixels whatever the representation it was trained on.

The agents here stack 4 observations (act.frame_stack's default): a fresh agent's first
``predict`` sees what a fresh VecFrameStack shows the model, zeros then the observation. Whole
episodes through the history are in test_agents_memory.py."""

from __future__ import annotations

import numpy as np
import pytest
from act_fixtures import SIZE, act_config, vision_run

import envs
from darla.agents import LatentVecEnv, load_agent, make_vec_env
from darla.errors import DarlaError
from darla.stages.act import run_act
from darla.vision import load_model
from darla.vision.code_stats import CODE_STATS, read_code_stats

pytestmark = pytest.mark.usefixtures("one_torch_thread")
STACK = 4


def first_stack(observed: np.ndarray) -> np.ndarray:
    """What VecFrameStack shows at an episode's first step: K - 1 zero slots, then ``observed``."""
    pad = np.zeros((*observed.shape[:-1], observed.shape[-1] * (STACK - 1)), observed.dtype)
    return np.concatenate([pad, observed], axis=-1)


def frames_and_latents(vision, n: int = 4):
    """Frames and the latents act's envs show for them (standardised, act.standardise_codes)."""
    venv = make_vec_env(envs.source_domains(), n, 123, {"obs_size": SIZE, "max_episode_steps": 20})
    model = load_model(vision)
    wrapped = LatentVecEnv(venv, model, read_code_stats(vision / CODE_STATS, model.latent_dim))
    latents = wrapped.reset()
    for _ in range(5):
        latents, *_ = wrapped.step(np.array([2, 0, 1, 2][:n]))
    frames = wrapped.last_frames
    wrapped.close()
    return frames, latents


@pytest.mark.parametrize("agent", ["ppo", "dqn"])
def test_predict_on_pixels_equals_model_action_on_wrapper_latents(tmp_path, agent) -> None:
    vision = vision_run(tmp_path, "darla")
    result = run_act(
        act_config(tmp_path, "darla", agent=agent, vision=vision, steps=80), progress=False
    )
    frames, latents = frames_and_latents(vision)
    expected, _ = result.model.predict(first_stack(latents), deterministic=True)
    loaded = load_agent(result.run_dir)
    assert loaded.representation == "darla" and loaded.algo == agent
    np.testing.assert_array_equal(loaded.predict(frames), expected)
    loaded.reset()  # one frame is a batch of one row, a new episode again
    assert loaded.predict(frames[0]) == int(expected[0])
    np.testing.assert_array_equal(loaded.observe(frames), latents)


@pytest.mark.parametrize("representation", ["random", "darla_ft"])
def test_predict_for_representations_that_carry_their_own_encoder(tmp_path, representation) -> None:
    vision = vision_run(tmp_path, "darla") if representation == "darla_ft" else None
    result = run_act(act_config(tmp_path, representation, vision=vision, steps=40), progress=False)
    venv = make_vec_env(envs.source_domains(), 3, 5, {"obs_size": SIZE, "max_episode_steps": 20})
    frames = venv.reset()
    venv.close()
    loaded = load_agent(result.run_dir)
    if representation == "random":
        expected, _ = result.model.predict(first_stack(loaded.observe(frames)), deterministic=True)
        assert (result.run_dir / "random_encoder" / "model.safetensors").is_file()
    else:  # SB3 transposes the HWC stack [N, H, W, 3K] itself
        expected, _ = result.model.predict(first_stack(frames), deterministic=True)
    np.testing.assert_array_equal(loaded.predict(frames), expected)


def test_load_agent_refuses_a_changed_vision_model_and_wrong_frames(tmp_path) -> None:
    vision = vision_run(tmp_path, "beta_vae")
    result = run_act(act_config(tmp_path, "beta_vae", vision=vision, steps=40), progress=False)
    loaded = load_agent(result.run_dir)
    with pytest.raises(DarlaError, match="obs_size=32"):
        loaded.predict(np.zeros((64, 64, 3), np.uint8))
    vision_run(tmp_path, "beta_vae", seed=1)  # another model, copied over the first below
    (vision / "model.safetensors").write_bytes(
        (tmp_path / "see" / "beta_vae-test1" / "model.safetensors").read_bytes()
    )
    with pytest.raises(DarlaError, match="changed since"):
        load_agent(result.run_dir)
    with pytest.raises(DarlaError, match="not a `darla act` run folder"):
        load_agent(tmp_path)


def test_load_agent_refuses_a_model_zip_changed_since_act_wrote_it(tmp_path) -> None:
    result = run_act(act_config(tmp_path, "random", steps=40), progress=False)
    model_zip = result.run_dir / "model.zip"
    load_agent(result.run_dir)  # as written: loads
    model_zip.write_bytes(model_zip.read_bytes() + b"\0")  # still a valid zip, other bytes
    with pytest.raises(DarlaError, match=r"model.zip changed since `darla act` wrote it"):
        load_agent(result.run_dir)


def test_the_vision_run_representation_takes_any_model_and_is_named_after_it(tmp_path) -> None:
    vision = vision_run(tmp_path, "vae")
    result = run_act(act_config(tmp_path, "vision_run", vision=vision, steps=40), progress=False)
    assert result.run_dir.name.startswith("vae-ppo-")
    frames, latents = frames_and_latents(vision)
    expected, _ = result.model.predict(first_stack(latents), deterministic=True)
    np.testing.assert_array_equal(load_agent(result.run_dir).predict(frames), expected)

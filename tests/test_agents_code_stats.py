"""A frozen module's codes reach the agent standardised with its vision run's statistics.

``act.standardise_codes`` (on by default): the wrapper, the trained model and ``load_agent``
all see ``(μ(x) - mean) / std`` with the mean and std the vision run stored over its training
frames (``code_stats.json``); ``agent.json`` carries them, so a loaded agent needs only the
weights. The statistics' digest is part of the agent's run key.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from act_fixtures import SIZE, act_config, vision_run
from stable_baselines3.common.callbacks import BaseCallback

import envs
from darla.agents import LatentVecEnv, load_agent, make_vec_env
from darla.errors import DarlaError
from darla.manifest import recorded_file, write_manifest
from darla.stages.act import run_act
from darla.vision import FrozenEncoder, load_model
from darla.vision.code_stats import CODE_STATS, CodeStats, read_code_stats, write_code_stats

pytestmark = pytest.mark.usefixtures("one_torch_thread")
STACK = 4  # act.frame_stack's default
SETTINGS = {"obs_size": SIZE, "max_episode_steps": 20}


class StopAtOnce(BaseCallback):
    """Stops training at its first step: enough for a run folder's name and agent.json."""

    def _on_step(self) -> bool:
        return False


def first_stack(observed: np.ndarray) -> np.ndarray:
    """What VecFrameStack shows at an episode's first step: K - 1 zero slots, then ``observed``."""
    pad = np.zeros((*observed.shape[:-1], observed.shape[-1] * (STACK - 1)), observed.dtype)
    return np.concatenate([pad, observed], axis=-1)


def frames(n: int = 3, steps: int = 4) -> np.ndarray:
    venv = make_vec_env(envs.source_domains(), n, 123, SETTINGS)
    venv.reset()
    for _ in range(steps):
        obs, *_ = venv.step(np.array([2, 0, 1][:n]))
    venv.close()
    return obs


def stats_of(vision) -> CodeStats:
    return read_code_stats(vision / CODE_STATS, load_model(vision).latent_dim)


def test_wrapper_observations_are_the_standardised_latent_means(tmp_path) -> None:
    vision = vision_run(tmp_path, "dae")  # the unbounded code standardising is for
    model, stats = load_model(vision), stats_of(vision)
    short = {**SETTINGS, "max_episode_steps": 3}  # a truncation within the steps below
    raw = LatentVecEnv(make_vec_env(envs.source_domains(), 2, 5, short), model)
    scaled = LatentVecEnv(make_vec_env(envs.source_domains(), 2, 5, short), model, stats)
    assert scaled.observation_space.shape == (6,)
    first = scaled.reset()
    np.testing.assert_array_equal(first, stats.standardise(raw.reset()))
    np.testing.assert_allclose(
        first, stats.standardise(model.latent_mean(scaled.last_frames)), rtol=0, atol=1e-4
    )
    ended = 0
    for _ in range(4):
        actions = np.array([2, 1])
        want, _, _, raw_infos = raw.step(actions)
        got, _, _, infos = scaled.step(actions)
        np.testing.assert_array_equal(got, stats.standardise(want))
        for info, raw_info in zip(infos, raw_infos, strict=True):
            if "terminal_observation" in info:  # SB3 bootstraps from it: the same scale
                ended += 1
                np.testing.assert_array_equal(
                    info["terminal_observation"],
                    stats.standardise(raw_info["terminal_observation"]),
                )
    assert ended == 2
    raw.close()
    scaled.close()
    wrong = CodeStats(np.zeros(3, np.float32), np.ones(3, np.float32), 1)
    with pytest.raises(ValueError, match="code statistics of 3 latents for an encoder of 6"):
        LatentVecEnv(make_vec_env(["A_room1"], 1, 0, SETTINGS), model, wrong)


def test_load_agent_acts_on_the_standardised_latents_it_was_trained_on(tmp_path) -> None:
    vision = vision_run(tmp_path, "dae")
    result = run_act(act_config(tmp_path, "dae", vision=vision, steps=40), progress=False)
    stats = stats_of(vision)
    # training saw the standardised codes: about unit spread, where the raw ones spread ~1e-3
    newest = result.model.rollout_buffer.observations[..., -6:]
    assert (newest.std(axis=(0, 1)) > 0.1).all()
    spec = json.loads((result.run_dir / "agent.json").read_text())
    assert spec["format_version"] == 3
    assert spec["vision"]["code_stats"] == {
        "mean": stats.mean.tolist(),
        "std": stats.std.tolist(),
        "frames": stats.frames,
    }

    shown = frames()
    latents = stats.standardise(FrozenEncoder(load_model(vision))(shown))
    expected, _ = result.model.predict(first_stack(latents), deterministic=True)
    with torch.no_grad():
        tensor, _ = result.model.policy.obs_to_tensor(first_stack(latents))
        probs = result.model.policy.get_distribution(tensor).distribution.probs.numpy()
    (vision / CODE_STATS).unlink()  # the agent carries its statistics: the see folder's copy
    loaded = load_agent(result.run_dir)  # is not read again
    np.testing.assert_array_equal(loaded.code_stats.mean, stats.mean)
    np.testing.assert_array_equal(loaded.code_stats.std, stats.std)
    np.testing.assert_array_equal(loaded.observe(shown), latents)
    np.testing.assert_array_equal(loaded.predict(shown), expected)
    loaded.reset()  # an untrained policy's argmax hides a lot: the probabilities too
    np.testing.assert_allclose(loaded.action_probabilities(shown), probs, rtol=0, atol=1e-6)

    # an agent.json of format 2 (before statistics) is loaded as it was trained: raw codes
    del spec["vision"]["code_stats"]
    (result.run_dir / "agent.json").write_text(json.dumps({**spec, "format_version": 2}))
    old = load_agent(result.run_dir)
    assert old.code_stats is None
    np.testing.assert_array_equal(old.observe(shown), FrozenEncoder(load_model(vision))(shown))


def test_a_vision_run_without_code_stats_is_refused_until_standardising_is_off(tmp_path) -> None:
    vision = vision_run(tmp_path, "darla")
    (vision / CODE_STATS).unlink()  # a `darla see` run made before code_stats.json
    write_manifest(vision, stage="see", config={"vision": {"name": "darla"}}, inputs={})
    with pytest.raises(DarlaError, match=f"has no {CODE_STATS}") as info:
        run_act(act_config(tmp_path, "darla", vision=vision, steps=40), progress=False)
    message = str(info.value)
    assert "\n" not in message and str(vision) in message
    assert "--force" in message and "act.standardise_codes=false" in message
    assert not (tmp_path / "act").exists()  # refused before any run folder

    cfg = act_config(tmp_path, "darla", "act.standardise_codes=false", vision=vision, steps=40)
    result = run_act(cfg, progress=False)
    assert result.finished
    assert "code_stats" not in json.loads((result.run_dir / "agent.json").read_text())["vision"]
    loaded = load_agent(result.run_dir)
    shown = frames()
    assert loaded.code_stats is None
    np.testing.assert_array_equal(loaded.observe(shown), FrozenEncoder(load_model(vision))(shown))


def test_a_changed_code_stats_file_is_refused(tmp_path) -> None:
    vision = vision_run(tmp_path, "darla")
    stats = stats_of(vision)
    write_code_stats(vision / CODE_STATS, CodeStats(stats.mean + 1, stats.std, stats.frames))
    with pytest.raises(DarlaError, match=r"code_stats\.json changed since it was written"):
        run_act(act_config(tmp_path, "darla", vision=vision, steps=40), progress=False)


def test_standardising_and_the_statistics_are_part_of_the_run_key(tmp_path) -> None:
    vision = vision_run(tmp_path, "darla")

    def run_dir(*extra: str):
        cfg = act_config(tmp_path, "darla", *extra, vision=vision, steps=40)
        result = run_act(cfg, progress=False, callbacks=[StopAtOnce()])
        assert not result.finished
        return result.run_dir

    on, off = run_dir(), run_dir("act.standardise_codes=false")
    assert on != off
    assert "code_stats" in json.loads((on / "agent.json").read_text())["vision"]
    # the weights handed over by `darla run` (digests as recorded): the same agent
    handed = run_act(
        act_config(tmp_path, "darla", steps=40),
        vision=recorded_file(vision, "model.safetensors"),
        progress=False,
        callbacks=[StopAtOnce()],
    )
    assert handed.run_dir == on
    # other statistics (the vision run recomputed with them, its manifest rewritten): another agent
    stats = stats_of(vision)
    write_code_stats(vision / CODE_STATS, CodeStats(stats.mean, stats.std * 2, stats.frames))
    write_manifest(vision, stage="see", config={"vision": {"name": "darla"}}, inputs={})
    assert run_dir() not in (on, off)
    assert run_dir("act.standardise_codes=false") == off  # raw codes: the statistics do not matter


def test_the_random_encoder_keeps_its_raw_codes(tmp_path) -> None:
    cfg = act_config(tmp_path, "random", steps=40)
    result = run_act(cfg, progress=False, callbacks=[StopAtOnce()])
    spec = json.loads((result.run_dir / "agent.json").read_text())
    assert spec["mode"] == "latent" and "code_stats" not in spec["vision"]

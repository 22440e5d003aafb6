"""Agents with a memory: a frame stack over latents or pixels, RecurrentPPO's LSTM.

``load_agent(run).predict`` on raw frames keeps each row's history as training's VecEnv kept it
per sub-env, so playing an episode through it gives the trained model's actions; transfer's
``AgentPolicy`` keeps it per row and starts afresh on ``reset``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from act_fixtures import SIZE, act_config, vision_run
from stable_baselines3.common.vec_env import VecEnvWrapper

import envs
from darla.agents import load_agent, make_vec_env
from darla.config import compose
from darla.errors import DarlaError
from darla.stages.act import agent_view, run_act
from darla.transfer.policies import load_policy
from darla.vision import load_model
from darla.vision.code_stats import CODE_STATS, read_code_stats

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def recurrent_config(root, representation: str, *extra: str, vision=None, steps: int = 160):
    """``act_config``'s tiny run with agent=recurrent_ppo (PPO's tiny rollout, a small LSTM)."""
    cfg = act_config(root, representation, *extra, vision=vision, steps=steps)
    cfg.agent = compose(
        "act",
        [
            "agent=recurrent_ppo",
            "agent.hyperparams.n_steps=20",
            "agent.hyperparams.batch_size=20",
            "agent.hyperparams.n_epochs=2",
            "agent.policy.lstm_hidden_size=8",
            "agent.policy.net_arch=[16]",
        ],
    ).agent
    return cfg


class RecordFrames(VecEnvWrapper):
    """Keeps the raw frames of the latest reset or step (what an agent is given at test time)."""

    def reset(self):
        self.frames = self.venv.reset()
        return self.frames

    def step_wait(self):
        self.frames, rewards, dones, infos = self.venv.step_wait()
        return self.frames, rewards, dones, infos


def code_stats(vision):
    """What act standardises the fixture vision run's 6 codes with (act.standardise_codes)."""
    return read_code_stats(vision / CODE_STATS, 6)


def play(result, encoder, frame_stack: int, stats=None, steps: int = 25, n_envs: int = 2):
    """The trained model's deterministic actions (and, for PPO, action probabilities) over
    ``steps`` steps of fresh envs seen as in training (an episode ends after 20 steps; latents
    standardised with ``stats``), and the raw frames and episode starts it saw."""
    raw = RecordFrames(
        make_vec_env(envs.source_domains(), n_envs, 77, {"obs_size": SIZE, "max_episode_steps": 20})
    )
    venv = agent_view(raw, encoder, frame_stack, stats)
    model = result.model
    obs = venv.reset()
    state, starts = None, np.ones(n_envs, dtype=bool)
    frames, actions, probs, episode_starts = [], [], [], []
    for _ in range(steps):
        frames.append(raw.frames.copy())
        episode_starts.append(starts)
        if hasattr(model.policy, "get_distribution"):
            probs.append(distribution(model.policy, obs, state, starts))
        action, state = model.predict(obs, state=state, episode_start=starts, deterministic=True)
        actions.append(action)
        obs, _, starts, _ = venv.step(action)
    venv.close()
    assert np.concatenate(episode_starts[1:]).any()  # the play crossed an episode boundary
    return frames, actions, probs, episode_starts


def distribution(policy, obs, state, starts) -> np.ndarray:
    """Action probabilities the way SB3's (and sb3-contrib's) rollouts compute them."""
    with torch.no_grad():
        tensor, _ = policy.obs_to_tensor(obs)
        if not hasattr(policy, "lstm_actor"):
            return policy.get_distribution(tensor).distribution.probs.numpy()
        if state is None:
            zeros = np.zeros((1, len(obs), policy.lstm_actor.hidden_size), np.float32)
            state = (zeros, zeros)
        lstm = tuple(torch.as_tensor(s) for s in state)
        dist, _ = policy.get_distribution(
            tensor, lstm, torch.as_tensor(starts, dtype=torch.float32)
        )
        return dist.distribution.probs.numpy()


@pytest.mark.parametrize(
    ("agent", "representation"),
    [("ppo", "darla"), ("recurrent_ppo", "darla"), ("ppo", "darla_ft"), ("dqn", "darla")],
)
def test_predict_on_raw_frames_plays_an_episode_as_the_trained_model(
    tmp_path, agent, representation
) -> None:
    vision = vision_run(tmp_path, "darla")
    if agent == "recurrent_ppo":
        cfg = recurrent_config(tmp_path, representation, vision=vision, steps=40)
    else:
        cfg = act_config(tmp_path, representation, agent=agent, vision=vision, steps=40)
    result = run_act(cfg, progress=False)
    spec = json.loads((result.run_dir / "agent.json").read_text())
    assert spec["frame_stack"] == 4 and spec["format_version"] == 3
    shape = (4 * 6,) if representation == "darla" else (4 * 3, SIZE, SIZE)
    assert result.model.observation_space.shape == shape

    encoder = load_model(vision) if representation == "darla" else None  # darla_ft: in the policy
    stats = code_stats(vision) if representation == "darla" else None  # darla_ft: raw codes
    frames, expected, probs, starts = play(result, encoder, 4, stats)
    agent_ = load_agent(result.run_dir)
    assert agent_.frame_stack == 4 and agent_.recurrent == (agent == "recurrent_ppo")
    agent_.reset(2)
    got = [agent_.predict(f, episode_start=s) for f, s in zip(frames, starts, strict=True)]
    np.testing.assert_array_equal(np.stack(got), np.stack(expected))
    if agent != "dqn":  # the probabilities too: an untrained policy's argmax hides a lot
        agent_.reset(2)
        got = [agent_.action_probabilities(f, s) for f, s in zip(frames, starts, strict=True)]
        np.testing.assert_allclose(np.stack(got), np.stack(probs), rtol=0, atol=1e-6)

    # reset() forgets the history: the same episode again gives the same actions
    agent_.reset()
    again = [agent_.predict(f, episode_start=s) for f, s in zip(frames, starts, strict=True)]
    np.testing.assert_array_equal(np.stack(again), np.stack(expected))


def test_each_row_keeps_its_own_history_and_transfer_resets_it(tmp_path) -> None:
    """Rows played together act as each played alone; AgentPolicy.reset(seeds) (before each
    batch of transfer episodes) starts every row afresh, sampled actions included."""
    vision = vision_run(tmp_path, "darla")
    result = run_act(recurrent_config(tmp_path, "darla", vision=vision, steps=40), progress=False)
    frames, *_ = play(result, load_model(vision), 4, code_stats(vision))
    together = load_agent(result.run_dir)
    together.reset(2)
    both = np.stack([together.predict(f) for f in frames])
    for row in (0, 1):
        alone = load_agent(result.run_dir)
        alone.reset(1)
        np.testing.assert_array_equal(
            [alone.predict(f[row : row + 1])[0] for f in frames], both[:, row]
        )

    policy = load_policy(result.run_dir)
    for deterministic in (True, False):
        runs = []
        for _ in range(2):
            policy.reset([3, 4])
            runs.append(np.stack([policy.predict(f, deterministic) for f in frames]))
        np.testing.assert_array_equal(runs[0], runs[1])
    policy.reset([3, 4])
    np.testing.assert_array_equal(np.stack([policy.predict(f) for f in frames]), both)
    with pytest.raises(DarlaError, match=r"reset for 2 rows but got 1 frames: call reset\(1\)"):
        policy.agent.predict(frames[0][:1])


def test_frame_stack_1_is_a_single_frame_agent(tmp_path) -> None:
    vision = vision_run(tmp_path, "darla")
    result = run_act(
        act_config(tmp_path, "darla", "act.frame_stack=1", vision=vision, steps=40), progress=False
    )
    assert result.model.observation_space.shape == (6,)
    frames, expected, *_ = play(result, load_model(vision), 1, code_stats(vision))
    agent = load_agent(result.run_dir)
    assert agent.frame_stack == 1 and not agent.has_memory
    np.testing.assert_array_equal(agent.predict(frames[2]), expected[2])  # no history to keep

"""An interrupted `darla act` resumes from its last checkpoint and ends where an uninterrupted run
ends: the same step count, the same buffer contents, the same weights, with a frame stack, with
an LSTM, and when the checkpoint finds sub-envs in the middle of their episodes."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from act_fixtures import act_config, vision_run
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from test_agents_memory import recurrent_config

from darla.agents.checkpoints import latest_checkpoint, load_state, save_state
from darla.errors import DarlaError
from darla.manifest import is_finished
from darla.stages.act import run_act

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class StopAt(BaseCallback):
    """Simulates an interruption: stops learning once ``steps`` env steps are done."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = steps

    def _on_step(self) -> bool:
        return self.num_timesteps < self.steps


def buffers_equal(a, b, names) -> None:
    for name in names:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def params_equal(a, b) -> None:
    sa, sb = a.policy.state_dict(), b.policy.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def check_resume(tmp_path, config, agent: str) -> dict:
    """Train ``config(root)`` in one go and again cut at step 100 then resumed; both end alike.
    Returns the env state the resumed run restarted from (its checkpoint's env.json)."""
    whole = run_act(config(tmp_path / "whole"), progress=False)
    assert whole.finished and whole.num_timesteps == 160

    cfg = config(tmp_path / "cut")
    cut = run_act(cfg, progress=False, callbacks=[StopAt(100)])
    assert not cut.finished and not is_finished(cut.run_dir)
    checkpoint = latest_checkpoint(cut.run_dir)
    assert checkpoint is not None and 0 < checkpoint["num_timesteps"] <= 100
    env_state = json.loads((checkpoint["path"] / "env.json").read_text())
    resumed = run_act(cfg, progress=False)
    assert resumed.finished and resumed.num_timesteps == 160 and resumed.run_dir == cut.run_dir
    assert resumed.model.num_timesteps == whole.model.num_timesteps
    if agent == "dqn":
        buffers_equal(
            resumed.model.replay_buffer,
            whole.model.replay_buffer,
            ("observations", "next_observations", "actions", "rewards", "dones"),
        )
        assert resumed.model.replay_buffer.pos == whole.model.replay_buffer.pos
        assert resumed.model._n_updates == whole.model._n_updates
    else:
        names = (
            "observations",
            "actions",
            "rewards",
            "episode_starts",
            "values",
            "log_probs",
            "advantages",
        )
        buffers_equal(resumed.model.rollout_buffer, whole.model.rollout_buffer, names)
    params_equal(resumed.model, whole.model)
    np.testing.assert_array_equal(resumed.model._last_obs, whole.model._last_obs)
    if agent == "recurrent_ppo":
        for a, b in zip(
            (*resumed.model._last_lstm_states.pi, *resumed.model._last_lstm_states.vf),
            (*whole.model._last_lstm_states.pi, *whole.model._last_lstm_states.vf),
            strict=True,
        ):
            assert torch.equal(a, b)
    # SB3's episode statistics went on as if never cut (the wall-clock times aside)
    assert [(e["r"], e["l"]) for e in resumed.model.ep_info_buffer] == [
        (e["r"], e["l"]) for e in whole.model.ep_info_buffer
    ]
    # a finished run keeps one checkpoint, its last, for a longer run to continue from; DQN,
    # whose ε schedule follows the total, cannot continue and keeps none
    kept = [p.name for p in (cut.run_dir / "checkpoints").glob("step_*")]
    assert kept == ([] if agent == "dqn" else ["step_160"])
    return env_state


@pytest.mark.parametrize("agent", ["ppo", "dqn"])
def test_resume_matches_an_uninterrupted_run(tmp_path, agent) -> None:
    vision = vision_run(tmp_path, "darla")
    check_resume(
        tmp_path, lambda root: act_config(root, "darla", agent=agent, vision=vision), agent
    )


@pytest.mark.parametrize(
    ("agent", "representation"),
    [("ppo", "darla"), ("dqn", "darla"), ("recurrent_ppo", "darla"), ("ppo", "darla_ft")],
)
def test_resume_in_the_middle_of_episodes_matches_an_uninterrupted_run(
    tmp_path, agent, representation
) -> None:
    """Episodes of 15 steps against rollouts of 20 (PPO) or 4 (DQN) steps per env: the
    checkpoint at step 80 finds each sub-env 10 steps into its third episode, its frame stack
    (latents, or frames for darla_ft) and monitor part-filled, the LSTM mid-sequence."""
    vision = vision_run(tmp_path, "darla")

    def config(root):
        extra = ("act.episode_steps=15",)
        if agent == "recurrent_ppo":
            return recurrent_config(root, representation, *extra, vision=vision)
        return act_config(root, representation, *extra, agent=agent, vision=vision)

    env_state = check_resume(tmp_path, config, agent)
    assert [len(sub["actions"]) for sub in env_state["sub_envs"]] == [10, 10]
    assert [sub["episode"] for sub in env_state["sub_envs"]] == [2, 2]


def test_a_resume_whose_env_replays_otherwise_is_refused(tmp_path, monkeypatch) -> None:
    """The replay ends on the frame the checkpoint saw, or the run stops: an env whose code
    changed since would otherwise resume into another episode than the one it recorded."""
    from darla.agents.env import EpisodeSeeds

    vision = vision_run(tmp_path, "darla")
    cfg = act_config(tmp_path, "darla", "act.episode_steps=15", vision=vision)
    run_act(cfg, progress=False, callbacks=[StopAt(100)])
    monkeypatch.setattr(EpisodeSeeds, "episode_seed", lambda self, episode: 12345)
    with pytest.raises(DarlaError, match=r"replayed episode 2 \(10 actions\) to another frame"):
        run_act(cfg, progress=False)


@pytest.mark.parametrize("algo", [PPO, DQN])
def test_a_fresh_model_loads_every_counter_and_state_a_checkpoint_saved(tmp_path, algo) -> None:
    """Counters the act runs above happen not to be sensitive to (DQN's ε and target-sync call
    count are equal at their checkpoints whether restored or not) round-trip all the same."""
    kwargs = (
        {"n_steps": 16, "batch_size": 16, "n_epochs": 1}
        if algo is PPO
        else {"learning_starts": 8, "buffer_size": 100, "exploration_fraction": 0.9}
    )

    def build():
        env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
        return algo("MlpPolicy", env, seed=0, device="cpu", **kwargs)

    trained = build()
    trained.learn(70)
    save_state(trained, tmp_path / "step_70")
    resumed = build()
    load_state(resumed, tmp_path / "step_70")
    for name in (
        "num_timesteps",
        "_episode_num",
        "_n_updates",
        "_current_progress_remaining",
        "_n_calls",
        "exploration_rate",
    ):
        assert getattr(resumed, name, None) == getattr(trained, name, None), name
    assert trained._n_updates and trained.ep_info_buffer  # (Monitor's infos: plain numbers)
    assert list(resumed.ep_info_buffer) == list(trained.ep_info_buffer)
    params_equal(resumed, trained)
    optimizer, reference = (
        resumed.policy.optimizer.state_dict(),
        trained.policy.optimizer.state_dict(),
    )
    assert optimizer["param_groups"] == reference["param_groups"]
    for key, state in reference["state"].items():
        for name, value in state.items():
            assert torch.equal(optimizer["state"][key][name], value), name
    if algo is DQN:
        names = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")
        buffers_equal(resumed.replay_buffer, trained.replay_buffer, names)
        assert (resumed.replay_buffer.pos, resumed.replay_buffer.full) == (
            trained.replay_buffer.pos,
            trained.replay_buffer.full,
        )


def test_a_checkpoint_holds_no_pickle_and_a_corrupt_file_is_a_one_line_error(tmp_path) -> None:
    vision = vision_run(tmp_path, "darla")
    cfg = act_config(tmp_path, "darla", agent="dqn", vision=vision)
    cut = run_act(cfg, progress=False, callbacks=[StopAt(100)])
    checkpoint = latest_checkpoint(cut.run_dir)
    folders = sorted((cut.run_dir / "checkpoints").glob("step_*"))
    assert [f.name for f in folders] == ["step_40", "step_80"] and checkpoint["folder"] == "step_80"
    for folder in folders:
        files = sorted(folder.iterdir())
        names = [f.name for f in files]
        assert names == [
            "algorithm.json",
            "env.json",
            "env_state.npz",
            "policy.pt",
            "replay_buffer.npz",
            "rng.json",
        ]
        for file in files:  # every file reads back without unpickling anything
            if file.suffix == ".pt":
                assert "policy" in torch.load(file, weights_only=True)
            elif file.suffix == ".npz":
                with np.load(file, allow_pickle=False) as arrays:
                    assert all(arrays[name].dtype != object for name in arrays.files)
            else:
                json.loads(file.read_text())

    for file in sorted(checkpoint["path"].iterdir()):
        whole = file.read_bytes()
        file.write_bytes(whole[: len(whole) // 2])  # a copy cut short, e.g. on a full NFS disk
        with pytest.raises(DarlaError) as error:
            run_act(cfg, progress=False)
        message = str(error.value)
        assert "\n" not in message and str(file) in message, message
        assert f"delete the folder {checkpoint['path']}" in message
        file.write_bytes(whole)

    # deleting the folder, as the message says, resumes from the checkpoint before it
    shutil.rmtree(checkpoint["path"])
    previous = latest_checkpoint(cut.run_dir)
    assert previous["folder"] == "step_40" and previous["num_timesteps"] == 40


@pytest.mark.parametrize("agent", ["ppo", "dqn"])
def test_extending_total_timesteps_continues_from_the_last_checkpoint(
    tmp_path, agent, capsys
) -> None:
    vision = vision_run(tmp_path, "darla")
    whole = run_act(
        act_config(tmp_path / "whole", "darla", agent=agent, vision=vision, steps=160),
        progress=False,
    )
    short = run_act(
        act_config(tmp_path / "ext", "darla", agent=agent, vision=vision, steps=80),
        progress=False,
    )
    capsys.readouterr()
    longer = run_act(
        act_config(tmp_path / "ext", "darla", agent=agent, vision=vision, steps=160),
        progress=False,
    )
    out = capsys.readouterr().out
    assert longer.finished and longer.run_dir != short.run_dir and is_finished(short.run_dir)
    params_equal(longer.model, whole.model)  # as if trained for 160 steps in one go
    if agent == "dqn":  # its ε decays over 30% of the total: continuing would change the numbers
        assert "continuing" not in out and "resuming" not in out
        return
    assert f"act: continuing {short.run_dir} (80 steps) to 160 steps" in out
    assert "at step 80/160" in out  # not from step 0
    with (
        np.load(longer.run_dir / "evaluations.npz") as curve,
        np.load(whole.run_dir / "evaluations.npz") as reference,
    ):
        assert curve["timesteps"].tolist() == reference["timesteps"].tolist() == [80, 160]
        np.testing.assert_array_equal(curve["results"], reference["results"])


def test_finished_run_is_reused_and_force_retrains(tmp_path) -> None:
    vision = vision_run(tmp_path, "beta_vae")
    first = run_act(act_config(tmp_path, "beta_vae", vision=vision, steps=80), progress=False)
    again = run_act(act_config(tmp_path, "beta_vae", vision=vision, steps=80), progress=False)
    assert again.reused and again.run_dir == first.run_dir and again.num_timesteps == 80
    forced = run_act(
        act_config(tmp_path, "beta_vae", "force=true", vision=vision, steps=80), progress=False
    )
    assert not forced.reused and forced.finished
    params_equal(forced.model, first.model)  # same config and seed, same numbers


def test_run_folder_key_follows_config_and_vision_weights(tmp_path) -> None:
    a = run_act(
        act_config(tmp_path, "beta_vae", vision=vision_run(tmp_path, "beta_vae"), steps=40),
        progress=False,
    )
    b = run_act(
        act_config(
            tmp_path, "beta_vae", "seed=1", vision=vision_run(tmp_path, "beta_vae"), steps=40
        ),
        progress=False,
    )
    c = run_act(
        act_config(tmp_path, "beta_vae", vision=vision_run(tmp_path, "beta_vae", seed=1), steps=40),
        progress=False,
    )
    assert len({a.run_dir, b.run_dir, c.run_dir}) == 3
    assert a.run_dir.name.startswith("beta_vae-ppo-")

"""The environment: determinism, domains in pixels, rewards, factors, several envs per process."""

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

import envs
from envs.collect_good_objects import CollectGoodObjects

ACTIONS = np.random.default_rng(0).integers(0, 3, 40)


def rollout(env, seed, actions=ACTIONS):
    obs, info = env.reset(seed=seed)
    frames, rewards, infos = [obs], [], [info]
    for action in actions:
        obs, reward, _terminated, _truncated, info = env.step(int(action))
        frames.append(obs)
        rewards.append(reward)
        infos.append(info)
    return np.stack(frames), np.array(rewards), infos


@pytest.fixture(scope="module")
def env():
    env = gym.make(envs.ENV_ID, domain="A_room1")
    yield env
    env.close()


def test_observation_is_rgb_uint8_of_configured_size():
    env = CollectGoodObjects(obs_size=(48, 80))
    obs, _ = env.reset(seed=0)
    assert obs.shape == (48, 80, 3) and obs.dtype == np.uint8
    assert env.observation_space.contains(obs)
    assert env.action_space.n == 3
    env.close()


def test_same_seed_same_observations(env):
    frames_a, rewards_a, _ = rollout(env, seed=7)
    frames_b, rewards_b, _ = rollout(env, seed=7)
    frames_c, _, _ = rollout(env, seed=8)
    np.testing.assert_array_equal(frames_a, frames_b)
    np.testing.assert_array_equal(rewards_a, rewards_b)
    assert not np.array_equal(frames_a, frames_c)


def test_every_named_domain_renders_and_differs_in_pixels():
    first_frames = {}
    for name in envs.domain_names():
        env = CollectGoodObjects(domain=name)
        obs, info = env.reset(seed=3)
        assert info["domain"] == name
        assert info["factors"] == envs.get_domain(name)
        assert obs.std() > 5, f"{name} renders a flat image"
        first_frames[name] = obs
        env.close()
    names = list(first_frames)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if envs.get_domain(a) != envs.get_domain(b):
                diff = np.abs(first_frames[a].astype(int) - first_frames[b].astype(int)).mean()
                assert diff > 1.0, f"{a} and {b} differ in factors but not in pixels"


def test_episode_has_fixed_length_and_reports_factors():
    env = CollectGoodObjects(domain="B_room2", max_episode_steps=25)
    env.reset(seed=0)
    for t in range(1, 26):
        _, _, terminated, truncated, info = env.step(2)
        assert not terminated
        assert truncated == (t == 25)
        assert info["factors"] == envs.get_domain("B_room2")
        assert info["domain"] == "B_room2"
    env.close()


@pytest.mark.parametrize(("role", "reward"), [("good", 1.0), ("bad", -1.0)])
def test_scripted_agent_walking_into_an_object_is_rewarded_by_its_role(role, reward):
    env = CollectGoodObjects(domain="A_room1")
    layout = {"agent_pos": (0.1, 0.5), "agent_yaw_deg": 0.0, role: [(0.5, 0.5)]}
    _obs, _ = env.reset(seed=0, options={"layout": layout})
    total, picked_at = 0.0, None
    for t in range(20):
        _obs_next, r, _, _, info = env.step(env.actions.move_forward)
        total += r
        if r != 0:
            picked_at = t
            assert info["pickup"] == role
            assert info[f"{role}_pickups"] == 1
            break
    assert picked_at is not None and total == reward
    # the object disappears: walking on gives nothing more and it is no longer drawn
    for _ in range(3):
        _, r, _, _, _ = env.step(env.actions.move_forward)
        assert r == 0
    assert not any(getattr(e, "role", None) for e in env.entities)
    env.close()


@pytest.mark.parametrize("target", envs.target_domains())
def test_rewards_do_not_depend_on_target_factors(target):
    source = CollectGoodObjects(domain="A_room1")
    shifted = CollectGoodObjects(domain=target)
    actions = np.random.default_rng(1).choice([0, 2, 2, 2, 1], 150)
    _, rewards_source, _ = rollout(source, seed=11, actions=actions)
    _frames, rewards_target, _ = rollout(shifted, seed=11, actions=actions)
    assert np.any(rewards_source != 0), "the scripted walk should touch at least one object"
    np.testing.assert_array_equal(rewards_source, rewards_target)
    source.close()
    shifted.close()


def test_multi_domain_env_samples_each_domain_reproducibly():
    env = CollectGoodObjects(domain=envs.source_domains(), max_episode_steps=1)
    seen = []
    env.reset(seed=5)
    for _ in range(30):
        _, info = env.reset()
        seen.append(info["domain"])
    assert set(seen) == set(envs.source_domains())
    env.reset(seed=5)
    again = [env.reset()[1]["domain"] for _ in range(30)]
    assert again == seen
    env.close()


def test_domain_can_be_forced_per_episode_with_options():
    env = CollectGoodObjects(domain="A_room1")
    _, info = env.reset(seed=0, options={"domain": {"base": "A_room1", "light_color": "dim"}})
    assert info["factors"]["light_color"] == "dim"
    env.close()


def test_envs_in_one_process_draw_their_own_scenes():
    """MiniWorld compiles every env into display list 1; two envs in one process used to clash."""
    alone = CollectGoodObjects(domain="A_room1")
    expected, _, _ = rollout(alone, seed=2, actions=ACTIONS[:10])
    alone.close()

    vec = DummyVecEnv(
        [lambda: CollectGoodObjects(domain="A_room1"), lambda: CollectGoodObjects(domain="B_room2")]
    )
    vec.seed(2)
    first = vec.reset()
    np.testing.assert_array_equal(first[0], expected[0])
    for t, action in enumerate(ACTIONS[:10]):
        obs, _, _, _ = vec.step(np.array([action, action]))
        np.testing.assert_array_equal(obs[0], expected[t + 1])
    vec.close()


def test_gymnasium_make_accepts_a_mapping_domain():
    env = gym.make(envs.ENV_ID, domain={"base": "A_room1", "wall_tex": "marble"}, obs_size=32)
    obs, info = env.reset(seed=0)
    assert obs.shape == (32, 32, 3)
    assert info["factors"]["wall_tex"] == "marble"
    env.close()


def test_bad_domain_in_make_fails_clearly():
    with pytest.raises(envs.DomainError, match="unknown domain 'A_room7'; valid domains"):
        gym.make(envs.ENV_ID, domain="A_room7")


def _make_source_env():
    return CollectGoodObjects(domain=envs.source_domains(), obs_size=32)


def test_works_in_subprocvecenv_with_forkserver():
    from stable_baselines3.common.vec_env import SubprocVecEnv

    local = _make_source_env()
    local.reset(seed=4)
    expected = [local.step(2)[0] for _ in range(3)]
    local.close()

    vec = SubprocVecEnv([_make_source_env, _make_source_env], start_method="forkserver")
    vec.seed(4)
    vec.reset()
    for frame in expected:
        obs, _, _, infos = vec.step(np.array([2, 2]))
        np.testing.assert_array_equal(obs[0], frame)
        assert infos[0]["domain"] in envs.source_domains()
    vec.close()


def test_defaults_follow_the_dmlab_levels_shape():
    """10 good and 10 bad objects and the agent on distinct cells of a grid; end at 10 pickups."""
    settings = envs.env_settings()
    assert (settings["num_good"], settings["num_bad"], settings["end_after_pickups"]) == (
        10,
        10,
        10,
    )
    env = CollectGoodObjects(obs_size=32)
    env.reset(seed=0)
    state = env.privileged_state()
    assert state.good_pos.shape == (10, 2) and state.bad_pos.shape == (10, 2)
    cell = env.room_size / settings["spawn_grid"]
    points = np.concatenate([state.good_pos, state.bad_pos, state.agent_pos[None]])
    index = points / cell - 0.5
    np.testing.assert_allclose(index, np.round(index), atol=1e-9)  # on cell centres
    assert len({tuple(p) for p in np.round(index).astype(int)}) == 21  # all distinct
    env.close()


def _line_of_objects(**settings):
    env = CollectGoodObjects(obs_size=32, **settings)
    layout = {
        "agent_pos": (0.1, 0.5),
        "agent_yaw_deg": 0.0,
        "bad": [(0.3, 0.5)],
        "good": [(0.55, 0.5), (0.8, 0.5)],
    }
    env.reset(seed=0, options={"layout": layout})
    return env


def _walk_forward(env, steps):
    out = []
    for _ in range(steps):
        _, reward, terminated, truncated, info = env.step(env.actions.move_forward)
        out.append((reward, terminated, truncated, info["good_pickups"] + info["bad_pickups"]))
        if terminated or truncated:
            break
    return out


def test_episode_ends_at_the_nth_pickup_of_any_object():
    env = _line_of_objects(end_after_pickups=2)
    steps = _walk_forward(env, 40)
    reward, terminated, truncated, pickups = steps[-1]
    assert terminated and not truncated and pickups == 2 and reward == 1.0
    assert sum(r for r, *_ in steps) == 0.0  # the bad one, then a good one
    assert not any(t for _, t, *_ in steps[:-1])
    env.close()


@pytest.mark.parametrize("off", [0, None])
def test_no_early_end_when_the_setting_is_off(off):
    env = _line_of_objects(end_after_pickups=off, max_episode_steps=30)
    steps = _walk_forward(env, 40)
    assert steps[-1][3] == 3  # all three picked up
    assert not any(t for _, t, *_ in steps) and steps[-1][2]  # only the time limit ends it
    env.close()


def test_privileged_state_is_the_true_state_and_the_same_in_every_domain():
    states = []
    for name in envs.domain_names():
        env = CollectGoodObjects(domain=name, obs_size=32)
        env.reset(seed=9)
        for action in ACTIONS[:25]:
            env.step(int(action))
        state = env.privileged_state()
        props = [e for e in env.entities if getattr(e, "role", None)]
        assert len(state.good_pos) + len(state.bad_pos) == len(props)
        np.testing.assert_allclose(state.agent_pos, env.agent.pos[[0, 2]])
        assert state.agent_dir == env.agent.dir
        states.append(state)
        env.close()
    for state in states[1:]:
        for field in ("agent_pos", "good_pos", "bad_pos"):
            np.testing.assert_array_equal(getattr(state, field), getattr(states[0], field))
        assert state.agent_dir == states[0].agent_dir


def test_pickup_removes_the_object_from_the_privileged_state():
    env = _line_of_objects()
    before = env.privileged_state()
    _walk_forward(env, 6)  # reaches the bad object first
    after = env.privileged_state()
    assert len(before.bad_pos) == 1 and len(after.bad_pos) == 0
    assert len(after.good_pos) == 2
    env.close()


def test_a_users_domain_with_an_unlisted_texture_and_an_rgb_colour_renders():
    mine = {"base": "A_room1", "wall_tex": "drywall", "good_color": [0.2, 0.9, 0.4]}
    env = CollectGoodObjects(domain=mine, obs_size=32)
    obs, info = env.reset(seed=3)
    assert info["factors"]["wall_tex"] == "drywall"
    assert info["factors"]["good_color"] == [0.2, 0.9, 0.4]
    reference, _ = env.reset(seed=3, options={"domain": "A_room1"})
    assert np.abs(obs.astype(int) - reference.astype(int)).mean() > 1.0
    env.close()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"spawn_grid": 4}, "16 cells for 10 \\+ 10 objects"),
        ({"spawn_grid": 12, "room_size": 6}, "narrower than an object"),
        ({"end_after_pickups": -1}, "end_after_pickups must be >= 0"),
    ],
)
def test_bad_task_settings_fail_clearly(settings, message):
    with pytest.raises(ValueError, match=message):
        CollectGoodObjects(**settings)

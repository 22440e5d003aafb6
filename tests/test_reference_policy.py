"""The reference policy: scores far above random, blind to looks, walks to good, around bad."""

import numpy as np
import pytest

import envs
from darla.transfer.policies import Policy, RandomPolicy
from darla.transfer.rollout import EnvSettings, episode_seeds, run_episodes
from envs.collect_good_objects import CollectGoodObjects
from envs.reference import (
    FORWARD,
    TURN_LEFT,
    TURN_RIGHT,
    ReferencePolicy,
    reference_action,
    reference_actions,
)

SETTINGS = EnvSettings(obs_size=32, episode_steps=200)
SEEDS = episode_seeds(0, 4)


def test_actions_are_the_envs_turn_left_turn_right_forward():
    actions = CollectGoodObjects.Actions
    assert (
        actions.turn_left,
        actions.turn_right,
        actions.move_forward,
    ) == (TURN_LEFT, TURN_RIGHT, FORWARD)


def test_satisfies_the_transfer_policy_protocol():
    policy = ReferencePolicy(obs_size=32)
    assert isinstance(policy, Policy)
    assert policy.privileged and policy.vision is None and policy.method == "reference"
    with pytest.raises(ValueError, match="true states"):
        policy.predict(np.zeros((1, 32, 32, 3), np.uint8))


@pytest.fixture(scope="module")
def episodes():
    """Reference and random episodes on the same seeds in every named domain."""
    out = {}
    for name in envs.domain_names():
        domain = envs.resolve_domain(name)
        out[name] = {
            policy.method: run_episodes(policy, domain, SEEDS, SETTINGS)[0]
            for policy in (ReferencePolicy(32), RandomPolicy(32))
        }
    return out


def test_scores_well_above_random_in_every_named_domain(episodes):
    for name, by_policy in episodes.items():
        reference = np.mean([e["return"] for e in by_policy["reference"]])
        random = np.mean([e["return"] for e in by_policy["random"]])
        assert reference >= 6 and reference > random + 4, (name, reference, random)
        # it collects the 10 pickups that end an episode well before the time limit
        assert np.mean([e["length"] for e in by_policy["reference"]]) < 150, name


def test_plays_exactly_the_same_in_every_domain(episodes):
    """Its input has no looks: paired episodes give the same returns, pickups and lengths."""
    first, *others = episodes.values()
    for by_policy in others:
        assert by_policy["reference"] == first["reference"]


def _layout_env(layout):
    env = CollectGoodObjects(domain="A_room1", obs_size=32, end_after_pickups=0)
    env.reset(seed=0, options={"layout": layout})
    return env


def _play(env, steps=60):
    actions, rewards = [], []
    for _ in range(steps):
        action = reference_action(env.privileged_state())
        _, reward, _, _, info = env.step(action)
        actions.append(action)
        rewards.append(reward)
        if info["good_pickups"]:
            break
    return actions, rewards, info


def test_walks_straight_to_a_good_object_ahead():
    env = _layout_env({"agent_pos": (0.1, 0.5), "agent_yaw_deg": 0.0, "good": [(0.5, 0.5)]})
    actions, rewards, info = _play(env)
    assert set(actions) == {FORWARD}
    assert rewards[-1] == 1.0 and info["good_pickups"] == 1
    env.close()


@pytest.mark.parametrize("side", [0.47, 0.53])
def test_turns_away_from_a_bad_object_between_it_and_a_good_one(side):
    layout = {
        "agent_pos": (0.1, 0.5),
        "agent_yaw_deg": 0.0,
        "bad": [(0.3, side)],  # straight ahead, a little to one side
        "good": [(0.6, 0.5)],
    }
    env = _layout_env(layout)
    actions, _, info = _play(env)
    assert actions[0] in (TURN_LEFT, TURN_RIGHT)
    assert info["good_pickups"] == 1 and info["bad_pickups"] == 0
    env.close()


def test_is_a_pure_function_of_the_state():
    env = CollectGoodObjects(domain="A_room1", obs_size=32)
    env.reset(seed=3)
    states = []
    for _ in range(30):
        states.append(env.privileged_state())
        env.step(reference_action(states[-1]))
    singles = [reference_action(s) for s in states]
    assert singles == [reference_action(s) for s in states]
    np.testing.assert_array_equal(reference_actions(states), singles)  # batched = one by one
    predicted = ReferencePolicy(32).predict(np.zeros((3, 32, 32, 3)), states=[*states[:2], None])
    assert list(predicted[:2]) == singles[:2]  # a finished row (None) gets a filler action
    env.close()

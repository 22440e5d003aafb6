"""Evaluation episodes: fixed seeds, pairing across agents and domains, batching and workers."""

from __future__ import annotations

import numpy as np
import pytest
from transfer_fixtures import SETTINGS, SIZE, STEPS, LatentPPOPolicy, domain

from darla.transfer import (
    BlindPolicy,
    Cell,
    EnvSettings,
    RandomPolicy,
    blind_share,
    episode_seeds,
    evaluate_cells,
    run_episodes,
)


def test_episode_seeds_are_fixed_and_distinct() -> None:
    seeds = episode_seeds(0, 6)
    assert seeds == episode_seeds(0, 6)
    assert episode_seeds(0, 3) == seeds[:3]  # more episodes extend, never reshuffle
    assert len(set(seeds)) == 6 and seeds != episode_seeds(1, 6)


def test_fixed_seeds_give_identical_results_twice() -> None:
    policy = LatentPPOPolicy(seed=0)
    seeds = episode_seeds(0, 3)
    first, _ = run_episodes(policy, domain("A_room2"), seeds, SETTINGS)
    second, _ = run_episodes(LatentPPOPolicy(seed=0), domain("A_room2"), seeds, SETTINGS)
    assert first == second
    assert [e["seed"] for e in first] == seeds
    assert all(e["length"] == STEPS for e in first)
    for e in first:
        assert e["return"] == e["good_pickups"] - e["bad_pickups"]


def test_random_policy_episodes_are_paired_across_domains() -> None:
    # The random policy's actions depend on the episode seed only and a layout depends on the
    # seed only, so the same episode in two domains is the same walk through the same room:
    # rewards never depend on looks, so every domain gives the same numbers.
    seeds = episode_seeds(3, 4)
    long = EnvSettings(SIZE, 60)
    results = {
        name: run_episodes(RandomPolicy(SIZE), domain(name), seeds, long)[0]
        for name in ("A_room1", "A_unseen_colors", "A_new_lighting")
    }
    reference = results["A_room1"]
    assert all(r == reference for r in results.values())
    assert any(e["good_pickups"] + e["bad_pickups"] for e in reference)  # not trivially equal


def test_results_do_not_depend_on_batching_or_workers() -> None:
    seeds = episode_seeds(0, 4)
    agents = [LatentPPOPolicy(seed=0), LatentPPOPolicy(seed=1), RandomPolicy(SIZE)]
    cells = [
        Cell(f"{p.name}-{d}", p, domain(d), seeds) for p in agents for d in ("B_room1", "A_room2")
    ]
    one = evaluate_cells(cells, SETTINGS, workers=1, batch_episodes=4)
    split = evaluate_cells(cells, SETTINGS, workers=2, batch_episodes=1)
    assert {k: v[0] for k, v in one.items()} == {k: v[0] for k, v in split.items()}
    # paired: every agent played the same seeds, in the same order
    for episodes, _ in one.values():
        assert [e["seed"] for e in episodes] == seeds


def test_on_cell_receives_each_cell_once_in_seed_order() -> None:
    seeds = episode_seeds(2, 3)
    seen = []
    cells = [Cell("a", RandomPolicy(SIZE), domain("A_room1"), seeds)]
    evaluate_cells(
        cells, SETTINGS, batch_episodes=1, on_cell=lambda c, eps, v: seen.append((c.key, eps))
    )
    assert len(seen) == 1 and [e["seed"] for e in seen[0][1]] == seeds


def test_recordings_hold_every_frame() -> None:
    seeds = episode_seeds(0, 2)
    results, recordings = run_episodes(
        RandomPolicy(SIZE), domain("A_room1"), seeds, SETTINGS, record=1
    )
    assert len(recordings) == 1
    rec = recordings[0]
    assert rec.frames.shape == (STEPS + 1, SIZE, SIZE, 3) and rec.frames.dtype == np.uint8
    assert rec.returns[-1] == results[0]["return"] and rec.good[-1] == results[0]["good_pickups"]
    assert len({frame.tobytes() for frame in rec.frames}) > 1  # the walk moves the view


@pytest.mark.parametrize("deterministic", [False])
def test_stochastic_random_policy_rows_do_not_depend_on_the_batch(deterministic) -> None:
    seeds = episode_seeds(5, 4)
    together, _ = run_episodes(
        RandomPolicy(SIZE), domain("A_room1"), seeds, SETTINGS, deterministic=deterministic
    )
    apart = [
        run_episodes(RandomPolicy(SIZE), domain("A_room1"), [s], SETTINGS)[0][0] for s in seeds
    ]
    assert together == apart


class LookingPolicy:
    """Forward when the frame's centre is brighter than the frame, else turn left: its actions
    follow what it sees (a blank frame turns it left forever)."""

    name, method, seed, obs_size, vision = "looking", "looking", 0, SIZE, None

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        centre = obs[:, SIZE // 4 : 3 * SIZE // 4, SIZE // 4 : 3 * SIZE // 4].mean(axis=(1, 2, 3))
        return np.where(centre > obs.mean(axis=(1, 2, 3)), 2, 0)


@pytest.mark.parametrize("deterministic", [True, False])
def test_the_blind_diagnostic_finds_a_policy_that_ignores_its_frames(deterministic) -> None:
    seeds = episode_seeds(4, 4)
    room = domain("A_room1")

    def share(policy) -> float:
        played, _ = run_episodes(policy, room, seeds, SETTINGS, deterministic=deterministic)
        blind, _ = run_episodes(
            BlindPolicy(policy), room, seeds, SETTINGS, deterministic=deterministic
        )
        assert len({e["actions"] for e in played}) > 1 or deterministic  # digests tell walks apart
        return blind_share(played, blind)

    # the random policy's actions come from each episode's own stream, whatever the frames
    assert share(RandomPolicy(SIZE)) == 1.0
    assert share(LookingPolicy()) == 0.0
    # the blind twin of a seed plays the same in any domain (it sees grey wherever it is)
    twin = [
        run_episodes(BlindPolicy(RandomPolicy(SIZE)), domain(d), seeds, SETTINGS)[0]
        for d in ("A_room1", "A_unseen_colors")
    ]
    assert twin[0] == twin[1]


def test_blind_share_is_unknown_for_episodes_without_action_digests() -> None:
    old = [{"seed": 1, "return": 0.0}]
    assert blind_share(old, [{"seed": 1, "actions": "ab"}]) is None
    assert (
        blind_share(
            [{"seed": 1, "actions": "ab"}, {"seed": 2, "actions": "cd"}],
            [{"seed": 2, "actions": "cd"}, {"seed": 1, "actions": "xx"}],
        )
        == 0.5
    )

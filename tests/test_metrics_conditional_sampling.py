"""The factor datasets' conditional sampler (``sample_factors_with``) and the metrics' one way
to fix a factor (``darla.metrics.sampling.fix_factor``)."""

from __future__ import annotations

import numpy as np
import pytest

import envs
from darla.errors import DarlaError
from darla.metrics.beta_vae import beta_vae_features
from darla.metrics.factor_vae import factor_vae_votes
from darla.metrics.ground_truth import IdentityDataset, identity_represent
from darla.metrics.sampling import fix_factor, sample_factors
from darla.vision.training.batches import ClampedBatches

SIZE = 16


@pytest.fixture(scope="module")
def scenes():
    dataset = envs.make_factor_dataset(envs.source_domains(), obs_size=SIZE)
    yield dataset
    dataset.close()


@pytest.fixture(scope="module")
def all_scenes():
    dataset = envs.make_factor_dataset(envs.source_domains(), obs_size=SIZE, combinations="all")
    yield dataset
    dataset.close()


def _in_support(dataset, rows: np.ndarray) -> bool:
    held = {tuple(c) for c in dataset.domain_combinations}
    return all(tuple(row[: dataset.num_domain_factors]) in held for row in rows)


def test_restricted_scenes_hold_the_domains_combinations_and_nothing_else(scenes):
    # room 1, 2 x pair A, B: every combination but (room 2, pair A), the held-out target
    assert {tuple(c) for c in scenes.domain_combinations} == {(0, 0), (0, 1), (1, 1)}
    rows = scenes.sample_factors(3000, np.random.default_rng(0))
    assert {tuple(r[:2]) for r in rows} == {(0, 0), (0, 1), (1, 1)}
    for k in range(2, 5):  # layout factors: independent, full range
        assert set(np.unique(rows[:, k])) == set(range(scenes.factor_sizes[k]))


@pytest.mark.parametrize("k", range(5))
def test_sample_factors_with_fixes_the_factor_and_stays_in_the_support(scenes, k):
    values = np.resize(np.arange(scenes.factor_sizes[k]), 400)
    rows = scenes.sample_factors_with(k, values, np.random.default_rng(1))
    assert rows.shape == (400, 5) and rows.dtype == np.int64
    np.testing.assert_array_equal(rows[:, k], values)
    assert _in_support(scenes, rows)
    if k == 0:  # room 2 only with pair B; room 1 with either pair
        assert set(rows[values == 1, 1]) == {1}
        assert set(rows[values == 0, 1]) == {0, 1}


def test_sample_factors_with_takes_one_factor_per_row(scenes):
    ks = np.array([0, 1, 2, 0, 1])
    values = np.array([1, 0, 4, 0, 1])
    rows = scenes.sample_factors_with(ks, values, np.random.default_rng(2))
    np.testing.assert_array_equal(rows[np.arange(5), ks], values)
    assert _in_support(scenes, rows)


def test_sample_factors_with_refuses_a_value_outside_the_factor(scenes):
    with pytest.raises(ValueError, match="no combination"):
        scenes.sample_factors_with(0, np.array([2]), np.random.default_rng(0))
    with pytest.raises(ValueError, match="out of range"):
        scenes.sample_factors_with(7, np.array([0]), np.random.default_rng(0))


def test_with_independent_factors_it_is_draw_then_overwrite(all_scenes):
    values = np.array([1, 0, 1, 1, 0, 1])
    rows = all_scenes.sample_factors_with(0, values, np.random.default_rng(3))
    expected = all_scenes.sample_factors(6, np.random.default_rng(3))
    expected[:, 0] = values
    np.testing.assert_array_equal(rows, expected)


def test_fix_factor_overwrites_in_place_without_a_conditional_sampler():
    dataset = IdentityDataset((3, 4, 5))
    drawn = sample_factors(dataset, 6, np.random.default_rng(0))
    expected = drawn.copy()
    ks, values = np.array([0, 1, 2, 0, 1, 2]), np.array([2, 3, 4, 1, 0, 0])
    expected[np.arange(6), ks] = values
    rng = np.random.default_rng(9)
    state = rng.bit_generator.state
    np.testing.assert_array_equal(fix_factor(dataset, drawn, ks, values, rng), expected)
    assert rng.bit_generator.state == state  # no extra draws: the metrics' numbers are unchanged


def test_fix_factor_uses_the_conditional_sampler(scenes):
    drawn = scenes.sample_factors(200, np.random.default_rng(0))
    out = fix_factor(scenes, drawn.copy(), 0, np.ones(200, np.int64), np.random.default_rng(1))
    assert (out[:, 0] == 1).all() and (out[:, 1] == 1).all()  # room 2 is held with pair B only


def test_fix_factor_checks_what_the_conditional_sampler_returns():
    class Wrong(IdentityDataset):
        def sample_factors_with(self, k, values, rng):
            return np.zeros((len(values), 3), np.int64)  # ignores the fixed values

    with pytest.raises(DarlaError, match="sample_factors_with returned"):
        fix_factor(Wrong((3, 3, 3)), np.zeros((2, 3), np.int64), 0, np.array([1, 2]), None)


def _old_beta_vae_features(dataset, represent, num_points, rng, batch_size):
    """disentanglement_lib's pairs, as this project drew them before the conditional sampler."""
    k = len(dataset.factor_sizes)
    labels = rng.integers(0, k, size=num_points)
    features = []
    for start in range(0, num_points, 64):
        chunk = labels[start : start + 64]
        p = len(chunk)
        first = dataset.sample_factors(p * batch_size, rng).reshape(p, batch_size, k)
        second = dataset.sample_factors(p * batch_size, rng).reshape(p, batch_size, k)
        second[np.arange(p), :, chunk] = first[np.arange(p), :, chunk]
        z1 = represent(dataset.render(first.reshape(-1, k)))
        z2 = represent(dataset.render(second.reshape(-1, k)))
        features.append(np.abs(z1 - z2).reshape(p, batch_size, -1).mean(axis=1))
    return np.concatenate(features), labels


def _old_factor_vae_votes(dataset, represent, num_points, rng, batch_size):
    k = len(dataset.factor_sizes)
    fixed = rng.integers(0, k, size=num_points)
    votes = np.zeros((k, k), np.int64)
    for start in range(0, num_points, 64):
        chunk = fixed[start : start + 64]
        p = len(chunk)
        factors = dataset.sample_factors(p * batch_size, rng).reshape(p, batch_size, k)
        factors[np.arange(p), :, chunk] = factors[np.arange(p), 0, chunk][:, None]
        codes = represent(dataset.render(factors.reshape(-1, k)))
        local = codes.reshape(p, batch_size, -1).var(axis=1, ddof=1)
        np.add.at(votes, (chunk, np.argmin(local, axis=1)), 1)
    return votes


def test_independent_datasets_keep_their_exact_metric_samples():
    """Datasets without ``sample_factors_with`` (the shapes, disentanglement_lib's test sets)
    draw exactly what they drew before: same features, same votes, seed for seed."""
    dataset = IdentityDataset((3, 4, 5))
    old = _old_beta_vae_features(dataset, identity_represent, 130, np.random.default_rng(1), 8)
    new = beta_vae_features(
        dataset, identity_represent, 130, rng=np.random.default_rng(1), batch_size=8
    )
    np.testing.assert_array_equal(old[0], new[0])
    np.testing.assert_array_equal(old[1], new[1])
    kw = {"variances": np.ones(3), "active": np.ones(3, bool), "batch_size": 8}
    old_votes = _old_factor_vae_votes(dataset, identity_represent, 130, np.random.default_rng(2), 8)
    votes = factor_vae_votes(dataset, identity_represent, 130, rng=np.random.default_rng(2), **kw)
    np.testing.assert_array_equal(old_votes, votes)


def test_clamped_batches_vary_a_factor_over_its_allowed_values_only(scenes):
    sampler = ClampedBatches(
        lambda: envs.make_factor_dataset(envs.source_domains(), obs_size=SIZE), 8, seed=0
    )
    try:
        for step in range(200):
            factors, k = sampler.factors_for(step)
            assert _in_support(scenes, factors), step
            assert len(np.unique(factors[:, k])) > 1  # the varying factor does vary
            others = np.delete(factors, k, axis=1)
            assert (others == others[0]).all()  # every other factor is fixed
    finally:
        sampler.close()


def test_clamped_batches_refuse_a_factor_that_never_varies_alone():
    warm = {"base": "B_room1", "light_color": "warm", "light_pos": "corner"}
    domains = ["A_room1", "B_room2", warm]  # each pair of domains differs in two factors
    with pytest.raises(DarlaError, match="never vary alone"):
        ClampedBatches(lambda: envs.make_factor_dataset(domains, obs_size=SIZE), 8, seed=0)

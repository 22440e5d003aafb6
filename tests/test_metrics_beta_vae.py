"""β-VAE score: the pair features, identity and constant representations, seeding."""

import numpy as np
import pytest
from metrics_datasets import constant, identity

from darla.errors import DarlaError
from darla.metrics import IdentityDataset, beta_vae_features, beta_vae_score

SIZES = (4, 5, 6, 3)
FAST = {"num_train": 300, "num_eval": 150}


def test_the_fixed_factor_is_shared_within_each_pair_and_the_rest_vary():
    features, labels = beta_vae_features(
        IdentityDataset(SIZES), identity, 200, rng=np.random.default_rng(0)
    )
    assert features.shape == (200, 4)
    rows = np.arange(200)
    assert np.all(features[rows, labels] == 0.0)
    others = np.ones_like(features, dtype=bool)
    others[rows, labels] = False
    assert np.all(features[others] > 0.0)
    assert set(np.unique(labels)) == {0, 1, 2, 3}


def test_identity_scores_near_one():
    result = beta_vae_score(IdentityDataset(SIZES), identity, rng=np.random.default_rng(0), **FAST)
    assert result["scores"]["eval_accuracy"] >= 0.9
    assert result["params"]["batch_size"] == 64
    assert result["params"]["chance"] == 0.25


def test_constant_codes_score_at_chance():
    dataset = IdentityDataset((3,) * 10)  # ten factors: chance is 0.1
    result = beta_vae_score(dataset, constant(10), rng=np.random.default_rng(0), **FAST)
    assert result["scores"]["eval_accuracy"] <= 0.2


def test_same_seed_same_score():
    dataset = IdentityDataset(SIZES)

    def noisy(seed):
        rng = np.random.default_rng(seed)
        return lambda images: identity(images) + rng.normal(scale=2.0, size=(len(images), 4))

    first = beta_vae_score(dataset, noisy(1), rng=np.random.default_rng(3), **FAST)
    again = beta_vae_score(dataset, noisy(1), rng=np.random.default_rng(3), **FAST)
    assert first == again
    assert 0.3 < first["scores"]["eval_accuracy"] < 1.0  # noisy enough to be a real test


def test_permuting_and_rescaling_codes_changes_nothing():
    dataset = IdentityDataset(SIZES)
    mix = np.random.default_rng(0).normal(size=(4, 4))

    def entangled(images):
        return identity(images) @ mix

    base = beta_vae_score(dataset, entangled, rng=np.random.default_rng(2), **FAST)
    permuted = beta_vae_score(
        dataset,
        lambda x: entangled(x)[:, [3, 1, 0, 2]] * [1.0, 10.0, 0.1, 3.0],
        rng=np.random.default_rng(2),
        **FAST,
    )
    assert permuted["scores"]["eval_accuracy"] == pytest.approx(
        base["scores"]["eval_accuracy"], abs=0.01
    )


def test_single_valued_factor_is_refused():
    with pytest.raises(DarlaError, match="factor1"):
        beta_vae_score(IdentityDataset((3, 1)), identity, rng=np.random.default_rng(0), **FAST)

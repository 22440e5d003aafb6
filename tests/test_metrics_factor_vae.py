"""FactorVAE score: the majority-vote classifier, pruning, argmin indexing, wrappers."""

import numpy as np
import pytest
from metrics_datasets import constant, identity

from darla.errors import DarlaError
from darla.metrics import (
    IdentityDataset,
    factor_vae_from_votes,
    factor_vae_score,
    factor_vae_votes,
    majority_vote,
    prune_dims,
    vote_accuracy,
)
from darla.metrics.factor_vae import argmin_normalised_variance

SIZES = (4, 5, 6, 3)
FAST = {"num_train": 300, "num_eval": 150, "num_variance_estimate": 1000}


def test_majority_vote_maps_each_dimension_to_its_most_voted_factor():
    votes = np.array(
        [
            [5, 4, 0],  # factor 0
            [0, 1, 6],  # factor 1
            [3, 0, 0],  # factor 2
        ]
    )  # [factors, code dimensions]
    classifier = majority_vote(votes)
    np.testing.assert_array_equal(classifier, [0, 0, 1])
    assert vote_accuracy(votes, classifier) == pytest.approx(15 / 19)
    # The wrong axis (best dimension per factor) would score 5/19 on the same table.
    assert vote_accuracy(votes, np.argmax(votes, axis=1)) == pytest.approx(5 / 19)
    scores = factor_vae_from_votes(votes, np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0]]))
    assert scores["eval_accuracy"] == pytest.approx(2 / 3)
    assert vote_accuracy(np.zeros((2, 2), int), np.zeros(2, int)) == 0.0


def test_prune_dims_thresholds_the_standard_deviation():
    variances = np.array([1.0, 0.0025, 0.0024, 0.0])
    np.testing.assert_array_equal(prune_dims(variances, 0.05), [True, True, False, False])


def test_argmin_indexes_all_dimensions_not_the_active_subset():
    local = np.array([[0.1, 0.9, 0.2], [0.1, 0.1, 0.9]])
    active = np.array([False, True, True])
    # Among active dims [1, 2] the argmins are 2 and 1. disentanglement_lib stored the position
    # within the active subset (1 and 0), i.e. a vote for the wrong, even a pruned, dimension.
    np.testing.assert_array_equal(argmin_normalised_variance(local, np.ones(3), active), [2, 1])


def test_identity_votes_fall_on_the_diagonal_even_after_pruning():
    dataset = IdentityDataset(SIZES)

    def with_dead_first_dim(images):
        codes = identity(images)
        return np.hstack([np.zeros((len(codes), 1)), codes])

    variances = np.array([0.0, 1.0, 2.0, 3.0, 0.7])
    active = prune_dims(variances)
    votes = factor_vae_votes(
        dataset,
        with_dead_first_dim,
        200,
        rng=np.random.default_rng(0),
        variances=variances,
        active=active,
    )
    assert votes.sum() == 200
    assert votes[:, 0].sum() == 0
    # The fixed factor's code has zero variance within its batch, so it always wins.
    np.testing.assert_array_equal(votes[:, 1:], np.diag(np.diag(votes[:, 1:])))


def test_identity_scores_near_one_and_counts_only_active_dims():
    dataset = IdentityDataset(SIZES)
    result = factor_vae_score(dataset, identity, rng=np.random.default_rng(0), **FAST)
    assert result["scores"]["eval_accuracy"] >= 0.9
    assert result["scores"]["num_active_dims"] == 4

    def with_dead_dims(images):
        codes = identity(images)
        return np.hstack([codes, np.zeros((len(codes), 2)), 1e-3 * codes[:, :1]])

    padded = factor_vae_score(dataset, with_dead_dims, rng=np.random.default_rng(0), **FAST)
    assert padded["scores"]["num_active_dims"] == 4  # not 7: the dead and tiny dims are pruned
    assert padded["scores"]["eval_accuracy"] >= 0.9


def test_constant_codes_score_zero():
    result = factor_vae_score(
        IdentityDataset(SIZES), constant(4), rng=np.random.default_rng(0), **FAST
    )
    assert result["scores"] == {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}


def test_same_seed_same_score_and_permutation_invariance():
    dataset = IdentityDataset(SIZES)

    def noisy(seed, perm=(0, 1, 2, 3)):
        rng = np.random.default_rng(seed)
        return lambda x: (identity(x) + rng.normal(scale=2.0, size=(len(x), 4)))[:, list(perm)]

    first = factor_vae_score(dataset, noisy(1), rng=np.random.default_rng(4), **FAST)
    assert factor_vae_score(dataset, noisy(1), rng=np.random.default_rng(4), **FAST) == first
    permuted = factor_vae_score(
        dataset, noisy(1, (2, 0, 3, 1)), rng=np.random.default_rng(4), **FAST
    )
    assert permuted["scores"] == first["scores"]
    assert 0.3 < first["scores"]["eval_accuracy"] < 1.0  # noisy enough to be a real test


def test_batch_size_one_is_refused():
    with pytest.raises(DarlaError, match="batch_size >= 2"):
        factor_vae_score(
            IdentityDataset(SIZES), identity, rng=np.random.default_rng(0), batch_size=1, **FAST
        )

"""Modularity and explicitness: exact modularity from MI, identity, constant, duplicated codes."""

import numpy as np
import pytest
from metrics_datasets import identity, train_test_identity

from darla.errors import DarlaError
from darla.metrics import (
    IdentityDataset,
    modularity,
    modularity_explicitness,
    modularity_explicitness_score,
    modularity_per_code,
)

SIZES = (4, 5, 6)


def test_modularity_from_known_mutual_information():
    mutual_info = np.array(
        [
            [2.0, 0.0, 0.0],  # one factor only: 1
            [1.0, 1.0, 1.0],  # all factors equally: 1 - (3 - 1) / (1 * 2) = 0
            [0.0, 0.0, 0.0],  # no information: 0
            [2.0, 1.0, 0.0],  # 1 - (5 - 4) / (4 * 2) = 0.875
        ]
    )
    np.testing.assert_allclose(modularity_per_code(mutual_info), [1.0, 0.0, 0.0, 0.875])
    assert modularity(mutual_info) == pytest.approx(1.875 / 4)


def test_identity_scores_near_one():
    split = train_test_identity(1000, 500, SIZES, noise=0.05)
    result = modularity_explicitness(*split)
    assert result["modularity"] >= 0.9
    assert result["explicitness_test"] >= 0.9


def test_constant_codes_score_zero_modularity_and_chance_explicitness():
    _, factors_train, _, factors_test = train_test_identity(1000, 500, SIZES)
    result = modularity_explicitness(
        np.zeros((1000, 3)), factors_train, np.zeros((500, 3)), factors_test
    )
    assert result["modularity"] <= 0.2
    # Explicitness is a ROC-AUC: chance is 0.5, and a constant code is exactly at chance.
    assert result["explicitness_test"] == pytest.approx(0.5)


def test_duplicated_codes_stay_modular():
    codes_train, factors_train, codes_test, factors_test = train_test_identity(
        1000, 500, SIZES, noise=0.05
    )
    result = modularity_explicitness(
        np.hstack([codes_train, codes_train]),
        factors_train,
        np.hstack([codes_test, codes_test]),
        factors_test,
    )
    assert result["modularity"] >= 0.9  # modularity does not ask for one code per factor


def test_permuting_codes_changes_nothing():
    codes_train, factors_train, codes_test, factors_test = train_test_identity(
        1000, 500, SIZES, noise=0.4
    )
    perm = [2, 0, 1]
    base = modularity_explicitness(codes_train, factors_train, codes_test, factors_test)
    permuted = modularity_explicitness(
        codes_train[:, perm], factors_train, codes_test[:, perm], factors_test
    )
    assert permuted["modularity"] == pytest.approx(base["modularity"], abs=1e-12)
    assert permuted["explicitness_test"] == pytest.approx(base["explicitness_test"], abs=1e-4)


def test_a_class_missing_from_the_test_split_is_skipped_not_fatal():
    codes_train, factors_train, codes_test, factors_test = train_test_identity(
        600, 300, SIZES, noise=0.05
    )
    keep = factors_test[:, 0] != 3
    result = modularity_explicitness(
        codes_train, factors_train, codes_test[keep], factors_test[keep]
    )
    assert result["explicitness_test"] >= 0.9


def test_single_valued_factor_is_refused():
    codes_train, factors_train, codes_test, factors_test = train_test_identity(100, 50, SIZES)
    factors_train[:, 2] = 0
    with pytest.raises(DarlaError, match="single value"):
        modularity_explicitness(codes_train, factors_train, codes_test, factors_test)


def test_score_wrapper_records_its_parameters():
    result = modularity_explicitness_score(
        IdentityDataset(SIZES), identity, rng=np.random.default_rng(0), num_train=1000, num_test=500
    )
    assert result["scores"]["modularity"] >= 0.9
    assert result["params"]["num_bins"] == 20
    assert result["params"]["classifier"] == "sklearn.linear_model.LogisticRegression()"

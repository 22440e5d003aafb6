"""SAP: the top-two gap, identity (discrete and continuous), constant and duplicated codes."""

import numpy as np
import pytest
from metrics_datasets import identity, train_test_identity

from darla.errors import DarlaError
from darla.metrics import IdentityDataset, sap, sap_from_score_matrix, sap_score


def test_gap_between_best_and_second_code_per_factor():
    scores = np.array([[0.9, 0.2], [0.3, 0.8], [0.1, 0.5]])  # [codes, factors]
    np.testing.assert_allclose(sap_from_score_matrix(scores), [0.6, 0.3])


def test_identity_with_classifiers_reaches_its_ceiling_of_one_minus_chance():
    # Discrete SAP (the study default): the right code is classified perfectly, any other code
    # only at chance 1/k, so identity scores the mean of 1 - 1/k, not 1 (see sap.py).
    sizes = (2, 3, 2)
    split = train_test_identity(1000, 500, sizes, noise=0.05)
    result = sap(*split, rng=np.random.default_rng(0))
    matrix = result["score_matrix"]
    chance = 1.0 / np.array(sizes)
    assert np.all(np.diag(matrix) >= 0.95)
    off_diagonal = ~np.eye(3, dtype=bool)  # [code, factor] pairs of unrelated code and factor
    expected = np.broadcast_to(chance, (3, 3))
    np.testing.assert_allclose(matrix[off_diagonal], expected[off_diagonal], atol=0.06)
    assert result["sap"] >= 0.9 * np.mean(1 - chance)


def test_identity_scores_near_one_with_continuous_factors():
    split = train_test_identity(1000, 500, (10, 10, 10), noise=0.05)
    result = sap(*split, rng=np.random.default_rng(0), continuous_factors=True)
    assert result["sap"] >= 0.9


@pytest.mark.parametrize("continuous", [False, True])
def test_constant_codes_score_zero(continuous):
    _, factors_train, _, factors_test = train_test_identity(1000, 500, (2, 3, 5))
    result = sap(
        np.zeros((1000, 3)),
        factors_train,
        np.zeros((500, 3)),
        factors_test,
        rng=np.random.default_rng(0),
        continuous_factors=continuous,
    )
    assert result["sap"] <= 0.2


@pytest.mark.parametrize("continuous", [False, True])
def test_duplicated_codes_score_zero(continuous):
    codes_train, factors_train, codes_test, factors_test = train_test_identity(
        1000, 500, (2, 3, 2), noise=0.05
    )
    result = sap(
        np.hstack([codes_train, codes_train]),
        factors_train,
        np.hstack([codes_test, codes_test]),
        factors_test,
        rng=np.random.default_rng(0),
        continuous_factors=continuous,
    )
    assert result["sap"] <= 0.1


def test_permuting_codes_changes_nothing():
    codes_train, factors_train, codes_test, factors_test = train_test_identity(
        800, 400, (2, 3, 4), noise=0.4
    )
    perm = [1, 2, 0]
    base = sap(codes_train, factors_train, codes_test, factors_test, rng=np.random.default_rng(3))
    permuted = sap(
        codes_train[:, perm],
        factors_train,
        codes_test[:, perm],
        factors_test,
        rng=np.random.default_rng(3),
    )
    assert permuted["sap"] == base["sap"]
    np.testing.assert_array_equal(permuted["score_matrix"], base["score_matrix"][perm])


def test_single_valued_factor_is_refused():
    codes_train, factors_train, codes_test, factors_test = train_test_identity(100, 50, (2, 3))
    factors_train[:, 1] = 0
    with pytest.raises(DarlaError, match="single value"):
        sap(codes_train, factors_train, codes_test, factors_test, rng=np.random.default_rng(0))


def test_score_wrapper_is_seeded_and_records_its_parameters():
    dataset = IdentityDataset((2, 3, 2))
    kwargs = {"rng": np.random.default_rng(1), "num_train": 1000, "num_test": 500}
    first = sap_score(dataset, identity, **kwargs)
    assert first["scores"]["sap"] >= 0.5
    assert first["params"]["classifier"] == "sklearn.svm.LinearSVC(C=0.01, class_weight='balanced')"
    assert first["params"]["continuous_factors"] is False
    kwargs["rng"] = np.random.default_rng(1)
    assert sap_score(dataset, identity, **kwargs) == first

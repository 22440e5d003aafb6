"""DCI: exact D and C from known importance matrices; GBT on identity, constant, duplicated codes."""

import numpy as np
import pytest
from metrics_datasets import identity, train_test_identity

from darla.errors import DarlaError
from darla.metrics import (
    IdentityDataset,
    completeness,
    completeness_per_factor,
    dci,
    dci_score,
    disentanglement,
    disentanglement_per_code,
)

SIZES = (4, 5, 6)


def test_diagonal_importance_is_perfect():
    assert disentanglement(np.eye(4)) == 1.0
    assert completeness(np.eye(4)) == 1.0
    # Non-square, with a dead code: the dead code has no weight.
    importance = np.array([[0.7, 0.0], [0.0, 0.3], [0.0, 0.0]])
    assert disentanglement(importance) == 1.0
    assert completeness(importance) == 1.0


def test_a_uniform_row_scores_zero_for_that_code():
    importance = np.array([[1.0, 0.0, 0.0], [0.2, 0.2, 0.2]])
    per_code = disentanglement_per_code(importance)
    assert per_code[0] == 1.0
    assert per_code[1] == pytest.approx(0.0, abs=1e-12)
    # Weighted by code importance: 1.0 * 1.0/1.6 + 0.0 * 0.6/1.6.
    assert disentanglement(importance) == pytest.approx(1.0 / 1.6, abs=1e-12)


def test_a_code_split_evenly_between_two_of_ten_factors():
    row = np.zeros((1, 10))
    row[0, [3, 7]] = 0.5
    expected = 1.0 - np.log(2) / np.log(10)
    assert disentanglement_per_code(row)[0] == pytest.approx(expected, abs=1e-12)
    assert disentanglement(row) == pytest.approx(expected, abs=1e-12)
    # The same factor split over two of ten codes: completeness, by symmetry.
    assert completeness(row.T) == pytest.approx(expected, abs=1e-12)
    assert completeness_per_factor(row.T)[0] == pytest.approx(expected, abs=1e-12)


def test_all_zero_importance_scores_zero():
    assert disentanglement(np.zeros((3, 2))) == 0.0
    assert completeness(np.zeros((3, 2))) == 0.0


def test_one_factor_or_one_code_is_trivially_pure():
    assert disentanglement(np.array([[0.3], [0.7]])) == 1.0
    assert completeness(np.array([[0.3, 0.7]])) == 1.0


def test_bad_importance_matrix_is_refused():
    with pytest.raises(DarlaError, match="nonnegative"):
        disentanglement(np.array([[1.0, -0.1]]))
    with pytest.raises(DarlaError, match="2-D"):
        completeness(np.ones(3))


def test_identity_codes_score_near_one():
    split = train_test_identity(600, 300, SIZES, noise=0.05)
    result = dci(*split, rng=np.random.default_rng(0))
    assert result["disentanglement"] >= 0.9
    assert result["completeness"] >= 0.9
    assert result["informativeness_test"] >= 0.9
    assert result["importance_matrix"].shape == (3, 3)


def test_constant_codes_score_near_zero_and_chance_informativeness():
    sizes = (10, 10)
    _, factors_train, _, factors_test = train_test_identity(600, 300, sizes)
    result = dci(
        np.zeros((600, 2)),
        factors_train,
        np.zeros((300, 2)),
        factors_test,
        rng=np.random.default_rng(0),
    )
    assert result["disentanglement"] <= 0.2
    assert result["completeness"] <= 0.2
    assert result["informativeness_test"] <= 0.2  # chance is 1/10
    assert np.all(result["importance_matrix"] == 0)


def test_duplicated_codes_keep_disentanglement_high():
    codes_train, factors_train, codes_test, factors_test = train_test_identity(
        600, 300, SIZES, noise=0.05
    )
    result = dci(
        np.hstack([codes_train, codes_train]),
        factors_train,
        np.hstack([codes_test, codes_test]),
        factors_test,
        rng=np.random.default_rng(0),
    )
    assert result["disentanglement"] >= 0.9
    assert result["completeness"] < 0.9  # each factor now shared by two codes


def test_permuting_codes_permutes_the_importance_matrix():
    codes_train, factors_train, codes_test, factors_test = train_test_identity(
        600, 300, SIZES, noise=0.3
    )
    perm = [2, 0, 1]
    base = dci(codes_train, factors_train, codes_test, factors_test, rng=np.random.default_rng(0))
    permuted = dci(
        codes_train[:, perm],
        factors_train,
        codes_test[:, perm],
        factors_test,
        rng=np.random.default_rng(0),
    )
    # Trees break ties between splits at random, so equal up to that, not bit for bit.
    for key in ("disentanglement", "completeness", "informativeness_test"):
        assert permuted[key] == pytest.approx(base[key], abs=0.02)
    np.testing.assert_allclose(
        permuted["importance_matrix"], base["importance_matrix"][perm], atol=0.02
    )


def test_same_seed_same_scores_whatever_n_jobs():
    split = train_test_identity(300, 150, SIZES, noise=0.5)
    first = dci(*split, rng=np.random.default_rng(7))
    again = dci(*split, rng=np.random.default_rng(7), n_jobs=2)
    np.testing.assert_array_equal(first["importance_matrix"], again["importance_matrix"])
    assert first["disentanglement"] == again["disentanglement"]


def test_a_single_valued_factor_and_mismatched_splits_are_refused():
    codes_train, factors_train, codes_test, factors_test = train_test_identity(100, 50, SIZES)
    constant = factors_train.copy()
    constant[:, 0] = 1
    with pytest.raises(DarlaError, match="single value"):
        dci(codes_train, constant, codes_test, factors_test, rng=np.random.default_rng(0))
    with pytest.raises(DarlaError, match="dimensions"):
        dci(
            codes_train,
            factors_train,
            codes_test[:, :2],
            factors_test,
            rng=np.random.default_rng(0),
        )


def test_score_wrapper_records_its_parameters():
    result = dci_score(
        IdentityDataset(SIZES), identity, rng=np.random.default_rng(0), num_train=300, num_test=150
    )
    assert result["scores"]["disentanglement"] >= 0.9
    assert result["params"]["classifier"] == "sklearn.ensemble.GradientBoostingClassifier()"
    assert (result["params"]["num_train"], result["params"]["num_test"]) == (300, 150)
    assert np.array(result["importance_matrix"]).shape == (3, 3)

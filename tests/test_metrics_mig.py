"""MIG: analytic cases, invariances, and the transpose-vs-view regression."""

import numpy as np
import pytest
from metrics_datasets import duplicated, identity, identity_codes, random_rotation

from darla.errors import DarlaError
from darla.metrics import (
    IdentityDataset,
    discrete_entropy,
    histogram_discretize,
    mig,
    mig_from_mutual_info,
    mig_score,
)

SIZES = (4, 5, 6, 8)


def test_identity_scores_near_one():
    codes, factors = identity_codes(2000, SIZES, noise=0.05)
    assert mig(codes, factors)["mig"] >= 0.9


def test_constant_codes_score_zero():
    _, factors = identity_codes(2000, SIZES)
    assert mig(np.zeros((2000, 4)), factors)["mig"] <= 0.2


def test_duplicated_codes_score_zero():
    codes, factors = identity_codes(2000, SIZES, noise=0.05)
    assert mig(np.hstack([codes, codes]), factors)["mig"] <= 0.1


def test_a_rotated_identity_scores_lower():
    codes, factors = identity_codes(3000, SIZES, noise=0.05)
    standardised = (codes - codes.mean(0)) / codes.std(0)
    rotated = standardised @ random_rotation(len(SIZES), seed=1)
    assert mig(rotated, factors)["mig"] < mig(codes, factors)["mig"] - 0.3


def test_permuting_codes_changes_nothing():
    codes, factors = identity_codes(2000, SIZES, noise=0.3)
    permuted = codes[:, [2, 0, 3, 1]]
    assert mig(permuted, factors)["mig"] == mig(codes, factors)["mig"]


def test_an_affine_rescaling_of_one_code_changes_nothing():
    codes, factors = identity_codes(2000, SIZES, noise=0.3)
    rescaled = codes.copy()
    rescaled[:, 1] = 4.0 * rescaled[:, 1] - 3.0
    np.testing.assert_array_equal(histogram_discretize(rescaled), histogram_discretize(codes))
    assert mig(rescaled, factors)["mig"] == mig(codes, factors)["mig"]


def test_gap_is_taken_down_the_codes_axis_for_each_factor():
    # [3 codes, 2 factors]: code 0 holds factor 0, code 1 holds factor 1, code 2 is noise.
    # Per factor, by hand: (1.0 - 0.2) / 1 and (0.9 - 0.1) / 1. A gap taken across factors, or
    # over a [factors, codes] matrix reshaped to [codes, factors], gives other numbers.
    mutual_info = np.array([[1.0, 0.1], [0.2, 0.9], [0.0, 0.0]])
    np.testing.assert_allclose(mig_from_mutual_info(mutual_info, np.ones(2)), [0.8, 0.8])
    # entropies normalise per factor: [0.8 / 2, 0.8 / 4]
    np.testing.assert_allclose(mig_from_mutual_info(mutual_info, np.array([2.0, 4.0])), [0.4, 0.2])


def test_non_square_codes_keep_each_factor_with_its_own_code():
    # 2 factors, 3 codes (the .view bug needs D != K): code 0 is factor 0, code 1 is factor 1
    # exactly, code 2 is independent noise. MI(code k, factor k) = H(factor k), so each factor's
    # gap is H(v_k) minus the larger MI of the two other codes, and MIG is near 1; the bug pairs
    # factor 0 with factor 1's code and scores near 0.
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 6, size=(3000, 2))
    codes = np.column_stack([factors.astype(float), rng.normal(size=3000)])
    result = mig(codes, factors)
    assert result["mutual_info"].shape == (3, 2)
    np.testing.assert_allclose(np.diag(result["mutual_info"][:2]), discrete_entropy(factors))
    mi = result["mutual_info"]
    runner_up = np.array([max(mi[1, 0], mi[2, 0]), max(mi[0, 1], mi[2, 1])])
    expected = 1 - runner_up / discrete_entropy(factors)
    np.testing.assert_allclose(result["mig_per_factor"], expected)
    assert result["mig"] >= 0.95


def test_a_single_code_is_compared_with_zero():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 4, size=(1000, 1))
    assert mig(factors.astype(float), factors)["mig"] == pytest.approx(1.0)


def test_single_valued_factor_is_refused():
    codes, factors = identity_codes(100, (3, 3))
    factors[:, 1] = 2
    with pytest.raises(DarlaError, match="single value"):
        mig(codes, factors)
    with pytest.raises(DarlaError, match="zero entropy"):
        mig_from_mutual_info(np.ones((2, 2)), np.array([1.0, 0.0]))


def test_mismatched_lengths_and_nan_are_refused():
    codes, factors = identity_codes(100, (3, 3))
    with pytest.raises(DarlaError, match="rows"):
        mig(codes[:-1], factors)
    codes[5, 0] = np.nan
    with pytest.raises(DarlaError, match="NaN"):
        mig(codes, factors)


def test_score_wrapper_identity_duplicated_and_seeded():
    dataset = IdentityDataset(SIZES)
    first = mig_score(dataset, identity, rng=np.random.default_rng(5), num_train=2000)
    assert first["scores"]["mig"] >= 0.9
    assert first["params"] == {
        "num_train": 2000,
        "num_bins": 20,
        "discretizer": "histogram",
        "batch_size": 64,
        "num_codes": 4,
    }
    again = mig_score(dataset, identity, rng=np.random.default_rng(5), num_train=2000)
    assert again == first
    dup = mig_score(dataset, duplicated, rng=np.random.default_rng(5), num_train=2000)
    assert dup["scores"]["mig"] <= 0.1

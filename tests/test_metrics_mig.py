"""MIG: analytic cases, invariances, and the transpose-vs-view regression."""

import numpy as np
import pytest
from metrics_datasets import duplicated, identity, identity_codes, random_rotation

from darla.errors import DarlaError
from darla.metrics import (
    IdentityDataset,
    discrete_entropy,
    discrete_mutual_info,
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


def test_gap_is_taken_down_the_codes_axis_not_a_reshaped_view():
    # [3 codes, 2 factors]: code 0 holds factor 0, code 1 holds factor 1, code 2 is noise.
    mutual_info = np.array([[1.0, 0.1], [0.2, 0.9], [0.0, 0.0]])
    per_factor = mig_from_mutual_info(mutual_info, np.ones(2))
    np.testing.assert_allclose(per_factor, [0.8, 0.8])
    # The bug: MI built as [factors, codes] and reshaped with .view(codes, factors).
    viewed = mutual_info.T.reshape(3, 2)
    assert np.mean(mig_from_mutual_info(viewed, np.ones(2))) == pytest.approx(0.1)


def test_non_square_end_to_end_uses_the_transpose():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 6, size=(3000, 2))
    codes = np.column_stack([factors + 0.05 * rng.normal(size=(3000, 2)), rng.normal(size=3000)])
    result = mig(codes, factors)
    assert result["mig"] >= 0.9
    mi_factors_by_codes = discrete_mutual_info(factors, histogram_discretize(codes))  # [2, 3]
    viewed = mi_factors_by_codes.reshape(3, 2)
    assert (
        abs(np.mean(mig_from_mutual_info(viewed, discrete_entropy(factors))) - result["mig"]) > 0.3
    )


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

"""Metric utilities: the discretiser, MI and entropy against references, input checks, sampling."""

import numpy as np
import pytest
from metrics_datasets import identity
from sklearn.metrics import mutual_info_score

from darla.errors import DarlaError
from darla.metrics import (
    IdentityDataset,
    StampedDataset,
    active_dimensions,
    discrete_entropy,
    discrete_mutual_info,
    histogram_discretize,
    read_stamp,
    sample_codes,
)
from darla.metrics.utils import check_pair


def test_histogram_discretize_matches_disentanglement_lib():
    rng = np.random.default_rng(0)
    codes = np.column_stack([rng.normal(size=500), rng.exponential(size=500), np.full(500, 3.0)])
    labels = histogram_discretize(codes, num_bins=20)
    for j in range(codes.shape[1]):
        # disentanglement_lib's _histogram_discretize, column by column.
        reference = np.digitize(codes[:, j], np.histogram(codes[:, j], 20)[1][:-1])
        np.testing.assert_array_equal(labels[:, j], reference)
    assert labels[:, :2].min() == 1 and labels[:, :2].max() == 20
    assert np.all(labels[:, 2] == labels[0, 2])  # a constant code lands in one bin


def test_mutual_info_and_entropy_match_sklearn():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 5, size=(400, 3))
    b = np.column_stack([a[:, 0], (a[:, 1] + rng.integers(0, 2, 400)) % 4, rng.integers(0, 7, 400)])
    mi = discrete_mutual_info(a, b)
    assert mi.shape == (3, 3)
    for i in range(3):
        for j in range(3):
            assert mi[i, j] == pytest.approx(mutual_info_score(b[:, j], a[:, i]), abs=1e-12)
    entropy = discrete_entropy(b)
    for j in range(3):
        assert entropy[j] == pytest.approx(mutual_info_score(b[:, j], b[:, j]), abs=1e-12)
    # A uniform factor over k values with exactly balanced counts has entropy ln k.
    assert discrete_entropy(np.tile(np.arange(8), 10)[:, None])[0] == pytest.approx(np.log(8))


@pytest.mark.parametrize(
    ("codes", "factors", "message"),
    [
        (np.zeros(10), np.zeros((10, 1), int), "2-D"),
        (np.zeros((10, 2)), np.zeros((9, 1), int), "10 rows but factors has 9"),
        (np.array([[0.0], [np.nan]]), np.array([[0], [1]]), "NaN or inf"),
        (np.array([[0.0], [np.inf]]), np.array([[0], [1]]), "NaN or inf"),
        (np.zeros((4, 1)), np.array([[0.5], [1.0], [0.0], [2.0]]), "integer class indices"),
        (np.zeros((4, 1)), np.zeros((4, 1, 1), int), "2-D"),
    ],
)
def test_bad_inputs_raise_one_clear_error(codes, factors, message):
    with pytest.raises(DarlaError, match=message):
        check_pair(codes, factors)


def test_active_dimensions_counts_only_dimensions_above_the_threshold():
    kl = np.array([0.5, 0.0, 0.02, 0.005, 0.01, 3.0])
    # Regression: counting every dimension (len(kl) or (kl > t).shape) would say 6.
    assert active_dimensions(kl, threshold=0.01) == 3
    assert active_dimensions(kl, threshold=1.0) == 1
    per_point = np.array([[0.0, 1.0, 0.02], [0.0, 1.0, 0.0]])  # averaged: [0, 1, 0.01]
    assert active_dimensions(per_point) == 1
    with pytest.raises(DarlaError, match="NaN"):
        active_dimensions(np.array([np.nan, 1.0]))
    with pytest.raises(DarlaError, match="num_latents"):
        active_dimensions(np.zeros((2, 2, 2)))


def test_sample_codes_does_not_depend_on_batch_size():
    dataset = IdentityDataset((4, 5, 6))
    a = sample_codes(dataset, identity, 100, rng=np.random.default_rng(3), batch_size=7)
    b = sample_codes(dataset, identity, 100, rng=np.random.default_rng(3), batch_size=64)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[0], a[1])  # identity: codes are the factors


@pytest.mark.parametrize(
    ("represent", "message"),
    [
        (lambda images: np.zeros(len(images)), "shape"),
        (lambda images: np.zeros((len(images) + 1, 2)), "shape"),
        (lambda images: np.full((len(images), 2), np.nan), "NaN or inf"),
    ],
)
def test_a_broken_representation_raises_a_clear_error(represent, message):
    with pytest.raises(DarlaError, match=message):
        sample_codes(IdentityDataset((3, 3)), represent, 10, rng=np.random.default_rng(0))


def test_a_dataset_with_a_single_valued_factor_is_refused():
    with pytest.raises(DarlaError, match="factor1"):
        sample_codes(IdentityDataset((3, 1)), identity, 10, rng=np.random.default_rng(0))


def test_stamped_images_carry_their_factors():
    dataset = StampedDataset(IdentityDataset((7, 200, 3)))
    factors = dataset.sample_factors(50, np.random.default_rng(0))
    np.testing.assert_array_equal(read_stamp(dataset.render(factors), 3), factors)

"""The transfer statistics against rliable's own functions and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from rliable import library as rly
from rliable import metrics as rly_metrics

from darla.transfer.stats import (
    aggregate_iqm,
    interval_estimates,
    normalised_scores,
    probability_of_improvement,
    summarise_methods,
    transfer_ratio,
)

DOMAINS = ["s1", "s2", "t1", "t2", "t3"]
SPLIT = {"s1": "source", "s2": "source", "t1": "target", "t2": "target", "t3": "target"}
RANDOM = {"s1": 0.5, "s2": -0.5, "t1": 0.0, "t2": 1.0, "t3": -1.0}


def scores(seed: int, runs: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).normal(2.0, 1.5, (runs, len(DOMAINS))).round(1)


@pytest.mark.parametrize("shape", [(5, 3), (4, 1), (7, 5), (1, 1), (3, 2)])
def test_iqm_matches_rliable(shape) -> None:
    x = np.random.default_rng(sum(shape)).normal(size=shape).round(1)  # ties included
    assert aggregate_iqm(x) == pytest.approx(rly_metrics.aggregate_iqm(x), abs=1e-12)
    per_column = aggregate_iqm(x, axis=0)
    for j in range(shape[1]):
        assert per_column[j] == pytest.approx(rly_metrics.aggregate_iqm(x[:, [j]]), abs=1e-12)


def test_iqm_by_hand() -> None:
    # 8 scores: the lowest 2 and highest 2 are cut, the mean of the middle 4 remains
    x = np.array([[10.0, -5.0], [1.0, 2.0], [3.0, 4.0], [100.0, 0.0]])
    assert aggregate_iqm(x) == pytest.approx((1 + 2 + 3 + 4) / 4)


def test_probability_of_improvement_matches_rliable() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 4, (5, 4)).astype(float)  # many ties
    y = rng.integers(0, 4, (3, 4)).astype(float)
    y[:, 0] = x[:3, 0]  # a tied column
    assert probability_of_improvement(x, y) == pytest.approx(
        rly_metrics.probability_of_improvement(x, y), abs=1e-12
    )
    same = rng.normal(size=(4, 3))
    assert (
        probability_of_improvement(same, same)
        == 0.5
        == rly_metrics.probability_of_improvement(same, same)
    )
    # by hand: X always above Y on task 0, always below on task 1 -> (1 + 0) / 2
    assert probability_of_improvement(np.array([[2.0, 0.0]]), np.array([[1.0, 1.0]])) == 0.5


def test_transfer_ratio_by_hand() -> None:
    assert transfer_ratio(source=3.0, target=2.0, random_source=1.0, random_target=0.0) == 1.0
    assert transfer_ratio(4.0, 1.0, 0.0, -1.0) == 0.5
    assert np.isnan(transfer_ratio(0.5, 2.0, 1.0, 0.0))  # no skill above random in the source


def test_interval_estimates_are_rliables_with_an_explicit_seed() -> None:
    x = scores(0)
    ours_p, ours_ci = interval_estimates(
        {"m": x}, lambda s: np.array([rly_metrics.aggregate_iqm(s)]), reps=300, seed=5
    )
    np.random.seed(5)  # rliable's resampling draws from numpy's global generator
    theirs_p, theirs_ci = rly.get_interval_estimates(
        {"m": x}, lambda s: np.array([rly_metrics.aggregate_iqm(s)]), reps=300
    )
    np.testing.assert_allclose(ours_p["m"], theirs_p["m"])
    np.testing.assert_allclose(ours_ci["m"], theirs_ci["m"])
    # the same seed twice: identical; another seed: different intervals
    again = interval_estimates(
        {"m": x}, lambda s: np.array([rly_metrics.aggregate_iqm(s)]), reps=300, seed=5
    )[1]
    other = interval_estimates(
        {"m": x}, lambda s: np.array([rly_metrics.aggregate_iqm(s)]), reps=300, seed=6
    )[1]
    np.testing.assert_array_equal(again["m"], ours_ci["m"])
    assert not np.array_equal(other["m"], ours_ci["m"])


def test_method_statistics_match_rliable_on_fixed_arrays() -> None:
    data = {"darla": scores(1), "pixels": scores(2, runs=4)}
    out = summarise_methods(data, DOMAINS, SPLIT, RANDOM, baseline="pixels", reps=200, seed=3)
    x = data["darla"]
    stats = out["darla"]["stats"]
    src, tgt = [0, 1], [2, 3, 4]
    assert stats["source/iqm"]["value"] == pytest.approx(rly_metrics.aggregate_iqm(x[:, src]))
    assert stats["target/mean"]["value"] == pytest.approx(rly_metrics.aggregate_mean(x[:, tgt]))
    assert stats["t2/iqm"]["value"] == pytest.approx(rly_metrics.aggregate_iqm(x[:, [3]]))
    ratio = (x[:, tgt].mean() - np.mean([0.0, 1.0, -1.0])) / (x[:, src].mean() - 0.0)
    assert stats["transfer_ratio"]["value"] == pytest.approx(ratio)
    assert stats["generalisation_gap"]["value"] == pytest.approx(
        x[:, src].mean() - x[:, tgt].mean()
    )

    # each interval is what rliable gives for that statistic on the whole matrix, same seed
    def rliable_ci(func, key="m", pair=None):
        np.random.seed(3)
        data_ = {key: pair if pair is not None else x}
        return rly.get_interval_estimates(data_, lambda *s: np.array([func(*s)]), reps=200)[1][key][
            :, 0
        ]

    np.testing.assert_allclose(
        stats["target/iqm"]["ci"], rliable_ci(lambda s: rly_metrics.aggregate_iqm(s[:, tgt]))
    )
    np.testing.assert_allclose(
        stats["s1/mean"]["ci"], rliable_ci(lambda s: rly_metrics.aggregate_mean(s[:, [0]]))
    )
    np.testing.assert_allclose(stats["all/iqm"]["ci"], rliable_ci(rly_metrics.aggregate_iqm))
    poi = out["darla"]["poi_over_baseline"]["target"]
    assert poi["value"] == pytest.approx(
        rly_metrics.probability_of_improvement(x[:, tgt], data["pixels"][:, tgt])
    )
    expected = rliable_ci(
        lambda a, b: rly_metrics.probability_of_improvement(a[:, tgt], b[:, tgt]),
        pair=(x, data["pixels"]),
    )
    np.testing.assert_allclose(poi["ci"], expected)
    assert out["pixels"]["poi_over_baseline"] is None


def test_normalised_scores_put_random_at_0_and_the_reference_at_1() -> None:
    random, reference = np.array([0.5, -1.0, 2.0]), np.array([4.5, 1.0, 2.0])
    returns = np.array([[0.5, 1.0, 3.0], [2.5, 0.0, 2.0]])
    np.testing.assert_allclose(
        normalised_scores(returns, random, reference), [[0.0, 1.0, np.nan], [0.5, 0.5, np.nan]]
    )  # the last domain: the reference is not above random, so there is no scale


def test_score_statistics_are_the_return_statistics_of_the_normalised_matrix() -> None:
    x = scores(1)
    reference = {d: 5.0 for d in DOMAINS}
    out = summarise_methods({"darla": x}, DOMAINS, SPLIT, RANDOM, reference, reps=200, seed=3)
    z = normalised_scores(x, np.array([RANDOM[d] for d in DOMAINS]), np.full(len(DOMAINS), 5.0))
    plain = summarise_methods({"darla": z}, DOMAINS, SPLIT, RANDOM, reps=200, seed=3)
    stats, expected = out["darla"]["stats"], plain["darla"]["stats"]
    for name in ("t1/mean", "s2/iqm", "source/iqm", "target/iqm", "all/mean"):
        prefix, _, stat = name.rpartition("/")
        mine = stats[f"{prefix}/score_{stat}"]
        assert mine["value"] == pytest.approx(expected[name]["value"])
        np.testing.assert_allclose(mine["ci"], expected[name]["ci"])  # the same resamples
    assert (
        stats["source/iqm"]
        == summarise_methods({"darla": x}, DOMAINS, SPLIT, RANDOM, reps=200, seed=3)["darla"][
            "stats"
        ]["source/iqm"]
    )  # the raw statistics do not change


def test_constant_scores_collapse_the_intervals_to_a_point() -> None:
    const = np.full((5, len(DOMAINS)), 2.0)
    out = summarise_methods(
        {"a": const, "pixels": const}, DOMAINS, SPLIT, dict.fromkeys(DOMAINS, 0.0), reps=200
    )
    for name, est in out["a"]["stats"].items():
        expected = 0.0 if name == "generalisation_gap" else 1.0 if name == "transfer_ratio" else 2.0
        assert est["value"] == pytest.approx(expected), name
        assert est["ci"] == pytest.approx([expected, expected]), name
    for est in out["a"]["poi_over_baseline"].values():
        assert est["value"] == 0.5 and est["ci"] == [0.5, 0.5]


def test_same_seed_same_numbers_and_global_rng_untouched() -> None:
    data = {"darla": scores(4), "pixels": scores(5)}
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    a = summarise_methods(data, DOMAINS, SPLIT, RANDOM, reps=100, seed=9)
    assert np.random.random() == before  # the bootstrap restored numpy's global state
    b = summarise_methods(data, DOMAINS, SPLIT, RANDOM, reps=100, seed=9)
    assert a == b

"""The transfer statistics against rliable's own functions and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from rliable import library as rly
from rliable import metrics as rly_metrics

from darla.transfer.stats import (
    LEARNED_SOURCE_SCORE,
    aggregate_iqm,
    interval_estimates,
    learned,
    normalised_scores,
    paired_statistics,
    probability_of_improvement,
    summarise_methods,
    transfer_ratio,
    whole_run_bootstrap,
)
from darla.transfer.tables import fmt_ci, fmt_ratio

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
    src = [0, 1]
    assert stats["source/iqm"]["value"] == pytest.approx(rly_metrics.aggregate_iqm(x[:, src]))
    assert stats["source/mean"]["value"] == pytest.approx(rly_metrics.aggregate_mean(x[:, src]))
    assert stats["t2/iqm"]["value"] == pytest.approx(rly_metrics.aggregate_iqm(x[:, [3]]))
    # the target domains are never pooled: no target/* or all/* aggregate exists
    assert not [name for name in stats if name.startswith(("target/", "all/"))]

    # each interval is what rliable gives for that statistic on the whole matrix, same seed
    def rliable_ci(func, key="m", pair=None):
        np.random.seed(3)
        data_ = {key: pair if pair is not None else x}
        return rly.get_interval_estimates(data_, lambda *s: np.array([func(*s)]), reps=200)[1][key][
            :, 0
        ]

    np.testing.assert_allclose(
        stats["source/iqm"]["ci"], rliable_ci(lambda s: rly_metrics.aggregate_iqm(s[:, src]))
    )
    np.testing.assert_allclose(
        stats["s1/mean"]["ci"], rliable_ci(lambda s: rly_metrics.aggregate_mean(s[:, [0]]))
    )
    np.testing.assert_allclose(
        stats["t3/iqm"]["ci"], rliable_ci(lambda s: rly_metrics.aggregate_iqm(s[:, [4]]))
    )
    poi = out["darla"]["poi_over_baseline"]
    assert set(poi) == {"source", "t1", "t2", "t3"}  # the source together, each target alone
    assert poi["t2"]["value"] == pytest.approx(
        rly_metrics.probability_of_improvement(x[:, [3]], data["pixels"][:, [3]])
    )
    expected = rliable_ci(
        lambda a, b: rly_metrics.probability_of_improvement(a[:, [3]], b[:, [3]]),
        pair=(x, data["pixels"]),
    )
    np.testing.assert_allclose(poi["t2"]["ci"], expected)
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
    for name in ("t1/mean", "s2/iqm", "source/iqm", "t3/iqm", "source/mean"):
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
        {"a": const, "pixels": const}, DOMAINS, SPLIT, dict.fromkeys(DOMAINS, 0.0), reps=200,
        headline="t1",
    )  # fmt: skip
    for name, est in out["a"]["stats"].items():
        assert est["value"] == pytest.approx(2.0), name
        assert est["ci"] == pytest.approx([2.0, 2.0]), name
    paired = out["a"]["paired"]
    assert paired["transfer_ratio"]["value"] == 1.0 and paired["transfer_ratio"]["ci"] == [1, 1]
    assert paired["generalisation_gap"]["value"] == 0.0
    assert paired["generalisation_gap"]["ci"] == [0.0, 0.0]
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


# -- paired quantities: whole runs resampled ---------------------------------------------------

# two source domains (s1, s2) and the held-out t1; random returns 0.5, -0.5 (source) and 0 (t1)
PAIRED = np.array(
    [
        #  s1    s2    t1   t2   t3
        [2.5, 1.5, 1.0, 0.0, 0.0],  # source above random: (2 + 2) / 2 = 2; t1 above: 1
        [4.5, 3.5, 3.0, 0.0, 0.0],  # 4 and 3
        [1.5, 0.5, 0.0, 0.0, 0.0],  # 1 and 0
    ]
)


def test_paired_ratio_and_gap_by_hand() -> None:
    out = paired_statistics(PAIRED, DOMAINS, SPLIT, "t1", RANDOM, reps=500, seed=0)
    # the ratio of means over all runs: mean(1, 3, 0) / mean(2, 4, 1) = (4/3) / (7/3) = 4/7
    assert out["transfer_ratio"]["value"] == pytest.approx(4 / 7)
    # (not the mean of per-run ratios, (1/2 + 3/4 + 0) / 3 = 5/12)
    # gap per run: source mean − t1 = 2 − 1, 4 − 3, 1 − 0 = 1, 1, 1
    assert out["generalisation_gap"]["value"] == pytest.approx(1.0)
    assert out["generalisation_gap"]["ci"] == pytest.approx([1.0, 1.0])  # every run's gap is 1
    assert out["generalisation_gap_score"]["value"] is None  # no reference: no scores
    assert out["transfer_ratio"]["did_not_learn"] is False


def test_paired_bootstrap_is_a_whole_run_resample_reimplemented_in_numpy() -> None:
    x = scores(7, runs=6)
    out = paired_statistics(x, DOMAINS, SPLIT, "t2", RANDOM, reps=400, seed=11, confidence=0.9)
    random = np.array([RANDOM[d] for d in DOMAINS])
    src_above = (x - random)[:, :2].mean(axis=1)
    held_above = (x - random)[:, 3]
    gap = x[:, :2].mean(axis=1) - x[:, 3]
    idx = np.random.default_rng(11).integers(0, 6, size=(400, 6))  # rows: whole runs
    assert np.array_equal(idx, whole_run_bootstrap(6, reps=400, seed=11))
    ratios = held_above[idx].mean(axis=1) / src_above[idx].mean(axis=1)
    ratios = ratios[src_above[idx].mean(axis=1) > 0]  # no reference: learned = above random
    np.testing.assert_allclose(out["transfer_ratio"]["ci"], np.percentile(ratios, [5, 95]))
    np.testing.assert_allclose(
        out["generalisation_gap"]["ci"], np.percentile(gap[idx].mean(axis=1), [5, 95])
    )
    assert out["transfer_ratio"]["excluded_resamples"] == 400 - len(ratios)
    again = paired_statistics(x, DOMAINS, SPLIT, "t2", RANDOM, reps=400, seed=11, confidence=0.9)
    assert again == out


def test_two_runs_give_the_enumerable_interval() -> None:
    # two runs: a resample is (0, 0), (0, 1), (1, 0) or (1, 1), each with probability 1/4, so
    # the mean gap is g0, (g0 + g1) / 2 or g1, and the 95% interval is exactly [g0, g1]
    two = PAIRED[[0, 1]].copy()
    two[1, 2] = 1.0  # run 1: gap 4 − 1 = 3; run 0: gap 1
    out = paired_statistics(two, DOMAINS, SPLIT, "t1", RANDOM, reps=2000, seed=0)
    assert out["generalisation_gap"]["value"] == pytest.approx(2.0)
    assert out["generalisation_gap"]["ci"] == pytest.approx([1.0, 3.0])
    # the ratio: runs (0,0) 1/2, (1,1) 1/4, mixed (1 + 1) / (2 + 4) = 1/3; interval [1/4, 1/2]
    assert out["transfer_ratio"]["value"] == pytest.approx(1 / 3)
    assert out["transfer_ratio"]["ci"] == pytest.approx([0.25, 0.5])


def test_the_stratified_bootstrap_would_break_the_pairing() -> None:
    # each run's held-out return is its source mean minus exactly 1: the gap has no spread
    rng = np.random.default_rng(0)
    source = rng.normal(3.0, 2.0, size=8)
    x = np.column_stack([source, source, source - 1.0, source, source])
    paired = paired_statistics(x, DOMAINS, SPLIT, "t1", RANDOM, reps=500, seed=0)
    assert paired["generalisation_gap"]["ci"] == pytest.approx([1.0, 1.0])
    # rliable's stratified bootstrap resamples the t1 column apart from the source columns
    _, cis = interval_estimates(
        {"m": x}, lambda s: np.array([s[:, :2].mean() - s[:, 2].mean()]), reps=500, seed=0
    )
    lo, hi = cis["m"][:, 0]
    assert hi - lo > 1.0  # an interval of between-run spread, not of the gap


def test_one_run_has_no_interval() -> None:
    one = PAIRED[[0]]
    out = summarise_methods(
        {"a": one, "pixels": PAIRED}, DOMAINS, SPLIT, RANDOM, headline="t1", reps=100
    )
    a = out["a"]
    assert a["runs"] == 1
    assert all(est["ci"] is None for est in a["stats"].values())
    assert a["stats"]["s1/mean"]["value"] == 2.5
    assert all(est["ci"] is None for est in a["paired"].values())
    assert a["paired"]["transfer_ratio"]["value"] == pytest.approx(0.5)  # 1 / 2
    assert all(est["ci"] is None for est in a["poi_over_baseline"].values())
    assert fmt_ci(a["paired"]["transfer_ratio"]) == "0.50 (1 run)"
    assert out["pixels"]["stats"]["s1/mean"]["ci"] is not None  # three runs: intervals


def test_learned_rule_at_the_boundary() -> None:
    assert LEARNED_SOURCE_SCORE == 0.2
    assert learned(0.2, 1.0) and learned(0.9, 1.0)
    assert not learned(0.2 - 1e-9, 1.0) and not learned(-0.3, -1.0)
    # without a reference (no score): a source return above the random policy's
    assert learned(None, 0.01) and not learned(None, 0.0)


def test_a_method_below_the_learned_source_score_has_no_ratio() -> None:
    reference = dict.fromkeys(DOMAINS, 10.5)  # a scale of 10 (s1), 11 (s2), 10.5 (t1)...
    # source score per run: ((R1 − 0.5) / 10 + (R2 + 0.5) / 11) / 2
    at = np.array([[2.5, 1.7, 1.0, 0.0, 0.0]])  # (0.2 + 0.2) / 2 = 0.2: learned, just
    below = np.array([[2.4, 1.7, 1.0, 0.0, 0.0]])  # (0.19 + 0.2) / 2 = 0.195: did not learn
    for matrix, ok in ((at, True), (below, False)):
        out = paired_statistics(matrix, DOMAINS, SPLIT, "t1", RANDOM, reference, reps=50)
        ratio = out["transfer_ratio"]
        assert ratio["did_not_learn"] is (not ok)
        assert (ratio["value"] is not None) is ok and ratio["ci"] is None
    assert fmt_ratio(out["transfer_ratio"]) == "n/a (did not learn)"

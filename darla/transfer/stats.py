"""Across seeds and methods: mean, IQM, transfer ratio and probability of improvement, with CIs.

The definitions are rliable's (Agarwal et al., NeurIPS 2021): scores form a ``[runs, tasks]``
matrix per method, here runs = agent seeds and tasks = domains; IQM is the 25%-trimmed mean over
all runs and tasks; 95% CIs are percentile intervals of a stratified bootstrap (runs resampled
within each task); the probability of improvement of X over Y averages, over tasks, the
Mann-Whitney P(X > Y) across runs. These are the per-domain aggregates (:func:`method_statistics`).

Paired quantities are not: a transfer ratio or a generalisation gap compares one run's source
numbers with the *same* run's held-out numbers, and rliable's stratified bootstrap resamples each
domain column on its own, so a resample pairs run 3's source with run 1's target and the
interval no longer measures the spread of the pairs. :func:`paired_statistics` resamples whole
runs instead (rows of the matrix, with replacement: :func:`whole_run_bootstrap`).

One run has no spread to resample: every interval of a method with fewer than
:data:`MIN_RUNS_FOR_CI` runs is None ("n/a"), not an interval equal to its point estimate.

One bootstrap per method computes every per-domain statistic of that method at once: a statistic
that reads only some columns of the matrix sees exactly the resamples rliable would draw for that
matrix, and 2,000 reps cost one Python loop, not one per statistic.

Seeding: rliable's ``StratifiedBootstrap.update_indices`` draws its resamples from numpy's
*global* generator and ignores ``random_state``; :func:`interval_estimates` therefore seeds the
global generator (and restores its state afterwards), so the same seed gives the same CIs. The
whole-run bootstrap and Spearman's interval draw from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from rliable import library as rly
from rliable import metrics as rly_metrics

aggregate_mean = rly_metrics.aggregate_mean

LEARNED_SOURCE_SCORE = 0.2
"""The normalised source score (mean over the source domains; 0 = random, 1 = the reference) an
agent must reach for its transfer ratio to mean anything. The ratio divides by the source score's
distance from random: near random the denominator is mostly evaluation noise (10 episodes of a
random-like agent land a few hundredths either side of 0) and the ratio swings to ±10 on nothing.
0.2 is a fifth of the reference's margin over random, well clear of that noise at our episode
counts and below what every agent that learned the task reaches. Below it the ratio is "n/a (did
not learn)" and the agent counts in its method's did-not-learn share."""

MIN_RUNS_FOR_CI = 2  # one run has no spread to resample: its interval is None ("n/a")

BOOTSTRAP_METHOD = (
    "percentile intervals; per-domain and source aggregates and the probability of improvement: "
    "rliable's stratified bootstrap (runs resampled within each domain); paired quantities "
    "(transfer ratio, generalisation gap): whole runs resampled with replacement; none for one run"
)


def aggregate_iqm(scores: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """rliable's ``aggregate_iqm`` (``scipy.stats.trim_mean(scores, 0.25, axis=None)``) without
    scipy's per-call argument handling, which costs ~0.3 ms: most of a bootstrap's time.

    ``axis=None``: over all runs and tasks (rliable's IQM); ``axis=0``: one IQM per task column.
    The same elements are kept as scipy keeps (``int(0.25 * n)`` cut from each end).
    """
    x = np.asarray(scores, dtype=float)
    if axis is None:
        x = x.reshape(-1, 1)
    n = x.shape[0]
    cut = int(0.25 * n)
    kept = np.sort(x, axis=0)[cut : n - cut]
    out = kept.mean(axis=0)
    return float(out[0]) if axis is None else out


def probability_of_improvement(scores_x: np.ndarray, scores_y: np.ndarray) -> float:
    """rliable's ``probability_of_improvement``, vectorised (a test checks they agree).

    Per task, the Mann-Whitney U of X over Y divided by ``n_x * n_y`` (ties count one half;
    identical columns give 0.5), averaged over tasks. rliable calls ``scipy.stats.mannwhitneyu``
    once per task, which made a 2,000-rep bootstrap over 7 domains and 7 methods take minutes;
    this is the same number from one broadcast comparison.
    """
    x = np.asarray(scores_x, dtype=float)[:, None, :]
    y = np.asarray(scores_y, dtype=float)[None, :, :]
    per_task = ((x > y) + 0.5 * (x == y)).mean(axis=(0, 1))
    return float(np.mean(per_task))


@contextlib.contextmanager
def seeded_global_numpy(seed: int) -> Iterator[None]:
    state = np.random.get_state()
    np.random.seed(int(seed) % 2**32)
    try:
        yield
    finally:
        np.random.set_state(state)


def interval_estimates(
    score_dict: Mapping[str, Any],
    func: Callable[..., np.ndarray],
    *,
    reps: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``rliable.library.get_interval_estimates`` with an explicit, reproducible seed.

    Returns ``(points, cis)``; ``cis[key]`` has shape ``[2, ...]`` (lower, upper). Each key is
    bootstrapped from the same seed, so keys are comparable and adding a method does not change
    another method's interval.
    """
    points, cis = {}, {}
    for key, scores in score_dict.items():
        with seeded_global_numpy(seed):
            p, c = rly.get_interval_estimates(
                {key: scores}, func, reps=int(reps), confidence_interval_size=confidence
            )
        points[key], cis[key] = np.asarray(p[key], dtype=float), np.asarray(c[key], dtype=float)
    return points, cis


def normalised_scores(returns: np.ndarray, random: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(R − random) / (reference − random) per domain column, DMLab-30's human-normalised score
    with the reference policy as the human: 0 is the random policy, 1 the reference. NaN in a
    domain where the reference is not above random (no scale to measure against)."""
    scale = np.asarray(reference, dtype=float) - np.asarray(random, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scale > 0, (np.asarray(returns, dtype=float) - random) / scale, np.nan)


def method_statistics(
    scores: np.ndarray,
    domains: Sequence[str],
    split: Mapping[str, str],
    random_returns: Mapping[str, float],
    reference_returns: Mapping[str, float] | None = None,
) -> tuple[list[str], Callable[[np.ndarray], np.ndarray]]:
    """The per-domain aggregates of one method's ``[runs, domains]`` return matrix, as one function.

    Names: ``<domain>/mean``, ``<domain>/iqm`` per domain; ``source/mean``, ``source/iqm`` over
    the source domains together. Target domains are never pooled: each is its own column (the
    held-out combination and each extrapolation target test different things). With
    ``reference_returns``, the same means and IQMs of the normalised scores
    (:func:`normalised_scores`) as ``<domain>/score_mean``, ``source/score_iqm`` and so on, from
    the same resamples. Paired quantities (ratio, gap) are :func:`paired_statistics`'.
    """
    src = [i for i, d in enumerate(domains) if split[d] == "source"]
    kinds = [("", None)]
    if reference_returns is not None:
        random = np.array([random_returns[d] for d in domains], dtype=float)
        reference = np.array([reference_returns[d] for d in domains], dtype=float)
        kinds.append(("score_", lambda x: normalised_scores(x, random, reference)))
    names = []
    for prefix, _ in kinds:
        names += [f"{d}/{prefix}{s}" for d in domains for s in ("mean", "iqm")]
        names += [f"source/{prefix}{s}" for s in ("mean", "iqm")]

    def means_and_iqms(x: np.ndarray) -> list[float]:
        # per column, the same numbers as rliable's aggregate_mean / aggregate_iqm on x[:, [i]]
        per_domain = np.stack([x.mean(axis=0), aggregate_iqm(x, axis=0)], axis=1)
        values = list(per_domain.reshape(-1))
        if src:
            values += [aggregate_mean(x[:, src]), aggregate_iqm(x[:, src])]
        else:
            values += [np.nan, np.nan]
        return values

    def func(x: np.ndarray) -> np.ndarray:
        values = []
        for _, transform in kinds:
            values += means_and_iqms(x if transform is None else transform(x))
        return np.asarray(values, dtype=float)

    return names, func


def learned(source_score: Any, source_above_random: Any) -> Any:
    """Whether a source performance is clearly above random: normalised source score at least
    :data:`LEARNED_SOURCE_SCORE`; without a reference policy (results from before it: a score of
    None or NaN), a source return above the random policy's. Elementwise on arrays (a bool
    array), a bool on scalars."""
    score = np.asarray(np.nan if source_score is None else source_score, dtype=float)
    above = np.asarray(source_above_random, dtype=float)
    with np.errstate(invalid="ignore"):
        out = np.where(np.isfinite(score), score >= LEARNED_SOURCE_SCORE, above > 0)
    return bool(out) if out.ndim == 0 else out


def whole_run_bootstrap(n_runs: int, *, reps: int = 2000, seed: int = 0) -> np.ndarray:
    """``[reps, n_runs]`` row indices: each resample draws ``n_runs`` whole runs with replacement
    from ``numpy.random.default_rng(seed)``, so a run's source and target stay together."""
    return np.random.default_rng(int(seed)).integers(0, int(n_runs), size=(int(reps), int(n_runs)))


def percentile_interval(samples: np.ndarray, confidence: float = 0.95) -> list[float | None]:
    """The percentile interval of the finite ``samples`` ([None, None] if there are none)."""
    finite = np.asarray(samples, dtype=float)
    finite = finite[np.isfinite(finite)]
    if not len(finite):
        return [None, None]
    tail = (1.0 - confidence) / 2 * 100
    lo, hi = np.percentile(finite, [tail, 100 - tail])
    return [float(lo), float(hi)]


def paired_statistics(
    returns: np.ndarray,
    domains: Sequence[str],
    split: Mapping[str, str],
    headline: str,
    random_returns: Mapping[str, float],
    reference_returns: Mapping[str, float] | None = None,
    *,
    reps: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, dict[str, Any]]:
    """One method's paired quantities on ``headline`` (the held-out domain), each with a
    whole-run bootstrap interval (None for one run).

    Per run r: ``src_above[r]`` = its mean over the source domains of (return − random),
    ``held_above[r]`` = its ``headline`` return − random. Then

    - ``transfer_ratio`` = mean(held_above) / mean(src_above): the method's ratio of means over
      *all* its runs (not the mean of per-run ratios, which explodes on a run whose source is
      barely above random; not the learners only, which would select runs on the outcome; the
      did-not-learn share is reported beside it instead). None, with ``did_not_learn: True``,
      where the method's mean normalised source score is below :data:`LEARNED_SOURCE_SCORE`
      (without a reference: where mean(src_above) <= 0). A resample below that threshold has no
      ratio: it is left out of the interval and counted in ``excluded_resamples``.
    - ``generalisation_gap`` = mean over runs of (source return − ``headline`` return).
    - ``generalisation_gap_score``: the same on normalised scores (None without a reference).
    """
    x = np.asarray(returns, dtype=float)
    n = x.shape[0]
    src = [i for i, d in enumerate(domains) if split[d] == "source"]
    h = list(domains).index(headline)
    random = np.array([random_returns[d] for d in domains], dtype=float)
    above = x - random
    src_above, held_above = above[:, src].mean(axis=1), above[:, h]
    gap = x[:, src].mean(axis=1) - x[:, h]
    if reference_returns is not None:
        reference = np.array([reference_returns[d] for d in domains], dtype=float)
        z = normalised_scores(x, random, reference)
        src_score = z[:, src].mean(axis=1)
        gap_score = src_score - z[:, h]
    else:
        src_score = gap_score = np.full(n, np.nan)

    def ratio(rows: np.ndarray) -> np.ndarray:
        """The ratio of means of each row of index arrays ``[k, n]`` (NaN: did not learn)."""
        s_above, t_above = src_above[rows].mean(axis=-1), held_above[rows].mean(axis=-1)
        ok = learned(src_score[rows].mean(axis=-1), s_above)
        ok &= s_above > 0  # a learned source is above random; guard the division all the same
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(ok, t_above / np.where(ok, s_above, 1.0), np.nan)

    everyone = np.arange(n)[None, :]
    point = {
        "transfer_ratio": float(ratio(everyone)[0]),
        "generalisation_gap": float(gap.mean()),
        "generalisation_gap_score": float(gap_score.mean()),
    }
    cis: dict[str, list[float | None] | None] = dict.fromkeys(point)
    excluded = 0
    if n >= MIN_RUNS_FOR_CI:
        idx = whole_run_bootstrap(n, reps=reps, seed=seed)
        ratios = ratio(idx)
        excluded = int(np.sum(~np.isfinite(ratios)))
        cis = {
            "transfer_ratio": percentile_interval(ratios, confidence),
            "generalisation_gap": percentile_interval(gap[idx].mean(axis=1), confidence),
            "generalisation_gap_score": percentile_interval(
                gap_score[idx].mean(axis=1), confidence
            ),
        }
    out = {name: _estimate(point[name], cis[name]) for name in point}
    for name in out:
        if out[name]["value"] is None:
            out[name]["ci"] = None
    out["transfer_ratio"]["did_not_learn"] = out["transfer_ratio"]["value"] is None
    out["transfer_ratio"]["excluded_resamples"] = excluded
    return out


def transfer_ratio(
    source: float, target: float, random_source: float, random_target: float
) -> float:
    """(target − random) ÷ (source − random): 1 = all of the source skill survives the shift.

    NaN when the source return is not above the random policy's: there is no skill to transfer.
    """
    above = source - random_source
    if not np.isfinite(above) or above <= 0:
        return float("nan")
    return float((target - random_target) / above)


def summarise_methods(
    scores: Mapping[str, np.ndarray],
    domains: Sequence[str],
    split: Mapping[str, str],
    random_returns: Mapping[str, float],
    reference_returns: Mapping[str, float] | None = None,
    *,
    headline: str | None = None,
    baseline: str | None = "pixels",
    reps: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, dict[str, Any]]:
    """Every method's statistics with CIs, and its probability of improvement over ``baseline``.

    ``scores[method]``: mean episode return per run (row) and domain (column, in ``domains``
    order). Returns ``{method: {"runs": n, "stats": {name: {"value", "ci": [lo, hi] | None}},
    "paired": {...} (with ``headline``, :func:`paired_statistics`), "poi_over_baseline":
    {"source" | <target domain>: {"value", "ci"}} | None}}``. Intervals are None for a method
    (or a baseline) of fewer than :data:`MIN_RUNS_FOR_CI` runs.
    """
    out: dict[str, dict[str, Any]] = {}
    for method, matrix in scores.items():
        matrix = np.asarray(matrix, dtype=float)
        names, func = method_statistics(matrix, domains, split, random_returns, reference_returns)
        with np.errstate(invalid="ignore"):
            if matrix.shape[0] >= MIN_RUNS_FOR_CI:
                points, cis = interval_estimates(
                    {method: matrix}, func, reps=reps, seed=seed, confidence=confidence
                )
                point, ci = points[method], cis[method]
            else:
                point, ci = func(matrix), None
        out[method] = {
            "runs": int(matrix.shape[0]),
            "stats": {
                name: _estimate(point[k], None if ci is None else ci[:, k])
                for k, name in enumerate(names)
            },
            "poi_over_baseline": None,
        }
        if headline is not None:
            out[method]["paired"] = paired_statistics(
                matrix, domains, split, headline, random_returns, reference_returns,
                reps=reps, seed=seed, confidence=confidence,
            )  # fmt: skip
    if baseline is not None and baseline in scores:
        # the source domains together, and each target domain on its own (never pooled)
        groups = {"source": [i for i, d in enumerate(domains) if split[d] == "source"]}
        groups.update({d: [i] for i, d in enumerate(domains) if split[d] == "target"})
        groups = {g: cols for g, cols in groups.items() if cols}

        def poi(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            return np.array([probability_of_improvement(x[:, c], y[:, c]) for c in groups.values()])

        base = np.asarray(scores[baseline], dtype=float)
        pairs = {m: (np.asarray(s, dtype=float), base) for m, s in scores.items() if m != baseline}
        resampled = {m: p for m, p in pairs.items() if min(len(p[0]), len(p[1])) >= MIN_RUNS_FOR_CI}
        points, cis = interval_estimates(
            resampled, poi, reps=reps, seed=seed, confidence=confidence
        )
        for method, (x, y) in pairs.items():
            point = points[method] if method in points else poi(x, y)
            ci = cis.get(method)
            out[method]["poi_over_baseline"] = {
                g: _estimate(point[k], None if ci is None else ci[:, k])
                for k, g in enumerate(groups)
            }
    return out


def _estimate(value: float, ci: Sequence[float | None] | np.ndarray | None) -> dict[str, Any]:
    """``{"value", "ci": [lo, hi]}``, NaN as None; ``ci`` None where there is no interval."""

    def clean(v: float | None) -> float | None:
        return float(v) if v is not None and np.isfinite(v) else None

    return {"value": clean(value), "ci": None if ci is None else [clean(ci[0]), clean(ci[1])]}


def spearman_interval(
    x: Sequence[float],
    y: Sequence[float],
    *,
    reps: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Spearman's ρ of ``x`` and ``y`` and a percentile bootstrap CI over the pairs.

    Here a pair is one vision module (its disentanglement score, its agents' held-out score); the
    bootstrap resamples modules with replacement, ``reps`` times from ``seed``. A resample whose
    ``x`` or ``y`` is constant (every draw the same module, say) has no ρ: it is left out of the
    interval and counted in ``degenerate``. ρ is Pearson's correlation of average ranks, so ties
    count as scipy's ``spearmanr`` counts them. Returns ``{"value", "ci": [lo, hi], "reps",
    "degenerate"}``; the value is None with fewer than two distinct values on either side.
    """
    pairs = np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
    n = len(pairs)
    value = _rank_correlation(pairs[None, :, 0], pairs[None, :, 1])[0]
    idx = np.random.default_rng(int(seed)).integers(0, n, size=(int(reps), n))
    samples = pairs[idx]  # [reps, n, 2]
    rho = _rank_correlation(samples[..., 0], samples[..., 1])
    return {
        **_estimate(value, percentile_interval(rho, confidence)),
        "reps": int(reps),
        "degenerate": int(np.sum(~np.isfinite(rho))),
    }


def _rank_correlation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's ρ of each row pair of ``[reps, n]`` arrays (NaN where a row is constant)."""
    from scipy.stats import rankdata

    x, y = rankdata(x, axis=1), rankdata(y, axis=1)
    x = x - x.mean(axis=1, keepdims=True)
    y = y - y.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (x * y).sum(axis=1) / np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))
    return np.clip(rho, -1.0, 1.0)


def mean_if_known(values: Sequence[float | None]) -> float | None:
    """The mean, or None if there is none or any value is unknown (a normalised score where the
    reference is not above random; a blind share from before episodes carried action digests)."""
    return None if not values or any(v is None for v in values) else float(np.mean(values))

"""Across seeds and methods: mean, IQM, transfer ratio and probability of improvement, with CIs.

The definitions are rliable's (Agarwal et al., NeurIPS 2021): scores form a ``[runs, tasks]``
matrix per method, here runs = agent seeds and tasks = domains; IQM is the 25%-trimmed mean over
all runs and tasks; 95% CIs are percentile intervals of a stratified bootstrap (runs resampled
within each task); the probability of improvement of X over Y averages, over tasks, the
Mann-Whitney P(X > Y) across runs.

One bootstrap per method computes every statistic of that method at once (each domain, source,
target, transfer ratio, gap): a statistic that reads only some columns of the matrix sees exactly
the resamples rliable would draw for that matrix, and 2,000 reps cost one Python loop, not one
per statistic.

Seeding: rliable's ``StratifiedBootstrap.update_indices`` draws its resamples from numpy's
*global* generator and ignores ``random_state``; :func:`interval_estimates` therefore seeds the
global generator (and restores its state afterwards), so the same seed gives the same CIs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from rliable import library as rly
from rliable import metrics as rly_metrics

aggregate_mean = rly_metrics.aggregate_mean


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


def _mean_of(x: np.ndarray, cols: Sequence[int]) -> float:
    return float(np.mean(x[:, cols])) if len(cols) else float("nan")


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
    """The named statistics of one method's ``[runs, domains]`` return matrix, as one function.

    Names: ``<domain>/mean``, ``<domain>/iqm`` per domain; ``source/mean``, ``source/iqm``,
    ``target/mean``, ``target/iqm``, ``all/mean``, ``all/iqm``; ``transfer_ratio`` (target
    return above the random policy's ÷ source return above the random policy's, on mean returns);
    ``generalisation_gap`` (source mean − target mean). With ``reference_returns``, the same
    means and IQMs of the normalised scores (:func:`normalised_scores`) as ``<domain>/score_mean``,
    ``<domain>/score_iqm``, ``source/score_iqm`` and so on, from the same resamples.
    """
    src = [i for i, d in enumerate(domains) if split[d] == "source"]
    tgt = [i for i, d in enumerate(domains) if split[d] == "target"]
    random_src = float(np.mean([random_returns[domains[i]] for i in src])) if src else float("nan")
    random_tgt = float(np.mean([random_returns[domains[i]] for i in tgt])) if tgt else float("nan")
    kinds = [("", None)]
    if reference_returns is not None:
        random = np.array([random_returns[d] for d in domains], dtype=float)
        reference = np.array([reference_returns[d] for d in domains], dtype=float)
        kinds.append(("score_", lambda x: normalised_scores(x, random, reference)))
    names = []
    for prefix, _ in kinds:
        names += [f"{d}/{prefix}{s}" for d in domains for s in ("mean", "iqm")]
        names += [f"{g}/{prefix}{s}" for g in ("source", "target", "all") for s in ("mean", "iqm")]
    names += ["transfer_ratio", "generalisation_gap"]

    def means_and_iqms(x: np.ndarray) -> list[float]:
        # per column, the same numbers as rliable's aggregate_mean / aggregate_iqm on x[:, [i]]
        per_domain = np.stack([x.mean(axis=0), aggregate_iqm(x, axis=0)], axis=1)
        values = list(per_domain.reshape(-1))
        for cols in (src, tgt, list(range(x.shape[1]))):
            if cols:
                values += [aggregate_mean(x[:, cols]), aggregate_iqm(x[:, cols])]
            else:
                values += [np.nan, np.nan]
        return values

    def func(x: np.ndarray) -> np.ndarray:
        values = []
        for _, transform in kinds:
            values += means_and_iqms(x if transform is None else transform(x))
        source, target = _mean_of(x, src), _mean_of(x, tgt)
        values += [transfer_ratio(source, target, random_src, random_tgt), source - target]
        return np.asarray(values, dtype=float)

    return names, func


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
    baseline: str | None = "pixels",
    reps: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, dict[str, Any]]:
    """Every method's statistics with CIs, and its probability of improvement over ``baseline``.

    ``scores[method]``: mean episode return per run (row) and domain (column, in ``domains``
    order). Returns ``{method: {"runs": n, "stats": {name: {"value", "ci": [lo, hi]}},
    "poi_over_baseline": {"source"|"target"|"all": {"value", "ci"}} | None}}``.
    """
    out: dict[str, dict[str, Any]] = {}
    for method, matrix in scores.items():
        matrix = np.asarray(matrix, dtype=float)
        names, func = method_statistics(matrix, domains, split, random_returns, reference_returns)
        with np.errstate(invalid="ignore"):
            points, cis = interval_estimates(
                {method: matrix}, func, reps=reps, seed=seed, confidence=confidence
            )
        out[method] = {
            "runs": int(matrix.shape[0]),
            "stats": {
                name: _estimate(points[method][k], cis[method][:, k])
                for k, name in enumerate(names)
            },
            "poi_over_baseline": None,
        }
    if baseline is not None and baseline in scores:
        groups = {
            "source": [i for i, d in enumerate(domains) if split[d] == "source"],
            "target": [i for i, d in enumerate(domains) if split[d] == "target"],
            "all": list(range(len(domains))),
        }
        groups = {g: cols for g, cols in groups.items() if cols}

        def poi(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            return np.array([probability_of_improvement(x[:, c], y[:, c]) for c in groups.values()])

        base = np.asarray(scores[baseline], dtype=float)
        pairs = {m: (np.asarray(s, dtype=float), base) for m, s in scores.items() if m != baseline}
        points, cis = interval_estimates(pairs, poi, reps=reps, seed=seed, confidence=confidence)
        for method in pairs:
            out[method]["poi_over_baseline"] = {
                g: _estimate(points[method][k], cis[method][:, k]) for k, g in enumerate(groups)
            }
    return out


def _estimate(value: float, ci: np.ndarray) -> dict[str, Any]:
    def clean(v: float) -> float | None:
        return float(v) if np.isfinite(v) else None

    return {"value": clean(value), "ci": [clean(ci[0]), clean(ci[1])]}


def spearman_interval(
    x: Sequence[float],
    y: Sequence[float],
    *,
    reps: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Spearman's ρ of ``x`` and ``y`` and a percentile bootstrap CI over the pairs.

    Here a pair is one vision module (its disentanglement score, its agents' target return); the
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
    finite = rho[np.isfinite(rho)]
    tail = (1.0 - confidence) / 2 * 100
    ci = np.percentile(finite, [tail, 100 - tail]) if len(finite) else np.array([np.nan, np.nan])
    return {
        **_estimate(value, ci),
        "reps": int(reps),
        "degenerate": int(len(rho) - len(finite)),
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

"""All metrics of a representation in one call, recorded with their parameters.

The disentanglement metrics need a factor dataset; the object probe (:data:`ENV_METRICS`)
renders its own episodes in the vision domains of an env factor dataset, so it runs on those
only. Each metric draws from its own child generator, derived from ``rng`` and the metric's
position in :data:`ALL`, so a metric's score depends on the seed only, not on which other
metrics ran.
"""

from __future__ import annotations

import inspect
import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from darla.errors import DarlaError
from darla.io import write_json
from darla.metrics.beta_vae import beta_vae_score
from darla.metrics.dci import dci_score
from darla.metrics.factor_vae import factor_vae_score
from darla.metrics.mig import mig_score
from darla.metrics.modularity import modularity_explicitness_score
from darla.metrics.object_probe import object_probe_score
from darla.metrics.sampling import FactorDataset, RepresentationFunction, check_dataset
from darla.metrics.sap import sap_score

METRICS: dict[str, Callable[..., dict[str, Any]]] = {
    "beta_vae": beta_vae_score,
    "factor_vae": factor_vae_score,
    "mig": mig_score,
    "dci": dci_score,
    "sap": sap_score,
    "modularity_explicitness": modularity_explicitness_score,
    "object_probe": object_probe_score,
}
#: Every metric, in the order evaluate runs them (and derives their seeds; a new metric goes
#: last, so the others keep their seeds).
ALL: tuple[str, ...] = tuple(METRICS)
#: The metrics that render CollectGoodObjects episodes: only for an env factor dataset.
ENV_METRICS: tuple[str, ...] = ("object_probe",)

#: Sample counts for ``fast=True``: 10-20x fewer points than disentanglement_lib, for tests and
#: smoke runs. Scores are noisier (a few points of accuracy) but rank representations the same.
FAST: dict[str, dict[str, int]] = {
    "beta_vae": {"num_train": 500, "num_eval": 250},
    "factor_vae": {"num_train": 500, "num_eval": 250, "num_variance_estimate": 1000},
    "mig": {"num_train": 1000},
    "dci": {"num_train": 500, "num_test": 250},
    "sap": {"num_train": 1000, "num_test": 500},
    "modularity_explicitness": {"num_train": 1000, "num_test": 500},
    # 300 + 200 frames of 50-step episodes: about 1 s in all on one idle CPU core
    "object_probe": {"num_train_episodes": 6, "num_test_episodes": 4, "episode_length": 50},
}

#: The scores that stand for the metrics in tables and correlation plots: label -> (metric, score).
HEADLINE: dict[str, tuple[str, str]] = {
    "beta_vae": ("beta_vae", "eval_accuracy"),
    "factor_vae": ("factor_vae", "eval_accuracy"),
    "mig": ("mig", "mig"),
    "dci_disentanglement": ("dci", "disentanglement"),
    "dci_completeness": ("dci", "completeness"),
    "dci_informativeness": ("dci", "informativeness_test"),
    "sap": ("sap", "sap"),
    "modularity": ("modularity_explicitness", "modularity"),
    "explicitness": ("modularity_explicitness", "explicitness_test"),
    "object_probe": ("object_probe", "balanced_accuracy"),
    "object_probe_pca": ("object_probe", "pca_balanced_accuracy"),
}

#: Headline labels that score a yardstick, not the vision module: the object probe's PCA of the
#: probe's own pixels. Tables show them beside the module's probe; nothing correlates them with
#: the module's transfer (they differ between modules only as the probe's frames do).
REFERENCE_SCORES: frozenset[str] = frozenset({"object_probe_pca"})


def metrics_for(dataset: object) -> tuple[str, ...]:
    """The metrics that apply to ``dataset``: all of them for an env factor dataset (it names
    the vision domains the object probe renders), the disentanglement metrics otherwise."""
    has_objects = getattr(dataset, "domain_specs", None) is not None
    return tuple(m for m in ALL if has_objects or m not in ENV_METRICS)


def _metric_names(metrics: str | Iterable[str]) -> tuple[str, ...]:
    names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    unknown = [m for m in names if m not in METRICS]
    if unknown:
        raise DarlaError(f"unknown metric(s) {unknown}; choose from {list(ALL)}")
    if not names:
        raise DarlaError(f"no metrics requested; choose from {list(ALL)}")
    return names


def to_jsonable(value: Any) -> Any:
    """Plain Python (dict, list, float, int, str, bool, None) from numpy-laden results."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def evaluate(
    dataset: FactorDataset,
    represent: RepresentationFunction,
    *,
    rng: np.random.Generator,
    metrics: str | Iterable[str] | None = None,
    fast: bool = False,
    progress: bool = False,
    n_jobs: int = -1,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Score ``represent`` on ``dataset`` with each metric in ``metrics``.

    Args:
        dataset: a factor dataset (``factor_names``, ``factor_sizes``, ``sample_factors``,
            ``render``), e.g. ``envs.shapes.Shapes2D()``.
        represent: uint8 images ``[n, H, W, 3]`` -> float codes ``[n, D]`` (usually a VAE's
            latent mean), called ``batch_size`` (64) images at a time.
        rng: the only source of randomness; the same seed gives the same scores.
        metrics: names from :data:`ALL`; None: every metric that applies to ``dataset``
            (:func:`metrics_for`).
        fast: use the sample counts in :data:`FAST` instead of disentanglement_lib's:
            β-VAE 500 train / 250 eval points (64 pairs each), FactorVAE 500 / 250 votes and
            1000 points for the variances, MIG 1000 points, DCI 500 train / 250 test points (its
            tree ensembles cost seconds per factor even then), SAP and modularity 1000 train /
            500 test points, the object probe 6 train / 4 test episodes of 50 frames (instead
            of 40 / 20 of 100). Bins, batch sizes, classifiers and thresholds stay the same.
        progress: show a tqdm bar over the metrics.
        n_jobs: processes for DCI's per-factor tree ensembles (-1: all cores); results do not
            depend on it.
        overrides: per-metric keyword arguments replacing defaults, e.g.
            ``{"mig": {"num_bins": 30}}``; they are recorded in the result's params.

    Returns:
        ``{metric: {"scores": {...}, "params": {...}, "seconds": float, ...}}``, JSON-ready. The
        params record everything that produced the scores (sample counts, bins, classifier,
        sklearn version) and ``fast``.
    """
    check_dataset(dataset)
    names = _metric_names(metrics_for(dataset) if metrics is None else metrics)
    overrides = dict(overrides or {})
    unknown = [m for m in overrides if m not in METRICS]
    if unknown:
        raise DarlaError(f"overrides name unknown metric(s) {unknown}; choose from {list(ALL)}")
    for name, params in overrides.items():
        allowed = set(inspect.signature(METRICS[name]).parameters) - {"dataset", "represent", "rng"}
        bad = sorted(set(params) - allowed)
        if bad:
            raise DarlaError(
                f"bad override for metric {name!r}: {bad} not among its parameters {sorted(allowed)}"
            )
    root = int(rng.integers(0, 2**63 - 1))
    results: dict[str, dict[str, Any]] = {}
    bar = tqdm(names, desc="metrics", unit="metric", disable=not progress)
    for name in bar:
        bar.set_postfix_str(name)
        kwargs: dict[str, Any] = dict(FAST[name]) if fast else {}
        kwargs.update(overrides.get(name, {}))
        if name == "dci":
            kwargs.setdefault("n_jobs", n_jobs)
        child = np.random.default_rng([root, ALL.index(name)])
        start = time.perf_counter()
        result = to_jsonable(METRICS[name](dataset, represent, rng=child, **kwargs))
        result["seconds"] = time.perf_counter() - start
        result["params"]["fast"] = bool(fast)
        results[name] = result
    return results


def headline_scores(results: dict[str, dict[str, Any]]) -> dict[str, float]:
    """One flat ``{label: score}`` row (labels of :data:`HEADLINE`) from :func:`evaluate`'s output,
    for tables and plots; metrics that were not run are left out. A metric also scored on every
    combination of the factors (``ood/<metric>``, held-out combinations included) gives a second
    column, ``ood/<label>``, beside the one on the source combinations."""
    return {
        f"{prefix}{label}": float(results[f"{prefix}{metric}"]["scores"][key])
        for prefix in ("", "ood/")
        for label, (metric, key) in HEADLINE.items()
        if f"{prefix}{metric}" in results
    }


def write_metrics(path: str | os.PathLike[str], results: dict[str, Any]) -> Path:
    """Write :func:`evaluate`'s results as JSON, atomically; refuses anything not plain JSON."""
    plain = to_jsonable(results)
    try:
        json.dumps(plain, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise DarlaError(
            f"metrics results are not plain JSON ({error}); pass evaluate()'s output"
        ) from error
    return write_json(path, plain)

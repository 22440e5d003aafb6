"""evaluate(): every metric with its parameters, JSON-ready and seeded; shapes-dataset ranking."""

import json

import numpy as np
import pytest
from metrics_datasets import identity, random_rotation, stamped_factors

from darla.errors import DarlaError
from darla.metrics import (
    ENV_METRICS,
    FAST,
    HEADLINE,
    IdentityDataset,
    StampedDataset,
    evaluate,
    headline_scores,
    metrics_for,
    write_metrics,
)

SIZES = (4, 5, 6, 3)
# Discrete SAP cannot reach 1 even for a perfect code (see sap.py); R^2 SAP can.
CONTINUOUS_SAP = {"sap": {"continuous_factors": True}}


@pytest.fixture(scope="module")
def identity_results():
    return evaluate(
        IdentityDataset(SIZES),
        identity,
        rng=np.random.default_rng(0),
        fast=True,
        n_jobs=1,
        overrides=CONTINUOUS_SAP,
    )


def test_identity_scores_near_one_on_every_metric(identity_results):
    # every disentanglement metric; the object probe needs an env's objects (its own tests)
    assert set(identity_results) == set(metrics_for(IdentityDataset(SIZES)))
    assert set(identity_results).isdisjoint(ENV_METRICS)
    scores = headline_scores(identity_results)
    assert set(scores) == {label for label, (m, _) in HEADLINE.items() if m not in ENV_METRICS}
    low = {name: score for name, score in scores.items() if score < 0.9}
    assert not low, low


def test_results_are_plain_json_and_record_their_parameters(identity_results, tmp_path):
    text = json.dumps(identity_results, allow_nan=False)
    assert json.loads(text) == identity_results
    for name, entry in identity_results.items():
        assert entry["params"]["fast"] is True
        assert entry["seconds"] >= 0
        for key, value in FAST[name].items():
            assert entry["params"][key] == value, (name, key)
    assert identity_results["mig"]["params"]["num_bins"] == 20
    assert identity_results["factor_vae"]["params"]["prune_threshold"] == 0.05
    assert identity_results["beta_vae"]["params"]["batch_size"] == 64
    assert identity_results["sap"]["params"]["continuous_factors"] is True
    assert "GradientBoostingClassifier" in identity_results["dci"]["params"]["classifier"]
    path = write_metrics(tmp_path / "metrics.json", identity_results)
    assert json.loads(path.read_text()) == identity_results


def test_a_metric_scores_the_same_alone_or_with_the_others(identity_results):
    alone = evaluate(
        IdentityDataset(SIZES),
        identity,
        rng=np.random.default_rng(0),
        fast=True,
        metrics=["sap", "mig", "beta_vae"],
        overrides=CONTINUOUS_SAP,
    )
    for name in ("sap", "mig", "beta_vae"):
        assert alone[name]["scores"] == identity_results[name]["scores"]
        assert alone[name]["params"] == identity_results[name]["params"]


def test_same_seed_same_scores_different_seed_different_sample():
    def run(seed):
        return evaluate(
            IdentityDataset(SIZES),
            lambda x: identity(x) + 0.5 * np.sin(7 * identity(x)),
            metrics="mig",
            rng=np.random.default_rng(seed),
            fast=True,
        )["mig"]["scores"]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_progress_bar_and_errors(capsys):
    dataset = IdentityDataset(SIZES)
    evaluate(
        dataset, identity, rng=np.random.default_rng(0), metrics=["mig"], fast=True, progress=True
    )
    assert "metrics" in capsys.readouterr().err
    with pytest.raises(DarlaError, match="unknown metric"):
        evaluate(dataset, identity, rng=np.random.default_rng(0), metrics=["mutual_info_gap"])
    with pytest.raises(DarlaError, match="bad override"):
        evaluate(
            dataset,
            identity,
            rng=np.random.default_rng(0),
            metrics=["mig"],
            overrides={"mig": {"bins": 3}},
        )
    with pytest.raises(DarlaError, match="not plain JSON"):
        write_metrics("unused.json", {"mig": {"scores": {"mig": float("nan")}}})


def test_on_shapes_the_true_factors_rank_above_a_random_mixing_of_them():
    """Both representations see the same images (same seed) and carry the same information
    (an orthogonal mixing is invertible) plus the same noise; only the axes differ. Every
    disentanglement score must prefer the axis-aligned one. Explicitness and DCI
    informativeness are left out on purpose: they measure how much is decodable, which an
    invertible mixing does not change."""
    from envs.shapes import Shapes2D

    dataset = StampedDataset(Shapes2D(image_size=32))
    sizes = dataset.factor_sizes
    small = {
        "beta_vae": {"num_train": 200, "num_eval": 100, "batch_size": 32},
        "factor_vae": {
            "num_train": 200,
            "num_eval": 100,
            "num_variance_estimate": 500,
            "batch_size": 32,
        },
        "mig": {"num_train": 1000},
        "dci": {"num_train": 300, "num_test": 150},
        "sap": {"num_train": 600, "num_test": 300},
        "modularity_explicitness": {"num_train": 600, "num_test": 300},
    }
    scores = {}
    for name, mixing in (("true", None), ("mixed", random_rotation(len(sizes), seed=0))):
        represent = stamped_factors(sizes, mixing, noise=0.2, seed=0)
        results = evaluate(
            dataset, represent, rng=np.random.default_rng(0), overrides=small, n_jobs=1
        )
        scores[name] = headline_scores(results)
    for metric in set(scores["true"]) - {"explicitness", "dci_informativeness"}:
        assert scores["true"][metric] > scores["mixed"][metric], (metric, scores)


def test_ood_scores_are_columns_of_their_own_beside_the_source_ones(identity_results):
    source = identity_results["mig"]
    ood = {**source, "scores": {**source["scores"], "mig": 0.25}}
    scores = headline_scores({"mig": source, "ood/mig": ood})
    assert scores == {"mig": source["scores"]["mig"], "ood/mig": 0.25}

"""Zero-shot integrity: nothing a vision model trains on, or is chosen with, holds a target
domain's factor combination (DESIGN.md, "Environments").

"Holds a target combination", precisely: a training input (a frame, a rendered scene, a label)
is mapped to its full domain-factor vector, the values of all nine factors of ``domains.yaml``
(a factor dataset's row through ``factors_to_domain``, whose factors the chosen domains do not
vary take the first domain's values; a collected frame through its stored factors). It holds
target T's combination when that vector equals T's. Comparing only the factors the source set
varies would be wrong: A_new_lighting differs from A_room1 in lighting only, which the source
set does not vary, so its restriction equals A_room1's. Every check below asserts the stronger
fact, that each vector is one of the source domains' own vectors, and names the target hit.

Every vision model's data path is covered: its registered ``training_data`` kind must be one of
the kinds checked here (a new kind fails the test until it is checked too).
"""

from __future__ import annotations

import numpy as np
import pytest

import envs
from darla.data.collection import CollectionConfig, collect
from darla.data.frames import open_frames
from darla.metrics.beta_vae import beta_vae_features
from darla.metrics.factor_vae import factor_vae_votes
from darla.metrics.sampling import sample_codes
from darla.vision.registry import model_names
from darla.vision.training.inputs import complete_model_kwargs, trainer_inputs, training_data

SIZE = 16
SOURCE = envs.source_domains()
KINDS = ("frames", "labelled", "domain_labelled", "clamped")


def _vector(domain: dict) -> tuple:
    return tuple(envs.domains.value_key(domain[f]) for f in envs.factor_vocabulary())


SOURCE_VECTORS = {_vector(envs.get_domain(d)): d for d in SOURCE}
TARGET_VECTORS = {_vector(envs.get_domain(d)): d for d in envs.target_domains()}


def _check_vectors(domains: list[dict], what: str) -> None:
    vectors = {_vector(domain) for domain in domains}
    hit = sorted(TARGET_VECTORS[v] for v in vectors if v in TARGET_VECTORS)
    assert not hit, f"{what} hold target combination(s) {hit}"
    others = vectors - set(SOURCE_VECTORS)
    assert not others, f"{what} hold {len(others)} combination(s) no source domain has"


def _config() -> dict:
    return {
        "seed": 0,
        "data": {"dataset": "env", "domains": list(SOURCE), "obs_size": SIZE, "workers": 1},
        "train": {"batch_size": 16, "val_batches": 1, "steps": 10},
    }


class Recording:
    """A factor dataset that records every factor vector it is asked to render."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset
        self.rendered: list[np.ndarray] = []

    def __getattr__(self, name):
        return getattr(self.dataset, name)

    def render(self, factors):
        self.rendered.append(np.array(factors))
        return np.zeros((len(factors), 1, 1, 3), np.uint8)

    def domains_rendered(self) -> list[dict]:
        rows = np.unique(np.concatenate(self.rendered), axis=0)
        return [self.dataset.factors_to_domain(row) for row in rows]


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    config = CollectionConfig(
        domains=tuple(SOURCE), num_frames=60, episode_length=10, obs_size=SIZE
    )
    folder = collect(config, tmp_path_factory.mktemp("frames"), progress=False)
    return open_frames(folder)


@pytest.fixture(scope="module")
def scenes():
    from darla.data.sources import make_factor_dataset

    dataset = make_factor_dataset(_config())  # what DC-IGN trains on and see's metrics score on
    yield dataset
    dataset.close()


def _stored_domains(data, factors: np.ndarray) -> list[dict]:
    values = data.meta["factor_values"]
    names = data.meta["factor_names"]
    return [{n: values[n][int(i)] for n, i in zip(names, row, strict=True)} for row in factors]


def test_every_vision_model_has_a_checked_data_path():
    kinds = {name: training_data(name) for name in model_names()}
    assert set(kinds.values()) <= set(KINDS), kinds
    assert {"frames", "labelled", "domain_labelled", "clamped"} <= set(kinds.values())


def test_random_agent_frames_hold_source_combinations_only(frames):
    assert len(frames.factors) == 60
    _check_vectors(_stored_domains(frames, frames.factors), "random-agent frames")


def test_scan_labels_hold_source_combinations_only(frames):
    cfg = _config()
    kwargs = complete_model_kwargs("scan", {"factor_names": None, "factor_values": None}, cfg)
    with trainer_inputs("scan", frames, kwargs, cfg) as inputs:
        labels = np.asarray(inputs["labels"])
    assert labels.shape == (60, len(kwargs["factor_names"]))
    domains = [
        {
            n: kwargs["factor_values"][k][int(i)]
            for k, (n, i) in enumerate(zip(kwargs["factor_names"], row, strict=True))
        }
        for row in labels
    ]
    _check_vectors(domains, "SCAN's labels")


def test_domain_labels_name_source_domains_only(frames):
    cfg = _config()
    with trainer_inputs("dcodr", frames, {}, cfg) as inputs:
        ids = np.asarray(inputs["labels"]["domains"])
    names = frames.meta["domain_names"]
    assert sorted(set(names)) == sorted(SOURCE)
    for i in np.unique(ids):  # each frame's stored factors are those of the domain it names
        stored = _stored_domains(frames, frames.factors[ids == i])
        assert {_vector(d) for d in stored} == {_vector(envs.get_domain(names[i]))}


def test_clamped_batches_hold_source_combinations_only():
    """DC-IGN's sampler, built as ``darla see`` builds it; each factor varies in some batch."""
    cfg = _config()
    kwargs = complete_model_kwargs("dcign", {"factor_names": None}, cfg)
    with trainer_inputs("dcign", None, kwargs, cfg) as inputs:
        sampler = inputs["sampler"]
        draws = [sampler.factors_for(step) for step in range(300)]
        validation = [batch.factors for batch in sampler.validation()]
        domains = [
            sampler.dataset.factors_to_domain(row)
            for row in np.unique(np.concatenate([f for f, _ in draws] + validation), axis=0)
        ]
        varied = {k for factors, k in draws if len(np.unique(factors[:, k])) > 1}
    assert list(sampler.factor_names) == kwargs["factor_names"]
    assert varied == set(range(len(sampler.factor_names)))
    _check_vectors(domains, "DC-IGN's clamped batches")


def test_metrics_factor_dataset_samples_source_combinations_only(scenes):
    rows = scenes.sample_factors(5000, np.random.default_rng(0))
    _check_vectors([scenes.factors_to_domain(row) for row in rows], "the metrics' factor dataset")


def test_metrics_that_fix_a_factor_stay_in_the_source_combinations(scenes):
    """β-VAE's pairs and FactorVAE's batches fix one factor and resample the others; the other
    metrics draw with ``sample_factors`` (sample_codes)."""
    recording = Recording(scenes)
    represent = lambda images: np.zeros((len(images), 2))  # noqa: E731
    rng = np.random.default_rng(0)
    beta_vae_features(recording, represent, 64, rng=rng, batch_size=8)
    factor_vae_votes(
        recording,
        represent,
        64,
        rng=rng,
        variances=np.ones(2),
        active=np.ones(2, bool),
        batch_size=8,
    )
    sample_codes(recording, represent, 500, rng=rng)
    _check_vectors(recording.domains_rendered(), "the metrics' rendered scenes")


def test_the_ood_dataset_holds_the_held_out_combination():
    """The OOD columns' dataset (combinations="all") does reach A_room2: the check above can
    fail, and the OOD scores are on the held-out combination."""
    dataset = envs.make_factor_dataset(SOURCE, obs_size=SIZE, combinations="all")
    try:
        rows = dataset.sample_factors(2000, np.random.default_rng(0))
        vectors = {_vector(dataset.factors_to_domain(row)) for row in rows}
    finally:
        dataset.close()
    assert _vector(envs.get_domain("A_room2")) in vectors
    assert vectors == set(SOURCE_VECTORS) | {_vector(envs.get_domain("A_room2"))}


class WithoutConditionalSampler(Recording):
    """The restricted scenes, but without ``sample_factors_with``: what overwriting one column of
    independent rows (the metrics' old way) does to them."""

    def __getattr__(self, name):
        if name == "sample_factors_with":
            raise AttributeError(name)
        return getattr(self.dataset, name)


def test_overwriting_a_fixed_factor_would_leak_the_held_out_combination(scenes):
    """Why the metrics need the conditional sampler: restricting ``sample_factors`` alone is not
    enough, β-VAE's second side would pair room 2 with pair A."""
    recording = WithoutConditionalSampler(scenes)
    represent = lambda images: np.zeros((len(images), 2))  # noqa: E731
    beta_vae_features(recording, represent, 64, rng=np.random.default_rng(0), batch_size=8)
    with pytest.raises(AssertionError, match="A_room2"):
        _check_vectors(recording.domains_rendered(), "β-VAE's pairs")


def test_ood_columns_sit_beside_the_plain_ones():
    from darla.stages.score import score_model
    from darla.vision import build_model

    model = build_model("beta_vae", image_size=SIZE, latent_dim=4, hidden_dim=32)
    kwargs = {"metrics": ["mig", "object_probe"], "fast": True, "progress": False}
    results = score_model(model, SOURCE, SIZE, inference="eager", ood=True, **kwargs)
    assert set(results) == {"mig", "object_probe", "ood/mig"}  # no OOD object probe
    plain = score_model(model, SOURCE, SIZE, inference="eager", metrics=["mig"], fast=True)
    assert plain["mig"] == {**results["mig"], "seconds": plain["mig"]["seconds"]}


@pytest.mark.parametrize(
    ("combinations", "ood", "message"),
    [
        ("every", False, "metrics.combinations must be one of domains, all"),
        ("domains", "yes", "metrics.ood must be true or false"),
        ("all", True, "set metrics.combinations=domains"),
    ],
)
def test_bad_scoring_options_fail_in_one_line(combinations, ood, message):
    from darla.errors import DarlaError
    from darla.stages.score import check_scoring_options

    with pytest.raises(DarlaError, match=message):
        check_scoring_options(combinations, ood)

"""AnnealedVAE, FactorVAE and β-TCVAE: losses, their known pitfalls, errors and smoke runs.

The pitfalls each have a regression test: FactorVAE permuting within a sample instead of across
the batch, β-TCVAE weighting per-dimension pieces before the sum over latents (and the reference
code's MSS weight matrix), and a capacity schedule that a resumed run would not reproduce (exact
resume, save/load and act are tested for every model in test_see_training.py and
test_vision_save_load.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal
from vision_models import SETTINGS, SIZE, shapes_data, smoke_see, tiny_model

from darla.errors import DarlaError
from darla.vision import images_to_tensor, tc_decomposition
from darla.vision.annealed_vae import capacity_at
from darla.vision.factor_vae import permute_dims
from darla.vision.losses import log_importance_weights, reparameterize
from darla.vision.training.trainer import train_vision

MODELS = ["annealed_vae", "beta_tcvae", "factor_vae"]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return shapes_data(64)[0]


# --- every model trains -------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_loss_is_finite_and_decreases_on_a_fixed_batch(name, frames) -> None:
    # a capacity that grows within the 50 steps, and a γ for which lr 1e-3 does not overshoot
    grows = {"gamma": 100.0, "capacity_start": 10, "capacity_end": 40}
    model = tiny_model(name, **(grows if name == "annealed_vae" else {}))
    optimizers = model.make_optimizers(1e-3)
    x = images_to_tensor(frames[:16])
    generator = torch.Generator().manual_seed(0)
    history = []
    for step in range(50):
        model.set_step(step)
        terms = model.loss(x, generator=generator)
        assert all(torch.isfinite(v).all() for v in terms.values()), step
        history.append(terms["loss"].item())
        model.step_optimizers(terms, optimizers)
    assert np.mean(history[-5:]) < 0.7 * history[0], history[::10]


def test_trainer_passes_each_step_to_the_model(frames, tmp_path) -> None:
    model = tiny_model("annealed_vae")
    seen = []
    model.set_step = seen.append
    train_vision(
        model, frames, np.arange(48), np.arange(48, 64), SETTINGS, tmp_path, seed=0,
        progress=False,
    )  # fmt: skip
    assert seen == list(range(SETTINGS.steps))


# --- AnnealedVAE ------------------------------------------------------------------------------


def test_capacity_schedule_follows_the_config() -> None:
    model = tiny_model("annealed_vae", capacity_max=10.0, capacity_start=100, capacity_end=300)
    expected = {0: 0.0, 100: 0.0, 150: 2.5, 200: 5.0, 299: 9.95, 300: 10.0, 10_000: 10.0}
    for step, capacity in expected.items():
        model.set_step(step)
        assert model.capacity == pytest.approx(capacity, abs=1e-12), step
    assert capacity_at(5, 3.0, 5, 5) == 3.0  # start == end: a step up to C_max


def test_annealed_loss_is_gamma_times_distance_of_kl_from_capacity() -> None:
    model = tiny_model("annealed_vae", gamma=7.0)
    model.set_step(3)  # C = 5 * (3 - 1) / (4 - 1)
    x = torch.rand(4, 3, SIZE, SIZE)
    terms = model.loss(x, generator=torch.Generator().manual_seed(0))
    assert terms["capacity"].item() == pytest.approx(10 / 3)
    expected = terms["recon"] + 7.0 * (terms["kl"] - 10 / 3).abs()
    torch.testing.assert_close(terms["loss"], expected)


# --- FactorVAE --------------------------------------------------------------------------------


def test_permute_dims_shuffles_each_dimension_across_the_batch() -> None:
    batch, dims = 64, 6
    z = torch.arange(batch * dims, dtype=torch.float32).reshape(batch, dims)  # z[i, d] = i*D + d
    out = permute_dims(z, torch.Generator().manual_seed(0))
    for d in range(dims):  # each column holds exactly the values of the same column of z
        assert torch.equal(out[:, d].sort().values, z[:, d]), d
    source_row = (out // dims).long()  # the sample each entry came from
    assert not torch.equal(source_row, torch.arange(batch)[:, None].expand(batch, dims))
    # rows are not kept intact (the within-sample bug would keep each row's source constant) ...
    assert (source_row != source_row[:, :1]).any(dim=1).float().mean() > 0.9
    # ... and each dimension has its own permutation
    assert len({tuple(source_row[:, d].tolist()) for d in range(dims)}) == dims


def test_discriminator_finds_the_total_correlation_of_dependent_latents() -> None:
    """With z_1 = z_2, D learns to spot permuted samples and the TC estimate turns positive
    (a swapped label convention would make it negative)."""
    model = tiny_model("factor_vae", discriminator_lr=1e-3)
    g = torch.Generator().manual_seed(0)
    shared = torch.randn(64, 1, generator=g)
    mu = torch.cat([shared, shared, torch.randn(64, 2, generator=g)], dim=1)
    model.encode = lambda x: (mu, torch.full_like(mu, -10.0))
    optimizers = model.make_optimizers(1e-3)
    x = torch.rand(64, 3, SIZE, SIZE)
    for _ in range(150):
        terms = model.loss(x, generator=g)
        model.step_optimizers(terms, optimizers)
    assert terms["discriminator_accuracy"].item() > 0.8
    assert terms["tc"].item() > 0.5


def test_factor_vae_optimizer_leaves_the_discriminator_to_its_own() -> None:
    model = tiny_model("factor_vae")
    optimizers = model.make_optimizers(1e-3)
    vae = {id(p) for group in optimizers["model"].param_groups for p in group["params"]}
    disc = {id(p) for group in optimizers["discriminator"].param_groups for p in group["params"]}
    assert disc == {id(p) for p in model.discriminator.parameters()} and not vae & disc
    assert vae | disc == {id(p) for p in model.parameters()}
    assert optimizers["discriminator"].param_groups[0]["betas"] == (0.5, 0.9)


# --- β-TCVAE ----------------------------------------------------------------------------------


def random_posterior(batch: int = 32, dims: int = 5, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(batch, dims, generator=g, dtype=torch.float64)
    logvar = torch.randn(batch, dims, generator=g, dtype=torch.float64) - 1.0
    z = mu + (0.5 * logvar).exp() * torch.randn(batch, dims, generator=g, dtype=torch.float64)
    return z, mu, logvar


@pytest.mark.parametrize("estimator", ["mss", "mws"])
def test_decomposition_sums_to_the_sampled_kl_exactly(estimator) -> None:
    z, mu, logvar = random_posterior()
    terms = tc_decomposition(z, mu, logvar, dataset_size=1000, estimator=estimator)
    posterior, prior = Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)
    sampled_kl = (posterior.log_prob(z).sum(1) - prior.log_prob(z).sum(1)).mean()
    total = terms["mi"] + terms["tc"] + terms["dim_kl"]
    torch.testing.assert_close(total, sampled_kl, rtol=0, atol=1e-10)


def test_mss_weights_sum_to_one_in_every_row() -> None:
    # rtqichen/beta-tcvae writes the last row's cyclic weight into the row before it
    weights = log_importance_weights(batch_size=7, dataset_size=100, estimator="mss").exp()
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(7, dtype=torch.float64))
    torch.testing.assert_close(weights.diagonal(), torch.full((7,), 0.01, dtype=torch.float64))
    assert weights[6, 0] == weights[0, 1] == pytest.approx((100 - 6) / (100 * 6))


def test_decomposition_matches_the_analytic_terms_of_a_gaussian_toy() -> None:
    """N = 2000 posteriors N(μ_n, 0.2²I) with μ_n ~ N(0, Σ), corr 0.8: q(z) ≈ N(0, Σ + 0.2²I).

    MSS recovers MI, TC and dim-KL within sampling error. MWS's sum is the same but each of its
    terms is off by about log N per density estimated (MI +log N, TC +(D−1)·log N,
    dim-KL −D·log N here, where the posteriors overlap): the bias documented in
    :func:`darla.vision.losses.log_importance_weights`.
    """
    n, dims, rho, sigma = 2000, 2, 0.8, 0.2
    g = torch.Generator().manual_seed(0)
    cov = torch.tensor([[1.0, rho], [rho, 1.0]], dtype=torch.float64)
    mu = torch.randn(n, dims, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
    logvar = torch.full_like(mu, math.log(sigma**2))
    z = mu + sigma * torch.randn(n, dims, generator=g, dtype=torch.float64)
    total = cov + sigma**2 * torch.eye(dims, dtype=torch.float64)
    var = total.diagonal()
    expected = {
        "mi": 0.5 * (torch.logdet(total) - dims * math.log(sigma**2)).item(),
        "tc": 0.5 * (var.log().sum() - torch.logdet(total)).item(),
        "dim_kl": 0.5 * (var - 1 - var.log()).sum().item(),
    }
    analytic_kl = (0.5 * (mu**2 + logvar.exp() - 1 - logvar)).sum(1).mean().item()

    mss = tc_decomposition(z, mu, logvar, n, "mss")
    for name, value in expected.items():
        assert mss[name].item() == pytest.approx(value, abs=0.05), name
    assert sum(mss.values()).item() == pytest.approx(analytic_kl, abs=0.05)

    mws = tc_decomposition(z, mu, logvar, n, "mws")
    assert sum(mws.values()).item() == pytest.approx(sum(mss.values()).item(), abs=1e-9)
    offsets = {"mi": math.log(n), "tc": (dims - 1) * math.log(n), "dim_kl": -dims * math.log(n)}
    for name, offset in offsets.items():
        assert mws[name].item() == pytest.approx(expected[name] + offset, abs=0.1), name


def test_collapsed_posteriors_give_zero_terms_with_mss_and_log_n_offsets_with_mws() -> None:
    z = torch.randn(100, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    zeros = torch.zeros_like(z)
    mss = tc_decomposition(z, zeros, zeros, 5000, "mss")
    mws = tc_decomposition(z, zeros, zeros, 5000, "mws")
    log_n = math.log(5000)
    for name, offset in {"mi": log_n, "tc": 2 * log_n, "dim_kl": -3 * log_n}.items():
        assert mss[name].item() == pytest.approx(0.0, abs=1e-9), name
        assert mws[name].item() == pytest.approx(offset, abs=1e-9), name


def _tcvae_terms(**weights):
    model = tiny_model("beta_tcvae", **weights).double()
    x = torch.rand(16, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1)).double()
    return model, x, model.loss(x, generator=torch.Generator().manual_seed(0))


def test_tcvae_with_unit_weights_is_the_plain_elbo_estimate() -> None:
    model, x, terms = _tcvae_terms(alpha=1.0, beta=1.0, gamma=1.0)
    mu, logvar = model.encode(x)
    z = reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    recon = model.reconstruction_loss(x, model.decode_raw(z))
    sampled_kl = Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(1) - Normal(0, 1).log_prob(z).sum(
        1
    )
    torch.testing.assert_close(terms["loss"], recon + sampled_kl.mean(), rtol=1e-12, atol=1e-9)


def test_tcvae_weights_apply_to_whole_terms_after_the_sum_over_latents() -> None:
    _, _, base = _tcvae_terms(alpha=1.0, beta=1.0, gamma=1.0)
    _, _, beta2 = _tcvae_terms(alpha=1.0, beta=2.0, gamma=1.0)
    _, _, heavy = _tcvae_terms(alpha=3.0, beta=1.0, gamma=0.5)
    torch.testing.assert_close(beta2["loss"] - base["loss"], base["tc"], rtol=0, atol=1e-9)
    expected = base["loss"] + 2.0 * base["mi"] - 0.5 * base["dim_kl"]
    torch.testing.assert_close(heavy["loss"], expected, rtol=0, atol=1e-9)


def test_tcvae_without_a_dataset_size_says_what_to_pass() -> None:
    model = tiny_model("beta_tcvae", dataset_size=None)
    with pytest.raises(DarlaError, match="needs dataset_size"):
        model.loss(torch.rand(2, 3, SIZE, SIZE))


# --- errors (bad options, for every model: test_vision_options.py) ----------------------------


def test_mss_needs_a_dataset_at_least_as_large_as_the_batch() -> None:
    with pytest.raises(DarlaError, match="dataset_size 4 is smaller than the batch"):
        log_importance_weights(batch_size=8, dataset_size=4, estimator="mss")


# --- the rest of the pipeline -----------------------------------------------------------------


def test_factor_vae_saves_its_discriminator_but_never_encodes_with_it(frames) -> None:
    model = tiny_model("factor_vae")
    assert any(k.startswith("discriminator.") for k in model.tensors_to_save())
    codes = model.latent_mean(frames)
    with torch.no_grad():
        for p in model.discriminator.parameters():
            p.fill_(float("nan"))
    assert np.array_equal(model.latent_mean(frames), codes)


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_smoke_see_trains_scores_and_saves_each_model(name, smoke_runs) -> None:
    from darla.stages.score import score_run

    # one metric: the metrics are the same code for every model, and the smoke preset's full
    # list is scored by the CLI test's DARLA run and the act smoke's β-VAE
    smoke = smoke_see(smoke_runs, name, "metrics.names=[mig]")
    cfg, run, summary, model = smoke.cfg, smoke.run, smoke.summary, smoke.model
    for artifact in ("metrics.json", "recon.png", "traversals.png"):
        assert (run / artifact).is_file(), artifact
    if name == "beta_tcvae":  # N from the data: the training frames (not the held-out episodes)
        assert 0 < model.config["dataset_size"] < cfg.data.num_frames
        assert {"mi", "tc", "dim_kl"} <= set(summary)
    if name == "factor_vae":
        assert {"tc", "discriminator_loss", "discriminator_accuracy"} <= set(summary)
    if name == "annealed_vae":
        assert "capacity" in summary
    scored = score_run(run, metrics=["mig"], fast=True, progress=False)  # `darla metrics RUN`
    assert scored == run / "metrics.json"

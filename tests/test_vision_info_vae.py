"""InfoVAE: the MMD estimator on hand-computed cases, its expectation under the null, the paper's
α/λ weighting of the loss, the noise drawn from the trainer's generator, one-line option errors,
and a short fit (exact resume, save/load and act run for every model in test_see_training.py and
test_vision_save_load.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from vision_models import SIZE, shapes_data, tiny_model

from darla.config import compose, to_plain
from darla.errors import DarlaError
from darla.stages.see import strength_setting
from darla.vision import InfoVAE, build_model, images_to_tensor, reparameterize
from darla.vision.info_vae import kernel_matrix, mmd

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- the MMD estimator --------------------------------------------------------------------------


def test_mmd_matches_a_hand_computed_case_with_the_diagonal_left_out() -> None:
    """x = {0, 1}, y = {3, 4} in 1-D: the default scale is C = 2·D·σ² = 2.

    IMQ k = 2 / (2 + d²): within x d² = 1 -> 2/3, within y likewise; across, d² = 9, 16, 4, 9 ->
    2/11, 1/9, 1/3, 2/11 with mean 20/99. MMD² = 2/3 + 2/3 − 2·20/99 = 92/99. Keeping the
    diagonal (k = 1 each, the biased V-statistic) would give (1 + 2/3)/2·2 − 40/99 = 125/99.
    """
    x = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    y = torch.tensor([[3.0], [4.0]], dtype=torch.float64)
    assert mmd(x, y, "imq").item() == pytest.approx(92 / 99, abs=1e-12)
    assert mmd(y, x, "imq").item() == pytest.approx(92 / 99, abs=1e-12)
    # RBF k = exp(−d² / 2)
    e = math.exp
    rbf = 2 * e(-0.5) - 2 * (2 * e(-4.5) + e(-8.0) + e(-2.0)) / 4
    assert mmd(x, y, "rbf").item() == pytest.approx(rbf, abs=1e-12)


def test_three_points_and_the_scale_follows_the_latent_size() -> None:
    """x = {0, 1, 2} vs y = {0, 0} in 1-D, IMQ at C = 2.

    within x: d² = 1, 4, 1 (each pair twice) -> mean of 2/3, 1/3, 2/3 = 5/9; within y: d² = 0 -> 1;
    across: d² = 0, 0, 1, 1, 4, 4 -> mean of 1, 2/3, 1/3 = 2/3. MMD² = 5/9 + 1 − 4/3 = 2/9.
    """
    x = torch.tensor([[0.0], [1.0], [2.0]], dtype=torch.float64)
    y = torch.zeros(2, 1, dtype=torch.float64)
    assert mmd(x, y).item() == pytest.approx(2 / 9, abs=1e-12)
    # in D = 3 the default C is 6, not 2
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 3, generator=g), torch.randn(6, 3, generator=g) + 1
    assert mmd(a, b).item() == pytest.approx(mmd(a, b, scale=6.0).item(), abs=1e-7)
    assert mmd(a, b).item() != pytest.approx(mmd(a, b, scale=2.0).item(), abs=1e-3)
    k = kernel_matrix(a, b, "imq", 6.0)
    assert k[1, 2].item() == pytest.approx(6 / (6 + (a[1] - b[2]).pow(2).sum().item()), rel=1e-6)


def test_mmd_is_zero_in_expectation_for_the_prior_and_positive_for_a_shift() -> None:
    g = torch.Generator().manual_seed(0)

    def estimates(n: int, shift: float, kernel: str) -> torch.Tensor:
        pairs = [
            (torch.randn(32, 4, generator=g) + shift, torch.randn(32, 4, generator=g))
            for _ in range(n)
        ]
        return torch.stack([mmd(q, p, kernel) for q, p in pairs])

    for kernel in ("imq", "rbf"):
        same, shifted = estimates(200, 0.0, kernel), estimates(50, 1.0, kernel)
        sem = same.std() / math.sqrt(len(same))
        # unbiased: the mean sits within sampling error of 0 and single estimates go negative
        # (the V-statistic's bias here, ~2/32 of E[1 − k], is over 30 standard errors)
        assert abs(same.mean()) < 4 * sem, (kernel, same.mean(), sem)
        assert (same < 0).any(), kernel
        # a unit shift in every latent: every estimate above every null one, by far on average
        assert shifted.min() > same.max() and shifted.mean() > 10 * same.std(), kernel


def test_mmd_needs_two_samples_a_side() -> None:
    with pytest.raises(DarlaError, match="at least 2 samples") as info:
        mmd(torch.zeros(1, 3), torch.zeros(1, 3))
    assert "\n" not in str(info.value) and "train.batch_size" in str(info.value)


# --- the loss ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def batch() -> torch.Tensor:
    return images_to_tensor(shapes_data(16)[0])


def test_loss_terms_are_present_and_finite(batch) -> None:
    terms = tiny_model("info_vae").loss(batch, generator=torch.Generator().manual_seed(0))
    assert set(terms) == {"loss", "recon", "kl", "mmd", "kl_per_dim"}
    assert all(torch.isfinite(v).all() for v in terms.values())
    assert terms["kl_per_dim"].shape == (4,)
    assert terms["kl"].item() == pytest.approx(terms["kl_per_dim"].sum().item(), rel=1e-6)


@pytest.mark.parametrize(
    ("alpha", "lambda_", "kl_weight", "mmd_weight"),
    [
        (1.0, 7.0, 0.0, 7.0),  # the MMD-VAE: no KL, λ on the MMD
        (0.0, 1.0, 1.0, 0.0),  # the plain VAE
        (0.25, 3.0, 0.75, 2.25),
        (0.0, 100.0, 1.0, 99.0),
        (0.5, 0.5, 0.5, 0.0),  # α + λ − 1 = 0, the paper's boundary
    ],
)
def test_alpha_and_lambda_weigh_the_terms_as_the_paper_writes(
    batch, alpha, lambda_, kl_weight, mmd_weight
) -> None:
    model = tiny_model("info_vae", alpha=alpha, lambda_=lambda_)
    assert (model.kl_weight, model.mmd_weight) == pytest.approx((kl_weight, mmd_weight))
    terms = model.loss(batch, generator=torch.Generator().manual_seed(1))
    assert terms["kl"].item() > 0 and abs(terms["mmd"].item()) > 0
    expected = terms["recon"] + kl_weight * terms["kl"] + mmd_weight * terms["mmd"]
    torch.testing.assert_close(terms["loss"], expected)


def test_alpha_0_lambda_1_is_the_plain_vae(batch) -> None:
    info = tiny_model("info_vae", alpha=0.0, lambda_=1.0).loss(
        batch, torch.Generator().manual_seed(2)
    )
    vae = tiny_model("vae").loss(batch, torch.Generator().manual_seed(2))  # same weights, seed 0
    torch.testing.assert_close(info["loss"], vae["loss"], rtol=0, atol=0)
    torch.testing.assert_close(info["kl"], vae["kl"], rtol=0, atol=0)


def test_codes_and_prior_samples_come_from_the_generator(batch) -> None:
    """z first, then as many prior samples, both from ``generator`` (so a resumed run repeats
    them): the MMD is that of exactly these draws."""
    model = tiny_model("info_vae")
    terms = model.loss(batch, generator=torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    mu, logvar = model.encode(batch)
    z = reparameterize(mu, logvar, g)
    prior = torch.randn(z.shape, generator=g)
    torch.testing.assert_close(terms["mmd"], mmd(z, prior, "imq"), rtol=0, atol=0)
    again = model.loss(batch, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(again["loss"], terms["loss"], rtol=0, atol=0)
    other = model.loss(batch, generator=torch.Generator().manual_seed(6))
    assert other["mmd"].item() != terms["mmd"].item()


def test_the_rbf_kernel_is_used_when_chosen(batch) -> None:
    model = tiny_model("info_vae", kernel="rbf")
    terms = model.loss(batch, generator=torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    z = reparameterize(*model.encode(batch), g)
    prior = torch.randn(z.shape, generator=g)
    torch.testing.assert_close(terms["mmd"], mmd(z, prior, "rbf"), rtol=0, atol=0)
    assert terms["mmd"].item() != pytest.approx(mmd(z, prior, "imq").item(), abs=1e-6)


def test_a_short_fit_on_a_fixed_batch_lowers_the_loss(batch) -> None:
    model = tiny_model("info_vae", lambda_=100.0)
    optimizers = model.make_optimizers(1e-3)
    generator = torch.Generator().manual_seed(0)
    history = []
    for step in range(50):
        terms = model.loss(batch, generator=generator)
        assert all(torch.isfinite(v).all() for v in terms.values()), step
        history.append(terms["loss"].item())
        model.step_optimizers(terms, optimizers)
    assert np.mean(history[-5:]) < 0.7 * history[0], history[::10]


# --- options -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"lambda_": -1.0}, r"lambda_ must be a number > 0, got -1.0: use e.g. 1000"),
        ({"lambda_": 0}, r"lambda_ must be a number > 0, got 0: use"),
        ({"lambda_": float("nan")}, r"lambda_ must be a number > 0"),
        ({"lambda_": "big"}, r"lambda_ must be a number > 0, got 'big'"),
        ({"alpha": -0.1}, r"alpha must be a number in \[0, 1\], got -0.1: use 1"),
        ({"alpha": 1.5}, r"alpha must be a number in \[0, 1\], got 1.5: use 1"),
        ({"alpha": True}, r"alpha must be a number in \[0, 1\]"),
        ({"alpha": 0.0, "lambda_": 0.5}, r"alpha \+ lambda_ - 1 = -0.5 .*raise lambda_ to at least 1"),
        ({"kernel": "laplace"}, r"unknown kernel 'laplace': use imq .* or rbf"),
        ({"beta": 4.0}, r"info_vae has no beta: .*use vision.model.lambda_=\.\.\."),
        ({"lambda": 5.0}, r"spelled lambda_ .*vision.model.lambda_"),
        ({"latent_dim": 0}, r"latent_dim must be a positive integer"),
    ],
)  # fmt: skip
def test_bad_options_are_one_line_errors_that_name_the_fix(config, match) -> None:
    with pytest.raises(DarlaError, match=match) as info:
        build_model("info_vae", image_size=SIZE, **config)
    assert "\n" not in str(info.value)


def test_config_file_defaults_and_grid(tmp_path) -> None:
    cfg = to_plain(compose("see", [f"runs_root={tmp_path}", "vision=info_vae"]))
    vision = cfg["vision"]
    model = build_model("info_vae", image_size=SIZE, **vision["model"])
    assert isinstance(model, InfoVAE)
    # the file and the class agree on the MMD-VAE defaults
    assert {k: model.config[k] for k in ("alpha", "lambda_", "kernel")} == {
        "alpha": 1.0,
        "lambda_": 1000.0,
        "kernel": "imq",
    }
    defaults = InfoVAE(image_size=SIZE).config
    assert (defaults["alpha"], defaults["lambda_"], defaults["kernel"]) == (1.0, 1000.0, "imq")
    assert [strength_setting(vision, k) for k in range(6)] == [
        ("lambda_", v) for v in (1.0, 10.0, 100.0, 500.0, 1000.0, 5000.0)
    ]
    assert "beta" not in model.config and model.config["name"] == "info_vae"

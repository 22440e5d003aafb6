"""InfoGAN and the SimCLR-style contrastive encoder: losses, augmentations, errors, smoke runs.

NT-Xent is checked against values worked out by hand; the augmentations against what they
promise (same views for the same seed, a shift that is exactly a whole-pixel translation, no
flip unless asked); InfoGAN's two optimizers each against the gradient of its own loss only.
Save/load and act (test_vision_save_load.py) and exact resume (test_see_training.py) are tested
for every model in one place.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from vision_models import SIZE, shapes_data, smoke_see, tiny_model

from darla.errors import DarlaError
from darla.vision import Augmentations, augment, build_model, images_to_tensor, nt_xent

MODELS = ["contrastive", "infogan"]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return shapes_data(64)[0]


def _fit(model, x, steps: int, lr: float = 1e-3, seed: int = 0) -> list[dict[str, float]]:
    optimizers = model.make_optimizers(lr)
    generator = torch.Generator().manual_seed(seed)
    history = []
    for step in range(steps):
        terms = model.loss(x, generator=generator)
        assert all(torch.isfinite(v).all() for v in terms.values()), (step, terms)
        history.append({k: v.item() for k, v in terms.items()})
        model.step_optimizers(terms, optimizers)
    return history


# --- training on a fixed batch ------------------------------------------------------------------


def test_infogan_info_loss_decreases_while_the_gan_terms_stay_finite(frames) -> None:
    history = _fit(tiny_model("infogan"), images_to_tensor(frames[:16]), steps=80)
    info = [
        h["info_loss"] for h in history
    ]  # Q's bound on I(c; G(z, c)); the GAN terms need not fall
    assert np.mean(info[-10:]) < 0.8 * np.mean(info[:5]), info[::10]
    for h in history:
        assert 0.0 < h["d_real"] < 1.0 and 0.0 < h["d_fake"] < 1.0


def test_contrastive_loss_decreases_on_a_fixed_batch(frames) -> None:
    history = _fit(tiny_model("contrastive"), images_to_tensor(frames[:16]), steps=80)
    loss = [h["loss"] for h in history]
    assert loss[0] == pytest.approx(math.log(31), abs=0.05)  # untrained: all 31 others alike
    assert np.mean(loss[-10:]) < 0.85 * loss[0], loss[::10]
    assert np.mean([h["accuracy"] for h in history[-10:]]) > 1 / 31


# --- NT-Xent ----------------------------------------------------------------------------------


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_nt_xent_of_identical_views_of_orthogonal_samples(temperature) -> None:
    """Each view: positive at cosine 1, the 2B − 2 negatives at cosine 0, so
    ℓ = −log(e^{1/τ} / (e^{1/τ} + 2B − 2)) = log(1 + (2B − 2)·e^{−1/τ}) for every view."""
    batch = 3
    z = torch.eye(batch, 5, dtype=torch.float64) * torch.tensor([[2.0], [0.5], [7.0]]).double()
    expected = math.log(1 + (2 * batch - 2) * math.exp(-1 / temperature))
    loss = nt_xent(z, z.clone(), temperature)
    assert loss.item() == pytest.approx(expected, rel=1e-12)


def test_nt_xent_equals_a_hand_computed_example() -> None:
    """B = 2, views a1 = (1, 0), b1 = (0, 1), a2 = (1, 1)/√2, b2 = (1, −1)/√2, τ = 0.5.

    Cosines: a1·b1 = 0, a1·a2 = a1·b2 = b1·a2 = 1/√2, b1·b2 = −1/√2, a2·b2 = 0. Pairs (a1, a2)
    and (b1, b2); each view's denominator runs over the three other views.
    """
    tau, r = 0.5, 1 / math.sqrt(2)
    e = lambda s: math.exp(s / tau)  # noqa: E731
    views = {
        "a1": (r, [0.0, r, r]),  # (positive, [cosines to the three others])
        "b1": (-r, [0.0, r, -r]),
        "a2": (r, [r, r, 0.0]),
        "b2": (-r, [r, -r, 0.0]),
    }
    expected = np.mean(
        [-math.log(e(pos) / sum(e(s) for s in others)) for pos, others in views.values()]
    )
    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    z2 = torch.tensor([[3.0, 3.0], [1.0, -1.0]], dtype=torch.float64)  # norms do not matter
    assert nt_xent(z1, z2, tau).item() == pytest.approx(expected, rel=1e-12)
    assert nt_xent(z2, z1, tau).item() == pytest.approx(expected, rel=1e-12)  # symmetric


# --- augmentations ----------------------------------------------------------------------------


def test_augmentations_are_deterministic_under_a_seed_and_keep_shape_and_range(frames) -> None:
    x = images_to_tensor(frames[:8])
    spec = Augmentations(horizontal_flip=True)
    a = augment(x, spec, torch.Generator().manual_seed(3))
    b = augment(x, spec, torch.Generator().manual_seed(3))
    c = augment(x, spec, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.manual_seed(5)  # the trainer's per-step seed drives the global RNG the same way
    d = augment(x, spec)
    torch.manual_seed(5)
    assert torch.equal(d, augment(x, spec))
    for out in (a, c, d):
        assert out.shape == x.shape and out.dtype == x.dtype
        assert out.min() >= 0.0 and out.max() <= 1.0
    assert (a - x).abs().amax(dim=(1, 2, 3)).min() > 0  # every image changed


def test_augmentations_switched_off_leave_images_unchanged(frames) -> None:
    x = images_to_tensor(frames[:8])
    spec = Augmentations(crop_scale=(1.0, 1.0), shift_pad=0, jitter=0.0)
    torch.testing.assert_close(augment(x, spec, torch.Generator().manual_seed(0)), x)


@pytest.mark.parametrize("ratio", [1.0, 2.0])
def test_random_resized_crop_covers_the_requested_area(ratio) -> None:
    """On linear ramps (x across, y down) a crop of width w and height h (as fractions) shows
    ramps spanning w and h: bilinear resampling of a linear function is exact."""
    ramp = torch.linspace(0, 1, SIZE)
    x = torch.stack(
        [ramp.expand(SIZE, SIZE), ramp[:, None].expand(SIZE, SIZE), ramp.expand(SIZE, SIZE)]
    )
    x = x.expand(8, 3, SIZE, SIZE).contiguous()
    spec = Augmentations(crop_scale=(0.25, 0.25), crop_ratio=(ratio, ratio), shift_pad=0, jitter=0)
    out = augment(x, spec, torch.Generator().manual_seed(0))
    width = out[:, 0, :, -1] - out[:, 0, :, 0]
    height = out[:, 1, -1, :] - out[:, 1, 0, :]
    torch.testing.assert_close(width, torch.full_like(width, math.sqrt(0.25 * ratio)))
    torch.testing.assert_close(height, torch.full_like(height, math.sqrt(0.25 / ratio)))
    assert out[:, 0, 0, 0].unique().numel() > 1  # placed at random


def test_shift_is_a_whole_pixel_translation_with_the_border_repeated(frames) -> None:
    x = images_to_tensor(frames[:16])
    pad = 2
    spec = Augmentations(crop_scale=(1.0, 1.0), shift_pad=pad, jitter=0.0)
    out = augment(x, spec, torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(x, (pad,) * 4, mode="replicate")
    shifts = [(dy, dx) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)]
    found = set()
    for i in range(len(x)):
        matches = [
            s
            for s in shifts
            if torch.allclose(
                out[i], padded[i, :, s[0] : s[0] + SIZE, s[1] : s[1] + SIZE], atol=1e-5
            )
        ]
        assert matches, i
        found.add(matches[0])
    assert len(found) > 1  # the images were not all shifted alike


def test_flip_only_when_asked(frames) -> None:
    x = images_to_tensor(frames[:16])
    geometry_off = {"crop_scale": (1.0, 1.0), "shift_pad": 0, "jitter": 0.0}
    flipped = augment(x, Augmentations(horizontal_flip=True, **geometry_off), torch.Generator())
    is_flipped = [torch.allclose(f, i.flip(-1), atol=1e-5) for f, i in zip(flipped, x, strict=True)]
    is_same = [torch.allclose(f, i, atol=1e-5) for f, i in zip(flipped, x, strict=True)]
    assert all(a or b for a, b in zip(is_flipped, is_same, strict=True))
    assert any(is_flipped) and any(is_same)
    # left/right matters to agents
    assert not tiny_model("contrastive").augmentations.horizontal_flip


def test_the_two_views_of_a_frame_differ(frames) -> None:
    model = tiny_model("contrastive")
    x = images_to_tensor(frames[:4])
    v1, v2 = model.views(x, torch.Generator().manual_seed(0))
    assert not torch.equal(v1, v2)


# --- the interface: codes, decoders, optimizers ----------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_latent_mean_shape_and_dtype(name, frames) -> None:
    model = tiny_model(name)
    mu = model.latent_mean(frames[:10], batch_size=4)
    assert mu.shape == (10, model.latent_dim) and mu.dtype == np.float32
    assert np.isfinite(mu).all()


def test_infogan_code_layout_is_continuous_means_then_category_probabilities(frames) -> None:
    model = tiny_model("infogan", continuous_dim=2, categorical_dims=[3, 4])
    assert model.latent_dim == 2 + 3 + 4
    mu = model.latent_mean(frames[:8])
    np.testing.assert_allclose(mu[:, 2:5].sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(mu[:, 5:].sum(axis=1), 1.0, rtol=1e-5)
    assert (mu[:, 2:] >= 0).all()
    model.eval()
    x = images_to_tensor(frames[:8])
    with torch.no_grad():
        mean, logvar = model.encode(x)
        q_mean, q_logvar, _ = model.q_outputs(model.trunk(x))
        assert torch.equal(mean[:, :2], q_mean) and torch.equal(logvar[:, :2], q_logvar)
        assert torch.isfinite(logvar).all() and logvar.abs().max() <= 14  # log p(1-p) >= log 1e-6
        # decode is G at the noise's mean; reconstruct is G(Q(x))
        noise = torch.zeros(8, model.config["noise_dim"])
        torch.testing.assert_close(model.decode(mean), model.generate(mean, noise))
        torch.testing.assert_close(model.reconstruct(x), model.decode(mean))
        assert model.decode(mean).shape == x.shape


def test_contrastive_is_not_generative_and_says_so_in_one_line(frames) -> None:
    model = tiny_model("contrastive")
    assert model.generative is False and tiny_model("infogan").generative is True
    assert build_model("beta_vae", image_size=SIZE).generative is True  # the default
    x = images_to_tensor(frames[:2])
    for call in (lambda: model.decode(torch.zeros(2, 4)), lambda: model.reconstruct(x)):
        with pytest.raises(DarlaError, match="contrastive has no decoder") as error:
            call()
        assert "\n" not in str(error.value)
    h, logvar = model.encode(x)
    assert logvar is None and h.shape == (2, 4)


def test_infogan_optimizers_split_generator_and_q_from_the_discriminator() -> None:
    model = tiny_model("infogan", discriminator_lr=5e-4)
    optimizers = model.make_optimizers(1e-3)
    ids = {
        name: {id(p) for group in opt.param_groups for p in group["params"]}
        for name, opt in optimizers.items()
    }
    generator_and_q = {id(p) for m in (model.generator, model.q_head) for p in m.parameters()}
    assert ids["model"] == generator_and_q and not ids["model"] & ids["discriminator"]
    assert ids["model"] | ids["discriminator"] == {id(p) for p in model.parameters()}
    for name, lr in (("model", 1e-3), ("discriminator", 5e-4)):
        assert optimizers[name].param_groups[0]["lr"] == lr
        assert optimizers[name].param_groups[0]["betas"] == (0.5, 0.999)


def test_infogan_each_optimizer_steps_on_its_own_loss_only(frames) -> None:
    """Adam's first step moves each weight by −lr·sign(gradient): compare with the gradient of
    ``loss`` for G and Q and of ``discriminator_loss`` for D (each alone, not their sum)."""
    model = tiny_model("infogan")
    optimizers = model.make_optimizers(1e-3)
    terms = model.loss(images_to_tensor(frames[:8]), generator=torch.Generator().manual_seed(0))
    expected = {}
    for name, params in (
        ("loss", model.generator_parameters()),
        ("discriminator_loss", model.discriminator_parameters()),
    ):
        grads = torch.autograd.grad(terms[name], params, retain_graph=True)
        expected[name] = [(p, p.detach().clone(), g) for p, g in zip(params, grads, strict=True)]
    model.step_optimizers(terms, optimizers)
    for name, rate in (("loss", 1e-3), ("discriminator_loss", model.config["discriminator_lr"])):
        for param, before, grad in expected[name]:
            moved = grad.abs() > 1e-6  # below that, Adam's eps makes the step smaller
            step = (param.detach() - before)[moved]
            torch.testing.assert_close(step, -rate * grad.sign()[moved], rtol=1e-2, atol=1e-7)


def test_infogan_refuses_a_diverged_discriminator() -> None:
    model = tiny_model("infogan")
    terms = model.loss(torch.rand(4, 3, SIZE, SIZE))
    terms["discriminator_loss"] = terms["discriminator_loss"] * float("nan")
    with pytest.raises(DarlaError, match="discriminator loss became nan"):
        model.step_optimizers(terms, model.make_optimizers(1e-3))


# --- errors (bad options, for every model: test_vision_options.py) ----------------------------


@pytest.mark.parametrize("name", MODELS)
def test_a_training_batch_of_one_frame_is_refused_in_one_line(name) -> None:
    model = tiny_model(name)
    with pytest.raises(DarlaError, match="at least 2 frames per training batch") as error:
        model.loss(torch.rand(1, 3, SIZE, SIZE))
    assert "\n" not in str(error.value)
    model.eval()  # a last, short validation batch is fine
    assert torch.isfinite(model.loss(torch.rand(1, 3, SIZE, SIZE))["loss"])


# --- the rest of the pipeline -----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_smoke_see_trains_scores_and_saves_each_model(name, smoke_runs) -> None:
    from darla.stages.score import score_run

    # Scored once, by `darla metrics RUN` below: the metrics are the same code for every model.
    smoke = smoke_see(smoke_runs, name, "metrics.enabled=false")
    run, summary = smoke.run, smoke.summary
    for grid in ("recon.png", "traversals.png"):  # a model without a decoder has no grids
        assert (run / grid).is_file() == (name == "infogan"), grid
    if name == "infogan":
        assert {"discriminator_loss", "info_loss", "generator_loss", "d_real"} <= set(summary)
    else:
        assert {"accuracy", "positive_similarity"} <= set(summary)
    scored = score_run(run, metrics=["mig"], fast=True, progress=False)  # `darla metrics RUN`
    assert scored == run / "metrics.json" and scored.is_file()

"""InfoGAN and the SimCLR-style contrastive encoder: losses, augmentations, save/load, resume.

NT-Xent is checked against values worked out by hand; the augmentations against what they
promise (same views for the same seed, a shift that is exactly a whole-pixel translation, no
flip unless asked); InfoGAN's two optimizers each against the gradient of its own loss only.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import envs
from darla.cli import main
from darla.errors import DarlaError
from darla.stages.vision_trainer import TrainSettings, latest_checkpoint, train_vision
from darla.vision import (
    Augmentations,
    augment,
    build_model,
    images_to_tensor,
    load_model,
    nt_xent,
    save_model,
)

SIZE = 32
MODELS = {
    "infogan": {
        "noise_dim": 8,
        "continuous_dim": 3,
        "categorical_dims": [4],
        "hidden_dim": 32,
        "lambda_cont": 1.0,
    },
    "contrastive": {
        "latent_dim": 4,
        "hidden_dim": 32,
        "projection_dim": 8,
        "projection_hidden_dim": 16,
    },
}
SETTINGS = TrainSettings(
    steps=6, batch_size=8, lr=1e-3, checkpoint_every=3, log_every=2, image_every=3, val_batches=1
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make(name: str, seed: int = 0, **overrides):
    torch.manual_seed(seed)
    return build_model(name, image_size=SIZE, **{**MODELS[name], **overrides})


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    data = envs.Shapes2D(image_size=SIZE)
    return data.render(data.sample_factors(64, np.random.default_rng(0)))


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
    history = _fit(make("infogan"), images_to_tensor(frames[:16]), steps=80)
    info = [
        h["info_loss"] for h in history
    ]  # Q's bound on I(c; G(z, c)); the GAN terms need not fall
    assert np.mean(info[-10:]) < 0.8 * np.mean(info[:5]), info[::10]
    for h in history:
        assert 0.0 < h["d_real"] < 1.0 and 0.0 < h["d_fake"] < 1.0


def test_contrastive_loss_decreases_on_a_fixed_batch(frames) -> None:
    history = _fit(make("contrastive"), images_to_tensor(frames[:16]), steps=80)
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
    assert not make("contrastive").augmentations.horizontal_flip  # left/right matters to agents


def test_the_two_views_of_a_frame_differ(frames) -> None:
    model = make("contrastive")
    x = images_to_tensor(frames[:4])
    v1, v2 = model.views(x, torch.Generator().manual_seed(0))
    assert not torch.equal(v1, v2)


# --- the interface: codes, decoders, optimizers ----------------------------------------------------


@pytest.mark.parametrize("name", sorted(MODELS))
def test_latent_mean_shape_and_dtype(name, frames) -> None:
    model = make(name)
    mu = model.latent_mean(frames[:10], batch_size=4)
    assert mu.shape == (10, model.latent_dim) and mu.dtype == np.float32
    assert np.isfinite(mu).all()


def test_infogan_code_layout_is_continuous_means_then_category_probabilities(frames) -> None:
    model = make("infogan", continuous_dim=2, categorical_dims=[3, 4])
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
    model = make("contrastive")
    assert model.generative is False and make("infogan").generative is True
    assert build_model("beta_vae", image_size=SIZE).generative is True  # the default
    x = images_to_tensor(frames[:2])
    for call in (lambda: model.decode(torch.zeros(2, 4)), lambda: model.reconstruct(x)):
        with pytest.raises(DarlaError, match="contrastive has no decoder") as error:
            call()
        assert "\n" not in str(error.value)
    h, logvar = model.encode(x)
    assert logvar is None and h.shape == (2, 4)


def test_infogan_optimizers_split_generator_and_q_from_the_discriminator() -> None:
    model = make("infogan", discriminator_lr=5e-4)
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
    model = make("infogan")
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
    model = make("infogan")
    terms = model.loss(torch.rand(4, 3, SIZE, SIZE))
    terms["discriminator_loss"] = terms["discriminator_loss"] * float("nan")
    with pytest.raises(DarlaError, match="discriminator loss became nan"):
        model.step_optimizers(terms, model.make_optimizers(1e-3))


# --- configuration errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("contrastive", {"temperature": 0.0}, "temperature must be a number > 0"),
        ("contrastive", {"temperature": -0.5}, "temperature must be a number > 0"),
        ("contrastive", {"temperature": float("nan")}, "temperature must be a number > 0"),
        ("contrastive", {"crop_scale": [0.9, 0.5]}, "crop_scale must satisfy"),
        ("contrastive", {"crop_scale": [0.5]}, "crop_scale must be two numbers"),
        ("contrastive", {"shift_pad": -1}, "shift_pad must be an integer >= 0"),
        ("contrastive", {"jitter": 1.5}, "jitter must be in"),
        ("contrastive", {"projection_dim": 0}, "projection_dim must be a positive integer"),
        ("contrastive", {"beta": 4.0}, "contrastive has no beta"),
        ("infogan", {"lambda_cat": -1.0}, "lambda_cat must be a number >= 0"),
        ("infogan", {"lambda_cont": float("nan")}, "lambda_cont must be a number >= 0"),
        ("infogan", {"continuous_dim": 0, "categorical_dims": []}, "needs at least one code"),
        ("infogan", {"continuous_dim": -1}, "continuous_dim must be an integer >= 0"),
        ("infogan", {"categorical_dims": [1]}, "categorical_dims must be category counts >= 2"),
        ("infogan", {"noise_dim": 0}, "noise_dim must be a positive integer"),
        ("infogan", {"real_label": 0.3}, "real_label must be in"),
        ("infogan", {"discriminator_lr": 0.0}, "discriminator_lr must be a positive number"),
        ("infogan", {"betas": [0.5]}, "betas must be two numbers"),
        ("infogan", {"beta": 4.0}, "infogan has no beta"),
        ("infogan", {"latent_dim": 8}, "infogan has no latent_dim"),
    ],
)
def test_bad_values_fail_at_build_time_in_one_line(name, options, message) -> None:
    with pytest.raises(DarlaError, match=message) as error:
        make(name, **options)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["vision=contrastive", "vision.model.temperature=0"], "temperature must be a number > 0"),
        (["vision=contrastive", "beta=4"], "contrastive has no beta"),
        (
            ["vision=infogan", "vision.model.continuous_dim=0", "vision.model.categorical_dims=[]"],
            "needs at least one code",
        ),
        (["vision=infogan", "vision.model.lambda_cat=-1"], "lambda_cat must be a number >= 0"),
    ],
)
def test_darla_see_rejects_bad_values_in_one_line(overrides, message, tmp_path, capsys) -> None:
    code = main(["see", f"runs_root={tmp_path}", *overrides])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("darla: error:") and "\n" not in err
    assert message in err
    assert not (tmp_path / "see").exists()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_training_batch_of_one_frame_is_refused_in_one_line(name) -> None:
    model = make(name)
    with pytest.raises(DarlaError, match="at least 2 frames per training batch") as error:
        model.loss(torch.rand(1, 3, SIZE, SIZE))
    assert "\n" not in str(error.value)
    model.eval()  # a last, short validation batch is fine
    assert torch.isfinite(model.loss(torch.rand(1, 3, SIZE, SIZE))["loss"])


# --- save, load, resume -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MODELS))
def test_save_load_gives_identical_latent_mean(name, frames, tmp_path) -> None:
    model = make(name)
    _fit(model, images_to_tensor(frames[:8]), steps=2)  # moves BN statistics and SN vectors too
    with torch.no_grad():  # off the initialisation, so a silent re-init could not pass
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    save_model(model, tmp_path)
    loaded = load_model(tmp_path)
    assert type(loaded) is type(model) and loaded.config == model.config
    assert np.array_equal(loaded.latent_mean(frames), model.latent_mean(frames))
    model.eval()
    x = images_to_tensor(frames[:8])
    g = torch.Generator
    torch.testing.assert_close(
        loaded.loss(x, generator=g().manual_seed(0))["loss"],
        model.loss(x, generator=g().manual_seed(0))["loss"],
        rtol=0,
        atol=0,
    )


class Interrupt(Exception):
    pass


def _train(name, frames, run_dir, stop_at=None):
    """Train ``name`` for SETTINGS.steps, raising Interrupt after step ``stop_at``."""
    model = make(name)

    def interrupt(done, _terms):
        if done == stop_at:
            raise Interrupt

    train_vision(
        model, frames, np.arange(48), np.arange(48, 64), SETTINGS, run_dir, seed=3,
        progress=False, callbacks=[interrupt],
    )  # fmt: skip
    return model


@pytest.mark.parametrize("name", sorted(MODELS))
def test_resume_after_interruption_equals_an_uninterrupted_run(name, frames, tmp_path) -> None:
    """InfoGAN: both Adam states, batch norm statistics and spectral norm's power-iteration
    vectors; contrastive: the augmentations, drawn from the trainer's per-step seed."""
    reference = _train(name, frames, tmp_path / "whole")
    with pytest.raises(Interrupt):
        _train(name, frames, tmp_path / "killed", stop_at=4)
    checkpoint = latest_checkpoint(tmp_path / "killed")
    assert checkpoint.name == "step_00000003.pt"
    saved = torch.load(checkpoint, weights_only=True)["optimizers"]
    assert set(saved) == ({"model", "discriminator"} if name == "infogan" else {"model"})
    resumed = _train(name, frames, tmp_path / "killed")
    for (key, a), (_, b) in zip(
        reference.state_dict().items(), resumed.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), key


# --- the rest of the pipeline -----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MODELS))
def test_act_takes_a_saved_run_as_a_frozen_representation(name, tmp_path) -> None:
    from act_fixtures import act_config

    from darla.manifest import write_manifest
    from darla.stages.act import run_act

    run = tmp_path / "see" / f"{name}-test"
    run.mkdir(parents=True)
    save_model(make(name), run)
    write_manifest(run, stage="see", config={"vision": {"name": name}}, inputs={})
    result = run_act(act_config(tmp_path, "frozen", vision=run, steps=40), progress=False)
    assert result.finished and result.run_dir.name.startswith(f"frozen_{name}-ppo-")


@pytest.fixture(scope="module")
def smoke_root(tmp_path_factory):
    """One runs root for the smoke runs, so the frames are collected once and reused."""
    return tmp_path_factory.mktemp("smoke_runs")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_smoke_see_trains_scores_and_saves_each_model(name, smoke_root) -> None:
    import yaml

    from darla.config import compose
    from darla.manifest import is_finished
    from darla.stages.score import score_run
    from darla.stages.see import run_see

    # Scored once, by `darla metrics RUN` below: the metrics are the same code for every model.
    overrides = [f"vision={name}", "experiment=smoke", f"runs_root={smoke_root}"]
    cfg = compose("see", [*overrides, "metrics.enabled=false"])
    result = run_see(cfg, progress=False)
    run = result.run_dir
    assert run.name.startswith(f"{name}-") and is_finished(run)
    assert (run / "model.safetensors").is_file()
    for grid in ("recon.png", "traversals.png"):  # a model without a decoder has no grids
        assert (run / grid).is_file() == (name == "infogan"), grid
    summary = yaml.safe_load((run / "train_summary.yaml").read_text())
    assert all(math.isfinite(v) for v in summary.values())
    model = load_model(run)
    assert model.config["name"] == name
    if name == "infogan":
        assert {"discriminator_loss", "info_loss", "generator_loss", "d_real"} <= set(summary)
    else:
        assert {"accuracy", "positive_similarity"} <= set(summary)
    scored = score_run(run, metrics=["mig"], fast=True, progress=False)  # `darla metrics RUN`
    assert scored == run / "metrics.json" and scored.is_file()

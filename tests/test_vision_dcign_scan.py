"""DC-IGN (clamped batches, the invariance gradient) and SCAN (symbols grounded in a frozen VAE).

DC-IGN's trick is a gradient, not a loss, so it is checked with autograd directly: a clamped
latent gets exactly ``scale·(z − z̄)`` and nothing from the reconstruction. Clamped batches are
checked on their factors (one varies, the rest are fixed) and on determinism from (seed, step),
which exact resume relies on. SCAN is checked for the frozen visual model (bit-identical after
training), for img2sym beating chance after brief training on the shapes, and for sym2img on
partial descriptions.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from vision_models import (
    SHAPE_NAMES,
    SIZE,
    shapes,
    shapes_data,
    smoke_see,
    tiny_model,
)

import envs
from darla.errors import DarlaError
from darla.vision import build_model, images_to_tensor, load_model, save_model
from darla.vision.dcign import clamp_to_batch_mean
from darla.vision.losses import reparameterize
from darla.vision.training.batches import ClampedBatches
from darla.vision.training.trainer import TrainSettings, train_vision

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def labelled() -> tuple[np.ndarray, np.ndarray]:
    """512 shapes scenes and their factor indices."""
    return shapes_data(512)


# --- DC-IGN: the clamp ------------------------------------------------------------------------


def test_clamp_forwards_the_batch_mean_and_backwards_the_scaled_deviation() -> None:
    z = torch.randn(6, 3, generator=torch.Generator().manual_seed(0), requires_grad=True)
    out = clamp_to_batch_mean(z, 0.25)
    torch.testing.assert_close(out, z.detach().mean(0, keepdim=True).expand(6, 3))
    weights = torch.randn(6, 3)  # an arbitrary upstream gradient: it must not reach z
    (out * weights).sum().backward()
    torch.testing.assert_close(z.grad, 0.25 * (z.detach() - z.detach().mean(0, keepdim=True)))


def test_only_the_varying_block_gets_the_recon_gradient_the_rest_the_invariance() -> None:
    model = tiny_model("dcign", invariance_weight=3.0)
    x = torch.rand(8, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    varying = 2  # "x": latents 4 and 5; free latent 10 is never clamped
    active = model.active_latents(varying)
    assert active.nonzero().flatten().tolist() == [4, 5, 10]

    z = torch.randn(8, model.latent_dim, generator=torch.Generator().manual_seed(2))
    z.requires_grad_(True)
    recon = model.reconstruction_loss(x, model.decode_raw(model.clamp_latents(z, varying)))
    recon.backward()

    zd = z.detach()
    expected_clamped = 3.0 / 8 * (zd - zd.mean(0, keepdim=True))
    torch.testing.assert_close(z.grad[:, ~active], expected_clamped[:, ~active])
    # the active latents' gradient is the plain reconstruction gradient with the rest held at
    # their batch means
    z_active = zd.clone().requires_grad_(True)
    held = torch.where(active, z_active, zd.mean(0, keepdim=True).expand_as(zd))
    model.reconstruction_loss(x, model.decode_raw(held)).backward()
    torch.testing.assert_close(z.grad[:, active], z_active.grad[:, active])
    assert z.grad[:, active].abs().sum() > 0
    # ... and the clamped latents carry none of it
    assert not torch.allclose(z_active.grad[:, ~active], z.grad[:, ~active])


def test_in_the_model_the_invariance_gradient_goes_to_the_posterior_means_only() -> None:
    """Sampled latents are clamped; the deviation that replaces their gradient is μ's, so a
    clamped latent's log σ² gets no gradient from the decoder side at all."""
    model = tiny_model("dcign", invariance_weight=3.0)
    x = torch.rand(8, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    active = model.active_latents(0)
    g = torch.Generator().manual_seed(2)
    mu = torch.randn(8, model.latent_dim, generator=g).requires_grad_(True)
    logvar = (0.3 * torch.randn(8, model.latent_dim, generator=g)).requires_grad_(True)
    z = reparameterize(mu, logvar, torch.Generator().manual_seed(3))
    model.reconstruction_loss(x, model.decode_raw(model.clamp_latents(z, 0, mu))).backward()
    m = mu.detach()
    torch.testing.assert_close(mu.grad[:, ~active], (3.0 / 8 * (m - m.mean(0)))[:, ~active])
    assert torch.equal(logvar.grad[:, ~active], torch.zeros_like(logvar.grad[:, ~active]))
    assert logvar.grad[:, active].abs().sum() > 0 and mu.grad[:, active].abs().sum() > 0


def test_dcign_loss_terms_and_plain_vae_loss_without_a_varying_factor() -> None:
    model = tiny_model("dcign", beta=2.0, invariance_weight=5.0)
    x = torch.rand(8, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    terms = model.loss(x, generator=torch.Generator().manual_seed(0), varying_factor=0)
    expected = terms["recon"] + 2.0 * terms["kl"] + 5.0 * terms["invariance"]
    torch.testing.assert_close(terms["loss"], expected)
    assert terms["invariance"] > 0 and not terms["invariance"].requires_grad
    plain = model.loss(x, generator=torch.Generator().manual_seed(0))
    assert "invariance" not in plain
    torch.testing.assert_close(plain["loss"], plain["recon"] + 2.0 * plain["kl"])


def test_dcign_loss_is_finite_and_decreases_on_a_clamped_batch() -> None:
    sampler = ClampedBatches(shapes, 16, seed=0)
    try:
        batch = sampler.get(0)
    finally:
        sampler.close()
    model = tiny_model("dcign")
    optimizers = model.make_optimizers(1e-3)
    x = images_to_tensor(batch.images)
    generator = torch.Generator().manual_seed(0)
    history = []
    for _ in range(50):
        terms = model.loss(x, generator=generator, **batch.loss_kwargs)
        assert all(torch.isfinite(v).all() for v in terms.values())
        history.append(terms["loss"].item())
        model.step_optimizers(terms, optimizers)
    assert np.mean(history[-5:]) < 0.7 * history[0], history[::10]


# --- DC-IGN: clamped batches ------------------------------------------------------------------


def test_clamped_batches_vary_exactly_one_factor_over_all_its_values() -> None:
    sampler = ClampedBatches(shapes, 16, seed=0)
    try:
        seen = set()
        for step in range(30):
            batch = sampler.get(step)
            factors, k = batch.factors, batch.loss_kwargs["varying_factor"]
            varying = [j for j in range(factors.shape[1]) if len(np.unique(factors[:, j])) > 1]
            assert varying == [k], step
            assert set(factors[:, k]) == set(range(sampler.factor_sizes[k]))  # B >= every size
            np.testing.assert_array_equal(batch.images, shapes().render(factors))
            seen.add(k)
        assert seen == set(range(len(SHAPE_NAMES)))
    finally:
        sampler.close()


def test_clamped_batches_are_a_function_of_seed_and_step() -> None:
    a, b, c = (ClampedBatches(shapes, 8, seed=s, val_batches=2) for s in (0, 0, 1))
    try:
        for step in range(4):
            a.get(step)
        batch = a.get(4)
        direct = b.get(4)  # no history: the same batch
        np.testing.assert_array_equal(batch.images, direct.images)
        assert batch.loss_kwargs == direct.loss_kwargs
        assert not np.array_equal(c.get(4).factors, batch.factors)
        for x, y in zip(a.validation(), b.validation(), strict=True):
            np.testing.assert_array_equal(x.images, y.images)
        assert len(a.validation()) == 2
        assert not any(np.array_equal(v.factors, batch.factors) for v in a.validation())
    finally:
        for sampler in (a, b, c):
            sampler.close()


def test_env_scenes_are_rendered_on_the_thread_that_owns_the_gl_context() -> None:
    """Frames rendered from a thread other than the env's come out wrong: the sampler builds its
    dataset on its own rendering thread, so its pixels match a main-thread render."""
    sampler = ClampedBatches(lambda: envs.make_factor_dataset(obs_size=SIZE), 4, seed=0)
    reference = envs.make_factor_dataset(obs_size=SIZE)
    try:
        batch = sampler.get(0)
        assert sampler.factor_names[-3:] == ("agent_yaw", "good_lane", "bad_lane")
        np.testing.assert_array_equal(batch.images, reference.render(batch.factors))
    finally:
        sampler.close()
        reference.close()


def test_a_dataset_with_nothing_to_vary_is_refused() -> None:
    class OneScene:
        factor_names, factor_sizes = ("a", "b"), (1, 1)

    with pytest.raises(DarlaError, match="no factor with two or more values"):
        ClampedBatches(OneScene, 4, seed=0)


@pytest.mark.slow
def test_dcign_blocks_vary_with_their_own_factor() -> None:
    """After brief training on the shapes, the x and y blocks' means vary (across a clamped batch)
    mostly in batches where x, respectively y, varies: the blocks have specialised."""
    sampler = ClampedBatches(shapes, 32, seed=0)
    try:
        model = tiny_model("dcign", free_latents=0, hidden_dim=128)
        optimizers = model.make_optimizers(1e-3)
        for step in range(800):
            batch = sampler.get(step)
            terms = model.loss(images_to_tensor(batch.images), **batch.loss_kwargs)
            model.step_optimizers(terms, optimizers)
        spread = np.zeros((len(SHAPE_NAMES), len(SHAPE_NAMES)))  # [block, varying factor]
        for i in range(100):
            batch = sampler.get(10_000 + i)
            mu = model.latent_mean(batch.images)
            for block in range(len(SHAPE_NAMES)):
                spread[block, batch.loss_kwargs["varying_factor"]] += (
                    mu[:, model.factor_block(block)].var(axis=0).sum()
                )
    finally:
        sampler.close()
    share = spread / spread.sum(axis=0, keepdims=True)  # of the spread when a factor varies
    assert share[2, 2] > 0.5 and share[3, 3] > 0.5, share.round(2)  # chance: 0.2


# --- SCAN -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def visual(labelled):
    """A Gaussian-likelihood β-VAE trained briefly on the shapes: its latents carry position,
    scale and colour (a Bernoulli one collapses to black frames this early)."""
    frames, _ = labelled
    torch.manual_seed(0)
    model = build_model(
        "beta_vae", image_size=SIZE, latent_dim=8, hidden_dim=64, beta=1.0, likelihood="gaussian"
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    rng, generator = np.random.default_rng(0), torch.Generator().manual_seed(0)
    for _ in range(200):
        x = images_to_tensor(frames[rng.integers(0, len(frames), 32)])
        model.step_optimizers(model.loss(x, generator=generator), {"model": optimizer})
    return model.eval()


@pytest.fixture(scope="module")
def trained_scan(visual, labelled, tmp_path_factory):
    """SCAN trained through the vision trainer (labels ride along with the frames)."""
    frames, factors = labelled
    model = tiny_model("scan", visual=visual, hidden_dim=64)
    before = {k: v.clone() for k, v in model.visual.tensors_to_save().items()}
    settings = TrainSettings(
        steps=300, batch_size=64, lr=3e-3, checkpoint_every=300, log_every=100,
        image_every=1000, val_batches=1,
    )  # fmt: skip
    terms = train_vision(
        model, frames, np.arange(448), np.arange(448, 512), settings,
        tmp_path_factory.mktemp("scan_run"), seed=0, progress=False, labels=factors,
    )  # fmt: skip
    return model, before, terms


def test_scan_leaves_the_visual_model_bit_identical(trained_scan, visual) -> None:
    model, before, terms = trained_scan
    assert math.isfinite(terms["val_loss"]) and {"recon", "kl", "grounding"} <= set(terms)
    after = model.visual.tensors_to_save()
    assert before.keys() == after.keys()
    for key in before:
        assert torch.equal(before[key], after[key]), key
    names = [n for n, _ in model.named_parameters()]
    assert names and all(n.startswith(("symbol_encoder.", "symbol_decoder.")) for n in names)
    assert not any(k.startswith("frozen_visual.") for k in model.state_dict())
    frames = np.zeros((2, SIZE, SIZE, 3), np.uint8)
    np.testing.assert_array_equal(model.latent_mean(frames), visual.latent_mean(frames))


def test_img2sym_beats_chance_after_brief_training_on_shapes(trained_scan) -> None:
    model, _, _ = trained_scan
    data = shapes()
    factors = data.sample_factors(300, np.random.default_rng(1))
    predicted = model.img2sym_indices(data.render(factors))
    accuracy = (predicted == factors).mean(axis=0)
    chance = 1 / np.array(data.factor_sizes)
    assert np.mean(accuracy / chance) > 2.0, accuracy
    assert accuracy[2] > 2.5 * chance[2] and accuracy[3] > 2.5 * chance[3], accuracy  # x and y
    described = model.img2sym(data.render(factors[:2]))
    assert [sorted(d) for d in described] == [sorted(SHAPE_NAMES)] * 2
    assert described[0]["colour"] in ("red", "green", "blue", "yellow")


def test_scan_loss_is_finite_and_decreases_on_a_small_batch(visual, labelled) -> None:
    frames, factors = labelled
    # every factor named in every label: each image has its own description, so the grounding
    # term can approach 0 (with dropout it has a floor: one partial label, many posteriors)
    model = tiny_model("scan", visual=visual, label_dropout=0.0)
    optimizers = model.make_optimizers(3e-3)
    x, y = images_to_tensor(frames[:32]), torch.as_tensor(factors[:32])
    generator = torch.Generator().manual_seed(0)
    history = []
    for _ in range(80):
        terms = model.loss(x, generator=generator, factors=y)
        assert all(torch.isfinite(v).all() for v in terms.values())
        history.append(terms["loss"].item())
        model.step_optimizers(terms, optimizers)
    assert np.mean(history[-5:]) < 0.7 * history[0], history[::10]


def test_scan_loss_is_recon_plus_weighted_kl_and_grounding() -> None:
    model = tiny_model("scan", beta=2.0, lambda_=7.0, label_dropout=0.0)
    x = torch.rand(4, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    y = torch.as_tensor(shapes().sample_factors(4, np.random.default_rng(0)))
    terms = model.loss(x, generator=torch.Generator().manual_seed(0), factors=y)
    torch.testing.assert_close(
        terms["loss"], terms["recon"] + 2.0 * terms["kl"] + 7.0 * terms["grounding"]
    )
    # the grounding term is KL(q(z|x) || q(z|y)): zero exactly when the two posteriors agree
    mu_x, logvar_x = model.visual.encode(x)
    model.encode_symbols = lambda _y: (mu_x.detach(), logvar_x.detach())
    again = model.loss(x, generator=torch.Generator().manual_seed(0), factors=y)
    assert again["grounding"].abs().item() < 1e-5


def test_sym2img_takes_partial_descriptions(trained_scan) -> None:
    model, _, _ = trained_scan
    images = model.sym2img({"colour": "red", "shape": "circle"}, n=5)
    assert images.shape == (5, SIZE, SIZE, 3) and images.dtype == np.uint8
    assert model.sym2img({}, n=2).shape == (2, SIZE, SIZE, 3)  # nothing specified at all
    np.testing.assert_array_equal(images, model.sym2img({"colour": "red", "shape": "circle"}, 5))
    assert not np.array_equal(images, model.sym2img({"colour": "red", "shape": "circle"}, 5, 1))
    khot = model.khot(*model.describe({"colour": "blue"}))
    assert khot.sum() == 1 and khot[0, sum(model.factor_sizes[:4]) + 2] == 1  # blue, one hot
    with pytest.raises(DarlaError, match="unknown factor 'size'"):
        model.sym2img({"size": 1})
    with pytest.raises(DarlaError, match="unknown value 'purple' for factor colour"):
        model.sym2img({"colour": "purple"})


def test_scan_without_labels_says_what_to_pass() -> None:
    with pytest.raises(DarlaError, match=r"loss\(x, factors=\.\.\.\)"):
        tiny_model("scan").loss(torch.rand(2, 3, SIZE, SIZE))


# --- save, load, errors (bad options, for every model: test_vision_options.py) ----------------


def test_scan_saves_a_darla_visual_model_with_its_dae(labelled, tmp_path) -> None:
    torch.manual_seed(0)
    dae = build_model("dae", image_size=SIZE, bottleneck_dim=8)
    darla = build_model("darla", dae=dae, latent_dim=4, hidden_dim=32)
    save_model(darla, tmp_path / "darla")
    model = tiny_model("scan", visual=str(tmp_path / "darla"))  # a path to a run folder works too
    save_model(model, tmp_path / "scan")
    loaded = load_model(tmp_path / "scan")
    assert loaded.config["visual"]["name"] == "darla"
    for key, value in model.tensors_to_save().items():
        assert torch.equal(loaded.tensors_to_save()[key], value), key
    frames, _ = labelled
    assert loaded.img2sym(frames[:16]) == model.img2sym(frames[:16])
    np.testing.assert_array_equal(
        loaded.sym2img({"shape": "square"}, 3), model.sym2img({"shape": "square"}, 3)
    )


def test_scan_refuses_a_visual_model_without_a_posterior(tmp_path) -> None:
    with pytest.raises(DarlaError, match="scan needs a VAE-type visual model"):
        tiny_model("scan", visual=build_model("dae", image_size=SIZE, bottleneck_dim=4))
    with pytest.raises(DarlaError, match="no vision model at"):
        tiny_model("scan", visual=str(tmp_path / "missing"))
    with pytest.raises(DarlaError, match="varying_factor 7 out of range"):
        tiny_model("dcign").loss(torch.rand(2, 3, SIZE, SIZE), varying_factor=7)


# --- data.dataset=shapes ----------------------------------------------------------------------


def test_shapes_frames_are_distinct_scenes_stored_like_a_collection(tmp_path) -> None:
    from darla.data import open_frames
    from darla.data.shapes import ShapesConfig, load_or_render_shapes

    config = ShapesConfig(num_frames=100, obs_size=SIZE, seed=0)
    data, reused = load_or_render_shapes(config, tmp_path)
    assert not reused and len(data) == 100 and data.meta["factor_names"] == SHAPE_NAMES
    assert len({tuple(row) for row in data.factors}) == 100  # no scene twice
    np.testing.assert_array_equal(data.frames, shapes().render(np.asarray(data.factors)))
    again, reused = load_or_render_shapes(config, tmp_path)
    assert reused and again.hash == data.hash
    assert open_frames(data.folder, expected_hash=data.hash).meta["domain_names"] == ["shapes"]
    train, val = data.split(0.1, seed=0)
    assert len(val) == 10 and not set(train) & set(val)


# --- the rest of the pipeline -----------------------------------------------------------------


SMOKE = ["metrics.names=[mig]", "train.threads=1"]


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["env", "shapes"])
def test_smoke_see_trains_dcign_on_clamped_batches(dataset, smoke_runs) -> None:
    smoke = smoke_see(smoke_runs, "dcign", f"data.dataset={dataset}", *SMOKE)
    run, summary, model = smoke.run, smoke.summary, smoke.model
    for artifact in ("metrics.json", "recon.png", "traversals.png"):
        assert (run / artifact).is_file(), artifact
    assert "invariance" in summary
    names = SHAPE_NAMES if dataset == "shapes" else envs.make_factor_dataset().factor_names
    assert model.config["factor_names"] == list(names)
    assert model.latent_dim == 3 * len(names)


@pytest.mark.slow
def test_smoke_see_trains_scan_on_its_visual_run_and_scores_img2sym(smoke_runs, capsys) -> None:
    import json

    smoke = smoke_see(smoke_runs, "scan", *SMOKE)
    run, model = smoke.run, smoke.model
    out = capsys.readouterr().out
    assert "scan img2sym accuracy on A_room2" in out
    accuracy = json.loads((run / "scan_accuracy.json").read_text())
    assert set(accuracy["domains"]) == set(envs.target_domains())
    assert set(accuracy["overall"]) == {*envs.factor_vocabulary(), "mean"}
    for artifact in ("metrics.json", "recon.png", "traversals.png", "sym2img.png"):
        assert (run / artifact).is_file(), artifact
    # the visual model scan was grounded in: the see run its config names
    visual_run = Path(
        yaml.safe_load((run / "config.yaml").read_text())["vision"]["model"]["visual"]
    ).parent
    assert visual_run.name.startswith("darla-") and visual_run.parent == smoke_runs / "see"
    visual = load_model(visual_run)
    frames = np.zeros((2, 64, 64, 3), np.uint8)
    np.testing.assert_array_equal(model.latent_mean(frames), visual.latent_mean(frames))
    for key, value in visual.tensors_to_save().items():  # still the visual run's weights
        assert torch.equal(model.visual.tensors_to_save()[key], value), key
    described = model.img2sym(frames[:1])[0]
    assert set(described) == set(envs.factor_vocabulary())
    # the same visual model given as visual_run: the same run, reused
    again = smoke_see(smoke_runs, "scan", f"visual_run={visual_run}", *SMOKE)
    assert again.reused and again.run == run

"""BYOL and DCoDR: their losses on hand-worked cases, BYOL's target and EMA schedule, DCoDR's
same-domain negatives and the domain ids it trains on, one-line errors, smoke runs.

Save/load and act (test_vision_save_load.py) and exact resume (test_see_training.py) are tested
for every model in one place; BYOL's target network is among the tensors those tests compare.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from vision_models import SIZE, shapes_data, synthetic_domains, tiny_model

from darla.cli import main
from darla.data import FrameDataset
from darla.errors import DarlaError
from darla.vision import BYOL, DCoDR, build_model, images_to_tensor
from darla.vision.byol import ema_rate, normalized_mse
from darla.vision.dcodr import same_domain_info_nce
from darla.vision.training.batches import BatchSource
from darla.vision.training.inputs import complete_model_kwargs, trainer_inputs

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return shapes_data(64)[0]


def _fit(model, x, steps: int, lr: float = 1e-3, **loss_kwargs) -> list[dict[str, float]]:
    """``steps`` trainer-like steps on one batch: set_step, loss, step_optimizers."""
    optimizers = model.make_optimizers(lr)
    generator = torch.Generator().manual_seed(0)
    history = []
    for step in range(steps):
        model.set_step(step)
        terms = model.loss(x, generator=generator, **loss_kwargs)
        assert all(torch.isfinite(v).all() for v in terms.values()), (step, terms)
        history.append({k: v.item() for k, v in terms.items()})
        model.step_optimizers(terms, optimizers)
    return history


def _one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


# --- BYOL: the target network and its EMA ------------------------------------------------------


def test_byol_target_is_in_no_optimizer_takes_no_gradient_and_is_saved() -> None:
    model = tiny_model("byol")
    target = {id(p) for p in model.target.parameters()}
    optimized = {
        id(p)
        for group in model.make_optimizers(1e-3)["model"].param_groups
        for p in group["params"]
    }
    assert target and not target & optimized
    assert optimized | target == {id(p) for p in model.parameters()}
    assert {id(p) for p in model.predictor.parameters()} <= optimized
    assert not any(p.requires_grad for p in model.target.parameters())
    assert not hasattr(model.target, "predictor") and "predictor" not in model.target
    saved = model.tensors_to_save()
    assert {f"target.{k}" for k in model.target.state_dict()} <= set(saved)
    terms = model.loss(torch.rand(4, 3, SIZE, SIZE))
    terms["loss"].backward()
    assert all(p.grad is None for p in model.target.parameters())
    assert model.predictor[0].weight.grad is not None


def test_byol_target_moves_by_exactly_the_ema_rule_after_the_optimizer_step(frames) -> None:
    """ξ ← τ·ξ + (1 − τ)·θ with θ the weights AFTER this step's update. tau_base 0.9, K = 10,
    step 5 (halfway): τ = 1 − 0.1·(cos(π/2) + 1)/2 = 0.95."""
    model = tiny_model("byol", tau_base=0.9, ema_steps=10)
    optimizers = model.make_optimizers(1e-3)
    model.set_step(5)
    xi_before = model.target["head"].weight.detach().clone()
    theta_before = model.head.weight.detach().clone()
    terms = model.loss(images_to_tensor(frames[:8]), generator=torch.Generator().manual_seed(0))
    assert terms["tau"].item() == pytest.approx(0.95)
    model.step_optimizers(terms, optimizers)
    theta_after = model.head.weight.detach()
    assert not torch.equal(theta_after, theta_before)  # the online network did move
    expected = 0.95 * xi_before + 0.05 * theta_after
    torch.testing.assert_close(model.target["head"].weight.detach(), expected, rtol=0, atol=1e-7)
    # an EMA taken before the optimizer step would have left ξ where it started (ξ = θ at init)
    assert torch.equal(xi_before, theta_before)
    assert not torch.allclose(model.target["head"].weight, xi_before, rtol=0, atol=1e-6)


def test_byol_tau_follows_the_cosine_schedule() -> None:
    """τ_k = 1 − (1 − τ_base)·(cos(πk/K) + 1)/2; τ_base = 0.996, K = 1000."""
    assert ema_rate(0, 0.996, 1000) == pytest.approx(0.996, abs=1e-12)
    assert ema_rate(250, 0.996, 1000) == pytest.approx(
        1 - 0.004 * (math.sqrt(2) / 2 + 1) / 2, abs=1e-12
    )
    assert ema_rate(500, 0.996, 1000) == pytest.approx(0.998, abs=1e-12)
    assert ema_rate(1000, 0.996, 1000) == pytest.approx(1.0, abs=1e-12)
    assert ema_rate(5000, 0.996, 1000) == pytest.approx(1.0, abs=1e-12)  # past K: stays at 1
    model = tiny_model("byol", tau_base=0.99, ema_steps=40)
    assert model.tau == pytest.approx(0.99)  # never stepped
    model.set_step(20)
    assert model.tau == pytest.approx(0.995)


def test_ema_steps_null_is_filled_with_train_steps() -> None:
    cfg = {"train": {"steps": 123}}
    assert complete_model_kwargs("byol", {"ema_steps": None}, cfg)["ema_steps"] == 123
    assert complete_model_kwargs("byol", {"ema_steps": 50}, cfg)["ema_steps"] == 50


# --- BYOL: the loss -------------------------------------------------------------------------------


def test_normalized_mse_is_two_minus_two_cosine_on_hand_cases() -> None:
    p = torch.tensor([[1.0, 0.0], [1.0, 1.0], [3.0, 0.0], [0.5, 0.5]], dtype=torch.float64)
    z = torch.tensor([[0.0, 2.0], [1.0, 0.0], [-1.0, 0.0], [4.0, 4.0]], dtype=torch.float64)
    expected = [2.0, 2 - math.sqrt(2), 4.0, 0.0]  # cosines 0, 1/√2, −1, 1; norms do not matter
    torch.testing.assert_close(normalized_mse(p, z), torch.tensor(expected, dtype=torch.float64))


def test_byol_loss_is_the_symmetrised_regression_of_predictions_onto_target_projections(
    frames,
) -> None:
    """Both directions (v1 predicts v2's target, v2 predicts v1's), summed as in the paper."""
    model = tiny_model("byol")
    with torch.no_grad():  # a target unlike the online network, so a swapped role would show
        for p in model.target.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x = images_to_tensor(frames[:8])
    terms = model.loss(x, generator=torch.Generator().manual_seed(1))
    v1, v2 = model.views(x, torch.Generator().manual_seed(1))
    both = torch.cat([v1, v2])
    p1, p2 = model.predictor(model.projection(model.encode(both)[0])).chunk(2)
    z1, z2 = model.target_projection(both).chunk(2)
    expected = normalized_mse(p1, z2).mean() + normalized_mse(p2, z1).mean()
    torch.testing.assert_close(terms["loss"], expected)
    swapped = normalized_mse(p1, z1).mean() + normalized_mse(p2, z2).mean()
    assert not torch.allclose(terms["loss"], swapped)


def test_byol_loss_decreases_on_a_fixed_batch(frames) -> None:
    model = tiny_model("byol", tau_base=0.99, ema_steps=50)
    history = _fit(model, images_to_tensor(frames[:16]), steps=50)
    loss = [h["loss"] for h in history]
    assert loss[0] == pytest.approx(4.0, abs=0.3)  # untrained: predictions ⟂ targets
    assert np.mean(loss[-10:]) < 0.6 * loss[0], loss[::10]
    assert history[-1]["tau"] > history[0]["tau"] == pytest.approx(0.99)
    assert np.mean([h["projection_std"] for h in history[-10:]]) > 0.02  # not collapsed


def test_byol_refuses_a_training_batch_of_one_frame_in_one_line() -> None:
    model = tiny_model("byol")
    with pytest.raises(DarlaError, match="at least 2 frames per training batch") as error:
        model.loss(torch.rand(1, 3, SIZE, SIZE))
    _one_line(error)
    model.eval()  # a last, short validation batch is fine
    assert torch.isfinite(model.loss(torch.rand(1, 3, SIZE, SIZE))["loss"])


# --- DCoDR: the objective -----------------------------------------------------------------------


def test_same_domain_info_nce_equals_a_hand_computed_example() -> None:
    """4 codes, 2 domains, τ = 0.5 (given unnormalised: only directions count). Domain 0:
    anchors a0 = (1, 0), a1 = (0, 1) with positives p0 = (1, 0), p1 = (1, 1)/√2; domain 1:
    a2 = (1, 1)/√2, a3 = (0.6, 0.8) with p2 = (1, 1)/√2, p3 = (1, 0).

    Positive cosines 1, 1/√2, 1, 0.6. Each anchor's one negative is the other frame of its
    domain: a0·a1 = 0, a2·a3 = 1.4/√2. The cross-domain cosines (a0·a2 = 1/√2, a0·a3 = 0.6, ...)
    are in no denominator, so ℓ_i = −log(e^{pos/τ} / (e^{pos/τ} + e^{neg/τ})).
    """
    tau, r = 0.5, 1 / math.sqrt(2)
    a23 = 1.4 * r
    # (positive cosine, negative cosine) per anchor
    cases = [(1.0, 0.0), (r, 0.0), (1.0, a23), (0.6, a23)]
    expected = [
        -math.log(math.exp(pos / tau) / (math.exp(pos / tau) + math.exp(neg / tau)))
        for pos, neg in cases
    ]
    anchors = torch.tensor([[1.0, 0.0], [0.0, 3.0], [2.0, 2.0], [0.6, 0.8]], dtype=torch.float64)
    positives = torch.tensor([[5.0, 0.0], [1.0, 1.0], [2.0, 2.0], [1.0, 0.0]], dtype=torch.float64)
    domains = torch.tensor([0, 0, 1, 1])
    terms, has_negative = same_domain_info_nce(anchors, positives, domains, tau)
    torch.testing.assert_close(terms, torch.tensor(expected, dtype=torch.float64))
    assert has_negative.all()
    # the same codes as one domain: every other frame is a negative, so every term grows
    together, _ = same_domain_info_nce(anchors, positives, torch.zeros(4, dtype=torch.long), tau)
    assert (together > terms).all()


def test_an_anchor_alone_of_its_domain_has_no_negative_and_is_left_out_of_the_loss() -> None:
    anchors = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, -1.0]])
    positives = torch.tensor([[1.0, 0.2], [0.1, 1.0], [0.0, 1.0], [1.0, 0.0]])
    terms, has_negative = same_domain_info_nce(anchors, positives, torch.tensor([0, 0, 1, 2]), 0.5)
    assert has_negative.tolist() == [True, True, False, False]
    assert terms[2].item() == 0.0 and terms[3].item() == 0.0  # log 1: the positive alone
    assert (terms[:2] > 0).all()


def test_changing_a_frame_of_another_domain_leaves_an_anchors_term_unchanged(frames) -> None:
    model = tiny_model("dcodr")
    domains = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    x = images_to_tensor(frames[:8])
    _fit(model, x, steps=15, domains=domains)  # untrained, every code is nearly the same
    g = torch.Generator

    def terms(batch):
        with torch.no_grad():
            return model.anchor_terms(batch, domains, g().manual_seed(0))[0]

    reference = terms(x)
    other_domain = x.clone()
    other_domain[5] = torch.rand_like(x[5])
    changed = terms(other_domain)
    torch.testing.assert_close(changed[:4], reference[:4], rtol=0, atol=1e-6)
    assert not torch.allclose(changed[4:], reference[4:], rtol=0, atol=1e-4)
    same_domain = x.clone()
    same_domain[1] = torch.rand_like(x[1])  # a negative of anchors 0, 2 and 3
    assert not torch.allclose(terms(same_domain)[[0, 2, 3]], reference[[0, 2, 3]], atol=1e-4)


def test_dcodr_loss_decreases_on_a_fixed_batch(frames) -> None:
    domains = torch.as_tensor(synthetic_domains(16))
    history = _fit(tiny_model("dcodr"), images_to_tensor(frames[:16]), steps=50, domains=domains)
    loss = [h["loss"] for h in history]
    assert loss[0] == pytest.approx(math.log(8), abs=0.05)  # untrained: the 8 of a domain alike
    assert np.mean(loss[-10:]) < 0.7 * loss[0], loss[::10]
    assert all(h["anchors_without_negatives"] == 0 for h in history)
    assert np.mean([h["negative_similarity"] for h in history[-10:]]) < 0.5


def test_dcodr_code_is_unit_norm(frames) -> None:
    mu = tiny_model("dcodr").latent_mean(frames[:10], batch_size=4)
    assert mu.shape == (10, 4) and mu.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(mu, axis=1), 1.0, rtol=1e-5)


def test_dcodr_refuses_a_training_batch_without_a_same_domain_pair_in_one_line() -> None:
    model = tiny_model("dcodr")
    x, domains = torch.rand(3, 3, SIZE, SIZE), torch.tensor([0, 1, 2])
    with pytest.raises(DarlaError, match="no two frames of one source domain") as error:
        model.loss(x, domains=domains)
    assert "train.batch_size" in _one_line(error)
    model.eval()  # a validation batch of that kind is fine: no negative, no term
    terms = model.loss(x, domains=domains)
    assert terms["loss"].item() == 0.0 and terms["anchors_without_negatives"].item() == 1.0


@pytest.mark.parametrize(
    ("domains", "message"),
    [
        (None, r"needs each frame's source domain: call loss\(x, domains=\.\.\.\)"),
        (torch.tensor([0, 1]), r"one integer domain index per frame, shape \(4,\)"),
        (torch.tensor([0.0, 1.0, 0.0, 1.0]), "one integer domain index per frame"),
    ],
)
def test_dcodr_bad_domains_are_one_line(domains, message) -> None:
    with pytest.raises(DarlaError, match=message) as error:
        tiny_model("dcodr").loss(torch.rand(4, 3, SIZE, SIZE), domains=domains)
    _one_line(error)


# --- DCoDR: the domain ids it trains on --------------------------------------------------------


def _frame_folder(domain_ids: np.ndarray | None, meta: dict) -> FrameDataset:
    n = len(domain_ids) if domain_ids is not None else 6
    return FrameDataset(
        folder=Path("/data/frames"),
        frames=np.zeros((n, SIZE, SIZE, 3), dtype=np.uint8),
        factors=np.zeros((n, 1), dtype=np.int16),
        domain_ids=domain_ids,
        episode_ids=np.arange(n),
        meta={"hash": "h", **meta},
    )


def _inputs(data: FrameDataset, batch_size: int = 16) -> dict:
    with trainer_inputs("dcodr", data, {}, {"train": {"batch_size": batch_size}}) as inputs:
        return inputs


def test_trainer_inputs_give_dcodr_the_frames_domain_ids_under_domains() -> None:
    ids = np.array([0, 1, 2, 0, 1, 2], dtype=np.int16)
    inputs = _inputs(_frame_folder(ids, {"domain_names": ["A_room1", "B_room1", "B_room2"]}))
    np.testing.assert_array_equal(inputs["labels"]["domains"], ids)
    source = BatchSource(np.zeros((6, 2, 2, 3), np.uint8), np.arange(6), 4, 0, **inputs)
    try:
        batch = source.get(0)
        assert set(batch.loss_kwargs) == {"domains"} and batch.loss_kwargs["domains"].shape == (4,)
        assert batch.loss_kwargs["domains"].dtype == np.int64
    finally:
        source.close()
    # SCAN's plain array still rides as `factors`
    scan = BatchSource(np.zeros((6, 2, 2, 3), np.uint8), np.arange(6), 4, 0, labels=ids[:, None])
    try:
        assert set(scan.get(0).loss_kwargs) == {"factors"}
    finally:
        scan.close()


def test_frames_without_domain_ids_are_refused_in_one_line() -> None:
    with pytest.raises(DarlaError, match="store no source domain per frame") as error:
        _inputs(_frame_folder(np.zeros(6, np.int16), {}))
    assert "/data/frames" in _one_line(error)


def test_the_2d_shapes_frames_are_refused_in_one_line(tmp_path) -> None:
    """A shapes folder stores one pseudo-domain, 'shapes', for every frame."""
    from darla.data.shapes import ShapesConfig, load_or_render_shapes

    shapes, _ = load_or_render_shapes(ShapesConfig(num_frames=4, obs_size=SIZE), tmp_path)
    with pytest.raises(DarlaError, match=r"two or more source domains.*have one \('shapes'\)") as e:
        _inputs(shapes)
    assert "data=env" in _one_line(e)


def test_a_batch_no_larger_than_the_number_of_domains_is_refused_in_one_line() -> None:
    data = _frame_folder(np.arange(6) % 3, {"domain_names": ["a", "b", "c"]})
    with pytest.raises(DarlaError, match=r"train\.batch_size=3 is too small for dcodr") as error:
        _inputs(data, batch_size=3)
    _one_line(error)
    assert _inputs(data, batch_size=4)["labels"]["domains"].shape == (6,)


# --- both: options and the interface --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("byol", {"tau_base": 1.5}, r"tau_base must be a number in \[0, 1\].*use e.g. 0.996"),
        ("byol", {"tau_base": float("nan")}, r"tau_base must be a number in \[0, 1\]"),
        ("byol", {"ema_steps": 0}, "ema_steps must be a positive integer.*null"),
        ("byol", {"predictor_hidden_dim": 0}, "predictor_hidden_dim must be a positive integer"),
        ("byol", {"crop_scale": [0.9, 0.5]}, "crop_scale must satisfy"),
        ("byol", {"beta": 4.0}, "byol has no beta.*tau_base"),
        ("byol", {"temperature": 0.5}, "byol has no temperature.*tau_base"),
        ("dcodr", {"temperature": 0.0}, "temperature must be a number > 0.*use e.g. 0.2"),
        ("dcodr", {"temperature": float("inf")}, "temperature must be a number > 0"),
        ("dcodr", {"temperature": float("nan")}, "temperature must be a number > 0"),
        ("dcodr", {"latent_dim": 0}, "latent_dim must be a positive integer"),
        ("dcodr", {"jitter": 1.5}, "jitter must be in"),
        ("dcodr", {"beta": 4.0}, "dcodr has no beta.*temperature"),
        ("dcodr", {"likelihood": "bernoulli"}, "norec variant"),
    ],
)
def test_bad_options_are_one_line_with_the_fix(name, options, message) -> None:
    with pytest.raises(DarlaError, match=message) as error:
        build_model(name, image_size=SIZE, **options)
    _one_line(error)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["vision=dcodr", "vision.model.temperature=0"], "temperature must be a number > 0"),
        (["vision=byol", "vision.model.tau_base=2"], r"tau_base must be a number in \[0, 1\]"),
        (["vision=dcodr", "data=shapes"], r"two or more source domains; the 2D shapes have one"),
        (["vision=dcodr", "data.domains=[A_room1]"], r"data.domains is \['A_room1'\]"),
        (["vision=dcodr", "train.batch_size=3"], r"train.batch_size=3 is too small for dcodr"),
    ],
)
def test_a_bad_option_from_the_cli_is_one_line_and_exit_code_2(
    overrides, message, tmp_path, capsys
) -> None:
    """Refused before any frame is collected or run folder written."""
    assert main(["see", f"runs_root={tmp_path}", *overrides]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("darla: error:") and "\n" not in err
    assert re.search(message, err), err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["byol", "dcodr"])
def test_neither_is_generative_and_decode_says_so_in_one_line(name) -> None:
    model = tiny_model(name)
    assert model.generative is False
    with pytest.raises(DarlaError, match=f"{name} has no decoder") as error:
        model.decode(torch.zeros(2, 4))
    _one_line(error)
    assert (
        isinstance(model, (BYOL, DCoDR)) and model.encode(torch.rand(2, 3, SIZE, SIZE))[1] is None
    )


# --- the rest of the pipeline -----------------------------------------------------------------


# The smoke `darla see` of each, on collected frames of three source domains: tests/test_run_baselines.py

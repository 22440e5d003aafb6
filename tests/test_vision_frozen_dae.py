"""DARLA's DAE (J) stays frozen: not optimised, not in train mode, not changed by training."""

from __future__ import annotations

import pytest
import torch

from darla.errors import DarlaError
from darla.vision import FEATURE_LAYERS, DarlaVAE, build_model, save_model

SIZE = 32


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_darla(**config) -> DarlaVAE:
    torch.manual_seed(0)
    dae = build_model("dae", image_size=SIZE)
    return build_model("darla", dae=dae, latent_dim=6, **config)


def test_dae_is_not_among_the_parameters_or_state_dict() -> None:
    model = make_darla()
    dae_ids = {id(p) for p in model.dae.parameters()}
    assert dae_ids and not dae_ids & {id(p) for p in model.parameters()}
    assert not any(k.startswith("frozen_dae") or "dae" in k for k in model.state_dict())
    assert "dae" not in dict(model.named_children())
    assert all(not p.requires_grad for p in model.dae.parameters())


def test_dae_weights_bit_identical_and_eval_after_training_steps() -> None:
    model = make_darla()
    before = {k: v.clone() for k, v in model.dae.state_dict().items()}
    vae_before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.rand(8, 3, SIZE, SIZE)
    model.train()
    for _ in range(5):
        loss = model.loss(x)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert model.training and not model.dae.training
    model.train(True)
    assert not model.dae.training
    for key, value in model.dae.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert all(p.grad is None for p in model.dae.parameters())
    # ...while the β-VAE itself did learn.
    assert any(not torch.equal(v, vae_before[k]) for k, v in model.state_dict().items())


def test_gradient_reaches_the_decoder_through_the_frozen_dae() -> None:
    model = make_darla()
    model.loss(torch.rand(4, 3, SIZE, SIZE))["recon"].backward()
    grad = model.decoder.deconv[-1].weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_the_callers_dae_is_copied_not_shared() -> None:
    torch.manual_seed(0)
    dae = build_model("dae", image_size=SIZE)
    model = build_model("darla", dae=dae)
    with torch.no_grad():
        dae.bottleneck.weight.add_(1.0)
    assert not torch.equal(dae.bottleneck.weight, model.dae.bottleneck.weight)
    assert dae.bottleneck.weight.requires_grad  # the caller's DAE was not frozen behind its back


def test_dae_follows_dtype_and_device_moves() -> None:
    model = make_darla().double()
    assert next(model.dae.parameters()).dtype == torch.float64
    assert torch.isfinite(model.loss(torch.rand(2, 3, SIZE, SIZE, dtype=torch.float64))["loss"])
    model.to("cpu")
    assert next(model.dae.parameters()).device == torch.device("cpu")


@pytest.mark.parametrize("layer", FEATURE_LAYERS)
def test_every_perceptual_layer_gives_a_finite_loss(layer: str) -> None:
    model = make_darla(perceptual_layer=layer)
    terms = model.loss(torch.rand(2, 3, SIZE, SIZE))
    assert torch.isfinite(terms["loss"]) and terms["recon"] >= 0


def test_darla_is_built_from_a_saved_dae_path(tmp_path) -> None:
    torch.manual_seed(0)
    dae = build_model("dae", image_size=SIZE)
    save_model(dae, tmp_path / "dae")
    model = build_model("darla", dae=tmp_path / "dae")
    for key, value in dae.state_dict().items():
        assert torch.equal(model.dae.state_dict()[key], value)
    assert model.config["dae"] == dae.config


def test_darla_needs_a_trained_dae() -> None:
    with pytest.raises(DarlaError, match="darla needs a trained DAE, got no DAE"):
        build_model("darla")
    with pytest.raises(DarlaError, match="darla needs a trained DAE"):
        build_model("darla", dae={"name": "dae", "image_size": SIZE})
    with pytest.raises(DarlaError, match="differs from the DAE's"):
        build_model("darla", dae=build_model("dae", image_size=SIZE), image_size=64)
    with pytest.raises(DarlaError, match="unknown DAE layer"):
        build_model("darla", dae=build_model("dae", image_size=SIZE), perceptual_layer="fc9")

"""The frozen encoder's runtimes (darla.vision.inference): ONNX Runtime against eager PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from vision_models import shapes_data, tiny_model

from darla.errors import DarlaError
from darla.vision import FrozenEncoder, model_names

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TOLERANCE = 1e-4  # the bound on |onnx - eager| per latent


def _off_initialisation(model):
    """Every weight moved off its initialisation, as training would (spectral norm's u, v too)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for tensor in model.tensors_to_save().values():
            if tensor.is_floating_point():
                tensor.add_(0.05 * torch.randn_like(tensor))
    return model


@pytest.mark.parametrize("name", model_names())
def test_onnx_latents_are_within_tolerance_of_eager_for_every_model(name) -> None:
    frames, _ = shapes_data(40)
    model = _off_initialisation(tiny_model(name))
    eager = model.latent_mean(frames)
    fast = FrozenEncoder(model, "onnx")
    latents = fast(frames)
    assert latents.dtype == np.float32 and latents.shape == eager.shape
    assert np.abs(latents - eager).max() <= TOLERANCE
    assert np.abs(eager).max() > 10 * TOLERANCE  # the bound is not met by codes all near zero
    # a frame's latent does not depend on the other frames of its batch
    np.testing.assert_allclose(fast(frames[:3]), latents[:3], rtol=0, atol=TOLERANCE)
    np.testing.assert_array_equal(fast.in_batches(frames, 16), np.concatenate(
        [fast(frames[k : k + 16]) for k in range(0, len(frames), 16)]
    ))  # fmt: skip
    # eager is PyTorch's forward pass (on contiguous frames, as latent_mean's layout may differ)
    np.testing.assert_allclose(FrozenEncoder(model, "eager")(frames), eager, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("name", ["darla", "infogan"])  # infogan: spectral norm is baked to export
def test_exporting_leaves_the_model_frozen_and_as_it_was(name) -> None:
    frames, _ = shapes_data(8)
    model = _off_initialisation(tiny_model(name)).train()
    before = {k: v.clone() for k, v in model.tensors_to_save().items()}
    eager = model.latent_mean(frames)
    fast = FrozenEncoder(model, "onnx")
    fast(frames)
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    after = model.tensors_to_save()
    assert after.keys() == before.keys()
    assert all(torch.equal(after[k], before[k]) for k in before)
    np.testing.assert_array_equal(model.latent_mean(frames), eager)  # its own forward still runs


def test_bad_runtime_and_bad_frames_are_one_line_errors() -> None:
    model = tiny_model("beta_vae")
    with pytest.raises(DarlaError, match=r"unknown inference='tensorrt': use onnx .* or eager"):
        FrozenEncoder(model, "tensorrt")
    frames, _ = shapes_data(2)
    with pytest.raises(DarlaError, match="expected uint8 frames"):
        FrozenEncoder(model)(frames.astype(np.float32))
    assert FrozenEncoder(model)(frames[:0]).shape == (0, model.latent_dim)

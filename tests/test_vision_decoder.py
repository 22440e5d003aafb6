"""The decoder's upsampling is a choice: resize-convolution (DARLA's default) or transposed convs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from darla.errors import DarlaError
from darla.vision import build_model
from darla.vision.trunk import ConvDecoder, ResizeConv2d

SIZE = 32


@pytest.mark.parametrize("upsampling", ["transposed", "resize"])
def test_both_decoders_give_full_size_images(upsampling: str) -> None:
    decoder = ConvDecoder(SIZE, 6, hidden=(16,), upsampling=upsampling)
    assert decoder(torch.randn(4, 6)).shape == (4, 3, SIZE, SIZE)


def test_resize_conv_is_nearest_upsampling_then_its_3x3_conv_values_and_gradients() -> None:
    torch.manual_seed(0)
    layer = ResizeConv2d(5, 4)
    x = torch.randn(2, 5, 6, 7, requires_grad=True)
    reference = F.conv2d(F.interpolate(x, scale_factor=2), layer.weight, layer.bias, padding=1)
    out = layer(x)
    assert out.shape == (2, 4, 12, 14)
    torch.testing.assert_close(out, reference, rtol=0, atol=1e-5)
    grad = torch.randn_like(out)
    ours = torch.autograd.grad(out, (x, layer.weight, layer.bias), grad)
    theirs = torch.autograd.grad(reference, (x, layer.weight, layer.bias), grad)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-4)


def test_resize_decoder_cannot_paint_a_checkerboard_from_a_flat_feature_map() -> None:
    """A constant feature map stays constant away from the border through nearest upsampling and
    3x3 convs; 4x4 stride-2 transposed convs overlap unevenly and alternate (Odena et al. 2016)."""
    torch.manual_seed(0)
    flat = torch.ones(1, 64, 8, 8)  # 128 px images: the zero padding's reach stays under 16 px
    for upsampling, uniform in (("resize", True), ("transposed", False)):
        decoder = ConvDecoder(128, 6, upsampling=upsampling)
        with torch.no_grad():
            inner = decoder.deconv(flat)[0, :, 16:-16, 16:-16]
        assert torch.allclose(inner, inner[:, :1, :1].expand_as(inner), atol=1e-5) is uniform


def test_darla_defaults_to_resize_and_an_unknown_decoder_is_one_line() -> None:
    dae = build_model("dae", image_size=SIZE)
    assert build_model("darla", dae=dae).config["decoder"] == "resize"
    assert build_model("beta_vae", image_size=SIZE).config["decoder"] == "transposed"
    with pytest.raises(
        DarlaError, match="unknown decoder 'bilinear': use one of transposed, resize"
    ):
        build_model("beta_vae", image_size=SIZE, decoder="bilinear")
    with pytest.raises(DarlaError, match="unknown output 'tanh': use one of linear, sigmoid"):
        build_model("darla", dae=dae, output="tanh")

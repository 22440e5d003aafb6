"""Denoising autoencoder: DARLA's perceptual network J, and the `dae` baseline representation.

conv 32-32-64-64 -> FC bottleneck -> FC -> mirrored transposed convs, trained to reconstruct the
clean image from one with a random occluding rectangle (:mod:`darla.vision.noise`).
"""

from __future__ import annotations

from typing import ClassVar

import torch

from darla.errors import DarlaError
from darla.vision.base import VisionModel
from darla.vision.checks import check_positive_int
from darla.vision.losses import check_likelihood, output_to_image, pixel_reconstruction_loss
from darla.vision.noise import check_mask_fraction, mask_images
from darla.vision.trunk import CONV_LAYERS, ConvDecoder, ConvTrunk, trunk_out_features

FEATURE_LAYERS: tuple[str, ...] = (*CONV_LAYERS, "bottleneck", "output")


class DenoisingAutoencoder(VisionModel):
    """DAE with masking noise. Its code (``encode``) is the linear FC bottleneck.

    Args:
        image_size: side of the square input images; a multiple of 16.
        bottleneck_dim: size of the FC bottleneck (the DAE's code).
        mask_fraction: side of the occluding rectangle as a fraction of the image side, a
            (height, width) pair of fractions, or None for the paper's random-corner rectangle.
        mask_fill: value the occluded pixels are set to (the paper: zero).
        likelihood: pixel loss for the clean reconstruction, ``bernoulli`` or ``gaussian``.
    """

    OPTION_HINTS: ClassVar[dict[str, str]] = {
        "beta": "beta applies to VAE-type models, not vision=dae; drop beta=... or pick vision=darla"
    }

    def __init__(
        self,
        image_size: int = 64,
        bottleneck_dim: int = 100,
        mask_fraction: float | tuple[float, float] | None = 0.5,
        mask_fill: float = 0.0,
        likelihood: str = "bernoulli",
    ) -> None:
        super().__init__()
        check_positive_int("bottleneck_dim", bottleneck_dim, 100)
        check_mask_fraction(mask_fraction)
        check_likelihood(likelihood)
        if isinstance(mask_fraction, tuple):
            mask_fraction = [float(v) for v in mask_fraction]  # JSON has no tuples
        self._config = {
            "name": "dae",
            "image_size": image_size,
            "bottleneck_dim": bottleneck_dim,
            "mask_fraction": mask_fraction,
            "mask_fill": float(mask_fill),
            "likelihood": likelihood,
        }
        self.trunk = ConvTrunk(image_size)
        self.bottleneck = torch.nn.Linear(trunk_out_features(image_size), bottleneck_dim)
        self.decoder = ConvDecoder(image_size, bottleneck_dim)

    @property
    def latent_dim(self) -> int:
        return self._config["bottleneck_dim"]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.bottleneck(self.trunk(x).flatten(1)), None

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return output_to_image(self.decoder(z), self._config["likelihood"])

    def corrupt(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Apply this DAE's configured masking noise to a batch."""
        cfg = self._config
        return mask_images(x, cfg["mask_fraction"], cfg["mask_fill"], generator)

    def loss(
        self, batch: torch.Tensor, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """Pixel loss of reconstructing the clean ``batch`` from its masked copy."""
        code, _ = self.encode(self.corrupt(batch, generator))
        recon = pixel_reconstruction_loss(self.decoder(code), batch, self._config["likelihood"])
        return {"loss": recon, "recon": recon}

    def features(self, x: torch.Tensor, layer: str = "bottleneck") -> torch.Tensor:
        """Activation at ``layer`` (``conv1``..``conv4`` post-ReLU, ``bottleneck``, ``output``).

        This is DARLA's J. Conv layers keep their ``[B, C, h, w]`` shape; ``output`` is the DAE's
        reconstruction in [0, 1]. Only the layers up to ``layer`` are run.
        """
        check_feature_layer(layer)
        if layer in CONV_LAYERS:
            return self.trunk(x, until=layer)
        code, _ = self.encode(x)
        return code if layer == "bottleneck" else self.decode(code)


def check_feature_layer(layer: str) -> str:
    if layer not in FEATURE_LAYERS:
        raise DarlaError(
            f"unknown DAE layer {layer!r} for perceptual_layer: use one of {', '.join(FEATURE_LAYERS)}"
        )
    return layer

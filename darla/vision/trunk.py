"""The conv trunk shared by every model, and its mirrored transposed-conv decoder.

DARLA's encoders all use conv 32-32-64-64 with 4x4 kernels and stride 2 (the DAE and the
β-VAE_DAE alike), so the trunk is one module; models differ only in the heads on top.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from darla.errors import DarlaError

TRUNK_CHANNELS: tuple[int, ...] = (32, 32, 64, 64)
CONV_LAYERS: tuple[str, ...] = tuple(f"conv{i + 1}" for i in range(len(TRUNK_CHANNELS)))


def check_image_size(image_size: int) -> int:
    """Validate that four stride-2 halvings of ``image_size`` leave a whole feature map."""
    if (
        not isinstance(image_size, int)
        or isinstance(image_size, bool)
        or image_size < 16
        or image_size % 16
    ):
        raise DarlaError(
            f"image size {image_size} not supported: the conv trunk halves it 4 times; "
            "use a multiple of 16 such as 64"
        )
    return image_size


def feature_side(image_size: int) -> int:
    """Side of the trunk's last feature map (4 for 64x64 inputs)."""
    return check_image_size(image_size) // 2 ** len(TRUNK_CHANNELS)


def trunk_out_features(image_size: int) -> int:
    """Number of features the trunk flattens to (4*4*64 = 1024 for 64x64 inputs)."""
    return TRUNK_CHANNELS[-1] * feature_side(image_size) ** 2


class ConvTrunk(nn.Module):
    """conv 32-32-64-64, 4x4 kernels, stride 2, padding 1, ReLU: ``[B,3,S,S] -> [B,64,S/16,S/16]``.

    The layers are named ``conv1``..``conv4`` so a DAE can expose any of them as DARLA's
    perceptual feature map J.
    """

    def __init__(self, image_size: int, in_channels: int = 3) -> None:
        super().__init__()
        self.image_size = check_image_size(image_size)
        channels = (in_channels, *TRUNK_CHANNELS)
        for name, c_in, c_out in zip(CONV_LAYERS, channels[:-1], channels[1:], strict=True):
            self.add_module(name, nn.Conv2d(c_in, c_out, kernel_size=4, stride=2, padding=1))

    def forward(self, x: torch.Tensor, until: str | None = None) -> torch.Tensor:
        """Run the trunk; stop after layer ``until`` (post-ReLU) when given."""
        for name in CONV_LAYERS:
            x = torch.relu(getattr(self, name)(x))
            if name == until:
                break
        return x


class ConvDecoder(nn.Module):
    """FC layers -> ``[B,64,S/16,S/16]`` -> 4x4 stride-2 transposed convs -> ``[B,3,S,S]``.

    The mirror of :class:`ConvTrunk`. It returns raw outputs, not images: the Bernoulli
    likelihood needs logits for a numerically stable BCE, the Gaussian one an unsquashed mean
    (see :func:`darla.vision.losses.output_to_image`).

    Args:
        image_size: side S of the output images.
        in_features: size of the code it decodes.
        hidden: sizes of the FC layers before the one that fills the feature map (DARLA's
            β-VAE uses ``(256,)``, the DAE ``()``).
    """

    def __init__(self, image_size: int, in_features: int, hidden: Sequence[int] = ()) -> None:
        super().__init__()
        self.side = feature_side(image_size)
        sizes = (in_features, *hidden, trunk_out_features(image_size))
        layers: list[nn.Module] = []
        for f_in, f_out in itertools.pairwise(sizes):
            layers += [nn.Linear(f_in, f_out), nn.ReLU()]
        self.fc = nn.Sequential(*layers)
        channels = (*reversed(TRUNK_CHANNELS), 3)
        deconvs: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(itertools.pairwise(channels)):
            deconvs.append(nn.ConvTranspose2d(c_in, c_out, kernel_size=4, stride=2, padding=1))
            if i < len(channels) - 2:
                deconvs.append(nn.ReLU())
        self.deconv = nn.Sequential(*deconvs)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(-1, TRUNK_CHANNELS[-1], self.side, self.side)
        return self.deconv(h)

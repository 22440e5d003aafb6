"""The conv trunk shared by every model, and its mirrored transposed-conv decoder.

DARLA's encoders all use conv 32-32-64-64 with 4x4 kernels and stride 2 (the DAE and the
β-VAE_DAE alike), so the trunk is one module; models differ only in the heads on top.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from darla.errors import DarlaError

TRUNK_CHANNELS: tuple[int, ...] = (32, 32, 64, 64)
CONV_LAYERS: tuple[str, ...] = tuple(f"conv{i + 1}" for i in range(len(TRUNK_CHANNELS)))
UPSAMPLING: tuple[str, ...] = ("transposed", "resize")


def check_upsampling(decoder: str) -> str:
    if decoder not in UPSAMPLING:
        raise DarlaError(f"unknown decoder {decoder!r}: use one of {', '.join(UPSAMPLING)}")
    return decoder


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


class ResizeConv2d(nn.Conv2d):
    """Nearest-neighbour x2 upsampling then a 3x3 conv, computed without the upsampled image.

    After nearest upsampling, each output pixel of phase ``(py, px)`` (its row and column parity)
    reads only 2x2 low-resolution pixels, with the 3x3 kernel's taps summed onto them. So the
    layer is one 2x2 conv at low resolution with ``4 * out_channels`` outputs whose kernels are
    folded from the one 3x3 kernel, then interleaved. Same function as
    ``Conv2d(Upsample(x))`` up to float rounding, but 16/36 of its multiply-adds, and it avoids
    the slow backward of a full-resolution conv with 3 output channels: DARLA's β-VAE trains
    ~2.5x faster with it on the CPU. The phases share the 3x3 weights, so unlike sub-pixel
    convolution they cannot drift apart into a checkerboard.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(in_channels, out_channels, kernel_size=3, padding=1)

    def _folded_kernel(self) -> torch.Tensor:
        """``[4 * out, in, 2, 2]``, channel ``o * 4 + py * 2 + px``."""
        w = self.weight
        # along one axis, phase 0 reads (r - 1, r) with taps (0, 1 + 2), phase 1 reads (r, r + 1)
        # with taps (0 + 1, 2)
        rows = torch.stack(
            [
                torch.stack([w[:, :, 0], w[:, :, 1] + w[:, :, 2]], dim=2),
                torch.stack([w[:, :, 0] + w[:, :, 1], w[:, :, 2]], dim=2),
            ]
        )  # [py, out, in, 2, 3]
        kernel = torch.stack(
            [
                torch.stack([rows[..., 0], rows[..., 1] + rows[..., 2]], dim=-1),
                torch.stack([rows[..., 0] + rows[..., 1], rows[..., 2]], dim=-1),
            ],
            dim=1,
        )  # [py, px, out, in, 2, 2]
        return kernel.permute(2, 0, 1, 3, 4, 5).reshape(4 * self.out_channels, -1, 2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv2d(F.pad(x, (1, 1, 1, 1)), self._folded_kernel())  # [n, 4 * out, h + 1, w + 1]
        n, _, h1, w1 = y.shape
        h, w = h1 - 1, w1 - 1
        y = y.view(n, self.out_channels, 2, 2, h1, w1)
        # phase (py, px) of low-resolution pixel (r, c) sits at y[..., py, px, r + py, c + px]
        rows = [
            torch.stack([y[:, :, py, px, py : py + h, px : px + w] for px in (0, 1)], dim=-1)
            for py in (0, 1)
        ]
        out = torch.stack(rows, dim=3)  # [n, out, h, 2, w, 2]
        return out.reshape(n, self.out_channels, 2 * h, 2 * w) + self.bias[:, None, None]


class ConvDecoder(nn.Module):
    """FC layers -> ``[B,64,S/16,S/16]`` -> four x2 upsampling convs -> ``[B,3,S,S]``.

    The mirror of :class:`ConvTrunk`. It returns raw outputs, not images: the Bernoulli
    likelihood needs logits for a numerically stable BCE, the Gaussian one an unsquashed mean
    (see :func:`darla.vision.losses.output_to_image`).

    Two ways to upsample. ``transposed``: 4x4 stride-2 transposed convs, the exact mirror.
    ``resize``: nearest-neighbour x2 then a 3x3 conv (:class:`ResizeConv2d`). A transposed conv whose kernel is not a
    multiple of its stride paints overlapping, uneven patches: a checkerboard at the Nyquist
    frequency (Odena et al. 2016, "Deconvolution and checkerboard artifacts"). A pixel loss
    sees that pattern and trains it away; DARLA's loss sees the image only through a DAE whose
    own strided convs are nearly blind to it, so it stays. Resize-convolution cannot make it.

    Args:
        image_size: side S of the output images.
        in_features: size of the code it decodes.
        hidden: sizes of the FC layers before the one that fills the feature map (DARLA's
            β-VAE uses ``(256,)``, the DAE ``()``).
        upsampling: ``transposed`` or ``resize``.
    """

    def __init__(
        self,
        image_size: int,
        in_features: int,
        hidden: Sequence[int] = (),
        upsampling: str = "transposed",
    ) -> None:
        super().__init__()
        check_upsampling(upsampling)
        self.side = feature_side(image_size)
        sizes = (in_features, *hidden, trunk_out_features(image_size))
        layers: list[nn.Module] = []
        for f_in, f_out in itertools.pairwise(sizes):
            layers += [nn.Linear(f_in, f_out), nn.ReLU()]
        self.fc = nn.Sequential(*layers)
        channels = (*reversed(TRUNK_CHANNELS), 3)
        deconvs: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(itertools.pairwise(channels)):
            if upsampling == "transposed":
                deconvs.append(nn.ConvTranspose2d(c_in, c_out, kernel_size=4, stride=2, padding=1))
            else:
                deconvs.append(ResizeConv2d(c_in, c_out))
            if i < len(channels) - 2:
                deconvs.append(nn.ReLU())
        self.deconv = nn.Sequential(*deconvs)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(-1, TRUNK_CHANNELS[-1], self.side, self.side)
        return self.deconv(h)

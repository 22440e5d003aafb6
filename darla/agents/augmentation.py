"""``pixels_aug``: the pixel agent with its observations augmented in the RL update (DrQ / RAD).

Kostrikov, Yarats & Fergus 2021, "Image Augmentation Is All You Need" (DrQ), and Laskin et al.
2020, "Reinforcement Learning with Augmented Data" (RAD): the strongest zero-shot visual-transfer
baselines since DARLA are pixel agents trained on randomly shifted (and optionally colour
jittered) frames. The default is DrQ's random shift: pad each frame stack by 4 pixels with its
border repeated, then crop back to its size at a random offset. Colour jitter (brightness,
contrast, saturation; RAD's "color jitter") is an option, without hue: in these domains an
object's hue is what tells a good object from a bad one, as in the contrastive encoder.

Augmentation happens in the update only. SB3 puts the policy in training mode for its gradient
steps and in eval mode to collect rollouts and to predict, so :class:`AugmentedNatureCNN`
augments when ``self.training`` is True: rollouts, evaluations and transfer see raw frames, as
RAD's PPO does. A stack of K frames shares one shift and one jitter (the camera moves, or the
lighting changes, for the whole stack, as in RAD's stacked-frame jitter).

The library is kornia (``kornia.augmentation``): its random crop and colour jitter draw their
parameters per image on a whole batch. torchvision's ``transforms.v2`` draws one set of
parameters per call (a batch gets one shift, unless looped image by image), and the registry's
torchvision 0.28.0 wheel is a CUDA build that fails to import beside the CPU torch 2.13.0
(``operator torchvision::nms does not exist``). Draws come from torch's global RNG, which SB3
seeds from the agent's seed and ``darla act``'s checkpoints save and restore, so a resumed agent
draws the same shifts.
"""

from __future__ import annotations

import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import NatureCNN
from torch import nn

from darla.errors import DarlaError
from darla.settings import check_section

# The `augment:` settings of `darla act representation=pixels_aug`, with their defaults.
DEFAULTS = {"shift_pad": 4, "jitter": 0.0, "jitter_prob": 0.8}


def check_augment_settings(augment: dict) -> dict:
    """``augment``'s settings, checked (one line naming the bad value and the fix), as numbers."""
    unknown = sorted(set(augment) - set(DEFAULTS))
    if unknown:
        raise DarlaError(
            f"unknown augment setting(s) {', '.join(unknown)}: use {', '.join(DEFAULTS)}"
        )
    # jitter below 1: a factor of 1 - s = 0 would turn a frame black
    check_section(
        "augment",
        augment,
        whole={"shift_pad": 0},
        real={"jitter": (0, 0.99), "jitter_prob": (0, 1)},
    )
    return {
        "shift_pad": int(augment["shift_pad"]),
        "jitter": float(augment["jitter"]),
        "jitter_prob": float(augment["jitter_prob"]),
    }


class StackAugmentation(nn.Module):
    """A random shift and colour jitter of frame stacks ``[B, 3K, H, W]`` in [0, 1].

    Args:
        image_size: (H, W) of a frame.
        shift_pad: largest shift in pixels along each axis, the border repeated (DrQ: 4); 0 off.
        jitter: brightness, contrast and saturation factors from [1 - s, 1 + s]; 0 off (default).
        jitter_prob: the chance that a stack is jittered at all.
    """

    def __init__(
        self,
        image_size: tuple[int, int],
        shift_pad: int = 4,
        jitter: float = 0.0,
        jitter_prob: float = 0.8,
    ) -> None:
        super().__init__()
        import kornia.augmentation as K  # here: importing kornia takes ~1.7 s, only pixels_aug pays

        self.shift = (
            K.RandomCrop(tuple(image_size), padding=shift_pad, padding_mode="replicate")
            if shift_pad
            else None
        )
        self.jitter = (
            K.ColorJitter(jitter, jitter, jitter, 0.0, p=jitter_prob)
            if jitter > 0 and jitter_prob > 0
            else None
        )

    def forward(self, stacks: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = stacks.shape
        out = stacks if self.shift is None else self.shift(stacks)  # 3K channels: one shift
        if self.jitter is None:
            return out
        frames = channels // 3
        # one draw per stack, repeated for its K frames
        params = self.jitter.forward_parameters(torch.Size((batch, 3, height, width)))
        params = {
            name: value.repeat_interleave(frames, dim=0)
            if name not in ("order", "forward_input_shape")
            else value
            for name, value in params.items()
        }
        params["forward_input_shape"] = torch.tensor((batch * frames, 3, height, width))
        flat = out.reshape(batch * frames, 3, height, width)
        return self.jitter(flat, params=params).reshape(batch, channels, height, width)


class AugmentedNatureCNN(NatureCNN):
    """SB3's NatureCNN, its input augmented while the policy trains (see the module docstring).

    The network is NatureCNN's exactly, so ``pixels_aug`` differs from ``pixels`` in the
    augmentation alone.
    """

    def __init__(
        self,
        observation_space: spaces.Box,
        features_dim: int = 512,
        normalized_image: bool = False,
        shift_pad: int = DEFAULTS["shift_pad"],
        jitter: float = DEFAULTS["jitter"],
        jitter_prob: float = DEFAULTS["jitter_prob"],
    ) -> None:
        super().__init__(observation_space, features_dim, normalized_image)
        # object.__setattr__: not a submodule, so SB3's ortho_init and state dicts never see it
        # (it has no weights); it follows the extractor's training mode through `training`.
        object.__setattr__(
            self,
            "augmentation",
            StackAugmentation(tuple(observation_space.shape[1:]), shift_pad, jitter, jitter_prob),
        )

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        if self.training:
            observations = self.augmentation(observations)
        return super().forward(observations)


def augmented_policy_kwargs(augment: dict) -> dict:
    """SB3 ``policy_kwargs`` entries that make a ``CnnPolicy`` a ``pixels_aug`` policy."""
    return {"features_extractor_class": AugmentedNatureCNN, "features_extractor_kwargs": augment}


__all__ = [
    "DEFAULTS",
    "AugmentedNatureCNN",
    "StackAugmentation",
    "augmented_policy_kwargs",
    "check_augment_settings",
]

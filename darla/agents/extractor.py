"""The vision module as an SB3 ``BaseFeaturesExtractor``: for ``darla_ft`` and users' own scripts.

    from darla.agents import DarlaFeaturesExtractor
    model = PPO("CnnPolicy", env, policy_kwargs=dict(
        features_extractor_class=DarlaFeaturesExtractor,
        features_extractor_kwargs=dict(vision="runs/see/darla-<key>")))

Frozen (the default) means frozen in plain SB3 use, which takes care because SB3 assumes an
extractor is an ordinary trainable module:

- PPO's ``ortho_init`` calls ``features_extractor.apply(init_weights)`` after construction and
  would overwrite pretrained conv and linear weights with orthogonal noise;
- ``policy.set_training_mode(True)`` calls ``train()`` on every submodule each update;
- the optimizer is built over ``policy.parameters()``;
- DQN builds its target network as a second extractor and Polyak-averages its parameters.

A frozen encoder is therefore held outside ``nn.Module``'s registry (as DARLA holds its DAE):
``apply``, ``train``, ``parameters``, ``state_dict`` and ``polyak_update`` never see it, while
``.to(device)`` still moves it. Each extractor (online and target network alike) loads the same
file, so they hold the same frozen weights. A trainable encoder (``trainable=True``,
``darla_ft``) is a registered submodule, and :meth:`apply` skips it so ortho_init keeps the
pretrained starting point; the RL loss then trains it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from darla.agents.encoders import check_image_size, encode_tensor, freeze, load_encoder
from darla.vision import VisionModel


class DarlaFeaturesExtractor(BaseFeaturesExtractor):
    """μ(x) of a vision module as SB3 features (``features_dim`` = the model's latent size).

    Stacked frames (``VecFrameStack``: ``[3K, H, W]``, oldest first) are encoded one frame at a
    time and their latents laid side by side (``features_dim`` = K × latent size), the same
    layout as a frame stack over :class:`~darla.agents.LatentVecEnv`'s latents (only an
    episode's first K - 1 steps differ: their padding is μ of a black frame here, zeros there).

    Args:
        observation_space: SB3's image space (``[3K, H, W]`` uint8 after ``VecTransposeImage``);
            SB3 divides by 255 before the extractor, which is the [0, 1] input the models take.
        vision: a ``darla see`` run folder, a ``model.safetensors`` path, or a VisionModel. A path
            keeps saved SB3 zips small; a model object is copied, never shared or modified.
        trainable: False (default): frozen, see the module docstring. True: fine-tuned by the
            RL loss, starting from the loaded weights.
    """

    def __init__(
        self,
        observation_space: spaces.Box,
        vision: str | os.PathLike[str] | VisionModel,
        trainable: bool = False,
    ) -> None:
        encoder = load_encoder(vision)
        if isinstance(vision, VisionModel):
            import copy

            encoder = copy.deepcopy(encoder)
        check_image_size(encoder, observation_space.shape)
        channels = int(observation_space.shape[0])
        if channels % 3:
            raise ValueError(
                f"DarlaFeaturesExtractor takes [3K, H, W] frames, got {observation_space}"
            )
        self.frames = channels // 3
        super().__init__(observation_space, features_dim=self.frames * int(encoder.latent_dim))
        self.trainable = bool(trainable)
        if self.trainable:
            self.encoder = encoder.requires_grad_(True).train()
        else:
            # object.__setattr__ bypasses nn.Module's registry: see the module docstring.
            object.__setattr__(self, "_frozen_encoder", freeze(encoder))

    @property
    def vision_model(self) -> VisionModel:
        """The encoder in use (frozen or fine-tuned)."""
        return self.encoder if self.trainable else self._frozen_encoder

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = observations.shape
        frames = observations.reshape(batch * self.frames, 3, height, width)
        if self.trainable:
            latents = encode_tensor(self.encoder, frames)
        else:
            with torch.no_grad():
                latents = encode_tensor(self._frozen_encoder, frames)
        return latents.reshape(batch, self.features_dim)

    def apply(self, fn: Callable[[nn.Module], None]) -> DarlaFeaturesExtractor:
        # SB3's ortho_init re-initialises every Linear/Conv2d an extractor holds; pretrained
        # weights must survive it, so the encoder is skipped (it is not a child when frozen).
        for name, module in self.named_children():
            if name != "encoder":
                module.apply(fn)
        fn(self)
        return self

    def _apply(self, fn: Callable[..., Any], recurse: bool = True) -> DarlaFeaturesExtractor:
        # .to(), .cuda(), .double() go through _apply: the unregistered frozen encoder follows.
        super()._apply(fn, recurse)
        if not self.trainable:
            self._frozen_encoder._apply(fn, recurse)
        return self

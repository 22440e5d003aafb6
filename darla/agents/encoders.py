"""The vision module as the agent's eyes: loading it, freezing it, and encoding frames with it.

Every representation an agent can act on is μ(x) of some :class:`~darla.vision.VisionModel`
(``encode(x)[0]``): DARLA's β-VAE_DAE, a pixel β-VAE, a VAE, a DAE's code, or an untrained
encoder of the same architecture. The wrapper (:mod:`darla.agents.wrapper`) and
:func:`darla.agents.load_agent` encode uint8 frames through one
:class:`~darla.vision.inference.FrozenEncoder` each (their stage's ``inference`` runtime); the
features extractor (:mod:`darla.agents.extractor`), which gets SB3's float tensors and may
fine-tune, through :func:`encode_tensor`.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from darla.errors import DarlaError
from darla.vision import VisionModel, build_model, load_model
from darla.vision.serialization import weights_path


def freeze(model: VisionModel) -> VisionModel:
    """Eval mode, no gradients: a frozen encoder computes μ(x) and nothing else."""
    return model.requires_grad_(False).eval()


def load_encoder(
    vision: str | os.PathLike[str] | VisionModel, device: str | torch.device = "cpu"
) -> VisionModel:
    """A vision model from a run folder, a ``.safetensors`` file, or a model object (as is)."""
    if isinstance(vision, VisionModel):
        return vision
    file = weights_path(vision)
    if not file.is_file():
        raise DarlaError(
            f"no vision model at {file}: pass a finished `darla see` run folder (vision_run=PATH) "
            "or run `darla see` first"
        )
    return load_model(file, device)


def check_image_size(model: VisionModel, obs_shape: tuple[int, ...], where: str = "") -> None:
    """Refuse an encoder trained on another frame size than the env's observations."""
    size = model.config.get("image_size")
    # [H, W, 3] frames, or SB3's channel-first view [3K, H, W] of K stacked frames
    height, width = obs_shape[:2] if obs_shape[-1] == 3 else (obs_shape[-2], obs_shape[-1])
    if size is not None and (height, width) != (size, size):
        source = f" {where}" if where else ""
        raise DarlaError(
            f"the vision model{source} takes {size}x{size} frames but the env gives "
            f"{height}x{width}: set act.obs_size={size} or use a vision run trained at "
            f"{height}px (`darla see data.obs_size={height}`)"
        )


def random_encoder(seed: int, image_size: int, latent_dim: int = 32, hidden_dim: int = 256):
    """The ``random`` baseline: DARLA's encoder architecture with untrained weights, frozen.

    β-VAE_DAE and β-VAE share the encoder (conv 32-32-64-64, FC, μ head); only their losses
    differ, so an untrained ``beta_vae`` is an untrained DARLA encoder.
    """
    generator_state = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = build_model(
            "beta_vae", image_size=image_size, latent_dim=latent_dim, hidden_dim=hidden_dim
        )
    finally:
        torch.set_rng_state(generator_state)  # building it must not shift the agent's RNG stream
    return freeze(model)


def encode_tensor(model: VisionModel, x: torch.Tensor) -> torch.Tensor:
    """μ(x) for float frames ``[B, 3, H, W]`` in [0, 1]; contiguous so batch layouts agree."""
    mu, _ = model.encode(x.contiguous())
    return mu


def model_file(vision: str | os.PathLike[str]) -> Path:
    return weights_path(vision)

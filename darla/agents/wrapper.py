"""The fast path for frozen encoders: a VecEnv that hands the agent latents, not frames.

One batched forward pass per step encodes every sub-env's frame (and, on a step where episodes
are truncated, a second one their last frames, which SB3 bootstraps from). The agent's observation space is
``Box(D,)`` float32, so SB3's rollout and replay buffers store D floats per step instead of a
``64x64x3`` image (a 1M-transition DQN buffer: 256 MB instead of 24 GB), and PPO's epochs
over a rollout never run the encoder again.

Given the vision run's :class:`~darla.vision.code_stats.CodeStats`, the latents are standardised
with them (each latent's mean and std over that run's training frames), so every module's code
reaches the agent at about unit scale.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from darla.agents.encoders import check_image_size, freeze
from darla.vision import FrozenEncoder, VisionModel
from darla.vision.code_stats import CodeStats


class LatentVecEnv(VecEnvWrapper):
    """Wrap a VecEnv of uint8 ``[H, W, 3]`` frames; observations become μ(frame) ``[D]``,
    standardised with ``code_stats`` when given.

    The encoder is frozen here (eval mode, no gradients) and never trained through this
    wrapper: use :class:`darla.agents.DarlaFeaturesExtractor` to fine-tune it.
    ``inference`` is the runtime μ(x) runs in (:mod:`darla.vision.inference`).
    ``last_frames`` holds the raw frames of the latest reset/step (for videos and checks).
    """

    def __init__(
        self,
        venv: VecEnv,
        encoder: VisionModel,
        code_stats: CodeStats | None = None,
        inference: str = "onnx",
    ) -> None:
        space = venv.observation_space
        if not (isinstance(space, spaces.Box) and space.dtype == np.uint8 and space.shape[-1] == 3):
            raise TypeError(f"LatentVecEnv needs uint8 [H, W, 3] frames, got {space}")
        check_image_size(encoder, space.shape)
        self.encoder = freeze(encoder)
        self.eyes = FrozenEncoder(self.encoder, inference)
        dim = int(encoder.latent_dim)
        if code_stats is not None and code_stats.mean.shape != (dim,):
            raise ValueError(
                f"code statistics of {code_stats.mean.shape[0]} latents for an encoder of {dim}"
            )
        self.code_stats = code_stats
        latent_space = spaces.Box(-np.inf, np.inf, shape=(dim,), dtype=np.float32)
        super().__init__(venv, observation_space=latent_space)
        self.last_frames: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        frames = self.venv.reset()
        self.last_frames = frames
        return self._encode(frames)

    def step_wait(self):
        frames, rewards, dones, infos = self.venv.step_wait()
        self.last_frames = frames
        latents = self._encode(frames)
        # Truncated episodes carry their last frame; SB3 bootstraps its value, so it must be a
        # latent too. A separate pass: a frame's latent must not depend on how many episodes
        # happened to end beside it (a conv's float sums change with the batch size, and a
        # resumed run must see bit for bit what an uninterrupted one saw).
        ends = [i for i, info in enumerate(infos) if "terminal_observation" in info]
        if ends:
            last = self._encode(np.stack([infos[i]["terminal_observation"] for i in ends]))
            for row, i in enumerate(ends):
                infos[i]["terminal_observation"] = last[row]
        return latents, rewards, dones, infos

    def _encode(self, frames: np.ndarray) -> np.ndarray:
        latents = self.eyes(frames)
        return latents if self.code_stats is None else self.code_stats.standardise(latents)

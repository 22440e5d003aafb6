"""``load_agent(run_dir)``: a trained agent that acts on raw pixels, whatever its representation.

The agent carries its encoder: for a frozen representation it encodes frames with the same
vision model (checked by sha256) the wrapper used in training, then asks the policy. Loading
executes no pickled code: the policy is rebuilt from ``agent.json`` and only its weights are read
from the SB3 zip (``policy.pth``, loaded with ``weights_only=True``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from darla.agents.algos import get_algo, policy_kwargs
from darla.agents.encoders import encode_frames, freeze, load_encoder
from darla.errors import DarlaError
from darla.io import sha256_file
from darla.manifest import MANIFEST, read_manifest
from darla.vision import VisionModel

AGENT_FILE = "agent.json"
MODEL_FILE = "model.zip"
FORMAT = "darla.agent"
FORMAT_VERSION = 1


@dataclass
class Agent:
    """A trained policy plus the encoder it needs; ``predict`` takes uint8 frames.

    Attributes:
        representation: the representation name it was trained on (``darla``, ``pixels``...).
        algo: ``ppo`` or ``dqn``.
        policy: the SB3 policy (eval mode).
        encoder: the frozen vision module for latent representations, else None (pixel and
            fine-tuned agents encode inside the policy).
        obs_size: the frame side it expects.
    """

    representation: str
    algo: str
    policy: Any
    encoder: VisionModel | None
    obs_size: int
    run_dir: Path

    def observe(self, obs_uint8: np.ndarray) -> np.ndarray:
        """What the policy sees for frames ``[N, H, W, 3]``: latents ``[N, D]`` or the frames."""
        if self.encoder is None:
            return obs_uint8
        return encode_frames(self.encoder, obs_uint8)

    def predict(self, obs_uint8: np.ndarray, deterministic: bool = True) -> np.ndarray | int:
        """Action(s) for one frame ``[H, W, 3]`` (an int) or a batch ``[N, H, W, 3]`` (an array)."""
        obs_uint8 = np.asarray(obs_uint8)
        single = obs_uint8.ndim == 3
        frames = obs_uint8[None] if single else obs_uint8
        if (
            frames.ndim != 4
            or frames.shape[1:] != (self.obs_size, self.obs_size, 3)
            or frames.dtype != np.uint8
        ):
            raise DarlaError(
                f"agent {self.run_dir} takes uint8 frames [N, {self.obs_size}, {self.obs_size}, 3], "
                f"got {frames.dtype} {tuple(obs_uint8.shape)}: make the env with obs_size={self.obs_size}"
            )
        actions, _ = self.policy.predict(self.observe(frames), deterministic=deterministic)
        return int(actions[0]) if single else actions


def load_agent(
    run_dir: str | os.PathLike[str], device: str | torch.device = "cpu", *, verify: bool = True
) -> Agent:
    """Load a ``darla act`` run folder (or its final ``model.zip``'s folder) as an :class:`Agent`.

    ``verify=False`` skips re-hashing ``model.zip`` and the vision file: only for a process
    loading an agent its parent has just loaded and verified (transfer's workers).
    """
    from stable_baselines3.common.save_util import load_from_zip_file

    run_dir = Path(run_dir)
    spec = read_agent_spec(run_dir)
    model_zip = run_dir / MODEL_FILE
    if not model_zip.is_file():
        raise DarlaError(
            f"{run_dir} has no {MODEL_FILE}: the run did not finish; re-run `darla act` to resume it"
        )
    # an SB3 zip is partly unpickled on load: only the bytes `darla act` wrote are accepted
    recorded = ((read_manifest(run_dir) or {}).get("files") or {}).get(MODEL_FILE)
    if verify and recorded is not None and sha256_file(model_zip) != recorded:
        raise DarlaError(
            f"{model_zip} changed since `darla act` wrote it (its sha256 differs from the run's "
            f"{MANIFEST}): restore it, or retrain with `darla act --force`"
        )
    encoder = None
    vision_file = None
    if spec["vision"] is not None:
        vision_file = resolve_vision_file(run_dir, spec["vision"], verify=verify)
    if spec["mode"] == "latent":
        encoder = freeze(load_encoder(vision_file, device))
    policy = build_policy(spec, vision_file, device)
    _, params, _ = load_from_zip_file(model_zip, load_data=False, device=device)
    try:
        policy.load_state_dict(params["policy"])
    except (KeyError, RuntimeError) as err:
        raise DarlaError(
            f"{model_zip} does not match {AGENT_FILE} ({str(err).splitlines()[0]}): re-run `darla act --force`"
        ) from err
    policy.set_training_mode(False)
    return Agent(
        spec["representation"], spec["algo"], policy, encoder, int(spec["obs_size"]), run_dir
    )


def read_agent_spec(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / AGENT_FILE
    if not path.is_file():
        raise DarlaError(
            f"{run_dir} is not a `darla act` run folder (no {AGENT_FILE}): pass runs/act/<name>"
        )
    spec = json.loads(path.read_text())
    if spec.get("format") != FORMAT or spec.get("format_version") != FORMAT_VERSION:
        raise DarlaError(
            f"{path} is not a darla agent description of format {FORMAT_VERSION}: re-run `darla act`"
        )
    return spec


def resolve_vision_file(run_dir: Path, vision: dict[str, str], *, verify: bool = True) -> Path:
    """The vision model an agent was trained with, found relative to the run folder first."""
    candidates = [Path(run_dir) / vision["relative_path"], Path(vision["path"])]
    for file in candidates:
        if file.is_file():
            if verify and sha256_file(file) != vision["sha256"]:
                raise DarlaError(
                    f"{file} changed since agent {run_dir} was trained on it (sha256 differs): "
                    "restore that vision run or retrain with `darla act --force`"
                )
            return file
    raise DarlaError(
        f"agent {run_dir} needs its vision model {vision['path']}, which is missing: restore that "
        "`darla see` run folder beside the act runs"
    )


def observation_space(spec: dict[str, Any]) -> spaces.Box:
    size = int(spec["obs_size"])
    if spec["mode"] == "latent":
        return spaces.Box(-np.inf, np.inf, shape=(int(spec["latent_dim"]),), dtype=np.float32)
    return spaces.Box(0, 255, shape=(3, size, size), dtype=np.uint8)  # SB3's channel-first view


def build_policy(
    spec: dict[str, Any], vision_file: Path | None, device: str | torch.device = "cpu"
):
    algo = get_algo(spec["algo"])
    policy_class = algo.policy_aliases[spec["policy"]["policy"]]
    kwargs = policy_kwargs(spec["policy"])
    if "features_extractor_kwargs" in kwargs:
        kwargs["features_extractor_kwargs"]["vision"] = str(vision_file)
    policy = policy_class(
        observation_space(spec), spaces.Discrete(int(spec["n_actions"])), lambda _: 0.0, **kwargs
    )
    return policy.to(device)

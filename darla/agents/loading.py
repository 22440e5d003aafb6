"""``load_agent(run_dir)``: a trained agent that acts on raw pixels, whatever its representation.

The agent carries its encoder: for a frozen representation it encodes frames with the same
vision model (checked by sha256) the wrapper used in training, standardises the codes with the
statistics training used (recorded in ``agent.json`` itself, not read from the vision run
again), then asks the policy. Loading
executes no pickled code: the policy is rebuilt from ``agent.json`` and only its weights are read
from the SB3 zip (``policy.pth``, loaded with ``weights_only=True``).

An agent trained with a frame stack or an LSTM acts on a history, which it keeps per row of the
batch it is given, as training's VecEnv kept it per sub-env: call ``reset()`` before new
episodes (or pass ``episode_start``), then ``predict`` each step's frames in order::

    agent.reset()
    action = agent.predict(frames)                       # the episodes' first frames
    action = agent.predict(frames, episode_start=dones)  # rows that began a new episode
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from darla.agents.algos import get_algo, is_recurrent, policy_class, policy_kwargs
from darla.agents.encoders import freeze, load_encoder
from darla.errors import DarlaError
from darla.io import sha256_file
from darla.manifest import MANIFEST, read_manifest
from darla.vision import FrozenEncoder, VisionModel
from darla.vision.code_stats import CodeStats, stats_from_record

AGENT_FILE = "agent.json"
MODEL_FILE = "model.zip"
FORMAT = "darla.agent"
# 2 added frame_stack (a version-1 agent sees one frame); 3 the code statistics a frozen
# module's latents are standardised with (a version-1 or -2 agent sees raw latents)
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)


@dataclass
class Agent:
    """A trained policy plus the encoder it needs; ``predict`` takes uint8 frames.

    Attributes:
        representation: the representation name it was trained on (``darla``, ``pixels``...).
        algo: ``ppo``, ``dqn`` or ``recurrent_ppo``.
        policy: the SB3 policy (eval mode).
        encoder: the frozen vision module for latent representations, else None (pixel and
            fine-tuned agents encode inside the policy).
        obs_size: the frame side it expects.
        frame_stack: how many of the latest observations the policy sees (1: the frame alone).
        recurrent: whether the policy carries an LSTM state from step to step.
        code_stats: what the encoder's latents are standardised with before the policy sees
            them (the vision run's training-frame statistics), or None: raw latents.
        inference: the runtime the encoder's μ(x) runs in (:mod:`darla.vision.inference`).
    """

    representation: str
    algo: str
    policy: Any
    encoder: VisionModel | None
    obs_size: int
    run_dir: Path
    frame_stack: int = 1
    recurrent: bool = False
    code_stats: CodeStats | None = None
    inference: str = "onnx"
    _eyes: FrozenEncoder | None = field(default=None, init=False, repr=False)
    # per row: the stacked observations and the LSTM state (h, c) after the last predict
    _stack: np.ndarray | None = field(default=None, init=False, repr=False)
    _lstm: tuple[np.ndarray, np.ndarray] | None = field(default=None, init=False, repr=False)
    _rows: int | None = field(default=None, init=False, repr=False)  # as reset() was told
    _batch: int = field(default=0, init=False, repr=False)  # rows of the last predict
    _fresh: bool = field(default=True, init=False, repr=False)

    @property
    def has_memory(self) -> bool:
        return self.frame_stack > 1 or self.recurrent

    def reset(self, n_envs: int | None = None) -> None:
        """Forget every row's history: the next ``predict`` starts a new episode in each row
        (``n_envs``, when given, is the number of rows it must have)."""
        self._stack, self._lstm, self._fresh = None, None, True
        self._rows = None if n_envs is None else int(n_envs)

    def observe(self, obs_uint8: np.ndarray) -> np.ndarray:
        """What the policy sees of frames ``[N, H, W, 3]`` alone, without the history: latents
        ``[N, D]`` (standardised when the agent was trained on standardised codes) or the frames."""
        if self.encoder is None:
            return obs_uint8
        if self._eyes is None:
            self._eyes = FrozenEncoder(self.encoder, self.inference)
        latents = self._eyes(obs_uint8)
        return latents if self.code_stats is None else self.code_stats.standardise(latents)

    def predict(
        self,
        obs_uint8: np.ndarray,
        deterministic: bool = True,
        episode_start: np.ndarray | None = None,
    ) -> np.ndarray | int:
        """Action(s) for one frame ``[H, W, 3]`` (an int) or a batch ``[N, H, W, 3]`` (an array).

        Each row continues its episode's history unless ``episode_start[row]`` is true, the
        agent was just :meth:`reset`, or the batch has another number of rows than the last one
        (then every row starts an episode).
        """
        frames, single = self._check_frames(obs_uint8)
        inputs, starts = self._advance(frames, episode_start)
        if self.recurrent:
            actions, self._lstm = self.policy.predict(
                inputs, state=self._lstm, episode_start=starts, deterministic=deterministic
            )
        else:
            # SB3's predict() less its per-call set_training_mode(False), a walk over every
            # submodule that cost a third of the policy's time per transfer step; the policy is
            # in eval mode already (set at load; SB3 sets it for every rollout in act)
            if self.policy.training:
                self.policy.set_training_mode(False)
            with torch.no_grad():
                tensor, _ = self.policy.obs_to_tensor(inputs)
                actions = self.policy._predict(tensor, deterministic=deterministic).cpu().numpy()
        return int(actions[0]) if single else actions

    def action_probabilities(
        self, obs_uint8: np.ndarray, episode_start: np.ndarray | None = None
    ) -> np.ndarray:
        """The policy's action probabilities ``[N, n_actions]`` for frames ``[N, H, W, 3]``; the
        history advances as in :meth:`predict` (one or the other per step). Not for DQN."""
        frames, _ = self._check_frames(obs_uint8)
        inputs, starts = self._advance(frames, episode_start)
        with torch.no_grad():
            tensor, _ = self.policy.obs_to_tensor(inputs)
            if not self.recurrent:
                return self.policy.get_distribution(tensor).distribution.probs.cpu().numpy()
            device = self.policy.device
            if self._lstm is None:
                shape = list(self.policy.lstm_hidden_state_shape)
                shape[1] = len(frames)
                self._lstm = (np.zeros(shape, np.float32), np.zeros(shape, np.float32))
            state = tuple(
                torch.as_tensor(s, dtype=torch.float32, device=device) for s in self._lstm
            )
            starts_tensor = torch.as_tensor(starts, dtype=torch.float32, device=device)
            distribution, state = self.policy.get_distribution(tensor, state, starts_tensor)
            self._lstm = (state[0].cpu().numpy(), state[1].cpu().numpy())
            return distribution.distribution.probs.cpu().numpy()

    def _check_frames(self, obs_uint8: np.ndarray) -> tuple[np.ndarray, bool]:
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
        return frames, single

    def _advance(
        self, frames: np.ndarray, episode_start: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The policy's input for this step (the frame stack updated) and the rows that start
        an episode with it."""
        n = len(frames)
        if self._rows is not None and n != self._rows:
            raise DarlaError(
                f"agent {self.run_dir} was reset for {self._rows} rows but got {n} frames: "
                f"call reset({n}) first"
            )
        if self._fresh or n != self._batch:
            starts = np.ones(n, dtype=bool)
            self._stack = self._lstm = None
        elif episode_start is None:
            starts = np.zeros(n, dtype=bool)
        else:
            starts = np.asarray(episode_start, dtype=bool).reshape(-1)
            if len(starts) != n:
                raise DarlaError(f"episode_start has {len(starts)} rows, the frames {n}")
        self._fresh, self._batch = False, n
        observed = self.observe(frames)
        if self.frame_stack <= 1:
            return observed, starts
        # SB3's VecFrameStack on the last axis: roll the oldest out, zero the rows that start
        # an episode, put the newest observation last
        width = observed.shape[-1]
        if self._stack is None:
            shape = (*observed.shape[:-1], width * self.frame_stack)
            self._stack = np.zeros(shape, dtype=observed.dtype)
        stack = np.roll(self._stack, -width, axis=-1)
        stack[starts] = 0
        stack[..., -width:] = observed
        self._stack = stack
        return stack, starts


def load_agent(
    run_dir: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    *,
    verify: bool = True,
    inference: str = "onnx",
) -> Agent:
    """Load a ``darla act`` run folder (or its final ``model.zip``'s folder) as an :class:`Agent`.

    ``inference`` is the runtime its frozen encoder runs in: ``onnx`` (the default) or ``eager``.

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
    return agent_of(run_dir, spec, policy, encoder, inference)


def agent_of(
    run_dir: Path, spec: dict[str, Any], policy: Any, encoder: Any, inference: str = "onnx"
) -> Agent:
    """The :class:`Agent` an ``agent.json`` describes, around ``policy`` (loaded, or the one
    ``darla act`` is training) and its frozen ``encoder``: the same history and input scaling
    whoever asks (load_agent, act's evaluations)."""
    return Agent(
        spec["representation"],
        spec["algo"],
        policy,
        encoder,
        int(spec["obs_size"]),
        Path(run_dir),
        frame_stack=frame_stack(spec),
        recurrent=is_recurrent(spec["algo"]),
        code_stats=None if encoder is None else code_stats(run_dir, spec, int(encoder.latent_dim)),
        inference=inference,
    )


def read_agent_spec(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / AGENT_FILE
    if not path.is_file():
        raise DarlaError(
            f"{run_dir} is not a `darla act` run folder (no {AGENT_FILE}): pass runs/act/<name>"
        )
    spec = json.loads(path.read_text())
    if spec.get("format") != FORMAT or spec.get("format_version") not in READABLE_VERSIONS:
        raise DarlaError(
            f"{path} is not a darla agent description of format {FORMAT_VERSION}: re-run `darla act`"
        )
    return spec


def frame_stack(spec: dict[str, Any]) -> int:
    return int(spec.get("frame_stack") or 1)


def code_stats(run_dir: Path, spec: dict[str, Any], latent_dim: int) -> CodeStats | None:
    """The statistics ``agent.json`` records under ``vision.code_stats``; None (raw latents) for
    an agent trained without them, or written before they existed (format 1 and 2)."""
    recorded = (spec.get("vision") or {}).get("code_stats")
    if recorded is None:
        return None
    where = Path(run_dir) / AGENT_FILE
    return stats_from_record(recorded, latent_dim, where, "re-run `darla act --force`")


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
    """What the policy takes: K stacked latents ``[K * D]`` or frames ``[3K, H, W]``."""
    size, stack = int(spec["obs_size"]), frame_stack(spec)
    if spec["mode"] == "latent":
        dim = stack * int(spec["latent_dim"])
        return spaces.Box(-np.inf, np.inf, shape=(dim,), dtype=np.float32)
    return spaces.Box(0, 255, shape=(3 * stack, size, size), dtype=np.uint8)  # channel-first


def build_policy(
    spec: dict[str, Any], vision_file: Path | None, device: str | torch.device = "cpu"
):
    algo = get_algo(spec["algo"])
    cls = policy_class(algo, spec["policy"]["policy"])
    kwargs = policy_kwargs(spec["policy"])
    if vision_file is not None and "features_extractor_kwargs" in kwargs:  # darla_ft's encoder
        kwargs["features_extractor_kwargs"]["vision"] = str(vision_file)
    policy = cls(
        observation_space(spec), spaces.Discrete(int(spec["n_actions"])), lambda _: 0.0, **kwargs
    )
    return policy.to(device)

"""What the transfer stage evaluates: a policy on raw pixels, plus what it sees through.

A :class:`Policy` is the small protocol every evaluated thing implements, trained agent and
baseline alike::

    predict(obs_uint8 [N, H, W, 3], deterministic=True) -> int actions [N]
    name, method, seed, obs_size          # labels for the report
    vision: VisionModel | None            # its eyes: reconstructions, latents, latent shift

Optional: ``reset(seeds)`` is called with one seed per row before a batch of episodes, so a
stochastic policy can draw each row's actions from that episode's own stream (results then do
not depend on how episodes are batched across processes), and a policy with a memory (a frame
stack, an LSTM) starts every row's history afresh. ``predict`` is then called once per step
with every row's latest frame, in order; a row whose episode ended is no longer stepped, and
what the policy returns for it is ignored.

:func:`load_policy` is the one adapter to stage 2 (:func:`darla.agents.load_agent`);
:class:`RandomPolicy` is the uniformly random baseline the transfer ratio is measured above;
:class:`BlindPolicy` is an agent shown blank frames, the twin the blind diagnostic compares it
with (:func:`blind_share`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import yaml

from darla.errors import DarlaError
from darla.io import sha256_file
from darla.manifest import MANIFEST, read_manifest

N_ACTIONS = 3  # CollectGoodObjects: turn left, turn right, forward


@runtime_checkable
class Policy(Protocol):
    name: str
    method: str
    seed: int | None
    obs_size: int
    vision: Any  # darla.vision.VisionModel | None

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray: ...


def _episode_rng(seed: int) -> np.random.Generator:
    # a stream of its own: never the stream that placed the episode's objects
    return np.random.default_rng(np.random.SeedSequence([int(seed), 0x7A11]))


class RandomPolicy:
    """Uniformly random actions: the floor every transfer ratio is measured above.

    Each row draws from its own episode's generator (set by :meth:`reset`), so a row's actions
    depend on its episode seed only.
    """

    method = "random"
    vision = None
    seed = None

    def __init__(self, obs_size: int, n_actions: int = N_ACTIONS, name: str = "random") -> None:
        self.name = name
        self.obs_size = int(obs_size)
        self.n_actions = int(n_actions)
        self._rngs: list[np.random.Generator] = [_episode_rng(0)]

    def reset(self, seeds: Sequence[int]) -> None:
        self._rngs = [_episode_rng(s) for s in seeds]

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        if len(self._rngs) != len(obs):
            self.reset(range(len(obs)))
        return np.array([rng.integers(self.n_actions) for rng in self._rngs], dtype=np.int64)


class BlindPolicy:
    """An agent shown one blank frame (uniform grey) at every step: the blind diagnostic.

    Its actions cannot depend on what the agent would have seen, only on the episode's action
    stream (:meth:`reset` passes the seeds on) and the agent's own history of blank inputs. So an
    episode in which the real agent takes exactly the actions its blind twin takes on the same
    seed is one it played whatever the frames were: a greedy policy that replays one action
    pattern scores a transfer ratio near 1 by construction, and this finds it. Nothing the blind
    twin sees depends on the domain (the looks are all it changes), so one domain's play of it
    stands for all.
    """

    method = "blind"
    vision = None
    BLANK = 128  # the grey every frame is replaced with

    def __init__(self, policy: Any) -> None:
        self.policy = policy
        self.name = f"{policy.name} (blind)"
        self.seed = policy.seed
        self.obs_size = policy.obs_size

    def reset(self, seeds: Sequence[int]) -> None:
        if hasattr(self.policy, "reset"):
            self.policy.reset(seeds)

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        return self.policy.predict(np.full_like(obs, self.BLANK), deterministic)


def blind_share(played: Sequence[dict[str, Any]], blind: Sequence[dict[str, Any]]) -> float | None:
    """The share of ``played`` episodes whose action sequence equals the blind twin's on the same
    seed (None when either side predates action digests)."""
    twin = {e["seed"]: e.get("actions") for e in blind}
    same = [twin.get(e["seed"]) for e in played]
    if not played or any(e.get("actions") is None for e in played) or None in same:
        return None
    return float(np.mean([e["actions"] == t for e, t in zip(played, same, strict=True)]))


class AgentPolicy:
    """A ``darla act`` run as a :class:`Policy` (wraps :class:`darla.agents.Agent`).

    The agent keeps each row's history (its frame stack, its LSTM state) from one ``predict``
    to the next, as its training envs did per sub-env; ``reset`` starts every row afresh.
    Pickles as its run folder: a worker process loads the agent itself (once per process)
    rather than receiving the weights through a pipe.
    """

    def __init__(self, agent: Any, run_dir: Path, run_config: dict[str, Any]) -> None:
        self.agent = agent
        self.run_dir = Path(run_dir)
        self.name = self.run_dir.name
        self.representation = str(agent.representation)
        self.algo = str(agent.algo)
        self.method = self.representation
        self.seed = run_config.get("seed")
        self.obs_size = int(agent.obs_size)
        act = run_config.get("act") or {}
        self.source_domains = act.get("source_domains")
        self.episode_steps = act.get("episode_steps")
        self.env_kwargs = dict(act.get("env") or {})
        self.eval_deterministic = act.get("eval_deterministic")  # act's action rule
        # None while act still trains it (its manifest is written last)
        manifest = self.run_dir / MANIFEST
        self.manifest_sha256 = sha256_file(manifest) if manifest.is_file() else None
        self.vision = _agent_vision(agent)
        # a fine-tuned encoder is no longer the model its `see` run scored
        self.vision_run = _vision_run(self.run_dir) if agent.encoder is not None else None
        self._rngs: list[np.random.Generator] | None = None

    def reset(self, seeds: Sequence[int]) -> None:
        self._rngs = [_episode_rng(s) for s in seeds]
        self.agent.reset(len(self._rngs))

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        if self._rngs is None or len(self._rngs) != len(obs):
            self.reset(range(len(obs)))
        if deterministic:
            return np.asarray(self.agent.predict(obs, deterministic=True)).reshape(-1)
        return _sample_actions(self.agent, obs, self._rngs)

    def __reduce__(self):
        return (_load_cached, (str(self.run_dir), self.manifest_sha256, self.agent.inference))


def _agent_vision(agent: Any):
    """The vision module behind an agent's input, or None for pixel agents.

    Frozen representations carry it as ``agent.encoder``; ``darla_ft`` holds its fine-tuned
    encoder (and the untouched decoder) inside the policy's features extractor.
    """
    if getattr(agent, "encoder", None) is not None:
        return agent.encoder
    extractor = getattr(agent.policy, "features_extractor", None)
    return getattr(extractor, "vision_model", None)


def _vision_run(run_dir: Path) -> Path | None:
    """The `darla see` folder of the agent's vision model (its metrics.json lives there)."""
    from darla.agents.loading import read_agent_spec

    vision = read_agent_spec(run_dir).get("vision")
    if not vision:
        return None
    for file in (run_dir / vision["relative_path"], Path(vision["path"])):
        if file.is_file():
            return file.parent
    return None


def _sample_actions(agent: Any, obs: np.ndarray, rngs) -> np.ndarray:
    """Stochastic actions, each row sampled from its own episode's generator."""
    if not hasattr(agent.policy, "get_distribution"):  # DQN's policy is greedy: no distribution
        return np.asarray(agent.predict(obs, deterministic=True)).reshape(-1)
    probs = agent.action_probabilities(obs)  # advances the history, as predict would
    return np.array([rng.choice(len(p), p=p / p.sum()) for rng, p in zip(rngs, probs, strict=True)])


_CACHE: dict[tuple[str, str, str], AgentPolicy] = {}


def _load_cached(run_dir: str, manifest_sha256: str, inference: str) -> AgentPolicy:
    """In a worker: the agent its parent loaded and verified. Its manifest still has the digest
    the parent saw, so its files are the ones the parent hashed: they are not hashed again."""
    key = (run_dir, manifest_sha256, inference)
    if key not in _CACHE:
        if sha256_file(Path(run_dir) / MANIFEST) != manifest_sha256:
            raise DarlaError(f"agent run {run_dir} changed while it was being evaluated: re-run")
        _CACHE[key] = load_policy(run_dir, verify=False, inference=inference)
    return _CACHE[key]


def check_agent_run(run_dir: str | os.PathLike[str]) -> Path:
    """A finished ``darla act`` run folder, or a one-line error saying what to do."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise DarlaError(
            f"agent run {run_dir} does not exist: pass `darla act` run folders (runs/act/<name>)"
        )
    manifest = read_manifest(run_dir)
    if manifest is None or not manifest.get("finished"):
        raise DarlaError(
            f"agent run {run_dir} is not finished (no finished {MANIFEST}): re-run the same "
            "`darla act` command to resume it, then transfer"
        )
    if manifest.get("stage") not in (None, "act"):
        raise DarlaError(
            f"{run_dir} is a `darla {manifest.get('stage')}` run, not an agent: pass runs/act/<name>"
        )
    return run_dir


def load_policy(
    run_dir: str | os.PathLike[str], *, verify: bool = True, inference: str = "onnx"
) -> AgentPolicy:
    """A finished ``darla act`` run folder as a :class:`Policy` (via ``darla.agents.load_agent``,
    which checks its files against the manifest unless ``verify=False``); its encoder runs in
    the ``inference`` runtime."""
    from darla.agents import load_agent

    run_dir = check_agent_run(run_dir)
    config_file = run_dir / "config.yaml"
    run_config = yaml.safe_load(config_file.read_text()) if config_file.is_file() else {}
    agent = load_agent(run_dir, verify=verify, inference=inference)
    return AgentPolicy(agent, run_dir, run_config or {})

"""Checkpoints of ``darla act``: what an exact resume needs, stored without pickle.

SB3's ``save``/``load`` and ``save_replay_buffer`` pickle the algorithm, and unpickling runs
whatever code the file names; a ``runs/`` folder shared over NFS by a Ray cluster is writable by
every node. So a checkpoint holds plain data only, and resuming builds a fresh model exactly as
a new run does (same algorithm, policy, hyperparameters, seed and env) and loads it into that:

- ``policy.pt``: the policy's and every optimizer's state_dict (``torch.load(weights_only=True)``);
- ``replay_buffer.npz``: an off-policy agent's replay arrays (``np.load(allow_pickle=False)``);
- ``rng.json``: the torch, numpy and action-space random streams;
- ``env.json``: each sub-env's current episode number, the actions it has taken in it and a
  digest of its latest frame, and ``VecMonitor``'s episode count;
- ``env_state.npz``: what the agent sees now and the wrappers hold mid-episode: the model's
  ``_last_obs`` and ``_last_episode_starts`` (RecurrentPPO: ``_last_lstm_states``), the frame
  stack's buffer and ``VecMonitor``'s running episode returns and lengths;
- ``algorithm.json``, written last: the counters and schedule state SB3's ``load`` would restore
  and SB3's episode statistics.

Episodes may have any length (a time limit, an early end after N pickups), so sub-envs are
rarely all at an episode boundary: resuming replays each sub-env's current episode (the env is
deterministic given the episode's seed and actions, see :mod:`darla.agents.env`) and sets the
arrays above, so the run continues mid-episode exactly as the uninterrupted run did.

The final agent (``model.zip``, read by :func:`darla.agents.loading.load_agent` after its sha256
is checked against the manifest) stays in SB3's format: only checkpoints are written here.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

from darla.agents.env import EpisodeSeeds, env_state, restore_env_state
from darla.errors import DarlaError
from darla.io import atomic_path, write_json

CHECKPOINTS = "checkpoints"
STATE_FILE = "state.json"  # names the latest complete checkpoint folder; written last of all
POLICY_FILE = "policy.pt"
BUFFER_FILE = "replay_buffer.npz"
RNG_FILE = "rng.json"
ENV_FILE = "env.json"
ENV_ARRAYS_FILE = "env_state.npz"
ALGORITHM_FILE = "algorithm.json"  # written last in a folder: a folder holding it is complete

# The attributes SB3's ``load`` restores that a run changes as it trains (everything else it
# restores comes from the config, which a fresh model is built from). ``_setup_learn`` sets the
# rest again (start time, total steps, the env's first observation).
COUNTERS = (
    "num_timesteps",
    "_episode_num",
    "_n_updates",
    # the lr / clip range / ε schedules read it; SB3 updates it only after the first env step
    "_current_progress_remaining",
    # DQN: the target network syncs every target_update_interval calls, and ε-greedy draws
    # against exploration_rate before the first step of a resumed rollout recomputes it
    "_n_calls",
    "exploration_rate",
)
BUFFER_ARRAYS = (
    "observations",
    "next_observations",  # None with optimize_memory_usage
    "actions",
    "rewards",
    "dones",
    "timeouts",
)


LSTM_ARRAYS = ("lstm_pi_h", "lstm_pi_c", "lstm_vf_h", "lstm_vf_c")


def save_state(model, folder: Path) -> None:
    """Write ``model``'s resumable state into ``folder`` (replacing what it held).

    The env's state is saved when every sub-env records its episodes (:class:`EpisodeSeeds`,
    as ``darla act``'s envs do); a model on another env is saved without it, and resuming it
    resets that env as a fresh ``learn`` would.
    """
    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)  # never a mix of two saves' files
    folder.mkdir(parents=True)
    with_env = model._last_obs is not None and replayable(model.get_env())
    if with_env:
        state, arrays = env_state(model.get_env())
        arrays.update(_rollout_arrays(model))
        with atomic_path(folder / ENV_ARRAYS_FILE) as tmp, open(tmp, "wb") as file:
            np.savez(file, **arrays)
        write_json(folder / ENV_FILE, state)
    buffer = getattr(model, "replay_buffer", None)
    if buffer is not None:
        arrays = {name: getattr(buffer, name) for name in BUFFER_ARRAYS}
        arrays = {name: array for name, array in arrays.items() if array is not None}
        with atomic_path(folder / BUFFER_FILE) as tmp, open(tmp, "wb") as file:
            np.savez(file, **arrays, pos=np.int64(buffer.pos), full=np.bool_(buffer.full))
    with atomic_path(folder / POLICY_FILE) as tmp:
        torch.save(model.get_parameters(), tmp)
    write_json(folder / RNG_FILE, rng_state(model))
    counters = {name: getattr(model, name) for name in COUNTERS if hasattr(model, name)}
    write_json(
        folder / ALGORITHM_FILE,
        {
            "env_state": with_env,  # env.json and env_state.npz: required on load when true
            "counters": {name: _plain(value) for name, value in counters.items()},
            "ep_info_buffer": _plain(list(model.ep_info_buffer or [])),
            "ep_success_buffer": _plain(list(model.ep_success_buffer or [])),
        },
    )


def load_state(model, folder: Path) -> None:
    """Load a :func:`save_state` folder into ``model``, a fresh one built as the run built it.

    A missing or corrupt file (or one that does not fit the model) is a :class:`DarlaError`
    naming it, never a traceback from torch or numpy.
    """
    folder = Path(folder)
    with _reading(folder / POLICY_FILE):
        # weights_only: loading a checkpoint never executes pickled code
        params = torch.load(folder / POLICY_FILE, map_location=model.device, weights_only=True)
        model.set_parameters(params, exact_match=True, device=model.device)
    buffer = getattr(model, "replay_buffer", None)
    if buffer is not None:
        with (
            _reading(folder / BUFFER_FILE),
            np.load(folder / BUFFER_FILE, allow_pickle=False) as data,
        ):
            for name in BUFFER_ARRAYS:
                fresh = getattr(buffer, name)
                if fresh is None:
                    continue
                array = data[name]
                if array.shape != fresh.shape or array.dtype != fresh.dtype:
                    raise ValueError(
                        f"{name} is {array.dtype}{array.shape}, expected {fresh.dtype}{fresh.shape}"
                    )
                setattr(buffer, name, array)
            buffer.pos, buffer.full = int(data["pos"]), bool(data["full"])
    with _reading(folder / ALGORITHM_FILE):
        state = json.loads((folder / ALGORITHM_FILE).read_text())
        for name, value in state["counters"].items():
            if not hasattr(model, name):
                raise KeyError(name)
            setattr(model, name, value)
        # SB3's rollout/ep_rew_mean averages the last episodes: it continues across the resume
        model.ep_info_buffer = deque(state["ep_info_buffer"], maxlen=model._stats_window_size)
        model.ep_success_buffer = deque(state["ep_success_buffer"], maxlen=model._stats_window_size)
        with_env = bool(state["env_state"])
    if with_env:
        with _reading(folder / ENV_FILE):
            env = json.loads((folder / ENV_FILE).read_text())
        with (
            _reading(folder / ENV_ARRAYS_FILE),
            np.load(folder / ENV_ARRAYS_FILE, allow_pickle=False) as data,
        ):
            arrays = {name: data[name] for name in data.files}
            # before the RNG streams are set: replaying must not leave its draws in them
            restore_env_state(model.get_env(), env, arrays, str(folder))
            _set_rollout_arrays(model, arrays)
    with _reading(folder / RNG_FILE):
        set_rng_state(model, json.loads((folder / RNG_FILE).read_text()))


def replayable(venv) -> bool:
    """Whether every sub-env of ``venv`` records its episodes, so a checkpoint can replay them."""
    return venv is not None and all(venv.env_is_wrapped(EpisodeSeeds))


def _rollout_arrays(model) -> dict[str, np.ndarray]:
    """Where the model's next rollout starts: the observation it acts on next, which sub-envs
    start an episode with it, and (RecurrentPPO) the LSTM states carried into it."""
    if not isinstance(model._last_obs, np.ndarray):
        raise DarlaError("act checkpoints need array observations (not a dict observation space)")
    arrays = {
        "last_obs": np.array(model._last_obs),
        "last_episode_starts": np.array(model._last_episode_starts, dtype=bool),
    }
    lstm = getattr(model, "_last_lstm_states", None)
    if lstm is not None:
        tensors = (*lstm.pi, *lstm.vf)
        arrays.update(
            {n: t.detach().cpu().numpy() for n, t in zip(LSTM_ARRAYS, tensors, strict=True)}
        )
    return arrays


def _set_rollout_arrays(model, arrays: dict[str, np.ndarray]) -> None:
    obs = arrays["last_obs"]
    expected = (model.n_envs, *model.observation_space.shape)
    if obs.shape != expected or obs.dtype != model.observation_space.dtype:
        raise ValueError(f"last_obs is {obs.dtype}{obs.shape}, expected {expected}")
    model._last_obs = np.array(obs)
    model._last_episode_starts = np.array(arrays["last_episode_starts"], dtype=bool)
    lstm = getattr(model, "_last_lstm_states", None)
    if lstm is not None:
        fresh = (*lstm.pi, *lstm.vf)
        loaded = []
        for name, like in zip(LSTM_ARRAYS, fresh, strict=True):
            array = arrays[name]
            if tuple(array.shape) != tuple(like.shape):
                raise ValueError(f"{name} is {array.shape}, expected {tuple(like.shape)}")
            loaded.append(torch.as_tensor(array, dtype=like.dtype, device=like.device))
        model._last_lstm_states = type(lstm)((loaded[0], loaded[1]), (loaded[2], loaded[3]))


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn any failure while reading ``path`` into a one-line DarlaError that names it."""
    try:
        yield
    except DarlaError:
        raise
    except Exception as error:
        problem = "is missing" if isinstance(error, FileNotFoundError) else "is corrupt"
        detail = str(error).splitlines()[0][:120] if str(error).strip() else ""
        raise DarlaError(
            f"checkpoint file {path} {problem} ({type(error).__name__}"
            f"{': ' + detail if detail else ''}): delete the folder {path.parent} to resume "
            "from the checkpoint before it (or from step 0 if there is none)"
        ) from error


def _plain(value: Any) -> Any:
    """JSON-able Python values for numpy scalars inside lists and dicts (SB3's episode infos)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def latest_checkpoint(run_dir: Path) -> dict | None:
    """``{"num_timesteps", "folder", "path"}`` of the last complete checkpoint, or None.

    That is the folder ``state.json`` names or, when it was deleted (or never completed), the
    newest complete one left; None without a ``state.json`` or a complete folder.
    """
    root = Path(run_dir) / CHECKPOINTS
    state_file = root / STATE_FILE
    if not state_file.is_file():
        return None
    try:
        state = json.loads(state_file.read_text())
        named = [root / state["folder"]]
    except (ValueError, KeyError, TypeError) as error:
        raise DarlaError(
            f"checkpoint file {state_file} is corrupt ({type(error).__name__}): delete the "
            f"folder {root} to restart the run from step 0"
        ) from error
    newest_first = sorted(root.glob("step_*"), key=lambda p: int(p.name[5:]), reverse=True)
    for path in [*named, *newest_first]:
        if (path / ALGORITHM_FILE).is_file():
            with _reading(path / ALGORITHM_FILE):
                state = json.loads((path / ALGORITHM_FILE).read_text())
                steps = int(state["counters"]["num_timesteps"])
            return {"num_timesteps": steps, "folder": path.name, "path": path}
    return None


class ResumableCheckpoint(BaseCallback):
    """Save what an exact resume needs, at the start of a rollout, every ``every`` env steps.

    At a rollout's start the last update is done and the rest of the state is the envs' and the
    next rollout's starting point, wherever each sub-env is in its episode: the checkpoint (see
    :func:`save_state`) goes under ``checkpoints/step_<n>/``; ``state.json`` is written last and
    names the latest complete one; the ``keep`` newest are kept.
    """

    def __init__(self, run_dir: Path, every: int, keep: int = 2) -> None:
        super().__init__()
        self.folder = Path(run_dir) / CHECKPOINTS
        self.every = int(every)
        self.keep = int(keep)
        self.last_saved = None

    def _on_training_start(self) -> None:
        self.last_saved = self.model.num_timesteps

    def _on_step(self) -> bool:
        return True

    def _on_rollout_start(self) -> None:
        steps = self.model.num_timesteps
        if self.every <= 0 or steps - self.last_saved < self.every:
            return
        self.save(steps)

    def save(self, steps: int) -> Path:
        folder = self.folder / f"step_{steps}"
        save_state(self.model, folder)
        write_json(self.folder / STATE_FILE, {"num_timesteps": steps, "folder": folder.name})
        self.last_saved = steps
        for old in sorted(self.folder.glob("step_*"), key=lambda p: int(p.name[5:]))[: -self.keep]:
            shutil.rmtree(old)
        return folder


def rng_state(model) -> dict:
    """Every random stream the algorithm draws from, as JSON-able data."""
    return {
        "torch": torch.get_rng_state().tolist(),
        "numpy": _np_state_to_json(np.random.get_state()),
        "action_space": model.action_space.np_random.bit_generator.state,
    }


def set_rng_state(model, state: dict) -> None:
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    np.random.set_state(_np_state_from_json(state["numpy"]))
    model.action_space.np_random.bit_generator.state = state["action_space"]


def _np_state_to_json(state: tuple) -> list:
    name, keys, pos, has_gauss, cached = state
    return [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]


def _np_state_from_json(state: list) -> tuple:
    name, keys, pos, has_gauss, cached = state
    return name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached

"""The reference policy: this task's "human", a scripted player that knows where everything is.

DMLab-30 scores an agent between a random player and a human (human 10, random 0.073 on
``rooms_collect_good_objects_test``). A human is not at hand here; a player with the env's true
state (:meth:`CollectGoodObjects.privileged_state`) is, and it plays the same paired episodes as
the agents. It walks to the good object it can reach in the fewest steps, and into a bad one
only when no other way is found.

How it plans, in one step's time. The agent can only turn by ``turn_step`` or walk
``forward_step``, so it can face a few headings (its own plus multiples of the turn step) and
walk straight. *Plan 1* is "turn to a heading, walk straight until a good object is picked up";
its cost in steps is exact, because the env tests pickups at the positions a straight walk
lands on, which the plan computes. *Plan 2*, tried when no plan 1 is clean, is "turn, walk w
steps, then a plan 1 from there", for every w the walls allow. A plan that picks up a bad object
on the way costs 1000 steps more. The action is the first step of the cheapest plan. Every step
of a plan leaves the rest of it as a plan one step cheaper (the rest of a plan 1 is a plan 1, of
a plan 2 a plan 2 or a plan 1), so the cheapest cost falls by at least one a step until a pickup:
the policy cannot go round in circles. (Where no plan of either kind reaches a good object, it
turns on the spot.) It is a pure function of the state (deterministic, no memory) and blind to
how the world looks: its input has no domain factors, so it plays paired episodes identically in
every domain. Planning takes about 0.1 ms a step, in batches (:func:`reference_actions`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from envs.collect_good_objects import PrivilegedState
from envs.view import visible

TURN_LEFT, TURN_RIGHT, FORWARD = 0, 1, 2  # CollectGoodObjects.actions' first three

_BAD_FIRST = 1000.0  # steps added to a plan that picks up a bad object on the way
_NEVER = math.inf
_FAR = 1e6  # where padding objects stand (rows of a batch hold different numbers of objects)
_FIRST_WALKS = 12  # plan 2 tries this many of its most promising walks before the rest


@functools.cache
def _turn_table(turn: float) -> tuple[np.ndarray, np.ndarray]:
    """The turns to try, fewest first and left before right (0, 1, -1, 2, -2, ...: among equal
    plans the first wins), and the number of turns between any two of the headings they give."""
    most = max(1, math.ceil(math.pi / turn - 1e-9))
    whole_circle = abs(2 * most * turn - 2 * math.pi) < 1e-6  # e.g. 30 degrees: 12 headings
    turns = [0]
    for k in range(1, most + 1):
        turns += [k] if whole_circle and k == most else [k, -k]
    turns = np.array(turns, dtype=np.int64)
    between = np.abs(turns[:, None] - turns[None, :])
    if whole_circle:
        between = np.minimum(between, 2 * most - between)
    return turns, between.astype(np.float64)


class _Geometry(NamedTuple):
    room_size: float
    agent_radius: float
    pickup_radius: float
    forward_step: float
    turn_step_deg: float


class _Headings(NamedTuple):
    """The headings each row's agent can face, and what walking along them needs. [N, H]."""

    turns: np.ndarray  # [H] turns to face each heading (+ left)
    between: np.ndarray  # [H, H] turns from one heading to another
    fx: np.ndarray  # forward vector, MiniWorld's dir_vec (x, z)
    fz: np.ndarray
    wall_x: np.ndarray  # the x (z) at which the agent's centre stops, walking this way
    wall_z: np.ndarray
    inv_x: np.ndarray  # 1 / fx, finite
    inv_z: np.ndarray
    back: np.ndarray  # fx - i fz: multiplying an offset by it turns it into the heading's frame

    def row(self, i: int) -> _Headings:
        def one(a: np.ndarray) -> np.ndarray:
            return a[i : i + 1]

        return self._replace(
            fx=one(self.fx), fz=one(self.fz), wall_x=one(self.wall_x), wall_z=one(self.wall_z),
            inv_x=one(self.inv_x), inv_z=one(self.inv_z), back=one(self.back),
        )  # fmt: skip


def _headings(agent_dir: np.ndarray, g: _Geometry) -> _Headings:
    turn = math.radians(g.turn_step_deg)
    turns, between = _turn_table(turn)
    angle = agent_dir[:, None] + turns[None, :] * turn
    fx, fz = np.cos(angle), -np.sin(angle)
    low, high = g.agent_radius, g.room_size - g.agent_radius
    # a zero component never reaches a wall: divide the far wall by a tiny positive number
    safe_x, safe_z = np.where(fx == 0, 1e-300, fx), np.where(fz == 0, 1e-300, fz)
    return _Headings(
        turns, between, fx, fz,
        np.where(safe_x > 0, high, low), np.where(safe_z > 0, high, low), 1 / safe_x, 1 / safe_z,
        fx - 1j * fz,
    )  # fmt: skip


def _steps_before_wall(origins: np.ndarray, h: _Headings, g: _Geometry) -> np.ndarray:
    """[N, P, H]: whole forward steps the walls allow from each origin [N, P, 2] per heading."""
    ahead = np.minimum(
        (h.wall_x[:, None, :] - origins[..., :1]) * h.inv_x[:, None, :],
        (h.wall_z[:, None, :] - origins[..., 1:]) * h.inv_z[:, None, :],
    )
    return np.floor(np.maximum(ahead, 0.0) / g.forward_step - 1e-9)


def _pickup_steps(
    origins: np.ndarray, h: _Headings, objects: np.ndarray, max_steps: np.ndarray, g: _Geometry
) -> np.ndarray:
    """[N, P, H, M]: the first forward step n >= 1 at which walking straight from an origin along
    a heading picks up an object [N, M, 2] (the env tests the positions n * forward_step against
    the pickup radius); inf where the walk misses it or a wall stops the walk first."""
    # Offsets as complex numbers, turned into each heading's frame in one multiplication: the
    # real part is the distance ahead, the imaginary part the distance aside.
    offset = (objects[:, None, :, 0] - origins[..., :1]) + 1j * (
        objects[:, None, :, 1] - origins[..., 1:]
    )  # [N, P, M]
    local = offset[:, :, None, :] * h.back[:, None, :, None]  # [N, P, H, M]
    along, aside = local.real, local.imag
    # Half the chord the walk cuts through the pickup disc; 0 where it misses the disc, and then
    # no step lands inside (n * step > along - 0).
    half_chord = aside * aside
    np.subtract(g.pickup_radius**2, half_chord, out=half_chord)
    np.sqrt(np.maximum(half_chord, 0.0, out=half_chord), out=half_chord)
    step = g.forward_step
    n = np.floor(np.maximum(along - half_chord, 0.0) / step) + 1.0
    reached = (n * step < along + half_chord) & (n <= max_steps[..., None])
    return np.where(reached, n, _NEVER)


def _plan_one(origins, h: _Headings, good: np.ndarray, bad: np.ndarray, g: _Geometry):
    """[N, P, H, G]: steps of walking straight from each origin along each heading until a good
    object is picked up (inf: never), plus ``_BAD_FIRST`` where a bad one comes first."""
    max_steps = _steps_before_wall(origins, h, g)
    if bad.shape[1] == 0:
        return _pickup_steps(origins, h, good, max_steps, g)
    steps = _pickup_steps(origins, h, np.concatenate([good, bad], axis=1), max_steps, g)
    hits = steps[..., : good.shape[1]]
    first_bad = steps[..., good.shape[1] :].min(axis=-1, keepdims=True)
    return hits + np.where(hits >= first_bad, _BAD_FIRST, 0.0)


def _padded(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """[N, max M, 2]: each row's positions, then padding far outside any room."""
    out = np.full((len(arrays), max((len(a) for a in arrays), default=0), 2), _FAR)
    for row, positions in enumerate(arrays):
        out[row, : len(positions)] = positions
    return out


def reference_action(state: PrivilegedState) -> int:
    """The reference policy's action for one state: 0 turn left, 1 turn right, 2 forward."""
    return int(reference_actions([state])[0])


def reference_actions(states: Sequence[PrivilegedState]) -> np.ndarray:
    """:func:`reference_action` for many states at once (one array pass for their plans 1)."""
    actions = np.full(len(states), TURN_LEFT, dtype=np.int64)  # nothing left: turning is safe
    groups: dict[_Geometry, list[int]] = {}
    for row, state in enumerate(states):
        if len(state.good_pos):
            groups.setdefault(_geometry(state), []).append(row)
    for g, rows in groups.items():
        batch = [states[row] for row in rows]
        here = np.array([s.agent_pos for s in batch], dtype=np.float64)[:, None, :]  # [N, 1, 2]
        h = _headings(np.array([s.agent_dir for s in batch]), g)
        good, bad = _padded([s.good_pos for s in batch]), _padded([s.bad_pos for s in batch])
        cost = np.abs(h.turns)[None, :, None] + _plan_one(here, h, good, bad, g)[:, 0]
        for i, row in enumerate(rows):
            row_cost = cost[i]
            if not row_cost.min() < _BAD_FIRST:  # no clean plan 1: plan 2 as well
                two = _plan_two(here[i : i + 1], h.row(i), good[i : i + 1], bad[i : i + 1], g)
                row_cost = np.concatenate([row_cost, two], axis=1)
            if np.isfinite(row_cost).any():
                k = h.turns[np.unravel_index(np.argmin(row_cost), row_cost.shape)[0]]
                actions[row] = FORWARD if k == 0 else TURN_LEFT if k > 0 else TURN_RIGHT
    return actions


def _geometry(state: PrivilegedState) -> _Geometry:
    return _Geometry(
        float(state.room_size), float(state.agent_radius), float(state.pickup_radius),
        float(state.forward_step), float(state.turn_step_deg),
    )  # fmt: skip


def _plan_two(here, h: _Headings, good, bad, g: _Geometry) -> np.ndarray:
    """[H, W] costs of plan 2 for one row: turn to a heading, walk w steps, then the best plan 1
    from there. Needed where no straight walk reaches a good object without a bad one first
    (it lies between headings, far away, or behind a bad one)."""
    max_steps = _steps_before_wall(here, h, g)[0, 0]  # [H]
    longest = int(max_steps.max())
    cost = np.full((len(h.turns), max(longest, 1)), _NEVER)
    if longest < 1:
        return cost
    walk = np.arange(1, longest + 1, dtype=np.float64)
    heading, w = np.nonzero(walk[None, :] <= max_steps[:, None])  # the walks the walls allow
    walked = walk[w]
    forward = np.stack([h.fx[0], h.fz[0]], axis=1)[heading]
    via = (here[0] + (walked * g.forward_step)[:, None] * forward)[None]  # [1, V, 2]
    if bad.shape[1]:
        on_way = _pickup_steps(here, h, bad, max_steps[None, None, :], g)[0, 0].min(axis=-1)
        walked = walked + np.where(walked >= on_way[heading], _BAD_FIRST, 0.0)
    # A lower bound on each plan: the turns and walk so far, then at least one turn or step
    # and the straight distance left to the nearest good object.
    gap = np.linalg.norm(via[0, :, None, :] - good[0, None, :, :], axis=-1).min(axis=1)
    bound = (
        np.abs(h.turns)[heading]
        + walked
        + np.maximum(1.0, np.ceil((gap - g.pickup_radius) / g.forward_step))
    )
    # Walks that pick up no bad object first; the others only if none of those leads anywhere.
    # Within each, the most promising walks first; a walk whose bound exceeds the best plan
    # found cannot beat it and is skipped (the result is the same as trying every walk).
    for tier in (walked < _BAD_FIRST, walked >= _BAD_FIRST):
        order = np.flatnonzero(tier)[np.argsort(bound[tier], kind="stable")]
        for chosen in (order[:_FIRST_WALKS], order[_FIRST_WALKS:]):
            chosen = chosen[bound[chosen] <= cost.min()]
            if len(chosen) == 0:
                break
            then = _plan_one(via[:, chosen], h, good, bad, g)[0]  # [V, H2, G]
            best = (h.between[heading[chosen]][:, :, None] + then).min(axis=(1, 2))
            cost[heading[chosen], w[chosen]] = (
                np.abs(h.turns)[heading[chosen]] + walked[chosen] + best
            )
        if cost.min() < _BAD_FIRST:
            break
    return cost


class ReferencePolicy:
    """:func:`reference_action` as a transfer :class:`~darla.transfer.policies.Policy`.

    ``privileged = True`` asks the rollout for the envs' true states:
    ``predict(obs, deterministic=True, states=[env.privileged_state(), ...])``, one per row, None
    for a row whose episode has ended (its action is ignored). ``obs`` only sets the batch size:
    the actions depend on the states alone, so they are the same in every domain.
    """

    method = "reference"
    privileged = True
    vision = None
    seed = None

    def __init__(self, obs_size: int, name: str = "reference") -> None:
        self.name = name
        self.obs_size = int(obs_size)

    def reset(self, seeds: Sequence[int]) -> None:
        """Nothing to reset: the policy has no memory and draws no random numbers."""

    def predict(
        self,
        obs: np.ndarray,
        deterministic: bool = True,
        states: Sequence[PrivilegedState | None] | None = None,
    ) -> np.ndarray:
        if states is None:
            raise ValueError(
                "the reference policy plays from the envs' true states: call "
                "predict(obs, states=[env.privileged_state() for env in envs])"
            )
        if len(states) != len(obs):
            raise ValueError(f"got {len(states)} states for {len(obs)} observations")
        actions = np.full(len(states), TURN_LEFT, dtype=np.int64)  # ended rows: ignored
        rows = [i for i, state in enumerate(states) if state is not None]
        if rows:
            actions[rows] = reference_actions([states[i] for i in rows])
        return actions

    def __repr__(self) -> str:
        return f"ReferencePolicy(name={self.name!r}, obs_size={self.obs_size})"


def in_view(state: PrivilegedState, positions: np.ndarray, half_fov_deg: float = 30.0) -> bool:
    """Whether an object's centre lies in the agent's 60-degree view (occlusion ignored): the
    rule of :mod:`envs.view`, which the object probe uses too."""
    return bool(visible(state, positions, half_fov_deg).any())


def task_statistics(episodes: int = 40, **env_settings: Any) -> dict[str, dict[str, float]]:
    """The reference's and a uniformly random policy's mean return, pickups and episode length
    on seeds ``0 .. episodes - 1`` in A_room1, and the share of the random policy's frames with a
    good object (any object) in view: the figures the README quotes for the env's defaults."""
    from envs.collect_good_objects import CollectGoodObjects

    env = CollectGoodObjects(domain="A_room1", **env_settings)
    out: dict[str, dict[str, float]] = {}
    for policy in ("reference", "random"):
        rows, views = [], []
        for seed in range(episodes):
            rng = np.random.default_rng([seed, 0x7A11])
            env.reset(seed=seed)
            total, steps, done, info = 0.0, 0, False, {}
            while not done:
                state = env.privileged_state()
                if policy == "random":
                    views.append((in_view(state, state.good_pos), in_view(state, state.bad_pos)))
                    action = int(rng.integers(env.action_space.n))
                else:
                    action = reference_action(state)
                _, reward, terminated, truncated, info = env.step(action)
                total, steps, done = total + reward, steps + 1, terminated or truncated
            rows.append((total, info["good_pickups"], info["bad_pickups"], steps))
        mean = np.mean(rows, axis=0)
        out[policy] = {
            "return": float(mean[0]),
            "return_sd": float(np.std([r[0] for r in rows])),
            "good_pickups": float(mean[1]),
            "bad_pickups": float(mean[2]),
            "length": float(mean[3]),
        }
        if views:
            good, bad = np.array(views).T
            out[policy]["good_in_view_share"] = float(good.mean())
            out[policy]["object_in_view_share"] = float((good | bad).mean())
    env.close()
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m envs.reference [episodes=40] [setting=value ...]``: :func:`task_statistics`."""
    import sys

    import yaml

    settings = dict(arg.split("=", 1) for arg in (sys.argv[1:] if argv is None else argv))
    settings = {key: yaml.safe_load(value) for key, value in settings.items()}
    episodes = int(settings.pop("episodes", 40))
    for policy, figures in task_statistics(episodes, **settings).items():
        print(f"{policy:<10}", "  ".join(f"{k} {v:.2f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()

"""What the agent's camera shows, from the env's true state: which objects are in view, and where.

One rule for everyone who asks "is an object in view" (the reference statistics, the object
probe, the measurement of the random agent's data): an object is *visible* when its centre lies
in the camera's horizontal field of view, and its *place* is the third of the frame its centre
falls in. MiniWorld's camera sits on the agent (``cam_fwd_disp`` is 0 without domain
randomisation) with a vertical field of view of 60 degrees, so a square frame sees 60 degrees
horizontally too. Every object stands inside the one convex room, so no wall can hide an object
whose centre is in view; objects hiding one another are ignored, as is an object whose centre
is just outside the view while its edge shows.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from envs.collect_good_objects import PrivilegedState

#: Half the horizontal field of view of a square frame (MiniWorld's ``cam_fov_y`` = 60 degrees).
HALF_FOV_DEG = 30.0

#: Where the nearest visible object of a kind is: the classes of :func:`view_class`.
PLACES = ("none", "left", "centre", "right")
NONE, LEFT, CENTRE, RIGHT = range(len(PLACES))


def horizontal_half_fov_deg(fov_y_deg: float, width: int, height: int) -> float:
    """Half the horizontal field of view of a ``width`` x ``height`` frame whose vertical field
    of view is ``fov_y_deg`` (gluPerspective keeps the vertical one and stretches the other)."""
    return math.degrees(math.atan(math.tan(math.radians(fov_y_deg) / 2) * width / height))


def bearings(state: PrivilegedState, positions: np.ndarray) -> np.ndarray:
    """Each position's angle from the agent's heading, radians in [-pi, pi), positive to the
    left (MiniWorld's heading: forward is ``(cos, -sin)``, turning left adds to it)."""
    offset = np.asarray(positions, dtype=np.float64).reshape(-1, 2) - state.agent_pos
    angle = np.arctan2(-offset[:, 1], offset[:, 0]) - state.agent_dir
    return (angle + math.pi) % (2 * math.pi) - math.pi


def visible(
    state: PrivilegedState, positions: np.ndarray, half_fov_deg: float = HALF_FOV_DEG
) -> np.ndarray:
    """bool per position: its centre lies in the horizontal field of view."""
    return np.abs(bearings(state, positions)) < math.radians(half_fov_deg)


def view_class(
    state: PrivilegedState, positions: np.ndarray, half_fov_deg: float = HALF_FOV_DEG
) -> int:
    """Where the nearest visible of ``positions`` is: :data:`NONE` (none visible), or the third
    of the frame its centre falls in, :data:`LEFT`, :data:`CENTRE` or :data:`RIGHT`.

    Thirds of the frame, not of the angle: a perspective camera puts bearing ``b`` at
    ``tan(b) / tan(half_fov)`` of the half-width, so the centre third spans about +-11 degrees
    of a 60-degree view.
    """
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    if len(positions) == 0:
        return NONE
    angle = bearings(state, positions)
    seen = np.abs(angle) < math.radians(half_fov_deg)
    if not seen.any():
        return NONE
    distance = np.hypot(*(positions - state.agent_pos).T)
    nearest = np.flatnonzero(seen)[np.argmin(distance[seen])]
    across = math.tan(angle[nearest]) / math.tan(math.radians(half_fov_deg))  # +1: left edge
    return LEFT if across > 1 / 3 else RIGHT if across < -1 / 3 else CENTRE


def object_places(state: PrivilegedState, half_fov_deg: float = HALF_FOV_DEG) -> tuple[int, int]:
    """``(good, bad)``: :func:`view_class` of the good and of the bad objects left."""
    return view_class(state, state.good_pos, half_fov_deg), view_class(
        state, state.bad_pos, half_fov_deg
    )


def camera_half_fov_deg(env: Any) -> float:
    """Half the horizontal field of view of a CollectGoodObjects env's frames, from its camera
    (``agent.cam_fov_y``) and its frame's shape: 30 degrees at the defaults."""
    height, width = env.observation_space.shape[:2]
    return horizontal_half_fov_deg(float(env.agent.cam_fov_y), width, height)


def places_in_view(env: Any) -> tuple[int, int]:
    """``(good, bad)`` places (:data:`PLACES` indices) of the frame ``env`` drew last."""
    return object_places(env.privileged_state(), camera_half_fov_deg(env))

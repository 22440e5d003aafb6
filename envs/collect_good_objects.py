"""CollectGoodObjects: DeepMind Lab's ``rooms_collect_good_objects`` rebuilt on MiniWorld.

One open room; good and bad objects and the agent spawn on distinct cells of a grid, as in the
DMLab level. Touching a good object gives +1, a bad one -1, and the object disappears (never
respawned). An episode ends after ``end_after_pickups`` pickups of any object (``terminated``:
DMLab's rule, 10 of its 10 + 10) or at ``max_episode_steps`` (``truncated``). How the world looks
is a *domain* (see ``domains.py``); which domain an episode uses is drawn from the env's domain
list, so one env can stand for the whole source set. The layout depends on the seed alone.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces, utils
from miniworld.math import intersect_circle_segs
from miniworld.miniworld import MiniWorldEnv
from miniworld.params import DEFAULT_PARAMS
from pyglet.gl import (
    GL_AMBIENT,
    GL_AMBIENT_AND_DIFFUSE,
    GL_COLOR_MATERIAL,
    GL_COMPILE,
    GL_DIFFUSE,
    GL_FRONT_AND_BACK,
    GL_LIGHT0,
    GL_LIGHTING,
    GL_POSITION,
    GL_SMOOTH,
    GL_TEXTURE_2D,
    GLfloat,
    glCallList,
    glColorMaterial,
    glDeleteLists,
    glEnable,
    glEndList,
    glGenLists,
    glLightfv,
    glNewList,
    glShadeModel,
)

from envs import domains as domain_catalogue
from envs.domains import DomainSpec
from envs.props import RADIUS as PROP_RADIUS
from envs.props import Prop
from envs.rendering import (
    APT_LINE,
    RenderingUnavailableError,
    install_fast_texture_loader,
    require_system_gl,
)

ROLES = ("good", "bad")

install_fast_texture_loader()


def _centres_and_radii(entities: list) -> tuple[np.ndarray, np.ndarray]:
    centres = np.array([(e.pos[0], e.pos[2]) for e in entities], dtype=np.float64).reshape(-1, 2)
    return centres, np.array([e.radius for e in entities], dtype=np.float64)


def _distances(centres: np.ndarray, pos) -> np.ndarray:
    return np.hypot(centres[:, 0] - pos[0], centres[:, 1] - pos[2])


@dataclass(frozen=True)
class PrivilegedState:
    """What the env knows and the agent does not: its true state, cheap to read each step.

    Positions are ``(x, z)`` in metres on the floor; ``agent_dir`` is MiniWorld's heading in
    radians (forward is ``(cos, -sin)``; turning left adds ``turn_step``). Only objects still in
    the room are listed. The geometry fields are the env's constants, so a policy of this state
    alone (``envs.reference``) needs nothing else. No field depends on the domain: the state of
    paired episodes is the same in every domain.
    """

    agent_pos: np.ndarray  # float [2]
    agent_dir: float
    good_pos: np.ndarray  # float [n_good_left, 2]
    bad_pos: np.ndarray  # float [n_bad_left, 2]
    room_size: float
    agent_radius: float
    pickup_radius: float  # centre-to-centre distance at which an object is picked up
    forward_step: float
    turn_step_deg: float


class CollectGoodObjects(MiniWorldEnv, utils.EzPickle):
    """Collect the good objects, avoid the bad ones, in whichever domain the episode draws.

    ``info["factors"]`` holds the domain's factor values that produced the observation and
    ``info["domain"]`` its name; ``info["good_pickups"]``/``info["bad_pickups"]`` count this
    episode's pickups so far. ``reset(options={"domain": spec})`` forces one episode's domain and
    ``reset(options={"layout": ...})`` places objects and agent exactly (see ``_place_layout``).
    :meth:`privileged_state` is the true state (for the reference policy and probes).

    The defaults are DMLab's level scaled down to what a laptop CPU can learn (measured: see
    the README): 10 good and 10 bad objects, the episode ending at the 10th pickup, objects and
    agent on a 6 x 6 grid in a 9 m room.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["human", "rgb_array"], "render_fps": 30}

    def __init__(
        self,
        domain: DomainSpec | Sequence[DomainSpec] = "A_room1",
        obs_size: int | Sequence[int] = 64,
        max_episode_steps: int = 200,
        room_size: float = 9.0,
        num_good: int = 10,
        num_bad: int = 10,
        forward_step: float = 0.4,
        turn_step: float = 30.0,
        end_after_pickups: int | None = 10,
        spawn_grid: int | None = 6,
        render_mode: str | None = None,
    ) -> None:
        height, width = (obs_size, obs_size) if isinstance(obs_size, int) else tuple(obs_size)
        if min(height, width) < 8:
            raise ValueError(f"obs_size must be at least 8 pixels a side, got {obs_size}")
        if max_episode_steps < 1 or num_good < 0 or num_bad < 0 or room_size < 3:
            raise ValueError(
                "need max_episode_steps >= 1, num_good >= 0, num_bad >= 0 and room_size >= 3, got "
                f"{max_episode_steps}, {num_good}, {num_bad}, {room_size}"
            )
        if end_after_pickups is not None and end_after_pickups < 0:
            raise ValueError(
                f"end_after_pickups must be >= 0 (0 or None: no early end), got {end_after_pickups}"
            )
        if spawn_grid and spawn_grid**2 < num_good + num_bad + 1:
            raise ValueError(
                f"spawn_grid={spawn_grid} has {spawn_grid**2} cells for {num_good} + {num_bad} "
                "objects and the agent; use a larger grid, or spawn_grid=None to place anywhere"
            )
        if spawn_grid and room_size / spawn_grid < 2 * PROP_RADIUS:
            raise ValueError(
                f"spawn_grid={spawn_grid} cells of {room_size / spawn_grid:.2f} m are narrower than "
                f"an object ({2 * PROP_RADIUS:.2f} m); use a larger room or a smaller grid"
            )
        self.domains = domain_catalogue.resolve_domains(domain)
        self.room_size = float(room_size)
        self.num_good = num_good
        self.num_bad = num_bad
        self.end_after_pickups = int(end_after_pickups or 0)
        self.spawn_grid = int(spawn_grid or 0)
        self._base_params = DEFAULT_PARAMS.no_random()
        self._base_params.set("forward_step", forward_step)
        self._base_params.set("turn_step", turn_step)
        self._domain_rng: np.random.Generator | None = None
        self._static_list: int | None = None
        self._prop_arrays: tuple[list[Prop], np.ndarray, np.ndarray] | None = None
        self._layout: Mapping[str, Any] | None = None
        self.domain_name, self.factors = self.domains[0]
        self.good_pickups = self.bad_pickups = 0

        require_system_gl()
        try:
            # MiniWorld prints a line per frame buffer when multisampling falls back.
            with contextlib.redirect_stdout(io.StringIO()):
                MiniWorldEnv.__init__(
                    self,
                    max_episode_steps=max_episode_steps,
                    obs_width=width,
                    obs_height=height,
                    window_width=256,
                    window_height=256,
                    params=self._base_params,
                    domain_rand=False,
                    render_mode=render_mode,
                )
        except Exception as error:  # pyglet raises several types when no GL context can start
            if "egl" in str(error).lower() or "display" in str(error).lower():
                raise RenderingUnavailableError(
                    f"could not start headless OpenGL ({error}); install Mesa EGL: {APT_LINE}"
                ) from error
            raise
        utils.EzPickle.__init__(
            self, domain=domain, obs_size=obs_size, max_episode_steps=max_episode_steps,
            room_size=room_size, num_good=num_good, num_bad=num_bad, forward_step=forward_step,
            turn_step=turn_step, end_after_pickups=end_after_pickups, spawn_grid=spawn_grid,
            render_mode=render_mode,
        )  # fmt: skip
        self.action_space = spaces.Discrete(self.actions.move_forward + 1)

    # -- episode ---------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        # Domain choice gets its own stream, so an episode's layout depends on the seed alone:
        # the same seed gives the same layout in every domain (paired source/target episodes).
        if seed is not None or self._domain_rng is None:
            self._domain_rng = np.random.default_rng(None if seed is None else [seed, 1])
        if options and "domain" in options:
            self.domain_name, self.factors = domain_catalogue.resolve_domain(options["domain"])
        else:
            index = self._domain_rng.integers(len(self.domains)) if len(self.domains) > 1 else 0
            self.domain_name, self.factors = self.domains[index]
        self._layout = options.get("layout") if options else None
        self.params = self._domain_params(self.factors)
        self.good_pickups = self.bad_pickups = 0
        self._prop_arrays = None  # the scene is about to change
        obs, _ = super().reset(seed=seed)
        return obs, self._info(pickup=None)

    def step(self, action):
        # MiniWorld's step for our three actions, with the pickup before the frame is drawn
        # (MiniWorld's own step would draw it, and a pickup would then draw it again).
        self.step_count += 1
        if action == self.actions.move_forward:
            self.move_agent(self.params.sample(None, "forward_step"), 0.0)
        elif action == self.actions.turn_left:
            self.turn_agent(self.params.sample(None, "turn_step"))
        elif action == self.actions.turn_right:
            self.turn_agent(-self.params.sample(None, "turn_step"))
        reward, terminated = 0.0, False
        pickup = self._touched_prop()
        if pickup is not None:
            self.entities.remove(pickup)
            self._render_static()
            if pickup.role == "good":
                reward, self.good_pickups = 1.0, self.good_pickups + 1
            else:
                reward, self.bad_pickups = -1.0, self.bad_pickups + 1
            if self.end_after_pickups:
                # DMLab ends the episode 0.2 s (three frames) after the Nth pickup: here, at it.
                terminated = self.good_pickups + self.bad_pickups >= self.end_after_pickups
        obs = self.render_obs()
        truncated = self.step_count >= self.max_episode_steps
        return obs, reward, terminated, truncated, self._info(pickup and pickup.role)

    def _info(self, pickup: str | None) -> dict[str, Any]:
        return {
            "domain": self.domain_name,
            "factors": dict(self.factors),
            "pickup": pickup,
            "good_pickups": self.good_pickups,
            "bad_pickups": self.bad_pickups,
        }

    def _touched_prop(self) -> Prop | None:
        """The first prop within MiniWorld's ``near`` distance of the agent, or None."""
        props, centres, radii = self._props()
        if not props:
            return None
        reach = radii + (self.agent.radius + 1.1 * self.max_forward_step)
        touched = np.flatnonzero(_distances(centres, self.agent.pos) < reach)
        return props[touched[0]] if len(touched) else None

    def intersect(self, ent, pos, radius):
        """MiniWorld's collision test (walls, then entities in order), one array op for all."""
        if intersect_circle_segs(np.array([pos[0], 0.0, pos[2]]), radius, self.wall_segs):
            return True
        if ent is self.agent and self._prop_arrays is not None:
            others, centres, radii = self._prop_arrays  # every entity but the agent
        else:
            others = [e for e in self.entities if e is not ent]
            centres, radii = _centres_and_radii(others)
        if not others:
            return None
        hit = np.flatnonzero(_distances(centres, pos) < radii + radius)
        return others[hit[0]] if len(hit) else None

    def _props(self) -> tuple[list[Prop], np.ndarray, np.ndarray]:
        """The props, their (x, z) centres and radii; kept from one scene change to the next."""
        if self._prop_arrays is None:
            props = [e for e in self.entities if isinstance(e, Prop)]
            self._prop_arrays = (props, *_centres_and_radii(props))
        return self._prop_arrays

    def privileged_state(self) -> PrivilegedState:
        """The true state now (agent pose, the objects left and their roles); see the class."""
        good, bad = [], []
        for entity in self.entities:
            if isinstance(entity, Prop):
                (good if entity.role == "good" else bad).append((entity.pos[0], entity.pos[2]))
        radius = self.agent.radius + PROP_RADIUS
        return PrivilegedState(
            agent_pos=np.array([self.agent.pos[0], self.agent.pos[2]]),
            agent_dir=float(self.agent.dir),
            good_pos=np.array(good, dtype=np.float64).reshape(-1, 2),
            bad_pos=np.array(bad, dtype=np.float64).reshape(-1, 2),
            room_size=self.room_size,
            agent_radius=float(self.agent.radius),
            # MiniWorld's `near`: what `_touched_prop` tests
            pickup_radius=float(radius + 1.1 * self.max_forward_step),
            forward_step=float(self.params.get_max("forward_step")),
            turn_step_deg=float(self.params.get_max("turn_step")),
        )

    # -- world -----------------------------------------------------------------------------

    def _gen_world(self) -> None:
        factors = self.factors
        self.add_rect_room(
            min_x=0, max_x=self.room_size, min_z=0, max_z=self.room_size,
            wall_tex=factors["wall_tex"], floor_tex=factors["floor_tex"], ceil_tex=factors["ceil_tex"],
        )  # fmt: skip
        if self._layout is not None:
            self._place_layout(self._layout)
            return
        roles = ["good"] * self.num_good + ["bad"] * self.num_bad
        if not self.spawn_grid:
            for role in roles:
                self.place_entity(self._make_prop(role), dir=0.0)
            self.place_agent()
            return
        # DMLab's factory: shuffle the grid's cells, objects on the first ones, the agent on the
        # next. Cells are centred in the room, one cell apart and half a cell from the walls.
        n = self.spawn_grid
        cells = self.np_random.permutation(n * n)[: len(roles) + 1]
        centres = (np.stack([cells // n, cells % n], axis=1) + 0.5) * (self.room_size / n)
        for role, (x, z) in zip(roles, centres[:-1], strict=True):
            self.place_entity(self._make_prop(role), pos=np.array([x, 0.0, z]), dir=0.0)
        x, z = centres[-1]
        self.place_entity(
            self.agent, pos=np.array([x, 0.0, z]), dir=self.np_random.uniform(-math.pi, math.pi)
        )

    def _make_prop(self, role: str) -> Prop:
        return Prop(
            shape=self.factors[f"{role}_shape"],
            rgb=domain_catalogue.color_rgb(self.factors[f"{role}_color"]),
            role=role,
        )

    def _place_layout(self, layout: Mapping[str, Any]) -> None:
        """Exact positions (in room fractions) for rendering a scene from given factors."""
        for role in ROLES:
            for x, z in layout.get(role, ()):
                pos = np.array([x * self.room_size, 0.0, z * self.room_size])
                self.place_entity(self._make_prop(role), pos=pos, dir=0.0)
        ax, az = layout["agent_pos"]
        self.place_entity(
            self.agent, pos=np.array([ax * self.room_size, 0.0, az * self.room_size]),
            dir=math.radians(layout["agent_yaw_deg"]),
        )  # fmt: skip

    def _domain_params(self, factors: Mapping[str, str]):
        params = self._base_params.copy()
        light = domain_catalogue.light(factors["light_color"])
        x, y, z = domain_catalogue.light_position(factors["light_pos"])
        params.set("light_color", light["diffuse"])
        params.set("light_ambient", light["ambient"])
        params.set("light_pos", [x * self.room_size, y, z * self.room_size])
        return params

    # -- drawing ---------------------------------------------------------------------------
    # MiniWorld compiles every env's static scene into display list 1. Contexts in one process
    # share display lists, so two envs in one process (a DummyVecEnv, an eval env beside a
    # training env) would draw each other's rooms. Each env here owns its own list. MiniWorld
    # also passes the light position with w = 0 (a directional light); here it is positional,
    # so `light_pos` means a position.

    def _render_static(self) -> None:
        self.shadow_window.switch_to()
        if self._static_list is None:
            self._static_list = glGenLists(1)
            if self._static_list == 1:  # leave list 1 to MiniWorld's own envs in this process
                self._static_list = glGenLists(1)
        self._prop_arrays = None  # the scene changed (a new episode, a pickup)
        for prop in self._props()[0]:
            prop.prepare()  # its shape's own list, compiled before this one opens
        glNewList(self._static_list, GL_COMPILE)
        glLightfv(GL_LIGHT0, GL_POSITION, (GLfloat * 4)(*self.light_pos, 1.0))
        glLightfv(GL_LIGHT0, GL_AMBIENT, (GLfloat * 4)(*self.light_ambient, 1.0))
        glLightfv(GL_LIGHT0, GL_DIFFUSE, (GLfloat * 4)(*self.light_color, 1.0))
        glEnable(GL_LIGHTING)
        glEnable(GL_LIGHT0)
        glShadeModel(GL_SMOOTH)
        glEnable(GL_COLOR_MATERIAL)
        glColorMaterial(GL_FRONT_AND_BACK, GL_AMBIENT_AND_DIFFUSE)
        glEnable(GL_TEXTURE_2D)
        for room in self.rooms:
            room._render()
        for entity in self.entities:
            if entity.is_static:
                entity.render()
        glEndList()

    def _render_world(self, frame_buffer, render_agent):
        glCallList(self._static_list)
        for entity in self.entities:
            if not entity.is_static and entity is not self.agent:
                entity.render()
        if render_agent:
            self.agent.render()
        return frame_buffer.resolve()

    def close(self) -> None:
        if self._static_list is not None:
            self.shadow_window.switch_to()
            glDeleteLists(self._static_list, 1)
            self._static_list = None
        super().close()

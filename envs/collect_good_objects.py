"""CollectGoodObjects: DeepMind Lab's ``rooms_collect_good_objects`` rebuilt on MiniWorld.

One room, good and bad objects placed at random; touching a good object gives +1, a bad one -1,
and the object disappears. Episodes have a fixed length. How the world looks is a *domain* (see
``domains.py``); which domain an episode uses is drawn from the env's domain list, so one env can
stand for the whole source set.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces, utils
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
from envs.props import Prop
from envs.rendering import (
    APT_LINE,
    RenderingUnavailableError,
    install_fast_texture_loader,
    require_system_gl,
)

ROLES = ("good", "bad")

install_fast_texture_loader()


class CollectGoodObjects(MiniWorldEnv, utils.EzPickle):
    """Collect the good objects, avoid the bad ones, in whichever domain the episode draws.

    ``info["factors"]`` holds the domain's factor values that produced the observation and
    ``info["domain"]`` its name; ``info["good_pickups"]``/``info["bad_pickups"]`` count this
    episode's pickups so far. ``reset(options={"domain": spec})`` forces one episode's domain.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["human", "rgb_array"], "render_fps": 30}

    def __init__(
        self,
        domain: DomainSpec | Sequence[DomainSpec] = "A_room1",
        obs_size: int | Sequence[int] = 64,
        max_episode_steps: int = 150,
        room_size: float = 8.0,
        num_good: int = 4,
        num_bad: int = 4,
        forward_step: float = 0.4,
        turn_step: float = 30.0,
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
        self.domains = domain_catalogue.resolve_domains(domain)
        self.room_size = float(room_size)
        self.num_good = num_good
        self.num_bad = num_bad
        self._base_params = DEFAULT_PARAMS.no_random()
        self._base_params.set("forward_step", forward_step)
        self._base_params.set("turn_step", turn_step)
        self._domain_rng: np.random.Generator | None = None
        self._static_list: int | None = None
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
            self, domain, obs_size, max_episode_steps, room_size, num_good, num_bad,
            forward_step, turn_step, render_mode,
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
        obs, _ = super().reset(seed=seed)
        return obs, self._info(pickup=None)

    def step(self, action):
        obs, reward, terminated, truncated, _ = super().step(action)
        pickup = self._touched_prop()
        if pickup is not None:
            self.entities.remove(pickup)
            self._render_static()
            obs = self.render_obs()
            if pickup.role == "good":
                reward, self.good_pickups = reward + 1.0, self.good_pickups + 1
            else:
                reward, self.bad_pickups = reward - 1.0, self.bad_pickups + 1
        return obs, float(reward), terminated, truncated, self._info(pickup and pickup.role)

    def _info(self, pickup: str | None) -> dict[str, Any]:
        return {
            "domain": self.domain_name,
            "factors": dict(self.factors),
            "pickup": pickup,
            "good_pickups": self.good_pickups,
            "bad_pickups": self.bad_pickups,
        }

    def _touched_prop(self) -> Prop | None:
        for entity in self.entities:
            if isinstance(entity, Prop) and self.near(entity):
                return entity
        return None

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
        for role, count in (("good", self.num_good), ("bad", self.num_bad)):
            for _ in range(count):
                self.place_entity(self._make_prop(role), dir=0.0)
        self.place_agent()

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
        if self._static_list is None:
            self.shadow_window.switch_to()
            self._static_list = glGenLists(1)
            if self._static_list == 1:  # leave list 1 to MiniWorld's own envs in this process
                self._static_list = glGenLists(1)
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

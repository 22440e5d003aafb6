"""Low-polygon coloured objects for CollectGoodObjects.

MiniWorld's step rate falls with the number of meshes drawn per frame (a ``Ball`` mesh has
thousands of triangles). These props have at most a few dozen faces, any RGB colour, and are
static, so the environment compiles them into its per-episode display list: drawing twenty of
them costs about as much as drawing none. Each shape is itself compiled once per process (see
:func:`mesh_list`), so recompiling the episode's list after a pickup is cheap too.
"""

from __future__ import annotations

import itertools
import math

from miniworld.entity import Entity
from miniworld.opengl import drawBox
from pyglet.gl import (
    GL_COMPILE,
    GL_CULL_FACE,
    GL_QUADS,
    GL_TEXTURE_2D,
    GL_TRIANGLES,
    glBegin,
    glCallList,
    glColor3f,
    glDisable,
    glEnable,
    glEnd,
    glEndList,
    glGenLists,
    glNewList,
    glNormal3f,
    glPopMatrix,
    glPushMatrix,
    glRotatef,
    glTranslatef,
    glVertex3f,
)

SHAPES = ("box", "cylinder", "cone", "diamond")
SIZE = 0.6  # metres: width of every prop
# One collision radius for every shape (the box's): a layout then depends on the seed alone, not
# on which shapes a domain uses, so source and target episodes pair up.
RADIUS = SIZE / 2 * math.sqrt(2)
_SIDES = 12


class Prop(Entity):
    """A good or bad object: a shape, a colour and a role that decides the reward."""

    def __init__(
        self, shape: str, rgb: tuple[float, float, float], role: str, size: float = SIZE
    ) -> None:
        super().__init__()
        if shape not in SHAPES:
            raise ValueError(f"unknown shape {shape!r}; valid shapes: {', '.join(SHAPES)}")
        self.shape = shape
        self.rgb = tuple(float(c) for c in rgb)
        self.role = role
        self.size = size
        self.radius = RADIUS * size / SIZE
        self.height = size * 1.2
        self._mesh: int | None = None

    @property
    def is_static(self) -> bool:
        return True

    def prepare(self) -> None:
        """Compile this prop's shape (once per process); call it outside any ``glNewList``."""
        self._mesh = mesh_list(self.shape, self.size)

    def render(self) -> None:
        glDisable(GL_TEXTURE_2D)
        # Both faces drawn: the props' winding need not match MiniWorld's culling convention.
        glDisable(GL_CULL_FACE)
        glColor3f(*self.rgb)
        glPushMatrix()
        glTranslatef(*self.pos)
        glRotatef(self.dir * (180 / math.pi), 0, 1, 0)
        if self._mesh is None:
            _draw_shape(self.shape, self.size)
        else:
            glCallList(self._mesh)
        glPopMatrix()
        glEnable(GL_CULL_FACE)


_MESH_LISTS: dict[tuple[str, float], int] = {}


def mesh_list(shape: str, size: float) -> int:
    """A display list drawing ``shape`` at the origin, compiled the first time it is asked for.

    The GL contexts of one process share display lists, so one list per shape serves every env.
    Never list 1: MiniWorld's own envs compile their scene into list 1 without reserving it.
    """
    key = (shape, float(size))
    if key not in _MESH_LISTS:
        mesh = glGenLists(1)
        if mesh == 1:
            mesh = glGenLists(1)
        glNewList(mesh, GL_COMPILE)
        _draw_shape(shape, size)
        glEndList()
        _MESH_LISTS[key] = mesh
    return _MESH_LISTS[key]


def _draw_shape(shape: str, size: float) -> None:
    half, height = size / 2, size * 1.2
    if shape == "box":
        drawBox(x_min=-half, x_max=half, y_min=0, y_max=height, z_min=-half, z_max=half)
    elif shape == "cylinder":
        _draw_cylinder(half, height)
    elif shape == "cone":
        _draw_cone(half, height)
    else:
        _draw_diamond(half, height)


def _ring(radius: float) -> list[tuple[float, float]]:
    return [
        (radius * math.cos(2 * math.pi * i / _SIDES), radius * math.sin(2 * math.pi * i / _SIDES))
        for i in range(_SIDES + 1)
    ]


def _draw_cylinder(radius: float, height: float) -> None:
    ring = _ring(radius)
    glBegin(GL_QUADS)
    for (x0, z0), (x1, z1) in itertools.pairwise(ring):
        glNormal3f((x0 + x1) / 2 / radius, 0, (z0 + z1) / 2 / radius)
        glVertex3f(x0, 0, z0)
        glVertex3f(x0, height, z0)
        glVertex3f(x1, height, z1)
        glVertex3f(x1, 0, z1)
    glEnd()
    glBegin(GL_TRIANGLES)
    for (x0, z0), (x1, z1) in itertools.pairwise(ring):
        glNormal3f(0, 1, 0)
        glVertex3f(0, height, 0)
        glVertex3f(x1, height, z1)
        glVertex3f(x0, height, z0)
    glEnd()


def _draw_cone(radius: float, height: float) -> None:
    ring = _ring(radius)
    slope = radius / height
    glBegin(GL_TRIANGLES)
    for (x0, z0), (x1, z1) in itertools.pairwise(ring):
        nx, nz = (x0 + x1) / 2 / radius, (z0 + z1) / 2 / radius
        glNormal3f(nx, slope, nz)
        glVertex3f(x0, 0, z0)
        glVertex3f(0, height, 0)
        glVertex3f(x1, 0, z1)
    glEnd()


def _draw_diamond(radius: float, height: float) -> None:
    """An octahedron standing on its tip: distinct from the box and the cone at any distance."""
    mid = height / 2
    corners = [(radius, 0.0), (0.0, radius), (-radius, 0.0), (0.0, -radius), (radius, 0.0)]
    glBegin(GL_TRIANGLES)
    for (x0, z0), (x1, z1) in itertools.pairwise(corners):
        nx, nz = (x0 + x1) / 2, (z0 + z1) / 2
        for apex_y, ny in ((height, 1.0), (0.0, -1.0)):
            glNormal3f(nx, ny * radius, nz)
            if apex_y:
                glVertex3f(x0, mid, z0)
                glVertex3f(0, apex_y, 0)
                glVertex3f(x1, mid, z1)
            else:
                glVertex3f(x1, mid, z1)
                glVertex3f(0, apex_y, 0)
                glVertex3f(x0, mid, z0)
    glEnd()

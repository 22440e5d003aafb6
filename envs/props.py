"""Low-polygon coloured objects for CollectGoodObjects.

MiniWorld's step rate falls with the number of meshes drawn per frame (a ``Ball`` mesh has
thousands of triangles). These props have at most a few dozen faces, any RGB colour, and are
static, so the environment compiles them into its per-episode display list: drawing eight of
them costs about as much as drawing none.
"""

from __future__ import annotations

import itertools
import math

from miniworld.entity import Entity
from miniworld.opengl import drawBox
from pyglet.gl import (
    GL_CULL_FACE,
    GL_QUADS,
    GL_TEXTURE_2D,
    GL_TRIANGLES,
    glBegin,
    glColor3f,
    glDisable,
    glEnable,
    glEnd,
    glNormal3f,
    glPopMatrix,
    glPushMatrix,
    glRotatef,
    glTranslatef,
    glVertex3f,
)

SHAPES = ("box", "cylinder", "cone", "diamond")
_SIDES = 12


class Prop(Entity):
    """A good or bad object: a shape, a colour and a role that decides the reward."""

    def __init__(
        self, shape: str, rgb: tuple[float, float, float], role: str, size: float = 0.6
    ) -> None:
        super().__init__()
        if shape not in SHAPES:
            raise ValueError(f"unknown shape {shape!r}; valid shapes: {', '.join(SHAPES)}")
        self.shape = shape
        self.rgb = tuple(float(c) for c in rgb)
        self.role = role
        self.size = size
        # One collision radius for every shape (the box's): a layout then depends on the seed
        # alone, not on which shapes a domain uses, so source and target episodes pair up.
        self.radius = size / 2 * math.sqrt(2)
        self.height = size * 1.2

    @property
    def is_static(self) -> bool:
        return True

    def render(self) -> None:
        glDisable(GL_TEXTURE_2D)
        # Both faces drawn: the props' winding need not match MiniWorld's culling convention.
        glDisable(GL_CULL_FACE)
        glColor3f(*self.rgb)
        glPushMatrix()
        glTranslatef(*self.pos)
        glRotatef(self.dir * (180 / math.pi), 0, 1, 0)
        half, height = self.size / 2, self.height
        if self.shape == "box":
            drawBox(x_min=-half, x_max=half, y_min=0, y_max=height, z_min=-half, z_max=half)
        elif self.shape == "cylinder":
            _draw_cylinder(half, height)
        elif self.shape == "cone":
            _draw_cone(half, height)
        else:
            _draw_diamond(half, height)
        glPopMatrix()
        glEnable(GL_CULL_FACE)


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

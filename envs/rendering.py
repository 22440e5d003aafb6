"""Headless OpenGL for MiniWorld: pyglet's EGL mode on Mesa, no display needed.

pyglet reads ``options["headless"]`` when ``pyglet.window`` is first imported, which MiniWorld
does at import time; so this module must run before ``miniworld`` is imported, and ``envs``
imports it first.
"""

from __future__ import annotations

import ctypes.util
import multiprocessing
import multiprocessing.context
import sys
import warnings

import pyglet

APT_LINE = "apt-get install -y libegl1 libgl1 libglu1-mesa libgles2"


class RenderingUnavailableError(RuntimeError):
    """Headless OpenGL cannot start; the message says which system library to install."""


def enable_headless() -> None:
    if "pyglet.window" in sys.modules and not pyglet.options.get("headless", False):
        warnings.warn(
            "pyglet.window was imported before envs, so MiniWorld may look for a display; "
            "import envs (or darla) before miniworld or pyglet.window",
            stacklevel=3,
        )
    pyglet.options["headless"] = True
    pyglet.options["debug_gl"] = False  # pyglet checks glGetError after every call otherwise


def require_system_gl() -> None:
    """Fail with the apt line when Mesa's EGL, GL or GLU libraries are missing."""
    missing = [name for name in ("EGL", "GL", "GLU") if ctypes.util.find_library(name) is None]
    if missing:
        libs = ", ".join(f"lib{name}" for name in missing)
        raise RenderingUnavailableError(
            f"headless rendering needs Mesa's {libs}, which this machine lacks; install them: {APT_LINE}"
        )


def load_texture_fast(tex_path: str):
    """Drop-in for ``miniworld.opengl.Texture.load``, about a hundred times faster.

    MiniWorld converts each PNG to RGBA through pyglet's regex-based pixel reformatting, about
    a second per texture on one core, paid again in every new process (each SubprocVecEnv
    worker, each test). Decoding with Pillow and flipping rows to OpenGL's bottom-up order
    uploads the same bytes (checked in tests/test_rendering.py).
    """
    import numpy as np
    from PIL import Image
    from pyglet import gl, image

    with Image.open(tex_path) as img:
        rgba = np.ascontiguousarray(np.asarray(img.convert("RGBA"))[::-1])
    height, width = rgba.shape[:2]
    tex = image.Texture.create(width, height)
    gl.glEnable(tex.target)
    gl.glBindTexture(tex.target, tex.id)
    gl.glTexImage2D(
        gl.GL_TEXTURE_2D, 0, gl.GL_RGB, width, height, 0, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE,
        rgba.ctypes.data_as(ctypes.POINTER(gl.GLubyte)),
    )  # fmt: skip
    gl.glHint(gl.GL_GENERATE_MIPMAP_HINT, gl.GL_NICEST)
    gl.glGenerateMipmap(gl.GL_TEXTURE_2D)
    gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_MAG_FILTER, gl.GL_LINEAR)
    gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_MIN_FILTER, gl.GL_LINEAR_MIPMAP_LINEAR)
    gl.glBindTexture(gl.GL_TEXTURE_2D, 0)
    return tex


def install_fast_texture_loader() -> None:
    from miniworld.opengl import Texture

    if getattr(Texture, "_darla_original_load", None) is None:
        Texture._darla_original_load = Texture.load
        Texture.load = staticmethod(load_texture_fast)


def render_process_context() -> multiprocessing.context.BaseContext:
    """The multiprocessing context for processes that render: ``forkserver``.

    A forked child would inherit this process's OpenGL state. Inside a joblib (loky) worker, as
    in a Hydra joblib sweep job, the process-wide start method is ``loky``, which the standard
    library's children cannot load when they start (they crash, and a pool waits forever):
    reset it to ``forkserver`` first.
    """
    if multiprocessing.get_start_method(allow_none=True) not in (
        None,
        "fork",
        "spawn",
        "forkserver",
    ):
        multiprocessing.set_start_method("forkserver", force=True)
    return multiprocessing.get_context("forkserver")

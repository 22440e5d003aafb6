"""Headless rendering set-up: the fast texture loader and the missing-EGL error."""

import ctypes

import numpy as np
import pytest
from miniworld.opengl import Texture
from miniworld.utils import get_file_path
from pyglet import gl

from envs import rendering
from envs.collect_good_objects import CollectGoodObjects


def _texture_bytes(tex):
    gl.glBindTexture(tex.target, tex.id)
    buffer = (gl.GLubyte * (tex.width * tex.height * 4))()
    gl.glGetTexImage(gl.GL_TEXTURE_2D, 0, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE, buffer)
    return np.frombuffer(buffer, np.uint8).copy()


def test_fast_texture_loader_uploads_the_same_pixels_as_miniworld():
    env = CollectGoodObjects()  # a GL context must be current
    path = get_file_path("textures", "marble_1", "png")
    fast = _texture_bytes(rendering.load_texture_fast(path))
    original = _texture_bytes(Texture._darla_original_load(path))
    np.testing.assert_array_equal(fast, original)
    env.close()


def test_missing_system_gl_names_the_library_and_the_fix(monkeypatch):
    real = ctypes.util.find_library
    monkeypatch.setattr(
        ctypes.util, "find_library", lambda name: None if name == "EGL" else real(name)
    )
    with pytest.raises(
        rendering.RenderingUnavailableError, match=r"libEGL.*apt-get install -y libegl1"
    ):
        CollectGoodObjects()

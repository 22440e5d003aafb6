"""Rollout videos: what the agent sees, what its vision module makes of it, and its latents.

Each video frame has three panels side by side above a caption: the observation, the vision
module's reconstruction of it through μ(x), and a bar chart of μ(x) (clipped to ±3, the prior's
range); the caption names the agent and domain and shows the return and pickups so far. A pixels
agent has no vision module: its two right panels say so. Panels are drawn with numpy and PIL
(a matplotlib figure per frame would cost more than the rollout itself).

Written as mp4 (H.264) through imageio's ffmpeg plugin, or as a gif when ffmpeg is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from darla.io import atomic_path

PANEL = 160  # px; 3 panels x 160 and 160 + caption are multiples of 16, as H.264 wants
CAPTION = 32
LATENT_LIMIT = 3.0
BACKGROUND = (24, 24, 28)
POSITIVE = (90, 170, 255)
NEGATIVE = (255, 140, 70)


def _font(size: int = 11):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the bitmap font has one size
        return ImageFont.load_default()


def upscale(frames: np.ndarray, size: int = PANEL) -> np.ndarray:
    """Nearest-neighbour resize of uint8 ``[N, h, w, 3]`` to ``[N, size, size, 3]``."""
    h, w = frames.shape[1:3]
    rows = (np.arange(size) * h // size).clip(0, h - 1)
    cols = (np.arange(size) * w // size).clip(0, w - 1)
    return frames[:, rows][:, :, cols]


def text_panel(lines: Sequence[str], size: int = PANEL) -> np.ndarray:
    image = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = _font(11)
    y = size // 2 - 8 * len(lines)
    for line in lines:
        draw.text((8, y), line, fill=(220, 220, 220), font=font)
        y += 16
    return np.asarray(image)


def latent_bars(latents: np.ndarray, size: int = PANEL, limit: float = LATENT_LIMIT) -> np.ndarray:
    """Bar charts of latent vectors ``[N, D]`` as uint8 ``[N, size, size, 3]`` (numpy only)."""
    n, d = latents.shape
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    out[:] = BACKGROUND
    top, bottom, left = 14, size - 4, 4
    mid = (top + bottom) // 2
    half = (bottom - top) // 2
    width = max(1, (size - 2 * left) // max(d, 1))
    gap = 1 if width > 2 else 0
    out[:, mid, left : left + width * d] = (110, 110, 110)
    heights = np.rint(np.clip(latents / limit, -1, 1) * half).astype(int)
    for j in range(d):
        x0, x1 = left + j * width, left + (j + 1) * width - gap
        for i in range(n):
            h = heights[i, j]
            if h > 0:
                out[i, mid - h : mid, x0:x1] = POSITIVE
            elif h < 0:
                out[i, mid + 1 : mid + 1 - h, x0:x1] = NEGATIVE
    label = np.asarray(_label_strip(f"mu(x), {d} latents, +-{limit:g}", size, 12))
    out[:, :12] = label
    return out


def _label_strip(text: str, width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height), BACKGROUND)
    ImageDraw.Draw(image).text((4, 0), text, fill=(200, 200, 200), font=_font(10))
    return image


def caption_strip(lines: Sequence[str], width: int, height: int = CAPTION) -> np.ndarray:
    image = Image.new("RGB", (width, height), (0, 0, 0))
    draw = ImageDraw.Draw(image)
    font = _font(11)
    for k, line in enumerate(lines):
        draw.text((6, 2 + 14 * k), line, fill=(255, 255, 255), font=font)
    return np.asarray(image)


def vision_panels(vision: Any, frames: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """Reconstructions ``[N, H, W, 3]`` through μ (None without a decoder) and latent means
    ``[N, D]`` of uint8 frames."""
    from darla.vision import eval_mode, images_to_tensor, tensor_to_images

    recon, latents = [], []
    with eval_mode(vision):
        for start in range(0, len(frames), 128):
            x = images_to_tensor(frames[start : start + 128], vision.device)
            mu, _ = vision.encode(x)
            if vision.generative:
                recon.append(tensor_to_images(vision.decode(mu)))
            latents.append(mu.float().cpu().numpy())
    # no decoder (a contrastive encoder): None, and the video says so
    return (np.concatenate(recon) if recon else None), np.concatenate(latents)


def rollout_frames(policy: Any, recording: Any, domain: str, episode: int = 0) -> np.ndarray:
    """The video frames of one recorded episode: uint8 ``[T + 1, PANEL + CAPTION, 3 * PANEL, 3]``."""
    frames = recording.frames
    n = len(frames)
    seen = upscale(frames)
    vision = getattr(policy, "vision", None)
    if vision is not None:
        recon, latents = vision_panels(vision, frames)
        bars = latent_bars(latents)
        if recon is None:
            panel = text_panel(
                [f"{getattr(policy, 'method', 'this')}:", "no decoder,", "no reconstruction"]
            )
            recon = np.broadcast_to(panel, seen.shape)
        else:
            recon = upscale(recon)
    else:
        why = f"{getattr(policy, 'method', 'this')} agent:"
        recon = np.broadcast_to(
            text_panel([why, "no vision module,", "no reconstruction"]), seen.shape
        )
        bars = np.broadcast_to(text_panel([why, "acts on raw pixels,", "no latents"]), seen.shape)
    panels = np.concatenate([seen, recon, bars], axis=2)
    panels[:, :12, :PANEL] = np.asarray(_label_strip("agent sees", PANEL, 12))
    if vision is not None:
        panels[:, :12, PANEL : 2 * PANEL] = np.asarray(_label_strip("reconstruction", PANEL, 12))
    title = f"{policy.name} | {domain} | episode {episode} (seed {recording.seed})"
    out = np.empty((n, PANEL + CAPTION, 3 * PANEL, 3), dtype=np.uint8)
    out[:, :PANEL] = panels
    out[:, PANEL:] = caption_strip([title], 3 * PANEL)
    font = _font(11)
    for t in range(n):  # only the status line changes from frame to frame
        status = (
            f"t={t:3d}  return {recording.returns[t]:+.0f}  good {int(recording.good[t])}  "
            f"bad {int(recording.bad[t])}"
        )
        line = Image.new("RGB", (3 * PANEL, CAPTION - 16), (0, 0, 0))
        ImageDraw.Draw(line).text((6, 0), status, fill=(255, 255, 255), font=font)
        out[t, PANEL + 16 :] = np.asarray(line)
    return out


def write_video(path: str | Path, frames: np.ndarray, fps: int = 15) -> Path:
    """mp4 through imageio's ffmpeg plugin; a gif beside it when ffmpeg is unavailable."""
    import imageio.v2 as imageio

    path = Path(path)
    try:
        import imageio_ffmpeg  # noqa: F401

        with atomic_path(path.with_suffix(".mp4")) as tmp:
            imageio.mimwrite(tmp, list(frames), fps=fps, codec="libx264", macro_block_size=16)
        return path.with_suffix(".mp4")
    except (ImportError, RuntimeError, OSError):
        gif = path.with_suffix(".gif")
        with atomic_path(gif) as tmp:
            imageio.mimwrite(tmp, list(frames), duration=1000 / fps, loop=0)
        return gif


def write_rollout_video(
    policy: Any,
    recordings: Sequence[Any],
    domain: str,
    *,
    path: str | Path,
    episodes: int = 1,
    fps: int = 15,
) -> Path:
    """One video of the first ``episodes`` recordings, one after another."""
    frames = np.concatenate(
        [rollout_frames(policy, rec, domain, k) for k, rec in enumerate(recordings[:episodes])]
    )
    return write_video(path, frames, fps)

"""Why an agent transferred or not: how far its vision module's latents move under a shift.

Paired frames: the same layouts (episode seeds) and the same action sequence, rendered in each
domain, so two paired frames differ in looks only. For each domain and vision module:

- ``distance``: mean ‖μ(x_domain) − μ(x_reference)‖ over paired frames, where the reference is
  the nearest source domain (fewest differing factors; for a source domain, the nearest *other*
  source domain);
- ``relative``: that distance ÷ the mean distance between two reference frames from different
  layouts at the same time step: 0 means the shift leaves the latents where they were, 1 means it
  moves them as far as looking at another room does. An agent acting on a representation whose
  latents barely move (relative ≪ 1) has a chance to transfer; one whose latents move a lot sees
  a new world;
- ``per_latent``: mean |Δμ_j| ÷ std of μ_j over reference frames, latent by latent: which
  latents the shift moves (a disentangled model should move few).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from darla.metrics.utils import normalize_codes
from darla.transfer.rollout import EnvSettings, _envs, episode_seeds


def paired_frames(
    domains: Sequence[tuple[str, Mapping[str, str]]],
    settings: EnvSettings,
    *,
    layouts: int = 4,
    steps: int = 20,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """``{domain: uint8 [layouts * (steps + 1), H, W, 3]}``, frame ``i`` paired across domains."""
    # episodes longer than the walk, so none ends early and breaks the pairing
    walk = EnvSettings(settings.obs_size, steps + 1, settings.env_kwargs)
    env = _envs(walk, 1)[0]
    seeds = episode_seeds(seed + 7919, layouts)  # not the evaluation episodes' layouts
    out: dict[str, np.ndarray] = {}
    for name, factors in domains:
        frames = []
        for s in seeds:
            rng = np.random.default_rng([s, 3])  # the same actions in every domain
            obs, _ = env.reset(seed=s, options={"domain": {**factors, "name": name}})
            frames.append(obs.copy())
            for _ in range(steps):
                obs, *_ = env.step(int(rng.integers(env.action_space.n)))
                frames.append(obs.copy())
        out[name] = np.stack(frames)
    return out


def nearest_source(
    name: str, factors: Mapping[str, str], sources: Sequence[tuple[str, Mapping[str, str]]]
) -> str:
    """The source domain differing from ``factors`` in the fewest factors (never itself)."""
    best, best_diff = None, None
    for src_name, src_factors in sources:
        if src_name == name or dict(src_factors) == dict(factors):
            continue
        diff = sum(src_factors[k] != factors[k] for k in factors)
        if best_diff is None or diff < best_diff:
            best, best_diff = src_name, diff
    if best is None:  # a single source domain evaluated against itself
        return sources[0][0]
    return best


def latent_shift(
    latents: Mapping[str, np.ndarray], references: Mapping[str, str], steps_per_layout: int
) -> dict[str, dict[str, Any]]:
    """Shift statistics per domain from paired latent means ``{domain: [N, D]}``."""
    out = {}
    for name, reference in references.items():
        mu, ref = latents[name], latents[reference]
        delta = mu - ref
        distance = float(np.linalg.norm(delta, axis=1).mean())
        other = np.roll(ref, steps_per_layout, axis=0)  # same time step, another layout
        spread = float(np.linalg.norm(ref - other, axis=1).mean())
        # in units of the reference frames' spread; a latent with none (collapsed) has nothing
        # to measure a move against, and counts as unmoved
        ref_codes, mean, std = normalize_codes(ref)
        moved = np.abs(normalize_codes(mu, mean, std)[0] - ref_codes).mean(axis=0)
        per_latent = np.where(std > 1e-6, moved, 0.0)
        out[name] = {
            "reference": reference,
            "distance": distance,
            "relative": distance / spread if spread > 1e-12 else None,
            "per_latent": [float(v) for v in per_latent],
            "most_moved_latents": [int(j) for j in np.argsort(-per_latent)[:3]],
        }
    return out


def recon_grid(
    vision: Any, frames: Mapping[str, np.ndarray], indices: Sequence[int], label_width: int = 120
) -> np.ndarray:
    """Rows = domains; per paired frame, the frame and its reconstruction side by side."""
    from PIL import Image, ImageDraw

    from darla.transfer.video import _font, upscale, vision_panels

    size = max(64, next(iter(frames.values())).shape[1])
    pad = 2
    rows = []
    for name, domain_frames in frames.items():
        picked = domain_frames[list(indices)]
        recon, _ = vision_panels(vision, picked)
        tiles = np.concatenate(
            [upscale(np.stack([f, r]), size) for f, r in zip(picked, recon, strict=True)]
        )
        label = Image.new("RGB", (label_width, size), (255, 255, 255))
        ImageDraw.Draw(label).text((4, size // 2 - 6), name, fill=(0, 0, 0), font=_font(11))
        row = [np.asarray(label)]
        for k, tile in enumerate(tiles):
            gap = 3 * pad if k % 2 == 0 and k else pad
            row += [np.full((size, gap, 3), 255, np.uint8), tile]
        rows.append(np.concatenate(row, axis=1))
        rows.append(np.full((pad, rows[-1].shape[1], 3), 255, np.uint8))
    header = Image.new("RGB", (rows[0].shape[1], 16), (255, 255, 255))
    draw = ImageDraw.Draw(header)
    for k in range(len(indices)):
        x = label_width + k * (2 * size + 4 * pad)
        draw.text((x + 4, 2), "frame", fill=(0, 0, 0), font=_font(10))
        draw.text((x + size + pad + 4, 2), "reconstruction", fill=(0, 0, 0), font=_font(10))
    return np.concatenate([np.asarray(header), *rows], axis=0)

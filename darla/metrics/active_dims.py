"""Counting the latent dimensions a VAE actually uses."""

from __future__ import annotations

import numpy as np

from darla.errors import DarlaError


def active_dimensions(kl_per_dim: np.ndarray, threshold: float = 0.01) -> int:
    """Number of latent dimensions whose KL to the prior exceeds ``threshold`` (nats).

    ``kl_per_dim`` is the KL per dimension averaged over a dataset, ``[D]``, or per observation,
    ``[N, D]`` (averaged here). A dimension with KL at or below the threshold has collapsed to
    the prior and carries no information. Pitfall fixed here and tested: a count such as
    ``kl_per_dim.shape[-1]`` or ``len(kl > t)`` counts *every* dimension, not the active ones.
    """
    kl = np.asarray(kl_per_dim, dtype=np.float64)
    if kl.ndim == 2:
        kl = kl.mean(axis=0)
    if kl.ndim != 1:
        raise DarlaError(
            f"kl_per_dim must be [num_latents] or [num_points, num_latents], got shape {kl.shape}"
        )
    if not np.all(np.isfinite(kl)):
        raise DarlaError("kl_per_dim contains NaN or inf; the model diverged, fix training first")
    return int(np.count_nonzero(kl > threshold))

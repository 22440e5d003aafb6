"""CollectGoodObjects domain-shift environments on MiniWorld, with ground-truth factors.

Importing this package sets up headless rendering (pyglet on Mesa EGL) before MiniWorld loads,
and registers ``darla/CollectGoodObjects-v0`` with gymnasium.
"""

from envs.rendering import RenderingUnavailableError, enable_headless, render_process_context

enable_headless()

import gymnasium  # noqa: E402

from envs.domains import (  # noqa: E402
    DomainError,
    domain_names,
    factor_vocabulary,
    get_domain,
    register_domain,
    resolve_domain,
    source_domains,
    target_domains,
)
from envs.factor_dataset import FactorDataset  # noqa: E402
from envs.shapes import Shapes2D  # noqa: E402

ENV_ID = "darla/CollectGoodObjects-v0"

if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="envs.collect_good_objects:CollectGoodObjects")


def make_factor_dataset(domains=None, obs_size: int = 64, **env_kwargs):
    """Factor dataset of CollectGoodObjects scenes (see ``envs.scene_factors``)."""
    from envs.scene_factors import CollectGoodObjectsFactors

    return CollectGoodObjectsFactors(
        domains if domains is not None else source_domains(), obs_size, **env_kwargs
    )


__all__ = [
    "ENV_ID",
    "DomainError",
    "FactorDataset",
    "RenderingUnavailableError",
    "Shapes2D",
    "domain_names",
    "factor_vocabulary",
    "get_domain",
    "make_factor_dataset",
    "register_domain",
    "render_process_context",
    "resolve_domain",
    "source_domains",
    "target_domains",
]

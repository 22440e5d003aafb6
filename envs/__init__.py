"""CollectGoodObjects domain-shift environments on MiniWorld, with ground-truth factors.

Importing this package sets up headless rendering (pyglet on Mesa EGL) before MiniWorld loads,
and registers ``darla/CollectGoodObjects-v0`` with gymnasium. ``envs.reference`` holds the
scripted reference policy that plays from the env's privileged state.
"""

from typing import Any

from envs.rendering import RenderingUnavailableError, enable_headless, render_process_context

enable_headless()

import gymnasium  # noqa: E402

from envs.domains import (  # noqa: E402
    DomainError,
    domain_names,
    factor_values,
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
    "env_settings",
    "factor_values",
    "factor_vocabulary",
    "get_domain",
    "make_factor_dataset",
    "register_domain",
    "render_process_context",
    "resolve_domain",
    "source_domains",
    "target_domains",
]


def env_settings(**settings: Any) -> dict[str, Any]:
    """Every constructor setting of ``CollectGoodObjects``, the defaults filled in.

    This is what a run key holds about the env: with the defaults written out, a changed default
    (more objects, a bigger room) is a changed key, and a run made before it is not reused.
    ``domain`` is keyed by its resolved factors elsewhere and ``render_mode`` changes no number,
    so neither is here.
    """
    import inspect

    from envs.collect_good_objects import CollectGoodObjects

    parameters = inspect.signature(CollectGoodObjects.__init__).parameters
    resolved = {name: p.default for name, p in parameters.items() if name not in _NOT_ENV_SETTINGS}
    unknown = sorted(set(settings) - set(resolved))
    if unknown:
        raise DomainError(
            f"unknown CollectGoodObjects setting {unknown[0]!r}; valid: {', '.join(resolved)}"
        )
    return {**resolved, **settings}


_NOT_ENV_SETTINGS = ("self", "domain", "render_mode")

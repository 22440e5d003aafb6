"""CollectGoodObjects as a ground-truth factor dataset, for the disentanglement metrics.

A scene is one good and one bad object in front of the agent. Its factors are the domain
factors that differ among the chosen domains, plus three layout factors (the agent's yaw and
each object's lateral lane). Every factor is discrete and every combination renders, so factors
can be sampled independently even when the named domains tie them together (in the source set,
wall and floor textures always change together; here they vary apart).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from envs import domains as domain_catalogue
from envs.domains import DomainSpec
from envs.factor_dataset import RenderCache, check_factors, sample_uniform_factors

# Chosen so that every object stays in the 60-degree field of view at every yaw.
AGENT_YAW_DEG = (-10.0, -5.0, 0.0, 5.0, 10.0)
LANES = (0.42, 0.47, 0.53, 0.58)  # lateral positions, as fractions of the room side
GOOD_DEPTH, BAD_DEPTH, AGENT_DEPTH = 0.5, 0.75, 0.1
LAYOUT_FACTORS = ("agent_yaw", "good_lane", "bad_lane")


def varying_domain_factors(
    domains: DomainSpec | Sequence[DomainSpec],
) -> dict[str, tuple[object, ...]]:
    """The domain factors whose value differs among ``domains``, each with the values used.

    The values come from the domains themselves, so a user's domain with a texture or a colour
    outside ``domains.yaml`` is a factor dataset like any other. Values the file names come in
    its order, as before; others follow, in the order the domains first use them. No environment
    is built, so callers can learn a factor dataset's factors (``(*this, *LAYOUT_FACTORS)``)
    before paying for rendering.
    """
    resolved = domain_catalogue.resolve_domains(domains)
    varying = {}
    for factor, named in domain_catalogue.factor_vocabulary().items():
        used: dict[object, object] = {}  # hashable key -> value, in first-use order
        for _, factors in resolved:
            used.setdefault(domain_catalogue.value_key(factors[factor]), factors[factor])
        if len(used) > 1:
            rank = {value: i for i, value in enumerate(named)}
            order = sorted(used, key=lambda key: rank.get(key, len(rank)))  # stable: first use
            varying[factor] = tuple(used[key] for key in order)
    return varying


class CollectGoodObjectsFactors:
    """Renders scenes from factor indices; one env, re-laid out per image.

    Each distinct scene is rendered once (see ``RenderCache``), up to ``cache_bytes``.
    """

    def __init__(
        self,
        domains: DomainSpec | Sequence[DomainSpec],
        obs_size: int = 64,
        cache_bytes: int = 1 << 30,
        **env_kwargs,
    ) -> None:
        from envs.collect_good_objects import CollectGoodObjects

        resolved = domain_catalogue.resolve_domains(domains)
        self._fixed = dict(resolved[0][1])
        domain_factors = varying_domain_factors(domains)
        self._domain_factor_names = tuple(domain_factors)
        self.factor_names = (*domain_factors, *LAYOUT_FACTORS)
        self.factor_values = (*domain_factors.values(), AGENT_YAW_DEG, LANES, LANES)
        self.factor_sizes = tuple(len(v) for v in self.factor_values)
        self.domains = [name for name, _ in resolved]
        # what the object probe renders its own episodes with (darla.metrics.object_probe)
        self.domain_specs = tuple({**factors, "name": name} for name, factors in resolved)
        self.obs_size = obs_size
        self.env_kwargs = dict(env_kwargs)
        self._env = CollectGoodObjects(domain=resolved[0][1], obs_size=obs_size, **env_kwargs)
        height, width = self._env.observation_space.shape[:2]
        self.observation_shape = (height, width, 3)
        self._cache = RenderCache(self.factor_sizes, self.observation_shape, cache_bytes)

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return sample_uniform_factors(self.factor_sizes, n, rng)

    def factors_to_domain(self, row: np.ndarray) -> dict[str, str]:
        domain = dict(self._fixed)
        for k, name in enumerate(self._domain_factor_names):
            domain[name] = self.factor_values[k][row[k]]
        return domain

    def render(self, factors: np.ndarray) -> np.ndarray:
        return self._cache.render(check_factors(factors, self.factor_sizes), self._render_rows)

    def _render_rows(self, factors: np.ndarray) -> np.ndarray:
        out = np.empty((len(factors), *self.observation_shape), dtype=np.uint8)
        for i, row in enumerate(factors):
            out[i] = self._render_one(row)
        return out

    def _render_one(self, row: np.ndarray) -> np.ndarray:
        yaw, good_lane, bad_lane = row[len(self._domain_factor_names) :]
        layout = {
            "agent_pos": (AGENT_DEPTH, 0.5),
            "agent_yaw_deg": AGENT_YAW_DEG[yaw],
            "good": [(GOOD_DEPTH, LANES[good_lane])],
            "bad": [(BAD_DEPTH, LANES[bad_lane])],
        }
        domain = self.factors_to_domain(row)
        obs, _ = self._env.reset(seed=0, options={"domain": domain, "layout": layout})
        return obs

    def close(self) -> None:
        self._env.close()

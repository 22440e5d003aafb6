"""CollectGoodObjects as a ground-truth factor dataset, for the disentanglement metrics.

A scene is one good and one bad object in front of the agent. Its factors are the domain
factors that differ among the chosen domains, plus three layout factors (the agent's yaw and
each object's lateral lane). Every factor is discrete and every factor vector renders.

Two choices keep the dataset honest about zero-shot transfer (DESIGN.md, "Zero-shot
integrity"):

- **Co-varying factors are one factor.** Domain factors whose values change together across the
  chosen domains (in the source set: wall, floor and ceiling textures, which make "the room";
  the good and bad objects' shapes and colours, which make "the object pair") are merged into one
  factor whose values are the tuples of their values (:func:`varying_domain_factors`). Left
  apart they would be several perfectly correlated "factors" under ``combinations="domains"``:
  a model encoding the room in one latent would be penalised (DCI disentanglement spreads that
  latent's importance over three copies, MIG's gap between them is 0), and a factor cannot be
  varied alone without inventing a scene no domain has.
- **Only the domains' own combinations by default.** With ``combinations="domains"`` the
  domain-factor part of a scene is one of the chosen domains' own vectors; the layout factors
  stay independent of it and of each other. In the source set that means room 2 occurs with
  pair B only, so the held-out target A_room2 is never drawn. ``combinations="all"`` draws the
  (merged) factors independently, every combination of the domains' values included: the
  "OOD" dataset the metrics can also score on, never one to train on or choose a model with.
  Because the factors are then dependent, the metrics that fix a factor use
  :meth:`CollectGoodObjectsFactors.sample_factors_with` instead of overwriting a column.

``render`` takes any factor vector in the grid, in the chosen domains' support or not.
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
#: ``combinations``: the chosen domains' own domain-factor vectors, or every combination of
#: their values (held-out ones included).
COMBINATIONS = ("domains", "all")
#: The name of a merged factor whose members are exactly one of these groups; any other merge is
#: named by joining its members' names with "+" (e.g. ``good_color+bad_color``).
MERGED_NAMES = {
    frozenset({"wall_tex", "floor_tex", "ceil_tex"}): "room",
    frozenset({"good_shape", "good_color", "bad_shape", "bad_color"}): "objects",
    frozenset({"light_color", "light_pos"}): "lighting",
}


def check_combinations(combinations: str) -> str:
    if combinations not in COMBINATIONS:
        raise ValueError(
            f"combinations must be one of {', '.join(COMBINATIONS)}, got {combinations!r}: "
            "domains (the chosen domains' own factor combinations: train and select on these) or "
            "all (every combination of their values, held-out ones included)"
        )
    return combinations


def domain_factor_groups(
    domains: DomainSpec | Sequence[DomainSpec],
) -> dict[str, tuple[str, ...]]:
    """Each factor of the dataset's domain part and the domain factors it stands for.

    A domain factor that differs among ``domains`` is grouped with every other one that takes a
    new value exactly where it does (the same partition of the domains); groups come in
    ``domains.yaml``'s factor order, by their first member. See the module docstring for why.
    """
    return {name: tuple(members) for name, (members, _) in _groups(domains).items()}


def varying_domain_factors(
    domains: DomainSpec | Sequence[DomainSpec],
) -> dict[str, tuple[object, ...]]:
    """The dataset's domain factors (see :func:`domain_factor_groups`), each with its values.

    A single domain factor's values come from the domains themselves, so a user's domain with a
    texture or a colour outside ``domains.yaml`` is a factor dataset like any other. Values the
    file names come in its order; others follow, in the order the domains first use them. A
    merged factor's values are tuples (one value per member), in the order the domains first use
    them. No environment is built, so callers can learn a factor dataset's factors
    (``(*this, *LAYOUT_FACTORS)``) before paying for rendering.
    """
    return {name: values for name, (_, values) in _groups(domains).items()}


def _groups(domains) -> dict[str, tuple[list[str], tuple[object, ...]]]:
    resolved = domain_catalogue.resolve_domains(domains)
    by_partition: dict[tuple[int, ...], list[str]] = {}
    for factor in domain_catalogue.factor_vocabulary():
        keys = [domain_catalogue.value_key(factors[factor]) for _, factors in resolved]
        first_use = {key: i for i, key in reversed(list(enumerate(keys)))}
        if len(first_use) > 1:  # same tuple: the factors change together, domain by domain
            partition = tuple(sorted(first_use.values()).index(first_use[key]) for key in keys)
            by_partition.setdefault(partition, []).append(factor)
    groups = {}
    for members in by_partition.values():
        if len(members) == 1:
            (factor,) = members
            groups[factor] = (members, _single_values(resolved, factor))
            continue
        name = MERGED_NAMES.get(frozenset(members), "+".join(members))
        values: dict[tuple, tuple] = {}
        for _, factors in resolved:
            value = tuple(factors[m] for m in members)
            values.setdefault(tuple(domain_catalogue.value_key(v) for v in value), value)
        groups[name] = (members, tuple(values.values()))
    return groups


def _single_values(resolved, factor: str) -> tuple[object, ...]:
    named = domain_catalogue.factor_vocabulary()[factor]
    used: dict[object, object] = {}  # hashable key -> value, in first-use order
    for _, factors in resolved:
        used.setdefault(domain_catalogue.value_key(factors[factor]), factors[factor])
    rank = {value: i for i, value in enumerate(named)}
    order = sorted(used, key=lambda key: rank.get(key, len(rank)))  # stable: first use
    return tuple(used[key] for key in order)


class CollectGoodObjectsFactors:
    """Renders scenes from factor indices; one env, re-laid out per image.

    ``combinations`` (see the module docstring): ``"domains"`` (default) samples the domain part
    of a scene among the chosen domains' own vectors, uniformly over the distinct vectors, with
    the layout factors drawn independently; ``"all"`` samples every factor independently.
    Each distinct scene is rendered once (see ``RenderCache``), up to ``cache_bytes``.
    """

    def __init__(
        self,
        domains: DomainSpec | Sequence[DomainSpec],
        obs_size: int = 64,
        cache_bytes: int = 1 << 30,
        combinations: str = "domains",
        **env_kwargs,
    ) -> None:
        from envs.collect_good_objects import CollectGoodObjects

        self.combinations = check_combinations(combinations)
        resolved = domain_catalogue.resolve_domains(domains)
        self._fixed = dict(resolved[0][1])
        groups = _groups(domains)
        self._members = tuple(members for members, _ in groups.values())
        self.factor_names = (*groups, *LAYOUT_FACTORS)
        self.factor_values = (
            *(values for _, values in groups.values()),
            AGENT_YAW_DEG,
            LANES,
            LANES,
        )
        self.factor_sizes = tuple(len(v) for v in self.factor_values)
        self.num_domain_factors = len(groups)
        #: The chosen domains' domain-factor vectors, int [M, num_domain_factors], distinct, in
        #: the order the domains first hold them: the support of ``combinations="domains"``.
        vectors = {
            tuple(self._index(k, factors) for k in range(len(groups))): None
            for _, factors in resolved
        }
        self.domain_combinations = np.array(list(vectors), dtype=np.int64).reshape(
            len(vectors), len(groups)
        )
        self.domains = [name for name, _ in resolved]
        # what the object probe renders its own episodes with (darla.metrics.object_probe)
        self.domain_specs = tuple({**factors, "name": name} for name, factors in resolved)
        self.obs_size = obs_size
        self.env_kwargs = dict(env_kwargs)
        self._env = CollectGoodObjects(domain=resolved[0][1], obs_size=obs_size, **env_kwargs)
        height, width = self._env.observation_space.shape[:2]
        self.observation_shape = (height, width, 3)
        self._cache = RenderCache(self.factor_sizes, self.observation_shape, cache_bytes)

    def _index(self, k: int, factors: dict) -> int:
        """Factor k's value index for a domain's full factors."""
        key = tuple(domain_catalogue.value_key(factors[m]) for m in self._members[k])
        for i, value in enumerate(self.factor_values[k]):
            value = value if len(self._members[k]) > 1 else (value,)
            if tuple(domain_catalogue.value_key(v) for v in value) == key:
                return i
        raise AssertionError(f"{key} is not a value of {self.factor_names[k]}")  # by construction

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` scenes from the dataset's support (see ``combinations``), int64 [n, K]."""
        if self.combinations == "all" or not self.num_domain_factors:
            return sample_uniform_factors(self.factor_sizes, n, rng)
        layout = sample_uniform_factors(self.factor_sizes[self.num_domain_factors :], n, rng)
        picks = rng.integers(0, len(self.domain_combinations), n)
        return np.concatenate([self.domain_combinations[picks], layout], axis=1)

    def sample_factors_with(
        self, k: int | np.ndarray, values: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Scenes of the support whose factor ``k[i]`` (one factor, or one per row) has index
        ``values[i]``, the other factors drawn from the support given it, int64 [n, K].

        With ``combinations="all"`` this is ``sample_factors`` with the column overwritten; with
        ``"domains"`` a fixed domain factor's value picks among the combinations holding it, so
        no row is a combination the chosen domains do not hold. A value no combination holds is
        refused (ValueError).
        """
        values = np.asarray(values, dtype=np.int64).reshape(-1)
        n = len(values)
        ks = np.broadcast_to(np.asarray(k, dtype=np.int64), (n,))
        if n and (ks.min() < 0 or ks.max() >= len(self.factor_sizes)):
            raise ValueError(f"factor index out of range [0, {len(self.factor_sizes)})")
        factors = self.sample_factors(n, rng)
        if self.combinations == "domains":
            for j in np.unique(ks[ks < self.num_domain_factors]):
                rows = np.flatnonzero(ks == j)
                for v in np.unique(values[rows]):
                    holders = self.domain_combinations[self.domain_combinations[:, j] == v]
                    if not len(holders):
                        raise ValueError(
                            f"no combination of {self.domains} has {self.factor_names[j]} = "
                            f"index {v}; fix a value the support holds"
                        )
                    at = rows[values[rows] == v]
                    chosen = holders[rng.integers(0, len(holders), len(at))]
                    factors[at, : self.num_domain_factors] = chosen
        if n:
            factors[np.arange(n), ks] = values
        return check_factors(factors, self.factor_sizes)

    def allowed_values(self, k: int, row: np.ndarray) -> np.ndarray:
        """The value indices of factor ``k`` that keep ``row``'s other factors in the support:
        what a batch holding those fixed may vary factor ``k`` over (DC-IGN's clamped batches)."""
        if self.combinations == "all" or k >= self.num_domain_factors:
            return np.arange(self.factor_sizes[k])
        others = [j for j in range(self.num_domain_factors) if j != k]
        combos = self.domain_combinations
        match = np.all(combos[:, others] == np.asarray(row)[others], axis=1)
        return np.unique(combos[match, k])

    def factors_to_domain(self, row: np.ndarray) -> dict[str, str]:
        """The full domain (every domain factor's value) a factor vector renders."""
        domain = dict(self._fixed)
        for k, members in enumerate(self._members):
            value = self.factor_values[k][row[k]]
            for member, v in zip(members, value if len(members) > 1 else (value,), strict=True):
                domain[member] = v
        return domain

    def render(self, factors: np.ndarray) -> np.ndarray:
        return self._cache.render(check_factors(factors, self.factor_sizes), self._render_rows)

    def _render_rows(self, factors: np.ndarray) -> np.ndarray:
        out = np.empty((len(factors), *self.observation_shape), dtype=np.uint8)
        for i, row in enumerate(factors):
            out[i] = self._render_one(row)
        return out

    def _render_one(self, row: np.ndarray) -> np.ndarray:
        yaw, good_lane, bad_lane = row[self.num_domain_factors :]
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

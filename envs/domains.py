"""Named domains: the factor values that make one look of the CollectGoodObjects world.

Domains are data (``domains.yaml``). Anything that takes a domain accepts a name, or a mapping of
factor values with an optional ``base`` domain to start from and an optional ``name``.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import yaml

DomainSpec = str | Mapping[str, Any]


class DomainError(ValueError):
    """An unknown domain, factor, value or env setting; the message lists the valid ones."""


@functools.cache
def _catalogue() -> dict[str, Any]:
    text = resources.files("envs").joinpath("domains.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    for name, factors in data["domains"].items():
        _check_complete(name, factors, data["factors"])
    return data


_registered: dict[str, dict[str, str]] = {}


def factor_vocabulary() -> dict[str, tuple[str, ...]]:
    """Every domain factor and the values it may take, in index order."""
    return {name: tuple(values) for name, values in _catalogue()["factors"].items()}


def domain_names() -> list[str]:
    """Named domains, the file's first, then any registered in this process."""
    return [*_catalogue()["domains"], *_registered]


def source_domains() -> list[str]:
    """The domains agents and vision modules train on (DMLab split)."""
    return list(_catalogue()["splits"]["source"])


def target_domains() -> list[str]:
    """Held-out domains for zero-shot evaluation: never seen in training."""
    return list(_catalogue()["splits"]["target"])


def get_domain(name: str) -> dict[str, str]:
    """The complete factor values of a named domain."""
    if not isinstance(name, str):
        raise DomainError(f"domain name must be a string, got {type(name).__name__}")
    if name in _registered:
        return dict(_registered[name])
    domains = _catalogue()["domains"]
    if name not in domains:
        raise DomainError(f"unknown domain {name!r}; valid domains: {', '.join(domain_names())}")
    return dict(domains[name])


def register_domain(name: str, spec: Mapping[str, Any]) -> dict[str, str]:
    """Give a mapping a name for this process, so configs and reports can refer to it."""
    if name in _catalogue()["domains"]:
        raise DomainError(
            f"domain {name!r} is already defined in domains.yaml; choose another name"
        )
    _, factors = resolve_domain(spec)
    _registered[name] = factors
    return dict(factors)


def resolve_domain(spec: DomainSpec) -> tuple[str, dict[str, str]]:
    """Turn a name or a mapping into ``(name, complete factor values)``, validating every value."""
    if isinstance(spec, str):
        return spec, get_domain(spec)
    if not isinstance(spec, Mapping):
        raise DomainError(
            f"a domain is a name or a mapping of factor values, got {type(spec).__name__}: {spec!r}"
        )
    spec = dict(spec)
    base = spec.pop("base", None)
    name = spec.pop("name", None)
    factors = get_domain(base) if base is not None else copy.deepcopy(_catalogue()["defaults"])
    vocabulary = factor_vocabulary()
    for factor, value in spec.items():
        _check_value(factor, value, vocabulary)
        factors[factor] = value
    if name is None:
        changes = ",".join(f"{k}={v}" for k, v in sorted(spec.items()))
        name = f"{base or 'defaults'}[{changes}]" if changes else (base or "defaults")
    return str(name), factors


def resolve_domains(specs: DomainSpec | Sequence[DomainSpec]) -> list[tuple[str, dict[str, str]]]:
    """Resolve one spec or a list of them (a list is a set to sample from per episode)."""
    if isinstance(specs, (str, Mapping)):
        specs = [specs]
    resolved = [resolve_domain(spec) for spec in specs]
    if not resolved:
        raise DomainError("the list of domains is empty; name at least one, e.g. A_room1")
    return resolved


def color_rgb(name: str) -> tuple[float, float, float]:
    return tuple(_catalogue()["colors"][name])


def light(name: str) -> dict[str, list[float]]:
    return dict(_catalogue()["lights"][name])


def light_position(name: str) -> tuple[float, float, float]:
    return tuple(_catalogue()["light_positions"][name])


def _check_value(factor: str, value: Any, vocabulary: Mapping[str, Sequence[str]]) -> None:
    if factor not in vocabulary:
        raise DomainError(
            f"unknown factor {factor!r}; valid factors: {', '.join(vocabulary)} (plus 'base', 'name')"
        )
    if value not in vocabulary[factor]:
        raise DomainError(
            f"unknown value {value!r} for factor {factor!r}; valid values: {', '.join(vocabulary[factor])}"
        )


def _check_complete(
    name: str, factors: Mapping[str, Any], vocabulary: Mapping[str, Sequence[str]]
) -> None:
    missing = set(vocabulary) - set(factors)
    if missing:
        raise DomainError(
            f"domain {name!r} in domains.yaml lacks factors: {', '.join(sorted(missing))}"
        )
    for factor, value in factors.items():
        _check_value(factor, value, vocabulary)

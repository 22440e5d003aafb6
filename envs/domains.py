"""Named domains: the factor values that make one look of the CollectGoodObjects world.

Domains are data (``domains.yaml``). Anything that takes a domain accepts a name, or a mapping of
factor values with an optional ``base`` domain to start from and an optional ``name``.

A user's domain needs no edit of the package's files: a texture factor takes any texture
MiniWorld ships (its ``textures`` folder: ``drywall``, ``lava``, ...), and an object colour any
RGB triple in [0, 1] (``[0.2, 0.9, 0.4]``) as well as a name from ``domains.yaml``. The file's
factor lists name the values of the named domains and fix their indices (factor datasets, the
labels stored with collected frames); values outside them are valid all the same.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import numbers
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

DomainSpec = str | Mapping[str, Any]

TEXTURE_FACTORS = ("wall_tex", "floor_tex", "ceil_tex")
COLOR_FACTORS = ("good_color", "bad_color")


class DomainError(ValueError):
    """An unknown domain, factor, value or env setting; the message lists the valid ones."""


@functools.cache
def _file() -> dict[str, Any]:
    text = resources.files("envs").joinpath("domains.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@functools.cache
def _catalogue() -> dict[str, Any]:
    """``domains.yaml``, every named domain checked complete and valid."""
    data = _file()
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
        factors[factor] = _check_value(factor, value, vocabulary)
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


def color_rgb(value: str | Sequence[float]) -> tuple[float, float, float]:
    """A colour factor's RGB: a name from ``domains.yaml`` or the triple itself."""
    if isinstance(value, str):
        return tuple(_catalogue()["colors"][value])
    return tuple(float(c) for c in value)


@functools.cache
def miniworld_textures() -> tuple[str, ...]:
    """The texture names MiniWorld ships (``textures/<name>_1.png``), found without importing it
    (importing MiniWorld opens a GL window)."""
    spec = importlib.util.find_spec("miniworld")
    if spec is None or not spec.submodule_search_locations:
        return ()
    folder = Path(next(iter(spec.submodule_search_locations))) / "textures"
    return tuple(sorted(p.name[: -len("_1.png")] for p in folder.glob("*_1.png")))


def light(name: str) -> dict[str, list[float]]:
    return dict(_catalogue()["lights"][name])


def light_position(name: str) -> tuple[float, float, float]:
    return tuple(_catalogue()["light_positions"][name])


def _check_value(factor: str, value: Any, vocabulary: Mapping[str, Sequence[str]]) -> Any:
    """The value, validated (and an RGB colour as a list of floats); a one-line error if bad."""
    if factor not in vocabulary:
        raise DomainError(
            f"unknown factor {factor!r}; valid factors: {', '.join(vocabulary)} (plus 'base', 'name')"
        )
    if factor in TEXTURE_FACTORS:
        return _check_texture(factor, value)
    if factor in COLOR_FACTORS:
        return _check_color(factor, value)
    if not isinstance(value, str) or value not in vocabulary[factor]:
        raise DomainError(
            f"unknown value {value!r} for factor {factor!r}; valid values: {', '.join(vocabulary[factor])}"
        )
    return value


def _check_texture(factor: str, value: Any) -> str:
    shipped = miniworld_textures()
    if isinstance(value, str) and (value in shipped or not shipped):
        return value
    examples = ", ".join(
        t for t in ("brick_wall", "drywall", "marble", "wood", "grass") if t in shipped
    )
    raise DomainError(
        f"unknown texture {value!r} for factor {factor!r}: MiniWorld ships no textures/{value}_1.png; "
        f"it has {len(shipped)}, e.g. {examples} (all: envs.domains.miniworld_textures())"
    )


def _check_color(factor: str, value: Any) -> str | list[float]:
    names = _file()["colors"]
    if isinstance(value, str):
        if value in names:
            return value
    elif (
        isinstance(value, Sequence)
        and len(value) == 3
        and all(isinstance(c, numbers.Real) and not isinstance(c, bool) for c in value)
        and all(0.0 <= float(c) <= 1.0 for c in value)
    ):
        return [float(c) for c in value]
    raise DomainError(
        f"bad colour {value!r} for factor {factor!r}: use a name ({', '.join(names)}) "
        "or an RGB triple in [0, 1], e.g. [0.2, 0.9, 0.4]"
    )


def factor_values(
    domains: Sequence[tuple[str, Mapping[str, Any]]],
) -> dict[str, tuple[Any, ...]]:
    """Every factor's values for data from resolved ``domains``: those ``domains.yaml`` names, in
    its order (so their indices never move), then any other value the domains use (a texture
    MiniWorld ships, an RGB colour), in the order they first use it."""
    out = {}
    for factor, named in factor_vocabulary().items():
        values = {value_key(v): v for v in named}
        for _, factors in domains:
            values.setdefault(value_key(factors[factor]), factors[factor])
        out[factor] = tuple(values.values())
    return out


def value_index(values: Sequence[Any], value: Any) -> int:
    """Where ``value`` sits in ``values`` (an RGB list matches its tuple or list)."""
    return [value_key(v) for v in values].index(value_key(value))


def value_key(value: Any) -> Any:
    """A hashable stand-in for a factor value (an RGB list becomes a tuple)."""
    return tuple(value) if isinstance(value, list) else value


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

"""Domains are data: names, mappings, splits, and clear errors for bad specs."""

import pytest

import envs
from envs.domains import DomainError, resolve_domain


def test_split_follows_dmlab():
    assert envs.source_domains() == ["A_room1", "B_room1", "B_room2"]
    targets = envs.target_domains()
    assert targets[0] == "A_room2"
    assert len(targets) >= 4
    assert not set(targets) & set(envs.source_domains())
    assert set(targets) | set(envs.source_domains()) <= set(envs.domain_names())


def test_held_out_target_combines_seen_values():
    sources = [envs.get_domain(name) for name in envs.source_domains()]
    target = envs.get_domain("A_room2")
    for factor, value in target.items():
        assert any(source[factor] == value for source in sources), factor
    assert target not in sources


@pytest.mark.parametrize(
    ("target", "changed"),
    [
        ("A_unseen_textures", {"wall_tex", "floor_tex", "ceil_tex"}),
        ("A_unseen_colors", {"good_color", "bad_color"}),
        ("A_new_lighting", {"light_color", "light_pos"}),
    ],
)
def test_extrapolation_targets_use_values_no_source_uses(target, changed):
    sources = [envs.get_domain(name) for name in envs.source_domains()]
    domain = envs.get_domain(target)
    differing = {k for k, v in domain.items() if v != envs.get_domain("A_room1")[k]}
    assert differing == changed
    for factor in changed:
        assert all(source[factor] != domain[factor] for source in sources)


def test_mapping_starts_from_base_and_validates():
    name, factors = resolve_domain({"base": "B_room2", "light_color": "dim", "name": "dark_b2"})
    assert name == "dark_b2"
    assert factors == {**envs.get_domain("B_room2"), "light_color": "dim"}
    unnamed, _ = resolve_domain({"wall_tex": "marble"})
    assert "wall_tex=marble" in unnamed


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("C_room9", "valid domains: A_room1"),
        ({"wall_colour": "red"}, "valid factors: wall_tex"),
        ({"wall_tex": "lava"}, "valid values: brick_wall"),
        ({"base": "nope"}, "unknown domain 'nope'"),
        (3, "a domain is a name or a mapping"),
    ],
)
def test_bad_specs_fail_listing_valid_choices(spec, expected):
    with pytest.raises(DomainError, match=expected):
        resolve_domain(spec)


def test_register_domain_names_a_mapping(monkeypatch):
    monkeypatch.setattr(envs.domains, "_registered", {})  # registered names are process-wide
    envs.register_domain("test_marble_room", {"base": "A_room1", "wall_tex": "marble"})
    assert "test_marble_room" in envs.domain_names()
    assert envs.get_domain("test_marble_room")["wall_tex"] == "marble"
    with pytest.raises(DomainError, match="already defined"):
        envs.register_domain("A_room1", {})

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
        ({"wall_tex": "lava_floor"}, "MiniWorld ships no textures/lava_floor_1.png"),
        ({"floor_tex": 3}, "unknown texture 3 for factor 'floor_tex'"),
        ({"good_color": "chartreuse"}, r"bad colour 'chartreuse' .*RGB triple in \[0, 1\]"),
        ({"bad_color": [0.2, 1.4, 0.0]}, "bad colour"),
        ({"bad_color": [0.2, 0.4]}, "bad colour"),
        ({"good_shape": "sphere"}, "valid values: cylinder"),
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


def test_a_users_domain_takes_any_miniworld_texture_and_any_rgb_colour():
    """A target a user writes needs no edit of domains.yaml (an installed package's file)."""
    assert {"drywall", "lava", "brick_wall"} <= set(envs.domains.miniworld_textures())
    assert "drywall" not in envs.factor_vocabulary()["wall_tex"]
    name, factors = resolve_domain(
        {"base": "A_room1", "wall_tex": "drywall", "good_color": (0.2, 0.9, 0.4), "name": "mine"}
    )
    assert name == "mine"
    assert factors["wall_tex"] == "drywall"
    assert factors["good_color"] == [0.2, 0.9, 0.4]  # normalised: JSON round trips unchanged
    assert envs.domains.color_rgb(factors["good_color"]) == (0.2, 0.9, 0.4)
    assert envs.domains.color_rgb("green") == (0.15, 0.75, 0.2)


def test_bad_texture_error_is_one_line_naming_textures_that_exist():
    with pytest.raises(DomainError) as error:
        resolve_domain({"wall_tex": "plaster"})
    message = str(error.value)
    assert "\n" not in message
    assert "drywall" in message and "miniworld_textures()" in message


def test_factor_indices_of_named_values_are_unchanged():
    vocabulary = envs.factor_vocabulary()
    assert vocabulary["wall_tex"][:2] == ("brick_wall", "wood_planks")
    assert vocabulary["good_color"][:2] == ("green", "blue")

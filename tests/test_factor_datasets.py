"""Factor datasets: deterministic rendering, factors covering factor_sizes, independent ones
where the dataset's support is a product (the shapes, the scenes with combinations="all")."""

import numpy as np
import pytest
from scipy.stats import chi2_contingency

import envs
from envs.factor_dataset import FactorDataset
from envs.scene_factors import domain_factor_groups


@pytest.fixture(scope="module")
def scenes():
    dataset = envs.make_factor_dataset(envs.source_domains(), obs_size=32)
    yield dataset
    dataset.close()


@pytest.fixture(scope="module")
def all_scenes():
    dataset = envs.make_factor_dataset(envs.source_domains(), obs_size=32, combinations="all")
    yield dataset
    dataset.close()


@pytest.fixture(params=["shapes", "scenes"])
def dataset(request, scenes):
    return envs.Shapes2D(image_size=32) if request.param == "shapes" else scenes


@pytest.fixture(params=["shapes", "all_scenes"])
def independent(request, all_scenes):
    return envs.Shapes2D(image_size=32) if request.param == "shapes" else all_scenes


def test_implements_the_interface(dataset):
    assert isinstance(dataset, FactorDataset)
    assert len(dataset.factor_names) == len(dataset.factor_sizes) == len(dataset.factor_values)
    assert all(size >= 2 for size in dataset.factor_sizes)


def test_render_is_deterministic(dataset):
    factors = dataset.sample_factors(12, np.random.default_rng(0))
    first = dataset.render(factors)
    assert first.dtype == np.uint8 and first.shape == (12, *dataset.observation_shape)
    np.testing.assert_array_equal(first, dataset.render(factors))
    np.testing.assert_array_equal(first[3:5], dataset.render(factors[3:5]))


def test_sampling_is_seeded(dataset):
    a = dataset.sample_factors(50, np.random.default_rng(4))
    np.testing.assert_array_equal(a, dataset.sample_factors(50, np.random.default_rng(4)))


def test_factors_cover_their_sizes(dataset):
    factors = dataset.sample_factors(2000, np.random.default_rng(1))
    for k, size in enumerate(dataset.factor_sizes):
        assert set(np.unique(factors[:, k])) == set(range(size))


def test_factors_are_independent_and_cover_their_sizes(independent):
    dataset = independent
    factors = dataset.sample_factors(20000, np.random.default_rng(1))
    for k, size in enumerate(dataset.factor_sizes):
        assert set(np.unique(factors[:, k])) == set(range(size))
    for i in range(factors.shape[1]):
        for j in range(i + 1, factors.shape[1]):
            table = np.zeros((dataset.factor_sizes[i], dataset.factor_sizes[j]))
            np.add.at(table, (factors[:, i], factors[:, j]), 1)
            assert chi2_contingency(table).pvalue > 1e-4, (
                dataset.factor_names[i],
                dataset.factor_names[j],
            )


def test_each_factor_changes_the_pixels(dataset):
    base = np.zeros((1, len(dataset.factor_sizes)), dtype=np.int64)
    reference = dataset.render(base)
    for k, name in enumerate(dataset.factor_names):
        changed = base.copy()
        changed[0, k] = 1
        assert not np.array_equal(dataset.render(changed), reference), name


def test_out_of_range_factors_fail_clearly(dataset):
    bad = np.zeros((1, len(dataset.factor_sizes)), dtype=np.int64)
    bad[0, 0] = dataset.factor_sizes[0]
    with pytest.raises(ValueError, match="out of range"):
        dataset.render(bad)
    with pytest.raises(ValueError, match="shape"):
        dataset.render(np.zeros((1, 1), dtype=np.int64))


def test_scene_factors_are_the_domain_factors_that_vary_merged_plus_layout(scenes):
    """In the source set the room textures change together, and so do the objects' shapes and
    colours: each group is one factor, whose values are the tuples of its members' values."""
    assert scenes.factor_names == ("room", "objects", "agent_yaw", "good_lane", "bad_lane")
    room = [
        tuple(envs.get_domain(d)[f] for f in ("wall_tex", "floor_tex", "ceil_tex"))
        for d in ("A_room1", "B_room2")
    ]
    assert scenes.factor_values[0] == tuple(room)
    for k, domain in enumerate(("A_room1", "B_room1")):
        row = np.array([0, k, 0, 0, 0])
        wanted = {f: envs.get_domain(domain)[f] for f in envs.factor_vocabulary()}
        assert scenes.factors_to_domain(row) == wanted


def test_factors_that_vary_apart_are_not_merged():
    # good and bad colours change together here, apart from the shapes
    assert domain_factor_groups(["A_room1", "B_room1", "A_unseen_colors"]) == {
        "good_shape+bad_shape": ("good_shape", "bad_shape"),
        "good_color+bad_color": ("good_color", "bad_color"),
    }
    blue = {"base": "A_room1", "good_color": "blue"}  # the good colour changes on its own
    assert domain_factor_groups(["A_room1", blue, "B_room1"]) == {
        "good_shape+bad_shape+bad_color": ("good_shape", "bad_shape", "bad_color"),
        "good_color": ("good_color",),
    }


def test_unknown_combinations_fail_clearly():
    with pytest.raises(ValueError, match="combinations must be one of domains, all"):
        envs.make_factor_dataset(envs.source_domains(), obs_size=32, combinations="every")


def test_factor_dataset_of_one_domain_has_layout_factors_only():
    dataset = envs.make_factor_dataset(["A_room2"], obs_size=32)
    assert dataset.factor_names == ("agent_yaw", "good_lane", "bad_lane")
    dataset.close()


@pytest.mark.parametrize(
    "make",
    [
        lambda cache_bytes: envs.make_factor_dataset(
            ["A_room1", "B_room2"], obs_size=32, cache_bytes=cache_bytes
        ),
        lambda cache_bytes: envs.Shapes2D(image_size=32, cache_bytes=cache_bytes),
    ],
)
def test_render_cache_returns_what_a_fresh_render_gives(make):
    cached, uncached = make(1 << 30), make(0)
    factors = cached.sample_factors(40, np.random.default_rng(3))
    factors[20:] = factors[:20]  # repeats come from the cache
    np.testing.assert_array_equal(cached.render(factors), uncached.render(factors))
    np.testing.assert_array_equal(cached.render(factors[::-1]), uncached.render(factors[::-1]))


def test_factor_values_come_from_the_domains_given_even_outside_domains_yaml():
    """A user's target with a new texture and an RGB colour can be rendered and scored."""
    mine = {"base": "A_room1", "wall_tex": "drywall", "good_color": [0.2, 0.9, 0.4]}
    # B_room1 keeps wall_tex and good_color from changing together (they would merge)
    dataset = envs.make_factor_dataset(["A_room1", mine, "B_room2", "B_room1"], obs_size=32)
    values = dict(zip(dataset.factor_names, dataset.factor_values, strict=True))
    # named values keep domains.yaml's order; new ones follow in the order first used
    assert values["wall_tex"] == ("brick_wall", "wood_planks", "drywall")
    assert values["good_color"] == ("green", "blue", [0.2, 0.9, 0.4])
    base = np.zeros((1, len(dataset.factor_sizes)), dtype=np.int64)
    for name in ("wall_tex", "good_color"):
        new = base.copy()
        new[0, dataset.factor_names.index(name)] = 2
        assert not np.array_equal(dataset.render(new), dataset.render(base)), name
        assert dataset.factors_to_domain(new[0])[name] == values[name][2]
    dataset.close()

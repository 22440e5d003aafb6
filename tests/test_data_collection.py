"""Random-agent data: content-hashed, reused, identical across worker counts, split by episode;
the agent holds each action for ``action_repeat`` steps."""

import numpy as np
import pytest

import envs
from darla.data import CollectionConfig, collect, collection_hash, load_or_collect, open_frames
from darla.data.collection import ACTION_REPEAT, random_agent
from darla.errors import DarlaError

SMALL = {"num_frames": 120, "episode_length": 20, "obs_size": 32, "seed": 0}


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    return root, collect(CollectionConfig(**SMALL), root, progress=False)


def test_frames_factors_and_domains_are_stored_memory_mappable(collected):
    _, folder = collected
    data = open_frames(folder)
    assert isinstance(data.frames, np.memmap)
    assert data.frames.shape == (120, 32, 32, 3) and data.frames.dtype == np.uint8
    assert data.factors.shape == (120, len(envs.factor_vocabulary()))
    assert set(np.unique(data.episode_ids)) == set(range(6))
    vocabulary = envs.factor_vocabulary()
    for i in range(0, 120, 20):
        domain = data.meta["domain_names"][data.domain_ids[i]]
        decoded = {k: vocabulary[k][data.factors[i, j]] for j, k in enumerate(vocabulary)}
        assert decoded == envs.get_domain(domain)


def test_same_config_is_reused_and_a_changed_one_collects_anew(collected, monkeypatch):
    root, folder = collected
    import darla.data.collection as collect_module

    def fail(*args, **kwargs):
        raise AssertionError("should have reused the collected folder")

    monkeypatch.setattr(collect_module, "_collect_into", fail)
    data, reused = load_or_collect(CollectionConfig(**SMALL), root, progress=False)
    assert reused and data.folder == folder
    assert collection_hash(CollectionConfig(**{**SMALL, "seed": 1})) != collection_hash(
        CollectionConfig(**SMALL)
    )
    assert collection_hash(
        CollectionConfig(**{**SMALL, "domains": ("A_room1",)})
    ) != collection_hash(CollectionConfig(**SMALL))
    assert collection_hash(CollectionConfig(**{**SMALL, "action_repeat": 1})) != collection_hash(
        CollectionConfig(**SMALL)
    )
    assert CollectionConfig(**SMALL).identity()["action_repeat"] == ACTION_REPEAT


def test_worker_count_does_not_change_the_data(collected, tmp_path):
    _, folder = collected
    parallel = open_frames(collect(CollectionConfig(**SMALL), tmp_path, workers=2, progress=False))
    serial = open_frames(folder)
    np.testing.assert_array_equal(parallel.frames, serial.frames)
    np.testing.assert_array_equal(parallel.factors, serial.factors)


def test_split_is_by_episode_and_seeded(collected):
    data = open_frames(collected[1])
    train, val = data.split(0.34, seed=0)
    assert len(train) + len(val) == len(data)
    assert not set(data.episode_ids[train]) & set(data.episode_ids[val])
    assert len(set(data.episode_ids[val])) == 2
    np.testing.assert_array_equal(val, data.split(0.34, seed=0)[1])


def test_tampered_or_mismatched_folder_is_refused(collected, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(collected[1], copy)
    with pytest.raises(DarlaError, match="expected 0000"):
        open_frames(copy, expected_hash="0000")
    frames = np.load(copy / "frames.npy", mmap_mode="r+")
    frames[0, 0, 0, 0] ^= 1
    frames.flush()
    with pytest.raises(DarlaError, match="does not match the hash"):
        open_frames(copy)


def test_bad_collection_config_fails_clearly():
    with pytest.raises(DarlaError, match="unknown domain 'C_room3'"):
        CollectionConfig(domains=("C_room3",))
    with pytest.raises(DarlaError, match="num_frames"):
        CollectionConfig(num_frames=0)
    with pytest.raises(DarlaError, match="action_repeat must be at least 1, got 0"):
        CollectionConfig(action_repeat=0)
    with pytest.raises(DarlaError, match="action_repeat must be a whole number"):
        CollectionConfig(action_repeat=2.5)


def test_the_random_agent_holds_each_uniform_draw_for_action_repeat_steps():
    held = list(zip(range(12), random_agent(np.random.default_rng(3), 3, 4), strict=False))
    actions = [a for _, a in held]
    draws = np.random.default_rng(3).integers(3, size=3)
    assert actions == [int(d) for d in np.repeat(draws, 4)]
    # one action a step is one draw a step: the stream a uniformly random agent has always had
    single = [
        a for _, a in zip(range(12), random_agent(np.random.default_rng(3), 3, 1), strict=False)
    ]
    assert single == [int(d) for d in np.random.default_rng(3).integers(3, size=12)]


def test_a_longer_hold_changes_the_frames_not_their_domains(collected, tmp_path):
    held = open_frames(
        collect(CollectionConfig(**{**SMALL, "action_repeat": 1}), tmp_path, progress=False)
    )
    default = open_frames(collected[1])
    np.testing.assert_array_equal(held.domain_ids, default.domain_ids)
    np.testing.assert_array_equal(held.frames[::20], default.frames[::20])  # the same resets
    assert not np.array_equal(held.frames, default.frames)


def test_an_untouched_folder_is_not_hashed_again_a_touched_file_is(
    collected, tmp_path, monkeypatch
):
    import shutil

    import darla.data.frames as frames_module

    copy = tmp_path / "copy"
    shutil.copytree(collected[1], copy)  # copy2: sizes and modification times kept
    hashed = []
    real = frames_module.sha256_file
    monkeypatch.setattr(frames_module, "sha256_file", lambda p: hashed.append(p) or real(p))
    open_frames(copy)
    assert hashed == []  # recorded when written; nothing changed since
    (copy / "factors.npy").touch()  # same bytes, new time: hashed, and accepted
    open_frames(copy)
    assert hashed == [copy / "factors.npy"]


def test_a_users_domain_with_a_new_texture_and_colour_is_collected(tmp_path):
    mine = {"base": "A_room1", "wall_tex": "drywall", "good_color": [0.2, 0.9, 0.4], "name": "mine"}
    config = CollectionConfig(**{**SMALL, "num_frames": 40}, domains=(mine,))
    data = open_frames(collect(config, tmp_path, progress=False))
    values = data.meta["factor_values"]
    assert values["wall_tex"][: len(envs.factor_vocabulary()["wall_tex"])] == list(
        envs.factor_vocabulary()["wall_tex"]
    )  # the named values keep their indices; the new ones follow
    column = data.meta["factor_names"].index  # the factor columns' order
    walls = {values["wall_tex"][i] for i in data.factors[:, column("wall_tex")]}
    greens = {tuple(values["good_color"][i]) if isinstance(values["good_color"][i], list)
              else values["good_color"][i]
              for i in data.factors[:, column("good_color")]}  # fmt: skip
    assert "drywall" in walls and (0.2, 0.9, 0.4) in greens

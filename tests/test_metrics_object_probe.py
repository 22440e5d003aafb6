"""The object probe: analytic scores of its array core, labels from a hand-built true state, and
its sampling wrapper on real renders (the data policy's frames, held-out episodes)."""

import importlib
import json
import math

import numpy as np
import pytest

import envs
from darla.errors import DarlaError
from darla.metrics import (
    ENV_METRICS,
    HEADLINE,
    IdentityDataset,
    evaluate,
    metrics_for,
    object_probe,
    object_probe_score,
    render_probe_frames,
)
from envs.collect_good_objects import PrivilegedState
from envs.view import CENTRE, LEFT, NONE, RIGHT, horizontal_half_fov_deg, object_places

PLACES = 4
# the module, not the function of the same name that darla.metrics exports
probe_module = importlib.import_module("darla.metrics.object_probe")


def balanced_labels(repeats: int) -> np.ndarray:
    """Every (good, bad) pair of places ``repeats`` times: each kind's four places equally often."""
    pairs = np.array([(g, b) for g in range(PLACES) for b in range(PLACES)])
    return np.tile(pairs, (repeats, 1))


def one_hot(labels: np.ndarray) -> np.ndarray:
    eye = np.eye(PLACES)
    return np.concatenate([eye[labels[:, 0]], eye[labels[:, 1]]], axis=1)


def test_a_code_that_is_the_label_scores_one():
    train, test = balanced_labels(5), balanced_labels(3)
    result = object_probe(one_hot(train), train, one_hot(test), test)
    assert result["balanced_accuracy"] == 1.0
    assert result["per_kind"] == {"good": 1.0, "bad": 1.0}
    assert result["chance"] == {"good": 0.25, "bad": 0.25}


def test_a_constant_code_scores_chance():
    train, test = balanced_labels(5), balanced_labels(3)
    result = object_probe(np.ones((len(train), 3)), train, np.ones((len(test), 3)), test)
    assert result["per_kind"] == {"good": 0.25, "bad": 0.25}
    # with three places in the test frames, chance is a third: a constant code predicts the
    # most frequent place of the train frames (here none) for every frame
    train = np.concatenate([train, [[NONE, NONE]] * 4])
    test = test[test[:, 0] != RIGHT]
    result = object_probe(np.zeros((len(train), 2)), train, np.zeros((len(test), 2)), test)
    assert result["chance"]["good"] == pytest.approx(1 / 3)
    assert result["per_kind"]["good"] == pytest.approx(1 / 3)


def test_a_code_of_the_good_objects_alone_reads_them_not_the_bad_ones():
    train, test = balanced_labels(5), balanced_labels(3)
    good_only = np.eye(PLACES)[train[:, 0]], np.eye(PLACES)[test[:, 0]]
    result = object_probe(good_only[0], train, good_only[1], test)
    assert result["per_kind"]["good"] == 1.0
    assert result["per_kind"]["bad"] == 0.25  # bad places are independent of good ones here


def test_bad_input_is_one_line():
    train = balanced_labels(2)
    with pytest.raises(DarlaError, match=r"integer places \[num_points, 2\]"):
        object_probe(one_hot(train), train[:, :1], one_hot(train), train)
    with pytest.raises(DarlaError, match="values 0 to 3"):
        object_probe(one_hot(train), train + 1, one_hot(train), train)
    same = np.zeros_like(train)
    with pytest.raises(DarlaError, match="num_train_episodes"):
        object_probe(one_hot(train), same, one_hot(train), train)
    with pytest.raises(DarlaError, match="same representation"):
        object_probe(one_hot(train), train, one_hot(train)[:, :3], train)


def state(agent_dir_deg: float, good=(), bad=()) -> PrivilegedState:
    return PrivilegedState(
        agent_pos=np.array([4.5, 4.5]),
        agent_dir=math.radians(agent_dir_deg),
        good_pos=np.array(good, dtype=np.float64).reshape(-1, 2),
        bad_pos=np.array(bad, dtype=np.float64).reshape(-1, 2),
        room_size=9.0,
        agent_radius=0.4,
        pickup_radius=1.2,
        forward_step=0.4,
        turn_step_deg=30.0,
    )


def at(agent: PrivilegedState, bearing_deg: float, distance: float) -> tuple[float, float]:
    """The floor position ``distance`` away at ``bearing_deg`` (left positive) from the
    heading, in MiniWorld's frame (forward is (cos, -sin) of the heading)."""
    angle = agent.agent_dir + math.radians(bearing_deg)
    x, z = agent.agent_pos
    return x + distance * math.cos(angle), z - distance * math.sin(angle)


@pytest.mark.parametrize("heading", [0.0, 90.0, -135.0, 170.0])
def test_labels_from_a_hand_built_state(heading):
    me = state(heading)
    ahead, left20, right20, behind = (at(me, b, 3.0) for b in (0.0, 20.0, -20.0, 180.0))
    assert object_places(state(heading, good=[ahead], bad=[left20])) == (CENTRE, LEFT)
    assert object_places(state(heading, good=[right20], bad=[behind])) == (RIGHT, NONE)
    assert object_places(state(heading)) == (NONE, NONE)  # nothing left in the room
    # just outside the 60-degree view; and the nearest *visible* object wins
    outside = at(me, 31.0, 1.0)
    assert object_places(state(heading, good=[outside])) == (NONE, NONE)
    near_left, far_centre = at(me, 20.0, 1.5), at(me, 0.0, 4.0)
    assert object_places(state(heading, good=[far_centre, near_left, outside]))[0] == LEFT
    # thirds of the frame, not of the angle: 10.5 degrees is inside the centre third (10.9)
    assert object_places(state(heading, bad=[at(me, 10.5, 3.0)]))[1] == CENTRE
    assert object_places(state(heading, bad=[at(me, -11.5, 3.0)]))[1] == RIGHT


def test_a_wide_frame_sees_wider():
    assert horizontal_half_fov_deg(60.0, 64, 64) == pytest.approx(30.0)
    wide = horizontal_half_fov_deg(60.0, 128, 64)
    assert wide == pytest.approx(math.degrees(math.atan(2 * math.tan(math.radians(30)))))
    me = state(0.0)
    assert object_places(state(0.0, good=[at(me, 40.0, 3.0)]), wide)[0] == LEFT


def test_evaluate_runs_the_probe_only_where_there_are_objects():
    identity = IdentityDataset((3, 3))
    assert set(metrics_for(identity)) & set(ENV_METRICS) == set()
    assert {label for label, (metric, _) in HEADLINE.items() if metric == "object_probe"} == {
        "object_probe",
        "object_probe_pca",
    }
    with pytest.raises(DarlaError, match="has no objects to probe"):
        evaluate(
            identity,
            lambda x: x[:, 0, :, 0],
            rng=np.random.default_rng(0),
            metrics=["object_probe"],
        )


SMALL = {"num_train_episodes": 3, "num_test_episodes": 2, "episode_length": 20}
DOMAINS = ["A_room1", "B_room2"]


@pytest.fixture(scope="module")
def factor_dataset():
    dataset = envs.make_factor_dataset(DOMAINS, obs_size=32)
    yield dataset
    dataset.close()


def test_probe_frames_are_the_data_policys_frames(tmp_path):
    from darla.data import CollectionConfig, collect, open_frames

    frames, labels, episodes = render_probe_frames(DOMAINS, 32, 2, 20, seed=5, action_repeat=3)
    config = CollectionConfig(
        domains=tuple(DOMAINS),
        num_frames=40,
        episode_length=20,
        obs_size=32,
        seed=5,
        action_repeat=3,
    )
    collected = open_frames(collect(config, tmp_path, progress=False))
    np.testing.assert_array_equal(frames, collected.frames)
    assert labels.shape == (40, 2) and labels.min() >= 0 and labels.max() < PLACES
    np.testing.assert_array_equal(episodes, np.repeat([0, 1], 20))


def test_the_sampling_wrapper_on_real_renders(factor_dataset, monkeypatch):
    """A code that is the frames' true places (looked up by the frame's bytes) scores 1; a
    constant code scores chance; the same seed gives the same frames and pixel baseline; the
    result is JSON-ready, with its parameters."""
    truth: dict[bytes, np.ndarray] = {}
    render = probe_module.render_probe_frames

    def remember(*args, **kwargs):
        frames, labels, episodes = render(*args, **kwargs)
        truth.update(
            {
                frame.tobytes(): one_hot(label[None])[0]
                for frame, label in zip(frames, labels, strict=True)
            }
        )
        return frames, labels, episodes

    monkeypatch.setattr(probe_module, "render_probe_frames", remember)
    knows = object_probe_score(
        factor_dataset,
        lambda images: np.stack([truth[image.tobytes()] for image in images]),
        rng=np.random.default_rng(0),
        **SMALL,
    )
    assert knows["scores"]["balanced_accuracy"] == 1.0
    assert knows["params"]["num_train_frames"] == 60 and knows["params"]["num_test_frames"] == 40
    assert knows["params"]["pca_components"] == 8 and knows["params"]["action_repeat"] == 4
    assert json.loads(json.dumps(knows, allow_nan=False)) == knows

    def constant(images):
        return np.zeros((len(images), 8))  # as many codes as `knows`: the same PCA

    blind = object_probe_score(factor_dataset, constant, rng=np.random.default_rng(0), **SMALL)
    for kind in ("good", "bad"):
        assert blind["scores"][kind] in (blind["chance"][kind], 0.0)
        assert 0.0 <= blind["scores"][f"pca_{kind}"] <= 1.0
    # the same seed renders the same episodes, and the pixel baseline does not see the codes
    assert blind["places"] == knows["places"]
    pca = {key: value for key, value in blind["scores"].items() if key.startswith("pca_")}
    assert pca == {key: knows["scores"][key] for key in pca}
    with pytest.raises(DarlaError, match="num_test_episodes=0"):
        object_probe_score(
            factor_dataset,
            constant,
            rng=np.random.default_rng(0),
            **{**SMALL, "num_test_episodes": 0},
        )


def test_an_env_factor_dataset_gets_every_metric(factor_dataset):
    from darla.metrics import ALL

    assert metrics_for(factor_dataset) == ALL


def test_scoring_a_shapes_run_leaves_the_probe_out_and_says_so(capsys):
    from vision_models import tiny_model

    from darla.stages.score import score_model

    flat = tiny_model("beta_vae")  # 32 px, as the shapes here
    scored = score_model(
        flat, [], 32, metrics=["mig", "object_probe"], fast=True, progress=False, dataset="shapes"
    )
    assert set(scored) == {"mig"}
    assert "object_probe skipped: the 2D shapes have no objects" in capsys.readouterr().out
    with pytest.raises(DarlaError, match="the 2D shapes have none"):
        score_model(flat, [], 32, metrics=["object_probe"], progress=False, dataset="shapes")

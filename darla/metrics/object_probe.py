"""The object probe: does a representation say where the objects are?

The task is about objects (walk to the good ones, avoid the bad ones), so a vision module an
agent can use must encode them; the disentanglement metrics score the factor dataset's factors,
which say little about that. The probe asks it directly. From the codes of frames a random agent
sees (the data policy of ``darla see``, :func:`darla.data.collection.play_episode`, in fresh
episodes of the vision domains), a linear classifier reads where the nearest visible good object
is, and another where the nearest visible bad object is: none / left / centre / right, labelled
from the env's true state by :mod:`envs.view` (an object is visible when its centre lies in the
camera's 60-degree horizontal view; its place is the third of the frame its centre falls in;
objects hiding one another are ignored). The score is each classifier's balanced accuracy on
held-out episodes (the split is by episode: consecutive frames are near-duplicates), so a code
that ignores the objects scores chance, 1 / the number of places in the test frames (0.25 when
all four occur), whatever the share of frames with nothing in view.

Beside it stands the same probe on a PCA of the pixels with as many components as the code has
dimensions (fitted on the probe's train frames only): what a linear map of the pixels of the
same size already gives. A vision module worth its training beats it.

Classifier: ``StandardScaler() + LogisticRegression(max_iter=1000)`` (standardised so the score
does not depend on a code's units; a higher budget than sklearn's 100 so that the score depends
less on where lbfgs stopped on thousands of frames; a fit that still stops early is kept, as
the other metrics keep theirs). No factor dataset is needed; the
dataset passed in only names the vision domains (``envs.make_factor_dataset``'s).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import sklearn
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from darla.errors import DarlaError
from darla.metrics.sampling import RepresentationFunction, check_count, encode_images
from darla.metrics.utils import check_codes, default_solver_budget, draw_seed

#: The two kinds of object, the columns of a label array.
KINDS = ("good", "bad")
#: The places a kind's nearest visible object can be in: the classes (``envs.view.PLACES``).
PLACES = ("none", "left", "centre", "right")

DEFAULTS: dict[str, Any] = {
    "num_train_episodes": 40,
    "num_test_episodes": 20,
    "episode_length": 100,
    "action_repeat": None,  # None: the data collection's (darla.data.collection.ACTION_REPEAT)
    "batch_size": 64,
}
CLASSIFIER = "StandardScaler() + sklearn.linear_model.LogisticRegression(max_iter=1000)"
PCA_MODEL = "sklearn.decomposition.PCA(svd_solver='randomized') on pixels / 255"


def check_labels(labels: np.ndarray, n: int, name: str) -> np.ndarray:
    """int ``[n, 2]`` place indices (good, bad), each in ``range(len(PLACES))``."""
    labels = np.asarray(labels)
    if labels.shape != (n, len(KINDS)) or not np.issubdtype(labels.dtype, np.integer):
        raise DarlaError(
            f"{name} must be integer places [num_points, 2] (good, bad) for {n} codes, got "
            f"{labels.dtype} {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= len(PLACES)):
        raise DarlaError(f"{name} must index {list(PLACES)}: values 0 to {len(PLACES) - 1}")
    return labels.astype(np.int64, copy=False)


def probe_accuracy(
    codes_train: np.ndarray,
    places_train: np.ndarray,
    codes_test: np.ndarray,
    places_test: np.ndarray,
    *,
    random_state: int = 0,
) -> float:
    """Balanced accuracy on the test codes of a linear classifier of one kind's places fitted
    on the train codes. Chance is 1 / the number of places among ``places_test``."""
    classes = np.unique(places_train)
    if len(classes) < 2:
        raise DarlaError(
            f"the probe's train frames show the objects only as {PLACES[classes[0]]!r}; "
            "render more episodes (num_train_episodes) so the classifier sees two places at least"
        )
    model = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=1000, random_state=random_state)
    )
    with default_solver_budget():
        model.fit(codes_train, places_train)
    with warnings.catch_warnings():  # a predicted place absent from the test frames is no error
        warnings.simplefilter("ignore", UserWarning)
        return float(balanced_accuracy_score(places_test, model.predict(codes_test)))


def object_probe(
    codes_train: np.ndarray,
    labels_train: np.ndarray,
    codes_test: np.ndarray,
    labels_test: np.ndarray,
    *,
    random_state: int = 0,
) -> dict[str, Any]:
    """The probe's array core: codes ``[N, D]`` and places ``[N, 2]`` (good, bad; indices into
    :data:`PLACES`) of train and test frames -> each kind's balanced accuracy and their mean.

    Returns ``balanced_accuracy`` (the mean of the two), ``per_kind`` ``{good, bad}`` and
    ``chance`` ``{good, bad}`` (1 / the places present in the test labels).
    """
    codes_train = check_codes(codes_train, "codes_train")
    codes_test = check_codes(codes_test, "codes_test")
    if codes_train.shape[1] != codes_test.shape[1]:
        raise DarlaError(
            f"train codes have {codes_train.shape[1]} dimensions and test codes "
            f"{codes_test.shape[1]}; encode both with the same representation"
        )
    labels_train = check_labels(labels_train, len(codes_train), "labels_train")
    labels_test = check_labels(labels_test, len(codes_test), "labels_test")
    per_kind = {
        kind: probe_accuracy(
            codes_train,
            labels_train[:, k],
            codes_test,
            labels_test[:, k],
            random_state=random_state,
        )
        for k, kind in enumerate(KINDS)
    }
    return {
        "balanced_accuracy": float(np.mean(list(per_kind.values()))),
        "per_kind": per_kind,
        "chance": {kind: 1.0 / len(np.unique(labels_test[:, k])) for k, kind in enumerate(KINDS)},
    }


def pixel_pca(
    frames_train: np.ndarray,
    frames_test: np.ndarray,
    num_components: int,
    *,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray, int]:
    """The pixel baseline's codes: a PCA of ``frames_train`` (uint8 ``[N, H, W, 3]``, scaled to
    [0, 1]) with ``num_components`` components (fewer when there are fewer train frames or
    pixels), applied to both sets. Returns ``(codes_train, codes_test, components used)``."""
    flat_train = frames_train.reshape(len(frames_train), -1).astype(np.float32) / 255
    flat_test = frames_test.reshape(len(frames_test), -1).astype(np.float32) / 255
    components = int(min(num_components, *flat_train.shape))
    pca = PCA(n_components=components, svd_solver="randomized", random_state=random_state)
    return pca.fit_transform(flat_train), pca.transform(flat_test), components


def probe_domains(dataset: object) -> tuple[tuple[Any, ...], int, dict[str, Any]]:
    """The vision domains (specs ``CollectionConfig`` takes), frame size and env settings the
    probe renders its episodes with, from an env factor dataset (``envs.make_factor_dataset``)."""
    specs = getattr(dataset, "domain_specs", None)
    if specs is None:
        raise DarlaError(
            f"{type(dataset).__name__} has no objects to probe: the object probe renders "
            "CollectGoodObjects episodes in an env factor dataset's domains "
            "(envs.make_factor_dataset); drop object_probe from the metrics"
        )
    return tuple(specs), int(dataset.obs_size), dict(getattr(dataset, "env_kwargs", {}))


def render_probe_frames(
    domains: Sequence[Any],
    obs_size: int,
    num_episodes: int,
    episode_length: int,
    *,
    seed: int,
    action_repeat: int | None = None,
    env_kwargs: dict[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``num_episodes`` random-agent episodes in ``domains``: frames uint8 ``[N, H, W, 3]``, the
    places int ``[N, 2]`` of each frame's nearest visible good and bad object, and each frame's
    episode index. The agent is ``darla see``'s (:func:`~darla.data.collection.play_episode`
    with a collection config of ``seed``), so these are the training data's kind of frames, in
    other episodes than the training collection's (a different seed)."""
    from darla.data.collection import CollectionConfig, play_episode
    from envs.view import places_in_view

    config = CollectionConfig(
        domains=tuple(domains),
        num_frames=num_episodes * episode_length,
        episode_length=episode_length,
        obs_size=obs_size,
        seed=seed,
        env_kwargs=dict(env_kwargs or {}),
        action_repeat=_action_repeat(action_repeat),
    )
    frames, places = [], []
    for episode in range(num_episodes):
        episode_frames, _, _ = play_episode(
            config, episode, lambda env: places.append(places_in_view(env))
        )
        frames.append(episode_frames)
    episodes = np.repeat(np.arange(num_episodes), [len(f) for f in frames])
    labels = np.array(places, dtype=np.int64).reshape(-1, len(KINDS))
    return np.concatenate(frames), labels, episodes


def _action_repeat(action_repeat: int | None) -> int:
    """The probe's random agent's action repeat: as asked, else the data collection's default."""
    from darla.data.collection import ACTION_REPEAT

    return int(ACTION_REPEAT if action_repeat is None else action_repeat)


def _counts(labels: np.ndarray) -> dict[str, dict[str, int]]:
    return {
        kind: {place: int(np.sum(labels[:, k] == p)) for p, place in enumerate(PLACES)}
        for k, kind in enumerate(KINDS)
    }


def object_probe_score(
    dataset: object,
    represent: RepresentationFunction,
    *,
    rng: np.random.Generator,
    num_train_episodes: int = DEFAULTS["num_train_episodes"],
    num_test_episodes: int = DEFAULTS["num_test_episodes"],
    episode_length: int = DEFAULTS["episode_length"],
    action_repeat: int | None = DEFAULTS["action_repeat"],
    batch_size: int = DEFAULTS["batch_size"],
) -> dict[str, Any]:
    """Render fresh random-agent episodes in ``dataset``'s vision domains, encode them and
    compute :func:`object_probe` on the codes and on a pixel PCA of the same dimension.

    The first ``num_train_episodes`` episodes train the classifiers (and the PCA), the next
    ``num_test_episodes`` score them. Returns ``{"scores": {"balanced_accuracy", "good",
    "bad", "pca_balanced_accuracy", "pca_good", "pca_bad"}, "chance", "places", "params"}``.
    """
    domains, obs_size, env_kwargs = probe_domains(dataset)
    num_train_episodes = check_count(num_train_episodes, "num_train_episodes")
    num_test_episodes = check_count(num_test_episodes, "num_test_episodes")
    episode_length = check_count(episode_length, "episode_length")
    if action_repeat is not None:
        action_repeat = check_count(action_repeat, "action_repeat")
    render_seed, fit_seed = draw_seed(rng), draw_seed(rng)
    frames, labels, episodes = render_probe_frames(
        domains,
        obs_size,
        num_train_episodes + num_test_episodes,
        episode_length,
        seed=render_seed,
        action_repeat=action_repeat,
        env_kwargs=env_kwargs,
    )
    train = episodes < num_train_episodes
    codes = encode_images(represent, frames, batch_size)
    # Small fits: one BLAS thread is faster than several (a fast probe's PCA took 0.23 s with
    # one, 6.3 s with the default threads beside a training job) and the numbers are the same.
    with threadpool_limits(1):
        probe = object_probe(
            codes[train], labels[train], codes[~train], labels[~train], random_state=fit_seed
        )
        pca_train, pca_test, components = pixel_pca(
            frames[train], frames[~train], codes.shape[1], random_state=fit_seed
        )
        pca = object_probe(
            pca_train, labels[train], pca_test, labels[~train], random_state=fit_seed
        )

    return {
        "scores": {
            "balanced_accuracy": probe["balanced_accuracy"],
            **probe["per_kind"],
            "pca_balanced_accuracy": pca["balanced_accuracy"],
            **{f"pca_{kind}": value for kind, value in pca["per_kind"].items()},
        },
        "chance": probe["chance"],
        "places": {"train": _counts(labels[train]), "test": _counts(labels[~train])},
        "params": {
            "num_train_episodes": int(num_train_episodes),
            "num_test_episodes": int(num_test_episodes),
            "episode_length": int(episode_length),
            "action_repeat": _action_repeat(action_repeat),
            "num_train_frames": int(train.sum()),
            "num_test_frames": int((~train).sum()),
            "domains": [d if isinstance(d, str) else d.get("name") for d in domains],
            "visibility": "object centre within the horizontal field of view (envs.view)",
            "places": list(PLACES),
            "split": "by episode",
            "classifier": CLASSIFIER,
            "pca": PCA_MODEL,
            "pca_components": components,
            "num_codes": int(codes.shape[1]),
            "batch_size": int(batch_size),
            "sklearn_version": sklearn.__version__,
        },
    }

"""What the training data decides for a model: options filled in from it, and the batches the
trainer draws.

A model's ``training_data`` (see :class:`~darla.vision.base.VisionModel`) says what a batch
holds: ``frames``; ``labelled`` frames with their stored factors (SCAN); or ``clamped`` batches
rendered from the factor dataset with one factor varying (DC-IGN).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from darla.data import FrameDataset
from darla.data.sources import factor_dataset_names, label_vocabulary, make_factor_dataset
from darla.errors import DarlaError
from darla.vision.registry import model_class
from darla.vision.training.batches import ClampedBatches


def training_data(name: str) -> str:
    return getattr(model_class(name), "training_data", "frames")


def complete_model_kwargs(name: str, kwargs: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    """Fill in what the data and training length decide: DC-IGN's factor blocks, SCAN's symbol
    vocabulary, AnnealedVAE's capacity schedule.

    They follow from ``data.domains``/``data.dataset`` (already in the run key through the data
    hash) and ``train.steps``, so they are filled before the key is computed and `see_run_dir`
    agrees.
    """
    if "capacity_end" in kwargs and kwargs["capacity_end"] is None:
        # C reaches C_max 3/4 of the way through training, however long it is (a sweep's short
        # runs too), then the last quarter trains at full capacity
        kwargs = {**kwargs, "capacity_end": 3 * int(cfg["train"]["steps"]) // 4}
    kind = training_data(name)
    if kind == "clamped":
        names = factor_dataset_names(cfg)
        given = kwargs.get("factor_names")
        if given is not None and list(given) != names:
            raise DarlaError(
                f"vision.model.factor_names {list(given)} do not match the factor dataset's "
                f"{names}: leave factor_names null to take them from the data"
            )
        return {**kwargs, "factor_names": names}
    if kind == "labelled":
        names, values = label_vocabulary(cfg)
        if kwargs.get("factor_names") is not None or kwargs.get("factor_values") is not None:
            raise DarlaError(
                f"{name} takes its symbols from the frames' stored factors: leave "
                "vision.model.factor_names and factor_values null"
            )
        return {**kwargs, "factor_names": names, "factor_values": values}
    return kwargs


@contextlib.contextmanager
def trainer_inputs(
    name: str, data: FrameDataset, model_kwargs: dict[str, Any], cfg: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """Keyword arguments for ``train_vision``: none, the frames' labels, or a clamped sampler
    (closed, with its rendering thread, when the block ends)."""
    kind = training_data(name)
    if kind == "labelled":
        stored = list(data.meta.get("factor_names", []))
        if stored != model_kwargs["factor_names"]:
            raise DarlaError(
                f"the frames in {data.folder} store factors {stored}, not the model's "
                f"{model_kwargs['factor_names']}: delete that folder and run `darla see` again"
            )
        yield {"labels": data.factors}
    elif kind == "clamped":
        train = cfg["train"]
        sampler = ClampedBatches(
            _factor_dataset_maker(cfg),
            int(train["batch_size"]),
            int(cfg["seed"]),
            val_batches=int(train["val_batches"]),
        )
        try:
            yield {"sampler": sampler}
        finally:
            sampler.close()
    else:
        yield {}


def _factor_dataset_maker(cfg: dict[str, Any]) -> Callable[[], Any]:
    return lambda: make_factor_dataset(cfg)

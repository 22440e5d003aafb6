"""What the training data decides for a model: options filled in from it, and the batches the
trainer draws.

A model's ``training_data`` (see :class:`~darla.vision.base.VisionModel`) says what a batch
holds: ``frames``; ``labelled`` frames with their stored factors (SCAN); ``domain_labelled``
frames with the source domain each was collected in (DCoDR); or ``clamped`` batches rendered
from the factor dataset with one factor varying (DC-IGN).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from darla.data import FrameDataset
from darla.data.sources import (
    dataset_name,
    factor_dataset_names,
    label_vocabulary,
    make_factor_dataset,
)
from darla.errors import DarlaError
from darla.vision.registry import model_class
from darla.vision.training.batches import ClampedBatches


def training_data(name: str) -> str:
    return getattr(model_class(name), "training_data", "frames")


def complete_model_kwargs(name: str, kwargs: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    """Fill in what the data and training length decide: DC-IGN's factor blocks, SCAN's symbol
    vocabulary, AnnealedVAE's capacity schedule, BYOL's EMA schedule.

    They follow from ``data.domains``/``data.dataset`` (already in the run key through the data
    hash) and ``train.steps``, so they are filled before the key is computed and `see_run_dir`
    agrees.
    """
    if "capacity_end" in kwargs and kwargs["capacity_end"] is None:
        # C reaches C_max 3/4 of the way through training, however long it is (a sweep's short
        # runs too), then the last quarter trains at full capacity
        kwargs = {**kwargs, "capacity_end": 3 * int(cfg["train"]["steps"]) // 4}
    if "ema_steps" in kwargs and kwargs["ema_steps"] is None:
        # BYOL's τ reaches 1 at the end of training, however long it is
        kwargs = {**kwargs, "ema_steps": int(cfg["train"]["steps"])}
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
    if kind == "domain_labelled":  # nothing to fill; refuse data it cannot learn from, early
        if dataset_name(cfg) == "shapes":
            _check_domains(name, ["shapes"], 0, "the 2D shapes")
        _check_domains(name, list(cfg["data"]["domains"]), int(cfg["train"]["batch_size"]), "")
    return kwargs


@contextlib.contextmanager
def trainer_inputs(
    name: str, data: FrameDataset, model_kwargs: dict[str, Any], cfg: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """Keyword arguments for ``train_vision``: none, the frames' labels (their factors, or their
    source domains under ``domains``), or a clamped sampler (closed, with its rendering thread,
    when the block ends)."""
    kind = training_data(name)
    if kind == "labelled":
        stored = list(data.meta.get("factor_names", []))
        if stored != model_kwargs["factor_names"]:
            raise DarlaError(
                f"the frames in {data.folder} store factors {stored}, not the model's "
                f"{model_kwargs['factor_names']}: delete that folder and run `darla see` again"
            )
        yield {"labels": data.factors}
    elif kind == "domain_labelled":
        yield {"labels": {"domains": _domain_ids(name, data, int(cfg["train"]["batch_size"]))}}
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


def _domain_ids(name: str, data: FrameDataset, batch_size: int) -> np.ndarray:
    """The frames' source-domain indices, checked: two or more domains, and batches large enough
    that some domain has two frames in every one (its negatives share the anchor's domain)."""
    names = list(data.meta.get("domain_names") or [])
    ids = getattr(data, "domain_ids", None)
    if not names or ids is None or len(ids) != len(data.frames):
        raise DarlaError(
            f"the frames in {data.folder} store no source domain per frame (domain_ids.npy and "
            f"meta.json's domain_names), which {name} needs: delete that folder and run "
            "`darla see` again"
        )
    _check_domains(name, names, batch_size, f"the frames in {data.folder}")
    return np.asarray(ids)


def _check_domains(name: str, domains: list[str], batch_size: int, holder: str) -> None:
    """Two or more source domains, and batches of more frames than domains, so that some domain
    has two frames in every batch (``darla see`` checks the config before collecting, then the
    frames); ``holder`` names where the domains come from (empty: ``data.domains``)."""
    if len(domains) < 2:
        where = f"{holder} have one ({domains[0]!r})" if holder else f"data.domains is {domains}"
        raise DarlaError(
            f"{name} learns what the source domain does not explain, so it needs frames of two or "
            f"more source domains; {where}: use data=env with two or more data.domains"
        )
    if batch_size <= len(domains):
        raise DarlaError(
            f"train.batch_size={batch_size} is too small for {name} with {len(domains)} source "
            "domains: a batch needs two frames of one domain for a negative to exist; use "
            f"train.batch_size of at least {4 * len(domains)}, e.g. 64"
        )


def _factor_dataset_maker(cfg: dict[str, Any]) -> Callable[[], Any]:
    return lambda: make_factor_dataset(cfg)

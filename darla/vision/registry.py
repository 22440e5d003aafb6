"""Model names -> constructors. A model is a config: ``vae`` is ``beta_vae`` with β = 1.

Users add their own vision models with :func:`register_model`; everything downstream (act,
transfer, metrics) only needs the :class:`~darla.vision.base.VisionModel` interface.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any, TypeVar

from darla.errors import DarlaError
from darla.vision.annealed_vae import AnnealedVAE
from darla.vision.base import PretrainedPart, VisionModel
from darla.vision.beta_tcvae import BetaTCVAE
from darla.vision.byol import BYOL
from darla.vision.contrastive import ContrastiveEncoder
from darla.vision.dae import DenoisingAutoencoder
from darla.vision.darla_vae import DarlaVAE
from darla.vision.dcign import DCIGN
from darla.vision.dcodr import DCoDR
from darla.vision.factor_vae import FactorVAE
from darla.vision.info_vae import InfoVAE
from darla.vision.infogan import InfoGAN
from darla.vision.scan import SCAN
from darla.vision.vae import BetaVAE

M = TypeVar("M", bound=VisionModel)

# name -> (class, fixed config). Fixed entries are what makes the name; passing a different value
# for one is an error rather than a silent override (``vae`` with beta=4 is a β-VAE).
_REGISTRY: dict[str, tuple[Callable[..., VisionModel], dict[str, Any]]] = {
    "dae": (DenoisingAutoencoder, {}),
    "darla": (DarlaVAE, {}),
    "beta_vae": (BetaVAE, {}),
    "vae": (BetaVAE, {"beta": 1.0}),
    "annealed_vae": (AnnealedVAE, {}),
    "factor_vae": (FactorVAE, {}),
    "beta_tcvae": (BetaTCVAE, {}),
    "dcign": (DCIGN, {}),
    "scan": (SCAN, {}),
    "infogan": (InfoGAN, {}),
    "info_vae": (InfoVAE, {}),
    "contrastive": (ContrastiveEncoder, {}),
    "byol": (BYOL, {}),
    "dcodr": (DCoDR, {}),
}


def register_model(name: str, factory: Callable[..., VisionModel], **fixed: Any) -> None:
    """Make ``build_model(name, ...)`` call ``factory(**fixed, ...)``.

    The model should record its constructor arguments in ``_config`` (JSON-able) so saved files
    can be rebuilt; when it does not, the registry records the arguments it was built with.
    """
    _REGISTRY[name] = (factory, dict(fixed))


def model_names() -> list[str]:
    return sorted(_REGISTRY)


def model_class(name: str) -> Callable[..., VisionModel]:
    """The constructor registered as ``name`` (for class-level facts such as ``training_data``)."""
    if name not in _REGISTRY:
        raise DarlaError(f"unknown vision model {name!r}: use one of {', '.join(model_names())}")
    return _REGISTRY[name][0]


def pretrained_parts(name: str) -> tuple[PretrainedPart, ...]:
    """The trained models ``name`` is built on (:attr:`VisionModel.pretrained`); none for a name
    this process has not registered (a report over another script's runs)."""
    factory = _REGISTRY.get(name, (None, {}))[0]
    return tuple(getattr(factory, "pretrained", ()))


def _check_kwargs(name: str, factory: Callable[..., VisionModel], config: dict[str, Any]) -> None:
    params = inspect.signature(factory).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(config) - set(params))
    # A model may explain an option it deliberately lacks (factor_vae has no beta).
    hints = getattr(factory, "OPTION_HINTS", {})
    for option in unknown:
        if option in hints:
            raise DarlaError(hints[option])
    if unknown:
        raise DarlaError(
            f"unknown option(s) {', '.join(unknown)} for vision model {name!r}: "
            f"valid options are {', '.join(p for p in params if p != 'self')}"
        )


def build_model(name: str, **config: Any) -> VisionModel:
    """Build an untrained vision model by registry name.

    A model built on pretrained parts (:attr:`VisionModel.pretrained`: ``darla``'s ``dae=``,
    ``scan``'s ``visual=``) takes each as a trained model or the path to its saved
    ``model.safetensors`` (or its run folder). A ``name`` key in ``config`` (as in
    ``model.config``) is accepted when it matches, so ``build_model(**model.config)`` works for
    every model without parts; a model's config holds its parts' configs, not their weights.
    """
    if name not in _REGISTRY:
        raise DarlaError(f"unknown vision model {name!r}: use one of {', '.join(model_names())}")
    factory, fixed = _REGISTRY[name]
    config.pop("name", None)
    for key, value in fixed.items():
        if key in config and config[key] != value:
            fix = "use beta_vae for other values" if name == "vae" else f"drop {key}"
            raise DarlaError(f"{name} fixes {key}={value!r}, got {config[key]!r}: {fix}")
        config[key] = value
    for part in pretrained_parts(name):
        config[part.name] = resolve_trained(
            config.get(part.name), part.kind, needed_by=name, what=part.what, hint=part.hint
        )
    _check_kwargs(name, factory, config)
    model = factory(**config)
    if getattr(model, "_config", None) is None:  # a user's model that did not record its config
        model._config = {**config}
    model._config["name"] = name
    return model


def resolve_trained(value: Any, expected: type[M], needed_by: str, what: str, hint: str) -> M:
    """A trained model of type ``expected``: ``value`` itself, or loaded from the path to its
    ``model.safetensors`` (or its run folder). Anything else, ``None`` included (a bare config
    would build an untrained model), is a one-line :class:`DarlaError`:
    ``"{needed_by} needs a trained {what}, got ...: {hint}"``.
    """
    if isinstance(value, (str, os.PathLike)):
        from darla.vision.serialization import load_model  # serialization imports this module

        value = load_model(value)
    if not isinstance(value, expected):
        got = f"no {what}" if value is None else f"a {type(value).__name__}"
        raise DarlaError(f"{needed_by} needs a trained {what}, got {got}: {hint}")
    return value

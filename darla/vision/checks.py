"""Validation of numeric config values, shared by the models' constructors.

Each check raises :class:`~darla.errors.DarlaError` with the bad value and an example of a good
one, so a typo in a Hydra override fails at build time with one line instead of deep in torch.
"""

from __future__ import annotations

from darla.errors import DarlaError


def check_positive_int(name: str, value: int, example: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise DarlaError(f"{name} must be a positive integer, got {value!r}: use e.g. {example}")
    return value


def check_positive_number(name: str, value: float, example: object) -> float:
    """A finite number > 0 (NaN and infinity refused): temperatures, weights."""
    if not _is_number(value) or not 0 < value < float("inf"):
        raise DarlaError(f"{name} must be a number > 0, got {value!r}: use e.g. {example}")
    return float(value)


def check_unit_interval(name: str, value: float, fix: str) -> float:
    """A number in [0, 1] (NaN refused): rates and mixing weights. ``fix`` ends the message
    (``"use e.g. 0.996"``)."""
    if not _is_number(value) or not 0 <= value <= 1:
        raise DarlaError(f"{name} must be a number in [0, 1], got {value!r}: {fix}")
    return float(value)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_beta(beta: float) -> float:
    # `not beta >= 0` also rejects NaN.
    if not isinstance(beta, (int, float)) or isinstance(beta, bool) or not beta >= 0:
        raise DarlaError(f"beta must be a number >= 0, got {beta!r}: use e.g. 4.0 (1.0 is a VAE)")
    return float(beta)


def check_output_bias(bias: float | None) -> float | None:
    """None (PyTorch's own init) or a finite number: the decoder's last bias at initialisation."""
    if bias is None:
        return None
    if not isinstance(bias, (int, float)) or isinstance(bias, bool) or not abs(bias) < float("inf"):
        raise DarlaError(
            f"output_bias must be a number or null, got {bias!r}: use e.g. 0.5 (mid-grey)"
        )
    return float(bias)

"""Range checks for numeric settings, run before any work.

Every stage checks its numbers when its config is composed (``darla run`` checks every stage's
before the first one starts), so ``act.total_timesteps=-5`` is one line naming the setting and
the fix, with exit code 2, not a run that trains nothing and reports success, or a traceback
minutes later. The metrics check their sample counts with the same function.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Mapping
from typing import Any

from darla.errors import DarlaError


def whole_number(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int, refusing bools, fractions, strings and anything below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise DarlaError(f"{name}={value!r}: use a whole number >= {minimum}")
    return int(value)


def real_number(
    name: str, value: Any, low: float, high: float | None = None, *, above: bool = False
) -> float:
    """``value`` as a float from ``low`` (excluded when ``above``) to ``high`` (None: no upper
    bound); NaN never."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = not math.isnan(value) and (value > low if above else value >= low)
        ok = ok and (high is None or value <= high)
    if not ok:
        bound = f"> {low:g}" if above else f">= {low:g}"
        bounds = bound if high is None else f"{bound} and <= {high:g}"
        raise DarlaError(f"{name}={value!r}: use a number {bounds}")
    return float(value)


def check_section(
    prefix: str,
    section: Mapping[str, Any],
    whole: Mapping[str, int] = {},
    real: Mapping[str, tuple[float, float | None]] = {},
    nullable: Collection[str] = (),
    positive: Collection[str] = (),
) -> None:
    """Check a config section's settings: ``whole`` maps a name to its minimum, ``real`` to its
    ``(low, high)`` (``low`` excluded for the names in ``positive``); null is allowed only for
    the names in ``nullable`` (null: "the agents'")."""
    for name, minimum in whole.items():
        if not (name in nullable and section.get(name) is None):
            whole_number(f"{prefix}.{name}", section.get(name), minimum)
    for name, (low, high) in real.items():
        if not (name in nullable and section.get(name) is None):
            real_number(f"{prefix}.{name}", section.get(name), low, high, above=name in positive)

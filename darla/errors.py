"""Errors for expected user mistakes.

The CLI turns a :class:`DarlaError` into one line on stderr and exit code 2, with no traceback:
a researcher who typed an unknown domain or pointed at a missing checkpoint needs the fix, not a
stack. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class DarlaError(Exception):
    """A mistake in the user's input; the message names the problem and the fix."""

"""Errors raised for bad user input.

Every check in the toolkit raises :class:`InputError` (a ``ValueError``) with a
message of one line that says what was expected, what came, and how to fix it.
The CLI prints that line and exits non-zero, without a traceback.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input: the message says what was expected, what came, and the fix."""


def check_int(name: str, value, *, low: int | None = None, high: int | None = None, hint: str = "") -> int:
    """Return ``value`` as an int, or raise :class:`InputError` with a one-line message.

    >>> check_int("n_pins", 288, low=3)
    288
    """
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise InputError(f"{name} must be an integer, got {value!r}{_hint(hint)}")
    value = int(value)
    if low is not None and value < low:
        raise InputError(f"{name} must be at least {low}, got {value}{_hint(hint)}")
    if high is not None and value > high:
        raise InputError(f"{name} must be at most {high}, got {value}{_hint(hint)}")
    return value


def check_float(name: str, value, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, hint: str = "") -> float:
    """Return ``value`` as a finite float in the given range, or raise :class:`InputError`."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}{_hint(hint)}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"{name} must be finite, got {value}{_hint(hint)}")
    if low is not None and (value <= low if low_open else value < low):
        word = "greater than" if low_open else "at least"
        raise InputError(f"{name} must be {word} {low:g}, got {value:g}{_hint(hint)}")
    if high is not None and value > high:
        raise InputError(f"{name} must be at most {high:g}, got {value:g}{_hint(hint)}")
    return value


def _hint(hint: str) -> str:
    return f"; {hint}" if hint else ""

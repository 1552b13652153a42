"""Checks of request values shared by the sandboxes, with messages that never echo the value.

A refused value raises :class:`BadRequest`, whose message names the field (``token_lifetime``,
``apps[0].clientSecret``) and the expected type or range, and describes what was sent only by its JSON
type: a field may hold a secret (a client secret, a password, a token) and an error body is often logged.
Each sandbox turns :class:`BadRequest` into its own wire error (LINE WORKS ``INVALID_PARAMETER``,
Salesforce ``[{"errorCode", "message"}]``).
"""

from __future__ import annotations

import math
import re
import sqlite3
from typing import Any


class BadRequest(ValueError):
    """A request value the sandbox refuses; the message is safe to answer (it never echoes the value)."""


def kind(value: Any) -> str:
    """The JSON type of ``value`` in words ("a string", "an array", ...), for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def safe_name(name: Any, limit: int = 40) -> str:
    """A key name as it may appear in a message: quoted, control characters escaped, truncated."""
    text = repr(str(name))
    return text if len(text) <= limit else text[: limit - 4] + "…" + text[0]


def check_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"{where} must be an object (got {kind(value)})")
    return value


def check_list(value: Any, where: str, *, max_items: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise BadRequest(f"{where} must be an array (got {kind(value)})")
    if max_items is not None and len(value) > max_items:
        raise BadRequest(f"{where} must have at most {max_items:,} items (got {len(value):,})")
    return value


def check_text(
    value: Any,
    where: str,
    *,
    max_length: int = 1000,
    min_length: int = 0,
    pattern: re.Pattern[str] | None = None,
    nullable: bool = False,
) -> str | None:
    """A string of ``min_length``..``max_length`` characters (matching ``pattern`` when given)."""
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        expected = "a string or null" if nullable else "a string"
        raise BadRequest(f"{where} must be {expected} (got {kind(value)})")
    if not min_length <= len(value) <= max_length:
        raise BadRequest(
            f"{where} must be {min_length:,} to {max_length:,} characters long (got {len(value):,})"
        )
    if pattern is not None and not pattern.fullmatch(value):
        raise BadRequest(f"{where} has an invalid format")
    return value


def check_int(value: Any, where: str, *, minimum: int, maximum: int) -> int:
    """An integer in ``minimum..maximum``; a boolean is refused, an integral float is accepted."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise BadRequest(f"{where} must be an integer from {minimum:,} to {maximum:,} (got {_got(value)})")
    return value


def check_number(value: Any, where: str, *, minimum: float, maximum: float) -> int | float:
    """A finite number in ``minimum..maximum``; a boolean, NaN or an infinity is refused."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, float) and not math.isfinite(value))
        or not minimum <= value <= maximum
    ):
        raise BadRequest(
            f"{where} must be a number from {minimum:,} to {maximum:,} (got {_got(value, integer=False)})"
        )
    return value


def _got(value: Any, *, integer: bool = True) -> str:
    """What was sent, without the value: its JSON type, and whether a number was merely out of range."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            return "a non-finite number"
        if integer and isinstance(value, float) and not value.is_integer():
            return "a fraction"
        return "a number out of range"
    return kind(value)


def check_bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise BadRequest(f"{where} must be true or false (got {kind(value)})")
    return value


def check_choice(value: Any, where: str, choices: tuple[Any, ...]) -> Any:
    """One of ``choices`` (compared by type as well: ``1`` is not ``True``)."""
    for choice in choices:
        if type(value) is type(choice) and value == choice:
            return value
    raise BadRequest(f"{where} must be one of {', '.join(map(repr, choices))}")


# What a control request may fail with besides the sandbox's own errors (a malformed seed or config that
# a check did not name): answered as a 400, never a 500, and never with Python's own message, which may
# quote the value (``int("...")``).
CONTROL_FAILURES = (ValueError, TypeError, AttributeError, OverflowError, RecursionError, sqlite3.Error)


def control_failure(exc: BaseException) -> tuple[bool, str] | None:
    """``(missing, message)`` for a failed control request, or ``None`` for an unexpected error.

    ``missing`` when a required key was absent (``KeyError``); a :class:`BadRequest` keeps its message
    (it names the field, not the value); any other of :data:`CONTROL_FAILURES` tells only its kind.
    """
    if isinstance(exc, BadRequest):
        return False, str(exc)
    if isinstance(exc, KeyError):
        return True, f"bad control request: {exc.args[0]!r:.60} is required"
    if isinstance(exc, CONTROL_FAILURES):
        return False, f"bad control request ({type(exc).__name__})"
    return None

"""Sandbox configuration changes (``PATCH /_sandbox/config``), the same for every sandbox.

Every config key has a check (type and range) in its sandbox's ``CONFIG_CHECKS``; a change is validated
as a whole before anything is applied, so a refused change leaves the config as it was. Messages name the
key and never echo the value.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from sandbox.common.validation import (
    BadRequest,
    check_bool,
    check_choice,
    check_int,
    check_number,
    check_object,
    check_text,
    safe_name,
)

Check = Callable[[Any, str], Any]  # (value, key) -> the value to store; raises BadRequest


def integer(minimum: int, maximum: int) -> Check:
    return lambda value, where: check_int(value, where, minimum=minimum, maximum=maximum)


def number(minimum: float, maximum: float) -> Check:
    return lambda value, where: check_number(value, where, minimum=minimum, maximum=maximum)


def boolean() -> Check:
    return check_bool


def choice(*choices: Any) -> Check:
    return lambda value, where: check_choice(value, where, choices)


def text(
    max_length: int = 1000,
    *,
    min_length: int = 0,
    pattern: str | None = None,
    nullable: bool = False,
    extra: Check | None = None,
) -> Check:
    """A string; ``extra`` checks it further (e.g. that it names a time zone)."""
    compiled = re.compile(pattern) if pattern else None

    def check(value: Any, where: str) -> Any:
        value = check_text(
            value, where, max_length=max_length, min_length=min_length, pattern=compiled, nullable=nullable
        )
        return value if value is None or extra is None else extra(value, where)

    return check


def fields(checks: dict[str, Check]) -> Check:
    """A dict setting with these sub-keys (a change may give some of them; unknown ones are refused)."""

    def check(value: Any, where: str) -> dict[str, Any]:
        check_object(value, where)
        unknown = sorted(set(value) - set(checks))
        if unknown:
            raise BadRequest(f"{where}: unknown keys {_names(unknown)}; known: {', '.join(sorted(checks))}")
        return {k: checks[k](v, f"{where}.{k}") for k, v in value.items()}

    return check


def mapping(key: Check, value: Check, *, max_items: int) -> Check:
    """A dict setting with free keys (e.g. API family names), each checked by ``key`` and ``value``."""

    def check(items: Any, where: str) -> dict[str, Any]:
        check_object(items, where)
        if len(items) > max_items:
            raise BadRequest(f"{where} must have at most {max_items:,} entries")
        out = {}
        for k, v in items.items():
            key(k, f"{where} key")
            out[k] = value(v, f"{where}.{k}" if len(k) <= 64 else f"{where}[…]")
        return out

    return check


def merge_config(
    defaults: dict[str, Any], current: dict[str, Any], changes: Any, checks: dict[str, Check]
) -> dict[str, Any]:
    """``current`` with ``changes`` applied (dict settings are merged key by key), every value checked.

    :param checks: one check per key of ``defaults`` (``fields``/``mapping`` for dict settings).
    :raises BadRequest: not an object, unknown keys, or a value of the wrong type or out of range.
    """
    check_object(changes, "the config")
    unknown = sorted(set(changes) - set(defaults))
    if unknown:
        raise BadRequest(f"unknown config keys: {_names(unknown)}; known: {', '.join(sorted(defaults))}")
    merged = copy.deepcopy(current)
    for key, value in changes.items():
        checked = checks[key](value, key)
        merged[key] = {**merged[key], **checked} if isinstance(defaults[key], dict) else checked
    return merged


def _names(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(safe_name(k) for k in keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")

"""Errors of the pipeline settings: they name the field and the source, never the value.

Settings may hold sensitive fragments (a redaction pattern is often the very thing it hides), and an
error message ends up in task logs. So a bad value is described by its type and length only
(:func:`describe`), and keys are printed only when they look like a setting name (:func:`safe_name`).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

VARIABLE_NAME = "lineworks_salesforce_settings"
VARIABLE_SOURCE = f"Variable {VARIABLE_NAME}"
# Source of a Settings(...) built in code (or a dataclasses.replace() result).
CODE_SOURCE = "Settings()"
# The first line of every message stays within this (the rest, e.g. the known names, follows it).
HEAD_MAX = 200
_PATH_MAX = 90
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")


class SettingsError(ValueError):
    """A setting is unknown or has a bad value.

    The message's first line (at most 200 characters) names the source (``settings file <path>`` or
    ``Variable lineworks_salesforce_settings``), the field (``lookback_hours``, ``redact_patterns[2]``,
    ``task_timeout_minutes.load``) and what was wrong and expected; never the value itself.
    """

    def __init__(
        self, source: str, field: str, problem: str, *, expected: str = "", detail: str = ""
    ) -> None:
        self.source = source
        self.field = field
        self.problem = problem
        self.expected = expected
        self.detail = detail
        head = ": ".join(part for part in (source, field, problem) if part)
        rest = []
        if expected:
            if len(head) + len(expected) + len("; expected ") <= HEAD_MAX:
                head = f"{head}; expected {expected}"
            else:
                rest.append(f"expected {expected}")
        if len(head) > HEAD_MAX:
            head = head[: HEAD_MAX - 1] + "…"
        if detail:
            rest.append(detail)
        super().__init__("\n".join([head, *rest]))

    def with_source(self, source: str) -> SettingsError:
        return SettingsError(source, self.field, self.problem, expected=self.expected, detail=self.detail)


class Invalid(Exception):
    """Raised by the field checks; turned into a :class:`SettingsError` once the source is known."""

    def __init__(self, field: str, expected: str, got: str) -> None:
        super().__init__(field)
        self.field = field
        self.expected = expected
        self.got = got

    def error(self, source: str) -> SettingsError:
        return SettingsError(source, self.field, f"got {self.got}", expected=self.expected)


def file_source(path: Path | str) -> str:
    text = str(path)
    if len(text) > _PATH_MAX:
        text = "…" + text[-(_PATH_MAX - 1) :]
    return f"settings file {text}"


def describe(value: object) -> str:
    """The type and size of ``value``, never its content."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float" if math.isfinite(value) else "float (not finite)"
    if isinstance(value, str):
        return "empty str" if not value else f"str of {_count(len(value), 'character')}"
    if isinstance(value, (list, tuple)):
        return f"list of {_count(len(value), 'item')}"
    if isinstance(value, Mapping):
        return f"mapping of {_count(len(value), 'key')}"
    return type(value).__name__


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def safe_name(key: object, known: Iterable[str] = ()) -> str:
    """``key`` when it is one of ``known`` or a near miss of one (a typo: ``lookback_hour``), else a
    description of it: an unknown key may be pasted data (a token, a password), never echoed."""
    names = list(known)
    if isinstance(key, str) and _NAME_RE.fullmatch(key):
        if key in names or difflib.get_close_matches(key, names, n=1, cutoff=0.8):
            return key
    return f"<a key: {describe(key)}>"

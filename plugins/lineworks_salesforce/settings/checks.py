"""Checks of single setting values: each returns the normalised value or raises :class:`Invalid`.

Strict types: a bool is not a number, an int field takes ints only, a float field takes ints and
finite floats, strings are never made from numbers (except ``domain_id``, see
:func:`validate_domain_id`). Every number has a range, every string a length cap.
"""

from __future__ import annotations

import functools
import math
import re
import string
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, available_timezones

from lineworks_salesforce.settings.errors import Invalid, describe, safe_name

Check = Callable[[str, Any], Any]

# LINE WORKS documents domainId as an int32 (e.g. 40029600, 10000001).
DOMAIN_ID_MAX = 2**31 - 1
# Languages of the Monitoring API CSV that lineworks_salesforce.talklog.csvparse can read (its headers are
# known). The API
# also takes ko_KR, zh_CN and zh_TW, whose headers the parser does not know yet.
CSV_LANGUAGES = ("ja_JP", "en_US")
# Airflow's connection id charset and length (airflow.models.connection.RE_SANITIZE_CONN_ID).
CONN_ID_RE = re.compile(r"[\w#!()\-.:/\\]+")
CONN_ID_MAX = 250
TIMEZONE_MAX = 64
SEPARATOR_MAX = 16
REDACT_PATTERNS_MAX = 100
REDACT_PATTERN_CHARS_MAX = 1_000
IMPORT_LOCATION_MAX = 1_024
# Schemes the import location may use besides a local absolute path.
IMPORT_SCHEMES = ("file", "s3", "gs", "gcs", "abfs", "az", "adl")
# Task ids of lineworks_talk_logs and lineworks_history_import that task_timeout_minutes may name.
TASK_IDS = ("extract", "archive", "resolve", "build", "load", "summary", "import_history", "prompt_friends")
TIMEOUT_KEYS = ("default", *TASK_IDS)
TIMEOUT_MINUTES_MIN, TIMEOUT_MINUTES_MAX = 1, 1_440

_TZ_RE = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*")
_DOMAIN_RE = re.compile(r"[1-9][0-9]{0,9}")
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
# A harmless format spec: optional fill and alignment, zero padding, width up to 99, type s or d.
_SPEC_RE = re.compile(r"(?:[^{}\x00-\x1f]?[<>^])?0?[0-9]{0,2}[sd]?")
_INVISIBLE = ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")


class FrozenDict(dict):
    """A read-only dict (settings are frozen): hashable, picklable, equal to a dict with the same items."""

    __slots__ = ()

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("settings are read-only; use dataclasses.replace()")

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce__(self) -> tuple:
        return (type(self), (dict(self),))

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict) -> FrozenDict:
        return self


# --- scalars ----------------------------------------------------------------------------------------
def flag(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(field, "true or false", describe(value))
    return value


def whole(low: int, high: int) -> Check:
    expected = f"a whole number from {low:,} to {high:,}"

    def check(field: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(field, expected, describe(value))
        if not low <= value <= high:
            raise Invalid(field, expected, "int out of range")
        return value

    return check


def number(low: float, high: float) -> Check:
    expected = f"a finite number from {low:,} to {high:,}"

    def check(field: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Invalid(field, expected, describe(value))
        if isinstance(value, float) and not math.isfinite(value):
            raise Invalid(field, expected, describe(value))
        if not low <= value <= high:  # before float(): float(10**400) would overflow
            raise Invalid(field, expected, f"{describe(value)} out of range")
        return float(value)

    return check


def _text(field: str, value: Any, expected: str, max_chars: int, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise Invalid(field, expected, describe(value))
    if not value and not empty:
        raise Invalid(field, expected, "empty str")
    if len(value) > max_chars:
        raise Invalid(field, expected, f"{describe(value)}, more than {max_chars:,}")
    return value


def _has_invisible(value: str, categories: tuple[str, ...] = _INVISIBLE) -> bool:
    return any(unicodedata.category(c) in categories for c in value)


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def timezone(field: str, value: Any) -> str:
    expected = "an IANA time zone such as Asia/Tokyo"
    _text(field, value, expected, TIMEZONE_MAX)
    zones = _zones()
    if not _TZ_RE.fullmatch(value) or (zones and value not in zones):
        raise Invalid(field, expected, f"{describe(value)}, not a known zone")
    try:
        ZoneInfo(value)
    except Exception:  # noqa: BLE001 - a zone that does not load is as bad as an unknown one
        raise Invalid(field, expected, f"{describe(value)}, not loadable") from None
    return value


def separator(field: str, value: Any) -> str:
    expected = f"1 to {SEPARATOR_MAX} characters without control characters"
    _text(field, value, expected, SEPARATOR_MAX)
    if _has_invisible(value, ("Cc", "Zl", "Zp")):
        raise Invalid(field, expected, f"{describe(value)} with control characters")
    return value


def csv_language(field: str, value: Any) -> str:
    expected = f"one of {', '.join(CSV_LANGUAGES)}"
    if not isinstance(value, str) or value not in CSV_LANGUAGES:
        raise Invalid(field, expected, describe(value))
    return value


def conn_id(field: str, value: Any) -> str:
    expected = f"an Airflow connection id (letters, digits, _#!().:/\\-; at most {CONN_ID_MAX} characters)"
    _text(field, value, expected, CONN_ID_MAX)
    if not CONN_ID_RE.fullmatch(value):
        raise Invalid(field, expected, f"{describe(value)} with characters not allowed")
    return value


def mapping(field: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise Invalid(field, "a mapping", describe(value))
    return value


# --- domain id --------------------------------------------------------------------------------------
def domain_id(field: str, value: Any, *, allow_empty: bool = True) -> str:
    expected = f"a decimal integer from 1 to {DOMAIN_ID_MAX} (e.g. 40029600)"
    if allow_empty:
        expected = f'"" (the connection\'s) or {expected}'
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= DOMAIN_ID_MAX:
            raise Invalid(field, expected, "int out of range")
        return str(value)
    if not isinstance(value, str):
        raise Invalid(field, expected, describe(value))
    if not value:
        if allow_empty:
            return value
        raise Invalid(field, expected, "empty str")
    if not _DOMAIN_RE.fullmatch(value):
        raise Invalid(field, expected, f"{describe(value)}, not digits without a leading zero")
    if int(value) > DOMAIN_ID_MAX:
        raise Invalid(field, expected, f"{describe(value)}, out of range")
    return value


def validate_domain_id(
    value: Any, field: str = "domain_id", *, source: str = "", allow_empty: bool = True
) -> str:
    """A LINE WORKS domain id as the canonical decimal string, or :class:`SettingsError`.

    Accepts an int (YAML/JSON may give ``40029600``) or a string of ASCII digits without a leading
    zero, 1 … 2,147,483,647 (LINE WORKS documents ``domainId`` as an int32). ``""`` means "use the
    connection's" and is accepted unless ``allow_empty=False`` (e.g. for the connection's own Domain ID,
    with ``source="connection lineworks_default"``). Without ``source`` the message starts with ``field``.
    """
    try:
        return domain_id(field, value, allow_empty=allow_empty)
    except Invalid as exc:
        error = exc.error(source)
    raise error


# --- subject template -------------------------------------------------------------------------------
def subject_template(field: str, value: Any) -> str:
    """A ``str.format`` template with only the fields the renderer fills, nothing that reaches further.

    Fields come from ``lineworks_salesforce.activities.render.SUBJECT_FIELDS`` (date, hour, friend, part);
    attribute or
    index access (``{friend.__class__}``, ``{friend[0]}``), conversions (``{friend!r}``), positional
    fields (``{}``, ``{0}``) and format specs beyond fill/alignment, zero padding, a width up to 99 and
    type ``s``/``d`` are refused; the template must then format with sample values.
    """
    from lineworks_salesforce.activities.render import SUBJECT_FIELDS, SUBJECT_MAX

    names = " ".join("{" + name + "}" for name in sorted(SUBJECT_FIELDS))
    expected = f"a subject of at most {SUBJECT_MAX} characters with the fields {names} only"
    _text(field, value, expected, SUBJECT_MAX)
    got = describe(value)
    if not value.strip():
        raise Invalid(field, expected, f"{got}, blank")
    if _has_invisible(value, ("Cc", "Zl", "Zp")):
        raise Invalid(field, expected, f"{got} with control characters")
    try:
        parsed = list(string.Formatter().parse(value))
    except ValueError:
        raise Invalid(field, expected, f"{got} with an unmatched {{ or }}") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if conversion is not None:
            raise Invalid(field, expected, f"{got} with a !conversion")
        if name not in SUBJECT_FIELDS:
            problem = "attribute or index access" if re.search(r"[.\[]", name) else "a field not in the list"
            raise Invalid(field, expected, f"{got} with {problem}")
        if spec and not _SPEC_RE.fullmatch(spec):
            raise Invalid(field, expected, f"{got} with a format spec beyond alignment and width ≤ 99")
    try:
        value.format(date="2025/01/01", hour="00", friend="x", part=1)
    except (ValueError, KeyError, IndexError, AttributeError, TypeError):
        raise Invalid(field, expected, f"{got} that does not format") from None
    return value


# --- redaction patterns -----------------------------------------------------------------------------
def redact_patterns(field: str, value: Any) -> tuple[str, ...]:
    """A list of regular expressions, compiled by
    ``lineworks_salesforce.activities.redact.compile_patterns`` (the engine)."""
    expected = f"a list of at most {REDACT_PATTERNS_MAX} regular expressions"
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise Invalid(field, expected, describe(value))
    if len(value) > REDACT_PATTERNS_MAX:
        raise Invalid(field, expected, f"{describe(value)}, too many")
    item = f"a non-empty regular expression of at most {REDACT_PATTERN_CHARS_MAX:,} characters"
    for index, pattern in enumerate(value):
        _text(f"{field}[{index}]", pattern, item, REDACT_PATTERN_CHARS_MAX)
    patterns = tuple(value)
    from lineworks_salesforce.activities.redact import compile_patterns

    failure = None
    try:
        compile_patterns(patterns)
    except ValueError as exc:
        failure = _pattern_failure(field, patterns, str(exc))
    if failure is not None:
        raise failure
    return patterns


def _pattern_failure(field: str, patterns: tuple[str, ...], message: str) -> Invalid:
    """The engine's refusal as :class:`Invalid`, keeping its reason only if it does not quote the pattern."""
    match = re.match(r"redact_patterns\[(\d+)\][:\s]*", message)
    index = int(match.group(1)) if match else None
    if index is None or index >= len(patterns):
        return Invalid(field, "patterns the redaction engine accepts", describe(patterns))
    pattern = patterns[index]
    reason = message[match.end() :].split("\n", 1)[0]
    if pattern in reason or repr(pattern) in reason or len(reason) > 150:
        reason = "matches the empty string" if "empty string" in reason else "is refused by the regex engine"
    return Invalid(
        f"{field}[{index}]",
        "a regular expression the redaction engine accepts",
        f"{describe(pattern)}: {reason}",
    )


# --- file imports -----------------------------------------------------------------------------------
def import_location(field: str, value: Any) -> str:
    """``""``, an absolute local folder or a ``file``/object-storage URL prefix; no ``..`` segment."""
    expected = '"" ($AIRFLOW_HOME/imports), an absolute path or a file/s3/gs/gcs/abfs/az/adl URL, no ".."'
    _text(field, value, expected, IMPORT_LOCATION_MAX, empty=True)
    if not value:
        return value
    got = describe(value)
    if _has_invisible(value):
        raise Invalid(field, expected, f"{got} with control or invisible characters")
    if "\\" in value:
        raise Invalid(field, expected, f"{got} with a backslash")
    scheme = _SCHEME_RE.match(value)
    if scheme or "://" in value:
        if not scheme or scheme.group(1).lower() not in IMPORT_SCHEMES:
            raise Invalid(field, expected, f"{got}, a scheme not allowed")
        name = scheme.group(1).lower()
        if not value[scheme.end() :].startswith("//"):
            raise Invalid(field, expected, f"{got}, {name}: without //")
        try:
            parts = urlsplit(value)
        except ValueError:
            raise Invalid(field, expected, f"{got}, not a URL") from None
        if "?" in value or "#" in value:
            raise Invalid(field, expected, f"{got} with a query or fragment")
        if "@" in parts.netloc:
            raise Invalid(field, expected, f"{got} with credentials (use the connection)")
        if name == "file":
            if parts.netloc or not parts.path.startswith("/"):
                raise Invalid(field, expected, f"{got}, not file:///absolute/path")
        elif not parts.netloc:
            raise Invalid(field, expected, f"{got} without a bucket or container")
        path = parts.path
    else:
        if not value.startswith("/"):
            raise Invalid(field, expected, f"{got}, a relative path")
        path = value
    if any(unquote(segment) == ".." for segment in path.split("/")):
        raise Invalid(field, expected, f"{got} with a '..' segment")
    return value


# --- task timeouts ----------------------------------------------------------------------------------
_timeout_minutes = number(TIMEOUT_MINUTES_MIN, TIMEOUT_MINUTES_MAX)


def task_timeouts(field: str, value: Any, *, partial: bool = False) -> FrozenDict:
    """Minutes per task id (keys :data:`TIMEOUT_KEYS`); ``default`` is required unless ``partial``."""
    if not isinstance(value, Mapping):
        raise Invalid(field, "a mapping of task id to minutes", describe(value))
    minutes = {}
    for key, item in value.items():
        if key not in TIMEOUT_KEYS:
            raise Invalid(
                field,
                f"keys from {', '.join(TIMEOUT_KEYS)}",
                f"the unknown key {safe_name(key, TIMEOUT_KEYS)}",
            )
        minutes[key] = _timeout_minutes(f"{field}.{key}", item)
    if not partial and "default" not in minutes:
        raise Invalid(f"{field}.default", "the default timeout in minutes", "no default key")
    return FrozenDict((key, minutes[key]) for key in TIMEOUT_KEYS if key in minutes)

"""Pipeline settings: YAML defaults in ``include/config/settings.yaml`` plus overrides, validated.

Errors name the offending key, so a typo in the Airflow Variable ``lineworks_salesforce_settings``
fails the run with a message an operator can act on.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

DEFAULTS_FILE = Path(__file__).resolve().parents[2] / "include" / "config" / "settings.yaml"
VARIABLE_NAME = "lineworks_salesforce_settings"


# Contact ids per SOQL ``IN`` list at most: 2,000 × a 40-character id stays under SOQL's 100,000 characters.
LINK_QUERY_IDS_MAX = 2_000


class SettingsError(ValueError):
    """A setting is unknown or has a bad value; the message names it."""


@dataclass(frozen=True)
class Settings:
    timezone: str = "Asia/Tokyo"
    lookback_hours: float = 2
    subject_template: str = "LINE WORKSログ"
    exclude_bots: bool = True
    exclude_internal: bool = True
    redact_patterns: tuple[str, ...] = ()
    csv_recipient_separator: str = ", "
    csv_language: str = "ja_JP"
    domain_id: str = ""
    retry_unresolved_days: float = 7
    build_chunk_rows: int = 50_000
    load_batch_records: int = 50_000
    link_query_ids: int = 300
    lineworks_conn_id: str = "lineworks_default"
    salesforce_conn_id: str = "salesforce_default"
    archive_conn_id: str = "lineworks_archive"
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def load_settings(overrides: dict[str, Any] | None = None, defaults_file: Path = DEFAULTS_FILE) -> Settings:
    """Defaults from YAML, then ``overrides`` (e.g. the Variable's JSON), validated."""
    data: dict[str, Any] = {}
    if defaults_file.exists():
        data.update(yaml.safe_load(defaults_file.read_text(encoding="utf-8")) or {})
    if overrides:
        if not isinstance(overrides, dict):
            raise SettingsError(f"{VARIABLE_NAME} must be a JSON object, got {type(overrides).__name__}")
        data.update(overrides)
    known = {f.name: f for f in dataclasses.fields(Settings) if f.name != "extra"}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise SettingsError(f"unknown setting(s) {unknown}; known: {sorted(known)}")
    values: dict[str, Any] = {}
    for name, value in data.items():
        values[name] = _coerce(name, known[name].type, value)
    settings = Settings(**values)
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"timezone: unknown time zone {settings.timezone!r}") from None
    for pattern in settings.redact_patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise SettingsError(f"redact_patterns: {pattern!r} is not a valid regex ({exc})") from None
    for name in ("build_chunk_rows", "load_batch_records"):
        if getattr(settings, name) < 1:
            raise SettingsError(f"{name} must be at least 1")
    if not 1 <= settings.link_query_ids <= LINK_QUERY_IDS_MAX:
        raise SettingsError(f"link_query_ids must be between 1 and {LINK_QUERY_IDS_MAX}")
    if settings.lookback_hours < 0 or settings.lookback_hours > 24 * 31:
        raise SettingsError("lookback_hours must be between 0 and 744")
    return settings


def _coerce(name: str, annotation: str, value: Any) -> Any:
    if annotation == "bool":
        if not isinstance(value, bool):
            raise SettingsError(f"{name}: expected true or false, got {value!r}")
        return value
    if annotation == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(f"{name}: expected a whole number, got {value!r}")
        return value
    if annotation == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SettingsError(f"{name}: expected a number, got {value!r}")
        return float(value)
    if annotation.startswith("tuple"):
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise SettingsError(f"{name}: expected a list of strings, got {value!r}")
        return tuple(value)
    if value is None:
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise SettingsError(f"{name}: expected text, got {value!r}")
    return str(value)

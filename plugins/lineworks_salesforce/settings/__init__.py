"""Pipeline settings: YAML defaults in ``include/config/settings.yaml`` plus the Airflow Variable, validated.

One model, :class:`Settings` (a frozen dataclass validated in ``__post_init__``, so every instance,
``dataclasses.replace()`` results included, is valid). Two sources, in this order:

1. the settings file (``include/config/settings.yaml``; missing file = the dataclass defaults);
2. the Variable ``lineworks_salesforce_settings`` (JSON, same keys): :func:`settings_from_variable`
   takes its raw text, :func:`load_settings` an already parsed dict. A key replaces the file's value.
   ``task_timeout_minutes`` is the exception: it becomes each task's ``execution_timeout`` when the DAG
   files are parsed (:func:`file_task_timeouts`, the settings file only: parsing reads no Variable), so
   the Variable may not set it.

Errors are :class:`SettingsError` (a ``ValueError``) whose first line names the source
(``settings file <path>`` / ``Variable lineworks_salesforce_settings``), the field
(``lookback_hours``, ``redact_patterns[2]``, ``task_timeout_minutes.load``) and what is expected;
a bad value is described by its type and length only, never echoed. Unknown and duplicate keys, a
top level that is not a mapping and syntax errors (with line and column) are refused the same way.

.. code-block:: python

    settings = settings_from_variable(Variable.get(VARIABLE_NAME, default=None))
    timeout_for(settings, "load")  # timedelta(minutes=120)
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from lineworks_salesforce.settings.checks import (
    CSV_LANGUAGES,
    DOMAIN_ID_MAX,
    IMPORT_SCHEMES,
    TASK_IDS,
    TIMEOUT_KEYS,
    FrozenDict,
    validate_domain_id,
)
from lineworks_salesforce.settings.errors import (
    CODE_SOURCE,
    VARIABLE_NAME,
    VARIABLE_SOURCE,
    Invalid,
    SettingsError,
    describe,
    file_source,
    safe_name,
)
from lineworks_salesforce.settings.model import (
    CHECKS,
    DEFAULT_TASK_TIMEOUT_MINUTES,
    LINK_QUERY_IDS_MAX,
    SETTING_NAMES,
    Settings,
    airflow_home,
    import_root,
    timeout_for,
)
from lineworks_salesforce.settings.sources import StrictSafeLoader, parse_json, parse_yaml, read_defaults

DEFAULTS_FILE = Path(__file__).resolve().parents[3] / "include" / "config" / "settings.yaml"

__all__ = [
    "CODE_SOURCE",
    "CSV_LANGUAGES",
    "DEFAULTS_FILE",
    "DEFAULT_TASK_TIMEOUT_MINUTES",
    "DOMAIN_ID_MAX",
    "IMPORT_SCHEMES",
    "LINK_QUERY_IDS_MAX",
    "SETTING_NAMES",
    "TASK_IDS",
    "TIMEOUT_KEYS",
    "VARIABLE_NAME",
    "VARIABLE_SOURCE",
    "FrozenDict",
    "Settings",
    "SettingsError",
    "StrictSafeLoader",
    "import_root",
    "load_settings",
    "parse_json",
    "parse_yaml",
    "settings_from_variable",
    "timeout_for",
    "airflow_home",
    "file_import_location",
    "file_task_timeouts",
    "validate_domain_id",
]


def settings_from_variable(raw: str | None, defaults_file: Path = DEFAULTS_FILE) -> Settings:
    """Settings from the defaults file and the Variable's raw JSON text (``None`` or blank: defaults only)."""
    if raw is None:
        return _load(None, Path(defaults_file))
    if not isinstance(raw, str):
        raise SettingsError(VARIABLE_SOURCE, "", f"got {describe(raw)}; expected the Variable's JSON text")
    overrides = parse_json(raw, VARIABLE_SOURCE) if raw.strip() else None
    return _load(overrides, Path(defaults_file))


def load_settings(
    overrides: Mapping[str, Any] | None = None, defaults_file: Path = DEFAULTS_FILE
) -> Settings:
    """Settings from the defaults file and ``overrides`` (the Variable's JSON, already parsed)."""
    if overrides is not None and not isinstance(overrides, Mapping):
        raise SettingsError(
            VARIABLE_SOURCE,
            "",
            f"got {describe(overrides)} at the top level; expected a JSON object of settings",
        )
    return _load(dict(overrides) if overrides is not None else None, Path(defaults_file))


def _load(overrides: dict[str, Any] | None, defaults_file: Path) -> Settings:
    layers = [(file_source(defaults_file), read_defaults(defaults_file), False)]
    if overrides is not None:
        layers.append((VARIABLE_SOURCE, overrides, True))
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for source, data, is_override in layers:
        _check_names(data, source)
        for name, raw in data.items():
            failure = None
            try:
                if name == "task_timeout_minutes" and is_override:
                    raise SettingsError(
                        source,
                        name,
                        "is read when the DAG files are parsed: set it in the settings file"
                        " (include/config/settings.yaml), not in the Variable",
                    )
                value = CHECKS[name](name, raw)
            except Invalid as exc:
                failure = exc.error(source)
            if failure is not None:
                raise failure
            values[name] = value
            origin[name] = source
    try:
        return Settings(**values)
    except SettingsError as exc:  # not expected: each value passed the same check above
        failure = exc.with_source(origin.get(exc.field.partition(".")[0].partition("[")[0], layers[-1][0]))
    raise failure


def _file_setting(name: str, default: Any, defaults_file: Path) -> Any:
    """One setting of the settings file, checked alone (read when the DAG files are parsed: light, no
    Variable, no other setting checked)."""
    source = file_source(defaults_file)
    path = Path(defaults_file)
    failure = None
    try:
        mtime = path.stat().st_mtime_ns if path.exists() else None
        return CHECKS[name](name, _defaults_once(str(path), mtime).get(name, default))
    except Invalid as exc:
        failure = exc.error(source)
    raise failure


@functools.lru_cache(maxsize=8)
def _defaults_once(path: str, mtime_ns: int | None) -> dict[Any, Any]:
    """The settings file read once per version of it (several DAG files ask for parse-time settings)."""
    return read_defaults(Path(path))


def file_task_timeouts(defaults_file: Path = DEFAULTS_FILE) -> dict[str, timedelta]:
    """Each task's ``execution_timeout`` from the settings file's ``task_timeout_minutes``."""
    minutes = _file_setting("task_timeout_minutes", DEFAULT_TASK_TIMEOUT_MINUTES, defaults_file)
    return {task: timedelta(minutes=minutes.get(task, minutes["default"])) for task in TASK_IDS}


def file_import_location(defaults_file: Path = DEFAULTS_FILE) -> str:
    """Where file imports look, as the settings file says (the trigger form shows it; the Variable may
    override it at run time): ``import_location``, or ``$AIRFLOW_HOME/imports`` when it is empty."""
    return _file_setting("import_location", "", defaults_file) or os.path.join(airflow_home(), "imports")


def _check_names(data: dict[Any, Any], source: str) -> None:
    unknown = [key for key in data if key not in SETTING_NAMES]
    if unknown:
        names = ", ".join(safe_name(key, SETTING_NAMES) for key in unknown[:3]) + (
            ", …" if len(unknown) > 3 else ""
        )
        raise SettingsError(
            source,
            names,
            f"unknown setting{'s' if len(unknown) > 1 else ''}",
            detail=f"known settings: {', '.join(SETTING_NAMES)}",
        )

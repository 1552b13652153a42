"""The validated settings model: a frozen dataclass checked in ``__post_init__``.

Every instance is valid: ``Settings()``, ``Settings(**values)``, the result of ``load_settings`` and of
``dataclasses.replace(settings, ...)`` all go through the same checks
(:mod:`lineworks_salesforce.settings.checks`),
which also normalise (ints to floats for float fields, an int ``domain_id`` to its string, a list of
patterns to a tuple, the timeouts to a read-only mapping).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from lineworks_salesforce.settings import checks
from lineworks_salesforce.settings.errors import CODE_SOURCE, Invalid

# Contact ids per SOQL ``IN`` list at most: 2,000 × a 40-character id stays under SOQL's 100,000 characters.
LINK_QUERY_IDS_MAX = 2_000
LOOKBACK_HOURS_MAX = 24 * 31
RETRY_UNRESOLVED_DAYS_MAX = 365
ROWS_MAX = 1_000_000
IMPORT_MAX_BYTES_MAX = 1024**4  # 1 TiB
IMPORT_MAX_DAYS_MAX = 3_660
PROMPTS_PER_MINUTE_MAX = 240  # the bot API's limit (Standard/Advanced plans, DOC:rate-limits)
PROMPTS_PER_RUN_MAX = 100_000
# execution_timeout per task id in minutes; "default" for a task not listed (documented in settings.yaml).
DEFAULT_TASK_TIMEOUT_MINUTES = {
    "default": 60.0,
    "extract": 30.0,
    "archive": 30.0,
    "resolve": 30.0,
    "build": 60.0,
    "load": 120.0,
    "summary": 5.0,
    "import_history": 180.0,
    "prompt_friends": 30.0,
}


@dataclass(frozen=True)
class Settings:
    """Settings of the talk-log pipeline; an invalid value raises :class:`SettingsError` naming the field."""

    timezone: str = "Asia/Tokyo"
    lookback_hours: float = 2
    subject_template: str = "LINE WORKSログ"
    exclude_bots: bool = True
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
    import_location: str = ""
    import_max_bytes: int = 2 * 1024**3
    import_max_days: int = 400
    file_import_enabled: bool = True
    friends_lookback_hours: float = 1
    prompts_per_minute: int = 120
    prompts_per_run: int = 1_000
    task_timeout_minutes: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TASK_TIMEOUT_MINUTES))

    def __post_init__(self) -> None:
        failure = None
        for f in dataclasses.fields(self):
            try:
                value = CHECKS[f.name](f.name, getattr(self, f.name))
            except Invalid as exc:
                failure = exc
                break
            object.__setattr__(self, f.name, value)
        if failure is not None:
            raise failure.error(CODE_SOURCE)


CHECKS: dict[str, checks.Check] = {
    "timezone": checks.timezone,
    "lookback_hours": checks.number(0, LOOKBACK_HOURS_MAX),
    "subject_template": checks.subject_template,
    "exclude_bots": checks.flag,
    "redact_patterns": checks.redact_patterns,
    "csv_recipient_separator": checks.separator,
    "csv_language": checks.csv_language,
    "domain_id": checks.domain_id,
    "retry_unresolved_days": checks.number(0, RETRY_UNRESOLVED_DAYS_MAX),
    "build_chunk_rows": checks.whole(1, ROWS_MAX),
    "load_batch_records": checks.whole(1, ROWS_MAX),
    "link_query_ids": checks.whole(1, LINK_QUERY_IDS_MAX),
    "lineworks_conn_id": checks.conn_id,
    "salesforce_conn_id": checks.conn_id,
    "archive_conn_id": checks.conn_id,
    "import_location": checks.import_location,
    "import_max_bytes": checks.whole(1, IMPORT_MAX_BYTES_MAX),
    "import_max_days": checks.whole(1, IMPORT_MAX_DAYS_MAX),
    "file_import_enabled": checks.flag,
    "friends_lookback_hours": checks.number(0, LOOKBACK_HOURS_MAX),
    "prompts_per_minute": checks.whole(1, PROMPTS_PER_MINUTE_MAX),
    "prompts_per_run": checks.whole(1, PROMPTS_PER_RUN_MAX),
    "task_timeout_minutes": checks.task_timeouts,
}
# The names the YAML file and the Variable may set.
SETTING_NAMES = tuple(f.name for f in dataclasses.fields(Settings))
_FIELD_NAMES = {f.name for f in dataclasses.fields(Settings)}
if set(CHECKS) != _FIELD_NAMES:  # pragma: no cover - every field needs its check
    raise RuntimeError(
        f"lineworks_salesforce.settings: fields and checks differ: {sorted(_FIELD_NAMES ^ set(CHECKS))}"
    )


def timeout_for(settings: Settings, task_id: str) -> timedelta:
    """The ``execution_timeout`` of ``task_id``: its ``task_timeout_minutes`` entry, else ``default``."""
    minutes = settings.task_timeout_minutes
    return timedelta(minutes=minutes.get(task_id, minutes["default"]))


def airflow_home(environ: Mapping[str, str] | None = None) -> str:
    """``$AIRFLOW_HOME``, or ``~/airflow`` (Airflow's own default) when it is not set."""
    env = os.environ if environ is None else environ
    return env.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")


def import_root(settings: Settings, environ: dict[str, str] | None = None) -> str:
    """``import_location``, or ``$AIRFLOW_HOME/imports`` when it is ``""`` (``~/airflow/imports`` without
    AIRFLOW_HOME)."""
    if settings.import_location:
        return settings.import_location
    return os.path.join(airflow_home(environ), "imports")

"""History imports: the trigger form, checked before anything runs; rendering a range again."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from lineworks_salesforce.pipelines.archiving import Source, archive_file
from lineworks_salesforce.pipelines.common import (
    Run,
    _count,
    _log,
)
from lineworks_salesforce.talklog.provenance import file_sha256
from lineworks_salesforce.timewindows import split_windows

HISTORY_MODES = ("range", "file", "rerender")
# No LINE WORKS tenant has talk logs before this (and a date before it is a typo)
EARLIEST_HISTORY_DAY = date(2010, 1, 1)


class HistoryFormError(ValueError):
    """A ``lineworks_history_import`` form value is wrong; ``field`` names it. Retrying cannot fix it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


@dataclass(frozen=True)
class HistoryRequest:
    """What a ``lineworks_history_import`` trigger asks for: a date range (org-local days, both
    included) for ``range`` and ``rerender``, a file name inside the import location for ``file``."""

    mode: str
    first_day: date | None = None
    last_day: date | None = None
    file: str = ""


def history_request(
    params: dict[str, Any],
    *,
    max_days: int = 400,
    file_import_enabled: bool = True,
    today: date | None = None,
) -> HistoryRequest:
    """The trigger form's values, checked before anything runs.

    :raises HistoryFormError: (or :class:`~lineworks_salesforce.pipelines.file_import.ImportRefused` for
    the file name,
        both ``ValueError``) naming the field - an unknown mode, file mode switched off, a file name
        that is empty or leaves the import location, a date that is not a calendar date ``YYYY-MM-DD``
        between 2010-01-01 and tomorrow, a range that ends before it starts or is longer than
        ``max_days`` (setting ``import_max_days``). Messages never echo what was typed.
    """
    if not isinstance(params, dict):
        raise HistoryFormError("params", "expected the trigger form's fields")
    mode = params.get("mode")
    if mode not in HISTORY_MODES:
        raise HistoryFormError("mode", f"expected one of {', '.join(HISTORY_MODES)}")
    if mode == "file":
        if not file_import_enabled:
            raise HistoryFormError("mode", "file imports are switched off (setting file_import_enabled)")
        from lineworks_salesforce.pipelines.file_import import (
            import_name,  # its ImportRefused names the field too
        )

        return HistoryRequest(mode, file=str(import_name(params.get("file"))))
    latest = (today or date.today()) + timedelta(days=1)
    days = {}
    for name in ("start", "end"):
        value = params.get(name)
        if value in (None, ""):  # optional in the form (file mode needs none)
            raise HistoryFormError(name, f"mode '{mode}' needs a date YYYY-MM-DD")
        text = value if isinstance(value, str) else ""
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                raise ValueError
            days[name] = date.fromisoformat(text)
        except ValueError:
            shown = f"{len(value)} characters" if isinstance(value, str) else type(value).__name__
            raise HistoryFormError(name, f"expected a calendar date YYYY-MM-DD, got {shown}") from None
        if not EARLIEST_HISTORY_DAY <= days[name] <= latest:
            raise HistoryFormError(name, f"expected a date between {EARLIEST_HISTORY_DAY} and {latest}")
    if days["end"] < days["start"]:
        raise HistoryFormError("end", f"the range ends ({days['end']}) before it starts ({days['start']})")
    length = (days["end"] - days["start"]).days + 1
    if length > max_days:
        raise HistoryFormError(
            "end", f"the range has {length} days, more than import_max_days ({max_days}); import it in parts"
        )
    return HistoryRequest(mode, days["start"], days["end"])


def mark_for_rerender(run: Run, first_day: date, last_day: date) -> dict[str, int]:
    """Make every linked (friend, hour) of the org's local dates ``first_day``–``last_day`` pending.

    After a change of what a Task looks like (``redact_patterns``, ``subject_template``, a friend's name),
    the next ``build`` renders those hours again with the current settings; only the records whose
    content changed go to Salesforce. Returns the number of pending hours afterwards.
    """
    if last_day < first_day:
        raise ValueError(f"the range ends ({last_day}) before it starts ({first_day})")
    bounds = {"first_hour": f"{first_day:%Y%m%d}00", "end_hour": f"{last_day + timedelta(days=1):%Y%m%d}00"}
    run.archive.execute_many("pending_hours_in_range", [bounds])
    return {"pending_hours": _count(run, "pending_hour_count")}


class Downloader(Protocol):
    """What a range import needs of LINE WORKS (``hooks.lineworks.LineWorksHook`` in production)."""

    def download_message_contents(
        self, start: datetime, end: datetime, dest: str, *, language: str
    ) -> Any: ...


class ImportTotals:
    """Rows, new messages, quarantine reasons and sources of an import, summed over its files."""

    def __init__(self) -> None:
        self.rows = self.new_messages = 0
        self.quarantined: Counter[str] = Counter()
        self.sources: list[dict[str, Any]] = []

    def add(self, archived: dict[str, Any]) -> None:
        self.rows += archived["rows"]
        self.new_messages += archived["new_messages"]
        self.quarantined.update(archived["quarantined"])
        self.sources.append(archived["source"])

    def summary(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "new_messages": self.new_messages,
            "quarantined": dict(self.quarantined),
            "sources": self.sources,
        }


def import_range(
    run: Run, lineworks: Downloader, first_day: date, last_day: date, scratch: Path, window: timedelta
) -> dict[str, Any]:
    """Download the org-local days ``first_day``–``last_day`` (both included) in windows of at most
    ``window`` (the Monitoring API's 31 days), one at a time, and archive each as it arrives.

    The loop of ``lineworks_history_import`` in ``range`` mode; progress is logged per window. Each window
    is a Monitoring source (its SHA-256 recorded) and its file is removed once archived.
    """
    tz = ZoneInfo(run.settings.timezone)
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(last_day, datetime.min.time(), tzinfo=tz) + timedelta(days=1)
    windows = split_windows(start, end, window)
    totals = ImportTotals()
    for i, (lower, upper) in enumerate(windows, 1):
        path = scratch / f"window-{i}.csv"
        lineworks.download_message_contents(lower, upper, str(path), language=run.settings.csv_language)
        name = f"history-{lower:%Y%m%d}-{upper:%Y%m%d}.csv"
        totals.add(archive_file(run, path, source=Source.monitoring(lower, upper, name, file_sha256(path))))
        path.unlink(missing_ok=True)
        _log.info(
            "history import: window %d/%d (%s – %s) archived; %d rows, %d new so far",
            i,
            len(windows),
            lower.date(),
            upper.date(),
            totals.rows,
            totals.new_messages,
        )
    return totals.summary()

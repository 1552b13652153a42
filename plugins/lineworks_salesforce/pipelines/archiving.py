"""Archiving: a staged or imported CSV into the archive, with its source (provenance)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from lineworks_salesforce.pipelines.common import (
    Run,
    _count,
    _iso,
    _iso_dt,
    _iso_one,
    _records,
    _utc_stamp,
)
from lineworks_salesforce.talklog.csvparse import ParseSettings, parse_message_csv
from lineworks_salesforce.talklog.provenance import file_sha256


@dataclass(frozen=True)
class Source:
    """Where archived lines came from (provenance): a Monitoring download window or an imported file.

    ``source_id`` is ``monitoring:<from>-<to>`` (UTC) or ``file:<sha256>``: the same file imported twice
    is one source, and ``lineworks-salesforce archive forget --source <sha256>`` removes its lines again.
    """

    kind: str  # monitoring | file
    name: str
    sha256: str
    window_start: datetime | None = None
    window_end: datetime | None = None
    triggered_by: str | None = None

    @classmethod
    def monitoring(cls, start: datetime, end: datetime, name: str, sha256: str) -> Source:
        return cls("monitoring", name, sha256, start, end)

    @classmethod
    def file(cls, name: str, sha256: str, triggered_by: str | None = None) -> Source:
        return cls("file", name, sha256, triggered_by=triggered_by)

    @property
    def source_id(self) -> str:
        if self.kind == "file":
            return f"file:{self.sha256}"
        return f"monitoring:{_utc_stamp(self.window_start)}-{_utc_stamp(self.window_end)}"

    def describe(self) -> dict[str, Any]:
        """What the run summary shows of it (names and hashes, never content)."""
        out: dict[str, Any] = {"source_id": self.source_id, "kind": self.kind, "name": self.name}
        if self.kind == "file":
            out.update(sha256=self.sha256, triggered_by=self.triggered_by)
        else:
            out.update(window=[_iso_dt(self.window_start), _iso_dt(self.window_end)], sha256=self.sha256)
        return out


def archive_file(run: Run, path: str | Path, source: Source | None = None) -> dict[str, Any]:
    """Parse a staged message-contents CSV into the archive; malformed rows go to quarantine.

    ``source`` records where the file came from; without one it is a file import of ``path`` itself
    (its name and SHA-256). The lines of a file import are remembered per file, so they can be listed
    and forgotten again (:func:`forget_source`).
    """
    if source is None:
        source = Source.file(Path(path).name, file_sha256(path))
    source_id = source.source_id
    run.archive.execute_many(
        "upsert_source",
        [
            {
                "source_id": source_id,
                "kind": source.kind,
                "name": source.name,
                "sha256": source.sha256,
                "window_start": _iso_dt(source.window_start),
                "window_end": _iso_dt(source.window_end),
                "triggered_by": source.triggered_by,
                "run_id": run.run_id,
                "archived_at": _iso_one(pd.Timestamp.now(tz="UTC")),
            }
        ],
    )
    settings = ParseSettings(
        timezone=run.settings.timezone,
        recipient_separator=run.settings.csv_recipient_separator,
        domain_id=run.domain_id,
    )
    rows = new = 0
    quarantined: Counter[str] = Counter()
    for chunk in parse_message_csv(path, settings, source=source_id):
        messages = chunk.messages
        rows += len(messages) + len(chunk.quarantined)
        if not messages.empty:
            frame = messages.assign(
                sent_at=_iso(messages["sent_at"]), body=messages["text"], run_id=run.run_id, source=source_id
            )
            before = _count(run, "message_count")
            with run.archive.transaction() as conn:
                run.archive.execute_many(
                    "insert_message",
                    _records(
                        frame,
                        [
                            "message_key",
                            "domain_id",
                            "channel_id",
                            "sent_at",
                            "sender_raw",
                            "sender_kind",
                            "sender_name",
                            "sender_email",
                            "recipients_raw",
                            "body",
                            "content_kind",
                            "source",
                            "run_id",
                        ],
                    ),
                    conn,
                )
                if source.kind == "file":
                    run.archive.execute_many(
                        "insert_message_source",
                        ({"source_id": source_id, "message_key": k} for k in messages["message_key"]),
                        conn,
                    )
            new += _count(run, "message_count") - before
        if not chunk.quarantined.empty:
            q = chunk.quarantined.assign(run_id=run.run_id, source=source_id)
            run.archive.execute_many(
                "insert_quarantine",
                _records(q, ["source", "row_number", "reason", "raw", "detail", "run_id"]),
            )
            quarantined.update(chunk.quarantined["reason"].tolist())
    return {"rows": rows, "new_messages": new, "quarantined": dict(quarantined), "source": source.describe()}

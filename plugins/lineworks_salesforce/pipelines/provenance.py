"""Provenance: the sources the archive holds lines of; an imported file's lines listed and forgotten."""

from __future__ import annotations

import re
from typing import Any

from lineworks_salesforce.archive import Archive


def list_sources(archive: Archive, kind: str | None = None) -> list[dict[str, Any]]:
    """Every source the archive holds lines of (oldest first), with its counts."""
    return archive.query("sources", {"kind": kind, "source_id": None})


def source_lines(archive: Archive, source_id: str) -> list[dict[str, Any]]:
    """The messages an imported file delivered; ``own`` when the file is where they came from first."""
    return archive.query("source_lines", {"source_id": source_id})


def find_source(archive: Archive, sha256_or_id: str) -> dict[str, Any]:
    """The file source whose SHA-256 (or id ``file:<sha256>``) is given; ``LookupError`` when none."""
    text = sha256_or_id.strip().lower()
    sha = text[len("file:") :] if text.startswith("file:") else text
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise ValueError("--source: expected the file's SHA-256 (64 hexadecimal digits)")
    rows = archive.query("sources", {"kind": None, "source_id": f"file:{sha}"})
    if rows:
        return rows[0]
    raise LookupError(f"--source: no imported file with SHA-256 {sha} in the archive")


def forget_source(archive: Archive, source_id: str, run_id: str) -> dict[str, int]:
    """Remove the lines an imported file brought; the hours they were in are rendered again.

    A message another source also delivered stays (a Monitoring download, or another imported file).
    Hours that still hold messages become pending (the next ``build`` renders them without the file's
    lines, only changed Tasks are updated); the Tasks of hours left empty are deleted by the next ``load``.
    """
    if not source_id.startswith("file:"):
        raise ValueError("only imported files can be forgotten (Monitoring downloads are the record)")
    params = {"source_id": source_id}
    with archive.transaction() as conn:
        archive.execute_many("forget_reassign", [params], conn)
        hours = archive.query("forget_hours", params, conn)
        forgotten = archive.query("source_counts", params, conn)[0]
        for statement in ("forget_message_friends", "forget_resolution_issues", "forget_messages"):
            archive.execute_many(statement, [params], conn)
        for statement in ("forget_message_sources", "forget_quarantine", "forget_source"):
            archive.execute_many(statement, [params], conn)
        emptied = [h for h in hours if archive.query("hour_message_count", h, conn)[0]["n"] == 0]
        kept = [h for h in hours if h not in emptied]
        archive.execute_many("insert_pending", kept, conn)
        stale = [r for h in emptied for r in archive.query("hour_activities", h, conn)]
        archive.execute_many("delete_pending", emptied, conn)
        # an outbox record not loaded yet still holds the forgotten lines: drop it for every touched hour
        archive.execute_many("delete_outbox_hour", hours, conn)
        archive.execute_many("insert_stale_part", ({**r, "run_id": run_id} for r in stale), conn)
        archive.execute_many("delete_split_hour", stale, conn)
    return {
        "messages_removed": int(forgotten["messages"]),
        "quarantined_removed": int(forgotten["quarantined"]),
        "hours_rerendered": len(kept),
        "tasks_to_delete": len(stale),
    }

"""Shared helpers for the lineworks_salesforce.talklog tests: emulator CSVs and parsing a file into two
frames."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pandas as pd

from lineworks_salesforce.talklog.csvparse import (
    MESSAGE_COLUMNS,
    QUARANTINE_COLUMNS,
    MessageCsvParser,
    ParseSettings,
)
from sandbox.lineworks.state import LineWorksState

HEADER_JA = "日時,送信者,受信者,チャンネルID,トーク"


def download(state: LineWorksState, path: Path, start: str, end: str, language: str = "ja_JP") -> Path:
    """Write the Monitoring CSV the emulator serves for [start, end) to ``path``."""
    ticket = state.claim_ticket(
        state.open_download("monitoring", {"startTime": start, "endTime": end, "language": language})
    )
    path.write_bytes(b"".join(state.render_csv(ticket)))
    return path


def window_rows(state: LineWorksState, start: str, end: str) -> list[tuple]:
    """(sender ref, kind, text) of the emulator's messages in [start, end), in CSV order."""
    lo, hi = datetime.fromisoformat(start).timestamp(), datetime.fromisoformat(end).timestamp()
    with sqlite3.connect(state.db_path) as db:
        return db.execute(
            "SELECT sender, kind, text FROM messages"
            " WHERE sent_at >= ? AND sent_at < ? ORDER BY sent_at, seq",
            (lo, hi),
        ).fetchall()


def parse(
    path: Path, *, strict: bool = False, **settings
) -> tuple[pd.DataFrame, pd.DataFrame, MessageCsvParser]:
    """All chunks of a file concatenated: (messages, quarantined, parser)."""
    parser = MessageCsvParser(path, ParseSettings(**settings), source="test.csv")
    parser._force_strict = strict
    messages, quarantined = [], []
    for chunk in parser:
        assert list(chunk.messages.columns) == MESSAGE_COLUMNS
        assert list(chunk.quarantined.columns) == QUARANTINE_COLUMNS
        messages.append(chunk.messages)
        quarantined.append(chunk.quarantined)
    m = pd.concat(messages, ignore_index=True) if messages else pd.DataFrame(columns=MESSAGE_COLUMNS)
    q = pd.concat(quarantined, ignore_index=True) if quarantined else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    return m, q, parser

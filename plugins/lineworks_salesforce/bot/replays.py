"""Replay protection of the callback app, kept in the archive database (shared by every API server worker)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from lineworks_salesforce.archive import Archive

KEEP = timedelta(days=7)  # how long an accepted callback is remembered


class ArchiveReplayGuard:
    """:class:`~lineworks_salesforce.bot.callback.ReplayGuard` on the archive's ``lw_bot_callbacks``."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    def first_time(self, digest: str) -> bool:
        now = datetime.now(timezone.utc)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.archive.execute(
            "forget_old_bot_callbacks", {"before": (now - KEEP).strftime("%Y-%m-%dT%H:%M:%SZ")}
        )
        return self.archive.execute("first_bot_callback", {"digest": digest, "received_at": stamp}) == 1
